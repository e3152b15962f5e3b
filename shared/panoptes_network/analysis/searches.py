"""The searches: a blind single-event box scan, a rise-and-decay flare scan, and BLS.

Each search returns a peak statistic, and the same search runs on the false-alarm copies of the
data (:mod:`.false_alarm`), so each scan takes a stack of copies, shape ``(copies, points)``,
the first the data itself, and returns the peak of every copy. The light curve is a star's
normalised differential flux (:class:`~.star_points.StarPoints`: relative flux, median 1 per
run), weighted by ``w = 1 / flux_err**2``; times are POSIX seconds.

- :func:`box_scan` (transit-like dips, one event): within each segment (a run), every window of
  ``k`` consecutive points, for each duration ``D`` of the grid (``k = D / cadence``; windows
  that span a gap longer than ``D`` are left out). The depth is the weighted mean outside the
  window minus the one inside, its error ``sqrt(1 / W_in + 1 / W_out)``; the statistic is
  depth over error (the box's signal-to-noise ratio for white noise).
- :func:`flare_scan`: a matched filter for a linear rise over ``rise`` minutes then an
  exponential decay of time constant ``tau`` (each of a grid), centred on every point in turn:
  amplitude ``A = sum(w s x) / sum(w s**2)`` and statistic ``sum(w s x) / sqrt(sum(w s**2))``
  (``x`` the flux over the segment's weighted median, ``s`` the template).
- :func:`periodic_scan`: the box least squares periodogram of astropy
  (:class:`astropy.timeseries.BoxLeastSquares`, objective ``likelihood``) over all the star's
  points, across observations; the statistic is the peak power's signal-to-noise ratio of the
  depth (``depth_snr``), and the solution covers at least two transits with points in them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "BoxPeak",
    "FlarePeak",
    "PeriodicPeak",
    "box_scan",
    "cadence_s",
    "flare_scan",
    "flare_template",
    "periodic_scan",
]


def cadence_s(time: np.ndarray) -> float:
    """Return the median interval between consecutive times, in seconds (0 for < 2 times)."""
    steps = np.diff(np.asarray(time, dtype=float))
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 0.0


@dataclass(frozen=True)
class BoxPeak:
    """The best box of a single-event scan.

    Attributes
    ----------
    statistic : float
        Depth over its error.
    time_s : float
        Mid-time of the window, POSIX seconds.
    duration_s : float
        The grid duration searched, seconds.
    depth, depth_err : float
        Fractional depth and its white-noise error.
    start, stop : int
        The window's points, ``[start, stop)`` in the star's points.
    """

    statistic: float
    time_s: float
    duration_s: float
    depth: float
    depth_err: float
    start: int
    stop: int


def box_scan(
    time: np.ndarray,
    copies: np.ndarray,
    weight: np.ndarray,
    slices: list[slice],
    durations_s: tuple[float, ...],
) -> tuple[np.ndarray, BoxPeak | None]:
    """Scan every copy for its deepest box; return each copy's peak, and the first's box.

    Parameters
    ----------
    time : numpy.ndarray
        Times of the points, seconds, shape (n,).
    copies : numpy.ndarray
        Relative fluxes, shape (c, n): the data first, then its false-alarm copies.
    weight : numpy.ndarray
        Inverse variances, shape (n,) (the same for every copy).
    slices : list of slice
        The segments (points of one run each).
    durations_s : tuple of float
        Box durations, seconds.

    Returns
    -------
    (numpy.ndarray, BoxPeak or None)
        The peak statistic of each copy (``-inf`` when no window fits), and the first copy's
        best box (None when no window fits).
    """
    copies = np.atleast_2d(np.asarray(copies, dtype=float))
    peaks = np.full(copies.shape[0], -np.inf)
    best: tuple[float, int, int, float, float, float] | None = None
    for part in slices:
        t, w, x = time[part], weight[part], copies[:, part]
        n = t.size
        cadence = cadence_s(t)
        if n < 4 or cadence <= 0:
            continue
        cw = np.r_[0.0, np.cumsum(w)]
        cwx = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(w * x, axis=1)], axis=1)
        total_w, total_wx = cw[-1], cwx[:, -1:]
        for duration in durations_s:
            k = int(round(duration / cadence))
            if k < 2 or k > n - 2:
                continue
            start = np.arange(n - k + 1)
            span = t[start + k - 1] - t[start]
            ok = span <= duration + cadence
            if not ok.any():
                continue
            start = start[ok]
            w_in = cw[start + k] - cw[start]
            wx_in = cwx[:, start + k] - cwx[:, start]
            w_out = total_w - w_in
            depth = (total_wx - wx_in) / w_out - wx_in / w_in
            err = np.sqrt(1.0 / w_in + 1.0 / w_out)
            snr = depth / err
            top = np.argmax(snr, axis=1)
            values = snr[np.arange(snr.shape[0]), top]
            peaks = np.maximum(peaks, values)
            if best is None or values[0] > best[0]:
                i = int(start[top[0]])
                begin = part.start + i
                best = (
                    float(values[0]),
                    begin,
                    begin + k,
                    float(duration),
                    float(depth[0, top[0]]),
                    float(err[top[0]]),
                )
    if best is None:
        return peaks, None
    statistic, begin, stop, duration, depth, err = best
    mid = 0.5 * (time[begin] + time[stop - 1])
    return peaks, BoxPeak(statistic, float(mid), duration, depth, err, begin, stop)


def flare_template(cadence: float, rise_s: float, decay_s: float) -> tuple[np.ndarray, int]:
    """Return a flare's shape sampled at the cadence, and the index of its peak.

    Parameters
    ----------
    cadence : float
        Seconds between points.
    rise_s, decay_s : float
        Linear rise time and exponential decay time constant, seconds.

    Returns
    -------
    (numpy.ndarray, int)
        The template (1 at the peak), reaching four decay times after it, and the peak's index.
    """
    before = int(math.ceil(rise_s / cadence))
    after = max(1, int(math.ceil(4.0 * decay_s / cadence)))
    offsets = np.arange(-before, after + 1) * cadence
    shape = np.where(
        offsets < 0,
        np.clip(1.0 + offsets / max(rise_s, 1e-9), 0.0, 1.0),
        np.exp(-offsets / decay_s),
    )
    return shape, before


@dataclass(frozen=True)
class FlarePeak:
    """The best flare of a scan.

    Attributes
    ----------
    statistic : float
        The matched filter's signal-to-noise ratio.
    time_s : float
        The peak's time, POSIX seconds (the point the template peaks on).
    rise_s, decay_s : float
        The template's rise and decay time constant, seconds.
    amplitude, amplitude_err : float
        Fractional amplitude at the peak and its white-noise error.
    start, stop : int
        The template's points, ``[start, stop)`` in the star's points.
    """

    statistic: float
    time_s: float
    rise_s: float
    decay_s: float
    amplitude: float
    amplitude_err: float
    start: int
    stop: int

    @property
    def duration_s(self) -> float:
        """Rise plus three decay times, seconds."""
        return self.rise_s + 3.0 * self.decay_s


def flare_scan(
    time: np.ndarray,
    copies: np.ndarray,
    weight: np.ndarray,
    slices: list[slice],
    rise_s: float,
    decays_s: tuple[float, ...],
) -> tuple[np.ndarray, FlarePeak | None]:
    """Scan every copy for its strongest flare; return each copy's peak, and the first's flare.

    Parameters
    ----------
    time, copies, weight, slices
        As for :func:`box_scan` (``copies`` relative fluxes).
    rise_s : float
        Rise time, seconds.
    decays_s : tuple of float
        Decay time constants, seconds.

    Returns
    -------
    (numpy.ndarray, FlarePeak or None)
        The peak statistic of each copy, and the first copy's best flare.
    """
    copies = np.atleast_2d(np.asarray(copies, dtype=float))
    peaks = np.full(copies.shape[0], -np.inf)
    best: FlarePeak | None = None
    for part in slices:
        t, w = time[part], weight[part]
        n = t.size
        cadence = cadence_s(t)
        if n < 6 or cadence <= 0:
            continue
        x = copies[:, part] - _weighted_median(copies[:, part], w)[:, None]
        for decay in decays_s:
            shape, peak = flare_template(cadence, rise_s, decay)
            size = shape.size
            if size > n:
                continue
            pad_before, pad_after = peak, size - peak - 1
            wp = np.pad(w, (pad_before, pad_after))
            xp = np.pad(x, ((0, 0), (pad_before, pad_after)))
            w_windows = sliding_window_view(wp, size)  # (n, size)
            wx_windows = sliding_window_view(xp * wp, size, axis=1)  # (c, n, size)
            numerator = wx_windows @ shape
            denominator = w_windows @ (shape * shape)
            good = denominator > 0
            snr = np.where(good, numerator / np.sqrt(np.where(good, denominator, 1.0)), -np.inf)
            top = np.argmax(snr, axis=1)
            values = snr[np.arange(snr.shape[0]), top]
            peaks = np.maximum(peaks, values)
            if best is None or values[0] > best.statistic:
                i = int(top[0])
                amplitude = float(numerator[0, i] / denominator[i])
                begin = part.start + max(0, i - peak)
                stop = part.start + min(n, i - peak + size)
                best = FlarePeak(
                    float(values[0]),
                    float(t[i]),
                    float(rise_s),
                    float(decay),
                    amplitude,
                    float(1.0 / math.sqrt(denominator[i])),
                    begin,
                    stop,
                )
    return peaks, best


def _weighted_median(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Return the weighted median of each row of ``values``."""
    order = np.argsort(values, axis=1)
    sorted_w = weight[order]
    cumulative = np.cumsum(sorted_w, axis=1)
    half = 0.5 * cumulative[:, -1:]
    index = np.argmax(cumulative >= half, axis=1)
    return np.take_along_axis(values, order[np.arange(values.shape[0]), index][:, None], axis=1)[
        :, 0
    ]


