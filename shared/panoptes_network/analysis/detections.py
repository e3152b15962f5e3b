"""A star's detections: its three searches, each against its own false-alarm threshold.

:func:`search_star` runs on one star's points (:class:`~.star_points.StarPoints`, every run of
the star across units and cameras):

- the single-event box scan for transit-like dips (:func:`~.searches.box_scan`);
- the flare scan (:func:`~.searches.flare_scan`);
- the periodic search, BLS across observations (:func:`~.searches.periodic_scan`), when the
  points span at least two minimum periods; its solution must cover two transits or more.

Each search's peak is compared with the 99th percentile of the same search's peak over
``analysis.shifts`` copies of the star's data (:mod:`.false_alarm`), drawn from random numbers
seeded by the star and the search, so a star gives the same answer each time it is searched.
A search whose peak is above its threshold is a detection
(:attr:`SearchOutcome.significant`); every search's outcome is returned, significant or not
(injection-recovery needs to know what the search found either way).

The BLS copies stop early once enough of them reach the data's peak to settle that it is not
above the percentile (:func:`~.false_alarm.stop_count`): the decision is the same as with all
copies run, and a star with nothing there costs a few BLS runs instead of hundreds.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.false_alarm import (
    false_alarm_probability,
    phase_surrogates,
    segment_shifts,
    stop_count,
    threshold,
)
from panoptes_network.analysis.searches import (
    box_scan,
    cadence_s,
    flare_scan,
    flare_template,
    periodic_scan,
)
from panoptes_network.analysis.star_points import StarPoints

__all__ = ["SEARCHES", "SearchOutcome", "flare_profile", "search_star", "star_rng"]

#: Copies that size the noise alone before an event is clipped (:func:`_clipped`).
PILOT_COPIES = 99
#: An event stronger than this many times the noise's percentile is clipped to it.
CLIP_FACTOR = 2.0
#: The searches, by name: (search, kind of event).
SEARCHES: dict[str, str] = {"single-event": "transit", "periodic": "transit", "flare": "flare"}


@dataclass(frozen=True)
class SearchOutcome:
    """What one search found on one star (significant or not).

    Attributes
    ----------
    picid : int
        The star.
    search : str
        ``single-event``, ``periodic`` or ``flare``.
    statistic : float
        The data's peak statistic.
    threshold : float
        The copies' 99th percentile (NaN when no copy was run).
    copies : int
        Copies run (fewer than asked when the BLS stopped early).
    false_alarm_probability : float
        ``(1 + k) / (1 + copies)``.
    time_s, duration_s : float
        The event's mid-time (flare: peak) in POSIX seconds, and its duration in seconds.
    value, value_err : float
        Fractional depth (transits) or amplitude (flares), and its white-noise error.
    period_s : float or None
        The period (periodic search), seconds.
    events : int
        Transits of the periodic solution with points (1 for single events and flares).
    windows : tuple of (float, float)
        The event's time windows (POSIX seconds), one per transit for the periodic search.
    """

    picid: int
    search: str
    statistic: float
    threshold: float
    copies: int
    false_alarm_probability: float
    time_s: float
    duration_s: float
    value: float
    value_err: float
    period_s: float | None = None
    events: int = 1
    windows: tuple[tuple[float, float], ...] = ()

    @property
    def kind(self) -> str:
        """``transit`` or ``flare``."""
        return SEARCHES[self.search]

    @property
    def significant(self) -> bool:
        """True when the statistic is above the threshold."""
        return bool(np.isfinite(self.threshold) and self.statistic > self.threshold)

    @property
    def significance(self) -> float:
        """Statistic over threshold (above 1: significant)."""
        if not np.isfinite(self.threshold) or self.threshold <= 0:
            return float("nan")
        return float(self.statistic / self.threshold)

    @property
    def snr(self) -> float:
        """Depth (or amplitude) over its white-noise error."""
        return float(self.value / self.value_err) if self.value_err > 0 else float("nan")


def star_rng(picid: int, search: str, salt: str = "") -> np.random.Generator:
    """Return the random numbers of one star's search (the same star, the same numbers)."""
    return np.random.default_rng(
        [int(picid) & 0xFFFFFFFFFFFF, zlib.crc32(f"{search}{salt}".encode())]
    )


