"""The theoretical photometric noise against hand values and a Monte Carlo of the detector.

Reference: a numpy Monte Carlo of the simulator's detector model written here (Poisson star
and sky, Gaussian read noise, rounding to whole ADU), measured with a plain aperture sum minus
the mean of separate sky pixels.
"""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.photometry.noise import (
    MAG_PER_RELATIVE_FLUX,
    theoretical_flux_error,
    theoretical_mag_error,
)


def test_hand_values():
    # 10000 e- star, 20 px, 300 e- sky, 10 e- read noise: 10000 + 20 * (300 + 100).
    assert theoretical_flux_error(10_000, 300, 20, 10.0) == pytest.approx(np.sqrt(18_000))
    # The background estimate from 80 pixels adds 20 / 80 of the sky-and-read variance.
    assert theoretical_flux_error(10_000, 300, 20, 10.0, 80) == pytest.approx(
        np.sqrt(10_000 + 8_000 * 1.25)
    )
    # Quantisation: gain^2 / 12 per pixel.
    assert theoretical_flux_error(0, 0, 12, 0.0, gain_e_per_adu=1.5) == pytest.approx(1.5)


def test_negative_flux_and_sky_add_no_shot_noise_and_arrays_broadcast():
    sigma = theoretical_flux_error(np.array([-50.0, 0.0, 100.0]), -3.0, 10, 2.0)
    assert sigma == pytest.approx(np.sqrt([40.0, 40.0, 140.0]))
    assert theoretical_flux_error(100.0, 10.0, 10, 1.0, 0) == np.inf


def test_magnitude_error_is_1_0857_times_the_relative_error():
    assert MAG_PER_RELATIVE_FLUX == pytest.approx(1.0857, abs=1e-4)
    flux = np.array([1e4, 1e5])
    expected = 1.0857362 * theoretical_flux_error(flux, 200, 30, 10.5, 150) / flux
    assert theoretical_mag_error(flux, 200, 30, 10.5, 150) == pytest.approx(expected, rel=1e-6)
    assert theoretical_mag_error(np.array([0.0, -5.0]), 200, 30, 10.5)[0] == np.inf


@pytest.mark.parametrize(("flux", "sky"), [(2_000.0, 300.0), (50_000.0, 150.0), (0.0, 200.0)])
def test_matches_a_monte_carlo_of_the_detector(flux, sky):
    rng = np.random.default_rng(1)
    trials, npix, n_sky = 20_000, 20, 100
    gain, read_noise, bias = 1.5, 10.5, 2048.0
    share = np.full(npix, flux / npix)

    def adu(electrons):
        noisy = rng.poisson(electrons) + rng.normal(0.0, read_noise, electrons.shape)
        return np.round(noisy / gain + bias)

    aperture = adu(np.broadcast_to(share + sky, (trials, npix)))
    sky_pixels = adu(np.full((trials, n_sky), sky))
    measured = (aperture.sum(axis=1) - npix * sky_pixels.mean(axis=1)) * gain
    expected = theoretical_flux_error(flux, sky, npix, read_noise, n_sky, gain_e_per_adu=gain)
    assert measured.mean() == pytest.approx(flux, abs=4 * expected / np.sqrt(trials))
    assert measured.std() == pytest.approx(expected, rel=0.03)  # 20000 trials: ~0.5 %
