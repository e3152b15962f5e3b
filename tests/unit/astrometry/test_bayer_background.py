"""Bias and per-colour sky of a raw Bayer frame, superpixels and the star count.

References: the known sky and noise each synthetic frame is drawn with, an independent numpy
sigma-clipped median (iterated by hand, not astropy's or photutils' clipping), the known
fluxes and number of injected stars, and photutils' ``Background2D`` (the background the step
used before sep) on a synthetic frame with a sky gradient and on a real frame.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import SigmaClip
from photutils.background import Background2D, MedianBackground

from panoptes_network.astrometry.bayer_background import calibrate_superpixels
from panoptes_network.astrometry.star_count import count_star_like_sources
from panoptes_network.frames.camera import BAYER_PLANE_OFFSETS, plane_offsets

BIAS = 2061.0  # a camera's own black level, not a fleet default
SKY = {"r": 310.0, "g": 545.0, "b": 190.0}  # ADU above bias
GAIN, READ_NOISE = 1.5, 10.5  # e-/ADU, e-


def noise_adu(sky_adu: float) -> float:
    return float(np.sqrt(sky_adu / GAIN + (READ_NOISE / GAIN) ** 2))


def colour_map(shape) -> np.ndarray:
    names = np.empty(shape, dtype="<U1")
    for colour, offsets in BAYER_PLANE_OFFSETS.items():
        for dy, dx in offsets:
            names[dy::2, dx::2] = colour
    return names


def add_gaussian_star(image, x, y, flux, sigma=1.1, half=12):
    """Add a star whose pixels sum to ``flux`` (ADU) within ``half`` pixels of its centre."""
    x0, y0 = int(round(x)), int(round(y))
    rows, cols = np.mgrid[y0 - half : y0 + half + 1, x0 - half : x0 + half + 1]
    stamp = np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))
    image[rows, cols] += flux * stamp / stamp.sum()


def calibrate(pixels, **options):
    """Calibrate a frame of this camera (bias BIAS, RGGB)."""
    return calibrate_superpixels(pixels, bias=BIAS, bayer_pattern="RGGB", **options)


def synthetic_frame(shape=(1200, 1600), stars=(), seed=3, hot=()):
    """Bias + per-colour sky + Gaussian noise of that sky, stars (x, y, ADU), hot pixels."""
    rng = np.random.default_rng(seed)
    colours = colour_map(shape)
    image = rng.normal(size=shape)
    for name in "rgb":
        here = colours == name
        image[here] = BIAS + SKY[name] + image[here] * noise_adu(SKY[name])
    for x, y, flux in stars:
        add_gaussian_star(image, x, y, flux)
    for row, col in hot:
        image[row, col] = 11000
    return np.clip(np.round(image), 0, 65535).astype(np.uint16)


def clipped_stats(values: np.ndarray, sigma=3.0) -> tuple[float, float]:
    """Independent reference: iterate median and std, keep |x - median| < sigma * std."""
    values = np.asarray(values, dtype=float).ravel()
    for _ in range(50):
        median, std = np.median(values), values.std()
        kept = values[np.abs(values - median) < sigma * std]
        if kept.size == values.size:
            break
        values = kept
    return float(np.median(values)), float(values.std())


# A field of stars on a grid, away from each other and the edges (x, y, flux in ADU).
STARS = [
    (100.3 + 150 * i, 90.7 + 140 * j, 4000.0 + 500 * ((i + j) % 5))
    for i in range(10)
    for j in range(8)
]


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return synthetic_frame(stars=STARS, hot=[(11, 13), (600, 801), (1001, 1500)])


def test_sky_per_colour_matches_an_independent_clipped_median_and_the_truth(frame):
    result = calibrate(frame)
    colours = colour_map(frame.shape)
    for name in "rgb":
        reference_median, reference_std = clipped_stats(frame[colours == name] - BIAS)
        stats = getattr(result.background, name)
        # Integer pixels make any median a multiple of 0.5 ADU: half an ADU is the resolution.
        assert stats.median == pytest.approx(reference_median, abs=0.6), name
        assert stats.median == pytest.approx(SKY[name], abs=1.0), name
        assert stats.rms == pytest.approx(reference_std, rel=0.03), name
        assert stats.rms == pytest.approx(noise_adu(SKY[name]), rel=0.05), name
    assert result.background.bias == BIAS
    doc = result.background.to_dict()
    assert set(doc) == {"r", "g", "b"} and set(doc["g"]) == {"median", "rms"}
    assert doc["r"]["median"] == pytest.approx(SKY["r"], abs=1.0)


def test_colours_are_told_apart(frame):
    # Swapping the red and blue planes swaps their statistics: the planes are the right ones.
    swapped = frame.copy()
    swapped[1::2, 0::2], swapped[0::2, 1::2] = frame[0::2, 1::2], frame[1::2, 0::2]
    result = calibrate(swapped).background
    assert result.r.median == pytest.approx(SKY["b"], abs=1.0)
    assert result.b.median == pytest.approx(SKY["r"], abs=1.0)


def test_the_cameras_bayer_pattern_says_which_plane_is_which_colour(frame):
    # The same pixels read as a BGGR camera's: red and blue trade places.
    result = calibrate_superpixels(frame, bias=BIAS, bayer_pattern="BGGR").background
    assert result.r.median == pytest.approx(SKY["b"], abs=1.0)
    assert result.b.median == pytest.approx(SKY["r"], abs=1.0)
    assert result.g.median == pytest.approx(SKY["g"], abs=1.0)


def test_superpixels_sum_each_bayer_cell_above_the_sky(frame):
    result = calibrate(frame)
    image = result.image
    assert image.dtype == np.float32 and image.shape == (600, 800)
    # Away from stars, the sky is gone: the mean is 0 within its error.
    star_free = np.ones(image.shape, dtype=bool)
    for x, y, _ in STARS:
        j, i = int(y // 2), int(x // 2)
        star_free[max(j - 8, 0) : j + 9, max(i - 8, 0) : i + 9] = False
    star_free[[5, 300, 500], [6, 400, 750]] = False  # hot pixels
    values = image[star_free]
    expected_noise = np.sqrt(sum(noise_adu(SKY[c]) ** 2 for c in "rggb"))
    assert abs(values.mean()) < 4 * expected_noise / np.sqrt(values.size) + 0.3
    assert values.std() == pytest.approx(expected_noise, rel=0.05)
    assert result.background.superpixel_rms == pytest.approx(expected_noise, rel=0.05)
    # Each superpixel is the sum of its 2 x 2 cell: a star's whole flux is in the sum (a lost
    # colour would lose a quarter or more of it).
    residuals = []
    for x, y, flux in STARS:
        j, i = int(round((y - 0.5) / 2)), int(round((x - 0.5) / 2))
        residuals.append(image[j - 6 : j + 7, i - 6 : i + 7].sum() - flux)
    box_noise = expected_noise * 13
    assert np.abs(residuals).max() < 5 * box_noise
    assert abs(np.mean(residuals)) < 4 * box_noise / np.sqrt(len(STARS))


def test_odd_sizes_and_small_crops(frame):
    crop = frame[:201, :303]
    # With an odd number of rows the upright top-left cell starts on the G2/B row: the crop is
    # a GBRG frame (FITS row 1 is the bottom of the image).
    result = calibrate_superpixels(crop, bias=BIAS, bayer_pattern="GBRG")
    assert result.image.shape == (100, 151)
    assert result.background.g.median == pytest.approx(SKY["g"], abs=2.0)
    with pytest.raises(ValueError, match="4 x 4"):
        calibrate(frame[:3, :10])


def test_star_count_finds_the_injected_stars_but_not_noise_or_hot_pixels(frame):
    result = calibrate(frame)
    noise = result.background.superpixel_rms
    assert count_star_like_sources(result.image, noise) == len(STARS)
    blank = calibrate(synthetic_frame(hot=[(11, 13), (600, 801)], seed=8))
    assert count_star_like_sources(blank.image, blank.background.superpixel_rms) == 0


def photutils_superpixels(pixels, bias, pattern, box=64) -> np.ndarray:
    """Reference: each plane minus photutils' sigma-clipped median background, cells summed."""
    rows, cols = pixels.shape[0] // 2, pixels.shape[1] // 2
    image = np.zeros((rows, cols))
    for offsets in plane_offsets(pattern, pixels.shape[0]).values():
        for dy, dx in offsets:
            plane = pixels[dy::2, dx::2][:rows, :cols].astype(float) - bias
            background = Background2D(
                plane,
                (min(box, rows // 2), min(box, cols // 2)),
                filter_size=3,
                exclude_percentile=50.0,
                sigma_clip=SigmaClip(sigma=3.0, maxiters=10),
                bkg_estimator=MedianBackground(),
            )
            image += plane - background.background
    return image


def gradient_frame(seed=5) -> tuple[np.ndarray, np.ndarray]:
    """A frame whose sky rises by half across it (vignetting, moonlight), with stars.

    Returns the frame and the true sky of each superpixel (ADU above the bias).
    """
    shape = (1200, 1600)
    rng = np.random.default_rng(seed)
    colours = colour_map(shape)
    cols = np.mgrid[: shape[0], : shape[1]][1]
    sky = np.zeros(shape)
    for name in "rgb":
        here = colours == name
        sky[here] = SKY[name] * (0.75 + 0.5 * cols[here] / shape[1])
    image = BIAS + sky + rng.normal(size=shape) * noise_adu(SKY["g"])
    for x, y, flux in STARS:
        add_gaussian_star(image, x, y, flux)
    cells = sky[0::2, 0::2] + sky[0::2, 1::2] + sky[1::2, 0::2] + sky[1::2, 1::2]
    return np.clip(np.round(image), 0, 65535).astype(np.uint16), cells


def subtracted_sky(pixels: np.ndarray, superpixels: np.ndarray) -> np.ndarray:
    """The sky a calibration took from each superpixel: the raw cell sum minus what is left."""
    raw = pixels.astype(float) - BIAS
    cells = raw[0::2, 0::2] + raw[0::2, 1::2] + raw[1::2, 0::2] + raw[1::2, 1::2]
    return cells - superpixels


def test_background_follows_a_sky_gradient_better_than_photutils():
    pixels, true_sky = gradient_frame()
    result = calibrate_superpixels(pixels, bias=BIAS, bayer_pattern="RGGB")
    noise = result.background.superpixel_rms
    error = (subtracted_sky(pixels, result.image) - true_sky) / noise
    reference = subtracted_sky(pixels, photutils_superpixels(pixels, BIAS, "RGGB")) - true_sky
    reference /= noise
    # The sky taken off is the true sky to a small fraction of one superpixel's noise, up to
    # the edges, where photutils' map bends away from the ramp by about two sigma.
    assert abs(np.median(error)) < 0.05
    assert np.std(error) < 0.15
    assert np.percentile(np.abs(error), 99) < 0.6
    assert np.std(error) < 0.5 * np.std(reference)


def test_background_agrees_with_photutils_on_a_real_frame(panoptes_data):
    with fits.open(panoptes_data / "unsolved.fits") as hdus:
        pixels = np.asarray(hdus[0].data)
        pattern = hdus[0].header["FILTER"]
    bias = 2048.0  # this Canon EOS 100D's black level (tests/unit/cameras.py)
    result = calibrate_superpixels(pixels, bias=bias, bayer_pattern=pattern)
    reference = photutils_superpixels(pixels, bias, pattern)
    difference = (result.image - reference) / result.background.superpixel_rms
    # The two maps differ by a fraction of one superpixel's noise everywhere (SExtractor's
    # mode sits a little below a median lifted by the field's faint stars).
    assert abs(np.median(difference)) < 0.4
    assert np.std(difference) < 0.25
    assert np.percentile(np.abs(difference), 99) < 1.2
