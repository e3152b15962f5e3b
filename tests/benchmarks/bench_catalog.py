"""Local star catalog: band-indexed reads against a brute-force scan of the whole file.

The catalog is the default file (:func:`~panoptes_network.catalog.local_file.default_catalog_path`)
or, when it is missing, one built in a temporary folder from astrometry.net's Tycho-2 index
files (skipped when neither exists). Two searches, at V < 13:

- a 1-degree cone;
- the footprint of a full PANOPTES frame: a TAN WCS of 5208 x 3476 pixels at 10.3 arcsec per
  pixel (about 14.9 x 9.9 degrees), through ``Catalog.footprint_search``.

Each is timed (median of several runs, after one warm-up) with
:class:`~panoptes_network.catalog.local_file.LocalCatalog` (file opened once, as a service does)
and with a brute-force scan: read the whole parquet file with pyarrow, then filter every row
with numpy (angular distance for the cone; projection of every star in front of the frame
and the pixel bounds for the footprint). ``scan_only`` times the numpy part alone, the whole
file already in memory. Both must return the same stars; the ratios are brute-force time
over LocalCatalog time.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from astropy.wcs import WCS

from panoptes_network.catalog.local_file import LocalCatalog, default_catalog_path, write_catalog
from panoptes_network.catalog.star_catalog import angular_separation
from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars

#: V magnitude range of both searches ("V < 13").
VMAG_RANGE = (-30.0, 13.0)
#: Centre of the cone and of the frame, degrees (a field near the Galactic plane, in Monoceros).
CENTRE = (100.0, 5.0)
#: Cone radius, degrees.
CONE_RADIUS = 1.0
#: Frame shape (rows, columns) and pixel scale (arcsec per pixel).
FRAME_SHAPE = (3476, 5208)
PIXEL_SCALE = 10.3
#: Timed runs after one warm-up: LocalCatalog, brute force (each reads ~60 MB).
LOCAL_RUNS = 25
BRUTE_RUNS = 5


def frame_wcs(ra: float, dec: float) -> WCS:
    """Return the TAN WCS of a PANOPTES frame centred on (``ra``, ``dec``) in degrees."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(FRAME_SHAPE[1] + 1) / 2, (FRAME_SHAPE[0] + 1) / 2]
    scale = PIXEL_SCALE / 3600.0
    wcs.wcs.cd = [[-scale, 0.0], [0.0, scale]]
    return wcs


def _median(func: Callable[[], Any], runs: int) -> tuple[float, list[float], Any]:
    result = func()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def _read_all(path: Path) -> dict[str, np.ndarray]:
    table = pq.read_table(path, columns=["picid", "ra", "dec", "vmag"])
    return {name: table.column(name).to_numpy() for name in table.column_names}


def _scan_cone(rows: dict[str, np.ndarray]) -> np.ndarray:
    vmag = rows["vmag"].astype(float)
    keep = (vmag >= VMAG_RANGE[0]) & (vmag <= VMAG_RANGE[1])
    keep &= angular_separation(*CENTRE, rows["ra"], rows["dec"]) <= CONE_RADIUS
    return np.sort(rows["picid"][keep])


def _scan_footprint(rows: dict[str, np.ndarray], wcs: WCS) -> np.ndarray:
    vmag = rows["vmag"].astype(float)
    keep = (vmag >= VMAG_RANGE[0]) & (vmag <= VMAG_RANGE[1])
    keep &= angular_separation(*CENTRE, rows["ra"], rows["dec"]) < 90
    x, y = wcs.all_world2pix(rows["ra"][keep], rows["dec"][keep], 0)
    height, width = FRAME_SHAPE
    on = (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)
    return np.sort(rows["picid"][keep][on])


def _compare(local: np.ndarray, brute: np.ndarray) -> dict[str, Any]:
    return {"rows": int(len(local)), "same_rows": bool(np.array_equal(local, brute))}


def _measure(path: Path, built: bool) -> dict[str, Any]:
    wcs = frame_wcs(*CENTRE)
    start = time.perf_counter()
    catalog = LocalCatalog(path)
    first = catalog.cone_search(*CENTRE, CONE_RADIUS, VMAG_RANGE)
    cold = time.perf_counter() - start
    info = catalog.info

    local_cone_s, local_cone_runs, cone = _median(
        lambda: catalog.cone_search(*CENTRE, CONE_RADIUS, VMAG_RANGE), LOCAL_RUNS
    )
    cone_stats = catalog.last_query
    local_fp_s, local_fp_runs, footprint = _median(
        lambda: catalog.footprint_search(wcs, FRAME_SHAPE, vmag_range=VMAG_RANGE), LOCAL_RUNS
    )
    fp_stats = catalog.last_query
    brute_cone_s, brute_cone_runs, brute_cone = _median(
        lambda: _scan_cone(_read_all(path)), BRUTE_RUNS
    )
    brute_fp_s, brute_fp_runs, brute_fp = _median(
        lambda: _scan_footprint(_read_all(path), wcs), BRUTE_RUNS
    )
    rows = _read_all(path)
    scan_cone_s, _, _ = _median(lambda: _scan_cone(rows), BRUTE_RUNS)
    scan_fp_s, _, _ = _median(lambda: _scan_footprint(rows, wcs), BRUTE_RUNS)
    read_s, _, _ = _median(lambda: _read_all(path), BRUTE_RUNS)

    local_cone_ids = np.asarray(cone["picid"])
    assert np.array_equal(local_cone_ids, np.asarray(first["picid"]))
    return {
        "catalog": {
            "path": str(path) if not built else f"(built for this run) {path.name}",
            "rows": info.rows,
            "file_bytes": info.size_bytes,
            "row_groups": info.row_groups,
            "band_height_deg": info.band_height,
        },
        "whole_file_read_s": read_s,
        "cone_1deg": {
            **_compare(local_cone_ids, brute_cone),
            "local_s": local_cone_s,
            "local_first_query_with_open_s": cold,
            "brute_force_s": brute_cone_s,
            "scan_only_s": scan_cone_s,
            "ratio_brute_over_local": brute_cone_s / local_cone_s,
            "ratio_scan_only_over_local": scan_cone_s / local_cone_s,
            "row_groups_read": len(cone_stats.row_groups),
            "rows_read": cone_stats.rows_read,
            "runs_s": {"local": local_cone_runs, "brute_force": brute_cone_runs},
        },
        "footprint_frame": {
            **_compare(np.asarray(footprint["picid"]), brute_fp),
            "local_s": local_fp_s,
            "brute_force_s": brute_fp_s,
            "scan_only_s": scan_fp_s,
            "ratio_brute_over_local": brute_fp_s / local_fp_s,
            "ratio_scan_only_over_local": scan_fp_s / local_fp_s,
            "row_groups_read": len(fp_stats.row_groups),
            "rows_read": fp_stats.rows_read,
            "runs_s": {"local": local_fp_runs, "brute_force": brute_fp_runs},
        },
    }


def run() -> dict[str, Any]:
    """Time the cone and footprint searches; see the module docstring.

    Returns
    -------
    dict
        Figures, or ``{"skipped": reason}`` without a catalog file or index files.
    """
    path = default_catalog_path()
    if path.is_file():
        return _measure(path, built=False)
    files = find_index_files()
    if not files:
        return {
            "skipped": f"no catalog file at {path} and no Tycho-2 index files to build one "
            "(install astrometry-data-tycho2, then bin/catalog build-tycho2)"
        }
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as folder:
        built = Path(folder) / "tycho2.parquet"
        write_catalog(read_index_stars(files), built, source="bench_catalog build")
        return _measure(built, built=True)
