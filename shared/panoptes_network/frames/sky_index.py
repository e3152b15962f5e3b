"""The sky index of observations: the HEALPix cells an observation's field touches.

Firestore cannot search by position, so each observation document carries the cells of a
HEALPix grid that its field touches (``sky_cells``), and a cone search looks for the
documents whose ``sky_cells`` hold any of the cells the cone touches (at most
:data:`MAX_QUERY_CELLS` cells): by key through the ``sky_cells`` key index, which lists each
cell's observations, or with Firestore's ``array-contains-any``. Two circles that meet share
a point, and that point lies in a cell of both covers: so the search finds every observation
whose field circle meets the cone. It also finds some whose circle only comes near (the
cells are larger than the gap), so the reader keeps an observation when its pointing is
within the cone's radius plus the field's radius (:func:`circles_meet`).

The field, not the pointing
    A PANOPTES frame is about 15 x 10 degrees (5208 x 3476 pixels of 10.3 arcsec). A cone
    inside the field but 6 degrees from its centre must find the observation, so the index
    holds the cells of the disc around the pointing that holds the whole frame, whatever
    its rotation: its radius is the angle from the centre to the farthest corner. A plate
    solve measures it (plate-solve computes it from the solved WCS, distortion included).
    Without a solution it is :data:`FIELD_RADIUS_DEG`, 9.06 degrees: the half diagonal of a
    full gnomonic frame at the nominal pixel scale (:func:`field_radius`, 8.89 degrees) plus
    :data:`DISTORTION_ALLOWANCE` for the lens's distortion. Before a plate solve the
    pointing is the mount's (``RA-MNT``, ``DEC-MNT``), which may be off the true centre: the
    disc is then :data:`MOUNT_MARGIN_DEG` wider (:data:`MOUNT_FIELD_RADIUS_DEG`). The
    radius used is stored with the cells (``sky_radius``), so the reader's test uses the
    same one.

Orders
    Cells are stored at two orders, :data:`INDEX_ORDERS` = (3, 4): 768 cells of about 7.3
    degrees and 3072 of about 3.7 degrees, as NUNIQ numbers (``4 * 4**order + ipix``, the
    MOC convention) so both orders share one array and never collide. A cone uses the finer
    order when its cover has at most :data:`MAX_QUERY_CELLS` cells (cones up to about 5
    degrees), else order 3, whose cover of a cone of :data:`MAX_CONE_RADIUS_DEG` (10
    degrees) has at most 21 cells (measured over a dense grid of centres, poles included;
    the tests check it). A finer order would not pay: whatever the cone, the reader keeps
    observations up to a field radius (9 degrees and more) away, so the cells only need to
    be small beside that. The document of a field holds at most about 80 cells.

Covers
    A cell is in the cover of a disc when its centre is within the disc's radius plus the
    cell's own radius (the largest angle from its centre to its boundary, sampled densely,
    plus the sampling step): by the triangle inequality every cell that holds a point of
    the disc is in the cover, and a few that only come near. (astropy-healpix's
    ``cone_search_lonlat`` is not used: it misses cells that overlap the cone, by up to
    3.6 degrees at order 3 away from the equator, astropy/astropy-healpix issue 287.)

Document fields (:func:`sky_fields`)
    ``sky_cells`` (list of int, NUNIQ), ``sky_ra`` and ``sky_dec`` (degrees, the pointing
    indexed), ``sky_radius`` (degrees, the disc indexed) and ``sky_source``
    (:class:`SkySource`: ``"mount"`` or ``"solved"``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from panoptes_network.frames.camera import PIXEL_SCALE_ARCSEC, SENSOR_SHAPE

__all__ = [
    "STAR_INDEX_ORDERS",
    "point_cells",
    "DISTORTION_ALLOWANCE",
    "FIELD_RADIUS_DEG",
    "INDEX_ORDERS",
    "MAX_CONE_RADIUS_DEG",
    "MAX_FIELD_RADIUS_DEG",
    "MAX_QUERY_CELLS",
    "MOUNT_FIELD_RADIUS_DEG",
    "MOUNT_MARGIN_DEG",
    "SKY_FIELDS",
    "ConeCells",
    "SkySource",
    "angular_distance",
    "circles_meet",
    "cone_cells",
    "disc_cells",
    "field_cells",
    "field_radius",
    "sky_fields",
    "sky_position",
    "uniq",
    "uniq_order",
]

#: HEALPix orders (nside = 2**order) of the cells stored on a document.
INDEX_ORDERS: tuple[int, ...] = (3, 4)
#: HEALPix orders of a star's cells (a point: the one cell holding it at each order), finer
#: than a field's so a cone of a fraction of a degree asks for few stars (order 7: 0.46 deg).
STAR_INDEX_ORDERS: tuple[int, ...] = (3, 5, 7)
#: Most values of one Firestore ``array-contains-any`` filter.
MAX_QUERY_CELLS = 30
#: Largest cone :func:`cone_cells` covers, in degrees (order 3: at most 21 cells).
MAX_CONE_RADIUS_DEG = 10.0
#: Largest disc :func:`field_cells` indexes, in degrees (keeps a document's array small).
MAX_FIELD_RADIUS_DEG = 15.0
#: How far a mount's reported position may be from the field's true centre, in degrees.
MOUNT_MARGIN_DEG = 2.0
#: Fraction added to a frame's gnomonic half diagonal for the lens's distortion (a solved
#: 700 x 700 crop's corner is 0.08 % beyond it; a full frame's reaches further out).
DISTORTION_ALLOWANCE = 0.02
#: The document fields of the sky index.
SKY_FIELDS: tuple[str, ...] = ("sky_cells", "sky_ra", "sky_dec", "sky_radius", "sky_source")

#: Boundary samples per cell edge for the cells' radii.
_EDGE_SAMPLES = 64


class SkySource:
    """Values of ``sky_source``: where the indexed pointing comes from."""

    #: The mount's position in the first frame's header (``RA-MNT``, ``DEC-MNT``).
    MOUNT = "mount"
    #: The observation's plate solution (its ``ra``, ``dec``).
    SOLVED = "solved"
    ALL = (MOUNT, SOLVED)


def field_radius(
    shape: tuple[int, int] = SENSOR_SHAPE, pixel_scale: float = PIXEL_SCALE_ARCSEC
) -> float:
    """Return the angle from a frame's centre to its corner (its half diagonal).

    Parameters
    ----------
    shape : (int, int)
        The frame's (rows, columns), in pixels.
    pixel_scale : float
        Pixel scale at the centre, in arcsec per pixel.

    Returns
    -------
    float
        Degrees, for a gnomonic (TAN) projection: ``atan(hypot(w, h) / 2 * scale)``.
    """
    rows, columns = shape
    half = math.radians(math.hypot(rows, columns) / 2 * pixel_scale / 3600.0)
    return math.degrees(math.atan(half))


#: The disc indexed around an unmeasured field: a full frame's half diagonal at the nominal
#: pixel scale with :data:`DISTORTION_ALLOWANCE`, in degrees (9.06).
FIELD_RADIUS_DEG = field_radius() * (1 + DISTORTION_ALLOWANCE)
#: The disc indexed around a mount position, in degrees (11.06).
MOUNT_FIELD_RADIUS_DEG = FIELD_RADIUS_DEG + MOUNT_MARGIN_DEG


def uniq(order: int, ipix: int) -> int:
    """Return the NUNIQ number of a nested cell: ``4 * 4**order + ipix``."""
    return 4 * 4**order + int(ipix)


def uniq_order(number: int) -> tuple[int, int]:
    """Return ``(order, ipix)`` of a NUNIQ number (the inverse of :func:`uniq`)."""
    order = (int(number).bit_length() - 3) // 2
    return order, int(number) - 4 * 4**order


def _unit_vectors(lon_rad: np.ndarray, lat_rad: np.ndarray) -> np.ndarray:
    cos_lat = np.cos(lat_rad)
    return np.stack(
        [cos_lat * np.cos(lon_rad), cos_lat * np.sin(lon_rad), np.sin(lat_rad)], axis=-1
    )


def _angle_deg(dot: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(dot, -1.0, 1.0)))


@functools.lru_cache(maxsize=8)
def _cells(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the unit vectors of the cells' centres and each cell's radius (degrees).

    Computed once per order and process (0.1 s); astropy is imported here, at the first
    use, so that importing the module (record-image does) costs nothing.
    """
    from astropy import units as u
    from astropy_healpix import HEALPix

    grid = HEALPix(nside=2**order, order="nested")
    index = np.arange(grid.npix)
    lon, lat = grid.healpix_to_lonlat(index)
    centres = _unit_vectors(lon.to_value(u.rad), lat.to_value(u.rad))
    edge_lon, edge_lat = grid.boundaries_lonlat(index, step=_EDGE_SAMPLES)
    edges = _unit_vectors(edge_lon.to_value(u.rad), edge_lat.to_value(u.rad))
    farthest = _angle_deg(np.einsum("nk,nsk->ns", centres, edges)).max(axis=1)
    step = _angle_deg(np.einsum("nsk,nsk->ns", edges, np.roll(edges, 1, axis=1))).max(axis=1)
    return centres, farthest + step


