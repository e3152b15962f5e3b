"""A camera's gain, read noise, bias and saturation, measured from its calibration frames.

Photon transfer (Janesick, *Photon Transfer*, SPIE 2007): in a flat field the variance of a
pixel is the shot noise of its electrons plus the read noise, so in ADU

    var = S / g + (r / g)**2,    S = mean - bias (ADU), g the gain (e-/ADU), r the read noise (e-).

Differencing two frames taken alike cancels what is fixed in each pixel (pixel response
non-uniformity, vignetting, hot pixels) and doubles the variance. So from a pair of bias
frames ``B1, B2`` and pairs of flats ``F1, F2`` at one or more levels:

- read noise in ADU ``sigma_B = std(B1 - B2) / sqrt(2)``;
- for each flat pair the signal ``S = (mean F1 + mean F2 - mean B1 - mean B2) / 2`` and the
  shot variance ``V = var(F1 - F2) / 2 - sigma_B**2``;
- the gain is ``S / V`` for one pair, and for several the least-squares slope through the
  origin of ``S`` against ``V`` (the photon transfer curve);
- read noise in electrons ``r = g * sigma_B``.

Each Bayer colour plane is measured apart (the flat's level differs per colour) and the
statistics are sigma-clipped (astropy) over a central region, so hot pixels and cosmic rays
do not bias them; the figures of every plane and pair are reported.

Bias is the sigma-clipped mean of the bias frames. Saturation is read from an over-exposed
flat: the white level is the value at which the pixel histogram piles up
(:func:`saturation_from_histogram`). The Bayer phase is read from a flat too: its two green
sites agree (:func:`green_diagonal`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.stats import sigma_clipped_stats

from panoptes_network.frames.camera import bayer_sites

__all__ = [
    "CENTRAL_FRACTION",
    "GREEN_CONTRAST",
    "MIN_PILE_UP_FRACTION",
    "PhotonTransfer",
    "green_diagonal",
    "measure_bias",
    "pattern_diagonal",
    "photon_transfer",
    "saturation_from_histogram",
]

#: Fraction of the frame's width and height measured, about the centre (vignetting is
#: smallest there, and differences cancel it anyway).
CENTRAL_FRACTION = 0.5
#: Clipping of the statistics, in standard deviations.
_SIGMA = 4.0
#: Least fraction of an over-exposed flat's pixels at the highest value for it to be the
#: white level.
MIN_PILE_UP_FRACTION = 0.01


def _central(frame: np.ndarray) -> np.ndarray:
    rows, cols = frame.shape
    dr = int(rows * (1 - CENTRAL_FRACTION) / 4) * 2  # even: keeps the Bayer phase
    dc = int(cols * (1 - CENTRAL_FRACTION) / 4) * 2
    return frame[dr : rows - dr, dc : cols - dc]


def _clipped(values: np.ndarray) -> tuple[float, float]:
    """Return the sigma-clipped mean and variance of ``values``."""
    mean, _, std = sigma_clipped_stats(values, sigma=_SIGMA, maxiters=5)
    return float(mean), float(std) ** 2


@dataclass(frozen=True)
class PhotonTransfer:
    """What a photon transfer measurement found.

    Attributes
    ----------
    gain_e_per_adu : float
        Gain (e-/ADU): the median over the Bayer planes.
    gain_scatter : float
        Relative scatter of the planes' gains (standard deviation over median).
    read_noise_e : float
        Read noise (e- RMS per pixel).
    read_noise_adu : float
        Read noise (ADU).
    bias_adu : float
        Bias of the bias frames (ADU).
    planes : dict
        Per Bayer plane (``R``, ``G1``, ``G2``, ``B``): ``gain``, ``signal_adu`` and
        ``shot_variance_adu2`` of each flat pair.
    """

    gain_e_per_adu: float
    gain_scatter: float
    read_noise_e: float
    read_noise_adu: float
    bias_adu: float
    planes: dict[str, dict[str, Any]] = field(default_factory=dict)


def measure_bias(biases: Sequence[np.ndarray]) -> float:
    """Return the bias level (ADU): the sigma-clipped mean of the bias frames' central region.

    Raises
    ------
    ValueError
        Without a frame.
    """
    if not biases:
        raise ValueError("no bias frame to measure the bias from")
    return float(np.mean([_clipped(_central(b).astype(np.float64))[0] for b in biases]))


def photon_transfer(
    biases: tuple[np.ndarray, np.ndarray],
    flat_pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    pattern: str,
) -> PhotonTransfer:
    """Measure gain and read noise from a pair of bias frames and pairs of flats.

    Parameters
    ----------
    biases : (numpy.ndarray, numpy.ndarray)
        Two bias (or shortest dark) frames, raw ADU, FITS orientation.
    flat_pairs : sequence of (numpy.ndarray, numpy.ndarray)
        Pairs of flats, each pair taken alike, unsaturated, raw ADU.
    pattern : str
        The frames' Bayer pattern (from the upright image's top left).

    Returns
    -------
    PhotonTransfer
        Gain, read noise and bias, with the figures of every plane and pair.

    Raises
    ------
    ValueError
        For frames of different shapes, no flat pair, or flats without signal above the
        bias (the message says which pair).
    """
    first, second = biases
    if not flat_pairs:
        raise ValueError("photon transfer needs at least one pair of flats")
    shapes = {first.shape, second.shape, *(f.shape for pair in flat_pairs for f in pair)}
    if len(shapes) != 1:
        raise ValueError(f"calibration frames of different shapes: {sorted(shapes)}")
    rows = first.shape[0]
    planes: dict[str, dict[str, Any]] = {}
    gains: list[float] = []
    read_adu: list[float] = []
    for colour, (row, col) in bayer_sites(pattern, rows).items():
        sites = (slice(row, None, 2), slice(col, None, 2))
        b1, b2 = (_central(b[sites]).astype(np.float64) for b in (first, second))
        bias_mean = (_clipped(b1)[0] + _clipped(b2)[0]) / 2.0
        read_var = _clipped(b1 - b2)[1] / 2.0
        signals, variances = [], []
        for k, (f1, f2) in enumerate(flat_pairs):
            p1, p2 = (_central(f[sites]).astype(np.float64) for f in (f1, f2))
            signal = (_clipped(p1)[0] + _clipped(p2)[0]) / 2.0 - bias_mean
            shot = _clipped(p1 - p2)[1] / 2.0 - read_var
            if signal <= 0 or shot <= 0:
                raise ValueError(
                    f"flat pair {k}: no signal above the bias in {colour} "
                    f"(signal {signal:.1f} ADU, shot variance {shot:.1f} ADU^2)"
                )
            signals.append(signal)
            variances.append(shot)
        s, v = np.asarray(signals), np.asarray(variances)
        gain = float(np.dot(s, v) / np.dot(v, v))  # least squares of S = g V through 0
        planes[colour] = {
            "gain": gain,
            "signal_adu": [float(x) for x in s],
            "shot_variance_adu2": [float(x) for x in v],
        }
        gains.append(gain)
        read_adu.append(math.sqrt(read_var))
    gain = float(np.median(gains))
    noise_adu = float(np.median(read_adu))
    return PhotonTransfer(
        gain_e_per_adu=gain,
        gain_scatter=float(np.std(gains) / gain),
        read_noise_e=gain * noise_adu,
        read_noise_adu=noise_adu,
        bias_adu=measure_bias([first, second]),
        planes=planes,
    )


def saturation_from_histogram(flat: np.ndarray) -> float | None:
    """Return the white level (ADU) of an over-exposed flat, or None when it does not saturate.

    The white level is the highest value the frame holds when at least
    :data:`MIN_PILE_UP_FRACTION` of its pixels hold it (a pile-up); a frame whose highest
    value is rare has not reached saturation.
    """
    values = np.asarray(flat).ravel()
    if values.size == 0:
        return None
    top = values.max()
    share = np.count_nonzero(values == top) / values.size
    return float(top) if share >= MIN_PILE_UP_FRACTION else None


#: Largest relative difference of the two green sites' levels in a flat, as a fraction of
#: the difference on the other diagonal, for the green diagonal to be decided.
GREEN_CONTRAST = 1.0 / 3.0


def green_diagonal(flat: np.ndarray, bias: float) -> str | None:
    """Return which diagonal of the 2 x 2 Bayer cell holds the green sites in a flat.

    The two green sites of a cell see the same light through the same filter, so in a flat
    their levels agree, while red and blue (on the other diagonal) differ with the colour of
    the twilight sky. This is the Bayer phase as the data shows it: it checks a ``FILTER``
    card against the pixels (a frame flipped or cropped by an odd row or column moves it).

    Parameters
    ----------
    flat : numpy.ndarray
        A flat, raw ADU, FITS orientation (unsaturated).
    bias : float
        The bias level, in ADU.

    Returns
    -------
    str or None
        ``"main"`` (sites ``(0, 0)`` and ``(1, 1)`` of the FITS array), ``"anti"`` (``(0, 1)``
        and ``(1, 0)``), or None when the levels do not tell them apart (the other diagonal's
        sites differ by less than 3 times as much as the green pair, or by under 2 %).
    """
    centre = _central(np.asarray(flat))
    level = {
        (r, c): _clipped(centre[r::2, c::2].astype(np.float64))[0] - bias
        for r in (0, 1)
        for c in (0, 1)
    }

    def contrast(a: tuple[int, int], b: tuple[int, int]) -> float:
        mean = (level[a] + level[b]) / 2.0
        return abs(level[a] - level[b]) / mean if mean > 0 else math.inf

    main, anti = contrast((0, 0), (1, 1)), contrast((0, 1), (1, 0))
    low, high = sorted((main, anti))
    if not math.isfinite(high) or high < 0.02 or low > GREEN_CONTRAST * high:
        return None
    return "main" if main < anti else "anti"


def pattern_diagonal(pattern: str, rows: int) -> str:
    """Return the diagonal (``"main"`` or ``"anti"``) a Bayer pattern puts green on.

    Parameters
    ----------
    pattern : str
        The pattern from the upright image's top left (``"RGGB"``...).
    rows : int
        Rows of the FITS-oriented array (the upright image flipped).

    Returns
    -------
    str
        As :func:`green_diagonal` names them.
    """
    row, col = bayer_sites(pattern, rows)["G1"]
    return "main" if row == col else "anti"
