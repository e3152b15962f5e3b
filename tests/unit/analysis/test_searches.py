"""The searches on simulated light curves with known truth: box, flare and BLS."""

from __future__ import annotations

import math

import numpy as np
import pytest

from panoptes_network.analysis.searches import (
    box_scan,
    cadence_s,
    flare_scan,
    flare_template,
    periodic_scan,
)

T0 = 1.7e9  # POSIX seconds
CADENCE = 120.0
SIGMA = 0.003  # white noise, relative flux
DAY = 86400.0


def _white(seed, n=200, sigma=SIGMA):
    rng = np.random.default_rng(seed)
    return T0 + CADENCE * np.arange(n), 1.0 + rng.normal(0.0, sigma, n), np.full(n, sigma)


def _box_truth_snr(n_in, n_out, depth, sigma=SIGMA):
    return depth / (sigma * math.sqrt(1.0 / n_in + 1.0 / n_out))


# --- cadence -----------------------------------------------------------------------------


def test_cadence_is_the_median_positive_step():
    assert cadence_s(np.array([0.0, 0.0, 120.0, 240.0, 240.0, 360.0, 5000.0])) == 120.0
    assert cadence_s(np.array([0.0, 0.0, 0.0, 0.0, 120.0, 240.0])) == 120.0  # repeats left out
    assert cadence_s(T0 + 135.0 * np.arange(50)) == pytest.approx(135.0)
    assert cadence_s(np.array([5.0])) == 0.0
    assert cadence_s(np.array([])) == 0.0
    assert cadence_s(np.array([7.0, 7.0, 7.0])) == 0.0


# --- single-event box scan -------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_box_scan_recovers_an_injected_dip(seed):
    time, flux, err = _white(seed)
    depth, k, first = 0.0025, 30, 80  # 60 min = 30 points at 120 s
    flux[first : first + k] -= depth
    truth_mid = 0.5 * (time[first] + time[first + k - 1])
    peaks, box = box_scan(time, flux[None], 1 / err**2, [slice(0, time.size)], (1800.0, 3600.0))
    assert box is not None and peaks.shape == (1,)
    assert abs(box.time_s - truth_mid) <= CADENCE
    assert abs(box.depth - depth) <= 3 * box.depth_err
    assert box.statistic == pytest.approx(box.depth / box.depth_err, rel=1e-12)
    assert peaks[0] == pytest.approx(box.statistic, rel=1e-12)
    # The white-noise error of the depth is the truth's, and the statistic near the truth's SNR.
    assert box.depth_err == pytest.approx(SIGMA * math.sqrt(1 / k + 1 / (200 - k)), rel=0.02)
    assert abs(box.statistic - _box_truth_snr(k, 200 - k, depth)) < 3.5
    assert box.duration_s == 3600.0 and box.stop - box.start == 30


