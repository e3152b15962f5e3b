"""Combining calibration frames: a clipped mean about the median, chunk by chunk.

Private to :mod:`.masters`. Each frame is prepared by the caller (``load``), the centre of
every pixel is the median of its usable values, a value further from it than ``clip_sigma``
times its expected noise (``noise``) is rejected, and the master is the mean of the values
kept. The spread of the kept values gives the noise of one frame and of the master per colour.
Rows are combined :data:`CHUNK_ROWS` at a time, so a full frame's stack never sits in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from panoptes_network.frames.camera import bayer_slices

__all__ = [
    "CHUNK_ROWS",
    "COLOURS",
    "Combined",
    "central",
    "clipped_mean",
    "colour_index",
    "colour_values",
    "noise_figures",
]

#: Colours of the per-colour statistics, in order.
COLOURS = ("R", "G", "B")
#: Rows combined at once: bounds memory to a few arrays of n x 128 x 5208.
CHUNK_ROWS = 128


def central(shape: tuple[int, int], fraction: float) -> tuple[slice, slice]:
    """Return the slices of the central ``fraction`` of each side, on even offsets."""
    rows, cols = shape
    dr = int(rows * (1 - fraction) / 4) * 2  # even: keeps the Bayer phase
    dc = int(cols * (1 - fraction) / 4) * 2
    return slice(dr, rows - dr), slice(dc, cols - dc)


def colour_index(pattern: str, shape: tuple[int, int]) -> np.ndarray:
    """Return the colour index (0 R, 1 G, 2 B) of every pixel of a Bayer frame (int8)."""
    index = np.empty(shape, dtype=np.int8)
    for c, name in enumerate(COLOURS):
        for rows, cols in bayer_slices(pattern, shape)[name]:
            index[rows, cols] = c
    return index


def colour_values(image: np.ndarray, pattern: str, colour: str) -> np.ndarray:
    """Return the values of one colour of an image with the Bayer phase of ``pattern``."""
    return np.concatenate(
        [image[rows, cols].ravel() for rows, cols in bayer_slices(pattern, image.shape)[colour]]
    )


@dataclass
class Combined:
    """A combined image and the statistics of what went into it."""

    data: np.ndarray
    per_frame: np.ndarray
    saturated: int
    without_value: int
    residual_sq: np.ndarray  # per colour: sum of squared residuals of kept values
    dof: np.ndarray  # per colour: kept values minus one per pixel
    inverse_count: np.ndarray  # per colour: sum over pixels of 1 / values kept
    pixels: np.ndarray  # per colour: pixels with a value kept


def clipped_mean(
    n: int,
    shape: tuple[int, int],
    colour: np.ndarray,
    load: Callable[[int, int, int], tuple[np.ndarray, np.ndarray | None]],
    noise: Callable[[np.ndarray, int, int], np.ndarray],
    clip_sigma: float,
) -> Combined:
    """Combine ``n`` prepared frames by a clipped mean about the median, chunk by chunk.

    ``load(k, a, b)`` returns rows ``a:b`` of frame ``k`` (float32) and a mask of usable
    values (or None); ``noise(centre, a, b)`` the expected standard deviation of each frame's
    values, shape ``(n or 1, b - a, columns)``.
    """
    rows, cols = shape
    data = np.empty(shape, dtype=np.float32)
    per_frame = np.zeros(n, dtype=np.int64)
    saturated = without = 0
    sums = {name: np.zeros(len(COLOURS)) for name in ("sq", "dof", "inv", "pix")}
    for a in range(0, rows, CHUNK_ROWS):
        b = min(a + CHUNK_ROWS, rows)
        loaded = [load(k, a, b) for k in range(n)]
        values = np.stack([v for v, _ in loaded])
        masks = [m for _, m in loaded]
        usable = (
            np.ones(values.shape, dtype=bool)
            if all(m is None for m in masks)
            else np.stack([np.ones((b - a, cols), dtype=bool) if m is None else m for m in masks])
        )
        saturated += int(usable.size - np.count_nonzero(usable))
        ordered = np.sort(np.where(usable, values, np.nan), axis=0)  # NaNs sort last
        count = usable.sum(axis=0)
        lo = np.clip((count - 1) // 2, 0, n - 1)[None]
        hi = np.clip(count // 2, 0, n - 1)[None]
        centre = 0.5 * (
            np.take_along_axis(ordered, lo, axis=0)[0] + np.take_along_axis(ordered, hi, axis=0)[0]
        )
        sigma = noise(np.nan_to_num(centre), a, b)
        keep = usable & (np.abs(values - centre) <= clip_sigma * sigma)
        kept = keep.sum(axis=0)
        total = np.where(keep, values, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(kept > 0, total / kept, centre)
        data[a:b] = mean
        without += int(np.count_nonzero(kept == 0))
        per_frame += (usable & ~keep).sum(axis=(1, 2))
        residual_sq = np.where(keep, (values - mean) ** 2, 0.0).sum(axis=0)
        tint = colour[a:b].ravel()
        has = kept > 0
        for name, weights in (
            ("sq", residual_sq),
            ("dof", np.clip(kept - 1, 0, None)),
            ("inv", np.where(has, 1.0 / np.maximum(kept, 1), 0.0)),
            ("pix", has),
        ):
            sums[name] += np.bincount(
                tint, weights=np.asarray(weights, dtype=float).ravel(), minlength=len(COLOURS)
            )
    return Combined(
        data, per_frame, saturated, without, sums["sq"], sums["dof"], sums["inv"], sums["pix"]
    )


def noise_figures(combined: Combined, colours: Sequence[int]) -> tuple[float, float]:
    """Return the noise of one frame and of the master, per pixel, over the given colours."""
    idx = list(colours)
    dof = combined.dof[idx].sum()
    pixels = combined.pixels[idx].sum()
    if dof <= 0 or pixels <= 0:
        return math.nan, math.nan
    single = math.sqrt(combined.residual_sq[idx].sum() / dof)
    return single, single * math.sqrt(combined.inverse_count[idx].sum() / pixels)
