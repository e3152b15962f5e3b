"""Injected variability: transits, flares and sinusoidal variables, as relative fluxes.

Each event multiplies one star's flux by a factor of time (1: no change):

- :class:`Transit`: a planet crossing the star. ``depth`` is the fractional drop at
  mid-transit and ``duration`` the time from first to last contact (T14). A box transit drops
  by ``depth`` for the whole duration. A limb-darkened transit (quadratic law
  ``I(mu) = 1 - u1 (1 - mu) - u2 (1 - mu)**2``) uses the small-planet approximation of
  Mandel & Agol (2002, section 5): the blocked flux is the overlap area of the planet's and the
  star's discs times the stellar intensity under the planet, over the star's total flux
  ``pi (1 - u1/3 - u2/6)``. The planet moves in a straight line at impact parameter ``b``
  (in stellar radii); its radius ratio ``p`` is solved from the depth, ``p**2 I(mu(b)) /
  (1 - u1/3 - u2/6) = depth``, so the depth at mid-transit is exactly ``depth``.
- :class:`Flare`: a linear rise over ``rise`` minutes to a peak of ``1 + amplitude`` at
  ``peak_time``, then an exponential decay with time constant ``decay`` minutes.
- :class:`Sinusoid`: ``1 + amplitude cos(2 pi (t - epoch) / period)`` (maximum at ``epoch``).

A frame records the mean of the factor over its exposure (:func:`exposure_mean`, the midpoint
rule on :data:`EXPOSURE_SAMPLES` instants), which is what a detector integrates; for events
slower than the exposure this equals the value at mid-exposure. Several events of one star
multiply. Times are aware UTC datetimes in the events and POSIX seconds in the computations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from astropy.table import Table

__all__ = [
    "EXPOSURE_SAMPLES",
    "Event",
    "Flare",
    "Sinusoid",
    "Transit",
    "events_from_table",
    "events_table",
    "exposure_mean",
]

#: Instants averaged over an exposure.
EXPOSURE_SAMPLES = 15


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def _overlap_fraction(p: float, z: np.ndarray) -> np.ndarray:
    """Area of overlap of a disc of radius p at distance z from the unit disc, over pi."""
    z = np.asarray(z, dtype=float)
    area = np.zeros_like(z)
    inside = z <= 1.0 - p
    area[inside] = p * p
    partial = (z > 1.0 - p) & (z < 1.0 + p)
    if partial.any():
        zp = z[partial]
        k0 = np.arccos(np.clip((p * p + zp * zp - 1.0) / (2.0 * p * zp), -1.0, 1.0))
        k1 = np.arccos(np.clip((1.0 - p * p + zp * zp) / (2.0 * zp), -1.0, 1.0))
        root = np.sqrt(np.clip(4.0 * zp * zp - (1.0 + zp * zp - p * p) ** 2, 0.0, None))
        area[partial] = (p * p * k0 + k1 - 0.5 * root) / np.pi
    return area


@dataclass(frozen=True)
class Transit:
    """A transit of one star.

    Attributes
    ----------
    picid : int
        The star.
    mid_time : datetime
        Mid-transit (aware UTC).
    depth : float
        Fractional flux drop at mid-transit, in (0, 1).
    duration : float
        First to last contact, in minutes.
    impact : float
        Impact parameter, in stellar radii (limb-darkened shape only).
    limb_darkening : (float, float) or None
        Quadratic coefficients (u1, u2); None for a box-shaped transit.
    """

    picid: int
    mid_time: datetime
    depth: float
    duration: float
    impact: float = 0.3
    limb_darkening: tuple[float, float] | None = (0.40, 0.25)

    kind = "transit"

    def __post_init__(self) -> None:
        if not 0 < self.depth < 1:
            raise ValueError(f"transit depth {self.depth} must be a fraction in (0, 1)")
        if not self.duration > 0:
            raise ValueError(f"transit duration {self.duration} must be positive minutes")
        if self.limb_darkening is not None:
            if not 0 <= self.impact < 1:
                raise ValueError(f"impact parameter {self.impact} must be in [0, 1)")
            if self.impact + self.radius_ratio >= 1:
                raise ValueError(
                    f"a {self.depth:.3g} deep transit at impact {self.impact} would graze the "
                    "limb: lower the impact parameter or the depth"
                )

    def _intensity(self, r) -> np.ndarray:
        u1, u2 = self.limb_darkening or (0.0, 0.0)
        mu = np.sqrt(np.clip(1.0 - np.asarray(r, dtype=float) ** 2, 0.0, 1.0))
        return 1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2

    @property
    def _norm(self) -> float:
        u1, u2 = self.limb_darkening or (0.0, 0.0)
        return 1.0 - u1 / 3.0 - u2 / 6.0

    @property
    def radius_ratio(self) -> float:
        """Planet to star radius ratio ``p`` that gives ``depth`` at mid-transit."""
        impact = self.impact if self.limb_darkening is not None else 0.0
        return float(np.sqrt(self.depth * self._norm / self._intensity(impact)))

    @property
    def summary(self) -> str:
        """One line describing the event."""
        shape = "box" if self.limb_darkening is None else "limb-darkened"
        return (
            f"{shape} transit of PICID {self.picid}: {self.depth:.2%} deep, "
            f"{self.duration:g} min, mid-transit {_iso(self.mid_time)} UTC"
        )

    def relative_flux(self, seconds) -> np.ndarray:
        """Return the star's relative flux at instants.

        Parameters
        ----------
        seconds : array_like
            POSIX times, in seconds.

        Returns
        -------
        numpy.ndarray
            Flux over the out-of-transit flux.
        """
        dt = np.asarray(seconds, dtype=float) - _seconds(self.mid_time)
        half = self.duration * 30.0
        if self.limb_darkening is None:
            return np.where(np.abs(dt) < half, 1.0 - self.depth, 1.0)
        p, b = self.radius_ratio, self.impact
        z = np.sqrt(b * b + (dt / half) ** 2 * ((1.0 + p) ** 2 - b * b))
        r_eff = np.where(z <= 1.0 - p, z, np.minimum((z - p + 1.0) / 2.0, 1.0))
        blocked = _overlap_fraction(p, z) * self._intensity(r_eff) / self._norm
        return 1.0 - blocked


@dataclass(frozen=True)
class Flare:
    """A stellar flare.

    Attributes
    ----------
    picid : int
        The star.
    peak_time : datetime
        Time of the peak (aware UTC).
    amplitude : float
        Relative flux increase at the peak (0.05: 5 %).
    rise : float
        Rise time (linear), in minutes.
    decay : float
        Exponential decay time constant, in minutes.
    """

    picid: int
    peak_time: datetime
    amplitude: float
    rise: float = 2.0
    decay: float = 10.0

    kind = "flare"

    def __post_init__(self) -> None:
        if not self.amplitude > 0 or not self.rise > 0 or not self.decay > 0:
            raise ValueError("flare amplitude, rise and decay must be positive")

    @property
    def summary(self) -> str:
        """One line describing the event."""
        return (
            f"flare of PICID {self.picid}: +{self.amplitude:.1%} at {_iso(self.peak_time)} UTC, "
            f"rise {self.rise:g} min, decay {self.decay:g} min"
        )

    def relative_flux(self, seconds) -> np.ndarray:
        """Return the star's relative flux at instants (POSIX seconds)."""
        dt = (np.asarray(seconds, dtype=float) - _seconds(self.peak_time)) / 60.0
        rising = np.clip(1.0 + dt / self.rise, 0.0, 1.0)
        decaying = np.exp(-np.clip(dt, 0.0, None) / self.decay)
        return 1.0 + self.amplitude * np.where(dt < 0, rising, decaying)