def _clipped(
    points: StarPoints,
    model: np.ndarray,
    statistic: float,
    scan,
    weight: np.ndarray,
    slices: list[slice],
    analysis: Analysis,
    rng: np.random.Generator,
) -> np.ndarray:
    """Return the light curve the false-alarm copies are drawn from: the event clipped.

    Phase-randomised copies keep the data's power spectrum, a strong event's power too, so
    copies of the data as it is would set a strong event's threshold by the event itself (the
    stronger the event, the higher its threshold). The event is therefore clipped: a first
    set of :data:`PILOT_COPIES` copies of the data with the whole event taken out gives the
    percentile the noise alone reaches, and ``t`` is :data:`CLIP_FACTOR` times that; an event
    above ``t`` keeps only the fraction ``t / statistic`` of itself. A signal-free star's
    peak is never twice what its own noise reaches (taking the peak out lowers the copies'
    percentile, by some 20 % at most), so its copies are those of its data as it is and the
    threshold holds its false-alarm rate; a strong event is left at twice the noise's largest
    excursion, where it stands out of its copies.
    """
    pilot, _ = scan(phase_surrogates(points.flux - model, weight, slices, PILOT_COPIES, rng))
    ceiling = CLIP_FACTOR * threshold(pilot, analysis.far_percentile)
    if not np.isfinite(ceiling) or statistic <= ceiling:
        return points.flux
    return points.flux - (1.0 - ceiling / statistic) * model


def flare_profile(
    points: StarPoints, slices: list[slice], peak_s: float, rise_s: float, decay_s: float
) -> np.ndarray:
    """Return a flare's shape at every point: 1 at the point nearest its peak, 0 outside.

    Parameters
    ----------
    points : StarPoints
        The star's points.
    slices : list of slice
        Its runs: the shape is sampled at the peak's run's cadence and stays in that run
        (as :func:`~.searches.flare_scan` fits it).
    peak_s : float
        The peak's time, POSIX seconds.
    rise_s, decay_s : float
        Rise time and decay time constant, seconds.

    Returns
    -------
    numpy.ndarray
        Shape (points.size,).
    """
    profile = np.zeros(points.size)
    peak_index = int(np.argmin(np.abs(points.time - peak_s)))
    part = next(p for p in slices if p.start <= peak_index < p.stop)
    shape, peak = flare_template(cadence_s(points.time[part]), rise_s, decay_s)
    first = peak_index - peak
    for j, value in enumerate(shape):
        if part.start <= first + j < part.stop:
            profile[first + j] = value
    return profile


def _single_event(points: StarPoints, analysis: Analysis, slices, weight, salt):
    durations = tuple(60.0 * d for d in analysis.transit_durations_min)

    def scan(copies: np.ndarray):
        return box_scan(points.time, copies, weight, slices, durations)

    peaks, box = scan(points.flux[None])
    if box is None:
        return None
    rng = star_rng(points.picid, "single", salt)
    model = np.zeros(points.size)
    model[box.start : box.stop] = -box.depth
    residual = _clipped(points, model, float(peaks[0]), scan, weight, slices, analysis, rng)
    null, _ = scan(phase_surrogates(residual, weight, slices, analysis.shifts, rng))
    return SearchOutcome(
        points.picid,
        "single-event",
        float(peaks[0]),
        threshold(null, analysis.far_percentile),
        int(null.size),
        false_alarm_probability(float(peaks[0]), null),
        box.time_s,
        box.duration_s,
        box.depth,
        box.depth_err,
        windows=((box.time_s - box.duration_s / 2, box.time_s + box.duration_s / 2),),
    )


