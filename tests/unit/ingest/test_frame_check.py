"""Unit tests for panoptes_network.ingest.frame_check.check_frame_header."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits

from panoptes_network.frames.fits_header import FitsHeader, HeaderCard, read_header_from_bytes
from panoptes_network.ingest.frame_check import (
    REQUIRED_CARDS,
    InvalidFrameError,
    check_frame_header,
)


def frame_bytes(shape=(20, 30), dtype=np.uint16, **cards) -> bytes:
    """A FITS frame written by astropy; ``None`` values drop a card."""
    header = fits.Header()
    header["EXPTIME"] = 120.0
    for key, value in cards.items():
        if value is None:
            header.remove(key, ignore_missing=True)
        else:
            header[key] = value
    pixels = np.zeros(shape, dtype=dtype)
    out = io.BytesIO()
    fits.PrimaryHDU(pixels, header=header).writeto(out)
    return out.getvalue()


def check_bytes(raw: bytes, source: str = "gs://incoming/frame.fits") -> None:
    check_frame_header(read_header_from_bytes(raw), len(raw), source)


def expected_data_end(raw: bytes, hdu: int = 0) -> int:
    """Where astropy says the HDU's data ends (without padding)."""
    with fits.open(io.BytesIO(raw), disable_image_compression=True) as hdul:
        return hdul[hdu].fileinfo()["datLoc"] + hdul[hdu].size


# --------------------------------------------------------------------------------------
# Real frames
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny.fits", "unsolved.fits", "solved.fits.fz"])
def test_real_frames_pass(panoptes_data, name):
    raw = (panoptes_data / name).read_bytes()
    header = read_header_from_bytes(raw)
    assert check_frame_header(header, len(raw), name) is None


def test_noheader_fails_naming_exptime(panoptes_data):
    raw = (panoptes_data / "noheader.fits").read_bytes()
    with pytest.raises(InvalidFrameError) as info:
        check_bytes(raw, "noheader.fits")
    assert "EXPTIME" in str(info.value)
    assert "missing" in info.value.reason
    assert info.value.source == "noheader.fits"
    assert str(info.value).startswith("noheader.fits")
    assert isinstance(info.value, ValueError)
    assert "EXPTIME" in REQUIRED_CARDS


@pytest.mark.parametrize("name", ["tiny.fits", "solved.fits.fz"])
def test_truncated_real_frame_fails(panoptes_data, name):
    raw = (panoptes_data / name).read_bytes()
    header = read_header_from_bytes(raw)
    needed = expected_data_end(raw, header.hdu)
    # the whole data without its padding is enough
    check_frame_header(header, needed, name)
    for size in (needed - 1, needed - 2880, header.data_offset, header.data_offset + 1):
        with pytest.raises(InvalidFrameError, match="truncated") as info:
            check_frame_header(header, size, name)
        assert str(size) in str(info.value)
        assert str(needed) in str(info.value)


def test_truncated_upload_bytes_fail():
    raw = frame_bytes(shape=(100, 100))
    cut = raw[: len(raw) // 2]
    with pytest.raises(InvalidFrameError, match="truncated"):
        check_frame_header(read_header_from_bytes(cut), len(cut), "cut.fits")


# --------------------------------------------------------------------------------------
# Synthetic frames
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "exptime"),
    [
        (np.uint16, 120.0),
        (np.int16, 0.001),
        (np.uint8, 1),  # an integer exposure time is a positive number too
        (np.int32, 5.5),
        (np.float32, 30.0),
        (np.float64, 1e-6),
    ],
)
def test_good_synthetic_frames_pass(dtype, exptime):
    check_bytes(frame_bytes(dtype=dtype, EXPTIME=exptime))


@pytest.mark.parametrize(
    "shape",
    [(4, 5, 6), (2, 3, 4, 5)],
)
def test_more_than_two_axes_fail(shape):
    with pytest.raises(InvalidFrameError, match=f"NAXIS = {len(shape)}"):
        check_bytes(frame_bytes(shape=shape))


