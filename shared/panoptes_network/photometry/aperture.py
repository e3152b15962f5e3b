"""Vectorised circular-aperture sums and annulus backgrounds on Bayer colour planes.

A raw PANOPTES frame is an RGGB mosaic; in numpy's (row, column) order the colour sites are
R = ``[1::2, 0::2]``, G1 = ``[1::2, 1::2]``, G2 = ``[0::2, 0::2]`` and B = ``[0::2, 1::2]``
(:data:`BAYER_PLANE_OFFSETS`). Photometry of one colour works on its *plane*: the sub-image
of that site, in which plane pixel ``(i, j)`` is frame pixel ``(2 i + row, 2 j + col)``. A frame
position ``(x, y)`` (0-based pixels) is ``((x - col) / 2, (y - row) / 2)`` on the plane
(:func:`plane_coordinates`), and a frame aperture of radius ``r`` is a plane aperture of
radius ``r / 2``. Green photometry sums the G1 and G2 planes.

:func:`aperture_sums` weights each plane pixel (a unit square on the plane) by the exact
area of its overlap with the circle, computed in closed form (:func:`circle_square_overlap`),
the same as photutils ``CircularAperture`` with ``method='exact'``; pixels outside the image
count as zero and are left out of the area. It handles thousands of stars at once with numpy
(no Python loop over stars).

:func:`annulus_values` gathers the plane pixels whose centres lie in an annulus, and
:func:`clipped_background` reduces them to a sigma-clipped mean per star. The clipping is
centred on the median (robust to stars in the annulus); the level is the mean of the pixels
kept, because the median of whole-ADU values is biased by up to 0.5 ADU by the rounding,
which an aperture of ``npix`` pixels multiplies by ``npix``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep
from numpy.typing import ArrayLike

__all__ = [
    "SEP_SMALLEST_RADIUS",
    "ApertureSums",
    "ClippedBackground",
    "annulus_values",
    "aperture_sums",
    "bayer_plane",
    "circle_square_overlap",
    "circle_sums",
    "clipped_background",
    "plane_coordinates",
    "touches",
]


def bayer_plane(pixels: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Return the plane (a strided view) of one Bayer site of a raw frame.

    Parameters
    ----------
    pixels : numpy.ndarray
        The raw frame, shape ``(rows, columns)`` (ADU).
    offset : (int, int)
        ``(row, column)`` offset of the site, from :data:`BAYER_PLANE_OFFSETS`.

    Returns
    -------
    numpy.ndarray
        ``pixels[row::2, column::2]`` (ADU), a view.
    """
    return pixels[offset[0] :: 2, offset[1] :: 2]


