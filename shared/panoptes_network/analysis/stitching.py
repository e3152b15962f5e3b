"""Stitching a star's light-curve segments from several units onto one magnitude scale.

Each PANOPTES unit calibrates its magnitudes to the catalog V scale, but not to the same zero
point: units differ by a few hundredths of a magnitude. Stitching puts every unit's segment
on the scale of a reference unit (the one with the most points; ties: alphabetical first)
with a per-unit offset, solved where segments overlap in time. Where a unit never overlaps
another, its offset is degenerate with any change of the star between its segment and the
others': :func:`stitch_units` then leaves the offset unsolved (None) and says so.

Overlap
    A unit *observes* over each run of its points (time-sorted) whose successive intervals are
    at most ``gap_s``, from the run's first point to its last. Two units overlap where both
    observe; a point lies in the overlap when its time does. ``gap_s`` defaults to
    :data:`GAP_CADENCES` times the median cadence (the median of the positive intervals
    between successive points of each unit, pooled over units).

Connection
    Two units are linked when each has at least ``min_overlap_points`` points in their
    overlap; a unit is connected to the reference through a chain of links. Only the
    connected units' points are fitted.

Model
    ``mag_i = m0 + c_u(i) + dm * box(t_i)``, with ``c = 0`` for the reference and the box
    term (``box = 1`` where ``|t - t0| < duration / 2``, else 0) only with an ``event``,
    fitted by weighted linear least squares (weights ``1 / mag_err**2``). A unit's offset,
    to add to its magnitudes to put them on the reference's scale, is ``-c_u``; the event's
    fractional depth is ``1 - 10**(-0.4 dm)``.

Errors
    From the inverse of the weighted normal matrix, multiplied by the reduced chi-square of
    the residuals when it exceeds 1: red noise or underestimated magnitude errors then widen
    the reported errors (honest errors), while a fit better than its quoted errors does not
    narrow them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DECIMALS",
    "GAP_CADENCES",
    "Stitching",
    "UnitOffset",
    "stitch_units",
]

#: Default largest gap within a unit's observing run, in median cadences.
GAP_CADENCES = 3.0
#: Decimals kept for the floats of a record (mag, hours, fractions).
DECIMALS = 6

Intervals = list[tuple[float, float]]


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), DECIMALS)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class UnitOffset:
    """One unit's offset onto the reference unit's scale.

    Attributes
    ----------
    unit : str
        The unit.
    offset_mag : float or None
        Magnitude to add to this unit's magnitudes to put them on the reference unit's scale
        (mag); None when not solved (the unit is not connected to the reference).
    offset_err_mag : float or None
        Its 1-sigma error (mag).
    overlap_hours : float
        Hours during which this unit observes while another unit (any other) does.
    points : int
        The unit's usable points.
    """

    unit: str
    offset_mag: float | None
    offset_err_mag: float | None
    overlap_hours: float
    points: int

    def to_record(self) -> dict[str, Any]:
        """Return the offset as a document (without the unit, the key of its map)."""
        return {
            "offset_mag": _round(self.offset_mag),
            "offset_err_mag": _round(self.offset_err_mag),
            "overlap_hours": _round(self.overlap_hours) or 0.0,
            "points": int(self.points),
        }

    @classmethod
    def from_record(cls, unit: str, record: Mapping[str, Any]) -> UnitOffset:
        """Rebuild an offset from its unit and :meth:`to_record`'s document."""
        return cls(
            unit=str(unit),
            offset_mag=_optional_float(record.get("offset_mag")),
            offset_err_mag=_optional_float(record.get("offset_err_mag")),
            overlap_hours=float(record.get("overlap_hours") or 0.0),
            points=int(record.get("points") or 0),
        )


