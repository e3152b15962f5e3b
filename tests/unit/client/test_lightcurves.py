"""Client.get_lightcurves and get_star, over HTTP, against a stand-in of the stars contract.

The stand-in serves ``/api/v1/stars/<picid>`` and its ``points.parquet`` / ``points.csv`` as
the contract describes them (one row per run and frame; a JSON 404 for an unknown star),
until the explorer serves them itself.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import flask
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from panoptes_network.client import Client, ExplorerError
from tests.unit.client.servers import serve_wsgi
from tests.unit.explorer.network import RUN_ID, SOLVED_SEQUENCE

UTC = timezone.utc
PICID = 261136679
#: A star whose points.parquet answers something else (CSV) with status 200.
NOT_PARQUET = 999
START = datetime(2018, 2, 16, 11, 7, 23, 500000, tzinfo=UTC)
#: (run, sequence, unit, camera, colours, frames): two runs of two observations.
RUNS = (
    (RUN_ID, SOLVED_SEQUENCE, "PAN001", "14d3bd", ("r", "g", "b"), 3),
    ("PAN012_95cdbc_20191025T075751_20261129T130000", "PAN012_95cdbc_20191025T075751", "PAN012",
     "95cdbc", ("r", "g", "b"), 2),
)  # fmt: skip


def star_points() -> tuple[pa.Table, list[datetime]]:
    """Every point of the star, as the contract describes the file; and its times."""
    rows: dict[str, list] = {
        name: []
        for name in ("picid", "unit_id", "camera_id", "sequence_id", "run_id", "time", "time_utc")
    }
    rows.update({name: [] for name in ("airmass", "flagged")})
    times = []
    for c in "rgb":
        rows.update({f"flux_{c}": [], f"flux_err_{c}": [], f"outlier_{c}": []})
    for run_index, (run_id, sequence_id, unit, camera, colours, frames) in enumerate(RUNS):
        for frame in range(frames):
            moment = START + timedelta(days=400 * run_index, seconds=150 * frame)
            times.append(moment)
            rows["picid"].append(PICID)
            rows["unit_id"].append(unit)
            rows["camera_id"].append(camera)
            rows["sequence_id"].append(sequence_id)
            rows["run_id"].append(run_id)
            rows["time"].append(moment.timestamp())
            rows["time_utc"].append(moment.isoformat())
            rows["airmass"].append(1.0 + 0.01 * frame)
            rows["flagged"].append(frame == 1)
            for c in colours:
                rows[f"flux_{c}"].append(10_000.0 + 100 * frame + ord(c))
                rows[f"flux_err_{c}"].append(12.5)
                rows[f"outlier_{c}"].append(False)
    return pa.table(rows), times


def stars_stand_in(table: pa.Table, asked: list[str]) -> flask.Flask:
    app = flask.Flask("stars-stand-in")

    def known(picid: int) -> None:
        if picid != PICID:
            flask.abort(flask.make_response({"error": f"no star {picid} in the network"}, 404))

    @app.before_request
    def log() -> None:
        asked.append(flask.request.path)

    @app.get("/api/v1/stars/<int:picid>")
    def star(picid: int):
        known(picid)
        return {
            "picid": picid,
            "catalog": {"ra": 40.6, "dec": 37.4, "vmag": 9.8},
            "lightcurves": [
                {
                    "lcid": f"{run}_{picid}",
                    "sequence_id": seq,
                    "run_id": run,
                    "unit_id": unit,
                    "camera_id": cam,
                    "num_points": n,
                }
                for run, seq, unit, cam, _, n in RUNS
            ],  # fmt: skip
            "downloads": {
                "csv": flask.url_for("points_csv", picid=picid, _external=True),
                "parquet": flask.url_for("points_parquet", picid=picid, _external=True),
            },
        }

    @app.get("/api/v1/stars/<int:picid>/points.parquet")
    def points_parquet(picid: int):
        if picid == NOT_PARQUET:
            return flask.Response(b"picid,time\n1,2\n", mimetype="application/vnd.apache.parquet")
        known(picid)
        out = io.BytesIO()
        pq.write_table(table, out)
        return flask.Response(out.getvalue(), mimetype="application/vnd.apache.parquet")

    @app.get("/api/v1/stars/<int:picid>/points.csv")
    def points_csv(picid: int):
        known(picid)
        return flask.Response(table.to_pandas().to_csv(index=False), mimetype="text/csv")

    return app


@pytest.fixture
def stars():
    table, times = star_points()
    asked: list[str] = []
    with serve_wsgi(stars_stand_in(table, asked)) as url:
        yield Client(url, backoff=0), table, times, asked


def test_every_point_of_the_star_with_utc_times(stars):
    client, table, times, _ = stars
    points = client.get_lightcurves(PICID)
    assert len(points) == table.num_rows == 5
    assert list(points.columns) == table.column_names
    assert str(points["time_utc"].dtype) == "datetime64[us, UTC]"
    assert list(points["time_utc"]) == [pd.Timestamp(t) for t in times]
    assert np.array_equal(points["time"].to_numpy(), [t.timestamp() for t in times])
    assert points["picid"].tolist() == [PICID] * 5
    assert points["run_id"].tolist() == [RUNS[0][0]] * 3 + [RUNS[1][0]] * 2
    assert points["flux_g"].tolist() == table.column("flux_g").to_pylist()
    assert points["flagged"].dtype == bool


def test_picid_may_be_text_of_digits(stars):
    client, _, _, asked = stars
    assert len(client.get_lightcurves(f" {PICID} ")) == 5
    assert asked == [f"/api/v1/stars/{PICID}/points.parquet"]


def test_the_star_and_its_links(stars):
    client, _, _, _ = stars
    star = client.get_star(PICID)
    assert star["picid"] == PICID
    assert [lc["num_points"] for lc in star["lightcurves"]] == [3, 2]
    assert star["downloads"]["parquet"].endswith(f"/api/v1/stars/{PICID}/points.parquet")


def test_an_unknown_star_is_the_apis_404(stars):
    client, _, _, _ = stars
    with pytest.raises(ExplorerError) as caught:
        client.get_lightcurves(12345)
    assert caught.value.status == 404
    assert caught.value.message == "no star 12345 in the network"
    assert caught.value.url.endswith("/api/v1/stars/12345/points.parquet")


@pytest.mark.parametrize("picid", ["TIC 1", -4, 0, 1.5, True, None])
def test_a_bad_picid_is_refused_before_any_request(stars, picid):
    client, _, _, asked = stars
    with pytest.raises(ValueError, match="picid must be a whole number"):
        client.get_lightcurves(picid)
    assert asked == []


def test_an_answer_that_is_not_parquet_is_an_error(stars):
    client, _, _, _ = stars
    with pytest.raises(ExplorerError, match="not a Parquet file") as caught:
        client.get_lightcurves(NOT_PARQUET)
    assert caught.value.status == 200
