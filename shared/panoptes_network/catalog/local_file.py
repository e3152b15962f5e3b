"""The local star catalog: one parquet file with a spatial index by declination bands.

File layout (format version 1)
------------------------------
Rows are sorted into declination bands of fixed height (``band_height`` degrees, 1 by
default): band ``b`` holds the stars with ``floor((dec + 90) / band_height) == b`` (the last
band also holds ``dec = +90``). Inside a band rows are sorted by RA and cut into parquet row
groups of at most ``group_rows`` rows, so a band is one or a few row groups, each covering an
RA range. The key ``panoptes_network.catalog`` of the parquet key-value metadata holds JSON
with the format version, the source, the band height, the band -> row-group mapping and, per
row group, its band and RA range.

A cone search reads only the row groups of the bands that intersect ``[dec - r, dec + r]``
and, within them, only those whose RA range meets the cone's RA window for that band
(split in two across RA 0/360; whole bands when the cone contains a pole). It then selects
the RA window by binary search and filters exactly with
:func:`~.star_catalog.angular_separation` and the V magnitude range, so the
result is the brute-force result (:class:`~.star_catalog.InMemoryCatalog`).

Columns: ``picid`` (int64, unique), ``ra`` and ``dec`` (float64 degrees, ICRS), ``vmag``
(float) and any other columns of the source, kept as they are.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from astropy.table import MaskedColumn, Table

from panoptes_network.catalog.star_catalog import (
    DEFAULT_VMAG_RANGE,
    REQUIRED_COLUMNS,
    Catalog,
    angular_separation,
)
from panoptes_network.catalog.star_catalog import check_cone as _check_cone
from panoptes_network.pipeline.settings import Settings

__all__ = [
    "BUILD_COMMAND",
    "CATALOG_ENV_VAR",
    "DEFAULT_BAND_HEIGHT",
    "DEFAULT_GROUP_ROWS",
    "FORMAT_VERSION",
    "METADATA_KEY",
    "CatalogInfo",
    "LocalCatalog",
    "QueryStats",
    "default_catalog_path",
    "open_catalog",
    "write_catalog",
]

#: Version of the file layout written by :func:`write_catalog`.
FORMAT_VERSION = 1
#: Parquet key-value metadata key of the index (JSON).
METADATA_KEY = b"panoptes_network.catalog"
#: Default height of a declination band, in degrees.
DEFAULT_BAND_HEIGHT = 1.0
#: Default largest number of rows in one row group (a band is cut by RA into groups this big).
DEFAULT_GROUP_ROWS = 2048
#: Environment variable that names the catalog file.
CATALOG_ENV_VAR = "PANOPTES_CATALOG"
#: The command that builds the default catalog file.
BUILD_COMMAND = "bin/catalog build-tycho2"

# Padding of the prefilters, in degrees: far above rounding errors (~1e-8 degrees), far below
# anything that costs reads. The exact filter decides.
_DEC_PAD = 1e-9
_RA_PAD = 1e-5


def default_catalog_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return where the catalog file is by default.

    Parameters
    ----------
    environ : Mapping of str to str, optional
        Environment to read (``os.environ`` by default).

    Returns
    -------
    Path
        ``$PANOPTES_CATALOG`` (:attr:`Settings.catalog
        <panoptes_network.pipeline.settings.Settings.catalog>`) when set, else
        ``$XDG_CACHE_HOME/panoptes-network/catalog/tycho2.parquet`` (``XDG_CACHE_HOME``
        defaulting to ``~/.cache``).
    """
    env = os.environ if environ is None else environ
    configured = Settings.from_env(env).catalog
    if configured:
        return Path(configured).expanduser()
    cache = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return cache / "panoptes-network" / "catalog" / "tycho2.parquet"


@dataclass(frozen=True)
class CatalogInfo:
    """What a catalog file holds.

    Attributes
    ----------
    path : Path
        The file.
    source : str
        Where the rows came from.
    rows : int
        Number of stars.
    band_height : float
        Height of a declination band, in degrees.
    band_count : int
        Number of bands covering -90 to +90 degrees.
    bands : int
        Number of bands holding at least one star.
    row_groups : int
        Number of parquet row groups.
    columns : tuple of str
        Column names.
    created : str
        When the file was written (ISO 8601, UTC).
    size_bytes : int
        File size, in bytes.
    format_version : int
        Layout version.
    """

    path: Path
    source: str
    rows: int
    band_height: float
    band_count: int
    bands: int
    row_groups: int
    columns: tuple[str, ...]
    created: str
    size_bytes: int
    format_version: int = FORMAT_VERSION


