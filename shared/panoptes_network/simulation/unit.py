"""A PANOPTES unit as the simulator sees it: its id and where it stands.

Ephemerides are computed with astropy, offline: :func:`use_offline_earth_data` stops astropy
from downloading Earth-orientation (IERS) tables, accepts the tables bundled with it (whatever
their age; times beyond them get degraded UT1 with a warning) and keeps the built-in solar
system ephemeris. Every function of the simulator that needs the sky calls it first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import astropy.units as u
from astropy.coordinates import EarthLocation, solar_system_ephemeris
from astropy.utils import iers

__all__ = ["DEFAULT_UNIT", "Unit", "use_offline_earth_data"]

_UNIT_ID = re.compile(r"PAN[0-9]{3}")


def use_offline_earth_data() -> None:
    """Make astropy work without network access (idempotent).

    Sets ``iers.conf.auto_download = False``, ``iers.conf.auto_max_age = None``,
    ``iers.conf.iers_degraded_accuracy = "warn"`` and the ``builtin`` solar system ephemeris.
    """
    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    iers.conf.iers_degraded_accuracy = "warn"
    solar_system_ephemeris.set("builtin")


@dataclass(frozen=True)
class Unit:
    """A unit and its site.

    Attributes
    ----------
    unit_id : str
        ``PAN`` and three digits (``OBSERVER`` and the bucket path's unit part).
    latitude : float
        Geodetic latitude, in degrees (north positive).
    longitude : float
        Longitude, in degrees (east positive).
    elevation : float
        Height above the WGS84 ellipsoid, in metres.
    """

    unit_id: str = "PAN001"
    latitude: float = 19.54
    longitude: float = -155.58
    elevation: float = 3400.0

    def __post_init__(self) -> None:
        if not isinstance(self.unit_id, str) or not _UNIT_ID.fullmatch(self.unit_id):
            raise ValueError(f"unit id {self.unit_id!r} is not PAN followed by 3 digits")
        if not -90 <= self.latitude <= 90:
            raise ValueError(f"latitude {self.latitude} is not in [-90, 90] degrees")
        if not -180 <= self.longitude <= 360:
            raise ValueError(f"longitude {self.longitude} is not in [-180, 360] degrees")
        if not -500 <= self.elevation <= 9000:
            raise ValueError(f"elevation {self.elevation} m is not a site on Earth")

    @property
    def location(self) -> EarthLocation:
        """The site as an astropy ``EarthLocation``."""
        return EarthLocation.from_geodetic(
            lon=self.longitude * u.deg, lat=self.latitude * u.deg, height=self.elevation * u.m
        )


#: PAN001, the first unit, on Mauna Loa (Hawaii).
DEFAULT_UNIT = Unit()
