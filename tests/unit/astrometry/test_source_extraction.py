"""Source extraction on calibrated superpixels, in the full frame's pixel coordinates.

References: stars drawn at known positions on a raw-resolution grid, binned 2 x 2 the way the
calibration sums each Bayer cell (so the expected superpixel-to-frame mapping comes from the
binning itself, not from the module's formula), their known fluxes, and SEP's own settings.
"""

from __future__ import annotations

import numpy as np
import pytest
import sep

from panoptes_network.astrometry.source_extraction import (
    Sources,
    extract_sources,
    superpixel_to_frame,
)

RAW_SHAPE = (600, 800)  # rows, columns of the raw grid
NOISE = 10.0  # ADU per superpixel
SIGMA = 1.3  # raw pixels, Gaussian PSF


def render_binned(x, y, flux, raw_shape=RAW_SHAPE, sigma=SIGMA, seed=1):
    """Gaussian stars (total ``flux`` ADU) at raw 0-based (x, y), summed into 2 x 2 bins."""
    rows, cols = raw_shape
    oversample = 4  # sub-pixel integration of the PSF over each raw pixel
    fine = np.zeros((rows * oversample, cols * oversample))
    yy, xx = np.mgrid[0 : rows * oversample, 0 : cols * oversample]
    xx = (xx + 0.5) / oversample - 0.5  # raw coordinates of the sub-pixel centres
    yy = (yy + 0.5) / oversample - 0.5
    for xi, yi, fi in zip(x, y, flux, strict=True):
        x0, x1 = int(max(0, (xi - 6 * sigma) * oversample)), int((xi + 6 * sigma) * oversample)
        y0, y1 = int(max(0, (yi - 6 * sigma) * oversample)), int((yi + 6 * sigma) * oversample)
        box = np.s_[y0:y1, x0:x1]
        r2 = (xx[box] - xi) ** 2 + (yy[box] - yi) ** 2
        fine[box] += fi * np.exp(-r2 / (2 * sigma**2)) / (2 * np.pi * sigma**2 * oversample**2)
    raw = fine.reshape(rows, oversample, cols, oversample).sum(axis=(1, 3))
    binned = raw.reshape(rows // 2, 2, cols // 2, 2).sum(axis=(1, 3))
    rng = np.random.default_rng(seed)
    return (binned + rng.normal(0.0, NOISE, binned.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def field():
    """Well separated stars on a grid, with sub-pixel phases and fluxes spread widely."""
    rng = np.random.default_rng(7)
    gx, gy = np.meshgrid(np.arange(40, 760, 48.0), np.arange(40, 560, 48.0))
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    flux = 10 ** rng.uniform(3.3, 5.0, x.size)
    return {"x": x, "y": y, "flux": flux, "image": render_binned(x, y, flux)}


def nearest(sources: Sources, x: np.ndarray, y: np.ndarray):
    """Distance (raw pixels) and index of the nearest true star of each source."""
    d = np.hypot(sources.x[:, None] - x[None, :], sources.y[:, None] - y[None, :])
    index = np.argmin(d, axis=1)
    return d[np.arange(len(index)), index], index


def test_positions_are_on_the_full_frame_grid(field):
    sources = extract_sources(field["image"], NOISE)
    distance, index = nearest(sources, field["x"], field["y"])
    assert len(sources) == field["x"].size  # every star, nothing else
    assert len(np.unique(index)) == len(index)
    # No bias between the frame positions and the raw positions the stars were drawn at:
    # a superpixel position doubled without the half-pixel shift would be 0.5 px off.
    dx = sources.x - field["x"][index]
    dy = sources.y - field["y"][index]
    assert abs(np.median(dx)) < 0.05 and abs(np.median(dy)) < 0.05
    assert np.median(distance) < 0.15 and distance.max() < 0.6


def test_sources_are_brightest_first_and_capped(field):
    sources = extract_sources(field["image"], NOISE, max_sources=25)
    assert len(sources) == 25
    assert np.all(np.diff(sources.flux) <= 0)
    _, index = nearest(sources, field["x"], field["y"])
    brightest = np.sort(np.argsort(-field["flux"])[:25])
    np.testing.assert_array_equal(np.sort(index), brightest)
    # The measured flux is most of the drawn flux (the part above the threshold).
    ratio = sources.flux / field["flux"][index]
    assert np.all((ratio > 0.7) & (ratio <= 1.05))
    assert np.all(sources.peak > 0) and np.all(sources.peak < sources.flux)


def test_brightest_keeps_the_first_rows(field):
    sources = extract_sources(field["image"], NOISE)
    top = sources.brightest(10)
    assert len(top) == 10 and len(sources.brightest(10_000)) == len(sources)
    for name in ("x", "y", "flux", "peak", "flag"):
        np.testing.assert_array_equal(getattr(top, name), getattr(sources, name)[:10])


def test_isophotal_barycentres_find_the_same_stars(field):
    windowed = extract_sources(field["image"], NOISE)
    plain = extract_sources(field["image"], NOISE, windowed=False)
    distance, _ = nearest(plain, field["x"], field["y"])
    assert len(windowed) == len(plain)
    assert np.median(distance) < 0.2 and distance.max() < 0.6
    assert not np.array_equal(plain.x, windowed.x)


def test_a_star_cut_by_the_edge_is_dropped():
    x = np.array([200.0, 0.6, 400.0])  # the second one is centred on the first raw column
    y = np.array([150.0, 300.0, 450.0])
    image = render_binned(x, y, np.full(3, 2e4))
    sources = extract_sources(image, NOISE)
    assert len(sources) == 2
    assert np.all(sources.x > 100)


def test_big_endian_non_contiguous_images_give_the_same_sources(field):
    image = field["image"]
    expected = extract_sources(image, NOISE)
    swapped = np.asfortranarray(image.astype(">f8"))  # as a FITS file reads, transposed
    assert not swapped.flags.c_contiguous and swapped.dtype.byteorder == ">"
    again = extract_sources(swapped, NOISE)
    for name in ("x", "y", "flux", "peak", "flag"):
        np.testing.assert_array_equal(getattr(again, name), getattr(expected, name))


def test_a_noise_map_finds_the_same_stars(field):
    image = field["image"]
    expected = extract_sources(image, NOISE)
    mapped = extract_sources(image, np.full(image.shape, NOISE, dtype=">f4"))
    assert len(mapped) == len(expected)
    # The same stars (SEP's matched filter weighs a noise map, moving faint centroids a little).
    distance, index = nearest(mapped, expected.x, expected.y)
    assert len(np.unique(index)) == len(index) and distance.max() < 0.5


@pytest.fixture
def sep_buffers():
    """Restore SEP's process-wide buffer limits after a test that changes them."""
    before = sep.get_extract_pixstack(), sep.get_sub_object_limit()
    yield
    sep.set_extract_pixstack(before[0])
    sep.set_sub_object_limit(before[1])


@pytest.mark.parametrize(
    ("pixstack", "sub_objects", "overflow"),
    [(1000, 1024, "pixel buffer full"), (300_000, 4, "deblending overflow")],
)
def test_a_full_sep_buffer_is_grown_and_restored(
    field, sep_buffers, pixstack, sub_objects, overflow
):
    sep.set_extract_pixstack(pixstack)
    sep.set_sub_object_limit(sub_objects)
    # A threshold of 0.2 sigma on this image fills the small buffer.
    with pytest.raises(Exception, match=overflow):
        sep.extract(field["image"], 0.2, err=NOISE, minarea=3)
    sources = extract_sources(field["image"], NOISE, threshold=0.2)
    assert len(sources) > field["x"].size  # the stars and many noise peaks
    assert (sep.get_extract_pixstack(), sep.get_sub_object_limit()) == (pixstack, sub_objects)


def test_superpixel_to_frame_maps_bin_centres():
    # Superpixel 0 covers raw pixels 0 and 1: its centre is raw 0.5.
    np.testing.assert_allclose(superpixel_to_frame(np.array([0.0, 1.0, 2.25])), [0.5, 2.5, 5.0])
    np.testing.assert_allclose(superpixel_to_frame(np.array([0.0]), factor=3), [1.0])


@pytest.mark.parametrize(
    ("image", "rms"),
    [(np.zeros((2, 3, 4), np.float32), 1.0), (np.zeros((8, 8), np.float32), 0.0)],
)
def test_bad_inputs_are_refused(image, rms):
    with pytest.raises(ValueError):
        extract_sources(image, rms)