def _flare(points: StarPoints, analysis: Analysis, slices, weight, salt):
    rise = 60.0 * analysis.flare_rise_min
    decays = tuple(60.0 * d for d in analysis.flare_decays_min)

    def scan(copies: np.ndarray):
        return flare_scan(points.time, copies, weight, slices, rise, decays)

    peaks, flare = scan(points.flux[None])
    if flare is None:
        return None
    rng = star_rng(points.picid, "flare", salt)
    model = flare.amplitude * flare_profile(
        points, slices, flare.time_s, flare.rise_s, flare.decay_s
    )
    residual = _clipped(points, model, float(peaks[0]), scan, weight, slices, analysis, rng)
    null, _ = scan(phase_surrogates(residual, weight, slices, analysis.shifts, rng))
    return SearchOutcome(
        points.picid,
        "flare",
        float(peaks[0]),
        threshold(null, analysis.far_percentile),
        int(null.size),
        false_alarm_probability(float(peaks[0]), null),
        flare.time_s,
        flare.duration_s,
        flare.amplitude,
        flare.amplitude_err,
        windows=((flare.time_s - flare.rise_s, flare.time_s + 3.0 * flare.decay_s),),
    )


def _periodic(points: StarPoints, analysis: Analysis, slices, salt):
    if len(slices) < 2:
        return None
    durations = tuple(60.0 * d for d in analysis.periodic_durations_min)
    min_period = analysis.period_min_days * 86400.0
    max_period = analysis.period_max_days * 86400.0
    peaks, solution = periodic_scan(
        points.time,
        [(points.flux, points.flux_err)],
        1,
        durations,
        min_period,
        max_period,
        max_periods=analysis.max_periods,
    )
    if solution is None or solution.events < 2:
        return None
    copies = segment_shifts(
        points.flux,
        points.flux_err,
        slices,
        analysis.shifts,
        star_rng(points.picid, "periodic", salt),
    )
    null, _ = periodic_scan(
        points.time,
        copies,
        analysis.shifts,
        durations,
        min_period,
        max_period,
        max_periods=analysis.max_periods,
        stop_above=float(peaks[0]),
        stop_count=stop_count(analysis.shifts, analysis.far_percentile),
        solve=False,
    )
    half = solution.duration_s / 2
    first, last = float(points.time.min()), float(points.time.max())
    mids = solution.time_s + solution.period_s * np.arange(
        np.floor((first - solution.time_s) / solution.period_s),
        np.ceil((last - solution.time_s) / solution.period_s) + 1,
    )
    windows = tuple(
        (float(m - half), float(m + half)) for m in mids if np.any(np.abs(points.time - m) < half)
    )
    return SearchOutcome(
        points.picid,
        "periodic",
        float(peaks[0]),
        threshold(null, analysis.far_percentile),
        int(np.count_nonzero(~np.isnan(null))),
        false_alarm_probability(float(peaks[0]), null),
        solution.time_s,
        solution.duration_s,
        solution.depth,
        solution.depth_err,
        period_s=solution.period_s,
        events=solution.events,
        windows=windows,
    )


def search_star(points: StarPoints, analysis: Analysis, *, salt: str = "") -> list[SearchOutcome]:
    """Run the searches on one star; return each search's outcome.

    Parameters
    ----------
    points : StarPoints
        The star's usable points, every run.
    analysis : Analysis
        Durations, period range, copies and percentile.
    salt : str, optional
        Mixed into the copies' random numbers (injection-recovery searches a star's injected
        light curve with other numbers than its real one).

    Returns
    -------
    list of SearchOutcome
        One per search that could run (too few points: none); :attr:`~SearchOutcome.significant`
        tells the detections.
    """
    if points.size < analysis.min_points:
        return []
    slices = points.segment_slices()
    weight = 1.0 / points.flux_err**2
    outcomes = [
        _single_event(points, analysis, slices, weight, salt),
        _flare(points, analysis, slices, weight, salt),
        _periodic(points, analysis, slices, salt),
    ]
    return [o for o in outcomes if o is not None]
