"""exif_cards reproduces the cards of a unit's frame; read_exif reads real files with exiftool."""

from __future__ import annotations

import shutil

import pytest
from astropy.io import fits

from panoptes_network.raw.decode import RawDecodeError
from panoptes_network.raw.exif import exif_cards, read_exif
from tests.conftest import DATA_DIR
from tests.unit.dng_files import EXIF_TAGS, dng_bytes

TINY = DATA_DIR / "tiny.fits"
needs_exiftool = pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool is missing (Debian: apt-get install libimage-exiftool-perl)",
)
EXIF_KEYWORDS = [
    "ISO", "EXPTIME", "CAMTEMP", "CIRCCONF", "COLORTMP", "DATE-OBS", "FILENAME", "INTSN",
    "CAMSN", "MEASEV", "MEASEV2", "MEASRGGB", "WHTLVLN", "WHTLVLS", "REDBAL", "BLUEBAL",
    "WBRGGB", "FILTER",
]  # fmt: skip

#: What ``exiftool -j -n`` gives for the CR2 behind tiny.fits (numbers where it has them).
TINY_EXIF_NUMERIC = {
    "FileName": "20160909T081314.cr2",
    "FileType": "CR2",
    "ISO": 100,
    "ExposureTime": 120.4,
    "CameraTemperature": 11,
    "CircleOfConfusion": 0.0190147084,
    "ColorTempAsShot": 5386,
    "DateTimeOriginal": "2016:09:09 08:12:26",
    "InternalSerialNumber": "HA0028608",
    "SerialNumber": "012070048413",
    "MeasuredEV": -3.625,
    "MeasuredEV2": -3.625,
    "MeasuredRGGB": "471 1024 1024 733",
    "NormalWhiteLevel": 11765,
    "SpecularWhiteLevel": 12277,
    "RedBalance": 2.015625,
    "BlueBalance": 1.490234375,
}
#: The same in exiftool's printed form.
TINY_EXIF_PRINTED = {
    **TINY_EXIF_NUMERIC,
    "CameraTemperature": "11 C",
    "CircleOfConfusion": "0.019 mm",
    "MeasuredEV": -3.62,
    "BlueBalance": 1.490234,
}


def _tiny_cards() -> list[tuple[str, object, str]]:
    header = fits.getheader(TINY)
    return [(k, header[k], header.comments[k]) for k in EXIF_KEYWORDS]


@pytest.mark.skipif(not TINY.exists(), reason=f"{TINY} is absent")
@pytest.mark.parametrize("exif", [TINY_EXIF_NUMERIC, TINY_EXIF_PRINTED], ids=["-n", "printed"])
def test_cards_reproduce_tiny_fits(exif: dict) -> None:
    cards = exif_cards(exif, "RGGB")
    expected = _tiny_cards()
    assert [c[0] for c in cards] == EXIF_KEYWORDS
    for (keyword, value, comment), (_, want, want_comment) in zip(cards, expected, strict=True):
        assert value == want, keyword
        assert type(value) is type(want), keyword
        assert comment == want_comment, keyword


def test_missing_values_are_empty_strings() -> None:
    cards = dict((k, v) for k, v, _ in exif_cards({}, "GBRG"))
    assert cards.pop("FILTER") == "GBRG"
    assert set(cards.values()) == {""}


def test_unreadable_values_are_empty_strings() -> None:
    cards = {k: v for k, v, _ in exif_cards({"ISO": "n/a", "DateTimeOriginal": "garbage"})}
    assert cards["ISO"] == "" and cards["DATE-OBS"] == ""


def test_serial_numbers_stay_strings() -> None:
    cards = {k: v for k, v, _ in exif_cards({"SerialNumber": 123456789012})}
    assert cards["CAMSN"] == "123456789012"


@needs_exiftool
def test_tags_written_into_a_dng_come_back() -> None:
    source = "gs://bucket/PAN001/14d3bd/20160909T081152/20160909T081314.dng"
    exif = read_exif(dng_bytes(exif=EXIF_TAGS), source)
    assert exif["FileType"] == "DNG"
    cards = {k: (v, c) for k, v, c in exif_cards(exif, "RGGB")}
    assert cards["ISO"] == (100, "")
    assert cards["EXPTIME"] == (120.4, "")
    assert cards["DATE-OBS"] == ("2016-09-09T08:12:26", "")
    assert cards["CAMSN"] == ("012070048413", "From DNG")
    assert cards["FILENAME"] == ("20160909T081314.dng", "From DNG")
    assert cards["CAMTEMP"] == ("", "Celsius - From DNG")  # Canon maker notes: not in a DNG


@needs_exiftool
@pytest.mark.parametrize("data", [b"", b"\x00\x01garbage" * 50], ids=["empty", "random"])
def test_unreadable_file_raises_naming_the_source(data: bytes) -> None:
    with pytest.raises(RawDecodeError, match="gs://bucket/x.cr2"):
        read_exif(data, "gs://bucket/x.cr2")
