"""Import rows of the TESS Input Catalog (TIC) into a local catalog file.

PANOPTES ids (PICID) are TIC ids. :func:`import_tic` reads a CSV (optionally gzip- or
bz2-compressed, with a header line) or parquet file of TIC rows, as exported from MAST or
a TIC table in BigQuery, and writes a catalog file (:func:`~.local_file.write_catalog`).

Column names are matched without regard to case:

=========  ==========================================  =========================
catalog    taken from (first present)                  note
=========  ==========================================  =========================
``picid``  ``ID``, ``TIC``, ``TICID``, ``TIC_ID``,     integer TIC id
           ``picid``
``ra``     ``ra``, else ``RA_orig``                     degrees, per row: ``ra``
                                                        when set, else ``RA_orig``
``dec``    ``dec``, else ``Dec_orig``                   as ``ra``
``vmag``   ``Vmag``                                     V magnitude
=========  ==========================================  =========================

Every other column (``Tmag``, ``Teff``, ``Bmag``, ``Jmag``, ...) is kept as it is, under its
lower-cased name. Rows are dropped, and counted by reason, when they have no id, no valid
position or no V magnitude, or repeat an id already seen (the first is kept).

The whole input is held in memory: import a region or a magnitude-limited subset, not the
1.7 billion rows of the full TIC. MAST's bulk TIC CSV files have no header line: add one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from panoptes_network.catalog.local_file import DEFAULT_BAND_HEIGHT, CatalogInfo, write_catalog

__all__ = [
    "DROP_REASONS",
    "ID_COLUMNS",
    "TicImportError",
    "TicImportReport",
    "import_tic",
    "read_tic_rows",
]

#: Input columns (lower-cased) that hold the TIC id, in order of preference.
ID_COLUMNS: tuple[str, ...] = ("id", "tic", "ticid", "tic_id", "picid")
_RA_COLUMNS = ("ra", "ra_orig")
_DEC_COLUMNS = ("dec", "dec_orig")
_VMAG_COLUMNS = ("vmag",)
#: Reasons a row is dropped, in the order they are checked (a row counts under the first).
DROP_REASONS: tuple[str, ...] = ("no id", "no position", "no vmag", "duplicate id")
_PARQUET_MAGIC = b"PAR1"


class TicImportError(ValueError):
    """A TIC file that cannot be imported; the message names the file and the problem."""


@dataclass(frozen=True)
class TicImportReport:
    """What an import read, kept and dropped.

    Attributes
    ----------
    input : Path
        The TIC file read.
    output : Path or None
        The catalog file written (None when nothing was written).
    rows_read : int
        Rows in the input.
    rows_kept : int
        Rows written.
    dropped : dict of str to int
        Rows dropped, by reason (see :data:`DROP_REASONS`); every reason is present.
    columns : tuple of str
        Columns of the catalog written.
    catalog : CatalogInfo or None
        What the catalog file holds.
    """

    input: Path
    output: Path | None
    rows_read: int
    rows_kept: int
    dropped: dict[str, int] = field(default_factory=dict)
    columns: tuple[str, ...] = ()
    catalog: CatalogInfo | None = None

    def __str__(self) -> str:
        reasons = ", ".join(f"{n} {reason}" for reason, n in self.dropped.items() if n)
        return (
            f"{self.input}: {self.rows_read} rows read, {self.rows_kept} kept, "
            f"{self.rows_read - self.rows_kept} dropped" + (f" ({reasons})" if reasons else "")
        )


def _read(path: Path) -> pa.Table:
    if not path.is_file():
        raise FileNotFoundError(f"TIC file {path} does not exist")
    with path.open("rb") as handle:
        magic = handle.read(4)
    try:
        if magic == _PARQUET_MAGIC:
            return pq.read_table(path)
        return pcsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise TicImportError(
            f"{path} is not a readable CSV (with a header line) or parquet file: {exc}"
        ) from exc


def _pick(rows: pa.Table, names: tuple[str, ...], what: str, path: Path) -> list[str]:
    found = [n for n in names if n in rows.column_names]
    if not found:
        raise TicImportError(
            f"{path} has no {what} column: expected one of {', '.join(names)} "
            f"(any case); columns found: {', '.join(rows.column_names) or '(none)'}"
        )
    return found


def _as_float(rows: pa.Table, name: str, path: Path) -> pa.Array:
    column = rows.column(name)
    if pa.types.is_null(column.type):
        return pa.nulls(rows.num_rows, pa.float64())
    try:
        return pc.cast(column, pa.float64()).combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise TicImportError(f"{path}: column {name!r} is not numeric: {exc}") from exc


def _coalesce(rows: pa.Table, names: list[str], path: Path) -> np.ndarray:
    """Per row, the first non-empty value of the columns, as float (NaN when none)."""
    values = pc.coalesce(*(_as_float(rows, n, path) for n in names))
    return pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False)


def read_tic_rows(path: str | Path) -> tuple[pa.Table, int, dict[str, int]]:
    """Read a TIC file into catalog rows.

    Parameters
    ----------
    path : str or Path
        CSV (with a header line; ``.gz``/``.bz2`` compressed by extension) or parquet file.

    Returns
    -------
    rows : pyarrow.Table
        ``picid`` (int64), ``ra``, ``dec`` (degrees, RA in [0, 360)), ``vmag``, then the other
        input columns, lower-cased.
    rows_read : int
        Rows in the input.
    dropped : dict of str to int
        Rows dropped, by reason.

    Raises
    ------
    TicImportError
        Naming the file and the missing or malformed column.
    FileNotFoundError
        When the file does not exist.
    """
    path = Path(path)
    rows = _read(path)
    lowered = [n.lower() for n in rows.column_names]
    clashes = sorted({n for n in lowered if lowered.count(n) > 1})
    if clashes:
        raise TicImportError(
            f"{path}: column names differ only by case: {', '.join(clashes)}; keep one of each"
        )
    rows = rows.rename_columns(lowered)
    id_column = _pick(rows, ID_COLUMNS, "TIC id", path)[0]
    ra_columns = _pick(rows, _RA_COLUMNS, "RA", path)
    dec_columns = _pick(rows, _DEC_COLUMNS, "declination", path)
    vmag_column = _pick(rows, _VMAG_COLUMNS, "V magnitude (Vmag)", path)[0]

    raw_id = _as_float(rows, id_column, path).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(rows.column(id_column).type):
        ids = pc.fill_null(rows.column(id_column), 0).to_numpy().astype(np.int64)
    else:
        ids = np.where(np.isfinite(raw_id), raw_id, 0).astype(np.int64)
        fractional = np.isfinite(raw_id) & (raw_id != ids)
        if np.any(fractional):
            raise TicImportError(
                f"{path}: column {id_column!r} holds non-integer ids, "
                f"e.g. {raw_id[np.argmax(fractional)]}"
            )
    ra = _coalesce(rows, ra_columns, path)
    dec = _coalesce(rows, dec_columns, path)
    vmag = _coalesce(rows, [vmag_column], path)

    no_id = ~np.isfinite(raw_id)
    no_position = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90))
    no_vmag = ~np.isfinite(vmag)
    keep = ~(no_id | no_position | no_vmag)
    first_seen = np.zeros(len(ids), dtype=bool)
    _, first = np.unique(ids[keep], return_index=True)
    first_seen[np.flatnonzero(keep)[first]] = True
    duplicate = keep & ~first_seen
    dropped = {
        "no id": int(no_id.sum()),
        "no position": int((no_position & ~no_id).sum()),
        "no vmag": int((no_vmag & ~no_position & ~no_id).sum()),
        "duplicate id": int(duplicate.sum()),
    }
    keep &= ~duplicate

    ra = np.mod(ra, 360.0)
    ra[ra >= 360.0] = 0.0
    used = {id_column, ra_columns[0], dec_columns[0], vmag_column}
    columns = {"picid": ids, "ra": ra, "dec": dec, "vmag": vmag}
    arrays = [pa.array(values[keep]) for values in columns.values()]
    names = list(columns)
    taken = pa.array(np.flatnonzero(keep))
    for name in rows.column_names:
        if name not in used and name not in columns:
            arrays.append(rows.column(name).take(taken))
            names.append(name)
    return pa.Table.from_arrays(arrays, names=names), rows.num_rows, dropped


def import_tic(
    path: str | Path,
    output: str | Path,
    *,
    source: str | None = None,
    band_height: float = DEFAULT_BAND_HEIGHT,
) -> TicImportReport:
    """Import a TIC file into a catalog file.

    Parameters
    ----------
    path : str or Path
        The TIC rows (see :func:`read_tic_rows`).
    output : str or Path
        Catalog file to write (atomically; an existing one is replaced).
    source : str, optional
        Stored as the catalog's source (default: ``"TIC import of <file name>"``).
    band_height : float
        Height of a declination band of the catalog file, in degrees.

    Returns
    -------
    TicImportReport
        Rows read, kept and dropped by reason.

    Raises
    ------
    TicImportError
        Naming the file and the missing or malformed column, or when no row is left.
    FileNotFoundError
        When the file does not exist.
    """
    path = Path(path)
    rows, rows_read, dropped = read_tic_rows(path)
    if rows.num_rows == 0:
        reasons = ", ".join(f"{n} {reason}" for reason, n in dropped.items() if n) or "empty"
        raise TicImportError(f"{path}: no row left to import ({rows_read} read; {reasons})")
    info = write_catalog(
        rows, output, source=source or f"TIC import of {path.name}", band_height=band_height
    )
    return TicImportReport(
        input=path,
        output=info.path,
        rows_read=rows_read,
        rows_kept=rows.num_rows,
        dropped=dropped,
        columns=info.columns,
        catalog=info,
    )
