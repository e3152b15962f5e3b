"""Read the stars of astrometry.net's Tycho-2 index files.

The Debian package ``astrometry-data-tycho2`` installs ``index-tycho2-07`` to ``-19`` under
``/usr/share/astrometry``. Each file holds a thinned, evenly spread subset of Tycho-2 (about
1.9 million stars in ``-07``, fewer in the coarser ones) in a k-d tree: unit vectors stored as
scaled ``uint32`` (extension ``kdtree_data_stars``, scaling in ``kdtree_range_stars``) with
a ``MAG_VT`` column (Tycho VT magnitude) in the same order. Only positions and VT are stored,
no colours and no Tycho ids.

:func:`read_index_stars` merges the files into one list of unique stars. Ids are made stable
(the same star gets the same id from any set of files): ``900_000_000_000 +`` the star's
position in a fixed 1-arcsecond grid. Real deployments use TESS Input Catalog ids (PICID =
TIC ID) from the production catalog or a TIC import (:mod:`.tic_import`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

__all__ = ["INDEX_FOLDER", "ID_OFFSET", "find_index_files", "read_index_file", "read_index_stars"]

#: Where Debian installs the index files.
INDEX_FOLDER = Path("/usr/share/astrometry")
#: Ids made from positions start here, far above any TIC id (TIC ids are below 2e9).
ID_OFFSET = 900_000_000_000
_GRID_ARCSEC = 1.0


def find_index_files(folder: Path = INDEX_FOLDER) -> list[Path]:
    """Return the Tycho-2 index files in ``folder``, sorted by name.

    Parameters
    ----------
    folder : Path
        Where to look.

    Returns
    -------
    list of Path
        ``index-tycho2-*.fits`` files (empty when none are installed).
    """
    return sorted(folder.glob("index-tycho2-*.fits"))


def _extension(hdus: fits.HDUList, column: str) -> fits.BinTableHDU:
    for hdu in hdus[1:]:
        if isinstance(hdu, fits.BinTableHDU) and column in hdu.columns.names:
            return hdu
    raise ValueError(f"{hdus.filename()} has no {column!r} extension: not an astrometry.net index")


def read_index_file(path: Path) -> Table:
    """Read the stars of one index file.

    Parameters
    ----------
    path : Path
        An ``index-tycho2-NN.fits`` file.

    Returns
    -------
    astropy.table.Table
        Columns ``ra``, ``dec`` (degrees) and ``vmag`` (Tycho VT).

    Raises
    ------
    ValueError
        If the file is not an astrometry.net star index with ``MAG_VT``.
    """
    with fits.open(path, memmap=True) as hdus:
        endian = "<" if hdus[0].header.get("ENDIAN", "04:03:02:01") == "04:03:02:01" else ">"
        scaling = _extension(hdus, "kdtree_range_stars").data
        values = np.frombuffer(b"".join(bytes(row[0]) for row in scaling), dtype=f"{endian}f8")
        lower, scale = values[:3], values[6]
        data = _extension(hdus, "kdtree_data_stars").data
        raw = np.frombuffer(data.tobytes(), dtype=f"{endian}u4").reshape(-1, 3)
        xyz = lower + raw.astype(np.float64) / scale
        vmag = np.asarray(_extension(hdus, "MAG_VT").data["MAG_VT"], dtype=np.float32)
    xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)
    ra = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0])) % 360.0
    dec = np.degrees(np.arcsin(np.clip(xyz[:, 2], -1.0, 1.0)))
    if len(vmag) != len(ra):
        raise ValueError(f"{path}: {len(ra)} stars but {len(vmag)} magnitudes")
    return Table({"ra": ra, "dec": dec, "vmag": vmag})


def read_index_stars(paths: Iterable[Path]) -> Table:
    """Merge index files into one table of unique stars with stable ids.

    Parameters
    ----------
    paths : iterable of Path
        Index files (see :func:`find_index_files`).

    Returns
    -------
    astropy.table.Table
        Columns ``picid`` (int64, stable position-derived id), ``ra``, ``dec`` (degrees),
        ``vmag`` (Tycho VT), sorted by ``picid``. A star present in several files (within
        1 arcsecond) appears once.

    Raises
    ------
    FileNotFoundError
        If no file is given.
    """
    tables = [read_index_file(Path(p)) for p in paths]
    if not tables:
        raise FileNotFoundError(
            "no astrometry.net Tycho-2 index files: install the Debian packages "
            "astrometry.net and astrometry-data-tycho2 (or pass their folder)"
        )
    ra = np.concatenate([np.asarray(t["ra"]) for t in tables])
    dec = np.concatenate([np.asarray(t["dec"]) for t in tables])
    vmag = np.concatenate([np.asarray(t["vmag"]) for t in tables])
    cell = _GRID_ARCSEC / 3600.0
    row = np.floor((dec + 90.0) / cell).astype(np.int64)
    col = np.floor(ra / cell).astype(np.int64)
    ids = ID_OFFSET + row * int(round(360.0 / cell)) + col
    ids, first = np.unique(ids, return_index=True)
    return Table(
        {
            "picid": ids.astype(np.int64),
            "ra": ra[first],
            "dec": dec[first],
            "vmag": vmag[first].astype(np.float32),
        }
    )
