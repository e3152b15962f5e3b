"""Star widths (FWHM) on a raw PANOPTES Bayer frame, from adaptive Gaussian-weighted moments.

:func:`star_fwhm` measures the full width at half maximum of many stars at once (numpy, no
Python loop over stars) in the *green* light, in *full-resolution frame pixels*. It uses the
pixels of both green Bayer sites (G1 and G2: a checkerboard, half the pixels of the frame) at
their true frame positions, so the result is on the frame's pixel scale, not the superpixel's.

For each star, in a square window reaching ``window`` frame pixels (rounded up to even)
from its position, the background-subtracted green values ``I`` are weighted by a round
Gaussian ``w`` of variance ``s_w^2`` centred at ``c``. For a Gaussian star of variance
``s^2`` (per axis) the weighted values ``w I`` are a Gaussian of variance
``s_m^2 = s^2 s_w^2 / (s^2 + s_w^2)``, so the measured weighted second moment ``s_m^2``
(the mean of the two axes about the weighted centroid ``m``) gives
``s^2 = 1 / (1 / s_m^2 - 1 / s_w^2)`` exactly, and the star's centre is
``c + (m - c) (s^2 + s_w^2) / s_w^2``. Iterating with ``s_w = 2 s`` and ``c`` at that centre
(adaptive moments) makes the estimate insensitive to the window's edge, to the noise far from
the star and to the starting position. A weight twice as wide as the star (rather than
matched) keeps the sampling error of the half-density green lattice small for sharp stars
(FWHM ~ 2 px) and amplifies moment errors by 1.6 instead of 4. The pixels are integrals
over unit squares, which add ``1 / 12`` pixel^2 to a Gaussian's variance; that is taken off,
and ``FWHM = 2 sqrt(2 ln 2) s`` (for an elliptical star, ``s^2`` is the mean of the two axes'
variances).

A star gets NaN when it cannot be measured: a window pixel off the frame, a position that is
not finite, no positive weighted signal, or moments that do not converge to a plausible
width. Saturated and faint stars are left out by the caller
(:func:`.frame_photometry.measure_frame`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from panoptes_network.photometry.aperture import bayer_plane, plane_coordinates

__all__ = ["DEFAULT_WIDTH_WINDOW", "SIGMA_TO_FWHM", "star_fwhm"]

#: FWHM = SIGMA_TO_FWHM * sigma for a Gaussian.
SIGMA_TO_FWHM: float = float(2.0 * np.sqrt(2.0 * np.log(2.0)))
#: Default half-size of the measurement window (frame pixels): enough for a FWHM up to ~8 px.
#: The measure-sources step sets it from the sky (``MeasureOptions.width_window_arcsec``).
DEFAULT_WIDTH_WINDOW: int = 10
_PIXEL_VARIANCE = 1.0 / 12.0  # variance added by integrating over a unit pixel (pixel^2)
# The sizes of the star on the frame scale with the window (3, 6 and 2 frame pixels for the
# default window of 10): a window set from the sky carries them to another pixel scale.
_START_SIGMA_PER_WINDOW = 0.3  # first weight sigma: wide enough for defocused stars
_MAX_SIGMA_PER_WINDOW = 0.6  # largest plausible Gaussian sigma
_MAX_SHIFT_PER_WINDOW = 0.2  # default largest distance of the refined centre
_WEIGHT_SCALE = 2.0  # weight sigma over the star's: less aliasing and noise gain than 1
_MIN_SIGMA = 0.3  # smallest plausible Gaussian sigma (frame pixels): the detector's sampling


def _green_samples(
    pixels: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    window: int,
    green_offsets: tuple[tuple[int, int], ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Green pixel values and their offsets from ``(x, y)`` (frame pixels) in a square window.

    Returns values, ``dx``, ``dy`` (each ``(n, m)``) and whether every window pixel of the
    star is on the frame (``(n,)``).
    """
    half = (window + 1) // 2
    steps = np.arange(-half, half + 1)
    values, dxs, dys, inside = [], [], [], np.ones(x.size, dtype=bool)
    for offset in green_offsets:
        plane = bayer_plane(pixels, offset)
        px, py = plane_coordinates(x, y, offset)
        cols = (np.floor(px + 0.5).astype(np.int64)[:, None] + steps)[:, None, :]
        rows = (np.floor(py + 0.5).astype(np.int64)[:, None] + steps)[:, :, None]
        inside &= (
            (rows[:, 0, 0] >= 0)
            & (rows[:, -1, 0] < plane.shape[0])
            & (cols[:, 0, 0] >= 0)
            & (cols[:, 0, -1] < plane.shape[1])
        )
        gathered = plane[
            np.clip(rows, 0, plane.shape[0] - 1), np.clip(cols, 0, plane.shape[1] - 1)
        ].astype(np.float32)
        dx = np.broadcast_to(
            (2.0 * cols + offset[1] - x[:, None, None]).astype(np.float32), gathered.shape
        )
        dy = np.broadcast_to(
            (2.0 * rows + offset[0] - y[:, None, None]).astype(np.float32), gathered.shape
        )
        values.append(gathered.reshape(x.size, -1))
        dxs.append(dx.reshape(x.size, -1))
        dys.append(dy.reshape(x.size, -1))
    return np.hstack(values), np.hstack(dxs), np.hstack(dys), inside


