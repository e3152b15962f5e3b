"""Reject bad frames of one observation before differential photometry.

Input: the per-frame photometry tables of one observation (contract in
:mod:`.ensemble`). A frame is rejected, with every reason that
applies (:data:`REASONS`), when:

- ``flagged``: its metadata marks it bad (``table.meta["bad"]`` true);
- ``too_few_stars``: fewer than ``min_stars`` stars have a usable (unflagged, positive) flux
  in the reference colour;
- ``clouds``: the median over stars of the ratio of its fluxes to each star's median flux
  across all frames is below ``cloud_threshold`` (default 0.7: 30 % of the light lost).
  Only stars measured in at least half the frames count; the median makes this robust to
  variable stars, outliers and a few bad measurements;
- ``poor_focus``: the frame's median star width (``width_column``, default ``fwhm``: FWHM in
  full-resolution pixels, :mod:`panoptes_network.photometry.sources_table`) over its good stars
  (usable as above, width measured) is above ``focus_threshold`` (default 1.5) times the
  observation's median (the median of the frames' medians). A frame without any measured width (a
  sources table of schema version 1 has none: the reader fills NaN) is not tested, and a note says
  how many frames were not; when no frame has widths the test is skipped with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from astropy.table import Table

from panoptes_network.lightcurves.stacking import TIME_KEY, stack_frames
from panoptes_network.photometry.flags import DEFAULT_BAD_FLAGS

__all__ = ["REASONS", "FrameQuality", "RejectedFrame", "assess_frames"]

#: Reasons a frame can be rejected for.
REASONS: tuple[str, ...] = ("flagged", "too_few_stars", "clouds", "poor_focus")


@dataclass(frozen=True)
class RejectedFrame:
    """A rejected frame.

    Attributes
    ----------
    index : int
        Its position in the input.
    image_id : str
        Its image id (metadata; empty when missing).
    reasons : tuple of str
        From :data:`REASONS`, each with a short detail after a colon.
    """

    index: int
    image_id: str
    reasons: tuple[str, ...]


@dataclass
class FrameQuality:
    """Frames kept and rejected.

    Attributes
    ----------
    kept : list of astropy.table.Table
        The good frames, in input order.
    rejected : list of RejectedFrame
        The others, with reasons.
    transparency : numpy.ndarray
        Per input frame, the median flux ratio to the stars' medians (NaN when not measured).
    notes : list of str
        Tests skipped and why.
    """

    kept: list[Table]
    rejected: list[RejectedFrame]
    transparency: np.ndarray
    notes: list[str] = field(default_factory=list)


def assess_frames(
    tables: Sequence[Table],
    *,
    min_stars: int = 50,
    cloud_threshold: float = 0.7,
    focus_threshold: float = 1.5,
    colour: str = "g",
    width_column: str = "fwhm",
    bad_flags: int = DEFAULT_BAD_FLAGS,
) -> FrameQuality:
    """Sort the frames of one observation into kept and rejected.

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        Per-frame photometry, one table per image.
    min_stars : int
        Fewest usable stars in a good frame.
    cloud_threshold : float
        Lowest median flux ratio (to the stars' medians) of a good frame.
    focus_threshold : float
        Largest median width of a good frame, over the median across frames.
    colour : str
        Reference colour (r, g or b).
    width_column : str
        Column of star widths (pixels); frames without it or without a finite width are
        not tested for focus.
    bad_flags : int
        Flag bits that make a measurement unusable.

    Returns
    -------
    FrameQuality
        Kept frames, rejected frames with reasons, transparency and notes.
    """
    tables = list(tables)
    n = len(tables)
    reasons: list[list[str]] = [[] for _ in range(n)]
    notes: list[str] = []
    widths = np.full(n, np.nan)
    for i, table in enumerate(tables):
        if table.meta.get("bad"):
            reasons[i].append("flagged: metadata marks the frame bad")
        flux = np.asarray(table[f"flux_{colour}"], dtype=float)
        flags = np.asarray(table["flags"], dtype=np.int64)
        good = np.isfinite(flux) & (flux > 0) & ((flags & bad_flags) == 0)
        usable = int(np.sum(good))
        if width_column in table.colnames:
            star_widths = np.asarray(table[width_column], dtype=float)[good]
            star_widths = star_widths[np.isfinite(star_widths) & (star_widths > 0)]
            if star_widths.size:
                widths[i] = np.median(star_widths)
        if usable < min_stars:
            reasons[i].append(f"too_few_stars: {usable} < {min_stars}")

    transparency = np.full(n, np.nan)
    if n:
        # stack in input order: give each frame its index as time so nothing is reordered
        indexed = [_with_index_time(t, i) for i, t in enumerate(tables)]
        stack = stack_frames(indexed, colours=(colour,), min_coverage=0.5, bad_flags=bad_flags)
        fluxes = stack.flux[colour]
        if fluxes.shape[1]:
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = fluxes / np.nanmedian(fluxes, axis=0)
            counts = np.isfinite(ratio).sum(axis=1)
            medians = np.nanmedian(np.where(counts[:, None] > 0, ratio, 1.0), axis=1)
            transparency = np.where(counts > 0, medians, np.nan)
        for i in np.flatnonzero(transparency < cloud_threshold):
            reasons[i].append(f"clouds: flux ratio {transparency[i]:.2f} < {cloud_threshold}")

    measured = np.isfinite(widths)
    if measured.any():
        typical = float(np.median(widths[measured]))
        for i in np.flatnonzero(measured & (widths > focus_threshold * typical)):
            reasons[i].append(
                f"poor_focus: median FWHM {widths[i]:.2f} px is {widths[i] / typical:.2f} x "
                f"the observation's median ({typical:.2f} px; threshold {focus_threshold} x)"
            )
        if not measured.all():
            notes.append(
                f"focus not tested on {n - int(measured.sum())} of {n} frames: no measured "
                f"'{width_column}' of a usable star"
            )
    elif n:
        notes.append(f"focus test skipped: no frame has a measured '{width_column}' column")

    kept = [t for t, r in zip(tables, reasons, strict=True) if not r]
    rejected = [
        RejectedFrame(i, str(tables[i].meta.get("image_id", "")), tuple(r))
        for i, r in enumerate(reasons)
        if r
    ]
    return FrameQuality(kept, rejected, transparency, notes)


def _with_index_time(table: Table, index: int) -> Table:
    """Return a shallow copy of a table whose metadata time is its input position."""
    copy = Table(table, copy=False)
    copy.meta = {**table.meta, TIME_KEY: float(index)}
    return copy
