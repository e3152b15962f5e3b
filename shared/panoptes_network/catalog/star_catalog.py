"""The star catalog interface: cone and footprint searches by V magnitude.

Every backend (the local catalog file, the PANOPTES Input Catalog in BigQuery, the
in-memory catalog used as a brute-force reference) implements :meth:`Catalog.cone_search`;
:meth:`Catalog.footprint_search` is built on it here, once, for all of them.

Rows come back as an :class:`astropy.table.Table` with at least ``picid`` (int64), ``ra`` and
``dec`` (degrees, ICRS) and ``vmag`` (V magnitude); other columns of the source are kept.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS

__all__ = [
    "DEFAULT_VMAG_RANGE",
    "REQUIRED_COLUMNS",
    "Catalog",
    "InMemoryCatalog",
    "angular_separation",
    "check_cone",
]

#: Default V magnitude range of every search: PANOPTES measures stars of V 6 to 13.
DEFAULT_VMAG_RANGE: tuple[float, float] = (6.0, 13.0)
#: Columns every catalog row has.
REQUIRED_COLUMNS: tuple[str, ...] = ("picid", "ra", "dec", "vmag")


def angular_separation(ra1, dec1, ra2, dec2) -> np.ndarray:
    """Great-circle distance between points, in degrees (Vincenty; exact at any distance).

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : float or array_like
        Coordinates in degrees; arrays broadcast.

    Returns
    -------
    numpy.ndarray
        Separations in degrees.
    """
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, dtype=float)) for v in (ra1, dec1, ra2, dec2))
    dra = ra2 - ra1
    sin_d1, cos_d1 = np.sin(dec1), np.cos(dec1)
    sin_d2, cos_d2 = np.sin(dec2), np.cos(dec2)
    num1 = cos_d2 * np.sin(dra)
    num2 = cos_d1 * sin_d2 - sin_d1 * cos_d2 * np.cos(dra)
    denominator = sin_d1 * sin_d2 + cos_d1 * cos_d2 * np.cos(dra)
    return np.degrees(np.arctan2(np.hypot(num1, num2), denominator))


def check_cone(ra: float, dec: float, radius: float, vmag_range: tuple[float, float]) -> None:
    """Check the arguments of a cone search.

    Parameters
    ----------
    ra, dec : float
        Centre in degrees.
    radius : float
        Radius in degrees, 0 < radius <= 180.
    vmag_range : (float, float)
        Faint and bright bounds, bright first.

    Raises
    ------
    ValueError
        Naming the bad argument.
    """
    if not np.isfinite(ra) or not np.isfinite(dec) or not -90 <= dec <= 90:
        raise ValueError(f"cone centre ({ra}, {dec}) is not a sky position in degrees")
    if not np.isfinite(radius) or not 0 < radius <= 180:
        raise ValueError(f"cone radius {radius} must be in (0, 180] degrees")
    low, high = vmag_range
    if not low <= high:
        raise ValueError(f"vmag range {vmag_range} must be (bright, faint) with bright <= faint")


class Catalog(ABC):
    """A star catalog that answers cone and footprint searches."""

    @abstractmethod
    def cone_search(
        self,
        ra: float,
        dec: float,
        radius: float,
        vmag_range: tuple[float, float] = DEFAULT_VMAG_RANGE,
    ) -> Table:
        """Return the stars within ``radius`` of (``ra``, ``dec``).

        Parameters
        ----------
        ra, dec : float
            Centre, in degrees (ICRS).
        radius : float
            Radius, in degrees.
        vmag_range : (float, float)
            V magnitudes kept, inclusive: (brightest, faintest).

        Returns
        -------
        astropy.table.Table
            Matching rows, sorted by ``picid``.
        """

    def footprint_search(
        self,
        wcs: WCS,
        shape: tuple[int, int],
        margin: float = 0.0,
        vmag_range: tuple[float, float] = DEFAULT_VMAG_RANGE,
    ) -> Table:
        """Return the stars that fall on an image, with their pixel positions.

        Parameters
        ----------
        wcs : astropy.wcs.WCS
            Celestial WCS of the image.
        shape : (int, int)
            Image shape (rows, columns), in pixels.
        margin : float
            Extra border kept around the image, in pixels (may be negative to trim).
        vmag_range : (float, float)
            V magnitudes kept: (brightest, faintest).

        Returns
        -------
        astropy.table.Table
            The rows, with ``x`` and ``y`` added: 0-based pixel coordinates (numpy's column
            and row), sorted by ``picid``.
        """
        rows, cols = shape
        # Corners, edge midpoints and centre of the (margin-grown) image.
        xs = np.array([-margin, cols / 2 - 0.5, cols - 1 + margin])
        ys = np.array([-margin, rows / 2 - 0.5, rows - 1 + margin])
        grid_x, grid_y = np.meshgrid(xs, ys)
        ra, dec = wcs.all_pix2world(grid_x.ravel(), grid_y.ravel(), 0)
        centre_ra, centre_dec = ra[4], dec[4]
        radius = float(np.max(angular_separation(centre_ra, centre_dec, ra, dec)))
        radius = min(180.0, radius * 1.05 + 1e-3)
        found = self.cone_search(float(centre_ra), float(centre_dec), radius, vmag_range)
        if len(found) == 0:
            found["x"] = np.zeros(0)
            found["y"] = np.zeros(0)
            return found
        x, y = wcs.all_world2pix(np.asarray(found["ra"]), np.asarray(found["dec"]), 0)
        # Stars behind the tangent point project to finite but meaningless pixels: drop them.
        in_front = angular_separation(centre_ra, centre_dec, found["ra"], found["dec"]) < 90
        keep = (
            in_front
            & np.isfinite(x)
            & np.isfinite(y)
            & (x >= -margin - 0.5)
            & (x <= cols - 0.5 + margin)
            & (y >= -margin - 0.5)
            & (y <= rows - 0.5 + margin)
        )
        result = found[keep]
        result["x"] = x[keep]
        result["y"] = y[keep]
        return result


class InMemoryCatalog(Catalog):
    """A catalog held in memory and searched by brute force: the reference implementation.

    Parameters
    ----------
    table : astropy.table.Table or Mapping of arrays
        Rows with at least ``picid``, ``ra``, ``dec`` and ``vmag``.
    """

    def __init__(self, table: Table | Mapping[str, np.ndarray]):
        self.table = table if isinstance(table, Table) else Table(dict(table))
        missing = [c for c in REQUIRED_COLUMNS if c not in self.table.colnames]
        if missing:
            raise ValueError(f"catalog rows lack column(s): {', '.join(missing)}")

    def cone_search(
        self,
        ra: float,
        dec: float,
        radius: float,
        vmag_range: tuple[float, float] = DEFAULT_VMAG_RANGE,
    ) -> Table:
        """Return the stars within ``radius`` degrees of (``ra``, ``dec``), by brute force."""
        check_cone(ra, dec, radius, vmag_range)
        t = self.table
        vmag = np.asarray(t["vmag"], dtype=float)
        keep = (vmag >= vmag_range[0]) & (vmag <= vmag_range[1])
        keep &= angular_separation(ra, dec, t["ra"], t["dec"]) <= radius
        result = t[keep]
        result.sort("picid")
        return result
