"""Robust statistics: spikes are outliers, a coherent dip is not."""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.lightcurves.robust_stats import (
    isolated_outliers,
    nanmedian,
    running_median,
)


def noise(n_frames: int, n_stars: int, sigma: float, seed: int = 0) -> np.ndarray:
    return 1.0 + sigma * np.random.default_rng(seed).standard_normal((n_frames, n_stars))


def test_running_median_matches_a_loop_with_nan_and_ends():
    values = noise(30, 4, 0.01)
    values[[3, 4, 17], [0, 0, 2]] = np.nan
    got = running_median(values, 5)
    left_out = running_median(values, 5, include_centre=False)
    for i in range(30):
        window = values[max(i - 2, 0) : i + 3]
        np.testing.assert_allclose(got[i], np.nanmedian(window, axis=0), equal_nan=True)
        neighbours = np.delete(values[max(i - 2, 0) : i + 3], min(i, 2), axis=0)
        np.testing.assert_allclose(left_out[i], np.nanmedian(neighbours, axis=0), equal_nan=True)
    with pytest.raises(ValueError, match="odd"):
        running_median(values, 4)


def test_spikes_are_outliers():
    flux = noise(60, 50, 0.003, seed=1)
    spikes = [(10, 3), (11, 7), (40, 20), (59, 49), (0, 5)]
    for frame, star in spikes:
        flux[frame, star] += 0.05
    found = isolated_outliers(flux, 5.0)
    assert all(found[frame, star] for frame, star in spikes)
    assert found.sum() <= len(spikes) + 2


@pytest.mark.parametrize("length", [3, 4, 8, 30])
def test_a_coherent_dip_is_never_clipped(length):
    flux = noise(60, 20, 0.002, seed=length)
    flux[20 : 20 + length, :] *= 0.97  # 15 sigma deep
    found = isolated_outliers(flux, 5.0)
    assert not found[20 : 20 + length].any()


def test_a_two_point_dip_is_a_spike():
    flux = noise(60, 5, 0.002, seed=3)
    flux[20:22, 0] *= 0.97
    assert isolated_outliers(flux, 5.0)[20:22, 0].all()


def test_false_alarm_rate_on_white_noise():
    flux = noise(2000, 50, 0.004, seed=7)
    rate = isolated_outliers(flux, 5.0).mean()
    assert rate < 1e-4, rate


def test_nanmedian_is_numpy_median():
    values = noise(7, 9, 0.1)
    values[2, 3] = np.nan
    np.testing.assert_allclose(nanmedian(values, axis=0), np.nanmedian(values, axis=0))
