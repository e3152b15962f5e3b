"""Page cursors: every order value survives the round trip; anything else is refused."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from panoptes_network.explorer._cursor import decode_cursor, encode_cursor
from panoptes_network.explorer.errors import InvalidQuery
from panoptes_network.pipeline.ports import GeoPoint


@pytest.mark.parametrize(
    "value",
    [
        datetime(2020, 1, 8, 5, 17, 17, 123456, tzinfo=timezone.utc),
        "2020-01-08T05:17:17.000",
        0,
        12_345_678_901_234,
        0.1,
        -2.5e-300,
        True,
        None,
        GeoPoint(19.54, -155.58),
    ],
)
def test_round_trip(value):
    cursor = encode_cursor("time", True, value, "PAN001_14d3bd_20180216T110623")
    assert cursor and cursor.isascii() and "=" not in cursor
    got, doc_id = decode_cursor(cursor, "time", True)
    assert got == value and type(got) is type(value)
    assert doc_id == "PAN001_14d3bd_20180216T110623"


def test_a_list_value_has_no_cursor():
    assert encode_cursor("time", True, [1, 2], "x") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "e30",  # {}
        encode_cursor("time", True, 1, "x")[:-4],
        "eyJvIjogInRpbWUiLCAiZCI6IHRydWUsICJ2IjogWyJxIiwgMV0sICJpZCI6ICJ4In0",  # tag q
        "x" * 3000,
        "",
    ],
)
def test_garbage_is_refused(cursor):
    with pytest.raises(InvalidQuery) as err:
        decode_cursor(cursor, "time", True)
    assert err.value.parameter == "cursor"


def test_a_cursor_of_another_order_or_direction_is_refused():
    cursor = encode_cursor("time", True, 1, "x")
    with pytest.raises(InvalidQuery, match="another order"):
        decode_cursor(cursor, "num_images", True)
    with pytest.raises(InvalidQuery, match="another order"):
        decode_cursor(cursor, "time", False)


def test_a_cursor_naming_an_impossible_document_is_refused():
    with pytest.raises(InvalidQuery):
        decode_cursor(encode_cursor("time", True, 1, "a/b"), "time", True)
