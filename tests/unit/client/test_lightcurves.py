"""Client.get_lightcurves and get_star, over HTTP, against the real explorer app.

The app serves one star's light curves as build-lightcurve stores them
(:mod:`tests.unit.explorer.star_records`): three runs on three units, one run's points only in
its Parquet data file, and a points flag naming two frames of one run. The expected values
come from the records' definition (``RUNS``, ``star_series``, ``FLAGGED_FRAMES``), not from
the API's answers.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from panoptes_network.client import Client, ExplorerError
from tests.unit.client.conftest import Star, sequence_of
from tests.unit.client.servers import FileServer
from tests.unit.explorer.star_records import (
    FLAGGED_FRAMES,
    FLAGGED_RUN,
    PICID,
    RUNS,
    star_series,
)

UTC = timezone.utc
#: The run stored with its points only in its Parquet data file.
FILE_ONLY_RUN = next(i for i, run in enumerate(RUNS) if not run[5])
#: Indexes of RUNS, newest run first: the order of the API's rows and light curves.
NEWEST_FIRST = sorted(range(len(RUNS)), key=lambda i: RUNS[i][2], reverse=True)
COLUMNS = [
    "picid", "unit_id", "camera_id", "sequence_id", "run_id", "time", "time_utc", "airmass",
    "flux_r", "flux_err_r", "outlier_r",
    "flux_g", "flux_err_g", "outlier_g",
    "flux_b", "flux_err_b", "outlier_b",
    "flagged",
]  # fmt: skip
UNKNOWN = 12345


def assert_run_points(rows: pd.DataFrame, run: int, run_id: str) -> None:
    """Assert that ``rows`` are run ``run``'s points of :data:`PICID`, with their run and unit."""
    unit, camera, _, frames, colours, _ = RUNS[run]
    series = star_series(run)
    assert len(rows) == frames
    for name, value in (
        ("picid", PICID),
        ("unit_id", unit),
        ("camera_id", camera),
        ("sequence_id", sequence_of(run_id)),
        ("run_id", run_id),
    ):
        assert rows[name].tolist() == [value] * frames, name
    np.testing.assert_array_equal(rows["time"], series["time"])
    utc = [pd.Timestamp(datetime.fromtimestamp(t, tz=UTC)) for t in series["time"]]
    assert rows["time_utc"].tolist() == utc
    np.testing.assert_allclose(rows["airmass"], series["airmass"], rtol=0, atol=1e-12)
    for c in "rgb":
        if c in colours:
            # NaN where the star was not measured (a frame of r) compares equal here
            np.testing.assert_allclose(rows[f"flux_{c}"], series[f"flux_{c}"], rtol=0, atol=1e-12)
            np.testing.assert_allclose(rows[f"flux_err_{c}"], series[f"flux_err_{c}"], atol=1e-12)
            assert rows[f"outlier_{c}"].tolist() == series[f"outlier_{c}"].tolist()
        else:  # a colour the run did not measure
            assert rows[f"flux_{c}"].isna().all() and rows[f"flux_err_{c}"].isna().all()
            assert not rows[f"outlier_{c}"].any()
    flagged = [run == FLAGGED_RUN and frame in FLAGGED_FRAMES for frame in range(frames)]
    assert rows["flagged"].tolist() == flagged


def test_every_point_of_every_run_with_its_unit_and_utc_times(star: Star):
    points = star.client.get_lightcurves(PICID)
    assert list(points.columns) == COLUMNS
    assert len(points) == sum(run[3] for run in RUNS) == 37
    assert str(points["time_utc"].dtype) == "datetime64[us, UTC]"
    assert points["picid"].dtype == np.int64
    assert points["flagged"].dtype == bool and points["outlier_g"].dtype == bool
    newest_first = [star.run_ids[i] for i in NEWEST_FIRST]
    assert list(dict.fromkeys(points["run_id"])) == newest_first
    for run, run_id in enumerate(star.run_ids):
        assert_run_points(points[points["run_id"] == run_id], run, run_id)
    assert points["flagged"].sum() == len(FLAGGED_FRAMES)  # the removed flag marks nothing


def test_picid_may_be_text_of_digits(star: Star):
    assert len(star.client.get_lightcurves(f" {PICID} ")) == 37
    assert star.asked == [(f"/api/v1/stars/{PICID}/points.parquet", {})]


def test_the_star_its_light_curves_and_its_flag(star: Star):
    found = star.client.get_star(PICID)
    assert found["picid"] == PICID
    assert found["catalog"] == {"ra": 83.8221, "dec": -5.3911, "vmag": 8.4}
    assert found["units"] == [RUNS[i][0] for i in NEWEST_FIRST]
    curves = found["lightcurves"]
    assert [lc["run_id"] for lc in curves] == [star.run_ids[i] for i in NEWEST_FIRST]
    assert [lc["lcid"] for lc in curves] == [f"{PICID}_{star.run_ids[i]}" for i in NEWEST_FIRST]
    assert [lc["num_points"] for lc in curves] == [RUNS[i][3] - 1 for i in NEWEST_FIRST]
    file_only = curves[NEWEST_FIRST.index(FILE_ONLY_RUN)]
    assert file_only["points"]["time_s"] == star_series(FILE_ONLY_RUN)["time"].tolist()
    flagged = curves[NEWEST_FIRST.index(FLAGGED_RUN)]["points"]["flagged"]
    assert [i for i, v in enumerate(flagged) if v] == list(FLAGGED_FRAMES)
    assert [(f["reason"], f["run_id"]) for f in found["flags"]] == [
        ("satellite trail", star.run_ids[FLAGGED_RUN])
    ]


@pytest.mark.parametrize("method", ["get_lightcurves", "get_star"])
def test_an_unknown_star_is_the_apis_404(star: Star, method):
    with pytest.raises(ExplorerError) as caught:
        getattr(star.client, method)(UNKNOWN)
    assert caught.value.status == 404
    assert caught.value.message == f"no star '{UNKNOWN}' in the PANOPTES network"
    assert caught.value.url.startswith(f"{star.client.base_url}/api/v1/stars/{UNKNOWN}")


@pytest.mark.parametrize("picid", ["TIC 1", -4, 0, 1.5, True, None])
def test_a_bad_picid_is_refused_before_any_request(star: Star, picid):
    with pytest.raises(ValueError, match="picid must be a whole number"):
        star.client.get_lightcurves(picid)
    assert star.asked == []


def test_an_answer_that_is_not_parquet_is_an_error(files: FileServer):
    # The real explorer always answers this path with Parquet or a JSON error; a server that
    # is not the explorer (a proxy's page, a wrong base URL) answering 200 with something
    # else can only be staged, here by a plain file server.
    files.files[f"/api/v1/stars/{PICID}/points.parquet"] = b"picid,time\n1,2\n"
    with pytest.raises(ExplorerError, match="not a Parquet file") as caught:
        Client(files.url(""), backoff=0).get_lightcurves(PICID)
    assert caught.value.status == 200
    assert caught.value.url == files.url(f"/api/v1/stars/{PICID}/points.parquet")
