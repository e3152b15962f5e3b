"""Light curves of one star across runs and units, as build-lightcurve stores them.

Two runs embed their points in the documents (small observations); one keeps them only in
its Parquet data file, in the layout of ``lightcurves.products`` (one row per star and
frame, each star's rows contiguous). A points flag names two frames of the star in one run.
As build-lightcurve does, each light curve is listed in its star's key index
(``star_lightcurves``) and each run's document lists its brightest light curves
(``brightest_lightcurves``); ``indexed=False`` stores the data as recorded before these
existed.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from panoptes_network.pipeline.key_index import add_ids
from panoptes_network.pipeline.schema import (
    FLAGS,
    LIGHTCURVES,
    PROCESSED_OBSERVATIONS,
    STAR_LIGHTCURVES,
    FlagTarget,
)
from tests.unit.explorer.network import SETTINGS
from tests.unit.fakes import MemoryDocuments, MemoryStore

PICID = 261136679
OTHER_PICID = 261136680
#: Catalog V magnitudes (mag): the neighbour is the brighter.
VMAG = {PICID: 8.4, OTHER_PICID: 7.9}
START = datetime(2024, 3, 1, 4, 0, tzinfo=timezone.utc)
#: (unit, camera, start, frames, colours, embedded)
RUNS = (
    ("PAN001", "14d3bd", START, 12, ("r", "g", "b"), True),
    ("PAN012", "ee04d1", START + timedelta(days=3), 15, ("g",), False),
    ("PAN006", "2d194b", START + timedelta(days=9), 10, ("r", "g", "b"), True),
)
#: Which run's frames the flag names, and which of them.
FLAGGED_RUN, FLAGGED_FRAMES = 0, (3, 7)


def _run_id(unit: str, camera: str, start: datetime) -> tuple[str, str]:
    sequence = f"{unit}_{camera}_{start:%Y%m%dT%H%M%S}"
    return sequence, f"{sequence}_{start + timedelta(hours=10):%Y%m%dT%H%M%S}"


def star_series(run: int, picid: int = PICID) -> dict[str, np.ndarray]:
    """The known points of ``picid`` in run ``run`` (each value distinct, for matching)."""
    unit, camera, start, frames, colours, _ = RUNS[run]
    t0 = start.timestamp() + 15.0
    out: dict[str, np.ndarray] = {
        "time": t0 + 60.0 * np.arange(frames),
        "airmass": 1.1 + 0.01 * np.arange(frames),
    }
    for k, c in enumerate(colours):
        flux = 1.0 + 0.001 * np.arange(frames) + 0.1 * k + (picid - PICID) * 0.5 + run * 0.01
        out[f"flux_{c}"] = flux
        out[f"flux_err_{c}"] = np.full(frames, 0.002 + 0.001 * k)
        outlier = np.zeros(frames, dtype=bool)
        outlier[frames - 1] = True
        out[f"outlier_{c}"] = outlier
    if "flux_r" in out:
        out["flux_r"][1] = np.nan  # a frame where the star was not measured in r
    return out


def _data_file(run: int, picids: tuple[int, ...]) -> bytes:
    columns: dict[str, list[Any]] = {}
    for picid in picids:
        series = star_series(run, picid)
        n = len(series["time"])
        part = {"picid": np.full(n, picid, dtype=np.int64), **series}
        part["x"] = np.full(n, 100.0)
        part["y"] = np.full(n, 200.0)
        for name, values in part.items():
            columns.setdefault(name, []).append(values)
    table = pa.table({name: np.concatenate(chunks) for name, chunks in columns.items()})
    unit, camera, start, _, colours, _ = RUNS[run]
    sequence, run_id = _run_id(unit, camera, start)
    meta = {"sequence_id": sequence, "run_id": run_id, "colours": list(colours)}
    table = table.replace_schema_metadata({k: json.dumps(v) for k, v in meta.items()})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _points(series: dict[str, np.ndarray], colours: tuple[str, ...]) -> dict[str, list[Any]]:
    def clean(values: np.ndarray) -> list[float | None]:
        return [float(v) if np.isfinite(v) else None for v in values]

    points: dict[str, list[Any]] = {"time": clean(series["time"])}
    for c in colours:
        points[c] = clean(series[f"flux_{c}"])
        points[f"{c}_err"] = clean(series[f"flux_err_{c}"])
        points[f"{c}_outlier"] = [bool(v) for v in series[f"outlier_{c}"]]
    return points


def run_id_of(run: int) -> str:
    """The run id of run ``run`` of :data:`RUNS`."""
    return _run_id(*RUNS[run][:3])[1]


def build_star(
    documents: MemoryDocuments, store: MemoryStore, *, indexed: bool = True
) -> dict[str, Any]:
    """Store the light curves of :data:`PICID` (and a neighbour) and one points flag.

    With ``indexed`` (as build-lightcurve stores them) each light curve is listed in its
    star's ``star_lightcurves`` document and each run has its ``processed_observations``
    document listing its light curves brightest first; without, neither exists.
    """
    picids = (PICID, OTHER_PICID)
    lcids = []
    for run, (unit, camera, start, frames, colours, embedded) in enumerate(RUNS):
        sequence, run_id = _run_id(unit, camera, start)
        data_path = f"{sequence}/{run_id}/lightcurves.parquet"
        store.write(SETTINGS.lightcurves_bucket, data_path, _data_file(run, picids))
        for j, picid in enumerate(picids):
            series = star_series(run, picid)
            doc: dict[str, Any] = {
                "sequence_id": sequence,
                "unit_id": unit,
                "camera_id": camera,
                "processed_observation": run_id,
                "run_time": start + timedelta(hours=10),
                "data_path": data_path,
                "data_url": SETTINGS.public_url(SETTINGS.lightcurves_bucket, data_path),
                "picid": picid,
                "ra": 83.8221,
                "dec": -5.3911 + (picid - PICID),
                "vmag": VMAG[picid],
                "num_points": frames - 1,
                "variable": False,
                "data_row_start": j * frames,
                "data_row_count": frames,
                "points_embedded": embedded,
            }
            for c in colours:
                doc[f"num_points_{c}"] = frames - 1
                doc[f"median_mag_{c}"] = -9.5
                doc[f"rms_mag_{c}"] = 0.004
                doc[f"robust_rms_mag_{c}"] = 0.0035
                doc[f"expected_rms_mag_{c}"] = 0.003
                doc[f"detrended_{c}"] = True
                doc[f"correction_{c}"] = "cotrend"
            if embedded:
                doc["points"] = _points(series, colours)
            lcid = f"{picid}_{run_id}"
            documents.merge(LIGHTCURVES, lcid, doc)
            if indexed:
                documents.commit([add_ids(STAR_LIGHTCURVES, str(picid), [lcid])])
            if picid == PICID:
                lcids.append(lcid)
        if indexed:
            brightest = [f"{p}_{run_id}" for p in sorted(picids, key=VMAG.__getitem__)]
            documents.merge(
                PROCESSED_OBSERVATIONS,
                run_id,
                {
                    "sequence_id": sequence,
                    "status": "done",
                    "run_time": start + timedelta(hours=10),
                    "brightest_lightcurves": brightest,
                },
            )
    sequence, run_id = _run_id(*RUNS[FLAGGED_RUN][:3])
    times = star_series(FLAGGED_RUN)["time"]
    flag = {
        "target": FlagTarget.POINTS,
        "sequence_id": sequence,
        "run_id": run_id,
        "picid": PICID,
        "times": [float(times[i]) + 0.4 for i in FLAGGED_FRAMES],
        "reason": "satellite trail",
        "user_uid": "u1",
        "user_email": "observer@example.org",
        "created_time": START + timedelta(days=20),
        "removed": False,
    }
    documents.merge(FLAGS, "flag-points", flag)
    documents.merge(FLAGS, "flag-removed", {**flag, "times": [float(times[0])], "removed": True})
    return {"lcids": lcids, "flagged_sequence": sequence}