@dataclass(frozen=True)
class PeriodicPeak:
    """The best periodic box of a BLS search.

    Attributes
    ----------
    statistic : float
        Depth over its error at the peak (BLS ``depth_snr``).
    period_s, time_s, duration_s : float
        Period, a mid-transit time within the data (POSIX seconds) and duration, seconds.
    depth, depth_err : float
        Fractional depth and its error.
    events : int
        Transits of the solution with points in them.
    """

    statistic: float
    period_s: float
    time_s: float
    duration_s: float
    depth: float
    depth_err: float
    events: int


def _bls_peak(t_days, flux, err, periods, durations_days):
    from astropy.timeseries import BoxLeastSquares

    result = BoxLeastSquares(t_days, flux, dy=err).power(
        periods, durations_days, objective="likelihood"
    )
    snr = np.nan_to_num(np.asarray(result.depth_snr, dtype=float), nan=-np.inf)
    return snr, result


def periodic_scan(
    time: np.ndarray,
    copies: Iterable[tuple[np.ndarray, np.ndarray]],
    count: int,
    durations_s: tuple[float, ...],
    min_period_s: float,
    max_period_s: float,
    *,
    max_periods: int = 4000,
    stop_above: float | None = None,
    stop_count: int | None = None,
    solve: bool = True,
) -> tuple[np.ndarray, PeriodicPeak | None]:
    """Run BLS on the data and its copies; return each copy's peak, and the data's solution.

    Parameters
    ----------
    time : numpy.ndarray
        Times, seconds.
    copies : iterable of (numpy.ndarray, numpy.ndarray)
        Relative fluxes and their errors: the data first, then the copies (made as they are
        asked for).
    count : int
        How many ``copies`` gives (the data included).
    durations_s : tuple of float
        Box durations, seconds.
    min_period_s, max_period_s : float
        Period range, seconds (``max`` is capped at half the time span).
    max_periods : int
        Most trial periods (uniform in frequency).
    stop_above, stop_count : float and int, optional
        Stop running copies once ``stop_count`` of them reach ``stop_above`` (the data's
        statistic: the decision "above the percentile" is then already made); the copies not
        run are NaN.
    solve : bool
        Return the first series' solution (False for false-alarm copies: peaks only).

    Returns
    -------
    (numpy.ndarray, PeriodicPeak or None)
        Each copy's peak ``depth_snr`` (``-inf`` when no period fits), and the data's solution
        (None when the span allows no period of two transits).
    """
    time = np.asarray(time, dtype=float)
    peaks = np.full(count, np.nan)
    span = float(time.max() - time.min()) if time.size else 0.0
    top_period = min(max_period_s, span / 2.0)
    durations = tuple(d for d in durations_s if d < 0.5 * min_period_s)
    if time.size < 10 or top_period <= min_period_s or not durations:
        return np.full(count, -np.inf), None
    frequencies = np.linspace(1.0 / top_period, 1.0 / min_period_s, max_periods)
    periods = np.sort(1.0 / frequencies) / 86400.0
    t_days = (time - time.min()) / 86400.0
    durations_days = np.asarray(durations) / 86400.0
    solution: PeriodicPeak | None = None
    reached = 0
    for index, (flux, err) in enumerate(copies):
        snr, result = _bls_peak(t_days, flux, err, periods, durations_days)
        top = int(np.argmax(snr))
        peaks[index] = snr[top]
        if index == 0 and solve:
            period = float(result.period[top])
            epoch = float(result.transit_time[top])
            duration = float(result.duration[top])
            phase = np.abs(((t_days - epoch + 0.5 * period) % period) - 0.5 * period)
            cycles = np.round((t_days - epoch) / period)
            events = int(np.unique(cycles[phase < 0.5 * duration]).size)
            first = epoch + period * np.ceil((t_days.min() - epoch - 0.5 * duration) / period)
            solution = PeriodicPeak(
                float(snr[top]),
                period * 86400.0,
                float(time.min() + first * 86400.0),
                duration * 86400.0,
                float(result.depth[top]),
                float(result.depth_err[top]),
                events,
            )
        if stop_above is not None and stop_count is not None and peaks[index] >= stop_above:
            reached += 1
            if reached >= stop_count:
                break
    return peaks, solution
