"""make_raw_products on DNG files with a known mosaic: Bayer FITS, RGB cube and preview."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import rawpy
from astropy.io import fits
from PIL import Image

from panoptes_network.frames.bucket_path import InvalidPathError
from panoptes_network.frames.fits_header import read_header_from_bytes
from panoptes_network.ingest.frame_check import check_frame_header
from panoptes_network.raw.decode import RawDecodeError, decode_raw
from panoptes_network.raw.products import (
    bayer_fits_bytes,
    make_raw_products,
    merge_cards,
    path_cards,
    raw_frame_cards,
)
from tests.unit.dng_files import (
    BLACK_LEVEL,
    CAMERA_WB,
    EXIF_TAGS,
    GRADIENT,
    LEVELS,
    WHITE_LEVEL,
    dng_bytes,
)

pytestmark = pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool is missing (Debian: apt-get install libimage-exiftool-perl)",
)
OBJECT = "PAN001/14d3bd/20160909T081152/20160909T081314.cr2"
SOURCE = f"gs://panoptes-images-incoming/{OBJECT}"


@pytest.fixture(scope="module")
def dng() -> bytes:
    return dng_bytes(48, 64, exif=EXIF_TAGS)


@pytest.fixture(scope="module")
def products(dng: bytes):
    return make_raw_products(dng, SOURCE, OBJECT)


def test_path_cards_match_the_units_formats() -> None:
    assert path_cards(OBJECT) == [
        ("IMAGEID", "PAN001_14d3bd_20160909T081314", ""),
        ("SEQID", "PAN001_14d3bd_20160909T081152", ""),
        ("INSTRUME", "14d3bd", "Camera ID"),
        ("OBSERVER", "PAN001", "PANOPTES Unit ID"),
        ("ORIGIN", "Project PANOPTES", ""),
        ("FILENAME", "20160909T081314.cr2", "From CR2"),
    ]
    legacy = dict(
        (k, v) for k, v, _ in path_cards("PAN001/Wasp33/14d3bd/20180216T110623/20180216T112430.cr2")
    )
    assert legacy["FIELD"] == "Wasp33"
    with pytest.raises(InvalidPathError):
        path_cards("not/a/valid/path.cr2")


def test_merge_keeps_first_place_and_last_value() -> None:
    merged = merge_cards([("A", 1, ""), ("B", 2, "")], [("A", 3, "x"), ("HISTORY", "h", "")])
    assert merged == [("A", 3, "x"), ("B", 2, ""), ("HISTORY", "h", "")]


def test_bayer_fits_pixels_equal_flipped_libraw(dng: bytes, products) -> None:
    with rawpy.imread(io.BytesIO(dng)) as raw:
        expected = np.flipud(raw.raw_image_visible).copy()
    with fits.open(io.BytesIO(products.bayer_fits), do_not_scale_image_data=True) as hdus:
        assert len(hdus) == 1
        header = hdus[0].header
        assert header["BITPIX"] == 16 and header["BZERO"] == 32768
        stored = hdus[0].data
    with fits.open(io.BytesIO(products.bayer_fits), checksum=True) as hdus:
        pixels = hdus[0].data
        assert pixels.dtype == np.uint16
        np.testing.assert_array_equal(pixels, expected)
        assert hdus[0].verify_checksum() == 1 and hdus[0].verify_datasum() == 1
    assert stored.dtype == np.dtype(">i2")
    assert products.shape == (48, 64) and products.pattern == "RGGB"
    # The ARCHITECTURE.md layout on the FITS data.
    for colour, part in (("R", (1, 0)), ("G", (1, 1)), ("G", (0, 0)), ("B", (0, 1))):
        plane = pixels[part[0] :: 2, part[1] :: 2]
        assert LEVELS[colour] <= plane.min() and plane.max() < LEVELS[colour] + GRADIENT


def test_bayer_header_has_every_card_and_reads_with_the_streaming_reader(products) -> None:
    header = read_header_from_bytes(products.bayer_fits, source="frame.fits")
    for keyword, value, _ in products.cards:
        if keyword != "HISTORY":
            assert header[keyword] == value, keyword
    assert header["RAWCONV"] is True
    assert header["RAWFILE"] == SOURCE
    assert header["BLKLEVEL"] == BLACK_LEVEL
    assert header["SATURATE"] == WHITE_LEVEL == header["WHITELVL"]
    assert header["FILTER"] == "RGGB"
    assert header["EXPTIME"] == 120.4 and header["ISO"] == 100
    assert header["IMAGEID"] == "PAN001_14d3bd_20160909T081314"
    check_frame_header(header, len(products.bayer_fits), "frame.fits")
    history = fits.getheader(io.BytesIO(products.bayer_fits))["HISTORY"]
    assert "LibRaw" in " ".join(history) and "rawpy" in " ".join(history)


def test_long_source_names_continue(dng: bytes) -> None:
    source = "gs://a-rather-long-bucket-name-for-tests/" + "x" * 80 + "/" + OBJECT
    frame = decode_raw(dng, source)
    data = bayer_fits_bytes(frame, raw_frame_cards(frame))
    assert read_header_from_bytes(data)["RAWFILE"] == source


def test_rgb_planes_match_their_channels(products) -> None:
    with fits.open(io.BytesIO(products.rgb_fits), checksum=True) as hdus:
        hdu = hdus[1]
        assert hdu.header["NAXIS"] == 3 and hdu.header["NAXIS3"] == 3
        cube = hdu.data
        header = hdu.header
    assert cube.dtype == np.uint16 and cube.shape == (3, 48, 64)
    wb = np.array(CAMERA_WB) / min(CAMERA_WB)
    assert [header["WBR"], header["WBG"], header["WBB"]] == pytest.approx(list(wb))
    scale = 65535 / (WHITE_LEVEL - BLACK_LEVEL)
    assert header["RGBSCALE"] == pytest.approx(scale, rel=1e-6)
    assert (
        header["BLKLEVEL"] == BLACK_LEVEL and header["IMAGEID"] == "PAN001_14d3bd_20160909T081314"
    )
    assert "FILTER" not in header and header["BAYERPAT"] == "RGGB"
    mean_gradient = (GRADIENT - 1) / 2
    for index, colour in enumerate("RGB"):
        expected = (LEVELS[colour] + mean_gradient - BLACK_LEVEL) * wb[index] * scale
        assert cube[index][4:-4, 4:-4].mean() == pytest.approx(expected, rel=0.02), colour
    # Same orientation as the Bayer frame: at the red sites the red plane is the raw value.
    with fits.open(io.BytesIO(products.bayer_fits)) as hdus:
        red_sites = hdus[0].data[1::2, 0::2].astype(float)
    expected_red = (red_sites - BLACK_LEVEL) * wb[0] * scale
    np.testing.assert_allclose(cube[0][1::2, 0::2], expected_red, atol=1.5)
    header_fits = read_header_from_bytes(products.rgb_fits)
    assert header_fits.compressed and header_fits["NAXIS3"] == 3


def test_rendered_preview_is_a_jpeg_of_the_asked_width(products) -> None:
    assert products.preview_source == "rendered"
    with Image.open(io.BytesIO(products.preview_jpeg)) as image:
        assert image.format == "JPEG"
        assert image.width == 1200
        assert image.height == round(48 / 64 * 1200)


def test_embedded_preview_used_when_wide_enough() -> None:
    wide = make_raw_products(dng_bytes(48, 64, preview=(1600, 1066)), SOURCE, OBJECT)
    assert wide.preview_source == "embedded"
    with Image.open(io.BytesIO(wide.preview_jpeg)) as image:
        assert image.size == (1200, 800)
        red, green, blue = image.convert("RGB").getpixel((600, 400))
        assert red > 150 and green < 80 and blue < 80  # the camera's picture, not a render
    narrow = make_raw_products(dng_bytes(48, 64, preview=(640, 426)), SOURCE, OBJECT)
    assert narrow.preview_source == "rendered"
    small = make_raw_products(
        dng_bytes(48, 64, preview=(640, 426)), SOURCE, OBJECT, preview_width=320
    )
    assert small.preview_source == "embedded"
    with Image.open(io.BytesIO(small.preview_jpeg)) as image:
        assert image.width == 320


def test_bad_input_raises_naming_the_source() -> None:
    with pytest.raises(RawDecodeError, match="panoptes-images-incoming"):
        make_raw_products(b"SIMPLE  =                    T" + b" " * 3000, SOURCE, OBJECT)