def sky_position(ra: Any, dec: Any) -> tuple[float, float] | None:
    """Return a valid sky position, RA wrapped into [0, 360), or None.

    Parameters
    ----------
    ra, dec : Any
        Right ascension and declination in degrees (numbers; anything else, a non-finite
        value or a declination outside [-90, 90] gives None).

    Returns
    -------
    (float, float) or None
        ``(ra % 360, dec)`` in degrees.
    """
    if isinstance(ra, bool) or isinstance(dec, bool):
        return None
    if not isinstance(ra, (int, float)) or not isinstance(dec, (int, float)):
        return None
    ra, dec = float(ra), float(dec)
    if not (math.isfinite(ra) and math.isfinite(dec) and -90.0 <= dec <= 90.0):
        return None
    return ra % 360.0, dec


def _checked(ra: float, dec: float, radius: float, largest: float) -> tuple[float, float]:
    position = sky_position(ra, dec)
    if position is None:
        raise ValueError(f"({ra!r}, {dec!r}) is not a sky position in degrees")
    if isinstance(radius, bool) or not (
        isinstance(radius, (int, float)) and 0.0 <= radius <= largest
    ):
        raise ValueError(f"radius {radius!r} must be from 0 to {largest:g} degrees")
    return position


def disc_cells(ra: float, dec: float, radius: float, order: int) -> list[int]:
    """Return the nested cells of one order that a disc may touch (a superset, never less).

    Parameters
    ----------
    ra, dec : float
        Centre, in degrees.
    radius : float
        Radius, in degrees (0 to 180).
    order : int
        HEALPix order (nside = 2**order), 0 to 8.

    Returns
    -------
    list of int
        Nested cell indices, ascending: every cell holding a point of the disc (see the
        module docstring, Covers).
    """
    ra, dec = _checked(ra, dec, radius, 180.0)
    if not 0 <= order <= 8:
        raise ValueError(f"order {order!r} must be from 0 to 8")
    centres, radii = _cells(order)
    point = _unit_vectors(np.radians(ra), np.radians(dec))
    near = _angle_deg(centres @ point) <= radius + radii
    return [int(i) for i in np.flatnonzero(near)]


