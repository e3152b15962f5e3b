"""Robust statistics of light-curve arrays, vectorised over stars (columns), NaN-aware.

Used by the differential photometry of :mod:`.ensemble`: a median
by sorting (faster than numpy's for the short time axis of one observation), each column over
its median, the robust standard deviation (1.4826 times the median absolute deviation) and
the points far from their column's median.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAD_TO_SIGMA", "nanmedian", "normalised", "outliers", "robust_sigma", "standardised"]

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