@dataclass(frozen=True)
class QueryStats:
    """What one cone search read.

    Attributes
    ----------
    bands : tuple of int
        Declination bands intersecting the cone.
    row_groups : tuple of int
        Row groups read.
    rows_read : int
        Rows in those row groups.
    rows_returned : int
        Rows in the result.
    """

    bands: tuple[int, ...]
    row_groups: tuple[int, ...]
    rows_read: int
    rows_returned: int


def _band_count(band_height: float) -> int:
    return math.ceil(180.0 / band_height - 1e-9)


def _band_of(dec: np.ndarray, band_height: float, band_count: int) -> np.ndarray:
    band = np.floor((np.asarray(dec, dtype=float) + 90.0) / band_height).astype(np.int64)
    return np.clip(band, 0, band_count - 1)


# --- writing ------------------------------------------------------------------------------


def _to_arrow(table: Table | pa.Table | Mapping[str, Any]) -> pa.Table:
    if isinstance(table, pa.Table):
        return table
    if not isinstance(table, Table):
        table = Table(dict(table))
    arrays, names = [], []
    for name in table.colnames:
        column = table[name]
        mask = getattr(column, "mask", None)
        if mask is not None and np.any(mask):
            arrays.append(pa.array(np.asarray(column.filled()), mask=np.asarray(mask)))
        else:
            arrays.append(pa.array(np.asarray(column)))
        names.append(name)
    return pa.Table.from_arrays(arrays, names=names)


def _numeric(table: pa.Table, name: str) -> np.ndarray:
    column = table.column(name)
    if column.null_count:
        raise ValueError(f"catalog column {name!r} has {column.null_count} empty value(s)")
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise ValueError(f"catalog column {name!r} must be numeric, not {column.type}")
    return column.to_numpy()


def _check_rows(table: pa.Table) -> pa.Table:
    """Validate the required columns and give them their canonical types."""
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise ValueError(
            f"catalog rows lack required column(s) {', '.join(missing)}; "
            f"columns found: {', '.join(table.column_names) or '(none)'}"
        )
    duplicated = {n for n in table.column_names if table.column_names.count(n) > 1}
    if duplicated:
        raise ValueError(f"catalog column name(s) {', '.join(sorted(duplicated))} appear twice")
    if not pa.types.is_integer(table.column("picid").type):
        raise ValueError(f"catalog column 'picid' must be integers, not {table['picid'].type}")
    picid = _numeric(table, "picid").astype(np.int64)
    ra = _numeric(table, "ra").astype(np.float64)
    dec = _numeric(table, "dec").astype(np.float64)
    vmag = _numeric(table, "vmag")
    if not np.issubdtype(vmag.dtype, np.floating):
        vmag = vmag.astype(np.float64)
    checks = [
        ("ra", ra, ~(np.isfinite(ra) & (ra >= 0) & (ra < 360)), "in [0, 360) degrees"),
        ("dec", dec, ~(np.isfinite(dec) & (dec >= -90) & (dec <= 90)), "in [-90, 90] degrees"),
        ("vmag", vmag, ~np.isfinite(vmag), "finite"),
    ]
    for name, values, bad, rule in checks:
        if np.any(bad):
            first = int(np.argmax(bad))
            raise ValueError(
                f"catalog column {name!r} must be {rule}: {int(bad.sum())} row(s) are not, "
                f"e.g. row {first} (picid {picid[first]}) has {values[first]}"
            )
    unique, counts = np.unique(picid, return_counts=True)
    if len(unique) != len(picid):
        repeated = unique[counts > 1]
        raise ValueError(
            f"catalog column 'picid' must be unique: {len(repeated)} id(s) repeat, "
            f"e.g. {repeated[0]}"
        )
    canonical = {"picid": picid, "ra": ra, "dec": dec, "vmag": vmag}
    for name, values in canonical.items():
        index = table.column_names.index(name)
        table = table.set_column(index, name, pa.array(values))
    return table


