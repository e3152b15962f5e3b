"""Light-curve data files of simulated stars with known truth, for the analysis tests."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["CADENCE_S", "data_file"]

#: Seconds between frames.
CADENCE_S = 128.0


def data_file(
    sequence_id: str,
    run_id: str,
    start: float,
    picids: Sequence[int],
    *,
    n_frames: int = 120,
    sigma: float = 0.004,
    seed: int = 0,
    colours: Sequence[str] = ("r", "g", "b"),
    events: Mapping[int, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> bytes:
    """Return a build-lightcurve data file (schema 2) of constant stars with white noise.

    Star ``picid`` has magnitude ``8 + picid % 5`` and noise ``sigma`` (mag) in every colour;
    the airmass falls from 2.0 to 1.0 over the run. ``flux_c`` is the same light curve as a
    relative flux (median about 1, error ``0.921 sigma``), and ``image_id`` names the frames.
    ``events`` maps a PICID to its relative flux at the frames' times (a transit, a flare),
    multiplied into both its fluxes and its magnitudes.
    """
    rng = np.random.default_rng(seed)
    time = start + CADENCE_S * np.arange(n_frames)
    airmass = np.linspace(2.0, 1.0, n_frames)
    unit_camera = sequence_id.rsplit("_", 1)[0]
    image_ids = np.array([f"{unit_camera}_{int(t)}" for t in time], dtype=str)
    columns: dict[str, list] = {
        "picid": [],
        "time": [],
        "bjd_tdb": [],
        "airmass": [],
        "image_id": [],
    }
    for c in colours:
        for kind in ("mag", "mag_err", "outlier", "flux", "flux_err"):
            columns[f"{kind}_{c}"] = []
    for picid in sorted(picids):
        columns["picid"].append(np.full(n_frames, picid, dtype=np.int64))
        columns["time"].append(time)
        columns["bjd_tdb"].append(2440587.5 + time / 86400.0)
        columns["airmass"].append(airmass)
        columns["image_id"].append(image_ids)
        signal = (events or {}).get(picid, lambda t: np.ones(t.size))(time)
        for c in colours:
            noise = rng.normal(0, sigma, n_frames)
            columns[f"mag_{c}"].append(8.0 + picid % 5 + noise - 2.5 * np.log10(signal))
            columns[f"mag_err_{c}"].append(np.full(n_frames, sigma))
            columns[f"outlier_{c}"].append(np.zeros(n_frames, dtype=bool))
            columns[f"flux_{c}"].append(signal * 10 ** (-0.4 * noise))
            columns[f"flux_err_{c}"].append(np.full(n_frames, 0.921 * sigma))
    table = pa.table({k: np.concatenate(v) for k, v in columns.items()})
    metadata = {
        "sequence_id": sequence_id,
        "run_id": run_id,
        "colours": list(colours),
        "lightcurves_schema": "2",
    }
    table = table.replace_schema_metadata({k: json.dumps(v) for k, v in metadata.items()})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()
