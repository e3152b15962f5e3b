"""Robust statistics of light-curve arrays, vectorised over stars (columns), NaN-aware.

Used by the differential photometry of :mod:`.ensemble`: a median
by sorting (faster than numpy's for the short time axis of one observation), each column over
its median, the robust standard deviation (1.4826 times the median absolute deviation) and
the points far from their column's median.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAD_TO_SIGMA",
    "isolated_outliers",
    "nanmedian",
    "normalised",
    "outliers",
    "robust_sigma",
    "running_median",
    "standardised",
]

#: Median absolute deviation to standard deviation, for a normal distribution.
MAD_TO_SIGMA = 1.4826


def nanmedian(values: np.ndarray, axis: int = 0, keepdims: bool = False) -> np.ndarray:
    """Median along an axis ignoring NaN, by sorting (faster than numpy's for short axes)."""
    ordered = np.sort(values, axis=axis)  # NaN sort last
    count = np.sum(~np.isnan(values), axis=axis, keepdims=True)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0), axis=axis)
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0), axis=axis)
    median = np.where(count > 0, 0.5 * (low + high), np.nan)
    return median if keepdims else np.squeeze(median, axis=axis)


def normalised(values: np.ndarray) -> np.ndarray:
    """Each column over its median (NaN-aware)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return values / nanmedian(values, axis=0)


def robust_sigma(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """1.4826 times the median absolute deviation, ignoring NaN."""
    centre = nanmedian(values, axis=axis, keepdims=True)
    return MAD_TO_SIGMA * nanmedian(np.abs(values - centre), axis=axis)


def standardised(values: np.ndarray) -> np.ndarray:
    """Columns centred on their median and scaled by their standard deviation (NaN -> 0)."""
    centred = values - nanmedian(values, axis=0)
    scale = np.nanstd(centred, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return np.nan_to_num(centred / scale)


def outliers(flux: np.ndarray, clip_sigma: float) -> np.ndarray:
    """Points more than ``clip_sigma`` robust sigmas from their column's median."""
    centre = nanmedian(flux, axis=0)
    sigma = robust_sigma(flux)
    with np.errstate(invalid="ignore"):
        return np.abs(flux - centre) > clip_sigma * sigma


def running_median(values: np.ndarray, window: int, *, include_centre: bool = True) -> np.ndarray:
    """Median of each point's neighbourhood in time (axis 0), ignoring NaN.

    Parameters
    ----------
    values : numpy.ndarray
        Shape (n_frames, n_stars).
    window : int
        Odd number of consecutive points, centred on each point (fewer at the ends).
    include_centre : bool
        Whether the point itself is part of its window. Without it, a point's residual from
        the median is independent of the point's own noise (never exactly zero).

    Returns
    -------
    numpy.ndarray
        Same shape; NaN where the whole window is NaN.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window {window} must be a positive odd number of points")
    half = window // 2
    padded = np.pad(values, [(half, half)] + [(0, 0)] * (values.ndim - 1), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0)
    if not include_centre:
        windows = np.delete(windows, half, axis=-1)
    return nanmedian(windows, axis=-1)


def isolated_outliers(flux: np.ndarray, clip_sigma: float, window: int = 5) -> np.ndarray:
    """Points far from their neighbours in time: spikes, never a coherent dip or bump.

    A point is an outlier when it lies more than ``clip_sigma`` robust sigmas from the running
    median of the ``window`` points centred on it. A transit, or any change that lasts at
    least ``window // 2 + 1`` consecutive points, carries that median with it, so its points
    are kept; a spike of one or two points does not. The sigma is the column's robust scatter
    of each point about the median of its neighbours with the point itself left out (a point
    that is its own median would leave a zero and bias the scatter low).

    Parameters
    ----------
    flux : numpy.ndarray
        Light curves, shape (n_frames, n_stars), NaN where missing.
    clip_sigma : float
        Threshold, in robust sigmas.
    window : int
        Points of the running median (odd, at least 3).

    Returns
    -------
    numpy.ndarray
        Boolean, same shape; False where ``flux`` is NaN.
    """
    if window < 3:
        raise ValueError(f"window {window} must be at least 3 points")
    residual = flux - running_median(flux, window)
    sigma = robust_sigma(flux - running_median(flux, window, include_centre=False))
    with np.errstate(invalid="ignore"):
        return np.abs(residual) > clip_sigma * sigma
