"""The point-spread function: a pixel-integrated elliptical Gaussian varying over the field.

The FWHM grows with the square of the distance from the image centre (lens field curvature),
from ``centre_fwhm`` at the centre to ``corner_fwhm`` at the corners, and changes slowly with
time (seeing and focus: two sinusoids of a few percent); it is kept within [2, 3] pixels.
Away from the centre the PSF is elongated along the image axes, ``sigma_x = sigma (1 + e cos
2 phi)`` and ``sigma_y = sigma (1 - e cos 2 phi)`` with ``e`` growing with the square of the
radius and ``phi`` the position angle from the centre: radial along the axes, round on the
diagonals (an axis-aligned Gaussian is separable, so stamps cost two 1-D profiles per star).

Stamps are integrated over pixels exactly: each 1-D profile is the difference of the Gaussian
CDF at pixel edges (``k - 0.5``, ``k + 0.5`` for pixel ``k``; pixel centres are at integer
0-based coordinates, as in astropy's WCS with origin 0), so they sum to 1 up to the tail
beyond the stamp (below 1e-8 for a 17-pixel stamp and FWHM <= 3 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FWHM_TO_SIGMA", "STAMP_HALF", "PsfModel", "erf", "gaussian_profiles"]

#: sigma = FWHM * FWHM_TO_SIGMA for a Gaussian.
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
#: Stamps span ``2 * STAMP_HALF + 1`` pixels on a side.
STAMP_HALF = 8


def erf(x) -> np.ndarray:
    """Return the error function, vectorised (Abramowitz & Stegun 7.1.26, error below 1.5e-7).

    Parameters
    ----------
    x : array_like
        Arguments.

    Returns
    -------
    numpy.ndarray
        erf(x).
    """
    x = np.asarray(x, dtype=float)
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def gaussian_profiles(
    centres: np.ndarray, sigmas: np.ndarray, half: int = STAMP_HALF
) -> tuple[np.ndarray, np.ndarray]:
    """Return pixel-integrated 1-D Gaussian profiles around each centre.

    Parameters
    ----------
    centres : numpy.ndarray
        0-based pixel coordinates of the centres, shape ``(n,)``.
    sigmas : numpy.ndarray
        Gaussian sigmas, in pixels, shape ``(n,)``.
    half : int
        Half-width of the profiles, in pixels.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        First pixel index of each profile (int64, ``(n,)``) and the fractions of the flux in
        each of the ``2 * half + 1`` pixels (float64, ``(n, 2 * half + 1)``).
    """
    centres = np.asarray(centres, dtype=float)
    first = np.rint(centres).astype(np.int64) - half
    edges = first[:, None] + np.arange(2 * half + 2) - 0.5
    cdf = erf((edges - centres[:, None]) / (np.sqrt(2.0) * np.asarray(sigmas)[:, None]))
    return first, 0.5 * np.diff(cdf, axis=1)


@dataclass(frozen=True)
class PsfModel:
    """How the PSF varies over the field and in time.

    Attributes
    ----------
    centre_fwhm : float
        FWHM at the image centre, in pixels.
    corner_fwhm : float
        FWHM at the image corners, in pixels.
    elongation : float
        ``e`` at the corners (fractional difference of the two sigmas).
    seeing_amplitudes : (float, float)
        Relative amplitudes of the two sinusoids of the FWHM in time.
    seeing_periods : (float, float)
        Their periods, in seconds.
    seeing_phases : (float, float)
        Their phases, in radians.
    fwhm_range : (float, float)
        Bounds of the FWHM, in pixels.
    """

    centre_fwhm: float = 2.25
    corner_fwhm: float = 2.8
    elongation: float = 0.08
    seeing_amplitudes: tuple[float, float] = (0.03, 0.015)
    seeing_periods: tuple[float, float] = (3600.0, 600.0)
    seeing_phases: tuple[float, float] = (0.0, 0.0)
    fwhm_range: tuple[float, float] = (2.0, 3.0)

    @classmethod
    def random(cls, rng: np.random.Generator) -> PsfModel:
        """Draw the time variation (periods 30 to 90 min and 5 to 15 min, random phases).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the draws.

        Returns
        -------
        PsfModel
            A model with the default field variation.
        """
        periods = (float(rng.uniform(1800.0, 5400.0)), float(rng.uniform(300.0, 900.0)))
        phases = (float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi)))
        return cls(seeing_periods=periods, seeing_phases=phases)

    def seeing(self, seconds: float) -> float:
        """Return the relative FWHM at a time.

        Parameters
        ----------
        seconds : float
            Time since the start of the sequence, in seconds.

        Returns
        -------
        float
            Factor applied to the FWHM (about 1).
        """
        total = 1.0
        for amplitude, period, phase in zip(
            self.seeing_amplitudes, self.seeing_periods, self.seeing_phases, strict=True
        ):
            total += amplitude * np.sin(2.0 * np.pi * seconds / period + phase)
        return float(total)

    def sigmas(self, x, y, shape: tuple[int, int], seconds: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the Gaussian sigmas along x and y at positions.

        Parameters
        ----------
        x, y : array_like
            0-based pixel coordinates.
        shape : (int, int)
            Image shape (rows, columns).
        seconds : float
            Time since the start of the sequence, in seconds.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            sigma_x and sigma_y, in pixels.
        """
        fwhm, cos2phi, r2 = self._field(x, y, shape, seconds)
        sigma = fwhm * FWHM_TO_SIGMA
        e = self.elongation * r2 * cos2phi
        return sigma * (1.0 + e), sigma * (1.0 - e)

    def fwhm(self, x, y, shape: tuple[int, int], seconds: float) -> np.ndarray:
        """Return the mean FWHM at positions, in pixels.

        Parameters
        ----------
        x, y : array_like
            0-based pixel coordinates.
        shape : (int, int)
            Image shape (rows, columns).
        seconds : float
            Time since the start of the sequence, in seconds.

        Returns
        -------
        numpy.ndarray
            FWHM, in pixels.
        """
        return self._field(x, y, shape, seconds)[0]

    def _field(self, x, y, shape, seconds):
        rows, cols = shape
        dx = np.asarray(x, dtype=float) - (cols - 1) / 2.0
        dy = np.asarray(y, dtype=float) - (rows - 1) / 2.0
        r2 = (dx**2 + dy**2) / (((cols - 1) / 2.0) ** 2 + ((rows - 1) / 2.0) ** 2)
        fwhm = (self.centre_fwhm + (self.corner_fwhm - self.centre_fwhm) * r2) * self.seeing(
            seconds
        )
        fwhm = np.clip(fwhm, *self.fwhm_range)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos2phi = np.where(r2 > 0, (dx**2 - dy**2) / np.maximum(dx**2 + dy**2, 1e-300), 0.0)
        return fwhm, cos2phi, r2
