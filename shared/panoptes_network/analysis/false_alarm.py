"""False-alarm thresholds from a star's own data: copies that keep its red noise.

A detection is significant when its search's peak statistic is above the 99th percentile of
the same search's peak over copies of the star's own light curve that hold no signal but keep
its noise, red noise included (the :class:`~.config.Analysis` asks for at least 200):

- periodic search (BLS across observations): each run's points are circularly shifted in time
  by a random number of points of their own (:func:`segment_shifts`). Within a run the noise,
  and its correlations, are unchanged; between runs the phases of any periodic signal are
  scrambled, so a coherent period is no longer there.
- single-event and flare scans: a circular shift moves a single event but cannot remove it (the
  scan finds it wherever it lands), so the copies shift every Fourier component of each run's
  whitened residuals by a random phase instead (:func:`phase_surrogates`, the phase
  randomisation of Theiler et al. 1992): the same power spectrum, so the same red noise, but an
  event's power spread over the whole run. The residuals are the data less the scan's best
  event, so a strong real event does not inflate its own threshold.

:func:`threshold` is the percentile, taken as the copy at or above it (numpy's ``higher``
method); :func:`false_alarm_probability` is ``(1 + k) / (1 + n)`` for ``k`` of ``n`` copies at
or above the statistic. With 299 copies (the default) the 99th percentile is the third-highest
copy, and a signal-free star whose copies are exchangeable with its data is above it when it is
among the top three of 300 values: with probability 3 / 300 = 1 % exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = [
    "false_alarm_probability",
    "phase_surrogates",
    "segment_shifts",
    "stop_count",
    "threshold",
]


def phase_surrogates(
    residual: np.ndarray,
    weight: np.ndarray,
    slices: list[slice],
    count: int,
    rng: np.random.Generator,
    *,
    power_of: np.ndarray | None = None,
) -> np.ndarray:
    """Return ``count`` phase-randomised copies of a light curve's residuals.

    Parameters
    ----------
    residual : numpy.ndarray
        The residual flux (data less a model), shape (n,).
    weight : numpy.ndarray
        Inverse variances, shape (n,): each run is whitened by ``sqrt(weight)`` before its
        phases are drawn (a cloudy frame's large error stays with its frame) and coloured back.
    slices : list of slice
        The runs: each is randomised on its own (no power moves between runs).
    count : int
        Copies.
    rng : numpy.random.Generator
        The random numbers (seeded by the caller: the same star gives the same copies).
    power_of : numpy.ndarray, optional
        A light curve whose whitened power (per run) the copies are scaled to: the spectrum's
        shape is the residual's, its total the data's.

    Returns
    -------
    numpy.ndarray
        Shape (count, n).
    """
    residual = np.asarray(residual, dtype=float)
    out = np.empty((count, residual.size))
    for part in slices:
        w = weight[part]
        root = np.sqrt(w)
        mean = float(np.sum(w * residual[part]) / np.sum(w))
        z = (residual[part] - mean) * root
        n = z.size
        if power_of is not None and n >= 3:
            data = np.asarray(power_of[part], dtype=float)
            target = (data - float(np.sum(w * data) / np.sum(w))) * root
            own = float(np.sum(z * z))
            if own > 0:
                z = z * np.sqrt(float(np.sum(target * target)) / own)
        if n < 3:
            out[:, part] = residual[part]
            continue
        spectrum = np.fft.rfft(z)
        phases = rng.uniform(0.0, 2.0 * np.pi, (count, spectrum.size))
        phases[:, 0] = np.angle(spectrum[0])  # the whitened mean keeps its sign
        if n % 2 == 0:
            phases[:, -1] = np.where(rng.random(count) < 0.5, 0.0, np.pi)
        randomised = np.fft.irfft(np.abs(spectrum) * np.exp(1j * phases), n=n, axis=1)
        out[:, part] = mean + randomised / root
    return out


def segment_shifts(
    flux: np.ndarray,
    error: np.ndarray,
    slices: list[slice],
    count: int,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``count`` copies with each run circularly shifted by its own random amount.

    Parameters
    ----------
    flux, error : numpy.ndarray
        The light curve and its errors (an error moves with its point).
    slices : list of slice
        The runs.
    count : int
        Copies.
    rng : numpy.random.Generator
        The random numbers.

    Yields
    ------
    (numpy.ndarray, numpy.ndarray)
        Each copy's fluxes and errors, at the original times (made when asked for: a search
        that stops early makes no more).
    """
    for _ in range(count):
        new_flux, new_error = flux.copy(), error.copy()
        for part in slices:
            n = part.stop - part.start
            if n > 1:
                shift = int(rng.integers(1, n))
                new_flux[part] = np.roll(flux[part], shift)
                new_error[part] = np.roll(error[part], shift)
        yield new_flux, new_error


def threshold(peaks: np.ndarray, percentile: float = 99.0) -> float:
    """Return the percentile of the copies' peak statistics (NaN copies not run left out)."""
    values = np.asarray(peaks, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan")
    return float(np.percentile(values, percentile, method="higher"))


def false_alarm_probability(statistic: float, peaks: np.ndarray) -> float:
    """Return ``(1 + k) / (1 + n)``: ``k`` of the ``n`` copies run reach the statistic."""
    values = np.asarray(peaks, dtype=float)
    values = values[~np.isnan(values)]
    return float((1 + np.count_nonzero(values >= statistic)) / (1 + values.size))


def stop_count(copies: int, percentile: float = 99.0) -> int:
    """Return how many copies at or above a statistic settle that it is not above the percentile.

    With ``n`` copies sorted ascending, the percentile (:func:`threshold`) is the copy of rank
    ``ceil(p (n - 1))``; once ``n - ceil(p (n - 1))`` copies reach the statistic, the
    percentile is at least the statistic, whatever the other copies give.
    """
    return copies - int(np.ceil(percentile / 100.0 * (copies - 1) - 1e-9))
