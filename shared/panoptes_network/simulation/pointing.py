"""Where the camera really points: pointing error, field rotation and tracking drift.

The mount reports the position it was sent to (``RA-MNT``, ``DEC-MNT``); the camera's true
field centre is off by a pointing error of 0.2 to 1 degree in a random direction (a typical
PANOPTES mount without a pointing model), and the camera is rotated by up to 1.5 degrees
from north-up. While tracking, imperfect polar alignment and periodic error make the stars
drift slowly across the sensor: 2 to 6 pixels per hour in a random direction.

The true WCS of a frame is a TAN projection (no distortion) at the camera's pixel scale,
with ``CRVAL`` at the true centre and ``CRPIX`` at the image centre shifted by the drift at
mid-exposure: ``CRPIX = ((W + 1) / 2 + vx t, (H + 1) / 2 + vy t)`` with ``t`` the hours since
the start of the sequence. The ``CD`` matrix is ``s [[-cos r, sin r], [sin r, cos r]]`` (east
left, north up when ``r = 0``) for scale ``s`` in degrees per pixel and rotation ``r``.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS

from panoptes_network.simulation.camera import CameraModel

__all__ = ["PointingModel"]


@dataclass(frozen=True)
class PointingModel:
    """The true pointing of a sequence.

    Attributes
    ----------
    mount_ra, mount_dec : float
        Where the mount says it points, ICRS degrees.
    error : float
        Distance of the true centre from the mount position, in degrees.
    error_angle : float
        Position angle of the true centre seen from the mount position (east of north),
        in degrees.
    rotation : float
        Camera rotation, in degrees.
    drift : (float, float)
        Tracking drift of the stars on the sensor (x, y), in pixels per hour.
    """

    mount_ra: float
    mount_dec: float
    error: float = 0.0
    error_angle: float = 0.0
    rotation: float = 0.0
    drift: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def random(cls, ra: float, dec: float, rng: np.random.Generator) -> PointingModel:
        """Draw the pointing error, rotation and drift of a sequence.

        Parameters
        ----------
        ra, dec : float
            The mount position, ICRS degrees.
        rng : numpy.random.Generator
            Source of the draws.

        Returns
        -------
        PointingModel
            Error 0.2 to 1 deg, rotation within +-1.5 deg, drift 2 to 6 px/h.
        """
        error = float(rng.uniform(0.2, 1.0))
        angle = float(rng.uniform(0.0, 360.0))
        rotation = float(rng.uniform(-1.5, 1.5))
        speed = rng.uniform(2.0, 6.0)
        direction = rng.uniform(0.0, 2.0 * np.pi)
        drift = (float(speed * np.cos(direction)), float(speed * np.sin(direction)))
        return cls(float(ra), float(dec), error, angle, rotation, drift)

    @property
    def true_centre(self) -> tuple[float, float]:
        """The true field centre (RA, Dec), ICRS degrees."""
        mount = SkyCoord(self.mount_ra * u.deg, self.mount_dec * u.deg)
        centre = mount.directional_offset_by(self.error_angle * u.deg, self.error * u.deg)
        return float(centre.ra.deg), float(centre.dec.deg)

    def wcs(self, camera: CameraModel, hours: float) -> WCS:
        """Return the true WCS at a time.

        Parameters
        ----------
        camera : CameraModel
            Image size and pixel scale.
        hours : float
            Time since the start of the sequence, in hours.

        Returns
        -------
        astropy.wcs.WCS
            A celestial TAN WCS.
        """
        ra, dec = self.true_centre
        scale = camera.pixel_scale / 3600.0
        r = np.radians(self.rotation)
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.cunit = ["deg", "deg"]
        wcs.wcs.crval = [ra, dec]
        wcs.wcs.crpix = [
            (camera.width + 1) / 2.0 + self.drift[0] * hours,
            (camera.height + 1) / 2.0 + self.drift[1] * hours,
        ]
        wcs.wcs.cd = scale * np.array([[-np.cos(r), np.sin(r)], [np.sin(r), np.cos(r)]])
        wcs.wcs.radesys = "ICRS"
        wcs.pixel_shape = (camera.width, camera.height)
        return wcs
