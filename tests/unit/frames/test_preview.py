"""The JPEG preview rendered from a FITS frame's Bayer mosaic: colour, orientation, size, input.

The mosaics are built the way a camera makes them, independently of the code under test: the
colour filter pattern tiled over the upright image from its top-left pixel, then flipped
up-down into FITS orientation (row 0 at the bottom). A patch lit only on the red pixels of the
upright image's top-left corner must come out red, in the top-left corner of the preview.
"""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.camera import SENSOR_SHAPE
from panoptes_network.frames.preview import (
    PREVIEW_WIDTH,
    FramePreviewError,
    preview_name,
    render_frame_preview,
)
from panoptes_network.raw.make_rgb_fits import product_names

NAME = "gs://panoptes-images/PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz"
ROWS, COLS = 400, 600
SKY, NOISE, LIT = 2400.0, 12.0, 3000.0


def upright_cfa(pattern: str, rows: int, cols: int) -> np.ndarray:
    """The colour letter of every pixel of the upright image (top row first)."""
    cell = np.array(list(pattern)).reshape(2, 2)
    return np.tile(cell, (rows // 2 + 1, cols // 2 + 1))[:rows, :cols]


def mosaic_with_patches(pattern: str = "RGGB", rows: int = ROWS, cols: int = COLS, seed=1):
    """A FITS-oriented mosaic: noisy sky, a red-only patch at the upright top-left, a
    blue-only patch at the upright bottom-right and a green-only patch in the middle."""
    rng = np.random.default_rng(seed)
    upright = SKY + rng.normal(0.0, NOISE, (rows, cols))
    cfa = upright_cfa(pattern, rows, cols)
    patches = {
        "R": (slice(20, 80), slice(30, 110)),  # upright rows, columns
        "B": (slice(rows - 80, rows - 20), slice(cols - 110, cols - 30)),
        "G": (slice(rows // 2 - 30, rows // 2 + 30), slice(cols // 2 - 40, cols // 2 + 40)),
    }
    for colour, where in patches.items():
        lit = np.zeros((rows, cols), dtype=bool)
        lit[where] = True
        upright[lit & (cfa == colour)] += LIT
    return np.flipud(np.round(upright)).astype(np.uint16), patches


def decoded(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        return np.asarray(image).astype(float)


def mean_colour(image: np.ndarray, where: tuple[slice, slice], shape: tuple[int, int]):
    """Mean R, G, B of the preview over the inner half of a patch given in upright pixels."""
    scale = image.shape[1] / shape[1]
    rows, cols = where
    r0, r1 = rows.start * scale, rows.stop * scale
    c0, c1 = cols.start * scale, cols.stop * scale
    dr, dc = (r1 - r0) / 4, (c1 - c0) / 4
    inner = image[round(r0 + dr) : round(r1 - dr), round(c0 + dc) : round(c1 - dc)]
    return inner.mean(axis=(0, 1))


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
def test_a_red_only_patch_comes_out_red_in_the_right_place(pattern):
    pixels, patches = mosaic_with_patches(pattern)
    assert pixels.shape == (ROWS, COLS)
    assert pixels[ROWS - 50, 70] != pixels[50, 70]  # the setup lit the flipped rows
    image = decoded(render_frame_preview(pixels, name=NAME, pattern=pattern, width=300))
    red = mean_colour(image, patches["R"], (ROWS, COLS))
    blue = mean_colour(image, patches["B"], (ROWS, COLS))
    green = mean_colour(image, patches["G"], (ROWS, COLS))
    assert red[0] > 200 and red[1] < 80 and red[2] < 80, red
    assert blue[2] > 200 and blue[0] < 80 and blue[1] < 80, blue
    assert green[1] > 200 and green[0] < 80 and green[2] < 80, green
    # Where the red patch would be without the flip (or with the columns reversed): sky.
    mirrored_rows = (slice(ROWS - 80, ROWS - 20), slice(30, 110))
    mirrored_cols = (slice(20, 80), slice(COLS - 110, COLS - 30))
    for where in (mirrored_rows, mirrored_cols):
        sky = mean_colour(image, where, (ROWS, COLS))
        assert sky[0] < 100 and abs(sky[0] - sky[1]) < 15, sky


def test_the_sky_comes_out_neutral_grey():
    pixels, patches = mosaic_with_patches()
    image = decoded(render_frame_preview(pixels, name=NAME, width=300))
    sky = image[150:250, 150:200].mean(axis=(0, 1))  # away from every patch
    assert np.ptp(sky) < 6, sky


def test_a_sky_gradient_of_another_strength_per_colour_comes_out_grey():
    # Red and blue pixels see 0.75 and 0.6 of the green pixels' sky, which rises from
    # 300 to 1500 ADU above a 2048 ADU bias from the left edge to the right.
    rng = np.random.default_rng(4)
    ramp = np.linspace(300.0, 1500.0, COLS)[None, :].repeat(ROWS, axis=0)
    response = {"R": 0.75, "G": 1.0, "B": 0.6}
    cfa = upright_cfa("RGGB", ROWS, COLS)
    gain = np.vectorize(response.get)(cfa)
    upright = 2048.0 + ramp * gain + rng.normal(0.0, NOISE, (ROWS, COLS))
    pixels = np.flipud(np.round(upright)).astype(np.uint16)
    image = decoded(render_frame_preview(pixels, name=NAME, width=300))
    for cols in (slice(5, 30), slice(140, 160), slice(270, 295)):  # left, middle, right
        sky = image[20:180, cols].mean(axis=(0, 1))
        assert np.ptp(sky) < 8, (cols, sky)
    assert image[:, 270:295].mean() > image[:, 5:30].mean() + 100  # the gradient shows


def test_the_wrong_pattern_gives_the_wrong_colour():
    # The pattern is used, not assumed: RGGB pixels read as BGGR swap red and blue.
    pixels, patches = mosaic_with_patches("RGGB")
    image = decoded(render_frame_preview(pixels, name=NAME, pattern="BGGR", width=300))
    red_patch = mean_colour(image, patches["R"], (ROWS, COLS))
    assert red_patch[2] > 200 and red_patch[0] < 80, red_patch


def test_without_a_pattern_the_preview_is_grey():
    pixels, patches = mosaic_with_patches()
    image = decoded(render_frame_preview(pixels, name=NAME, pattern=None, width=300))
    red_patch = mean_colour(image, patches["R"], (ROWS, COLS))
    assert red_patch.min() > 60 and np.ptp(red_patch) < 6, red_patch  # lit, but grey


def test_a_full_frame_gives_the_width_of_every_preview_and_its_aspect():
    rows, cols = SENSOR_SHAPE
    pixels = np.random.default_rng(2).integers(2000, 2200, (rows, cols), dtype=np.uint16)
    with Image.open(io.BytesIO(render_frame_preview(pixels, name=NAME))) as image:
        assert image.size == (PREVIEW_WIDTH, round(PREVIEW_WIDTH * rows / cols)) == (1200, 801)


def test_a_full_frame_is_rendered_without_a_copy_of_the_frame():
    rows, cols = SENSOR_SHAPE
    pixels = np.random.default_rng(3).integers(2000, 2200, (rows, cols), dtype=np.uint16)
    tracemalloc.start()
    try:
        render_frame_preview(pixels, name=NAME)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Less than one copy of the frame (36 MB of uint16; 72 MB as float32): binned planes only.
    assert peak < pixels.nbytes, peak


@pytest.mark.parametrize("kind", ["f4", "f8", "i4", "u2", ">i2"])
def test_any_numeric_pixel_type_renders(kind):
    pixels, _ = mosaic_with_patches()
    jpeg = render_frame_preview(pixels.astype(kind), name=NAME, width=300)
    assert decoded(jpeg).shape == (200, 300, 3)


def test_non_finite_pixels_show_as_sky():
    pixels, patches = mosaic_with_patches()
    floats = pixels.astype(np.float32)
    floats[:40, :] = np.nan  # the upright bottom rows are unknown
    floats[200, 300] = np.inf
    image = decoded(render_frame_preview(floats, name=NAME, width=300))
    red = mean_colour(image, patches["R"], (ROWS, COLS))
    assert red[0] > 200 and red[1] < 80, red
    assert np.ptp(image[-15:].mean(axis=(0, 1))) < 6  # grey where the pixels were NaN


@pytest.mark.parametrize(
    ("pixels", "says"),
    [
        (None, "holds no image data"),
        (np.zeros((0, 0), dtype=np.uint16), "holds no image data"),
        (np.zeros((3, 100, 100), dtype=np.uint16), "shape (3, 100, 100)"),
        (np.zeros(5000, dtype=np.uint16), "shape (5000,)"),
        (np.zeros((1, 500), dtype=np.uint16), "smaller than one 2 x 2 Bayer cell"),
        (np.full((8, 8), "x"), "not a Bayer mosaic of numbers"),
        (np.full((8, 8), np.nan), "no finite pixel value"),
    ],
    ids=["none", "empty", "cube", "1-d", "one-row", "strings", "all-nan"],
)
def test_a_frame_that_cannot_be_rendered_is_an_error_naming_it(pixels, says):
    with pytest.raises(FramePreviewError) as error:
        render_frame_preview(pixels, name=NAME)
    assert str(error.value).startswith(f"{NAME}: ")
    assert says in error.value.reason


def test_an_unknown_pattern_or_width_is_refused():
    pixels, _ = mosaic_with_patches()
    with pytest.raises(FramePreviewError, match="'RGBG' is not a Bayer pattern"):
        render_frame_preview(pixels, name=NAME, pattern="RGBG")
    with pytest.raises(ValueError, match="at least 1 pixel"):
        render_frame_preview(pixels, name=NAME, width=0)


def test_small_and_odd_frames_render_at_the_asked_width():
    for shape in [(2, 2), (7, 9), (3, 5000)]:
        pixels = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
        with Image.open(io.BytesIO(render_frame_preview(pixels, name=NAME, width=120))) as image:
            assert image.width == 120, shape


def test_the_preview_of_a_frame_and_of_its_raw_file_share_one_name():
    fits_path = ImagePath.parse("PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz")
    raw_path = ImagePath.parse("PAN001/14d3bd/20180216T110623/20180216T112430.cr2")
    assert preview_name(fits_path) == "PAN001/14d3bd/20180216T110623/20180216T112430.jpg"
    assert product_names(raw_path)["preview"] == preview_name(fits_path)
    legacy = ImagePath.parse("PAN001/Tess_Sec21_Cam02/14d3bd/20180216T110623/20180216T112430.fits")
    assert preview_name(legacy) == preview_name(fits_path)
