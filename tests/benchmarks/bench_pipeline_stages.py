"""pipeline-stages: where the time of the per-frame path goes, on one full-size frame.

One full-size 5208 x 3476 frame of the KIC 8462852 field is simulated
(:mod:`panoptes_network.simulation`, stars from the local catalog file, else the astrometry.net
Tycho-2 index) and compressed with :func:`~panoptes_network.frames.compression.compress_frame`.
The per-frame path is then timed stage by stage, ``RUNS`` times after one warm-up:

- ``read``: decompress the ``.fits.fz``
  (:func:`~panoptes_network.astrometry.solved_frame.read_stored_frame`);
- ``calibrate``: bias and per-colour background, superpixels
  (:func:`~panoptes_network.astrometry.bayer_background.calibrate_superpixels`);
- ``solve``: :func:`~panoptes_network.astrometry.solve_field.solve_field` on the superpixel image
  with the :class:`~panoptes_network.astrometry.plate_solve.PlateSolver` settings, and the solution
  mapped back to the raw frame (skipped, with the reason, without ``solve-field`` or index files);
- ``catalog``: :meth:`~panoptes_network.catalog.star_catalog.Catalog.footprint_search` at the
  solution (the true WCS when the solve is skipped);
- ``measure``: :func:`~panoptes_network.photometry.frame_photometry.measure_frame` of those stars;
- ``write``: :func:`~panoptes_network.photometry.sources_table.write_sources_table` (Parquet bytes).

Figures: each stage's median seconds, its share of the median total, the stars measured and
the solution's centre error against the true WCS (pixels).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from panoptes_network.astrometry.bayer_background import calibrate_superpixels
from panoptes_network.astrometry.frame_wcs import solution_on_frame, unbin_wcs, wcs_from_header
from panoptes_network.astrometry.plate_solve import SUPERPIXEL, PlateSolver, pointing_hint
from panoptes_network.astrometry.solve_field import solve_field
from panoptes_network.astrometry.solved_frame import read_stored_frame
from panoptes_network.frames.compression import compress_frame
from panoptes_network.photometry.frame_photometry import DEFAULT_APERTURE_RADIUS, measure_frame
from panoptes_network.photometry.sources_table import write_sources_table
from panoptes_network.simulation import SequenceSpec, SequenceTruth, simulate_sequence

#: Timed runs (after one warm-up).
RUNS = 3
START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
FIELD = (301.564, 44.457)
SEED = 7
STAGES = ("read", "calibrate", "solve", "catalog", "measure", "write")


def _catalog():
    """The local catalog file, else the Tycho-2 index, else None."""
    from panoptes_network.catalog.local_file import open_catalog

    try:
        return open_catalog()
    except (FileNotFoundError, ValueError):
        pass
    from panoptes_network.catalog.star_catalog import InMemoryCatalog
    from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars

    files = find_index_files()
    return InMemoryCatalog(read_index_stars(files)) if files else None


def _solve_skip_reason() -> str | None:
    if shutil.which("solve-field") is None:
        return "solve-field not installed (Debian: astrometry.net)"
    from panoptes_network.catalog.tycho2_index import find_index_files

    if not find_index_files():
        return "Tycho-2 index files not installed (astrometry-data-tycho2)"
    return None


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def _path(fz: bytes, catalog, truth_wcs, solver: PlateSolver, solve: bool, tmp: Path):
    """Run the per-frame path once; return seconds per stage, stars measured, solved WCS."""
    seconds: dict[str, float] = {}
    seconds["read"], frame = _timed(lambda: read_stored_frame(fz, "frame.fits.fz"))
    pixels = frame.pixels
    seconds["calibrate"], calibrated = _timed(
        lambda: calibrate_superpixels(pixels, bias=solver.bias, box_size=solver.background_box)
    )
    wcs = truth_wcs
    if solve:
        low, high = solver.pixel_scale
        hint = pointing_hint(frame.header, solver.hint_radius)

        def run_solve():
            with tempfile.TemporaryDirectory(dir=tmp) as folder:
                run = solve_field(
                    calibrated.image,
                    Path(folder),
                    scale_range=(low * SUPERPIXEL, high * SUPERPIXEL),
                    hint=hint,
                    options=solver.options,
                )
            binned = wcs_from_header(run.header)
            return solution_on_frame(
                unbin_wcs(binned, SUPERPIXEL), pixels.shape, solver.pixel_scale
            )

        seconds["solve"], solution = _timed(run_solve)
        wcs = solution.wcs
    seconds["catalog"], rows = _timed(lambda: catalog.footprint_search(wcs, pixels.shape, 0.0))
    seconds["measure"], table = _timed(lambda: measure_frame(pixels, wcs, rows))
    metadata = {
        "image_id": "PAN000_0abcde_20240912T063000",
        "sequence_id": "PAN000_0abcde_20240912T063000",
        "mid_exposure_time": "2024-09-12T06:31:00",
        "exptime": 120.0,
        "airmass": 1.1,
        "aperture_radius": DEFAULT_APERTURE_RADIUS,
        "software_version": "bench",
    }
    seconds["write"], _ = _timed(lambda: write_sources_table(table, metadata))
    return seconds, len(table), wcs


def _centre_error_px(wcs, truth_wcs, shape) -> float:
    rows, cols = shape
    x, y = (cols - 1) / 2.0, (rows - 1) / 2.0
    ra, dec = truth_wcs.all_pix2world([x], [y], 0)
    px, py = wcs.all_world2pix(ra, dec, 0)
    return float(np.hypot(px[0] - x, py[0] - y))


def run() -> dict[str, Any]:
    """Time the stages of the per-frame path on one full-size simulated frame.

    Returns
    -------
    dict
        Median seconds and share of the total per stage, every run, the stars measured;
        ``solve_skipped`` gives the reason when the solve stage could not run; or
        ``{"skipped": reason}`` without any star catalog.
    """
    catalog = _catalog()
    if catalog is None:
        return {"skipped": "no star catalog (catalog file or Tycho-2 index files)"}
    skip_solve = _solve_skip_reason()
    solver = PlateSolver()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-stages-") as name:
        tmp = Path(name)
        print("  simulating a full-size frame ...", flush=True)
        spec = SequenceSpec(ra=FIELD[0], dec=FIELD[1], start=START, count=1, seed=SEED)
        simulated = simulate_sequence(spec, catalog, tmp / "sim")
        truth_wcs = SequenceTruth.read(simulated.folder).wcs(0)
        raw = simulated.frames[0].read_bytes()
        compress_s, compressed = _timed(lambda: compress_frame(raw))
        fz = compressed.data

        print(f"  warm-up, then {RUNS} runs ...", flush=True)
        _path(fz, catalog, truth_wcs, solver, skip_solve is None, tmp)
        runs: dict[str, list[float]] = {stage: [] for stage in STAGES}
        totals: list[float] = []
        for _ in range(RUNS):
            seconds, stars, wcs = _path(fz, catalog, truth_wcs, solver, skip_solve is None, tmp)
            for stage, value in seconds.items():
                runs[stage].append(value)
            totals.append(sum(seconds.values()))
        shape = (3476, 5208)
        centre_error = _centre_error_px(wcs, truth_wcs, shape) if skip_solve is None else None

    runs = {stage: values for stage, values in runs.items() if values}
    stages = {stage: statistics.median(values) for stage, values in runs.items()}
    total = sum(stages.values())
    figures: dict[str, Any] = {
        "frame": {"shape": list(shape), "fits_fz_bytes": len(fz), "field": list(FIELD)},
        "runs": RUNS,
        "stars_measured": stars,
        "total_s": total,
        "stages_s": {f"{stage}_s": value for stage, value in stages.items()},
        "share": {stage: value / total for stage, value in stages.items()},
        "compress_s": compress_s,
        "runs_s": {**runs, "total": totals},
    }
    if skip_solve is None:
        figures["solution_centre_error_px"] = centre_error
    else:
        figures["solve_skipped"] = skip_solve
    return figures
