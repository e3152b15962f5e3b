"""decode_raw on DNG files with a known mosaic, read back by LibRaw independently."""

from __future__ import annotations

import io

import numpy as np
import pytest
import rawpy

from panoptes_network.frames.camera import BAYER_PATTERNS, bayer_slices
from panoptes_network.raw.decode import (
    RAW_EXTENSIONS,
    RawDecodeError,
    decode_raw,
    embedded_jpeg_of,
    open_raw,
)
from tests.unit.dng_files import (
    BLACK_LEVEL,
    CAMERA_WB,
    GRADIENT,
    LEVELS,
    WHITE_LEVEL,
    dng_bytes,
    mosaic,
)

SOURCE = "gs://panoptes-images-incoming/PAN001/14d3bd/20160909T081152/20160909T081314.dng"


def test_extensions() -> None:
    assert RAW_EXTENSIONS == (".cr2", ".cr3", ".nef", ".dng")


def test_bayer_equals_flipped_libraw_visible_image() -> None:
    data = dng_bytes(48, 64)
    frame = decode_raw(data, SOURCE)
    with rawpy.imread(io.BytesIO(data)) as raw:
        expected = np.flipud(raw.raw_image_visible).copy()
    assert frame.bayer.dtype == np.uint16
    np.testing.assert_array_equal(frame.bayer, expected)
    np.testing.assert_array_equal(frame.bayer, np.flipud(mosaic(48, 64)))
    assert frame.pattern == "RGGB"
    assert frame.black_levels == (BLACK_LEVEL,) * 4
    assert frame.white_level == WHITE_LEVEL
    assert frame.camera_wb[:3] == pytest.approx(CAMERA_WB)
    assert frame.source == SOURCE


def test_architecture_slices_pick_the_right_colours() -> None:
    frame = decode_raw(dng_bytes(48, 64), SOURCE)
    bayer = frame.bayer
    layout = {
        "R": bayer[1::2, 0::2],
        "G1": bayer[1::2, 1::2],
        "G2": bayer[0::2, 0::2],
        "B": bayer[0::2, 1::2],
    }
    for name, plane in layout.items():
        level = LEVELS[name[0]]
        assert plane.min() >= level and plane.max() < level + GRADIENT, name
    slices = bayer_slices("RGGB", bayer.shape)
    assert slices == {
        "R": [(slice(1, None, 2), slice(0, None, 2))],
        "G": [(slice(1, None, 2), slice(1, None, 2)), (slice(0, None, 2), slice(0, None, 2))],
        "B": [(slice(0, None, 2), slice(1, None, 2))],
    }


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
@pytest.mark.parametrize("rows", [48, 49])
def test_slices_for_every_pattern_and_odd_heights(pattern: str, rows: int) -> None:
    frame = decode_raw(dng_bytes(rows, 64, pattern), SOURCE)
    assert frame.pattern == pattern
    assert frame.bayer.shape == (rows, 64)
    slices = bayer_slices(frame.pattern, frame.bayer.shape)
    for colour in "RGB":
        for part in slices[colour]:
            plane = frame.bayer[part]
            assert plane.min() >= LEVELS[colour] and plane.max() < LEVELS[colour] + GRADIENT
    # G1 shares its (FITS) rows with R, G2 with B; together they cover every pixel once.
    g1, g2 = slices["G"]
    assert g1[0] == slices["R"][0][0] and g2[0] == slices["B"][0][0]
    covered = np.zeros(frame.bayer.shape, dtype=int)
    for parts in slices.values():
        for part in parts:
            covered[part] += 1
    assert (covered == 1).all()


def test_bayer_slices_rejects_non_bayer_patterns() -> None:
    with pytest.raises(ValueError, match="not a Bayer pattern"):
        bayer_slices("RGBG", (4, 4))


def _bad_inputs() -> dict[str, bytes]:
    dng = dng_bytes(48, 64)
    fits_bytes = open_fits_bytes()
    return {
        "empty": b"",
        "random": np.random.default_rng(0).bytes(20_000),
        "fits": fits_bytes,
        "truncated": dng[: len(dng) // 2],
        "header only": dng[:600],
    }


def open_fits_bytes() -> bytes:
    from astropy.io import fits

    out = io.BytesIO()
    fits.PrimaryHDU(np.zeros((32, 32), dtype=np.uint16)).writeto(out)
    return out.getvalue()


@pytest.mark.parametrize("name", ["empty", "random", "fits", "truncated", "header only"])
def test_bad_input_raises_raw_decode_error_naming_the_source(name: str) -> None:
    data = _bad_inputs()[name]
    with pytest.raises(RawDecodeError) as info:
        decode_raw(data, SOURCE)
    assert SOURCE in str(info.value)
    assert info.value.source == SOURCE
    assert info.value.reason


def test_truncated_full_size_frame_is_refused() -> None:
    dng = dng_bytes(3476, 5208)
    with pytest.raises(RawDecodeError, match="truncated or damaged"):
        decode_raw(dng[: len(dng) // 2], SOURCE)


def test_not_raw_reason_says_what_is_expected() -> None:
    with pytest.raises(RawDecodeError, match="not a camera raw file"):
        decode_raw(open_fits_bytes(), SOURCE)


def embedded_preview(data: bytes) -> bytes | None:
    with open_raw(data, SOURCE) as raw:
        return embedded_jpeg_of(raw)


def test_embedded_preview_found_or_none() -> None:
    assert embedded_preview(dng_bytes(48, 64)) is None
    jpeg = embedded_preview(dng_bytes(48, 64, preview=(1300, 866)))
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    with pytest.raises(RawDecodeError):
        embedded_preview(b"not a raw file at all" * 100)