def test_one_axis_fails():
    with pytest.raises(InvalidFrameError, match="NAXIS = 1"):
        check_bytes(frame_bytes(shape=(50,)))


def test_no_data_fails():
    out = io.BytesIO()
    fits.PrimaryHDU(header=fits.Header([("EXPTIME", 120.0)])).writeto(out)
    with pytest.raises(InvalidFrameError, match="NAXIS = 0"):
        check_bytes(out.getvalue())


@pytest.mark.parametrize(
    "exptime",
    [0, 0.0, -1, -120.5, "120", "", "  ", True, False, None, complex(120, 0)],
    ids=[
        "zero-int",
        "zero-float",
        "negative-int",
        "negative-float",
        "string",
        "empty-string",
        "blank-string",
        "bool-true",
        "bool-false",
        "undefined",
        "complex",
    ],
)
def test_bad_exptime_fails(exptime):
    header = fits.Header()
    header["EXPTIME"] = exptime
    out = io.BytesIO()
    fits.PrimaryHDU(np.zeros((10, 10), dtype=np.uint16), header=header).writeto(out)
    raw = out.getvalue()
    # guard: the card really is in the file, so the failure is about its value
    assert "EXPTIME" in read_header_from_bytes(raw)
    with pytest.raises(InvalidFrameError, match="EXPTIME") as info:
        check_bytes(raw)
    assert "positive number" in info.value.reason


def test_missing_exptime_fails():
    with pytest.raises(InvalidFrameError, match="missing header card.*EXPTIME"):
        check_bytes(frame_bytes(EXPTIME=None))


def _header(**index) -> FitsHeader:
    """A FitsHeader built card by card, for layouts astropy will not write."""
    cards = [HeaderCard(k, v) for k, v in index.items()]
    return FitsHeader(cards, data_offset=2880, data_size=0)


@pytest.mark.parametrize(
    ("cards", "fragment"),
    [
        ({"NAXIS": 2, "NAXIS1": 0, "NAXIS2": 10, "BITPIX": 16}, "NAXIS1"),
        ({"NAXIS": 2, "NAXIS1": 10, "NAXIS2": -3, "BITPIX": 16}, "NAXIS2"),
        ({"NAXIS": 2, "NAXIS1": 10.0, "NAXIS2": 10, "BITPIX": 16}, "NAXIS1"),
        ({"NAXIS": 2, "NAXIS2": 10, "BITPIX": 16}, "NAXIS1"),
        ({"NAXIS": 2, "NAXIS1": 10, "NAXIS2": 10, "BITPIX": 12}, "BITPIX"),
        ({"NAXIS": 2, "NAXIS1": 10, "NAXIS2": 10}, "BITPIX"),
        ({"NAXIS": "2", "NAXIS1": 10, "NAXIS2": 10, "BITPIX": 16}, "NAXIS"),
        ({"NAXIS1": 10, "NAXIS2": 10, "BITPIX": 16}, "NAXIS = None"),
    ],
)
def test_bad_structure_fails(cards, fragment):
    with pytest.raises(InvalidFrameError, match=fragment):
        check_frame_header(_header(EXPTIME=1.0, **cards), 10**6, "x.fits")


def test_checks_read_the_compressed_image_header(panoptes_data):
    # for a .fits.fz the image header (HDU 1) is what is checked, not the empty primary
    raw = (panoptes_data / "solved.fits.fz").read_bytes()
    primary = read_header_from_bytes(raw, hdu=0)
    with pytest.raises(InvalidFrameError, match="NAXIS = 0"):
        check_frame_header(primary, len(raw), "solved.fits.fz")
    image = read_header_from_bytes(raw)
    assert image.compressed and image["NAXIS"] == 2
    check_frame_header(image, len(raw), "solved.fits.fz")
