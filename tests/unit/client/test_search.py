"""Client.search_observations over HTTP, against the real explorer app on known records.

The expected rows come from the records' own definition (``SEQUENCES`` of the explorer
tests' network: ids, start times, frames, exposure), not from the API's answers.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import flask
import pandas as pd
import pytest

from panoptes_network.client import OBSERVATION_COLUMNS, Client
from tests.unit.client.servers import free_port, serve_wsgi
from tests.unit.explorer.network import SEQUENCES, SOLVED_SEQUENCE

UTC = timezone.utc
#: sequence id -> (start, frames, exposure s), from the records' definition.
EXPECTED = {
    f"{unit}_{camera}_{start}": (
        datetime.strptime(start, "%Y%m%dT%H%M%S").replace(tzinfo=UTC),
        frames,
        exptime,
    )
    for unit, camera, start, frames, exptime in SEQUENCES
}
DTYPES = {
    "sequence_id": "str",
    "unit_id": "str",
    "camera_id": "str",
    "time": "datetime64[us, UTC]",
    "status": "str",
    "field_name": "str",
    "exptime": "float64",
    "num_images": "Int64",
    "exposure_minutes": "float64",
    "ra": "float64",
    "dec": "float64",
    "distance_deg": "float64",
    "software_version": "str",
    "received_time": "datetime64[us, UTC]",
    "last_image_received_time": "datetime64[us, UTC]",
}


def ids(frame: pd.DataFrame) -> list[str]:
    return list(frame["sequence_id"])


def test_every_observation_one_row_each_with_typed_columns(client: Client):
    found = client.search_observations()
    assert sorted(ids(found)) == sorted(EXPECTED)
    known = found[list(OBSERVATION_COLUMNS)]  # fields the API adds later follow them
    assert list(found.columns[: len(OBSERVATION_COLUMNS)]) == list(OBSERVATION_COLUMNS)
    assert {name: str(dtype) for name, dtype in known.dtypes.items()} == DTYPES
    for row in found.itertuples():
        start, frames, exptime = EXPECTED[row.sequence_id]
        assert row.time == pd.Timestamp(start)
        assert row.num_images == frames
        assert row.exptime == exptime
        assert row.unit_id == row.sequence_id.split("_")[0]
    solved = found.set_index("sequence_id").loc[SOLVED_SEQUENCE]
    assert (solved["ra"], solved["dec"]) == (40.62, 37.41)
    assert found.loc[found.sequence_id != SOLVED_SEQUENCE, "ra"].isna().all()
    assert found["distance_deg"].isna().all()  # not a cone search
    assert found.attrs["truncated"] is False


def test_newest_first_by_default_and_oldest_first_when_asked(client: Client):
    newest = client.search_observations()
    oldest = client.search_observations(descending=False)
    starts = sorted(start for start, _, _ in EXPECTED.values())
    assert list(oldest["time"]) == [pd.Timestamp(s) for s in starts]
    assert list(newest["time"]) == [pd.Timestamp(s) for s in reversed(starts)]
    by_frames = client.search_observations(order="num_images")
    assert list(by_frames["num_images"]) == sorted((f for _, f, _ in EXPECTED.values()), reverse=1)


def test_pages_through_every_page(explorer: str):
    whole = Client(explorer, backoff=0).search_observations(descending=False)
    assert whole.attrs["pages"] == 1
    one_by_one = Client(explorer, page_size=1, backoff=0).search_observations(descending=False)
    assert one_by_one.attrs["pages"] == len(EXPECTED) == 4
    pd.testing.assert_frame_equal(one_by_one, whole)


def test_max_rows_stops_the_paging_and_says_so(explorer: str):
    client = Client(explorer, page_size=2, backoff=0)
    capped = client.search_observations(descending=False, max_rows=3)
    assert len(capped) == 3 and capped.attrs["truncated"] is True
    assert capped.attrs["pages"] == 2
    exact = client.search_observations(descending=False, max_rows=4)
    assert len(exact) == 4 and exact.attrs["truncated"] is False  # nothing more matched


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"unit": "PAN012"}, {"PAN012_95cdbc_20191025T075751"}),
        ({"camera": "ee04d1"}, {"PAN001_ee04d1_20180216T110623"}),
        ({"unit": "PAN001", "min_images": 3}, {s for s in EXPECTED if EXPECTED[s][1] >= 3}),
        (
            {"since": "2018-02-17"},
            {s for s in EXPECTED if EXPECTED[s][0].date() >= date(2018, 2, 17)},
        ),
        ({"until": date(2018, 2, 16)}, {s for s in EXPECTED if "20180216" in s}),  # day included
        ({"since": datetime(2018, 2, 16, 11, 6, 24)}, {s for s in EXPECTED if "20180216" not in s}),
        (
            {"since": pd.Timestamp("2018-02-16T12:06:23+01:00"), "until": "2018-02-16T11:06:24"},
            {s for s in EXPECTED if "20180216" in s},
        ),
    ],
    ids=["unit", "camera", "unit+min_images", "since-date", "until-day", "since-naive", "tz"],
)
def test_filters(explorer: str, filters, expected):
    assert expected  # the case selects something
    found = Client(explorer, page_size=1, backoff=0).search_observations(**filters)
    assert set(ids(found)) == expected
    assert len(found) == len(expected)


def test_no_match_is_an_empty_frame_with_the_same_columns_and_types(client: Client):
    empty = client.search_observations(unit="PAN999")
    assert len(empty) == 0
    assert list(empty.columns) == list(OBSERVATION_COLUMNS)
    assert {name: str(dtype) for name, dtype in empty.dtypes.items()} == DTYPES


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"ra": 10.0}, "ra and dec go together"),
        ({"dec": 10.0}, "ra and dec go together"),
        ({"ra": "north", "dec": 1}, "ra must be a number of degrees"),
        ({"order": "brightness"}, "order must be one of time, num_images"),
        ({"min_images": 2.5}, "min_images must be a whole number"),
        ({"since": object()}, "since must be a date"),
        ({"max_rows": 0}, "max_rows must be"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(arguments, message):
    nowhere = Client(f"http://127.0.0.1:{free_port()}", retries=0)  # a request would fail
    with pytest.raises(ValueError, match=message):
        nowhere.search_observations(**arguments)


# --- name and cone search: a stand-in serving the contract until the real app has it -----


def cone_stand_in(seen: list[dict[str, str]]) -> flask.Flask:
    """``/api/v1/observations`` taking name/ra/dec/radius, answering rows with distance_deg."""
    app = flask.Flask("cone-stand-in")

    @app.get("/api/v1/observations")
    def observations():
        seen.append(flask.request.args.to_dict())
        row = {
            "sequence_id": SOLVED_SEQUENCE,
            "unit_id": "PAN001",
            "camera_id": "14d3bd",
            "time": "2018-02-16T11:06:23+00:00",
            "ra": 40.62,
            "dec": 37.41,
            "distance_deg": 0.25,
        }
        return {"observations": [row], "count": 1, "next_cursor": None}

    return app


def test_name_and_cone_search_send_their_parameters_and_read_distance(tmp_path):
    seen: list[dict[str, str]] = []
    with serve_wsgi(cone_stand_in(seen)) as url:
        client = Client(url, backoff=0)
        by_cone = client.search_observations(ra=40.5, dec=37.2, radius=2)
        by_name = client.search_observations("M42", radius=5.5, unit="PAN001")
    assert seen == [
        {"ra": "40.5", "dec": "37.2", "radius": "2", "limit": "200"},
        {"name": "M42", "radius": "5.5", "unit": "PAN001", "limit": "200"},
    ]
    assert by_cone["distance_deg"].tolist() == [0.25]
    assert str(by_cone["distance_deg"].dtype) == "float64"
    assert list(by_name.columns) == list(OBSERVATION_COLUMNS)  # fields missing: still every column


def test_angles_may_be_astropy_quantities():
    from astropy import units as u

    seen: list[dict[str, str]] = []
    with serve_wsgi(cone_stand_in(seen)) as url:
        Client(url, backoff=0).search_observations(
            ra=2.7 * u.hourangle, dec=-30 * u.deg, radius=30 * u.arcmin
        )
    assert seen[0]["ra"] == "40.5"  # 2.7 h, to 10 decimals: no float noise, no exponent
    assert seen[0]["dec"] == "-30"
    assert seen[0]["radius"] == "0.5"


def test_small_angles_are_plain_decimals():
    seen: list[dict[str, str]] = []
    with serve_wsgi(cone_stand_in(seen)) as url:
        Client(url, backoff=0).search_observations(ra=0.1 + 0.2, dec=-1e-5, radius=1e-12)
    assert seen[0]["ra"] == "0.3"
    assert seen[0]["dec"] == "-0.00001"
    assert seen[0]["radius"] == "0"


def test_the_module_functions_use_the_explorer_of_the_environment(explorer: str, monkeypatch):
    from panoptes_network import client as package
    from panoptes_network.client import explorer as module

    monkeypatch.setattr(module, "_DEFAULT", None)  # as in a fresh process
    monkeypatch.setenv("PANOPTES_EXPLORER_URL", explorer)
    found = package.search_observations(unit="PAN012")
    assert ids(found) == ["PAN012_95cdbc_20191025T075751"]
    assert package.default_client().base_url == explorer
    assert package.default_client() is package.default_client()  # made once