def write_catalog(
    table: Table | pa.Table | Mapping[str, Any],
    path: str | Path,
    *,
    source: str,
    band_height: float = DEFAULT_BAND_HEIGHT,
    group_rows: int = DEFAULT_GROUP_ROWS,
) -> CatalogInfo:
    """Write stars to a catalog file, atomically (a temporary file renamed into place).

    Parameters
    ----------
    table : astropy.table.Table, pyarrow.Table or Mapping of arrays
        Rows with ``picid`` (integer, unique), ``ra`` (degrees in [0, 360)), ``dec``
        (degrees in [-90, 90]) and ``vmag`` (finite); other columns are kept as they are.
    path : str or Path
        The file to write (its folder is created; an existing file is replaced).
    source : str
        Where the rows come from, stored in the file.
    band_height : float
        Height of a declination band, in degrees (0 < band_height <= 180).
    group_rows : int
        Largest number of rows in a row group; a band holding more is cut by RA.

    Returns
    -------
    CatalogInfo
        What was written.

    Raises
    ------
    ValueError
        Naming the column and a bad row when the rows are not a valid catalog.
    """
    if not (math.isfinite(band_height) and 0 < band_height <= 180):
        raise ValueError(f"band height {band_height} must be in (0, 180] degrees")
    if group_rows < 1:
        raise ValueError(f"group_rows {group_rows} must be at least 1")
    rows = _check_rows(_to_arrow(table))
    band_count = _band_count(band_height)
    ra = rows.column("ra").to_numpy()
    dec = rows.column("dec").to_numpy()
    band = _band_of(dec, band_height, band_count)
    order = np.lexsort((rows.column("picid").to_numpy(), ra, band))
    rows = rows.take(pa.array(order))
    ra, band = ra[order], band[order]

    groups: list[tuple[int, int, int]] = []  # (band, start, stop) in sorted rows
    bands_map: dict[str, list[int]] = {}
    starts = np.flatnonzero(np.r_[True, band[1:] != band[:-1]]) if len(band) else []
    for start in starts:
        stop = int(np.searchsorted(band, band[start], side="right"))
        first = len(groups)
        for g in range(int(start), stop, group_rows):
            groups.append((int(band[start]), g, min(g + group_rows, stop)))
        bands_map[str(int(band[start]))] = [first, len(groups)]
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    index = {
        "format_version": FORMAT_VERSION,
        "source": source,
        "created": created,
        "rows": rows.num_rows,
        "band_height": band_height,
        "band_count": band_count,
        "bands": bands_map,
        "row_groups": [[b, float(ra[s]), float(ra[e - 1]), e - s] for b, s, e in groups],
    }
    schema = rows.schema.with_metadata(
        {**(rows.schema.metadata or {}), METADATA_KEY: json.dumps(index).encode()}
    )
    rows = rows.replace_schema_metadata(schema.metadata)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with pq.ParquetWriter(temporary, schema, compression="snappy") as writer:
            for _, start, stop in groups:
                writer.write_table(rows.slice(start, stop - start), row_group_size=stop - start)
            if not groups:
                writer.write_table(rows)
        written = pq.ParquetFile(temporary)
        if written.metadata.num_rows != rows.num_rows or (
            groups and written.metadata.num_row_groups != len(groups)
        ):
            raise OSError(f"{temporary} was not written as expected; nothing replaced")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return CatalogInfo(
        path=path,
        source=source,
        rows=rows.num_rows,
        band_height=band_height,
        band_count=band_count,
        bands=len(bands_map),
        row_groups=len(groups),
        columns=tuple(rows.column_names),
        created=created,
        size_bytes=path.stat().st_size,
    )


# --- reading ------------------------------------------------------------------------------


def _ra_half_width(dec0: float, radius: float, low: float, high: float) -> float:
    """Largest RA offset from the centre, in degrees, of the cone's points with dec in a range.

    The cone (centre declination ``dec0``, ``radius``, degrees) must not contain a pole.
    ``low`` and ``high`` bound the declinations, in degrees, and must meet the cone's.
    """
    d0, r = math.radians(dec0), math.radians(radius)
    sin_d0, cos_d0, cos_r = math.sin(d0), math.cos(d0), math.cos(r)
    ratio = math.sin(r) / cos_d0
    if ratio >= 1.0:
        return 180.0
    # Where the cone is widest in RA: sin(d_t) = sin(d0) / cos(r).
    widest = math.degrees(math.asin(max(-1.0, min(1.0, sin_d0 / cos_r))))
    low, high = max(low, dec0 - radius), min(high, dec0 + radius)
    if low <= widest <= high:
        return math.degrees(math.asin(ratio))
    d = math.radians(high if high < widest else low)
    cos_width = (cos_r - sin_d0 * math.sin(d)) / (cos_d0 * math.cos(d))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos_width))))


def _ra_segments(ra0: float, half_width: float) -> list[tuple[float, float]]:
    """Cut the RA window ``ra0 +- half_width`` (degrees) into segments within [0, 360]."""
    if half_width >= 180.0:
        return [(0.0, 360.0)]
    low, high = ra0 - half_width, ra0 + half_width
    if low < 0:
        return [(0.0, high), (low + 360.0, 360.0)]
    if high >= 360.0:
        return [(0.0, high - 360.0), (low, 360.0)]
    return [(low, high)]


