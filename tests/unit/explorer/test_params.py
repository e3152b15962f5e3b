"""URL query parameters to read-model arguments: strict, with messages naming the parameter."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from panoptes_network.explorer.errors import InvalidQuery
from panoptes_network.explorer.params import (
    home_arguments,
    observations_arguments,
    page_arguments,
    parse_time,
)

UTC = timezone.utc


def test_every_observation_parameter():
    args = {
        "unit": ["PAN001"],
        "camera": ["14d3bd"],
        "status": ["receiving_files"],
        "since": ["2020-01-01"],
        "until": ["2020-01-08"],
        "min_images": ["5"],
        "order": ["num_images"],
        "direction": ["asc"],
        "limit": ["200"],
        "cursor": ["abc"],
    }
    assert observations_arguments(args) == {
        "unit": "PAN001",
        "camera": "14d3bd",
        "status": "receiving_files",
        "since": datetime(2020, 1, 1, tzinfo=UTC),
        "until": datetime(2020, 1, 9, tzinfo=UTC),  # a bare date includes that day
        "min_images": 5,
        "order": "num_images",
        "descending": False,
        "limit": 200,
        "cursor": "abc",
    }


def test_empty_values_are_no_values_as_a_form_sends_them():
    assert observations_arguments({"unit": [""], "since": [""], "limit": [""]}) == {}
    assert observations_arguments({}) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-01-08T05:17:17", datetime(2020, 1, 8, 5, 17, 17, tzinfo=UTC)),
        ("2020-01-08T05:17:17Z", datetime(2020, 1, 8, 5, 17, 17, tzinfo=UTC)),
        ("2020-01-08T00:17:17-05:00", datetime(2020, 1, 8, 5, 17, 17, tzinfo=UTC)),
        ("2020-01-08", datetime(2020, 1, 8, tzinfo=UTC)),
    ],
)
def test_times(text, expected):
    got = parse_time("since", text)
    assert got == expected and got.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ({"since": ["yesterday"]}, "since"),
        ({"until": ["2020-02-30"]}, "until"),
        ({"since": ["2020-01-08 05:17"]}, "since"),
        ({"min_images": ["-1"]}, "min_images"),
        ({"min_images": ["1.5"]}, "min_images"),
        ({"min_images": ["2000000"]}, "min_images"),
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["201"]}, "limit"),
        ({"limit": ["ten"]}, "limit"),
        ({"order": ["exptime"]}, "order"),
        ({"direction": ["up"]}, "direction"),
        ({"unit": ["PAN001", "PAN012"]}, "unit"),
        ({"units": ["PAN001"]}, "units"),
    ],
)
def test_bad_parameters_name_themselves(args, parameter):
    with pytest.raises(InvalidQuery) as err:
        observations_arguments(args)
    assert err.value.parameter == parameter
    assert err.value.reason.startswith(f"{parameter}: ")


def test_page_and_home_parameters():
    assert page_arguments({"limit": ["3"], "cursor": ["c"]}) == {"limit": 3, "cursor": "c"}
    assert home_arguments({"latest": ["5"]}) == {"latest": 5}
    with pytest.raises(InvalidQuery):
        page_arguments({"unit": ["PAN001"]})
    with pytest.raises(InvalidQuery):
        home_arguments({"latest": ["51"]})
