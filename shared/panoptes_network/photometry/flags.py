"""Quality flags of a per-frame source measurement, as a bit mask.

A source's ``flags`` column is the bitwise OR of :class:`SourceFlag` values (0 = clean):

- ``SATURATED`` (1): a pixel with a non-zero aperture weight is at or above the saturation
  level (ADU) in any colour;
- ``NEAR_EDGE`` (2): the aperture or the background annulus extends past the frame;
- ``CONTAMINATED`` (4): a catalog neighbour within ``2 * aperture_radius`` pixels is at most
  ``2.5`` mag fainter than the star (its flux is at least 10 % of the star's), see
  :func:`contamination_flags`;
- ``OFF_FRAME`` (8): the centre is outside the frame; nothing was measured.
"""

from __future__ import annotations

from enum import IntFlag

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

__all__ = [
    "CONTAMINATION_DELTA_MAG",
    "CONTAMINATION_RADII",
    "DEFAULT_BAD_FLAGS",
    "SourceFlag",
    "contamination_flags",
    "edge_flags",
]

#: A neighbour counts when ``vmag_neighbour < vmag_star + CONTAMINATION_DELTA_MAG`` (mag).
CONTAMINATION_DELTA_MAG: float = 2.5
#: A neighbour counts within this many aperture radii of the star's centre.
CONTAMINATION_RADII: float = 2.0


class SourceFlag(IntFlag):
    """Bits of the ``flags`` column of a sources table."""

    SATURATED = 1
    NEAR_EDGE = 2
    CONTAMINATED = 4
    OFF_FRAME = 8


#: Flags that mask a measurement in light curves: all of them.
DEFAULT_BAD_FLAGS: int = int(
    SourceFlag.SATURATED | SourceFlag.NEAR_EDGE | SourceFlag.CONTAMINATED | SourceFlag.OFF_FRAME
)


def edge_flags(
    x: ArrayLike, y: ArrayLike, shape: tuple[int, int], outer_radius: float
) -> np.ndarray:
    """Return ``OFF_FRAME`` / ``NEAR_EDGE`` bits for positions on a frame.

    Parameters
    ----------
    x, y : array_like
        0-based frame pixel coordinates (pixels).
    shape : (int, int)
        Frame shape ``(rows, columns)`` (pixels).
    outer_radius : float
        Largest radius used around a star, aperture or annulus (pixels).

    Returns
    -------
    numpy.ndarray
        ``int32`` bit masks.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    rows, cols = shape
    low, high_x, high_y = -0.5, cols - 0.5, rows - 0.5
    with np.errstate(invalid="ignore"):
        off = ~((x >= low) & (x < high_x) & (y >= low) & (y < high_y))
        near = (
            (x - outer_radius < low)
            | (x + outer_radius > high_x)
            | (y - outer_radius < low)
            | (y + outer_radius > high_y)
        )
    flags = np.where(off, int(SourceFlag.OFF_FRAME), 0)
    flags |= np.where(near & ~off, int(SourceFlag.NEAR_EDGE), 0)
    return flags.astype(np.int32)


def contamination_flags(
    x: ArrayLike,
    y: ArrayLike,
    vmag: ArrayLike,
    radius: float,
    *,
    delta_mag: float = CONTAMINATION_DELTA_MAG,
) -> np.ndarray:
    """Return ``CONTAMINATED`` bits: a bright enough catalog neighbour is too close.

    Parameters
    ----------
    x, y : array_like
        0-based frame pixel coordinates of all catalog stars (pixels).
    vmag : array_like
        Their V magnitudes (mag); NaN magnitudes never contaminate and are never flagged.
    radius : float
        Neighbour search radius (pixels), typically ``2 * aperture_radius``.
    delta_mag : float, optional
        A neighbour counts when ``vmag_neighbour < vmag_star + delta_mag`` (mag).

    Returns
    -------
    numpy.ndarray
        ``int32`` bit masks.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    vmag = np.asarray(vmag, dtype=float)
    flags = np.zeros(x.size, dtype=np.int32)
    good = np.isfinite(x) & np.isfinite(y) & np.isfinite(vmag)
    if good.sum() < 2:
        return flags
    index = np.flatnonzero(good)
    pairs = cKDTree(np.c_[x[good], y[good]]).query_pairs(radius, output_type="ndarray")
    if pairs.size == 0:
        return flags
    first, second = index[pairs[:, 0]], index[pairs[:, 1]]
    hit = np.zeros(x.size, dtype=bool)
    hit[first[vmag[second] < vmag[first] + delta_mag]] = True
    hit[second[vmag[first] < vmag[second] + delta_mag]] = True
    flags[hit] = int(SourceFlag.CONTAMINATED)
    return flags
