"""The whole chain on the emulators: simulate, upload, solve, measure, build light curves."""

from __future__ import annotations

import shutil

import pytest
import requests
from google.cloud.firestore_v1.base_query import FieldFilter

from panoptes_network.catalog.local_file import default_catalog_path
from panoptes_network.cli import simulate
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
    observation = stack.doc("observations", sequence_id)
    assert observation["last_processed"]["run_id"] == run["id"]
