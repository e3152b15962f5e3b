"""Rendering on small frames: noise statistics, star fluxes, Bayer colours, determinism, transits.

References: the noise of a Poisson + Gaussian + quantised detector computed by hand from the
camera constants; the truth's per-colour pixel sums for aperture photometry (measured here
with plain numpy box apertures and annuli, not with the simulator's code); the injected
transit depth.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.table import Table

from panoptes_network.catalog.star_catalog import InMemoryCatalog
from panoptes_network.frames.camera import BAYER_SITES
from panoptes_network.simulation import (
    CameraModel,
    SequenceSpec,
    SequenceTruth,
    SimulationInputError,
    Transit,
    read_frame,
    simulate_sequence,
)
from panoptes_network.simulation.camera import HotPixels, bayer_colour_index
from panoptes_network.simulation.render import FrameScene, digitise, expected_electrons
from panoptes_network.simulation.smooth_field import SmoothField

SMALL = CameraModel("0abcde", width=800, height=600, hot_pixel_count=20)
NO_HOT = HotPixels(np.zeros(0, int), np.zeros(0, int), np.zeros(0))
SKY = {"R": 150.0, "G": 300.0, "B": 200.0}  # e- per pixel
START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
KIC = (301.564, 44.457)


def constant_sky(camera, values):
    return tuple(SmoothField(np.full((3, 3), v), camera.shape) for v in values)


def scene_with(camera, x, y, fluxes, sigma=1.0, sky=(150.0, 300.0, 200.0), hot=NO_HOT):
    n = len(x)
    return FrameScene(
        camera=camera,
        x=np.asarray(x, float),
        y=np.asarray(y, float),
        fluxes=np.asarray(fluxes, float).reshape(n, 3),
        sigma_x=np.full(n, sigma),
        sigma_y=np.full(n, sigma * 1.1),
        sky=constant_sky(camera, sky),
        hot=hot,
        exptime=120.0,
    )


def site_pixels(image, site):
    row, col = BAYER_SITES[site]
    return image[row::2, col::2]


def colour_pixels(image, colour):
    sites = {"R": ["R"], "G": ["G1", "G2"], "B": ["B"]}[colour]
    return np.concatenate([site_pixels(image, s).ravel() for s in sites]).astype(float)


def box_photometry(pixels, x, y, camera, half=5, inner=10, outer=18):
    """Per-colour sums (e-) in a box of half-width ``half`` minus an annulus background.

    A 11 x 11 box holds all but 2e-5 of a Gaussian of FWHM <= 3 px centred in it.
    """
    xi, yi = int(round(x)), int(round(y))
    rows, cols = np.mgrid[yi - outer : yi + outer + 1, xi - outer : xi + outer + 1]
    data = pixels[yi - outer : yi + outer + 1, xi - outer : xi + outer + 1].astype(float)
    colour = bayer_colour_index(rows, cols)
    cheb = np.maximum(np.abs(rows - yi), np.abs(cols - xi))
    sums, variances = [], []
    for c in range(3):
        ap = (cheb <= half) & (colour == c)
        ann = (cheb >= inner) & (colour == c)
        background = np.mean(data[ann])
        signal = (data[ap] - background).sum() * camera.gain
        sky_e = (background - camera.bias_adu) * camera.gain
        n_ap, n_ann = ap.sum(), ann.sum()
        pixel_var = sky_e + camera.read_noise**2 + camera.gain**2 / 12
        sums.append(signal)
        variances.append(n_ap * pixel_var * (1 + n_ap / n_ann))
    return np.array(sums), np.array(variances)


# --------------------------------------------------------------------------------------
# Detector noise
# --------------------------------------------------------------------------------------


def test_background_and_noise_per_colour_match_the_detector_model():
    camera = CameraModel("0abcde", width=1000, height=800)
    scene = scene_with(camera, [], [], np.zeros((0, 3)), sky=tuple(SKY.values()))
    electrons, _ = expected_electrons(scene)
    pixels = digitise(electrons, camera, np.random.default_rng(11))
    for colour, sky in SKY.items():
        values = colour_pixels(pixels, colour)
        expected_mean = camera.bias_adu + sky / camera.gain
        expected_sigma = np.sqrt((sky + camera.read_noise**2) / camera.gain**2 + 1 / 12)
        assert values.mean() - camera.bias_adu == pytest.approx(sky / camera.gain, rel=0.005)
        assert values.mean() == pytest.approx(expected_mean, rel=1e-3)
        assert values.std() == pytest.approx(expected_sigma, rel=0.02)


def test_digitise_clips_at_saturation_and_zero():
    electrons = np.array([[0.0, 1e9], [50.0, 20_000.0]], dtype=np.float32)
    pixels = digitise(electrons, SMALL, np.random.default_rng(0))
    assert pixels.dtype == np.uint16
    assert pixels[0, 1] == SMALL.saturation_adu and pixels[1, 1] == SMALL.saturation_adu
    assert abs(int(pixels[0, 0]) - 2048) < 40


def test_digitise_is_deterministic_for_a_seed():
    electrons = np.full((64, 64), 300.0, dtype=np.float32)
    a = digitise(electrons, SMALL, np.random.default_rng(5))
    b = digitise(electrons, SMALL, np.random.default_rng(5))
    c = digitise(electrons, SMALL, np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_gaussian_noise_has_the_poisson_mean_and_variance():
    electrons = np.full((400, 400), 900.0, dtype=np.float32)
    camera = CameraModel("0abcde", width=400, height=400)
    pixels = digitise(electrons, camera, np.random.default_rng(3), noise="gaussian")
    adu = pixels.astype(float) - camera.bias_adu
    expected_sigma = np.sqrt((900.0 + camera.read_noise**2) / camera.gain**2 + 1 / 12)
    assert adu.mean() == pytest.approx(900.0 / camera.gain, rel=1e-3)
    assert adu.std() == pytest.approx(expected_sigma, rel=0.01)


def test_gaussian_noise_is_shared_by_two_scenes_of_one_seed():
    """Paired injection: the difference of two noisy images is the difference of the scenes."""
    quiet = np.random.default_rng(1).uniform(50.0, 12_000.0, (256, 256)).astype(np.float32)
    injected = quiet.copy()
    injected[10:60] *= 0.98
    camera = CameraModel("0abcde", width=256, height=256)
    noise = np.sqrt(quiet.mean())

    def unshared(model: str) -> np.ndarray:
        a = digitise(quiet, camera, np.random.default_rng(4), noise=model).astype(float)
        b = digitise(injected, camera, np.random.default_rng(4), noise=model).astype(float)
        return (b - a) * camera.gain - (injected - quiet)

    gaussian = unshared("gaussian")
    assert np.all(gaussian[60:] == 0.0)
    assert gaussian.std() < 0.02 * noise
    assert unshared("poisson").std() > 0.3 * noise  # why the option exists


def test_unknown_noise_model_is_refused():
    with pytest.raises(ValueError, match="noise 'uniform'"):
        digitise(np.ones((4, 4), dtype=np.float32), SMALL, np.random.default_rng(0), "uniform")
    spec = SequenceSpec(ra=10.0, dec=20.0, start=datetime(2026, 7, 1), noise="uniform")
    with pytest.raises(SimulationInputError, match="noise: 'uniform' is not one of"):
        spec.validate()


# --------------------------------------------------------------------------------------
# Stars
# --------------------------------------------------------------------------------------


def test_a_star_lights_only_the_pixels_of_its_colours():
    scene = scene_with(SMALL, [400.3], [300.6], [[50_000.0, 0.0, 0.0]], sky=(0.0, 0.0, 0.0))
    electrons, stars = expected_electrons(scene)
    assert (site_pixels(electrons, "R") > 0).any()
    for site in ("G1", "G2", "B"):
        assert not site_pixels(electrons, site).any()
    assert stars.pixel_fluxes[0] == pytest.approx([electrons.sum(), 0.0, 0.0], rel=1e-5)


def test_bayer_sampling_keeps_channel_fluxes_within_a_few_percent():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(50, 750, 200), rng.uniform(50, 550, 200)
    fluxes = np.tile([10_000.0, 20_000.0, 8_000.0], (200, 1))
    scene = scene_with(SMALL, x, y, fluxes, sigma=0.9, sky=(0.0, 0.0, 0.0))
    _, stars = expected_electrons(scene)
    ratio = stars.pixel_fluxes / fluxes
    assert np.abs(ratio - 1).max() < 0.06  # sub-pixel phase of a 2.1 px FWHM on the mosaic
    assert np.abs(ratio.mean(axis=0) - 1).max() < 0.005  # unbiased over random phases


def test_aperture_sums_match_the_truth_within_the_noise():
    camera = CameraModel("0abcde", width=1200, height=900, hot_pixel_count=0)
    rng = np.random.default_rng(4)
    gx, gy = np.meshgrid(np.arange(60, 1150, 60), np.arange(60, 850, 60))
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    vmag_like = rng.uniform(0, 4, x.size)
    fluxes = np.array([8_000.0, 30_000.0, 11_000.0]) * 10 ** (-0.4 * vmag_like)[:, None]
    scene = scene_with(camera, x, y, fluxes, sigma=1.1)
    electrons, stars = expected_electrons(scene)
    pixels = digitise(electrons, camera, np.random.default_rng(8))
    pulls = []
    for i in range(len(x)):
        measured, variance = box_photometry(pixels, x[i], y[i], camera)
        sigma = np.sqrt(variance + stars.pixel_fluxes[i])
        pulls.append((measured - stars.pixel_fluxes[i]) / sigma)
    pulls = np.array(pulls)
    assert np.abs(pulls).max() < 4.0
    assert np.mean(pulls**2) == pytest.approx(1.0, abs=0.25)
    assert abs(pulls.mean()) < 0.15


def test_hot_pixels_add_their_dark_current():
    hot = HotPixels(np.array([10, 20]), np.array([30, 41]), np.array([5.0, 100.0]))
    scene = scene_with(SMALL, [], [], np.zeros((0, 3)), sky=(0.0, 0.0, 0.0), hot=hot)
    electrons, _ = expected_electrons(scene)
    assert electrons[10, 30] == pytest.approx(600.0) and electrons[20, 41] == pytest.approx(12_000)
    assert electrons.sum() == pytest.approx(12_600.0)


# --------------------------------------------------------------------------------------
# Small sequences: determinism and transits
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_catalog() -> InMemoryCatalog:
    """Stars every ~0.12 deg within 4 deg of the KIC 8462852 field, V 8 to 12."""
    rng = np.random.default_rng(12)
    dec = np.arange(KIC[1] - 4, KIC[1] + 4, 0.12)
    rows = []
    for d in dec:
        step = 0.12 / np.cos(np.radians(d))
        ra = np.arange(KIC[0] - 6, KIC[0] + 6, step) + rng.uniform(-0.02, 0.02)
        rows.append((ra, np.full(ra.size, d) + rng.uniform(-0.02, 0.02, ra.size)))
    ra = np.concatenate([r for r, _ in rows])
    dec = np.concatenate([d for _, d in rows])
    return InMemoryCatalog(
        Table(
            {
                "picid": np.arange(1, ra.size + 1, dtype=np.int64) + 10_000_000,
                "ra": ra,
                "dec": dec,
                "vmag": rng.uniform(8.0, 12.0, ra.size),
            }
        )
    )


def small_spec(**changes) -> SequenceSpec:
    values = dict(ra=KIC[0], dec=KIC[1], start=START, count=1, camera=SMALL, seed=3)
    values.update(changes)
    return SequenceSpec(**values)


def test_small_sequences_are_deterministic_per_seed(grid_catalog, tmp_path):
    first = simulate_sequence(small_spec(count=2), grid_catalog, tmp_path / "a")
    again = simulate_sequence(small_spec(count=2), grid_catalog, tmp_path / "b")
    other = simulate_sequence(small_spec(count=2, seed=4), grid_catalog, tmp_path / "c")
    for a, b, c in zip(first.frames, again.frames, other.frames, strict=True):
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()
    for name in ("stars.ecsv", "frames.ecsv", "events.ecsv", "simulation.json"):
        assert (first.truth / name).read_bytes() == (again.truth / name).read_bytes()


def test_injected_transit_shows_in_truth_and_pixels(grid_catalog, tmp_path):
    probe = simulate_sequence(small_spec(), grid_catalog, tmp_path / "probe")
    stars = SequenceTruth.read(probe.folder).frame_stars(0)
    inside = (stars["x"] > 100) & (stars["x"] < 700) & (stars["y"] > 100) & (stars["y"] < 500)
    candidates = stars[inside & ~stars["saturated"] & (stars["peak_adu"] < 8000)]
    star = candidates[np.argmax(candidates["flux_g"])]
    interval, exptime = 300.0, 120.0
    # A 3 % box transit covering frames 2 to 4 of 6 (exposures 5 min apart).
    mid = START + timedelta(seconds=3 * interval + exptime / 2)
    transit = Transit(int(star["picid"]), mid, 0.03, 14.0, limb_darkening=None)
    spec = small_spec(count=6, interval=interval, events=(transit,))
    result = simulate_sequence(spec, grid_catalog, tmp_path / "transit")
    truth = SequenceTruth.read(result.folder)
    measured, truth_flux, variability, noise = [], [], [], []
    for i, path in enumerate(result.frames):
        row = truth.frame_stars(i)
        row = row[row["picid"] == star["picid"]][0]
        _, pixels = read_frame(path)
        sums, variances = box_photometry(pixels, row["x"], row["y"], SMALL)
        measured.append(sums.sum())
        noise.append(np.sqrt(variances.sum() + sums.sum()))
        truth_flux.append(row["pixel_flux_r"] + row["pixel_flux_g"] + row["pixel_flux_b"])
        variability.append(row["variability"])
    assert variability == pytest.approx([1.0, 1.0, 0.97, 0.97, 0.97, 1.0])
    measured, truth_flux, noise = map(np.array, (measured, truth_flux, noise))
    out, into = np.array([0, 1, 5]), np.array([2, 3, 4])
    # Truth: in-transit fluxes are 3 % below what the same frame would give without it.
    without = truth_flux / np.array(variability)
    assert without[into] == pytest.approx(without[out].mean(), rel=0.02)
    # Pixels: the measured in/out ratio over the truth's transit-free ratio is 1 - depth.
    ratio = (measured[into].sum() / without[into].sum()) / (
        measured[out].sum() / without[out].sum()
    )
    sigma = np.sqrt(
        noise[into] @ noise[into] / measured[into].sum() ** 2
        + noise[out] @ noise[out] / measured[out].sum() ** 2
    )
    assert 1 - ratio == pytest.approx(0.03, abs=3 * sigma)
    assert 0.03 / sigma > 5  # the transit is clearly visible in the pixels