def star_fwhm(
    pixels: np.ndarray,
    x: ArrayLike,
    y: ArrayLike,
    background: ArrayLike,
    *,
    green_offsets: tuple[tuple[int, int], ...],
    window: int = DEFAULT_WIDTH_WINDOW,
    iterations: int = 6,
    max_shift: float | None = None,
) -> np.ndarray:
    """Measure the FWHM of stars in the green light of a raw Bayer frame.

    Parameters
    ----------
    pixels : numpy.ndarray
        Raw Bayer frame, shape ``(rows, columns)`` (ADU).
    x, y : array_like
        Star positions, 0-based frame coordinates (frame pixels); the centre is refined.
    background : array_like
        Local level of a green pixel per star (ADU, bias included), e.g. the annulus level.
    green_offsets : tuple of (int, int)
        ``(row, column)`` offsets of the two green sites in the 2 x 2 cell
        (:func:`~panoptes_network.frames.camera.plane_offsets` of the frame's Bayer pattern,
        its ``"g"`` entry).
    window : int, optional
        Half-size of the square window of pixels used (frame pixels, at least 1). The first
        weight's sigma (``0.3 window``) and the largest plausible sigma (``0.6 window``) scale
        with it; the smallest plausible sigma (0.3 frame pixels) does not.
    iterations : int, optional
        Passes of the adaptive weighting.
    max_shift : float, optional
        Largest distance of the refined centre from ``(x, y)`` (frame pixels); beyond it the
        star gets NaN (a neighbour dominates the window). Default: ``0.2 window``.

    Returns
    -------
    numpy.ndarray
        FWHM per star (full-resolution frame pixels), ``float32``; NaN where it could not be
        measured.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 frame pixel, not {window}")
    if max_shift is None:
        max_shift = _MAX_SHIFT_PER_WINDOW * window
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    background = np.broadcast_to(np.asarray(background, dtype=float), x.shape)
    fwhm = np.full(x.size, np.nan, dtype=np.float32)
    usable = np.isfinite(x) & np.isfinite(y) & np.isfinite(background)
    if not usable.any():
        return fwhm
    index = np.flatnonzero(usable)
    values, dx, dy, inside = _green_samples(pixels, x[index], y[index], window, green_offsets)
    # The sums run in float32 (the windows' arrays are most of the cost); each star's
    # moments are accumulated over about 240 pixels, far from float32's rounding.
    signal = values - background[index, None].astype(np.float32)

    n = index.size
    cx, cy = np.zeros(n), np.zeros(n)
    weight_var = np.full(n, (_START_SIGMA_PER_WINDOW * window) ** 2)
    star_var = np.full(n, np.nan)
    ok = inside.copy()
    low, high = _MIN_SIGMA * _MIN_SIGMA, (_MAX_SIGMA_PER_WINDOW * window) ** 2
    for _ in range(iterations):
        ux = dx - cx[:, None].astype(np.float32)
        uy = dy - cy[:, None].astype(np.float32)
        inverse = (-0.5 / weight_var[:, None]).astype(np.float32)
        weighted = signal * np.exp((ux * ux + uy * uy) * inverse)
        total = weighted.sum(axis=1, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            mx = (weighted * ux).sum(axis=1, dtype=np.float64) / total
            my = (weighted * uy).sum(axis=1, dtype=np.float64) / total
            spread = (ux - mx[:, None].astype(np.float32)) ** 2 + (
                uy - my[:, None].astype(np.float32)
            ) ** 2
            second = (weighted * spread).sum(axis=1, dtype=np.float64) / total / 2.0
            star_var = 1.0 / (1.0 / second - 1.0 / weight_var)
        ok &= (total > 0) & (second > 0) & (second < weight_var) & np.isfinite(star_var)
        star_var = np.where(ok, np.clip(star_var, low, high), np.nan)
        step = np.where(ok, (star_var + weight_var) / weight_var, 0.0)
        cx = cx + np.nan_to_num(mx) * step
        cy = cy + np.nan_to_num(my) * step
        weight_var = np.where(ok, _WEIGHT_SCALE**2 * star_var, weight_var)
    ok &= (np.hypot(cx, cy) <= max_shift) & (star_var > low) & (star_var < high)
    sigma2 = star_var - _PIXEL_VARIANCE
    ok &= sigma2 > 0
    with np.errstate(invalid="ignore"):
        fwhm[index] = np.where(ok, SIGMA_TO_FWHM * np.sqrt(sigma2), np.nan)
    return fwhm
