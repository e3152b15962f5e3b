"""Where things are in a unit's sky at a given time: altitude, airmass, hour angle, Moon, Sun.

Everything is computed with astropy for the unit's site (see :mod:`.unit` for the offline
setup), without refraction. Coordinates are ICRS (J2000) degrees, times aware UTC datetimes.

- ``airmass`` in :class:`ObservingConditions` is ``sec(z)``, the value a unit writes as
  ``AIRMASS``; :func:`kasten_young_airmass` (Kasten & Young 1989) is used for extinction,
  where it stays finite down to the horizon and equals ``sec(z)`` within 0.3 % above 30 deg.
- The Moon's illuminated fraction is ``(1 + cos i) / 2`` with the phase angle ``i`` from the
  geocentric Sun-Moon elongation and distances.
- The hour angle is the local apparent sidereal time minus the RA, in hours in [-12, 12):
  that is what POCS writes as ``HA-MNT`` (in hours, despite the card's ``Degrees`` comment).
- A *bright Moon* (:func:`bright_moon`) is above the horizon with at least
  :data:`BRIGHT_MOON_FRACTION` of its disc lit; :func:`darkest_time` can avoid it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import astropy.units as u
import numpy as np
from astropy.coordinates import AltAz, SkyCoord, get_body
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning

from panoptes_network.catalog.star_catalog import angular_separation
from panoptes_network.simulation.unit import Unit, use_offline_earth_data

__all__ = [
    "BRIGHT_MOON_FRACTION",
    "MoonState",
    "ObservingConditions",
    "altaz",
    "bright_moon",
    "darkest_time",
    "kasten_young_airmass",
    "moon_state",
    "observing_conditions",
    "sun_altitude",
]


def _time(moment: datetime | Time) -> Time:
    if isinstance(moment, Time):
        return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return Time(moment.astimezone(timezone.utc), scale="utc")


def kasten_young_airmass(altitude: np.ndarray | float) -> np.ndarray:
    """Relative airmass of Kasten & Young (1989), finite down to the horizon.

    Parameters
    ----------
    altitude : float or array_like
        Altitude above the horizon, in degrees; values below -1 deg are clipped to -1.

    Returns
    -------
    numpy.ndarray
        Airmass (1 at the zenith, about 38 at the horizon), dimensionless.
    """
    alt = np.clip(np.asarray(altitude, dtype=float), -1.0, 90.0)
    return 1.0 / (np.sin(np.radians(alt)) + 0.50572 * (alt + 6.07995) ** -1.6364)


def altaz(unit: Unit, moment: datetime | Time, ra, dec) -> tuple[np.ndarray, np.ndarray]:
    """Return the altitude and azimuth of ICRS positions seen from the unit.

    Parameters
    ----------
    unit : Unit
        The site.
    moment : datetime or astropy.time.Time
        When (UTC).
    ra, dec : float or array_like
        ICRS coordinates, in degrees.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Altitude and azimuth, in degrees (no refraction).
    """
    use_offline_earth_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        frame = AltAz(obstime=_time(moment), location=unit.location)
        coords = SkyCoord(np.asarray(ra, dtype=float) * u.deg, np.asarray(dec, dtype=float) * u.deg)
        seen = coords.transform_to(frame)
        return np.asarray(seen.alt.deg), np.asarray(seen.az.deg)


@dataclass(frozen=True)
class MoonState:
    """The Moon seen from a unit.

    Attributes
    ----------
    altitude, azimuth : float
        Topocentric position, in degrees.
    phase_angle : float
        Sun-Moon-Earth angle, in degrees (0 at full Moon, 180 at new Moon).
    fraction : float
        Illuminated fraction of the disc, 0 to 1.
    """

    altitude: float
    azimuth: float
    phase_angle: float
    fraction: float

    def separation(self, altitude, azimuth) -> np.ndarray:
        """Return the angular distance from the Moon of points given in altitude/azimuth.

        Parameters
        ----------
        altitude, azimuth : float or array_like
            Positions, in degrees.

        Returns
        -------
        numpy.ndarray
            Separations, in degrees.
        """
        return angular_separation(self.azimuth, self.altitude, azimuth, altitude)


#: Illuminated fraction from which a Moon above the horizon counts as bright.
BRIGHT_MOON_FRACTION: float = 0.3


def bright_moon(altitude, fraction, max_fraction: float = BRIGHT_MOON_FRACTION) -> np.ndarray:
    """Return whether the Moon is above the horizon and lit enough to brighten the sky.

    Parameters
    ----------
    altitude : float or array_like
        The Moon's altitude, in degrees.
    fraction : float or array_like
        Its illuminated fraction, 0 to 1.
    max_fraction : float
        Fractions below this are dim enough, whatever the altitude.

    Returns
    -------
    numpy.ndarray
        True where ``altitude > 0`` and ``fraction >= max_fraction``.
    """
    return (np.asarray(altitude) > 0.0) & (np.asarray(fraction) >= max_fraction)


def _moon_arrays(unit: Unit, when: Time) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the Moon's altitude, azimuth, phase angle (deg) and lit fraction at the times."""
    use_offline_earth_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        moon = get_body("moon", when, unit.location)
        seen = moon.transform_to(AltAz(obstime=when, location=unit.location))
        sun = get_body("sun", when)
        moon_geo = get_body("moon", when)
        elongation = sun.separation(moon_geo).rad
        r_sun = sun.distance.to_value(u.km)
        r_moon = moon_geo.distance.to_value(u.km)
    phase = np.arctan2(r_sun * np.sin(elongation), r_moon - r_sun * np.cos(elongation))
    return (
        np.asarray(seen.alt.deg),
        np.asarray(seen.az.deg),
        np.degrees(phase),
        (1.0 + np.cos(phase)) / 2.0,
    )