@dataclass(frozen=True)
class Stitching:
    """A star's units on one magnitude scale, and the event fitted jointly.

    Attributes
    ----------
    reference_unit : str
        The unit whose scale the others are put on: the most points (ties: alphabetical).
    offsets : dict of str to UnitOffset
        Every unit with usable points, the reference included (offset 0, error 0).
    degenerate : bool
        Whether any unit is not connected to the reference through overlaps.
    reason : str
        Empty when not degenerate; else names each unit left unsolved and why.
    depth : float or None
        The event's fractional flux drop, fitted jointly with the offsets; None without an
        event (or when the fitted points do not sample both inside and outside it).
    depth_err : float or None
        Its 1-sigma error.
    """

    reference_unit: str
    offsets: dict[str, UnitOffset]
    degenerate: bool
    reason: str
    depth: float | None
    depth_err: float | None

    def to_record(self) -> dict[str, Any]:
        """Return the stitching as a Firestore-safe document.

        Returns
        -------
        dict
            ``reference_unit``, ``offsets`` (``{unit: {"offset_mag", "offset_err_mag",
            "overlap_hours", "points"}}``), ``degenerate``, ``reason``, ``depth``,
            ``depth_err``; floats rounded to :data:`DECIMALS` decimals, None for values that
            are unknown or not finite; no arrays.
        """
        return {
            "reference_unit": self.reference_unit,
            "offsets": {unit: o.to_record() for unit, o in sorted(self.offsets.items())},
            "degenerate": bool(self.degenerate),
            "reason": self.reason,
            "depth": _round(self.depth),
            "depth_err": _round(self.depth_err),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Stitching:
        """Rebuild a stitching from :meth:`to_record`'s document."""
        return cls(
            reference_unit=str(record["reference_unit"]),
            offsets={
                str(unit): UnitOffset.from_record(unit, o)
                for unit, o in sorted((record.get("offsets") or {}).items())
            },
            degenerate=bool(record.get("degenerate", False)),
            reason=str(record.get("reason") or ""),
            depth=_optional_float(record.get("depth")),
            depth_err=_optional_float(record.get("depth_err")),
        )


def _runs(times: np.ndarray, gap_s: float) -> Intervals:
    """Return the observing runs ``[first, last]`` of sorted times with gaps up to ``gap_s``."""
    breaks = np.flatnonzero(np.diff(times) > gap_s)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [times.size - 1]])
    return [(float(times[a]), float(times[b])) for a, b in zip(starts, ends, strict=True)]


def _intersect(a: Intervals, b: Intervals) -> Intervals:
    """Return the intersection of two sorted lists of disjoint closed intervals."""
    out: Intervals = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def _union(intervals: Intervals) -> Intervals:
    """Return the union of closed intervals as sorted disjoint intervals."""
    out: Intervals = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _length(intervals: Intervals) -> float:
    return sum(hi - lo for lo, hi in intervals)


def _count_in(times: np.ndarray, intervals: Intervals) -> int:
    """Return how many sorted times lie in the closed intervals (disjoint)."""
    if not intervals:
        return 0
    lo, hi = np.array(intervals).T
    return int(
        np.sum(np.searchsorted(times, hi, side="right") - np.searchsorted(times, lo, side="left"))
    )


def _median_cadence(times: dict[str, np.ndarray]) -> float:
    steps = np.concatenate([np.diff(t) for t in times.values()])
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else 0.0


