"""Long signals survive the build-lightcurve step: a whole night 1 % fainter stays 1 % fainter.

The two nights of :mod:`tests.unit.lightcurves.test_calibrated_scale` (one field; the target
V ~ 9.3 is 1 % fainter all of night A and normal in night B; different airmass,
transparency and noise) are stored as the sources bucket holds them, with the zero points
measure-sources fits, and each night is run through :func:`build_lightcurve`. The target's
two light curves, read from the runs' data files, must differ by 1 % +- 0.15 % on the
calibrated scale; the median-normalised fluxes of the same files show nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from panoptes_network.lightcurves.build_lightcurve import build_lightcurve
from panoptes_network.lightcurves.products import read_lightcurve_rows
from panoptes_network.photometry.sources_table import write_sources_table
from panoptes_network.photometry.zero_point import fit_zero_points
from panoptes_network.pipeline.settings import Settings
from tests.unit.fakes import MemoryStore
from tests.unit.lightcurves.test_calibrated_scale import DIMMING, EXPTIME, TOLERANCE, _field, _night

S = Settings()
NIGHTS = {
    "A": {"start": datetime(2026, 8, 20, 6, 0, tzinfo=timezone.utc), "airmass": (1.05, 1.35),
          "transparency": 0.97, "target_flux": 1.0 - DIMMING, "seed": 1},
    "B": {"start": datetime(2026, 8, 23, 9, 30, tzinfo=timezone.utc), "airmass": (1.5, 2.1),
          "transparency": 0.78, "target_flux": 1.0, "seed": 2},
}  # fmt: skip


def _stored(tables) -> dict[str, bytes]:
    """The night's tables as measure-sources writes them: zero points in the metadata."""
    objects = {}
    for table in tables:
        meta = dict(table.meta)
        meta["camera"] = {**meta["camera"], "camera_id": "14d3bd"}
        zero_points = fit_zero_points(table, exptime=EXPTIME, airmass=meta["airmass"])
        meta.update(
            zero_points={c: zp.to_record() for c, zp in zero_points.items()},
            aperture_radius=5.0,
            software_version="test",
        )
        sequence_start = meta["sequence_id"].rsplit("_", 1)[1]
        image_start = meta["image_id"].rsplit("_", 1)[1]
        objects[f"PAN001/14d3bd/{sequence_start}/{image_start}.parquet"] = write_sources_table(
            table, meta
        )
    return objects


@pytest.fixture(scope="module")
def runs(make_ctx):
    field = _field()
    target = int(field["picid"][int(field["target"])])
    out = {}
    for name, night in NIGHTS.items():
        tables = _night(field, **night)
        store = MemoryStore()
        for object_name, data in _stored(tables).items():
            store.put(S.sources_bucket, object_name, data)
        ctx = make_ctx(store=store)
        sequence_id = tables[0].meta["sequence_id"]
        result = build_lightcurve(ctx, {"sequence_id": sequence_id})
        run = ctx.documents.get("processed_observations", result.detail["run_id"])
        doc = ctx.documents.get("lightcurves", f"{target}_{result.detail['run_id']}")
        rows = read_lightcurve_rows(
            store.read(S.lightcurves_bucket, run["data_path"]),
            doc["data_row_start"],
            doc["data_row_count"],
        )
        out[name] = {"run": run, "doc": doc, "rows": rows}
    return out


def _mean(rows, column: str) -> tuple[float, float]:
    """Inverse-variance mean of a column's inlier points and its error."""
    colour = column[-1]
    values = np.asarray(rows[column], float)
    errors = np.asarray(rows[f"mag_err_{colour}"], float)
    keep = np.isfinite(values) & np.isfinite(errors) & ~np.asarray(rows[f"outlier_{colour}"])
    weights = 1.0 / errors[keep] ** 2
    return float(np.sum(weights * values[keep]) / np.sum(weights)), float(
        np.sqrt(1.0 / np.sum(weights))
    )


def test_a_night_long_dimming_survives_the_run_on_the_calibrated_scale(runs):
    differences = {}
    for colour in "rgb":
        a, a_err = _mean(runs["A"]["rows"], f"mag_{colour}")
        b, b_err = _mean(runs["B"]["rows"], f"mag_{colour}")
        fraction = 1.0 - 10 ** (-0.4 * (a - b))
        differences[colour] = (fraction, np.hypot(a_err, b_err) / 1.0857)
    print("night A fainter than night B, per colour:", {
        c: f"{f:.3%} +- {e:.3%}" for c, (f, e) in differences.items()})  # fmt: skip
    fractions = np.array([f for f, _ in differences.values()])
    errors = np.array([e for _, e in differences.values()])
    combined = float(np.sum(fractions / errors**2) / np.sum(1 / errors**2))
    assert combined == pytest.approx(DIMMING, abs=TOLERANCE)
    assert differences["g"][0] == pytest.approx(DIMMING, abs=TOLERANCE)


def test_the_median_normalised_flux_of_the_same_runs_loses_it(runs):
    medians = {
        name: float(np.nanmedian(np.asarray(run["rows"]["flux_g"], float)))
        for name, run in runs.items()
    }
    assert medians["A"] == pytest.approx(1.0, abs=1e-3)
    assert medians["B"] == pytest.approx(1.0, abs=1e-3)


def test_the_runs_and_docs_record_the_calibration(runs):
    for run in runs.values():
        calibration = run["run"]["calibration"]
        assert set(calibration) == {"r", "g", "b"}
        assert calibration["g"]["colour_index"] == "b-r"
        assert calibration["g"]["frames_with_zero_points"] == 140
        assert run["rows"].meta["calibration"] == calibration
        assert run["rows"].meta["lightcurves_schema"] == "2"
        doc = run["doc"]
        assert doc["mag_g"] == pytest.approx(doc["vmag"], abs=0.1)
        assert 0 < doc["scale_err_g"] < 0.05
