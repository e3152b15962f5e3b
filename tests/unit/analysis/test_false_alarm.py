"""False-alarm copies and thresholds: what the copies keep, and the percentile's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.analysis.false_alarm import (
    false_alarm_probability,
    phase_surrogates,
    segment_shifts,
    stop_count,
    threshold,
)

RUNS = [slice(0, 64), slice(64, 135), slice(135, 137), slice(137, 200)]  # even, odd, tiny, odd


def _red_light_curve(seed, n=200):
    """Three runs with their own levels, noise levels and a red (AR(1)) component."""
    rng = np.random.default_rng(seed)
    flux = np.empty(n)
    err = np.empty(n)
    for k, part in enumerate(RUNS):
        size = part.stop - part.start
        sigma = 0.002 * (k + 1)
        red = np.zeros(size)
        for i in range(1, size):
            red[i] = 0.9 * red[i - 1] + rng.normal(0, sigma)
        flux[part] = 1.0 + 0.01 * k + rng.normal(0, sigma, size) + red
        err[part] = sigma
    return flux, err


def _whitened(values, weight, mean):
    return (values - mean) * np.sqrt(weight)


def test_phase_surrogates_keep_each_runs_whitened_amplitude_spectrum_and_mean():
    flux, err = _red_light_curve(1)
    weight = 1 / err**2
    copies = phase_surrogates(flux, weight, RUNS, 50, np.random.default_rng(2))
    assert copies.shape == (50, flux.size)
    for part in RUNS:
        w = weight[part]
        mean = np.sum(w * flux[part]) / np.sum(w)
        if part.stop - part.start < 3:
            assert np.all(copies[:, part] == flux[part])  # too short to randomise
            continue
        data_spectrum = np.abs(np.fft.rfft(_whitened(flux[part], w, mean)))
        copy_spectra = np.abs(np.fft.rfft(_whitened(copies[:, part], w, mean), axis=1))
        scale = data_spectrum.max()
        np.testing.assert_allclose(
            copy_spectra, data_spectrum[None] * np.ones((50, 1)), rtol=1e-9, atol=1e-9 * scale
        )
        # The weighted mean is the run's own (constant weights within a run).
        np.testing.assert_allclose(copies[:, part] @ w / w.sum(), mean, rtol=0, atol=1e-12)
        # The copies differ from the data and from each other: the phases were drawn.
        assert not np.allclose(copies[0, part], flux[part])
        assert not np.allclose(copies[0, part], copies[1, part])


def test_phase_surrogates_never_mix_runs():
    flux, err = _red_light_curve(3)
    weight = 1 / err**2
    first = phase_surrogates(flux, weight, RUNS, 20, np.random.default_rng(4))
    other = flux.copy()
    other[RUNS[1]] = 50.0 + 10 * np.random.default_rng(5).normal(size=71)  # another run 2
    second = phase_surrogates(other, weight, RUNS, 20, np.random.default_rng(4))
    for part in (RUNS[0], RUNS[2], RUNS[3]):
        np.testing.assert_array_equal(first[:, part], second[:, part])
    # Each run's copies stay at that run's level, far from the other runs'.
    assert np.all(np.abs(second[:, RUNS[0]] - 1.0) < 0.1)
    np.testing.assert_allclose(second[:, RUNS[1]].mean(axis=1), other[RUNS[1]].mean())


def test_phase_surrogates_scale_to_the_datas_power():
    flux, err = _red_light_curve(6)
    weight = 1 / err**2
    residual = flux.copy()
    residual[10:30] += 0.05  # the residual is not the data: a model was taken out
    copies = phase_surrogates(residual, weight, RUNS, 10, np.random.default_rng(7), power_of=flux)
    for part in (RUNS[0], RUNS[1], RUNS[3]):
        w = weight[part]
        target = _whitened(flux[part], w, np.sum(w * flux[part]) / w.sum())
        mean = np.sum(w * residual[part]) / w.sum()
        power = np.sum(_whitened(copies[:, part], w, mean) ** 2, axis=1)
        np.testing.assert_allclose(power, np.sum(target**2), rtol=1e-9)


def test_phase_surrogates_keep_a_positive_whitened_mean():
    # Unequal errors, the large-error points high: the whitened residuals' sum is positive
    # and the zero-frequency term is kept as it is.
    rng = np.random.default_rng(0)
    err = rng.uniform(0.001, 0.01, 50)
    weight = 1 / err**2
    flux = 1.0 + rng.normal(0, 1, 50) * err + 0.01 * (err > 0.005)
    mean = np.sum(weight * flux) / weight.sum()
    whitened_sum = np.sum(_whitened(flux, weight, mean))
    assert whitened_sum > 5
    copies = phase_surrogates(flux, weight, [slice(0, 50)], 5, np.random.default_rng(1))
    np.testing.assert_allclose(
        np.sum(_whitened(copies, weight, mean), axis=1), whitened_sum, rtol=1e-9
    )


def test_phase_surrogates_keep_the_sign_of_the_whitened_mean():
    # Unequal errors in one run, the large-error points low: the whitened residuals' sum is
    # negative. Phase randomisation leaves the zero-frequency term as it is (Theiler 1992);
    # here it comes back with the opposite sign, so the copies put the large-error points high.
    rng = np.random.default_rng(0)
    err = rng.uniform(0.001, 0.01, 50)
    weight = 1 / err**2
    flux = 1.0 + rng.normal(0, 1, 50) * err - 0.01 * (err > 0.005)
    mean = np.sum(weight * flux) / weight.sum()
    whitened_sum = np.sum(_whitened(flux, weight, mean))
    assert whitened_sum < -5
    copies = phase_surrogates(flux, weight, [slice(0, 50)], 5, np.random.default_rng(1))
    np.testing.assert_allclose(
        np.sum(_whitened(copies, weight, mean), axis=1), whitened_sum, rtol=1e-9
    )


def test_segment_shifts_keep_each_runs_values_and_move_errors_with_their_points():
    rng = np.random.default_rng(8)
    flux = rng.normal(1.0, 0.01, 200)
    err = rng.uniform(0.001, 0.01, 200)
    before = (flux.copy(), err.copy())
    copies = list(segment_shifts(flux, err, RUNS, 30, np.random.default_rng(9)))
    assert len(copies) == 30
    shifts_seen = set()
    for new_flux, new_err in copies:
        for part in RUNS:
            n = part.stop - part.start
            pairs = sorted(zip(flux[part], err[part], strict=True))
            assert sorted(zip(new_flux[part], new_err[part], strict=True)) == pairs
            # A circular shift by 1..n-1 of the run's own points.
            shift = [
                s for s in range(1, n) if np.array_equal(np.roll(flux[part], s), new_flux[part])
            ]
            assert len(shift) == 1
            assert np.array_equal(np.roll(err[part], shift[0]), new_err[part])
            shifts_seen.add((part.start, shift[0]))
    assert len({s for s in shifts_seen if s[0] == 0}) > 10  # the shifts are drawn
    # The input is not changed.
    assert np.array_equal(flux, before[0]) and np.array_equal(err, before[1])


def test_threshold_is_the_higher_percentile():
    rng = np.random.default_rng(10)
    peaks = rng.permutation(rng.normal(5.0, 1.0, 299))
    third_highest = np.sort(peaks)[-3]
    assert threshold(peaks) == third_highest
    assert threshold(np.r_[peaks, np.nan, np.nan]) == third_highest  # copies not run
    assert threshold(np.arange(101.0), 95.0) == 95.0
    assert threshold(np.arange(10.0), 50.0) == 5.0  # 'higher': not 4.5
    assert np.isnan(threshold(np.array([np.nan, np.nan])))
    assert np.isnan(threshold(np.array([])))


def test_false_alarm_probability_counts_copies_at_or_above():
    peaks = np.array([1.0, 2.0, 3.0, 3.0, np.nan, 5.0])
    assert false_alarm_probability(3.0, peaks) == pytest.approx((1 + 3) / (1 + 5))
    assert false_alarm_probability(9.0, peaks) == pytest.approx(1 / 6)
    assert false_alarm_probability(0.0, peaks) == pytest.approx(1.0)
    assert false_alarm_probability(1.0, np.array([np.nan])) == 1.0


def test_stop_count():
    assert stop_count(299) == 3
    assert stop_count(299, 95.0) == 299 - 284
    assert stop_count(200) == 200 - 198
    assert stop_count(1000, 99.9) == 1
    # When the percentile's rank is a whole number it is that rank (not one above).
    assert stop_count(101, 99.0) == 101 - 99
    assert stop_count(11, 90.0) == 11 - 9


@pytest.mark.parametrize(("copies", "percentile"), [(299, 99.0), (200, 99.0), (500, 95.0)])
def test_early_stop_gives_the_decision_of_all_copies(copies, percentile):
    rng = np.random.default_rng(copies)
    needed = stop_count(copies, percentile)
    stopped_early = 0
    for _ in range(3000):
        peaks = rng.normal(0.0, 1.0, copies)
        statistic = float(rng.choice([rng.normal(2.3, 0.5), rng.normal(0.0, 1.0)]))
        run = np.full(copies, np.nan)
        reached = 0
        for i, value in enumerate(peaks):  # as periodic_scan runs its copies
            run[i] = value
            if value >= statistic:
                reached += 1
                if reached >= needed:
                    break
        stopped_early += int(np.isnan(run).any())
        all_copies = statistic > threshold(peaks, percentile)
        assert (statistic > threshold(run, percentile)) == all_copies
        # One copy fewer reaching the statistic would not settle it.
        if reached == needed - 1 and not np.isnan(run).any():
            assert all_copies
    assert stopped_early > 1000


def test_stop_count_is_the_fewest_that_settle():
    # needed - 1 copies at or above the statistic and the rest below: it is significant.
    cases = ((299, 99.0), (200, 99.0), (500, 95.0), (1000, 99.9), (101, 99.0), (11, 90.0))
    for copies, percentile in cases:
        needed = stop_count(copies, percentile)
        peaks = np.r_[np.full(needed - 1, 10.0), np.zeros(copies - needed + 1)]
        assert 5.0 > threshold(peaks, percentile)
        peaks = np.r_[np.full(needed, 10.0), np.zeros(copies - needed)]
        assert not 5.0 > threshold(peaks, percentile)