def _clean(
    time_s: ArrayLike, mag: ArrayLike, mag_err: ArrayLike, unit: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(time_s, dtype=float).ravel()
    m = np.asarray(mag, dtype=float).ravel()
    e = np.asarray(mag_err, dtype=float).ravel()
    u = np.asarray(unit, dtype=object).ravel()
    lengths = {"time_s": t.size, "mag": m.size, "mag_err": e.size, "unit": u.size}
    if len(set(lengths.values())) != 1:
        given = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ValueError(f"time_s, mag, mag_err and unit must have the same length: {given}")
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(t) & np.isfinite(m) & np.isfinite(e) & (e > 0)
    usable &= np.array([x is not None and str(x) != "" for x in u], dtype=bool)
    if not usable.any():
        raise ValueError(
            f"no usable points among {t.size}: each needs a finite time, magnitude and a "
            "positive magnitude error, and a unit"
        )
    units = np.array([str(x) for x in u[usable]], dtype=object)
    order = np.argsort(t[usable], kind="stable")
    return t[usable][order], m[usable][order], e[usable][order], units[order]


def _connected(
    reference: str, runs: dict[str, Intervals], times: dict[str, np.ndarray], min_points: int
) -> tuple[set[str], dict[str, set[str]]]:
    """Return the units connected to the reference, and each unit's links."""
    links: dict[str, set[str]] = {u: set() for u in runs}
    names = sorted(runs)
    for k, a in enumerate(names):
        for b in names[k + 1 :]:
            both = _intersect(runs[a], runs[b])
            if _count_in(times[a], both) >= min_points and _count_in(times[b], both) >= min_points:
                links[a].add(b)
                links[b].add(a)
    connected = {reference}
    todo = [reference]
    while todo:
        for other in links[todo.pop()]:
            if other not in connected:
                connected.add(other)
                todo.append(other)
    return connected, links


def _reason(reference: str, unsolved: list[str], links: dict[str, set[str]]) -> str:
    parts = []
    for u in unsolved:
        if links[u]:
            others = ", ".join(sorted(links[u]))
            parts.append(
                f"{u} overlaps only units not connected to the reference {reference} "
                f"({others}): its offset is degenerate with the star's variability"
            )
        else:
            parts.append(
                f"{u} never overlaps another unit in time: its offset is degenerate with the "
                "star's variability"
            )
    return "; ".join(parts)


def stitch_units(
    time_s: ArrayLike,
    mag: ArrayLike,
    mag_err: ArrayLike,
    unit: ArrayLike,
    *,
    event: Sequence[float] | None = None,
    min_overlap_points: int = 3,
    gap_s: float | None = None,
) -> Stitching:
    """Put a star's segments from several units on the reference unit's scale.

    Solves a magnitude offset per unit connected to the reference through overlaps in time,
    jointly with the depth of a box event when one is given (module docstring). Errors are
    the least-squares ones scaled by the reduced chi-square of the residuals when it exceeds
    1, so red noise or underestimated magnitude errors widen them.

    Parameters
    ----------
    time_s : array_like
        Times of the points, POSIX seconds.
    mag, mag_err : array_like
        Calibrated magnitudes (catalog V scale) and their 1-sigma errors (mag). Rows with a
        value that is not finite or an error not above 0 are ignored.
    unit : array_like of str
        The unit of each point.
    event : (float, float), optional
        ``(t0_s, duration_s)``: the centre (POSIX seconds) and the full duration (s) of a box
        event (a transit) fitted jointly.
    min_overlap_points : int
        Points each of two units needs in their overlap to link them.
    gap_s : float, optional
        Largest interval between successive points of a unit within one observing run (s);
        default :data:`GAP_CADENCES` times the median cadence.

    Returns
    -------
    Stitching
        The reference unit, every unit's offset (None where unsolved), whether any is
        degenerate and why, and the event's fractional depth with its error.

    Raises
    ------
    ValueError
        On arrays of different lengths, no usable point, a bad option, or a model the fitted
        points do not determine.
    """
    if int(min_overlap_points) < 1:
        raise ValueError(f"min_overlap_points must be at least 1, not {min_overlap_points}")
    if gap_s is not None and not (math.isfinite(gap_s) and gap_s >= 0):
        raise ValueError(f"gap_s must be a finite number of seconds >= 0, not {gap_s}")
    if event is not None:
        if len(event) != 2:
            raise ValueError(f"event must be (t0_s, duration_s), not {event!r}")
        t0, duration = float(event[0]), float(event[1])
        if not (math.isfinite(t0) and math.isfinite(duration) and duration > 0):
            raise ValueError(f"event needs a finite t0_s and a duration_s > 0, not {event!r}")
    t, m, e, u = _clean(time_s, mag, mag_err, unit)
    names = sorted(set(u.tolist()))
    times = {name: t[u == name] for name in names}
    points = {name: int(times[name].size) for name in names}
    reference = min(names, key=lambda name: (-points[name], name))
    gap = _median_cadence(times) * GAP_CADENCES if gap_s is None else float(gap_s)
    runs = {name: _runs(times[name], gap) for name in names}
    overlap_hours = {
        name: _length(
            _intersect(runs[name], _union([r for o in names if o != name for r in runs[o]]))
        )
        / 3600.0
        for name in names
    }
    connected, links = _connected(reference, runs, times, int(min_overlap_points))
    solved = [name for name in names if name in connected and name != reference]

    fit = np.isin(u, sorted(connected))
    columns = [np.ones(int(fit.sum()))]
    columns += [(u[fit] == name).astype(float) for name in solved]
    box = None
    if event is not None:
        box = (np.abs(t[fit] - t0) < duration / 2).astype(float)
        if 0 < box.sum() < box.size:
            columns.append(box)
        else:
            box = None
    design = np.column_stack(columns)
    sw = 1.0 / e[fit]
    a = design * sw[:, None]
    y = m[fit] * sw
    normal = a.T @ a
    if np.linalg.matrix_rank(normal) < normal.shape[0]:
        raise ValueError(
            "the fitted points do not determine the offsets and the event depth together: "
            "the event box must not be constant within every unit"
        )
    params = np.linalg.solve(normal, a.T @ y)
    covariance = np.linalg.inv(normal)
    dof = a.shape[0] - a.shape[1]
    if dof > 0:
        chi2_red = float(np.sum((y - a @ params) ** 2)) / dof
        if chi2_red > 1:
            covariance = covariance * chi2_red
    errors = np.sqrt(np.clip(np.diag(covariance), 0, None))

    offsets = {
        name: UnitOffset(name, None, None, overlap_hours[name], points[name]) for name in names
    }
    offsets[reference] = UnitOffset(
        reference, 0.0, 0.0, overlap_hours[reference], points[reference]
    )
    for k, name in enumerate(solved, start=1):
        offsets[name] = UnitOffset(
            name, -float(params[k]), float(errors[k]), overlap_hours[name], points[name]
        )
    depth = depth_err = None
    if box is not None:
        dm, dm_err = float(params[-1]), float(errors[-1])
        flux = 10 ** (-0.4 * dm)
        depth, depth_err = 1.0 - flux, 0.4 * math.log(10) * flux * dm_err
    unsolved = [name for name in names if name not in connected]
    return Stitching(
        reference_unit=reference,
        offsets=offsets,
        degenerate=bool(unsolved),
        reason=_reason(reference, unsolved, links),
        depth=depth,
        depth_err=depth_err,
    )