@dataclass(frozen=True)
class Sinusoid:
    """A sinusoidal variable.

    Attributes
    ----------
    picid : int
        The star.
    epoch : datetime
        A time of maximum (aware UTC).
    amplitude : float
        Relative semi-amplitude (0.02: +-2 %), below 1.
    period : float
        Period, in minutes.
    """

    picid: int
    epoch: datetime
    amplitude: float
    period: float

    kind = "sinusoid"

    def __post_init__(self) -> None:
        if not 0 < self.amplitude < 1 or not self.period > 0:
            raise ValueError("sinusoid amplitude must be in (0, 1) and period positive")

    @property
    def summary(self) -> str:
        """One line describing the event."""
        return (
            f"sinusoidal variable PICID {self.picid}: +-{self.amplitude:.1%}, "
            f"period {self.period:g} min, maximum at {_iso(self.epoch)} UTC"
        )

    def relative_flux(self, seconds) -> np.ndarray:
        """Return the star's relative flux at instants (POSIX seconds)."""
        phase = (np.asarray(seconds, dtype=float) - _seconds(self.epoch)) / (self.period * 60.0)
        return 1.0 + self.amplitude * np.cos(2.0 * np.pi * phase)


Event = Transit | Flare | Sinusoid


def exposure_mean(
    events: Iterable[Event], picids: np.ndarray, start: float, exptime: float
) -> np.ndarray:
    """Return each star's relative flux averaged over one exposure.

    Parameters
    ----------
    events : iterable of Event
        The injected events.
    picids : numpy.ndarray of int
        The stars, shape ``(n,)``.
    start : float
        Start of the exposure, POSIX seconds.
    exptime : float
        Exposure time, in seconds.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``: 1 for stars without events.
    """
    picids = np.asarray(picids)
    result = np.ones(len(picids))
    instants = start + (np.arange(EXPOSURE_SAMPLES) + 0.5) / EXPOSURE_SAMPLES * exptime
    by_star: dict[int, list[Event]] = {}
    for event in events:
        by_star.setdefault(int(event.picid), []).append(event)
    for picid, star_events in by_star.items():
        where = np.flatnonzero(picids == picid)
        if len(where) == 0:
            continue
        product = np.ones_like(instants)
        for event in star_events:
            product = product * event.relative_flux(instants)
        result[where] = product.mean()
    return result