def field_cells(ra: float, dec: float, radius: float = FIELD_RADIUS_DEG) -> list[int]:
    """Return the ``sky_cells`` of a field: its disc's cells at every order of the index.

    Parameters
    ----------
    ra, dec : float
        The pointing, in degrees.
    radius : float
        The field's radius, in degrees (0 to :data:`MAX_FIELD_RADIUS_DEG`).

    Returns
    -------
    list of int
        NUNIQ numbers of the cells at each of :data:`INDEX_ORDERS`, ascending.

    Raises
    ------
    ValueError
        For a position or radius out of range.
    """
    ra, dec = _checked(ra, dec, radius, MAX_FIELD_RADIUS_DEG)
    return [uniq(order, i) for order in INDEX_ORDERS for i in disc_cells(ra, dec, radius, order)]


@dataclass(frozen=True)
class ConeCells:
    """The cells a cone search asks for.

    Attributes
    ----------
    order : int
        The HEALPix order of the cells.
    cells : tuple of int
        Their NUNIQ numbers, ascending (1 to :data:`MAX_QUERY_CELLS` of them).
    """

    order: int
    cells: tuple[int, ...]


def cone_cells(
    ra: float, dec: float, radius: float, orders: tuple[int, ...] = INDEX_ORDERS
) -> ConeCells:
    """Return the cells covering a cone at the finest order that needs at most 30 of them.

    Parameters
    ----------
    ra, dec : float
        Centre, in degrees.
    radius : float
        Radius, in degrees (0 to :data:`MAX_CONE_RADIUS_DEG`).
    orders : tuple of int, optional
        The orders the searched documents hold (:data:`INDEX_ORDERS` for observations,
        :data:`STAR_INDEX_ORDERS` for stars).

    Returns
    -------
    ConeCells
        The order and the NUNIQ numbers, for ``sky_cells array-contains-any``.

    Raises
    ------
    ValueError
        For a position or radius out of range.
    """
    ra, dec = _checked(ra, dec, radius, MAX_CONE_RADIUS_DEG)
    for order in sorted(orders, reverse=True):
        cells = disc_cells(ra, dec, radius, order)
        if len(cells) <= MAX_QUERY_CELLS:
            return ConeCells(order, tuple(uniq(order, i) for i in cells))
    raise ValueError(  # pragma: no cover - excluded by MAX_CONE_RADIUS_DEG (tested)
        f"a cone of {radius} degrees needs more than {MAX_QUERY_CELLS} cells"
    )


