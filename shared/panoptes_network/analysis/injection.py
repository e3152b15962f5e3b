"""Injection-recovery: events put into the per-image photometry, searched for like real ones.

How sensitive the search is, is measured on the data itself. For one processing run:

1. :func:`plan_injections` picks stars of the run (enough usable points) and gives each an
   event: a box transit or a flare, alternately, at an expected signal-to-noise ratio drawn
   uniformly from ``analysis.injection_snr``, with a duration (transit) or decay time (flare)
   of the searches' grids, placed wholly inside the run. The depth (amplitude) follows from
   the SNR and the star's own light-curve errors in the run: ``depth = SNR sqrt(1 / W_in +
   1 / W_out)`` for a box (``W`` the summed inverse variances inside and outside), and
   ``A = SNR / sqrt(sum(w s**2))`` for a flare of shape ``s``.
2. :func:`inject_into_tables` multiplies those stars' fluxes (every colour, and their errors)
   in each frame's photometry table by the event's mean over the exposure
   (:func:`panoptes_network.simulation.variability.exposure_mean`), before differential
   photometry and normalisation, so the whole light-curve path sees the events.
3. The caller builds light curves from the injected tables as the run did, and
   :func:`recover` searches each injected star (:func:`~.detections.search_star`, other random
   numbers than the real search) and counts the event recovered when the matching search is
   significant at the injected time: within half the transit's duration of mid-transit, or
   within one cadence plus the template's decay time of the flare's peak.

The counts go in a :class:`~.completeness.Completeness` (integers that add over runs); an
injected event that is recovered is also a detection, stored with ``injected: true`` and its
truth, hidden from ordinary queries.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
from astropy.table import Table

from panoptes_network.analysis.completeness import Completeness
from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.detections import SearchOutcome, flare_profile, search_star
from panoptes_network.analysis.searches import cadence_s
from panoptes_network.analysis.star_points import StarPoints
from panoptes_network.simulation.variability import Flare, Transit, exposure_mean

__all__ = [
    "INJECTION_SALT",
    "Injection",
    "Recovery",
    "inject_into_tables",
    "plan_injections",
    "recover",
]

#: Mixed into the random numbers of an injected star's search.
INJECTION_SALT = "injected"
_FLUX_PREFIXES = ("flux_", "flux_err_")
_MAX_DEPTH = 0.5


@dataclass(frozen=True)
class Injection:
    """One injected event.

    Attributes
    ----------
    picid : int
        The star.
    kind : str
        ``transit`` or ``flare``.
    time_s : float
        Mid-transit or the flare's peak, POSIX seconds.
    duration_s : float
        Transit duration; for a flare its rise plus three decay times, seconds.
    value : float
        Fractional depth (transit) or amplitude (flare).
    snr : float
        The expected signal-to-noise ratio it was made for.
    rise_s, decay_s : float
        The flare's rise and decay time constant, seconds (0 for transits).
    """

    picid: int
    kind: str
    time_s: float
    duration_s: float
    value: float
    snr: float
    rise_s: float = 0.0
    decay_s: float = 0.0

    def event(self) -> Transit | Flare:
        """Return the event as the simulator's (box transit, or flare)."""
        moment = datetime.fromtimestamp(self.time_s, tz=timezone.utc)
        if self.kind == "transit":
            return Transit(
                self.picid, moment, self.value, self.duration_s / 60.0, limb_darkening=None
            )
        return Flare(self.picid, moment, self.value, self.rise_s / 60.0, self.decay_s / 60.0)

    def truth(self) -> dict[str, Any]:
        """Return the truth as stored on the detection (``injection``)."""
        name = "depth" if self.kind == "transit" else "amplitude"
        return {
            "kind": self.kind,
            name: round(self.value, 7),
            "duration_s": round(self.duration_s, 1),
            "snr": round(self.snr, 3),
            "time_s": round(self.time_s, 3),
        }


def _box_depth(points: StarPoints, low: float, high: float, snr: float) -> float | None:
    weight = 1.0 / points.flux_err**2
    inside = (points.time >= low) & (points.time <= high)
    w_in, w_out = weight[inside].sum(), weight[~inside].sum()
    if inside.sum() < 2 or w_out <= 0:
        return None
    return float(snr * np.sqrt(1.0 / w_in + 1.0 / w_out))


def _flare_amplitude(points: StarPoints, peak: float, rise: float, decay: float, snr: float):
    profile = flare_profile(points, points.segment_slices(), peak, rise, decay)
    total = float(np.sum(profile**2 / points.flux_err**2))
    return float(snr / np.sqrt(total)) if total > 0 else None