def test_box_scan_depth_and_error_by_hand():
    # Weighted means: outside minus inside, error sqrt(1/W_in + 1/W_out).
    time = T0 + 60.0 * np.arange(10)
    flux = np.array([1.0, 1.0, 1.0, 0.9, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0])
    weight = np.array([1.0, 2.0, 1.0, 4.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    peaks, box = box_scan(time, flux[None], weight, [slice(0, 10)], (120.0,))
    assert (box.start, box.stop) == (3, 5)
    assert box.depth == pytest.approx(0.1)
    assert box.depth_err == pytest.approx(math.sqrt(1 / 8 + 1 / 9))  # W_out = 1+2+1+5
    assert box.time_s == pytest.approx(time[3] + 30.0)
    assert peaks[0] == pytest.approx(0.1 / math.sqrt(1 / 8 + 1 / 9))


def test_box_scan_copies_axis_equals_single_row_calls():
    time, flux, err = _white(11, n=150)
    rng = np.random.default_rng(12)
    copies = np.vstack([flux, 1.0 + rng.normal(0, SIGMA, (5, flux.size))])
    copies[3, 40:70] -= 0.004
    slices = [slice(0, 60), slice(60, 150)]
    durations = (1800.0, 3600.0, 7200.0)
    peaks, box = box_scan(time, copies, 1 / err**2, slices, durations)
    for row in range(copies.shape[0]):
        single, single_box = box_scan(time, copies[row], 1 / err**2, slices, durations)
        assert single.shape == (1,)
        assert peaks[row] == pytest.approx(single[0], rel=1e-12)
        if row == 0:
            assert single_box == box
    assert np.argmax(peaks) == 3


def test_box_windows_never_span_a_long_gap():
    # One run with a 40-cadence gap; the three points on each side of it are 1 % low. A box
    # of six points across the gap would be the deepest, but it spans the gap.
    time = T0 + CADENCE * np.r_[np.arange(50), np.arange(90, 140)]
    flux = np.ones(time.size)
    flux[47:53] -= 0.01
    rng = np.random.default_rng(3)
    flux += rng.normal(0, 1e-4, time.size)
    weight = np.full(time.size, 1e8)
    peaks, box = box_scan(time, flux[None], weight, [slice(0, time.size)], (360.0, 720.0))
    assert time[box.stop - 1] - time[box.start] <= box.duration_s + CADENCE
    assert box.stop <= 50 or box.start >= 50
    # A run with no window short enough: no box at all.
    sparse = T0 + 10 * CADENCE * np.arange(20)
    none_peaks, none_box = box_scan(
        sparse, np.ones((2, 20)), np.ones(20), [slice(0, 20)], (0.5 * CADENCE,)
    )
    assert none_box is None and np.all(none_peaks == -np.inf)


def test_box_scan_keeps_to_each_segment():
    # Two runs; a dip at the end of the first and the start of the second is not one box.
    time = np.r_[T0 + CADENCE * np.arange(60), T0 + DAY + CADENCE * np.arange(60)]
    flux = 1.0 + np.random.default_rng(4).normal(0, 1e-4, 120)
    flux[55:65] -= 0.01
    _, box = box_scan(
        time, flux[None], np.full(120, 1e8), [slice(0, 60), slice(60, 120)], (1200.0,)
    )
    assert box.stop <= 60 or box.start >= 60
    assert box.stop - box.start == 10


# --- flares ---------------------------------------------------------------------------


def test_flare_template_shape():
    shape, peak = flare_template(60.0, 150.0, 240.0)
    assert peak == 3 and shape.size == 3 + 16 + 1
    assert shape[peak] == 1.0
    np.testing.assert_allclose(shape[:peak], [0.0, 0.2, 0.6])  # linear rise, clipped at 0
    np.testing.assert_allclose(shape[peak:], np.exp(-60.0 * np.arange(17) / 240.0))
    assert shape[-1] == pytest.approx(math.exp(-4.0))  # four decay times after the peak
    shape, peak = flare_template(120.0, 240.0, 480.0)
    assert peak == 2 and np.diff(shape[: peak + 1]).tolist() == [0.5, 0.5]
    shape, peak = flare_template(120.0, 0.0, 10.0)
    assert peak == 0 and shape.size == 2 and shape[0] == 1.0


def _flare_curve(time, peak_time, amplitude, rise, decay):
    dt = time - peak_time
    return np.where(
        dt < 0, amplitude * np.clip(1 + dt / rise, 0, 1), amplitude * np.exp(-dt / decay)
    )


@pytest.mark.parametrize("seed", range(5))
def test_flare_scan_recovers_a_flare(seed):
    time, flux, err = _white(100 + seed)
    rise, decay = 240.0, 960.0
    shape, at = flare_template(CADENCE, rise, decay)
    amplitude = 15.0 * SIGMA / math.sqrt(np.sum(shape**2))  # matched-filter SNR 15
    peak_index = 90
    flux += _flare_curve(time, time[peak_index], amplitude, rise, decay)
    peaks, flare = flare_scan(
        time, flux[None], 1 / err**2, [slice(0, time.size)], rise, (480.0, 960.0, 1920.0)
    )
    assert abs(flare.time_s - time[peak_index]) <= CADENCE
    assert abs(flare.amplitude - amplitude) <= 3 * flare.amplitude_err
    assert flare.amplitude_err == pytest.approx(SIGMA / math.sqrt(np.sum(shape**2)), rel=0.2)
    assert flare.statistic == pytest.approx(flare.amplitude / flare.amplitude_err, rel=1e-9)
    assert peaks[0] == pytest.approx(flare.statistic) and 10 < flare.statistic < 20
    assert flare.start <= peak_index < flare.stop
    assert flare.duration_s == rise + 3 * flare.decay_s


def test_flare_scan_copies_axis_equals_single_row_calls():
    time, flux, err = _white(21, n=120)
    rng = np.random.default_rng(22)
    copies = np.vstack([flux, 1.0 + rng.normal(0, SIGMA, (4, flux.size))])
    copies[2] += _flare_curve(time, time[70], 0.02, 120.0, 480.0)
    slices = [slice(0, 50), slice(50, 120)]
    peaks, flare = flare_scan(time, copies, 1 / err**2, slices, 120.0, (240.0, 480.0))
    for row in range(copies.shape[0]):
        single, single_flare = flare_scan(
            time, copies[row], 1 / err**2, slices, 120.0, (240.0, 480.0)
        )
        assert peaks[row] == pytest.approx(single[0], rel=1e-12)
        if row == 0:
            assert single_flare == flare
    assert np.argmax(peaks) == 2


def test_scans_measure_from_each_runs_own_level():
    # A run 5 % brighter than the other (another unit's zero point): the same events found.
    time, flux, err = _white(31, n=160)
    flux += _flare_curve(time, time[40], 0.02, 120.0, 480.0)
    flux[100:120] -= 0.005
    runs = [slice(0, 80), slice(80, 160)]
    offset = flux + np.r_[np.full(80, 0.05), np.full(80, -0.03)]
    w = 1 / err**2
    for scan, args in ((flare_scan, (120.0, (240.0, 480.0))), (box_scan, ((1800.0, 2400.0),))):
        peaks, event = scan(time, flux[None], w, runs, *args)
        moved_peaks, moved = scan(time, offset[None], w, runs, *args)
        assert moved_peaks[0] == pytest.approx(peaks[0], rel=1e-9)
        assert (moved.start, moved.stop, moved.time_s) == (event.start, event.stop, event.time_s)
    assert moved.start >= 100 - 3 and moved.stop <= 120 + 3


# --- periodic search (BLS) -----------------------------------------------------------------


def _eight_nights(seed, *, depth=0.004, period=0.83 * DAY, epoch=T0 + 1.5 * 3600.0):
    """Eight 6-hour nights at 120 s; a box transit of 90 min, three transits covered."""
    rng = np.random.default_rng(seed)
    time = np.concatenate([T0 + night * DAY + CADENCE * np.arange(180) for night in range(8)])
    phase = ((time - epoch + period / 2) % period) - period / 2
    inside = np.abs(phase) < 2700.0
    flux = 1.0 + rng.normal(0, SIGMA, time.size) - depth * inside
    return time, flux, np.full(time.size, SIGMA), inside, np.round((time - epoch) / period)


def test_periodic_scan_finds_an_injected_period():
    period, epoch = 0.83 * DAY, T0 + 1.5 * 3600.0
    time, flux, err, inside, cycle = _eight_nights(5, period=period, epoch=epoch)
    covered = np.unique(cycle[inside]).size
    assert covered >= 3
    peaks, solution = periodic_scan(
        time, [(flux, err)], 1, (3600.0, 5400.0, 7200.0), 0.4 * DAY, 15 * DAY, max_periods=3000
    )
    assert solution.period_s == pytest.approx(period, rel=0.01)
    assert solution.events >= 3
    assert solution.depth == pytest.approx(0.004, abs=3 * solution.depth_err)
    assert peaks[0] == solution.statistic and solution.statistic > 7
    offset = ((solution.time_s - epoch + period / 2) % period) - period / 2
    assert abs(offset) < solution.duration_s / 2
    assert time.min() - solution.duration_s / 2 <= solution.time_s <= time.max()


def test_periodic_scan_stops_early_once_enough_copies_reach_the_data():
    time, flux, err, _, _ = _eight_nights(6)
    rng = np.random.default_rng(7)
    noise = [(1.0 + rng.normal(0, SIGMA, time.size), err) for _ in range(8)]
    grid = ((3600.0, 5400.0), 0.4 * DAY, 15 * DAY)
    data_peak, _ = periodic_scan(time, [(flux, err)], 1, *grid, max_periods=300)
    stop = {"stop_above": float(data_peak[0]), "stop_count": 3, "max_periods": 300}
    # Noise copies never reach the transit's peak: every copy runs.
    peaks, solution = periodic_scan(time, noise, 8, *grid, solve=False, **stop)
    assert solution is None  # copies: peaks only
    assert np.all(np.isfinite(peaks)) and np.all(peaks < data_peak[0])
    # Copies equal to the data reach it: after the third, none is made or run.
    made = []

    def copies():
        for pair in [*noise[:2], *[(flux.copy(), err)] * 6]:
            made.append(pair)
            yield pair

    peaks, _ = periodic_scan(time, copies(), 8, *grid, solve=False, **stop)
    assert len(made) == 5
    assert np.all(np.isfinite(peaks[:5])) and np.all(np.isnan(peaks[5:]))
    assert peaks[2:5].tolist() == [data_peak[0]] * 3
    # Without stop_count it never stops.
    peaks, _ = periodic_scan(
        time, [(flux, err)] * 6, 6, *grid, max_periods=300, stop_above=float(data_peak[0])
    )
    assert np.all(peaks == data_peak[0])


def test_periodic_scan_needs_a_span_of_two_periods():
    time, flux, err = _white(8, n=150)  # five hours
    pair = (flux, err)
    peaks, solution = periodic_scan(time, [pair, pair], 2, (3600.0,), 0.4 * DAY, 15 * DAY)
    assert solution is None and peaks.tolist() == [-np.inf, -np.inf]
    _, solution = periodic_scan(time[:9], [(flux[:9], err[:9])], 1, (600.0,), 60.0, 600.0)
    assert solution is None
    _, solution = periodic_scan(time, [pair], 1, (480.0,), 1200.0, 6000.0)
    assert solution is not None  # ten points or more, two periods in the span: it runs
    assert 1200.0 <= solution.period_s <= 6000.0
    # No duration shorter than half the shortest period: nothing to search.
    time, flux, err, _, _ = _eight_nights(9)
    _, solution = periodic_scan(time, [(flux, err)], 1, (3600.0,), 7000.0, 15 * DAY)
    assert solution is None
