"""Barycentric Julian dates (BJD_TDB) of light-curve points, from the unit's site.

A star's light reaches the Earth up to about 8.3 minutes before or after it reaches the
solar system's barycentre, depending on where the Earth is in its orbit and where the star
is. Light curves from units at different longitudes, and from nights months apart, line up
only on the barycentre's clock. So each point carries, beside its mid-exposure UTC time
(POSIX seconds, ``time``), its Barycentric Julian Date in the TDB scale (``bjd_tdb``, days):

    BJD_TDB = JD(mid-exposure, TDB at the site) + light travel time to the barycentre
              towards the star,

computed with astropy (:meth:`astropy.time.Time.light_travel_time`, the JPL ephemeris built
into astropy, the site's geocentric position included). The correction depends on the
star's direction, so it is computed per star: across a 15 degree field it differs by up to
about two minutes.

The site's position needs the Earth's rotation (UT1 - UTC). Where astropy's IERS table does
not cover a time (a service without network access, dates past the table's predictions),
UT1 is taken as UTC and astropy warns: at most 0.9 s of rotation moves the site by 0.4 km,
which changes the light travel time by less than 2 microseconds.

The site comes from the frames' headers (``LAT-OBS``, ``LONG-OBS`` in degrees, ``ELEV-OBS``
in metres, see :func:`site_of`); without one the dates are NaN and say so, never a guess.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
from astropy.coordinates import EarthLocation, SkyCoord
from astropy.time import Time
from astropy.utils import iers
from astropy.utils.exceptions import AstropyWarning

__all__ = ["Site", "bjd_tdb", "site_of"]


@dataclass(frozen=True)
class Site:
    """Where a unit stands.

    Attributes
    ----------
    latitude, longitude : float
        Geodetic latitude and east longitude (degrees).
    elevation : float
        Height above the WGS84 ellipsoid (metres).
    """

    latitude: float
    longitude: float
    elevation: float

    def to_dict(self) -> dict[str, float]:
        """Return the site as stored in a sources file's metadata."""
        return {"latitude": self.latitude, "longitude": self.longitude, "elevation": self.elevation}

    def location(self) -> EarthLocation:
        """Return the site as an astropy location."""
        return EarthLocation.from_geodetic(
            self.longitude * u.deg, self.latitude * u.deg, self.elevation * u.m
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def site_of(values: Mapping[str, Any] | None) -> Site | None:
    """Return the site of a mapping with ``latitude``, ``longitude`` and ``elevation``.

    Parameters
    ----------
    values : mapping or None
        Degrees and metres; a missing elevation counts as 0 m (it moves the dates by
        microseconds).

    Returns
    -------
    Site or None
        None without a usable latitude and longitude (|latitude| <= 90).
    """
    if not values:
        return None
    lat, lon = _number(values.get("latitude")), _number(values.get("longitude"))
    if lat is None or lon is None or abs(lat) > 90.0:
        return None
    return Site(lat, lon, _number(values.get("elevation")) or 0.0)


def bjd_tdb(times: np.ndarray, ra: np.ndarray, dec: np.ndarray, site: Site | None) -> np.ndarray:
    """Return the BJD_TDB (days) of every frame for every star.

    Parameters
    ----------
    times : numpy.ndarray
        Mid-exposure times, POSIX seconds (UTC), shape ``(n_frames,)``.
    ra, dec : numpy.ndarray
        The stars' ICRS positions (degrees), shape ``(n_stars,)``.
    site : Site or None
        The unit's site; None gives NaN everywhere.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_frames, n_stars)``, float64 days.
    """
    times = np.asarray(times, dtype=float)
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    out = np.full((times.size, ra.size), np.nan)
    if site is None or times.size == 0 or ra.size == 0:
        return out
    moments = Time(times, format="unix", scale="utc", location=site.location())
    stars = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs")
    with (
        iers.conf.set_temp("auto_max_age", None),
        iers.conf.set_temp("iers_degraded_accuracy", "warn"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", AstropyWarning)  # UT1 taken as UTC: said above
        delay = moments[:, None].light_travel_time(stars[None, :], kind="barycentric")
        tdb = moments.tdb[:, None] + delay
    return tdb.jd1 + tdb.jd2
