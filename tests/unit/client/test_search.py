"""Client.search_observations over HTTP, against the real explorer app on known records.

The expected rows come from the records' own definition (``SEQUENCES`` of the explorer
tests' network: ids, start times, frames, exposure), not from the API's answers. Name and
cone searches run on the same records with each observation's sky index at a known pointing
(``POINTINGS``); their expected distances are astropy's separations, and the names resolve
through the offline table of targets the explorer uses.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from panoptes_network.catalog.target_names import bundled_target_names
from panoptes_network.client import OBSERVATION_COLUMNS, Client, ExplorerError
from panoptes_network.frames.sky_index import FIELD_RADIUS_DEG, MOUNT_FIELD_RADIUS_DEG, SkySource
from tests.unit.client.conftest import POINTINGS, Served
from tests.unit.client.servers import free_port
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


# --- name and cone search, on the observations indexed at known pointings (POINTINGS) ---


def separation(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Angle between two positions, deg, by astropy (the reference for ``distance_deg``)."""
    return SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).deg


def distances(found: pd.DataFrame) -> dict[str, float]:
    return dict(zip(found["sequence_id"], found["distance_deg"], strict=True))


def expected_distances(ra: float, dec: float, sequence_ids) -> dict[str, Any]:
    """Each observation's distance from (ra, dec) to its indexed pointing, to 1e-6 deg."""
    return {
        s: pytest.approx(separation(ra, dec, *POINTINGS[s][:2]), abs=1e-6) for s in sequence_ids
    }


def test_a_cone_around_an_observation_finds_it_with_its_distance(sky: Served):
    near_m42 = "PAN012_95cdbc_20191025T075751"
    found = sky.client.search_observations(ra=84.0, dec=-5.5, radius=1)
    assert ids(found) == [near_m42]
    assert distances(found) == expected_distances(84.0, -5.5, [near_m42])
    assert distances(found)[near_m42] > 0.1  # the distance of this pointing, not a constant
    assert (found["ra"][0], found["dec"][0]) == POINTINGS[near_m42][:2]
    assert found["pointing_source"].tolist() == ["solved"]
    assert found.attrs["filters"]["ra"] == 84.0 and found.attrs["filters"]["radius"] == 1.0
    assert sky.asked == [
        ("/api/v1/observations", {"ra": "84", "dec": "-5.5", "radius": "1", "limit": "200"})
    ]


def test_a_cone_at_a_solved_pointing_is_at_distance_zero_from_it(sky: Served):
    found = sky.client.search_observations(ra=40.62, dec=37.41, radius=0.5, descending=False)
    pan001 = sorted(s for s in POINTINGS if s.startswith("PAN001_"))
    assert sorted(ids(found)) == pan001  # not the one near M 42, far from here
    assert distances(found) == expected_distances(40.62, 37.41, pan001)
    assert distances(found)[SOLVED_SEQUENCE] == 0
    assert list(found["time"]) == sorted(found["time"])
    assert str(found["distance_deg"].dtype) == "float64"


def test_a_far_cone_finds_nothing(sky: Served):
    ra, dec, radius = 200.0, -40.0, 10.0
    for sequence_id, (pra, pdec, source) in POINTINGS.items():
        field = MOUNT_FIELD_RADIUS_DEG if source == SkySource.MOUNT else FIELD_RADIUS_DEG
        assert separation(ra, dec, pra, pdec) > radius + field, sequence_id  # truly far
    empty = sky.client.search_observations(ra=ra, dec=dec, radius=radius)
    assert len(empty) == 0
    assert {name: str(dtype) for name, dtype in empty.dtypes.items()} == DTYPES
    assert sky.asked[-1][1]["ra"] == "200"  # the request was made, and answered nothing


@pytest.mark.parametrize(
    ("name", "radius", "filters", "expected"),
    [
        ("M 42", None, {}, {"PAN012_95cdbc_20191025T075751"}),
        ("m42", 1, {}, {"PAN012_95cdbc_20191025T075751"}),
        ("WASP-33", 1, {}, {s for s in POINTINGS if s.startswith("PAN001_")}),
        ("Wasp 33", None, {"camera": "14d3bd"}, {s for s in POINTINGS if "_14d3bd_" in s}),
        ("WASP-33", None, {"unit": "PAN012"}, set()),
    ],
    ids=["M 42", "m42-radius", "WASP-33", "field-name+camera", "WASP-33+other-unit"],
)
def test_a_name_search_resolves_names_of_the_target_table(
    sky: Served, name, radius, filters, expected
):
    target = bundled_target_names().resolve(name)
    assert target is not None  # the name is in the offline table
    found = sky.client.search_observations(name, radius=radius, **filters)
    assert set(ids(found)) == expected and len(found) == len(expected)
    assert distances(found) == expected_distances(target.ra, target.dec, expected)
    sent = {"name": name, **filters, "limit": "200"}
    if radius is not None:
        sent["radius"] = str(radius)
    assert sky.asked == [("/api/v1/observations", sent)]
    assert found.attrs["filters"]["name"] == name


def test_coordinates_as_text_are_a_centre_too(sky: Served):
    found = sky.client.search_observations("05h36m24s -05d36m00s", radius=0.5)
    assert ids(found) == ["PAN012_95cdbc_20191025T075751"]  # 84.1, -5.6: the pointing itself
    assert distances(found) == {"PAN012_95cdbc_20191025T075751": pytest.approx(0, abs=1e-6)}


def test_a_name_no_one_knows_is_the_apis_400(sky: Served):
    with pytest.raises(ExplorerError) as caught:
        sky.client.search_observations("Planet Nine")
    assert caught.value.status == 400
    assert caught.value.message.startswith("name: no target named 'Planet Nine'")
    assert "give coordinates instead" in caught.value.message


def test_angles_may_be_astropy_quantities(sky: Served):
    found = sky.client.search_observations(
        ra=2.7 * u.hourangle, dec=37.5 * u.deg, radius=30 * u.arcmin
    )
    # 2.7 h, to 10 decimals: no float noise, no exponent
    assert sky.asked[0][1] == {"ra": "40.5", "dec": "37.5", "radius": "0.5", "limit": "200"}
    assert sorted(ids(found)) == sorted(s for s in POINTINGS if s.startswith("PAN001_"))


def test_small_angles_are_plain_decimals(sky: Served):
    sky.client.search_observations(ra=0.1 + 0.2, dec=-1e-5, radius=1e-12)
    assert sky.asked[0][1] == {"ra": "0.3", "dec": "-0.00001", "radius": "0", "limit": "200"}


def test_the_module_functions_use_the_explorer_of_the_environment(explorer: str, monkeypatch):
    from panoptes_network import client as package
    from panoptes_network.client import explorer as module

    monkeypatch.setattr(module, "_DEFAULT", None)  # as in a fresh process
    monkeypatch.setenv("PANOPTES_EXPLORER_URL", explorer)
    found = package.search_observations(unit="PAN012")
    assert ids(found) == ["PAN012_95cdbc_20191025T075751"]
    assert package.default_client().base_url == explorer
    assert package.default_client() is package.default_client()  # made once
