"""The whole chain on the emulators: simulate, upload, solve, measure, build light curves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.catalog.local_file import default_catalog_path
from panoptes_network.cli import simulate
from panoptes_network.lightcurves.products import read_lightcurve_rows
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("solve-field") is None or not default_catalog_path().exists(),
        reason="needs astrometry.net (solve-field) and the local star catalog (bin/setup)",
    ),
]
FRAMES = 4


def test_simulated_observation_becomes_lightcurves(stack, unit_ids, tmp_path):
    unit, camera = unit_ids
    argv = [
        "--field",
        "KIC 8462852",
        "--count",
        str(FRAMES),
        "--unit",
        unit,
        "--camera",
        camera,
        "--start",
        "2024-07-20T10:00:00",
        "--seed",
        "3",
        "--output",
        str(tmp_path),
        "--quiet",
    ]
    assert simulate.main(argv) == 0
    frames = sorted(tmp_path.rglob("*.fits"))
    assert len(frames) == FRAMES
    for frame in frames:
        stack.upload(str(frame.relative_to(tmp_path)), frame.read_bytes())
    sequence_id = "_".join(frames[0].relative_to(tmp_path).parts[:3])
    image_ids = [f"{sequence_id.rsplit('_', 1)[0]}_{f.name.removesuffix('.fits')}" for f in frames]

    def all_measured():
        docs = [stack.doc("images", i) for i in image_ids]
        return (
            all(d and d.get("status") in ("measured", "solve_error", "measure_error") for d in docs)
            and docs
        )

    docs = wait_for("every frame solved and measured", all_measured, 300, every=1)
    assert [d["status"] for d in docs] == ["measured"] * FRAMES, [
        d.get("solve_error_reason") for d in docs
    ]
    # plate-solve solves the one at a time: the first by astrometry.net, the others tracked
    # from an earlier solved frame of the observation.
    methods = sorted(d["solve_method"] for d in docs)
    assert methods.count("tracked") >= FRAMES - 1, [d.get("solve_not_tracked_reason") for d in docs]

    url = stack.url("lightcurve-requests")
    auth = stack.as_caller("lightcurve-requests")
    request = {"sequence_id": sequence_id, "options": {"min_frames": 3}}
    assert requests.post(url, json=request, timeout=30).status_code == 401
    assert (
        requests.post(url, json={"sequence_id": "nope"}, headers=auth, timeout=30).status_code
        == 400
    )
    unknown = {"sequence_id": f"{unit}_{camera}_20000101T000000"}
    assert requests.post(url, json=unknown, headers=auth, timeout=30).status_code == 404
    answer = requests.post(url, json=request, headers=auth, timeout=30)
    assert answer.status_code == 202 and answer.json()["queued"] == sequence_id

    def processed():
        query = stack.firestore.collection("processed_observations").where(
            filter=FieldFilter("sequence_id", "==", sequence_id)
        )
        runs = [s.to_dict() | {"id": s.id} for s in query.stream()]
        return [r for r in runs if r.get("status") == "done"]

    (run,) = wait_for("the processing run", processed, 180, every=1)
    assert run["num_frames"] == FRAMES and run["num_stars"] > 100
    curves = stack.firestore.collection("lightcurves").where(
        filter=FieldFilter("processed_observation", "==", run["id"])
    )
    docs = [c.to_dict() for c in curves.limit(5).stream()]
    assert len(docs) == 5
    for doc in docs:
        assert doc["sequence_id"] == sequence_id and doc["picid"] > 0
        blob = stack.blob(stack.settings.lightcurves_bucket, doc["data_path"])
        assert blob is not None and blob.size > 0
    # each point's barycentric date, from the site the simulated headers name (LAT-OBS ...)
    rows = read_lightcurve_rows(blob.download_as_bytes(), docs[-1]["data_row_start"])
    offset_s = (np.asarray(rows["bjd_tdb"]) - 2440587.5) * 86400 - np.asarray(rows["time"])
    assert np.all(np.isfinite(offset_s)) and np.all(np.abs(offset_s) < 8.4 * 60 + 70)
    observation = stack.doc("observations", sequence_id)
    assert observation["last_processed"]["run_id"] == run["id"]
    # the key indexes the explorer reads by: the frames, the run, each star's light curve,
    # the observation under every cell of its (solved) sky index
    assert sorted(stack.doc("observation_frames", sequence_id)["ids"]) == sorted(image_ids)
    assert stack.doc("observation_runs", sequence_id)["ids"] == [run["id"]]
    for doc in docs:
        lcid = f"{doc['picid']}_{run['id']}"
        assert lcid in stack.doc("star_lightcurves", str(doc["picid"]))["ids"]
    assert len(run["brightest_lightcurves"]) == 20
    for cell in observation["sky_cells"]:
        assert sequence_id in stack.doc("sky_cells", str(cell))["ids"]
    # analyse-run merged the run's stars into the analysis (stars/, star_sums/, coverage).
    star_id = str(docs[1]["picid"])
    star = wait_for("the star's analysis", lambda: stack.doc("stars", star_id), 120, every=1)
    assert star["n_observations"] == 1 and star["units"] == [unit]
    assert star["catalog"]["vmag"] == pytest.approx(docs[1]["vmag"])
    assert stack.doc("star_sums", star_id)["runs"] == [f"{sequence_id}/{run['id']}"]

    # A person flags one point of a star, picked on this run's plot, as the Data Explorer
    # does; an admin has removed another flag. A new run honours the first, not the second,
    # and the first run is left as it was.
    picid, picked = docs[0]["picid"], docs[0]["points"]["time"][1]
    flags = stack.firestore.collection("flags")
    person = {"user_uid": "integration", "created_time": datetime.now(timezone.utc)}
    flags.document(f"{sequence_id}-points").set(
        {"target": "points", "sequence_id": sequence_id, "picid": picid, "times": [picked],
         "run_id": run["id"], "reason": "satellite trail", "removed": False, **person}
    )  # fmt: skip
    flags.document(f"{sequence_id}-image").set(
        {"target": "image", "sequence_id": sequence_id, "image_id": image_ids[0],
         "reason": "test", "removed": True, "removed_by": "admin", **person}
    )  # fmt: skip
    answer = requests.post(url, json=request, headers=auth, timeout=30)
    assert answer.status_code == 202
    runs = wait_for("the run with the flag", lambda: len(processed()) == 2 and processed(), 180)
    (second,) = [r for r in runs if r["id"] != run["id"]]
    assert second["flags"]["honoured"] == [f"{sequence_id}-points"]
    assert second["flags"]["removed"] == [f"{sequence_id}-image"]
    assert second["num_frames"] == FRAMES and second["num_points_rejected"] == 1
    (point,) = second["points_rejected"]
    assert point["picid"] == picid and point["time"] == pytest.approx(picked, abs=1e-6)
    assert point["reasons"] == [f"flagged: satellite trail (flag {sequence_id}-points)"]
    # measured in 3 of 4 frames now, below min_coverage 0.8: no light curve this run
    assert second["num_stars"] == run["num_stars"] - 1
    assert stack.doc("lightcurves", f"{picid}_{second['id']}") is None
    assert stack.doc("processed_observations", run["id"])["flags"]["honoured"] == []
    # The observation counts once in the analysis: its new run replaced the first.
    second_run = f"{sequence_id}/{second['id']}"
    sums = wait_for(
        "the new run in the star's sums",
        lambda: (d := stack.doc("star_sums", star_id)) and d["runs"] == [second_run] and d,
        120,
        every=1,
    )
    assert stack.doc("stars", star_id)["n_observations"] == 1 and len(sums["runs"]) == 1
    # analyse-run measured the run's completeness: too few frames to inject into here (each
    # injected star needs min_points points), which its document says in counts.
    completeness = wait_for(
        "the run's completeness",
        lambda: stack.doc(
            "analysis_completeness",
            f"{DEFAULT_ANALYSIS.config_hash()}_{sequence_id}_{second['id']}",
        ),
        120,
        every=1,
    )
    assert completeness["injected"] == 0 and completeness["bins"] == []

    # The backfill (bin/analysis: Apache Beam, DirectRunner, in .venv-beam) over the
    # observation: its stars already hold the latest run, so nothing is added twice, and
    # every star is searched.
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [str(root / "bin" / "analysis"), "backfill", "--observation", sequence_id, "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ.copy(),
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    totals = json.loads(done.stdout)
    assert totals["runs"] == 1 and totals["merged"] == 0, totals
    assert totals["already"] == second["num_stars"] >= totals["searched"] > 0, totals