def plane_coordinates(
    x: ArrayLike, y: ArrayLike, offset: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Convert frame positions to the coordinates of one Bayer plane.

    Parameters
    ----------
    x, y : array_like
        0-based frame pixel coordinates (pixels; the centre of pixel ``[row, col]`` is
        ``x = col``, ``y = row``).
    offset : (int, int)
        ``(row, column)`` offset of the site.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Plane coordinates (plane pixels, half the frame scale).
    """
    return (
        (np.asarray(x, dtype=float) - offset[1]) / 2.0,
        (np.asarray(y, dtype=float) - offset[0]) / 2.0,
    )


def _quadrant_area(a: np.ndarray, b: np.ndarray, radius: float) -> np.ndarray:
    """Area of ``{0 <= u <= a, 0 <= v <= b}`` inside the circle of ``radius`` at the origin."""
    r2 = radius * radius
    a = np.minimum(a, radius)
    b = np.minimum(b, radius)
    corner = np.sqrt(np.clip(r2 - b * b, 0.0, None))  # where the arc meets v = b

    def primitive(u: np.ndarray) -> np.ndarray:
        ratio = np.clip(u / radius, -1.0, 1.0)
        return 0.5 * (u * np.sqrt(np.clip(r2 - u * u, 0.0, None)) + r2 * np.arcsin(ratio))

    inside = a * a + b * b <= r2
    arc = corner * b + primitive(a) - primitive(np.minimum(corner, a))
    return np.where(inside, a * b, arc)


def _signed_area(u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Signed area of the rectangle from the origin to ``(u, v)`` inside the circle."""
    return np.sign(u) * np.sign(v) * _quadrant_area(np.abs(u), np.abs(v), radius)


def circle_square_overlap(
    x0: ArrayLike, x1: ArrayLike, y0: ArrayLike, y1: ArrayLike, radius: float
) -> np.ndarray:
    """Return the exact area of overlap of rectangles with a circle centred at the origin.

    Parameters
    ----------
    x0, x1, y0, y1 : array_like
        Rectangle edges relative to the circle's centre (``x0 <= x1``, ``y0 <= y1``), in
        the unit of ``radius`` (pixels).
    radius : float
        Circle radius (pixels).

    Returns
    -------
    numpy.ndarray
        Overlap areas (pixels^2), broadcast over the inputs.
    """
    x0, x1, y0, y1 = (np.asarray(v, dtype=float) for v in (x0, x1, y0, y1))
    area = (
        _signed_area(x1, y1, radius)
        - _signed_area(x0, y1, radius)
        - _signed_area(x1, y0, radius)
        + _signed_area(x0, y0, radius)
    )
    return np.clip(area, 0.0, None)


def _boxes(
    shape: tuple[int, int], x: np.ndarray, y: np.ndarray, half: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and in-image mask of square boxes around positions.

    Returns ``rows`` of shape ``(n, size, 1)``, ``cols`` of shape ``(n, 1, size)`` and
    ``inside`` of shape ``(n, size, size)`` with ``size = 2 * half + 1``.
    """
    steps = np.arange(-half, half + 1)
    xi = np.floor(np.nan_to_num(x, nan=-1e6) + 0.5).astype(np.int64)
    yi = np.floor(np.nan_to_num(y, nan=-1e6) + 0.5).astype(np.int64)
    rows = (yi[:, None] + steps)[:, :, None]
    cols = (xi[:, None] + steps)[:, None, :]
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return rows, cols, inside


def _gather(plane: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Plane values on box indices (clipped to the image; mask them with the box's inside)."""
    return plane[np.clip(rows, 0, plane.shape[0] - 1), np.clip(cols, 0, plane.shape[1] - 1)]


@dataclass(frozen=True)
class ApertureSums:
    """Circular-aperture sums on one plane, one entry per position.

    Attributes
    ----------
    total : numpy.ndarray
        Sum of overlap weight times pixel value (unit of the plane, e.g. ADU).
    area : numpy.ndarray
        Sum of the overlap weights of in-image pixels (plane pixels).
    peak : numpy.ndarray
        Largest value of a pixel with a non-zero weight (unit of the plane); ``-inf`` when
        no such pixel is in the image.
    """

    total: np.ndarray
    area: np.ndarray
    peak: np.ndarray


def aperture_sums(plane: np.ndarray, x: ArrayLike, y: ArrayLike, radius: float) -> ApertureSums:
    """Sum a plane in exact circular apertures at many positions at once.

    Parameters
    ----------
    plane : numpy.ndarray
        Image, shape ``(rows, columns)`` (any unit, e.g. ADU).
    x, y : array_like
        Aperture centres in the plane's 0-based pixel coordinates (plane pixels).
    radius : float
        Aperture radius (plane pixels).

    Returns
    -------
    ApertureSums
        Weighted sums, in-image areas and peaks; pixels outside the image count as zero,
        as in photutils ``aperture_photometry(..., method='exact')``.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    half = int(np.ceil(radius + 0.5))
    rows, cols, inside = _boxes(plane.shape, x, y, half)
    dx = cols - x[:, None, None]
    dy = rows - y[:, None, None]
    weights = circle_square_overlap(dx - 0.5, dx + 0.5, dy - 0.5, dy + 0.5, radius)
    weights = np.where(inside, weights, 0.0)
    values = _gather(plane, rows, cols).astype(float)
    total = np.einsum("nij,nij->n", weights, values)
    peak = np.where(weights > 0, values, -np.inf).max(axis=(1, 2))
    return ApertureSums(total=total, area=weights.sum(axis=(1, 2)), peak=peak)


#: Radii up to this (pixels) are not given to sep (see :func:`circle_sums`): a pixel's
#: half-diagonal and a little more.
SEP_SMALLEST_RADIUS = 0.75


def circle_sums(plane: np.ndarray, x: ArrayLike, y: ArrayLike, radius: float) -> ApertureSums:
    """Sum a plane in exact circular apertures with sep (the same sums as :func:`aperture_sums`).

    sep's ``sum_circle`` (``subpix=0``: the exact overlap of each pixel with the circle, in C)
    gives the sums; an aperture that leaves the image (a few stars at the edges) is summed
    again by :func:`aperture_sums`, which also gives its in-image area. Which apertures leave
    the image is decided here, not by sep's truncation flag: sep rounds a box edge in
    ``(-1, 0)`` to pixel 0 and misses a circle that reaches into pixel -1. A radius within
    :data:`SEP_SMALLEST_RADIUS` is summed by :func:`aperture_sums` alone: sep 1.4 counts a
    circle that small centred on a pixel twice.
    The peak is not computed (NaN): see :func:`touches` for saturation.

    Parameters
    ----------
    plane : numpy.ndarray
        Image, shape ``(rows, columns)``, C-contiguous ``float32`` or ``float64`` (any unit,
        e.g. ADU).
    x, y : array_like
        Aperture centres in the plane's 0-based pixel coordinates (plane pixels).
    radius : float
        Aperture radius (plane pixels).

    Returns
    -------
    ApertureSums
        Weighted sums and in-image areas (``peak`` NaN); NaN sums for positions that are not
        finite.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    finite = np.isfinite(x) & np.isfinite(y)
    total = np.full(x.size, np.nan)
    area = np.zeros(x.size)
    if radius <= SEP_SMALLEST_RADIUS:
        exact = aperture_sums(plane, x[finite], y[finite], radius)
        total[finite], area[finite] = exact.total, exact.area
    elif finite.any():
        sums, _, _ = sep.sum_circle(plane, x[finite], y[finite], radius, subpix=0)
        total[finite] = sums
        area[finite] = np.pi * radius * radius
        rows, cols = plane.shape
        with np.errstate(invalid="ignore"):
            leaves = (
                (x - radius < -0.5)
                | (x + radius > cols - 0.5)
                | (y - radius < -0.5)
                | (y + radius > rows - 0.5)
            )
        edge = np.flatnonzero(finite & leaves)
        if edge.size:
            exact = aperture_sums(plane, x[edge], y[edge], radius)
            total[edge], area[edge] = exact.total, exact.area
    return ApertureSums(total=total, area=area, peak=np.full(x.size, np.nan))


def touches(mask: np.ndarray, x: ArrayLike, y: ArrayLike, radius: float) -> np.ndarray:
    """Whether a circular aperture overlaps any pixel of a mask (e.g. saturated pixels).

    A pixel overlaps the circle when the point of its unit square nearest the centre is
    strictly within ``radius``: exactly the pixels whose overlap area with the circle is not
    zero (:func:`circle_square_overlap`, decided without its rounding).

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean image, shape ``(rows, columns)``.
    x, y : array_like
        Aperture centres in the image's 0-based pixel coordinates (pixels).
    radius : float
        Aperture radius (pixels).

    Returns
    -------
    numpy.ndarray
        Boolean per position (False for positions that are not finite or off the image).
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    rows, cols, inside = _boxes(mask.shape, x, y, int(np.ceil(radius + 0.5)))
    near_x = np.clip(np.abs(cols - x[:, None, None]) - 0.5, 0.0, None)
    near_y = np.clip(np.abs(rows - y[:, None, None]) - 0.5, 0.0, None)
    overlaps = inside & (near_x * near_x + near_y * near_y < radius * radius)
    return (overlaps & _gather(mask, rows, cols)).any(axis=(1, 2))


def _annulus_offsets(r_in: float, r_out: float) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets, from the pixel nearest a position, that may lie in its annulus.

    The nearest pixel is at most half a pixel from the position along each axis, so a pixel
    can be in the annulus only if its offset from that pixel is within ``sqrt(1/2)`` of the
    radii: the rest of the square box around the annulus is never gathered.
    """
    reach = int(np.ceil(r_out + 0.5))
    steps = np.arange(-reach, reach + 1)
    rows, cols = np.meshgrid(steps, steps, indexing="ij")
    distance = np.hypot(rows, cols)
    margin = np.sqrt(0.5)
    keep = (distance >= r_in - margin) & (distance < r_out + margin)
    return rows[keep], cols[keep]


def annulus_values(
    plane: np.ndarray, x: ArrayLike, y: ArrayLike, r_in: float, r_out: float
) -> np.ndarray:
    """Gather the plane pixels whose centres lie in an annulus, per position.

    Parameters
    ----------
    plane : numpy.ndarray
        Image, shape ``(rows, columns)`` (any unit).
    x, y : array_like
        Annulus centres in plane coordinates (plane pixels).
    r_in, r_out : float
        Inner and outer radii (plane pixels); a pixel is in when
        ``r_in <= distance < r_out``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, m)`` floats (unit of the plane), NaN for slots outside the annulus or
        the image; ``m`` is the number of pixel offsets that can fall in an annulus of these
        radii (about its area plus its rim), the same for every position.
    """
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    row_steps, col_steps = _annulus_offsets(r_in, r_out)
    xi = np.floor(np.nan_to_num(x, nan=-1e6) + 0.5).astype(np.int64)
    yi = np.floor(np.nan_to_num(y, nan=-1e6) + 0.5).astype(np.int64)
    rows = yi[:, None] + row_steps
    cols = xi[:, None] + col_steps
    inside = (rows >= 0) & (rows < plane.shape[0]) & (cols >= 0) & (cols < plane.shape[1])
    distance2 = (cols - x[:, None]) ** 2 + (rows - y[:, None]) ** 2
    keep = inside & (distance2 >= r_in * r_in) & (distance2 < r_out * r_out)
    return np.where(keep, _gather(plane, rows, cols).astype(float), np.nan)


@dataclass(frozen=True)
class ClippedBackground:
    """Sigma-clipped background per position.

    Attributes
    ----------
    level : numpy.ndarray
        Mean of the kept pixels (unit of the input); NaN when none.
    scatter : numpy.ndarray
        Standard deviation of the kept pixels (unit of the input).
    count : numpy.ndarray
        Number of kept pixels.
    """

    level: np.ndarray
    scatter: np.ndarray
    count: np.ndarray


def clipped_background(
    values: np.ndarray, *, sigma: float = 3.0, iterations: int = 5
) -> ClippedBackground:
    """Sigma-clip each row around its median and return the mean of what is kept.

    Parameters
    ----------
    values : numpy.ndarray
        Shape ``(n, m)``, NaN for missing entries (any unit).
    sigma : float, optional
        Clipping half-width, in standard deviations of the currently kept pixels.
    iterations : int, optional
        Maximum number of clipping passes.

    Returns
    -------
    ClippedBackground
        Level, scatter and count of kept pixels per row.

    Notes
    -----
    Rows are sorted once; the kept pixels are then always a contiguous run of the sorted row,
    so each pass is a few cumulative-sum lookups and two binary searches per row (all rows in
    one :func:`numpy.searchsorted` over the rows laid end to end in disjoint bands of values),
    vectorised over all rows.
    """
    ordered = np.sort(values, axis=1)  # NaN last
    n, m = ordered.shape
    index = np.arange(n)
    missing = np.isnan(ordered)
    n_valid = m - np.count_nonzero(missing, axis=1)
    lo = np.zeros(n, dtype=np.int64)
    hi = n_valid.copy()
    reference = np.nan_to_num(ordered[index, np.maximum(hi - 1, 0) // 2])
    shifted = ordered - reference[:, None]
    shifted[missing] = 0.0
    zero = np.zeros((n, 1))
    sums = np.concatenate([zero, np.cumsum(shifted, axis=1)], axis=1)
    squares = np.concatenate([zero, np.cumsum(shifted * shifted, axis=1)], axis=1)
    # Each row's values in a band of its own, missing slots at the band's top: a threshold
    # clipped into the band counts a row's values below it with one search over all rows.
    half = float(np.abs(shifted).max(initial=0.0)) + 1.0
    band = 2.0 * half + 1.0
    keys = np.where(missing, half - 0.5, shifted) + (index * band)[:, None]
    keys = keys.ravel()
    start = index * m

    def count_below(threshold: np.ndarray, side: str) -> np.ndarray:
        """Values of each row below ``threshold`` (``side="right"``: at or below)."""
        bounded = np.clip(np.nan_to_num(threshold), -half, half - 1.0) + index * band
        return np.searchsorted(keys, bounded, side=side) - start

    def moments(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        count = hi - lo
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = (sums[index, hi] - sums[index, lo]) / count
            var = (squares[index, hi] - squares[index, lo]) / count - mean * mean
        return count, mean, np.sqrt(np.clip(var, 0.0, None))

    for _ in range(iterations):
        count, _, std = moments(lo, hi)
        last = np.maximum(count - 1, 0)
        median = 0.5 * (shifted[index, lo + last // 2] + shifted[index, lo + (last + 1) // 2])
        below = count_below(median - sigma * std, "left")
        within = count_below(median + sigma * std, "right")
        new_lo = np.where(count > 0, np.maximum(lo, below), lo)
        new_hi = np.where(count > 0, np.minimum(hi, within), hi)
        if np.array_equal(new_lo, lo) and np.array_equal(new_hi, hi):
            break
        lo, hi = new_lo, new_hi
    count, mean, std = moments(lo, hi)
    level = np.where(count > 0, mean + reference, np.nan)
    return ClippedBackground(level=level, scatter=np.where(count > 0, std, np.nan), count=count)