def point_cells(ra: float, dec: float, orders: tuple[int, ...] = STAR_INDEX_ORDERS) -> list[int]:
    """Return the NUNIQ numbers of the cells holding a point, one per order, ascending.

    Parameters
    ----------
    ra, dec : float
        The point, in degrees.
    orders : tuple of int, optional
        HEALPix orders (:data:`STAR_INDEX_ORDERS` by default).

    Returns
    -------
    list of int
        A star's ``sky_cells``: a cone search at any of the orders finds it.

    Raises
    ------
    ValueError
        For a position out of range.
    """
    from astropy import units as u
    from astropy_healpix import HEALPix

    ra, dec = _checked(ra, dec, 0.0, 0.0)
    return sorted(
        uniq(
            order,
            int(HEALPix(nside=2**order, order="nested").lonlat_to_healpix(ra * u.deg, dec * u.deg)),
        )
        for order in orders
    )


def sky_fields(ra: Any, dec: Any, source: str, radius: float | None = None) -> dict[str, Any]:
    """Return the sky index fields of an observation document.

    Parameters
    ----------
    ra, dec : float
        The pointing, in degrees.
    source : str
        :attr:`SkySource.MOUNT` or :attr:`SkySource.SOLVED`.
    radius : float, optional
        The field's radius, in degrees; by default :data:`MOUNT_FIELD_RADIUS_DEG` for a
        mount position, :data:`FIELD_RADIUS_DEG` for a solved one.

    Returns
    -------
    dict
        ``sky_cells``, ``sky_ra``, ``sky_dec`` (RA wrapped into [0, 360)), ``sky_radius``
        and ``sky_source``.

    Raises
    ------
    ValueError
        For an unknown source, or a position or radius out of range.
    """
    if source not in SkySource.ALL:
        raise ValueError(f"sky source {source!r} must be one of {', '.join(SkySource.ALL)}")
    if radius is None:
        radius = MOUNT_FIELD_RADIUS_DEG if source == SkySource.MOUNT else FIELD_RADIUS_DEG
    position = sky_position(ra, dec)
    if position is None:
        raise ValueError(f"({ra!r}, {dec!r}) is not a sky position in degrees")
    sky_ra, sky_dec = position
    return {
        "sky_cells": field_cells(sky_ra, sky_dec, radius),
        "sky_ra": sky_ra,
        "sky_dec": sky_dec,
        "sky_radius": float(radius),
        "sky_source": source,
    }


def angular_distance(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Return the angle between two sky positions, in degrees (Vincenty's formula).

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : float
        Positions, in degrees.

    Returns
    -------
    float
        The great-circle separation, 0 to 180 degrees.
    """
    a1, d1, a2, d2 = map(math.radians, (ra1, dec1, ra2, dec2))
    delta = a2 - a1
    num = math.hypot(
        math.cos(d2) * math.sin(delta),
        math.cos(d1) * math.sin(d2) - math.sin(d1) * math.cos(d2) * math.cos(delta),
    )
    den = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(delta)
    return math.degrees(math.atan2(num, den))


def circles_meet(distance: float, cone_radius: float, field_radius: float) -> bool:
    """Whether a cone and a field's disc whose centres are ``distance`` apart meet.

    The reader's rule: keep an observation whose pointing is within the cone's radius plus
    the field's radius (both in degrees).
    """
    return distance <= cone_radius + field_radius