_COLUMNS = {
    "kind": ("", "transit, flare or sinusoid"),
    "picid": ("", "the star"),
    "time": ("", "UTC ISO time: mid-transit, flare peak or sinusoid maximum"),
    "depth": ("", "transit: fractional drop at mid-transit"),
    "duration_min": ("min", "transit: first to last contact"),
    "impact": ("", "transit: impact parameter (stellar radii)"),
    "u1": ("", "transit: quadratic limb darkening u1 (NaN: box transit)"),
    "u2": ("", "transit: quadratic limb darkening u2 (NaN: box transit)"),
    "radius_ratio": ("", "transit: planet/star radius ratio (limb-darkened shape)"),
    "amplitude": ("", "flare: peak relative increase; sinusoid: relative semi-amplitude"),
    "rise_min": ("min", "flare: linear rise time"),
    "decay_min": ("min", "flare: exponential decay time constant"),
    "period_min": ("min", "sinusoid: period"),
}


def events_table(events: Iterable[Event]) -> Table:
    """Return the events as a table (one row each; NaN where a column does not apply).

    Parameters
    ----------
    events : iterable of Event
        The events.

    Returns
    -------
    astropy.table.Table
        Columns ``kind``, ``picid``, ``time`` and the parameters of every kind.
    """
    rows = []
    nan = float("nan")
    for event in events:
        row = dict.fromkeys(_COLUMNS, nan)
        row.update(kind=event.kind, picid=int(event.picid))
        if isinstance(event, Transit):
            u1, u2 = event.limb_darkening or (nan, nan)
            ld = event.limb_darkening is not None
            row.update(
                time=_iso(event.mid_time),
                depth=event.depth,
                duration_min=event.duration,
                impact=event.impact if ld else nan,
                u1=u1,
                u2=u2,
                radius_ratio=event.radius_ratio if ld else nan,
            )
        elif isinstance(event, Flare):
            row.update(
                time=_iso(event.peak_time),
                amplitude=event.amplitude,
                rise_min=event.rise,
                decay_min=event.decay,
            )
        else:
            row.update(time=_iso(event.epoch), amplitude=event.amplitude, period_min=event.period)
        rows.append(row)
    table = Table(
        rows=[[row[name] for name in _COLUMNS] for row in rows] or None,
        names=list(_COLUMNS),
        dtype=[str, np.int64, str] + [float] * (len(_COLUMNS) - 3),
    )
    for name, (unit, description) in _COLUMNS.items():
        table[name].unit = unit or None
        table[name].description = description
    return table


def _time(text: str) -> datetime:
    return datetime.fromisoformat(str(text)).replace(tzinfo=timezone.utc)


def events_from_table(table: Table) -> list[Event]:
    """Rebuild events from :func:`events_table`'s table (e.g. read from the truth).

    Parameters
    ----------
    table : astropy.table.Table
        The events table.

    Returns
    -------
    list of Event
        The events.
    """
    events: list[Event] = []
    for row in table:
        kind, picid, moment = str(row["kind"]), int(row["picid"]), _time(row["time"])
        if kind == "transit":
            box = not np.isfinite(row["u1"])
            events.append(
                Transit(
                    picid,
                    moment,
                    float(row["depth"]),
                    float(row["duration_min"]),
                    impact=0.0 if box else float(row["impact"]),
                    limb_darkening=None if box else (float(row["u1"]), float(row["u2"])),
                )
            )
        elif kind == "flare":
            events.append(
                Flare(
                    picid,
                    moment,
                    float(row["amplitude"]),
                    float(row["rise_min"]),
                    float(row["decay_min"]),
                )
            )
        elif kind == "sinusoid":
            events.append(
                Sinusoid(picid, moment, float(row["amplitude"]), float(row["period_min"]))
            )
        else:
            raise ValueError(f"unknown event kind {kind!r}")
    return events
