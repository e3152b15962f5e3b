"""A plate solution on the frame's own pixels: unbinning, checks, hints (no solver needed).

References: the binned WCS itself evaluated where each raw pixel's bin centre is (the
geometry of 2 x 2 bins, not the conversion's formulas), astropy's SkyCoord position angle,
and hand-built WCSs of known scale and rotation.
"""

from __future__ import annotations

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS, Sip

from panoptes_network.astrometry.frame_wcs import (
    NotACelestialSolution,
    position_angle,
    solution_on_frame,
    unbin_wcs,
)
from panoptes_network.astrometry.plate_solve import pointing_hint

SCALE = 10.3 / 3600  # deg per raw pixel


def tan_wcs(crval=(302.3, 45.1), crpix=(1302.5, 869.5), scale=2 * SCALE, angle=0.0, cd=True):
    """A TAN WCS, east left and north up, rotated by ``angle`` degrees."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = crval
    wcs.wcs.crpix = crpix
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    matrix = np.array([[-scale * c, scale * s], [scale * s, scale * c]])
    if cd:
        wcs.wcs.cd = matrix
    else:
        wcs.wcs.pc = matrix / scale
        wcs.wcs.cdelt = [scale, scale]
    wcs.wcs.set()
    return wcs


def with_sip(wcs: WCS) -> WCS:
    """Add an order-3 distortion (and its inverse terms) of a few pixels at the corners."""
    out = wcs.deepcopy()
    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[2, 0], a[1, 1], a[0, 2], a[3, 0], a[1, 2] = 2e-6, -1e-6, 3e-6, 4e-10, -2e-10
    b[2, 0], b[1, 1], b[0, 2], b[0, 3], b[2, 1] = -1e-6, 2.5e-6, 1e-6, 3e-10, 1e-10
    ap, bp = -a.copy(), -b.copy()
    ap[0, 0], ap[1, 0], bp[0, 1], bp[0, 0] = 1e-4, 2e-6, -3e-6, -2e-4
    out.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    out.sip = Sip(a, b, ap, bp, out.wcs.crpix)
    out.wcs.set()
    return out


@pytest.mark.parametrize("cd", [True, False])
@pytest.mark.parametrize("distorted", [False, True])
def test_unbinned_wcs_gives_each_raw_pixel_the_sky_of_its_place_in_the_bin(cd, distorted):
    binned = tan_wcs(cd=cd, angle=23.0)
    if distorted:
        binned = with_sip(binned)
    raw = unbin_wcs(binned, 2)
    rng = np.random.default_rng(5)
    # Raw pixel p (0-based) sits at bin coordinate (p - 0.5) / 2: raw pixels 0 and 1 are the
    # two halves of bin 0, whose centre is raw 0.5.
    p = rng.uniform([-50, -50], [5258, 3526], size=(500, 2))
    expected = binned.all_pix2world((p - 0.5) / 2, 0)
    got = raw.all_pix2world(p, 0)
    assert np.abs(got - expected).max() * 3600 < 1e-6  # arcsec
    # and back, through the inverse distortion
    back = raw.all_world2pix(expected, 0, tolerance=1e-10, maxiter=50)
    assert np.abs(back - p).max() < 1e-4
    assert raw.wcs.crpix == pytest.approx([2604.5, 1738.5])
    assert np.sqrt(abs(np.linalg.det(raw.pixel_scale_matrix))) == pytest.approx(SCALE)


def test_the_unbinned_sip_terms_are_not_simply_copied():
    binned = with_sip(tan_wcs())
    raw = unbin_wcs(binned, 2)
    assert raw.sip.a[2, 0] == pytest.approx(binned.sip.a[2, 0] / 2)
    assert raw.sip.a[3, 0] == pytest.approx(binned.sip.a[3, 0] / 4)
    assert raw.sip.ap[0, 0] == pytest.approx(binned.sip.ap[0, 0] * 2)
    assert raw.sip.ap[1, 0] == pytest.approx(binned.sip.ap[1, 0])


def test_position_angle_agrees_with_astropy():
    rng = np.random.default_rng(2)
    for ra1, dec1, ra2, dec2 in rng.uniform([0, -80, 0, -80], [360, 80, 360, 80], (50, 4)):
        expected = SkyCoord(ra1 * u.deg, dec1 * u.deg).position_angle(
            SkyCoord(ra2 * u.deg, dec2 * u.deg)
        )
        got = position_angle(ra1, dec1, ra2, dec2)
        diff = (got - expected.deg + 180) % 360 - 180
        assert abs(diff) < 1e-8
        assert -180 < got <= 180


@pytest.mark.parametrize("angle", [0.0, 30.0, -75.0, 170.0])
def test_solution_summary_of_a_known_wcs(angle):
    raw = tan_wcs(crval=(120.0, -30.0), crpix=(2604.5, 1738.5), scale=SCALE, angle=angle)
    solution = solution_on_frame(raw, (3476, 5208), (9.5, 11.5))
    assert solution.ra_centre == pytest.approx(120.0, abs=1e-9)
    assert solution.dec_centre == pytest.approx(-30.0, abs=1e-9)
    assert solution.pixel_scale == pytest.approx(10.3)
    # One pixel up (+y) moves (CD1_2, CD2_2) = scale (sin a, cos a) in (east, north): up points
    # `angle` degrees east of north, astrometry.net's "up is <angle> degrees E of N".
    assert solution.rotation == pytest.approx(angle, abs=1e-6)
    assert solution.flipped is False
    header = solution.header()
    assert header["CTYPE1"] == "RA---TAN" and "MJDREF" not in header
    assert WCS(header).all_pix2world(2603.5, 1737.5, 0) == pytest.approx([120.0, -30.0])


def test_a_mirrored_frame_is_flagged():
    raw = tan_wcs(crpix=(2604.5, 1738.5), scale=SCALE)
    raw.wcs.cd = raw.wcs.cd * np.array([[-1, 1], [1, 1]])
    raw.wcs.set()
    assert solution_on_frame(raw, (3476, 5208), (9.5, 11.5)).flipped is True


def test_solutions_that_cannot_be_right_are_rejected():
    with pytest.raises(NotACelestialSolution, match="pixel scale 20.600"):
        solution_on_frame(tan_wcs(scale=2 * SCALE), (3476, 5208), (9.5, 11.5))
    linear = WCS(naxis=2)
    linear.wcs.ctype = ["GLON-CAR", "GLAT-CAR"]
    linear.wcs.cdelt = [SCALE, SCALE]
    with pytest.raises(NotACelestialSolution, match="not RA---TAN"):
        solution_on_frame(linear, (3476, 5208), (9.5, 11.5))
    wild = tan_wcs(crval=(10.0, 89.0), crpix=(2604.5, 1738.5), scale=SCALE)
    wild.wcs.crval = [10.0, float("nan")]
    with pytest.raises(NotACelestialSolution):
        solution_on_frame(wild, (3476, 5208), (9.5, 11.5))


@pytest.mark.parametrize(
    ("cards", "expected"),
    [
        ({"RA-MNT": 301.56439, "DEC-MNT": 44.456875}, (301.56439, 44.456875)),
        ({"RA-MNT": " 301.5 ", "DEC-MNT": "-12.25"}, (301.5, -12.25)),
        ({"RA-MNT": 365.0, "DEC-MNT": 10.0}, (5.0, 10.0)),
        ({"RA-MNT": "", "DEC-MNT": 44.4}, None),
        ({"DEC-MNT": 44.4}, None),
        ({"RA-MNT": 10.0, "DEC-MNT": 91.0}, None),
        ({"RA-MNT": True, "DEC-MNT": 1.0}, None),
        ({"RA-MNT": float("nan"), "DEC-MNT": 1.0}, None),
    ],
)
def test_pointing_hint_from_header_cards(cards, expected):
    hint = pointing_hint(cards, 10.0)
    if expected is None:
        assert hint is None
    else:
        assert (hint.ra, hint.dec, hint.radius) == pytest.approx((*expected, 10.0))
