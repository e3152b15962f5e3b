"""BJD_TDB of light-curve points: against an independent Roemer-delay computation to 1 ms."""

from __future__ import annotations

from datetime import datetime, timezone

import astropy.units as u
import numpy as np
import pytest
from astropy.constants import c
from astropy.coordinates import get_body_barycentric
from astropy.time import Time
from astropy.utils import iers

from panoptes_network.lightcurves.barycentric import Site, bjd_tdb, site_of

#: Mauna Loa, the site of the first PANOPTES unit.
SITE = Site(latitude=19.54, longitude=-155.58, elevation=3400.0)


def _independent(times: np.ndarray, ra: float, dec: float, site: Site) -> np.ndarray:
    """BJD_TDB by hand: observer's barycentric position projected on the star, over c."""
    moments = Time(times, format="unix", scale="utc")
    tdb = moments.tdb
    earth = get_body_barycentric("earth", tdb).xyz.to(u.m).value  # (3, n)
    gcrs, _ = site.location().get_gcrs_posvel(moments)
    observer = earth + gcrs.xyz.to(u.m).value
    r, d = np.radians(ra), np.radians(dec)
    towards = np.array([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])
    delay_days = (towards @ observer) / c.to(u.m / u.s).value / 86400.0
    return tdb.jd1 + tdb.jd2 + delay_days


def test_bjd_tdb_agrees_with_an_independent_computation_to_1_ms():
    start = datetime(2024, 7, 20, 10, 0, tzinfo=timezone.utc).timestamp()
    times = start + np.arange(0.0, 365 * 86400.0, 17 * 86400.0)  # a year: every delay sign
    ra = np.array([303.21, 83.82, 0.0, 180.0])
    dec = np.array([46.02, -5.39, 89.0, -60.0])
    ours = bjd_tdb(times, ra, dec, SITE)
    assert ours.shape == (times.size, ra.size)
    for k in range(ra.size):
        theirs = _independent(times, ra[k], dec[k], SITE)
        assert np.max(np.abs(ours[:, k] - theirs)) * 86400.0 < 1e-3
    delay_s = (ours - Time(times, format="unix", scale="utc").tdb.jd[:, None]) * 86400.0
    assert np.max(np.abs(delay_s)) < 8.4 * 60 and np.max(np.abs(delay_s)) > 4 * 60


def test_stars_across_one_field_get_their_own_correction():
    # at the March equinox the Earth lies towards RA 180 from the barycentre: two stars 15
    # degrees apart across the line of sight get corrections ~499 s x sin(15 deg) apart
    times = np.array([datetime(2024, 3, 20, tzinfo=timezone.utc).timestamp()])
    dates = bjd_tdb(times, np.array([90.0, 105.0]), np.array([0.0, 0.0]), SITE)
    assert abs(dates[0, 0] - dates[0, 1]) * 86400.0 == pytest.approx(499.0 * 0.2588, rel=0.05)


def test_without_a_site_the_dates_are_nan_not_a_guess():
    dates = bjd_tdb(np.array([1.7e9, 1.7e9 + 60]), np.array([10.0]), np.array([20.0]), None)
    assert dates.shape == (2, 1) and np.isnan(dates).all()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"latitude": 19.54, "longitude": -155.58, "elevation": 3400}, SITE),
        ({"latitude": 19.54, "longitude": -155.58}, Site(19.54, -155.58, 0.0)),
        ({"latitude": 95.0, "longitude": 10.0}, None),
        ({"latitude": "19", "longitude": 10.0}, None),
        ({"longitude": 10.0}, None),
        (None, None),
    ],
)
def test_a_site_needs_a_usable_latitude_and_longitude(values, expected):
    assert site_of(values) == expected


def test_dates_past_the_earth_rotation_table_are_computed_not_refused():
    # Years past astropy's bundled IERS predictions and with no network: UT1 is taken as UTC,
    # which moves the site by at most 0.4 km: microseconds of light travel time.
    times = datetime(2031, 3, 1, 8, 0, tzinfo=timezone.utc).timestamp() + np.arange(3) * 600.0
    ours = bjd_tdb(times, np.array([303.21]), np.array([46.02]), SITE)
    assert np.isfinite(ours).all()
    with (
        iers.conf.set_temp("auto_max_age", None),
        iers.conf.set_temp("iers_degraded_accuracy", "ignore"),
    ):
        theirs = _independent(times, 303.21, 46.02, SITE)
    assert np.max(np.abs(ours[:, 0] - theirs)) * 86400.0 < 1e-3
