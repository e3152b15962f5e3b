"""Find one catalog star by its PICID.

The :class:`~.star_catalog.Catalog` interface searches by position, so:

- ids made from positions (the local Tycho-2 catalog, ``>= 900_000_000_000``, see
  :mod:`~.tycho2_index`) name a 1-arcsecond cell of the sky: a cone search
  of 1.5 arcsec around the cell's centre finds the star, in any catalog backend;
- otherwise (TIC ids) an :class:`~.star_catalog.InMemoryCatalog` is searched
  directly and a :class:`~.local_file.LocalCatalog` file is scanned for
  the id (reading only the ``picid`` column's pages that may hold it). Other backends
  answer None for such ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from panoptes_network.catalog.local_file import LocalCatalog
from panoptes_network.catalog.star_catalog import Catalog, InMemoryCatalog
from panoptes_network.catalog.tycho2_index import ID_OFFSET

__all__ = ["CatalogStar", "find_star", "position_of_cell_id"]

# The 1-arcsecond grid of tycho2_index: rows of declination, columns of RA.
_CELL_DEG = 1.0 / 3600.0
_COLUMNS = 360 * 3600
_ROWS = 180 * 3600
# Radius of the cone around a cell's centre, in degrees: above the cell's half diagonal.
_CELL_RADIUS_DEG = 1.5 / 3600.0
# Magnitude range of that cone: every star.
_ALL_MAGNITUDES = (-100.0, 100.0)


@dataclass(frozen=True)
class CatalogStar:
    """One catalog star.

    Attributes
    ----------
    picid : int
        Its id.
    ra, dec : float
        Position in degrees (ICRS).
    vmag : float
        V magnitude.
    """

    picid: int
    ra: float
    dec: float
    vmag: float


def position_of_cell_id(picid: int) -> tuple[float, float] | None:
    """Return the centre of the sky cell a position-derived id names.

    Parameters
    ----------
    picid : int
        An id of the local Tycho-2 catalog (``ID_OFFSET + row * 1296000 + column`` on a
        1-arcsecond grid of Dec and RA).

    Returns
    -------
    (float, float) or None
        RA and Dec of the cell's centre in degrees; None when ``picid`` is not such an id.
    """
    offset = picid - ID_OFFSET
    if not 0 <= offset < _ROWS * _COLUMNS:
        return None
    row, column = divmod(offset, _COLUMNS)
    return (column + 0.5) * _CELL_DEG, min(90.0, (row + 0.5) * _CELL_DEG - 90.0)


def _star(row) -> CatalogStar:
    return CatalogStar(
        picid=int(row["picid"]), ra=float(row["ra"]), dec=float(row["dec"]), vmag=float(row["vmag"])
    )


def _by_cell(catalog: Catalog, picid: int) -> CatalogStar | None:
    centre = position_of_cell_id(picid)
    if centre is None:
        return None
    found = catalog.cone_search(centre[0], centre[1], _CELL_RADIUS_DEG, _ALL_MAGNITUDES)
    rows = found[np.asarray(found["picid"]) == picid]
    return _star(rows[0]) if len(rows) else None


def _by_scan(catalog: Catalog, picid: int) -> CatalogStar | None:
    if isinstance(catalog, InMemoryCatalog):
        rows = catalog.table[np.asarray(catalog.table["picid"]) == picid]
        return _star(rows[0]) if len(rows) else None
    if isinstance(catalog, LocalCatalog):
        if not catalog.path.is_file():
            raise FileNotFoundError(f"no star catalog at {catalog.path}")
        rows = pq.read_table(
            catalog.path, columns=["picid", "ra", "dec", "vmag"], filters=[("picid", "=", picid)]
        ).to_pylist()
        return _star(rows[0]) if rows else None
    return None


def find_star(catalog: Catalog, picid: int) -> CatalogStar | None:
    """Return the star with id ``picid``, or None when the catalog has none.

    Parameters
    ----------
    catalog : Catalog
        Where to look.
    picid : int
        The id.

    Returns
    -------
    CatalogStar or None
        The star.

    Raises
    ------
    FileNotFoundError
        When a local catalog's file is missing.
    """
    return _by_cell(catalog, picid) or _by_scan(catalog, picid)
