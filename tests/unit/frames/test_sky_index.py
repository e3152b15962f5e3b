"""The sky index against independent references: astropy's angles and HEALPix's own cells.

The covers are checked against brute force: points sampled inside a disc with astropy
(``SkyCoord.directional_offset_by``), placed in their cell by astropy-healpix
(``lonlat_to_healpix``), must all be in the cover; and every field/cone pair whose centres
are within the two radii (astropy's separation) must share a cell. Centres include the
poles, RA 0/360 and the 41.8 degree band where HEALPix's polar caps begin.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from astropy_healpix import HEALPix, level_ipix_to_uniq

from panoptes_network.frames.camera import PIXEL_SCALE_ARCSEC, SENSOR_SHAPE
from panoptes_network.frames.sky_index import (
    DISTORTION_ALLOWANCE,
    FIELD_RADIUS_DEG,
    INDEX_ORDERS,
    MAX_CONE_RADIUS_DEG,
    MAX_QUERY_CELLS,
    MOUNT_FIELD_RADIUS_DEG,
    MOUNT_MARGIN_DEG,
    SkySource,
    angular_distance,
    cone_cells,
    disc_cells,
    field_cells,
    field_radius,
    sky_fields,
    uniq,
    uniq_order,
)

RNG_SEED = 20261129
#: Centres that stress the grid: poles, RA 0/360, the edges of HEALPix's polar caps.
HARD_CENTRES = [
    (0.0, 90.0),
    (123.4, 89.999),
    (0.0, -90.0),
    (301.0, -89.95),
    (0.0, 0.0),
    (359.9999, 0.0),
    (0.0001, 45.0),
    (359.99, -45.0),
    (45.0, 41.81),
    (135.0, -41.81),
    (180.0, 66.4),
    (270.0, -66.4),
]


def random_centres(rng: np.random.Generator, count: int) -> list[tuple[float, float]]:
    """Centres uniform on the sphere, then the hard ones."""
    ra = rng.uniform(0.0, 360.0, count)
    dec = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))
    return [(float(a), float(d)) for a, d in zip(ra, dec, strict=True)] + HARD_CENTRES


def points_in_disc(rng, ra, dec, radius, count):
    """``count`` points inside the disc (uniform in area) and on its edge, with astropy."""
    angle = rng.uniform(0.0, 360.0, count)
    distance = radius * np.sqrt(rng.uniform(0.0, 1.0, count))
    distance[: count // 4] = radius * (1.0 - 1e-9)  # the edge, where a cover fails first
    points = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(
        angle * u.deg, distance * u.deg
    )
    return points.ra, points.dec


def test_field_radius_is_the_corner_of_a_tan_frame():
    rows, columns = SENSOR_SHAPE
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 20.0]
    wcs.wcs.crpix = [(columns + 1) / 2, (rows + 1) / 2]
    wcs.wcs.cdelt = [-PIXEL_SCALE_ARCSEC / 3600, PIXEL_SCALE_ARCSEC / 3600]
    centre = SkyCoord(150.0 * u.deg, 20.0 * u.deg)
    corners = wcs.pixel_to_world([-0.5, columns - 0.5], [-0.5, rows - 0.5])  # 0-based
    reference = centre.separation(corners).deg
    assert reference == pytest.approx([field_radius()] * 2, abs=1e-9)
    assert 8.8 < field_radius() < 8.9  # a 15 x 10 degree frame
    assert FIELD_RADIUS_DEG == pytest.approx(field_radius() * (1 + DISTORTION_ALLOWANCE))
    assert MOUNT_FIELD_RADIUS_DEG == FIELD_RADIUS_DEG + MOUNT_MARGIN_DEG
    assert field_radius((700, 700), 10.3) == pytest.approx(
        math.degrees(math.atan(math.radians(700 * math.sqrt(2) / 2 * 10.3 / 3600))), rel=1e-12
    )


@pytest.mark.parametrize("order", [0, 3, 4, 8])
def test_uniq_numbers_are_healpix_nuniq(order):
    ipix = np.array([0, 1, 12 * 4**order - 1])
    expected = level_ipix_to_uniq(order, ipix)
    assert [uniq(order, i) for i in ipix] == expected.tolist()
    assert [uniq_order(int(n)) for n in expected] == [(order, int(i)) for i in ipix]


@pytest.mark.parametrize("order", INDEX_ORDERS)
def test_a_disc_cover_holds_the_cell_of_every_point_of_the_disc(order):
    rng = np.random.default_rng(RNG_SEED + order)
    grid = HEALPix(nside=2**order, order="nested")
    radii = [0.0, 0.1, 1.0, 2.0, 5.0, FIELD_RADIUS_DEG, MOUNT_FIELD_RADIUS_DEG, 10.0]
    checked = 0
    for n, (ra, dec) in enumerate(random_centres(rng, 400)):
        radius = radii[n % len(radii)]
        cover = set(disc_cells(ra, dec, radius, order))
        lon, lat = points_in_disc(rng, ra, dec, radius, 400)
        inside = set(grid.lonlat_to_healpix(lon, lat).tolist())
        assert grid.lonlat_to_healpix(ra * u.deg, dec * u.deg) in cover
        assert inside <= cover, (ra, dec, radius, inside - cover)
        # astropy-healpix's own cone search finds a subset of these (it may miss some)
        found = grid.cone_search_lonlat(ra * u.deg, dec * u.deg, max(radius, 1e-6) * u.deg)
        assert set(found.tolist()) <= cover
        checked += 1
    assert checked == 412


def test_no_field_that_meets_a_cone_is_missed():
    """Field discs and cones whose centres are within the two radii always share a cell."""
    rng = np.random.default_rng(RNG_SEED)
    fields = random_centres(rng, 300)
    pairs = 0
    for n, (ra, dec) in enumerate(fields):
        field_r = (FIELD_RADIUS_DEG, MOUNT_FIELD_RADIUS_DEG, 1.4)[n % 3]
        cells = set(field_cells(ra, dec, field_r))
        pointing = SkyCoord(ra * u.deg, dec * u.deg)
        for cone_r in (0.0, 0.1, 2.0, 5.0, MAX_CONE_RADIUS_DEG):
            # cones just inside the reach, in random directions, one on its very edge
            reach = field_r + cone_r
            distance = reach * rng.uniform(0.9, 1.0, 6)
            distance[0] = reach * (1 - 1e-9)
            centres = pointing.directional_offset_by(
                rng.uniform(0, 360, 6) * u.deg, distance * u.deg
            )
            assert (centres.separation(pointing).deg <= reach).all()
            for c_ra, c_dec in zip(centres.ra.deg, centres.dec.deg, strict=True):
                cone = cone_cells(float(c_ra), float(c_dec), cone_r)
                assert cells & set(cone.cells), (ra, dec, field_r, c_ra, c_dec, cone_r)
                pairs += 1
    assert pairs == len(fields) * 5 * 6


def test_a_cone_asks_for_at_most_30_cells_and_the_finest_order_that_fits():
    rng = np.random.default_rng(RNG_SEED + 1)
    most = {}
    for ra, dec in random_centres(rng, 1500):
        for radius in (0.0, 0.1, 2.0, 5.0, 8.0, MAX_CONE_RADIUS_DEG):
            cone = cone_cells(ra, dec, radius)
            assert 1 <= len(cone.cells) <= MAX_QUERY_CELLS
            assert list(cone.cells) == sorted(set(cone.cells))
            assert all(uniq_order(c)[0] == cone.order for c in cone.cells)
            most[radius] = max(most.get(radius, 0), len(cone.cells))
            if radius <= 2.0:
                assert cone.order == max(INDEX_ORDERS)
            if radius == MAX_CONE_RADIUS_DEG:
                assert cone.order == min(INDEX_ORDERS)
    assert most[MAX_CONE_RADIUS_DEG] <= 24  # room below Firestore's 30


def test_the_cover_is_selective():
    # a small cone asks for a few cells, not a large part of the sky
    cone = cone_cells(83.82, -5.39, 0.1)
    assert cone.order == 4 and len(cone.cells) <= 6
    cells = field_cells(83.82, -5.39, FIELD_RADIUS_DEG)
    per_order = {order: sum(uniq_order(c)[0] == order for c in cells) for order in INDEX_ORDERS}
    assert per_order[3] <= 25 and per_order[4] <= 60  # of 768 and 3072 cells
    assert len(cells) == len(set(cells))


def test_sky_fields_of_a_mount_and_a_solved_pointing():
    mount = sky_fields(360.0, 37.5, SkySource.MOUNT)
    assert mount["sky_ra"] == 0.0 and mount["sky_dec"] == 37.5  # RA wraps into [0, 360)
    assert mount["sky_radius"] == MOUNT_FIELD_RADIUS_DEG and mount["sky_source"] == "mount"
    assert mount["sky_cells"] == field_cells(0.0, 37.5, MOUNT_FIELD_RADIUS_DEG)
    assert all(type(c) is int for c in mount["sky_cells"])
    solved = sky_fields(-10.0, -20.0, SkySource.SOLVED)
    assert solved["sky_ra"] == 350.0 and solved["sky_radius"] == FIELD_RADIUS_DEG
    assert set(solved) == {"sky_cells", "sky_ra", "sky_dec", "sky_radius", "sky_source"}
    crop = sky_fields(10.0, 20.0, SkySource.SOLVED, radius=1.4)
    assert crop["sky_radius"] == 1.4 and len(crop["sky_cells"]) < len(solved["sky_cells"])


@pytest.mark.parametrize(
    ("ra", "dec", "source", "radius"),
    [
        (10.0, 91.0, "mount", None),
        (float("nan"), 10.0, "mount", None),
        (10.0, None, "solved", None),
        (True, 10.0, "solved", None),
        ("10", 10.0, "solved", None),
        (10.0, 10.0, "guessed", None),
        (10.0, 10.0, "solved", 16.0),
        (10.0, 10.0, "solved", -1.0),
    ],
)
def test_sky_fields_refuse_what_is_not_a_pointing(ra, dec, source, radius):
    with pytest.raises(ValueError):
        sky_fields(ra, dec, source, radius=radius)


def test_a_cone_beyond_the_maximum_is_refused():
    with pytest.raises(ValueError, match="radius"):
        cone_cells(10.0, 10.0, MAX_CONE_RADIUS_DEG + 0.01)


def test_angular_distance_matches_astropy():
    rng = np.random.default_rng(RNG_SEED + 2)
    a, b = random_centres(rng, 200), random_centres(rng, 200)
    for (ra1, dec1), (ra2, dec2) in zip(a, b, strict=True):
        reference = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(
            SkyCoord(ra2 * u.deg, dec2 * u.deg)
        )
        assert angular_distance(ra1, dec1, ra2, dec2) == pytest.approx(reference.deg, abs=1e-9)
