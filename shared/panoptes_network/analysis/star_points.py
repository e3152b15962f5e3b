"""A star's light-curve points for the searches, one segment per processing run.

The searches (:mod:`.searches`) look at a star's normalised differential flux in its headline
colour (``flux_g``, each run's median 1: :mod:`panoptes_network.lightcurves.products`), so no
search relies on an offset between runs or units (:mod:`.stitching` solves those, and says when
they are degenerate). :class:`StarPoints` holds the usable points of one star (finite flux,
error above zero, not an outlier) with, for each, its segment (the run it came from), its row
in that run's data file and its frame, so a detection can name the rows and frames it rests on.

:func:`run_star_points` takes one run's rows of a star; :func:`merge_points` joins a star's
runs in time order. Times are POSIX seconds (UTC); fluxes are relative (1: the run's median).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["HEADLINE_COLOUR", "Segment", "StarPoints", "merge_points", "run_star_points"]

#: The colour the searches use: green has two Bayer sites per superpixel, the best signal.
HEADLINE_COLOUR = "g"


@dataclass(frozen=True)
class Segment:
    """One processing run's part of a star's points.

    Attributes
    ----------
    sequence_id, run_id : str
        The observation and the run.
    data_path : str
        The run's data file, an object name in the light-curve bucket.
    """

    sequence_id: str
    run_id: str
    data_path: str

    @property
    def unit_id(self) -> str:
        """The unit, the first part of the sequence id."""
        return self.sequence_id.split("_", 1)[0]


@dataclass
class StarPoints:
    """A star's usable points in time order.

    Attributes
    ----------
    picid : int
        The star.
    time : numpy.ndarray
        Mid-exposure, POSIX seconds (UTC).
    flux, flux_err : numpy.ndarray
        Normalised differential flux and its 1-sigma error (relative).
    segment : numpy.ndarray
        Index into :attr:`segments` of each point (int).
    row : numpy.ndarray
        Each point's row in its run's data file (int).
    image_id : numpy.ndarray
        Each point's frame (str; empty when the data file does not name frames).
    segments : list of Segment
        The runs.
    mag, mag_err : numpy.ndarray or None
        Calibrated magnitude and its error (mag; NaN where there is none), for stitching the
        units together (:mod:`.stitching`); None when not read.
    """

    picid: int
    time: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    segment: np.ndarray
    row: np.ndarray
    image_id: np.ndarray
    segments: list[Segment] = field(default_factory=list)
    mag: np.ndarray | None = None
    mag_err: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Number of points."""
        return int(self.time.size)

    def segment_slices(self) -> list[slice]:
        """Return each segment's points as a slice (points of a segment are contiguous)."""
        if self.size == 0:
            return []
        bounds = np.flatnonzero(np.r_[True, self.segment[1:] != self.segment[:-1], True])
        return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def run_star_points(
    picid: int,
    segment: Segment,
    time: np.ndarray,
    columns: Mapping[str, np.ndarray],
    first_row: int,
    colour: str = HEADLINE_COLOUR,
) -> StarPoints:
    """Return one run's usable points of a star.

    Parameters
    ----------
    picid : int
        The star.
    segment : Segment
        The run.
    time : numpy.ndarray
        The star's rows' mid-exposure times, POSIX seconds.
    columns : mapping
        The star's rows of the data file: ``flux_<colour>``, ``flux_err_<colour>``, optionally
        ``outlier_<colour>``, ``mag_<colour>``, ``mag_err_<colour>`` and ``image_id``.
    first_row : int
        The data-file row of the star's first row.
    colour : str
        The colour searched.

    Returns
    -------
    StarPoints
        One segment (empty when no point is usable or the run lacks the colour).
    """
    time = np.asarray(time, dtype=float)
    if f"flux_{colour}" not in columns:
        usable = np.zeros(time.size, dtype=bool)
        flux = err = np.full(time.size, np.nan)
    else:
        flux = np.asarray(columns[f"flux_{colour}"], dtype=float)
        err = np.asarray(columns[f"flux_err_{colour}"], dtype=float)
        usable = np.isfinite(flux) & np.isfinite(err) & (err > 0) & np.isfinite(time)
        outlier = columns.get(f"outlier_{colour}")
        if outlier is not None:
            usable &= ~np.asarray(outlier, dtype=bool)
    keep = np.flatnonzero(usable)
    keep = keep[np.argsort(time[keep], kind="stable")]
    images = columns.get("image_id")
    image_id = np.asarray(images, dtype=str)[keep] if images is not None else np.full(keep.size, "")
    mags = columns.get(f"mag_{colour}")
    mag_errs = columns.get(f"mag_err_{colour}")
    return StarPoints(
        picid,
        time[keep],
        flux[keep],
        err[keep],
        np.zeros(keep.size, dtype=np.int64),
        (first_row + keep).astype(np.int64),
        image_id,
        [segment],
        None if mags is None else np.asarray(mags, dtype=float)[keep],
        None if mag_errs is None else np.asarray(mag_errs, dtype=float)[keep],
    )


def merge_points(parts: Iterable[StarPoints]) -> StarPoints:
    """Join one star's runs into one :class:`StarPoints`, segments in time order.

    Parameters
    ----------
    parts : iterable of StarPoints
        The star's points from each run (one segment each, or already merged).

    Returns
    -------
    StarPoints
        All points; segments ordered by their first time (then by run), so the result does not
        depend on the order of ``parts``.

    Raises
    ------
    ValueError
        For parts of different stars, or none.
    """
    parts = [p for p in parts]
    if not parts:
        raise ValueError("no points to merge")
    picids = {p.picid for p in parts}
    if len(picids) != 1:
        raise ValueError(f"points of several stars cannot be merged: {sorted(picids)}")
    pieces: list[tuple[tuple[float, str, str], Segment, StarPoints, slice]] = []
    for part in parts:
        for rows in part.segment_slices():
            seg = part.segments[int(part.segment[rows.start])]
            key = (float(part.time[rows.start]), seg.sequence_id, seg.run_id)
            pieces.append((key, seg, part, rows))
    pieces.sort(key=lambda item: item[0])
    if not pieces:
        return StarPoints(
            parts[0].picid,
            *(np.array([]) for _ in range(3)),
            np.array([], dtype=np.int64),
            np.array([], dtype=np.int64),
            np.array([], dtype=str),
        )

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name)[r] for _, _, p, r in pieces])

    def joined_mag(name: str) -> np.ndarray | None:
        if all(getattr(p, name) is None for _, _, p, _ in pieces):
            return None
        return np.concatenate(
            [
                np.full(r.stop - r.start, np.nan)
                if getattr(p, name) is None
                else getattr(p, name)[r]
                for _, _, p, r in pieces
            ]
        )

    return StarPoints(
        parts[0].picid,
        joined("time"),
        joined("flux"),
        joined("flux_err"),
        np.repeat(np.arange(len(pieces)), [r.stop - r.start for _, _, _, r in pieces]),
        joined("row"),
        joined("image_id"),
        [seg for _, seg, _, _ in pieces],
        joined_mag("mag"),
        joined_mag("mag_err"),
    )