def moon_state(unit: Unit, moment: datetime | Time) -> MoonState:
    """Return where the Moon is and how much of it is lit.

    Parameters
    ----------
    unit : Unit
        The site.
    moment : datetime or astropy.time.Time
        When (UTC).

    Returns
    -------
    MoonState
        Topocentric altitude and azimuth, phase angle and illuminated fraction.
    """
    altitude, azimuth, phase_angle, fraction = _moon_arrays(unit, _time(moment))
    return MoonState(
        altitude=float(altitude),
        azimuth=float(azimuth),
        phase_angle=float(phase_angle),
        fraction=float(fraction),
    )


def sun_altitude(unit: Unit, moment: datetime | Time) -> np.ndarray:
    """Return the Sun's altitude seen from the unit.

    Parameters
    ----------
    unit : Unit
        The site.
    moment : datetime or astropy.time.Time
        When (UTC); an array ``Time`` gives an array.

    Returns
    -------
    numpy.ndarray
        Altitude, in degrees.
    """
    use_offline_earth_data()
    when = _time(moment)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        sun = get_body("sun", when, unit.location)
        return np.asarray(sun.transform_to(AltAz(obstime=when, location=unit.location)).alt.deg)


@dataclass(frozen=True)
class ObservingConditions:
    """What a unit writes about its pointing at one moment.

    Attributes
    ----------
    time : datetime
        The moment (aware, UTC).
    ra, dec : float
        The pointing, ICRS degrees.
    altitude, azimuth : float
        Where the pointing is, in degrees.
    airmass : float
        ``sec(z)`` (the ``AIRMASS`` card), dimensionless.
    hour_angle : float
        Local apparent sidereal time minus RA, in hours in [-12, 12) (the ``HA-MNT`` card).
    sidereal_time : float
        Local apparent sidereal time, in hours.
    moon : MoonState
        The Moon.
    moon_separation : float
        Distance of the pointing from the Moon, in degrees (the ``MOONSEP`` card).
    sun_altitude : float
        The Sun's altitude, in degrees.
    """

    time: datetime
    ra: float
    dec: float
    altitude: float
    azimuth: float
    airmass: float
    hour_angle: float
    sidereal_time: float
    moon: MoonState
    moon_separation: float
    sun_altitude: float