def _to_table(rows: pa.Table) -> Table:
    """Convert arrow rows to an astropy table (empty values become masked entries)."""
    columns = {}
    for name in rows.column_names:
        column = rows.column(name).combine_chunks()
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            values = np.array(pc.fill_null(column, "").to_pylist(), dtype=str)
        elif column.null_count and pa.types.is_boolean(column.type):
            values = pc.fill_null(column, False).to_numpy(zero_copy_only=False)
        elif column.null_count and (
            pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        ):
            values = pc.fill_null(column, pa.scalar(0, column.type)).to_numpy()
        else:
            values = column.to_numpy(zero_copy_only=False)
        if column.null_count:
            mask = column.is_null().to_numpy(zero_copy_only=False)
            columns[name] = MaskedColumn(values, mask=mask, name=name)
        else:
            columns[name] = values
    return Table(columns, names=rows.column_names)


class LocalCatalog(Catalog):
    """A catalog file written by :func:`write_catalog`, searched through its band index.

    The file is opened on first use and the handle kept; searches from several threads are
    safe (reads are serialised, filtering is not).

    Parameters
    ----------
    path : str or Path
        The catalog file.

    Attributes
    ----------
    last_query : QueryStats or None
        What the latest cone search read (None before the first).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.last_query: QueryStats | None = None
        self._lock = threading.Lock()
        self._file: pq.ParquetFile | None = None
        self._index: dict[str, Any] = {}
        self._group_band = np.zeros(0, dtype=np.int64)
        self._group_ra = np.zeros((0, 2))
        self._group_rows = np.zeros(0, dtype=np.int64)

    def __repr__(self) -> str:
        return f"LocalCatalog({str(self.path)!r})"

    def __enter__(self) -> LocalCatalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (it is opened again when needed)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
            self._file = None

    def _open(self) -> pq.ParquetFile:
        """Open the file and read its index; call with the lock held."""
        if self._file is not None:
            return self._file
        if not self.path.is_file():
            raise FileNotFoundError(_missing_message(self.path))
        handle = pq.ParquetFile(self.path, memory_map=True)
        raw = (handle.schema_arrow.metadata or {}).get(METADATA_KEY)
        if raw is None:
            handle.close()
            raise ValueError(
                f"{self.path} is a parquet file without a catalog index: "
                f"not written by panoptes_network.catalog.local_file (rebuild it: {BUILD_COMMAND})"
            )
        index = json.loads(raw)
        if index.get("format_version") != FORMAT_VERSION:
            handle.close()
            raise ValueError(
                f"{self.path} has catalog format version {index.get('format_version')}, "
                f"this code reads version {FORMAT_VERSION}: rebuild it ({BUILD_COMMAND})"
            )
        groups = index["row_groups"]
        self._group_band = np.array([g[0] for g in groups], dtype=np.int64)
        self._group_ra = np.array([[g[1], g[2]] for g in groups], dtype=float).reshape(-1, 2)
        self._group_rows = np.array([g[3] for g in groups], dtype=np.int64)
        self._index = index
        self._file = handle
        return handle

    @property
    def info(self) -> CatalogInfo:
        """What the file holds (opens it)."""
        with self._lock:
            handle = self._open()
            index = self._index
        return CatalogInfo(
            path=self.path,
            source=index["source"],
            rows=handle.metadata.num_rows,
            band_height=index["band_height"],
            band_count=index["band_count"],
            bands=len(index["bands"]),
            row_groups=handle.metadata.num_row_groups,
            columns=tuple(handle.schema_arrow.names),
            created=index["created"],
            size_bytes=self.path.stat().st_size,
            format_version=index["format_version"],
        )

    def _plan(self, ra0: float, dec0: float, radius: float) -> dict[int, list[tuple[float, float]]]:
        """Map each band the cone meets to its RA segments (call with the index loaded)."""
        height = float(self._index["band_height"])
        count = int(self._index["band_count"])
        low = max(-90.0, dec0 - radius - _DEC_PAD)
        high = min(90.0, dec0 + radius + _DEC_PAD)
        first, last = (int(b) for b in _band_of(np.array([low, high]), height, count))
        contains_pole = dec0 + radius >= 90.0 - _DEC_PAD or dec0 - radius <= -90.0 + _DEC_PAD
        plan = {}
        for band in range(first, last + 1):
            if contains_pole:
                plan[band] = [(0.0, 360.0)]
                continue
            band_low = band * height - 90.0 - _DEC_PAD
            band_high = (band + 1) * height - 90.0 + _DEC_PAD
            width = _ra_half_width(dec0, radius, band_low, band_high)
            plan[band] = _ra_segments(ra0, width + _RA_PAD)
        return plan

    def cone_search(
        self,
        ra: float,
        dec: float,
        radius: float,
        vmag_range: tuple[float, float] = DEFAULT_VMAG_RANGE,
    ) -> Table:
        """Return the stars within ``radius`` of (``ra``, ``dec``), reading only nearby bands.

        Parameters
        ----------
        ra, dec : float
            Centre, in degrees (ICRS).
        radius : float
            Radius, in degrees (0 < radius <= 180).
        vmag_range : (float, float)
            V magnitudes kept, inclusive: (brightest, faintest).

        Returns
        -------
        astropy.table.Table
            Matching rows with all the file's columns, sorted by ``picid``.

        Raises
        ------
        ValueError
            For a bad centre, radius or magnitude range.
        FileNotFoundError
            When the catalog file does not exist (naming the command that builds it).
        """
        _check_cone(ra, dec, radius, vmag_range)
        ra0 = float(ra) % 360.0
        if ra0 >= 360.0:  # a tiny negative RA rounds to 360
            ra0 = 0.0
        with self._lock:
            handle = self._open()
        plan = self._plan(ra0, float(dec), float(radius))
        chosen: list[int] = []
        for band, segments in plan.items():
            in_band = np.flatnonzero(self._group_band == band)
            ra_min, ra_max = self._group_ra[in_band, 0], self._group_ra[in_band, 1]
            meets = np.zeros(len(in_band), dtype=bool)
            for low, high in segments:
                meets |= (ra_max >= low) & (ra_min <= high)
            chosen.extend(int(g) for g in in_band[meets])
        chosen.sort()
        with self._lock:
            rows = (
                handle.read_row_groups(chosen, use_threads=False)
                if chosen
                else handle.schema_arrow.empty_table()
            )
        picked = self._select(rows, chosen, plan, ra0, float(dec), float(radius), vmag_range)
        picid = rows.column("picid").to_numpy()[picked]
        picked = picked[np.argsort(picid, kind="stable")]
        result = _to_table(rows.take(pa.array(picked, type=pa.int64())))
        self.last_query = QueryStats(
            bands=tuple(plan),
            row_groups=tuple(chosen),
            rows_read=rows.num_rows,
            rows_returned=len(result),
        )
        return result

    def _select(
        self,
        rows: pa.Table,
        chosen: list[int],
        plan: dict[int, list[tuple[float, float]]],
        ra0: float,
        dec0: float,
        radius: float,
        vmag_range: tuple[float, float],
    ) -> np.ndarray:
        """Return the indices of the rows read in the cone and the magnitude range."""
        if not chosen:
            return np.zeros(0, dtype=np.int64)
        ra = rows.column("ra").to_numpy()
        # The rows of one band are consecutive and sorted by RA: binary-search each window.
        bands = self._group_band[chosen]
        sizes = self._group_rows[chosen]
        ends = np.cumsum(sizes)
        pieces = []
        for band in np.unique(bands):
            start = int(ends[bands == band][0] - sizes[bands == band][0])
            stop = int(ends[bands == band][-1])
            band_ra = ra[start:stop]
            for low, high in plan[int(band)]:
                first = int(np.searchsorted(band_ra, low, side="left"))
                last = int(np.searchsorted(band_ra, high, side="right"))
                pieces.append(np.arange(start + first, start + last))
        candidates = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
        vmag = rows.column("vmag").to_numpy()[candidates].astype(float)
        candidates = candidates[(vmag >= vmag_range[0]) & (vmag <= vmag_range[1])]
        dec = rows.column("dec").to_numpy()[candidates]
        near = angular_separation(ra0, dec0, ra[candidates], dec) <= radius
        return candidates[near]


def _missing_message(path: Path) -> str:
    return (
        f"no star catalog at {path}: build it with `{BUILD_COMMAND}` (from the astrometry.net "
        f"Tycho-2 index files) or `bin/catalog import-tic FILE --output {path}`, "
        f"or set {CATALOG_ENV_VAR} to an existing catalog file"
    )


def open_catalog(path: str | Path | None = None) -> LocalCatalog:
    """Return the local catalog (the file is opened on first use).

    Parameters
    ----------
    path : str or Path, optional
        The catalog file (:func:`default_catalog_path` by default).

    Returns
    -------
    LocalCatalog
        The catalog.

    Raises
    ------
    FileNotFoundError
        When the file does not exist, naming it and the command that builds it.
    """
    path = default_catalog_path() if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(_missing_message(path))
    return LocalCatalog(path)
