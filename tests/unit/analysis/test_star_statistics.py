"""A star's statistics from exact sums: right on simulated truth, identical in any merge order."""

from __future__ import annotations

import random

import numpy as np
import pytest

from panoptes_network.analysis.star_statistics import star_statistics
from panoptes_network.analysis.star_sums import StarSums, run_star_sums

CADENCE_S = 128.0
START = 1.7e9  # POSIX seconds


def _run(seed, *, n=200, sigma=0.004, red=0.0, mean=10.0, offset=0.0, start=START, unit="PAN001"):
    """One observation's rows: white noise ``sigma`` plus a random walk of step ``red``."""
    rng = np.random.default_rng(seed)
    time = start + CADENCE_S * np.arange(n)
    walk = np.cumsum(rng.normal(0, red, n)) if red else np.zeros(n)
    mags = {}
    for c in ("r", "g", "b"):
        mags[f"mag_{c}"] = mean + offset + walk + rng.normal(0, sigma, n)
        mags[f"mag_err_{c}"] = np.full(n, sigma)
        mags[f"outlier_{c}"] = np.zeros(n, dtype=bool)
    run = f"{unit}_14d3bd_{seed:06d}/run{seed}"
    return run_star_sums(42, run, time, mags)


def test_white_noise_gives_photon_limited_figures():
    nights = [_run(s, start=START + 86400 * s) for s in range(1, 9)]
    stats = star_statistics(StarSums.merged(42, nights))
    g = stats["colours"]["g"]
    assert stats["n_points"] == 1600 and stats["n_observations"] == 8 and stats["n_units"] == 1
    assert g["mean_mag"] == pytest.approx(10.0, abs=3 * 0.004 / 40)
    assert g["rms"] == pytest.approx(0.004, rel=0.05)
    assert g["rms_over_floor"] == pytest.approx(1.0, rel=0.05)
    assert g["chi2_red"] == pytest.approx(1.0, abs=0.1)
    for width in (30, 60, 120):
        assert g[f"beta_{width}"] == pytest.approx(1.0, abs=0.25), width
    assert stats["quality"] == pytest.approx(1.0, abs=0.05)


def test_red_noise_and_variability_show():
    nights = [_run(s, red=0.002, start=START + 86400 * s) for s in range(1, 9)]
    g = star_statistics(StarSums.merged(42, nights))["colours"]["g"]
    assert g["beta_30"] > 2.0 and g["beta_120"] > g["beta_30"]
    assert g["rms_over_floor"] > 2.0 and g["chi2_red"] > 4.0
    # A star 0.05 mag fainter on one night: amplitude and chi-square see it, beta does not
    # (each night's mean is its own).
    steady = [_run(s, start=START + 86400 * s) for s in range(1, 5)]
    step = [*steady, _run(9, offset=0.05, start=START + 86400 * 9)]
    stats = star_statistics(StarSums.merged(42, step))["colours"]["g"]
    assert stats["amplitude"] == pytest.approx(0.05, abs=0.01)
    assert stats["chi2_red"] > 20 and stats["beta_60"] == pytest.approx(1.0, abs=0.3)


def test_merging_in_any_order_gives_the_same_document():
    runs = [_run(s, red=0.001, start=START + 86400 * s) for s in range(1, 13)]
    first = StarSums.merged(42, runs)
    shuffled = runs[:]
    random.Random(5).shuffle(shuffled)
    halves = StarSums.merged(42, shuffled[:5])
    halves.merge(StarSums.merged(42, shuffled[5:]))
    assert halves.to_record() == first.to_record()
    assert star_statistics(halves) == star_statistics(first)
    stored = StarSums.from_record(first.to_record())
    assert stored.to_record() == first.to_record()


def test_a_run_merged_twice_counts_once_and_another_star_is_refused():
    total = StarSums.merged(42, [_run(1)])
    again = StarSums.from_record(total.to_record())
    assert total.merge(_run(1)) is False
    assert total.to_record() == again.to_record()
    other = StarSums(7, ["PAN001_x_2/1"])
    with pytest.raises(ValueError, match="cannot merge star 7"):
        total.merge(other)


def test_outliers_and_missing_points_are_left_out_and_lower_the_quality():
    rng = np.random.default_rng(3)
    n = 100
    time = START + CADENCE_S * np.arange(n)
    mag = 10 + rng.normal(0, 0.004, n)
    mag[::10] = np.nan
    outlier = np.zeros(n, dtype=bool)
    outlier[5] = True
    mag[5] = 15.0
    cols = {"mag_g": mag, "mag_err_g": np.full(n, 0.004), "outlier_g": outlier}
    stats = star_statistics(run_star_sums(1, "PAN001_x_1/1", time, cols, colours=("g",)))
    g = stats["colours"]["g"]
    assert (g["n"], g["n_all"]) == (89, 100)
    assert g["rms"] == pytest.approx(0.004, rel=0.2)
    assert stats["quality"] == pytest.approx(0.89, abs=0.1)


def test_a_short_observation_gives_no_red_noise_factor():
    # 12 frames of 128 s: a single 30-minute bin or two, too few for beta.
    short = star_statistics(StarSums.merged(42, [_run(1, n=12)]))["colours"]["g"]
    assert short["beta_30"] is None and short["beta_120"] is None
    assert short["rms"] is not None


def test_one_bin_gives_no_amplitude_and_two_nights_do():
    one = star_statistics(StarSums.merged(42, [_run(1, n=12)]))["colours"]["g"]
    assert one["amplitude"] is None
    two = StarSums.merged(42, [_run(1, n=12), _run(2, n=12, offset=0.05, start=START + 86400)])
    assert star_statistics(two)["colours"]["g"]["amplitude"] == pytest.approx(0.05, abs=0.01)
