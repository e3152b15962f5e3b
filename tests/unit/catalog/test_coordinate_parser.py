"""Coordinate and PICID forms of search strings, against astropy's own angle parsing."""

from __future__ import annotations

import re

import astropy.units as u
import pytest
from astropy.coordinates import Angle

from panoptes_network.catalog.coordinate_parser import (
    MAX_PICID,
    PicidQuery,
    SearchStringError,
    parse_coordinates,
    parse_picid,
)

# Reference positions from astropy, which parses these forms independently.
TABBY_RA = Angle("20h06m15.45s").degree
TABBY_DEC = Angle("44d27m24.8s").degree
TOLERANCE = 1e-9  # degrees


def close(position, ra, dec):
    return abs(position.ra - ra) < TOLERANCE and abs(position.dec - dec) < TOLERANCE


@pytest.mark.parametrize(
    "text",
    [
        "20h06m15.45s +44d27m24.8s",
        "20h 06m 15.45s +44d 27m 24.8s",
        "20:06:15.45 +44:27:24.8",
        "20 06 15.45 +44 27 24.8",
        "20 06 15.45 44 27 24.8",
        "20:06:15.45, 44:27:24.8",
        "20h06m15.45s, +44°27′24.8″",
        "20h06m15.45s +44°27'24.8\"",
        "  20:06:15.45   +44:27:24.8  ",
    ],
)
def test_sexagesimal_forms_match_astropy(text):
    position = parse_coordinates(text)
    assert close(position, TABBY_RA, TABBY_DEC), text
    assert position.form == "sexagesimal"


@pytest.mark.parametrize(
    ("text", "ra", "dec"),
    [
        ("303.21 46.02", 303.21, 46.02),
        ("303.21, +46.02", 303.21, 46.02),
        ("303.21,46.02", 303.21, 46.02),
        ("303.21 -46.02", 303.21, -46.02),
        ("303.21d -46.02d", 303.21, -46.02),
        ("303.21° −46.02°", 303.21, -46.02),  # a typographic minus sign
        ("0 0", 0.0, 0.0),
        ("359.999 -90", 359.999, -90.0),
        ("12 90", 12.0, 90.0),
        (".5 .25", 0.5, 0.25),
    ],
)
def test_decimal_degrees(text, ra, dec):
    position = parse_coordinates(text)
    assert close(position, ra, dec), text
    assert position.form == "decimal degrees"


@pytest.mark.parametrize(
    ("text", "ra_reference", "dec_reference"),
    [
        # Negative Dec with zero degrees: the sign must not be lost with the "-00".
        ("05 35 17.3 -00 30 00", "05h35m17.3s", "-0d30m00s"),
        ("05:35:17.3 -0:30:00", "05h35m17.3s", "-0d30m00s"),
        # Hours and minutes only (4 numbers), decimals on the last part.
        ("20 06.5 +44 27.5", "20h06m30s", "44d27m30s"),
        ("20h06.5m 44d27.5m", "20h06m30s", "44d27m30s"),
        # RA in hours with a single number carrying "h".
        ("20.1h +44.5", "20.1h", "44.5d"),
        # RA in degrees, minutes, seconds of arc when its first part says so.
        ("303d12m36s +46d01m12s", "303d12m36s", "46d01m12s"),
        ("0h00m01s -89d59m59s", "0h00m01s", "-89d59m59s"),
    ],
)
def test_other_forms_match_astropy(text, ra_reference, dec_reference):
    position = parse_coordinates(text)
    assert close(position, Angle(ra_reference).degree, Angle(dec_reference).degree), text


def test_hours_become_degrees():
    position = parse_coordinates("23:59:59.999 +00:00:00")
    assert position.ra == pytest.approx((24 - 0.001 / 3600) * 15, abs=1e-9)
    assert 0 <= position.ra < 360
    assert parse_coordinates("12 00 00 +00 00 00").ra == pytest.approx(180.0)
    assert (Angle(parse_coordinates("6h 0").ra, u.deg) - Angle(90, u.deg)).degree == 0


@pytest.mark.parametrize(
    "text",
    [
        "M 42",
        "m42",
        "HD 189733",
        "Betelgeuse",
        "alpha Ori",
        "wasp-33",
        "55 Cnc",
        "51 Peg",
        "20h06m15sx +10",
        "",
    ],
)
def test_names_are_not_coordinates(text):
    assert parse_coordinates(text) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("400 10", "below 360"),
        ("360 0", "below 360"),
        ("24:00:00 +10:00:00", "below 24"),
        ("25h 10d", "below 24"),
        ("10 95", "within +-90"),
        ("10 -90.5", "within +-90"),
        ("10 00 00 +90 00 01", "within +-90"),
        ("20 75 00 +10 00 00", "minutes 75"),
        ("20 06 61 +10 00 00", "seconds 61"),
        ("20 06 15 +10 60 00", "minutes 60"),
        ("-10 20", "negative"),
        ("12.5", "one number"),
        ("303.21", "one number"),
        ("1 2 3", "where RA ends"),
        ("1 2 3 4 5", "where RA ends"),
        ("1 2 3 4 5 6 7 8", "where RA ends"),
        ("1, 2, 3", "more than one comma"),
        (", 10", "one number"),
        ("10 20,", "both RA and Dec"),
        ("20.5 30 10 +10", "only the last number"),
        ("20 06 15 +44 -27 24", "sign inside"),
        ("10m 20", "starts with 10m"),
        ("10 20h", "Dec is in degrees"),
        ("20 06s 15 +10", "place of minutes"),
        ("20h06m15s +44d h", "not a coordinate form"),
        ("1 2 3 4 +5 6 7", "at most 3"),
    ],
)
def test_bad_coordinates_say_what_is_wrong(text, words):
    with pytest.raises(SearchStringError, match=re.escape(words)):
        parse_coordinates(text)


@pytest.mark.parametrize(
    ("text", "picid", "explicit"),
    [
        ("PICID 123", 123, True),
        ("picid123", 123, True),
        ("PICID: 123", 123, True),
        ("TIC 268644785", 268644785, True),
        ("tic-268644785", 268644785, True),
        ("TIC ID 5", 5, True),
        ("TICID=5", 5, True),
        ("PIC #77", 77, True),
        ("123", 123, False),
        ("  1423254602131 ", 1423254602131, False),
        (str(MAX_PICID), MAX_PICID, False),
    ],
)
def test_picid_forms(text, picid, explicit):
    assert parse_picid(text) == PicidQuery(picid=picid, explicit=explicit)


@pytest.mark.parametrize(
    "text", ["12.5", "-12", "+12", "12 34", "HD 189733", "TIC", "TIC abc", "M 42", "PICID 1 2"]
)
def test_not_a_picid(text):
    assert parse_picid(text) is None


@pytest.mark.parametrize("text", ["0", "PICID 0", str(MAX_PICID + 1), "TIC 99999999999999999999"])
def test_picid_out_of_range(text):
    with pytest.raises(SearchStringError, match="PICID"):
        parse_picid(text)
