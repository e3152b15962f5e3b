"""Passing clouds: a smooth transmission screen drifting across the field with the wind.

The cloud optical depth is a sum of a few plane waves (wavelengths of 1500 to 6000 pixels,
random directions and phases) moving at the wind velocity; where their normalised sum
``s`` in [-1, 1] exceeds ``1 - 2 coverage`` the sky is clouded with optical depth
``tau = depth * (s - threshold) / (1 - threshold)``, and the transmission is ``exp(-tau)``.
The transmission of a frame is the mean over its exposure (:data:`EXPOSURE_SAMPLES` instants),
the same for stars and sky background (the clouds dim both: a dark site has no light to
reflect).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EXPOSURE_SAMPLES", "CloudScreen"]

#: Instants averaged over an exposure.
EXPOSURE_SAMPLES = 7


@dataclass(frozen=True)
class CloudScreen:
    """A moving cloud screen in pixel coordinates.

    Attributes
    ----------
    wave_x, wave_y : numpy.ndarray
        Wave vectors of the components, in radians per pixel.
    phases : numpy.ndarray
        Phases, in radians.
    amplitudes : numpy.ndarray
        Relative weights (summing to 1).
    velocity : (float, float)
        Wind velocity across the image (x, y), in pixels per second.
    coverage : float
        Fraction of the screen covered, 0 to 1.
    depth : float
        Optical depth of the thickest cloud, dimensionless.
    """

    wave_x: np.ndarray
    wave_y: np.ndarray
    phases: np.ndarray
    amplitudes: np.ndarray
    velocity: tuple[float, float]
    coverage: float
    depth: float

    @classmethod
    def random(
        cls,
        rng: np.random.Generator,
        components: int = 6,
        coverage: float = 0.45,
        depth: float = 1.5,
        speed: tuple[float, float] = (1.0, 4.0),
    ) -> CloudScreen:
        """Draw a screen.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the draws.
        components : int
            Number of plane waves.
        coverage : float
            Fraction of the screen covered, 0 to 1.
        depth : float
            Optical depth of the thickest cloud.
        speed : (float, float)
            Range of the wind speed, in pixels per second (3 px/s crosses a frame in 30 min).

        Returns
        -------
        CloudScreen
            The screen.
        """
        wavelength = rng.uniform(1500.0, 6000.0, components)
        direction = rng.uniform(0.0, 2.0 * np.pi, components)
        amplitudes = rng.uniform(0.5, 1.0, components)
        wind = rng.uniform(0.0, 2.0 * np.pi)
        norm = rng.uniform(*speed)
        return cls(
            wave_x=2.0 * np.pi / wavelength * np.cos(direction),
            wave_y=2.0 * np.pi / wavelength * np.sin(direction),
            phases=rng.uniform(0.0, 2.0 * np.pi, components),
            amplitudes=amplitudes / amplitudes.sum(),
            velocity=(float(norm * np.cos(wind)), float(norm * np.sin(wind))),
            coverage=float(coverage),
            depth=float(depth),
        )

    def transmission(self, x, y, seconds) -> np.ndarray:
        """Return the transmission at positions and one instant.

        Parameters
        ----------
        x, y : array_like
            0-based pixel coordinates.
        seconds : float
            Time since the start of the sequence, in seconds.

        Returns
        -------
        numpy.ndarray
            Fraction of light transmitted, in (0, 1].
        """
        x = np.asarray(x, dtype=float)[..., None] - self.velocity[0] * seconds
        y = np.asarray(y, dtype=float)[..., None] - self.velocity[1] * seconds
        waves = np.cos(self.wave_x * x + self.wave_y * y + self.phases)
        signal = (waves * self.amplitudes).sum(axis=-1)
        threshold = 1.0 - 2.0 * self.coverage
        if threshold >= 1.0:
            return np.ones_like(signal)
        tau = self.depth * np.clip(signal - threshold, 0.0, None) / (1.0 - threshold)
        return np.exp(-tau)

    def mean_transmission(self, x, y, start: float, exptime: float) -> np.ndarray:
        """Return the transmission averaged over an exposure.

        Parameters
        ----------
        x, y : array_like
            0-based pixel coordinates.
        start : float
            Start of the exposure since the start of the sequence, in seconds.
        exptime : float
            Exposure time, in seconds.

        Returns
        -------
        numpy.ndarray
            Mean transmitted fraction over :data:`EXPOSURE_SAMPLES` evenly spaced instants.
        """
        instants = start + (np.arange(EXPOSURE_SAMPLES) + 0.5) / EXPOSURE_SAMPLES * exptime
        return np.mean([self.transmission(x, y, t) for t in instants], axis=0)