def observing_conditions(
    unit: Unit, moment: datetime, ra: float, dec: float
) -> ObservingConditions:
    """Compute the conditions of a pointing at one moment.

    Parameters
    ----------
    unit : Unit
        The site.
    moment : datetime
        When (aware UTC; naive is taken as UTC).
    ra, dec : float
        The pointing, ICRS degrees.

    Returns
    -------
    ObservingConditions
        Altitude, airmass, hour angle, Moon and Sun.
    """
    use_offline_earth_data()
    when = _time(moment)
    alt, az = altaz(unit, when, ra, dec)
    moon = moon_state(unit, when)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        lst = float(when.sidereal_time("apparent", longitude=unit.longitude * u.deg).hour)
    hour_angle = (lst - ra / 15.0 + 12.0) % 24.0 - 12.0
    altitude = float(alt)
    return ObservingConditions(
        time=when.to_datetime(timezone.utc),
        ra=float(ra),
        dec=float(dec),
        altitude=altitude,
        azimuth=float(az),
        airmass=float(1.0 / np.sin(np.radians(altitude))),
        hour_angle=float(hour_angle),
        sidereal_time=lst,
        moon=moon,
        moon_separation=float(moon.separation(altitude, float(az))),
        sun_altitude=float(sun_altitude(unit, when)),
    )


def darkest_time(
    unit: Unit,
    ra: float | None,
    dec: float | None,
    after: datetime,
    sun_limit: float = -18.0,
    min_altitude: float = 30.0,
    step_minutes: float = 10.0,
    *,
    max_moon_fraction: float | None = None,
    days: int = 1,
) -> datetime | None:
    """Return when a position is highest in a dark sky, in the first day that has such a time.

    The search looks at the 24 hours after ``after``, then at the next 24 hours, and so on
    for ``days`` days, and returns the best moment of the first day with any acceptable one.

    Parameters
    ----------
    unit : Unit
        The site.
    ra, dec : float or None
        The position, ICRS degrees; None for the zenith (always up), which then looks for
        the moment with the Sun lowest.
    after : datetime
        Start of the search (aware UTC).
    sun_limit : float
        The Sun must be below this altitude, in degrees (astronomical night: -18).
    min_altitude : float
        The position must be above this altitude, in degrees.
    step_minutes : float
        Search step, in minutes.
    max_moon_fraction : float or None, optional
        When given, also avoid a bright Moon (:func:`bright_moon`): the Moon must be below
        the horizon or have an illuminated fraction below this.
    days : int, optional
        Number of 24-hour windows searched (30 covers a lunation).

    Returns
    -------
    datetime or None
        The best moment rounded down to the whole minute (aware UTC), or None when the
        position is never that high in a dark sky within the days searched.
    """
    use_offline_earth_data()
    start = after.astimezone(timezone.utc).replace(second=0, microsecond=0)
    steps = np.arange(0.0, 24 * 60.0, step_minutes)
    for day in range(days):
        first = start + timedelta(days=day)
        times = _time(first) + steps * u.min
        sun = sun_altitude(unit, times)
        if ra is None or dec is None:
            target = np.full(steps.size, 90.0)
            score = -sun
        else:
            target = altaz(unit, times, ra, dec)[0]
            score = target
        ok = (sun < sun_limit) & (target > min_altitude)
        if max_moon_fraction is not None and ok.any():
            altitude, _, _, fraction = _moon_arrays(unit, times[ok])
            ok[ok] = ~bright_moon(altitude, fraction, max_moon_fraction)
        if ok.any():
            best = int(np.argmax(np.where(ok, score, -np.inf)))
            return first + timedelta(minutes=float(steps[best]))
    return None
