"""Night-sky brightness: a simplified Krisciunas & Schaefer (1991) model, in e- per pixel.

Surface brightness (Krisciunas & Schaefer 1991, PASP 103, 1033), in nanolamberts (nL):

- dark sky at zenith distance ``Z``: ``B_dark = B_zen * 10**(-0.4 k (X - 1)) * X`` with
  ``X = (1 - 0.96 sin^2 Z)**-0.5`` and ``B_zen`` from ``dark_zenith_v`` (21.5 V mag/arcsec^2
  by default, a dark high site at solar minimum to average activity);
- scattered moonlight, when the Moon is up: ``B_moon = f(rho) I* 10**(-0.4 k X_moon)
  (1 - 10**(-0.4 k X))`` with the Moon's brightness ``I* = 10**(-0.4 (3.84 + 0.026 |a| +
  4e-9 a**4))`` at phase angle ``a`` (degrees), the scattering function ``f(rho) =
  10**5.36 (1.06 + cos^2 rho) + 10**(6.15 - rho / 40)`` at Moon distance ``rho`` (degrees,
  taken as at least 10 deg, the model's range) and ``X_moon`` the same ``X`` formula at the
  Moon's zenith distance;
- ``B(nL) = 34.08 exp(20.7233 - 0.92104 V)`` converts to and from V mag/arcsec^2.

Simplifications: one extinction coefficient ``k`` (V), no twilight (the Sun is assumed below
-18 deg), no zodiacal light, airglow variation or light pollution.

Colours and electrons: each component is turned into a per-pixel magnitude (``V - 2.5
log10(pixel area)``) and, with the passbands of :mod:`.passbands` (no extinction: the model
gives the brightness seen through the atmosphere), into electrons per pixel of each colour.
The dark sky is red (B-V = 0.9), the moonlit sky blue (B-V = 0.3): half-Moon frames then show
R:G:B per pixel close to the 0.5 : 1 : 0.7 of the real PAN001 frame ``tiny.fits``. A uniform
source of channel flux ``F_c`` per pixel area gives each pixel of colour ``c``
``F_c / pixel_share`` electrons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from panoptes_network.simulation.passbands import PASSBANDS, Passband, channel_fluxes

__all__ = ["SkyModel", "nanolamberts_to_v", "v_to_nanolamberts"]


def v_to_nanolamberts(v) -> np.ndarray:
    """Convert V surface brightness (mag/arcsec^2) to nanolamberts.

    Parameters
    ----------
    v : float or array_like
        Surface brightness, in V magnitudes per square arcsecond.

    Returns
    -------
    numpy.ndarray
        Brightness, in nanolamberts.
    """
    return 34.08 * np.exp(20.7233 - 0.92104 * np.asarray(v, dtype=float))


def nanolamberts_to_v(brightness) -> np.ndarray:
    """Convert nanolamberts to V surface brightness (mag/arcsec^2).

    Parameters
    ----------
    brightness : float or array_like
        Brightness, in nanolamberts (positive).

    Returns
    -------
    numpy.ndarray
        Surface brightness, in V magnitudes per square arcsecond.
    """
    return (20.7233 - np.log(np.asarray(brightness, dtype=float) / 34.08)) / 0.92104


def _ks_airmass(zenith_distance) -> np.ndarray:
    """Return the airmass of the K&S model, ``(1 - 0.96 sin^2 Z)**-0.5``, dimensionless."""
    z = np.radians(np.clip(np.asarray(zenith_distance, dtype=float), 0.0, 90.0))
    return (1.0 - 0.96 * np.sin(z) ** 2) ** -0.5


@dataclass(frozen=True)
class SkyModel:
    """The simplified Krisciunas & Schaefer sky.

    Attributes
    ----------
    dark_zenith_v : float
        Dark-sky brightness at the zenith, in V mag/arcsec^2.
    extinction : float
        V extinction coefficient ``k``, in magnitudes per airmass.
    dark_bv : float
        B-V colour of the dark sky, in magnitudes.
    moon_bv : float
        B-V colour of the scattered moonlight, in magnitudes.
    """

    dark_zenith_v: float = 21.5
    extinction: float = 0.12
    dark_bv: float = 0.9
    moon_bv: float = 0.3

    def components(
        self,
        altitude,
        moon_altitude: float,
        moon_separation,
        moon_phase_angle: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the dark-sky and moonlight brightness at sky positions.

        Parameters
        ----------
        altitude : float or array_like
            Altitude of the positions, in degrees.
        moon_altitude : float
            The Moon's altitude, in degrees (no moonlight when below 0).
        moon_separation : float or array_like
            Angular distance of the positions from the Moon, in degrees.
        moon_phase_angle : float
            The Moon's phase angle, in degrees (0 full, 180 new).

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            Dark sky and moonlight, in nanolamberts.
        """
        zenith = 90.0 - np.asarray(altitude, dtype=float)
        k = self.extinction
        x = _ks_airmass(zenith)
        dark = v_to_nanolamberts(self.dark_zenith_v) * 10.0 ** (-0.4 * k * (x - 1.0)) * x
        if moon_altitude <= 0:
            return dark, np.zeros_like(dark)
        alpha = abs(moon_phase_angle)
        moon_mag = 3.84 + 0.026 * alpha + 4e-9 * alpha**4
        rho = np.maximum(np.asarray(moon_separation, dtype=float), 10.0)
        scattering = 10.0**5.36 * (1.06 + np.cos(np.radians(rho)) ** 2) + 10.0 ** (6.15 - rho / 40)
        x_moon = _ks_airmass(90.0 - moon_altitude)
        moon = (
            scattering
            * 10.0 ** (-0.4 * moon_mag)
            * 10.0 ** (-0.4 * k * x_moon)
            * (1.0 - 10.0 ** (-0.4 * k * x))
        )
        return dark, moon

    def surface_brightness(
        self, altitude, moon_altitude: float, moon_separation, moon_phase_angle: float
    ) -> np.ndarray:
        """Return the total sky brightness at sky positions, in V mag/arcsec^2.

        Parameters
        ----------
        altitude, moon_altitude, moon_separation, moon_phase_angle
            As for :meth:`components`.

        Returns
        -------
        numpy.ndarray
            V magnitudes per square arcsecond.
        """
        dark, moon = self.components(altitude, moon_altitude, moon_separation, moon_phase_angle)
        return nanolamberts_to_v(dark + moon)

    def electrons_per_pixel(
        self,
        altitude,
        moon_altitude: float,
        moon_separation,
        moon_phase_angle: float,
        pixel_scale: float,
        exptime: float,
        passbands: tuple[Passband, ...] = PASSBANDS,
    ) -> np.ndarray:
        """Return the sky in electrons per pixel of each colour.

        Parameters
        ----------
        altitude, moon_altitude, moon_separation, moon_phase_angle
            As for :meth:`components`.
        pixel_scale : float
            Pixel scale, in arcsec per pixel.
        exptime : float
            Exposure time, in seconds.
        passbands : tuple of Passband
            The colours.

        Returns
        -------
        numpy.ndarray
            Shape ``altitude.shape + (len(passbands),)``, electrons per pixel.
        """
        dark, moon = self.components(altitude, moon_altitude, moon_separation, moon_phase_angle)
        area = 2.5 * np.log10(pixel_scale**2)
        shape = np.shape(dark)
        total = np.zeros((int(np.prod(shape)), len(passbands)))
        for brightness, bv in ((dark, self.dark_bv), (moon, self.moon_bv)):
            lit = np.ravel(brightness) > 0
            if not lit.any():
                continue
            per_pixel_mag = nanolamberts_to_v(np.ravel(brightness)[lit]) - area
            total[lit] += channel_fluxes(per_pixel_mag, bv, exptime, 0.0, passbands)
        shares = np.array([band.pixel_share for band in passbands])
        return (total / shares).reshape(shape + (len(passbands),))
