"""Reading stored values tolerantly: times, numbers, locations, angles, ids."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from panoptes_network.explorer._values import (
    angle_between,
    integer,
    is_document_id,
    json_value,
    location,
    number,
    time_value,
)
from panoptes_network.pipeline.ports import GeoPoint

UTC = timezone.utc


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (datetime(2020, 1, 8, 5, 17, 17, tzinfo=UTC), "2020-01-08T05:17:17+00:00"),
        (
            datetime(2020, 1, 8, 0, 17, 17, tzinfo=timezone(timedelta(hours=-5))),
            "2020-01-08T05:17:17+00:00",
        ),
        (datetime(2020, 1, 8, 5, 17, 17), "2020-01-08T05:17:17+00:00"),  # naive: UTC
        ("2020-01-08T05:17:17.000", "2020-01-08T05:17:17+00:00"),  # the seed's strings
        ("2020-01-08T05:17:17.250Z", "2020-01-08T05:17:17.250000+00:00"),
        ("yesterday", None),
        ("2020-13-45T99:00:00", None),
        (17, None),
        (None, None),
    ],
)
def test_time_value(stored, expected):
    assert time_value(stored) == expected


def test_json_value_converts_every_stored_type():
    stored = {
        "when": datetime(2020, 1, 8, 5, 17, 17, tzinfo=UTC),
        "day": date(2020, 1, 8),
        "where": GeoPoint(19.54, -155.58),
        "bad": float("nan"),
        "inf": float("inf"),
        "blob": b"\x00\x01",
        "nested": [{"t": datetime(2020, 1, 8, tzinfo=UTC)}, (1, 2.5, "x", True, None)],
        "other": np.float32(1.5),
    }
    assert json_value(stored) == {
        "when": "2020-01-08T05:17:17+00:00",
        "day": "2020-01-08",
        "where": {"latitude": 19.54, "longitude": -155.58},
        "bad": None,
        "inf": None,
        "blob": None,
        "nested": [{"t": "2020-01-08T00:00:00+00:00"}, [1, 2.5, "x", True, None]],
        "other": "1.5",
    }


def test_numbers_are_never_bools_or_non_finite():
    assert number(True) is None and number(math.nan) is None and number("3") is None
    assert number(3) == 3 and number(2.5) == 2.5
    assert integer(4.0) == 4 and integer(4.5) is None and integer(False) is None


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"location": GeoPoint(19.54, -155.58)}, {"latitude": 19.54, "longitude": -155.58}),
        ({"latitude": 41.96, "longitude": -71.18}, {"latitude": 41.96, "longitude": -71.18}),
        ({"latitude": 26.22, "longitude": 268.06}, {"latitude": 26.22, "longitude": -91.94}),
        ({"location": {"latitude": 1.0, "longitude": 2.0}}, {"latitude": 1.0, "longitude": 2.0}),
        ({"latitude": 95.0, "longitude": 0.0}, None),
        ({"latitude": 19.54}, None),
        ({"location": "Mauna Loa"}, None),
        ({}, None),
    ],
)
def test_location_from_new_and_old_records(doc, expected):
    found = location(doc)
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ra1", "dec1", "ra2", "dec2"),
    [
        (40.5, 37.5, 40.62, 37.41),
        (0.0, 89.9, 180.0, 89.9),
        (359.9, -10.0, 0.1, -10.0),
        (10.0, 0.0, 190.0, 0.0),
        (303.21, 46.02, 303.21, 46.02),
    ],
)
def test_angle_between_matches_astropy(ra1, dec1, ra2, dec2):
    reference = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg))
    assert angle_between(ra1, dec1, ra2, dec2) == pytest.approx(reference.deg, abs=1e-9)


def test_angle_between_refuses_what_is_not_a_position():
    assert angle_between(None, 1, 2, 3) is None
    assert angle_between(400, 1, 2, 3) is None
    assert angle_between(1, 95, 2, 3) is None
    assert angle_between("1", 1, 2, 3) is None


@pytest.mark.parametrize(
    ("doc_id", "ok"),
    [
        ("PAN001", True),
        ("PAN001_14d3bd_20180216T110623", True),
        ("", False),
        ("a/b", False),
        ("..", False),
        ("__reserved__", False),
        ("x" * 201, False),
        ("tab\there", False),
        (7, False),
    ],
)
def test_is_document_id(doc_id, ok):
    assert is_document_id(doc_id) is ok