def plan_injections(
    run_points: Mapping[int, StarPoints], analysis: Analysis, rng: np.random.Generator
) -> list[Injection]:
    """Choose stars of one run and the events to inject into them.

    Parameters
    ----------
    run_points : mapping
        PICID to the star's usable points in the run (its real light curve: the errors set
        the depths).
    analysis : Analysis
        ``injections_per_run``, ``injection_snr`` and the searches' grids.
    rng : numpy.random.Generator
        The random numbers (seeded by the caller with the run).

    Returns
    -------
    list of Injection
        At most ``analysis.injections_per_run`` (fewer when few stars have enough points),
        transits and flares alternately, sorted by PICID.
    """
    eligible = sorted(p for p, pts in run_points.items() if pts.size >= analysis.min_points)
    chosen = rng.permutation(eligible)[: analysis.injections_per_run]
    low_snr, high_snr = analysis.injection_snr
    injections = []
    for n, picid in enumerate(chosen.tolist()):
        points = run_points[int(picid)]
        start, end = float(points.time.min()), float(points.time.max())
        span = end - start
        snr = float(rng.uniform(low_snr, high_snr))
        if n % 2 == 0:
            durations = [60.0 * d for d in analysis.transit_durations_min if 60.0 * d <= 0.6 * span]
            if not durations:
                continue
            duration = float(rng.choice(durations))
            mid = float(rng.uniform(start + duration / 2, end - duration / 2))
            depth = _box_depth(points, mid - duration / 2, mid + duration / 2, snr)
            if depth is None or depth >= _MAX_DEPTH:
                continue
            injections.append(Injection(int(picid), "transit", mid, duration, depth, snr))
        else:
            rise = 60.0 * analysis.flare_rise_min
            decays = [60.0 * d for d in analysis.flare_decays_min if rise + 3 * 60.0 * d <= span]
            if not decays:
                continue
            decay = float(rng.choice(decays))
            peak = float(rng.uniform(start + rise, end - 3.0 * decay))
            amplitude = _flare_amplitude(points, peak, rise, decay, snr)
            if amplitude is None or amplitude >= _MAX_DEPTH * 10:
                continue
            injections.append(
                Injection(int(picid), "flare", peak, rise + 3 * decay, amplitude, snr, rise, decay)
            )
    return sorted(injections, key=lambda i: i.picid)


def _exposure_start(meta: Mapping[str, Any]) -> tuple[float, float]:
    from panoptes_network.lightcurves.stacking import frame_time_seconds

    try:
        exptime = float(meta.get("exptime") or 0.0)
    except (TypeError, ValueError):
        exptime = 0.0
    exptime = exptime if math.isfinite(exptime) and exptime > 0 else 0.0  # unknown: an instant
    return frame_time_seconds(meta["mid_exposure_time"]) - exptime / 2.0, exptime


def inject_into_tables(tables: Sequence[Table], injections: Iterable[Injection]) -> list[Table]:
    """Return copies of per-frame photometry tables with the events multiplied in.

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        One frame's photometry each (``picid``, ``flux_<c>``, ``flux_err_<c>``; metadata
        ``mid_exposure_time`` and ``exptime``).
    injections : iterable of Injection
        The events.

    Returns
    -------
    list of astropy.table.Table
        The tables, the injected stars' fluxes and errors scaled by each event's mean over
        the frame's exposure (the originals are not changed).
    """
    events = [i.event() for i in injections]
    picids = np.array(sorted({e.picid for e in events}), dtype=np.int64)
    out = []
    for table in tables:
        table = table.copy(copy_data=True)
        table.meta = copy.deepcopy(table.meta)
        if picids.size:
            start, exptime = _exposure_start(table.meta)
            factor = exposure_mean(events, picids, start, exptime)
            rows = np.searchsorted(picids, np.asarray(table["picid"], dtype=np.int64))
            rows = np.clip(rows, 0, picids.size - 1)
            hit = picids[rows] == np.asarray(table["picid"], dtype=np.int64)
            scale = np.where(hit, factor[rows], 1.0)
            for name in table.colnames:
                if name.startswith(_FLUX_PREFIXES) and not name.startswith("flux_raw"):
                    table[name] = np.asarray(table[name], dtype=float) * scale
        out.append(table)
    return out


@dataclass
class Recovery:
    """What the searches made of one run's injected events.

    Attributes
    ----------
    completeness : Completeness
        Injected and recovered counts.
    found : list of (Injection, SearchOutcome, StarPoints)
        The recovered events, with the detection and the points it was found in.
    """

    completeness: Completeness
    found: list[tuple[Injection, SearchOutcome, StarPoints]]


def _matches(injection: Injection, outcome: SearchOutcome, cadence: float) -> bool:
    if not outcome.significant:
        return False
    if injection.kind == "transit":
        return outcome.search in ("single-event", "periodic") and abs(
            outcome.time_s - injection.time_s
        ) <= max(injection.duration_s / 2.0, cadence)
    return outcome.search == "flare" and abs(outcome.time_s - injection.time_s) <= (
        cadence + injection.decay_s
    )


def recover(
    injections: Sequence[Injection],
    injected_points: Mapping[int, StarPoints],
    analysis: Analysis,
) -> Recovery:
    """Search the injected stars' light curves and count the events recovered.

    Parameters
    ----------
    injections : sequence of Injection
        The events.
    injected_points : mapping
        PICID to the star's points in the light curves built from the injected tables (a
        star that lost its light curve counts as injected and not recovered).
    analysis : Analysis
        The configuration.

    Returns
    -------
    Recovery
        The counts and the recovered events' detections.
    """
    completeness = Completeness()
    found = []
    for injection in injections:
        points = injected_points.get(injection.picid)
        hit = None
        if points is not None and points.size:
            cadence = cadence_s(points.time)
            outcomes = search_star(points, analysis, salt=INJECTION_SALT)
            matching = [o for o in outcomes if _matches(injection, o, cadence)]
            if matching:
                hit = max(matching, key=lambda o: o.significance)
                found.append((injection, hit, points))
        completeness.add(
            injection.kind, injection.value, injection.duration_s, injection.snr, hit is not None
        )
    return Recovery(completeness, found)
