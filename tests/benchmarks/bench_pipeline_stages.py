"""pipeline-stages: where the time of the per-frame path goes, against what its parts cost.

Two consecutive full-size 5208 x 3476 frames of the KIC 8462852 field are simulated
(:mod:`panoptes_network.simulation`, stars from the local catalog file, else the astrometry.net
Tycho-2 index) and compressed with :func:`~panoptes_network.frames.compression.compress_frame`.
The first frame is solved by ``solve-field`` (as the first frame of an observation is); the
per-frame path of the second is then timed stage by stage, ``RUNS`` times after one warm-up:

- ``read``: decompress the ``.fits.fz``
  (:func:`~panoptes_network.frames.stored_frame.read_stored_frame`);
- ``calibrate``: bias and per-colour background (sep), superpixels
  (:func:`~panoptes_network.astrometry.bayer_background.calibrate_superpixels`);
- ``extract``: the superpixel image's sources
  (:func:`~panoptes_network.astrometry.source_extraction.extract_sources`);
- ``solve``: the first frame's solution tracked to this one by catalog matching and a fit
  (:func:`~panoptes_network.astrometry.tracking.track_solution`);
- ``catalog``: :meth:`~panoptes_network.catalog.star_catalog.Catalog.footprint_search` at the
  solution;
- ``measure``: :func:`~panoptes_network.photometry.frame_photometry.measure_frame` of those
  stars;
- ``write``: :func:`~panoptes_network.photometry.sources_table.write_sources_table` (Parquet).

**Reference parts**, measured on the same frame in the same run: sep's ``Background`` on the
four Bayer planes, ``sep.extract`` on a green plane, ``sep.sum_circle`` with a local
background annulus for the measured stars on the four planes, plus the same ``read`` and
``write``. The figure to watch is ``path_over_parts``: the median path over the sum of the
parts' medians.

**The path before** (what the first frame of an observation still costs, and what every
frame cost before tracking): photutils' ``Background2D`` calibration and ``solve-field`` on
the superpixel image (it extracts its own sources), measured live; and ``solve-field`` given
the project's sources as an xylist, which is what the first frame now gets.

**Memory**: each stage is run once more under :mod:`tracemalloc` (numpy's arrays are traced;
sep's and astrometry.net's own C buffers are not), and its peak above what it started with
is given in MB and in float32 copies of the frame (``rows x columns x 4`` bytes).

**The annulus**: the step's annulus level is sigma-clipped, robust to neighbours; sep's own
local annulus (``bkgann``) is a plain mean. ``annulus_sep_mean_over_clipped`` gives how far
the mean sits above the clipped level on this field (Galactic latitude +7 degrees), for
isolated and for contaminated stars, in ADU per pixel and as a flux bias in flux errors.

Figures: each stage's median seconds and share of the total; the reference parts; the ratio;
the before stages; the tracked solution's centre and corner errors against the true WCS and
its distance from ``solve-field``'s own solution of the same frame (pixels); stars measured.
"""

from __future__ import annotations

import gc
import shutil
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import sep

from panoptes_network.astrometry.bayer_background import calibrate_superpixels
from panoptes_network.astrometry.frame_wcs import solution_on_frame, unbin_wcs, wcs_from_header
from panoptes_network.astrometry.plate_solve import SUPERPIXEL, PlateSolver, pointing_hint
from panoptes_network.astrometry.solve_field import solve_field, solve_field_sources
from panoptes_network.astrometry.source_extraction import extract_sources
from panoptes_network.astrometry.tracking import track_solution
from panoptes_network.frames.camera import plane_offsets
from panoptes_network.frames.compression import compress_frame
from panoptes_network.frames.stored_frame import read_stored_frame
from panoptes_network.photometry.frame_photometry import (
    DEFAULT_ANNULUS,
    DEFAULT_APERTURE_RADIUS,
    measure_frame,
)
from panoptes_network.photometry.sources_table import write_sources_table
from panoptes_network.simulation import CameraModel, SequenceSpec, SequenceTruth, simulate_sequence

#: Timed runs (after one warm-up).
RUNS = 3
START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
FIELD = (301.564, 44.457)
SEED = 7
STAGES = ("read", "calibrate", "extract", "solve", "catalog", "measure", "write")
PARTS = ("sep_background", "sep_extract", "sep_sums", "read", "write")
#: The simulated camera's constants (its own electronics, as the registry would give them).
CAMERA = CameraModel()


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


def _peak_bytes(call: Callable[[], Any]) -> tuple[int, Any]:
    """Peak traced memory of a call above what was allocated when it started, in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        value = call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before, value


def _metadata() -> dict[str, Any]:
    return {
        "image_id": "PAN000_0abcde_20240912T063208",
        "sequence_id": "PAN000_0abcde_20240912T063000",
        "mid_exposure_time": "2024-09-12T06:33:08",
        "exptime": 120.0,
        "airmass": 1.1,
        "aperture_radius": DEFAULT_APERTURE_RADIUS,
        "software_version": "bench",
    }


def _stage_calls(fz: bytes, catalog, previous_wcs, solver: PlateSolver) -> list[tuple[str, Any]]:
    """The per-frame path as (stage, call) pairs, each call taking the previous results."""
    constants = CAMERA.measure_constants()
    state: dict[str, Any] = {}

    def read():
        state["frame"] = read_stored_frame(fz, "frame.fits.fz")

    def calibrate():
        state["calibrated"] = calibrate_superpixels(
            state["frame"].pixels, bias=constants["bias"], bayer_pattern="RGGB"
        )

    def extract():
        calibrated = state["calibrated"]
        state["sources"] = extract_sources(calibrated.image, calibrated.background.superpixel_rms)

    def solve():
        tracked = track_solution(
            previous_wcs,
            state["sources"],
            catalog,
            state["frame"].pixels.shape,
            scale_range=solver.scale_range(CAMERA.pixel_scale),
        )
        state["wcs"] = tracked.solution.wcs
        state["tracked"] = tracked

    def footprint():
        state["rows"] = catalog.footprint_search(state["wcs"], state["frame"].pixels.shape, 0.0)

    def measure():
        state["table"] = measure_frame(
            state["frame"].pixels, state["wcs"], state["rows"], **constants
        )

    def write():
        state["parquet"] = write_sources_table(state["table"], _metadata())

    calls = [read, calibrate, extract, solve, footprint, measure, write]
    return [(stage, call) for stage, call in zip(STAGES, calls, strict=True)], state


def _path(fz: bytes, catalog, previous_wcs, solver: PlateSolver) -> tuple[dict, dict]:
    """Run the per-frame path once; return seconds per stage and its results."""
    calls, state = _stage_calls(fz, catalog, previous_wcs, solver)
    seconds = {stage: _timed(call)[0] for stage, call in calls}
    return seconds, state


def _path_memory(fz: bytes, catalog, previous_wcs, solver: PlateSolver) -> dict[str, int]:
    calls, _ = _stage_calls(fz, catalog, previous_wcs, solver)
    return {stage: _peak_bytes(call)[0] for stage, call in calls}


def _reference_parts(pixels: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Seconds of the library parts on the same frame and stars."""
    bias = np.float32(CAMERA.measure_constants()["bias"])
    offsets = [o for group in plane_offsets("RGGB", pixels.shape[0]).values() for o in group]
    planes = [np.ascontiguousarray(pixels[dy::2, dx::2], dtype=np.float32) for dy, dx in offsets]
    for plane in planes:
        plane -= bias

    noises = []

    def backgrounds():
        for plane in planes:
            background = sep.Background(plane, bw=64, bh=64, fw=3, fh=3)
            background.subfrom(plane)
            noises.append(background.globalrms)

    seconds = {"sep_background": _timed(backgrounds)[0]}
    first_green = [i for i, o in enumerate(offsets) if o in plane_offsets("RGGB", 2)["g"]][0]
    green, noise = planes[first_green], float(noises[first_green])
    sep.set_extract_pixstack(3_000_000)
    sep.set_sub_object_limit(4096)
    # The library's defaults, on a green plane (as many pixels as the superpixel image)
    # with its own sky noise, at the step's threshold.
    seconds["sep_extract"] = _timed(lambda: sep.extract(green, 5.0, err=noise, minarea=3))[0]
    r_in, r_out = DEFAULT_ANNULUS

    def sums():
        for (dy, dx), plane in zip(offsets, planes, strict=True):
            sep.sum_circle(
                plane,
                (x - dx) / 2.0,
                (y - dy) / 2.0,
                DEFAULT_APERTURE_RADIUS / 2.0,
                subpix=0,
                bkgann=(r_in / 2.0, r_out / 2.0),
            )

    seconds["sep_sums"] = _timed(sums)[0]
    return seconds


def _annulus_against_sep_mean(pixels: np.ndarray, table) -> dict[str, dict[str, float]]:
    """How far sep's own local annulus (a plain mean) sits above the clipped annulus level.

    On one green plane, for the measured stars away from the edges, isolated and flagged
    contaminated apart: sep's ``bkgann`` mean minus the step's sigma-clipped level (ADU per
    pixel; median and 90th percentile), and the green flux's bias it would make (both green
    planes alike, over the aperture) in units of the green flux error.
    """
    from panoptes_network.photometry.flags import SourceFlag

    constants = CAMERA.measure_constants()
    gain, bias = constants["gain"], constants["bias"]
    (dy, dx) = plane_offsets("RGGB", pixels.shape[0])["g"][0]
    plane = np.ascontiguousarray(pixels[dy::2, dx::2], dtype=np.float32)
    x = (np.asarray(table["x_wcs"], dtype=float) - dx) / 2.0
    y = (np.asarray(table["y_wcs"], dtype=float) - dy) / 2.0
    radius = DEFAULT_APERTURE_RADIUS / 2.0
    r_in, r_out = (r / 2.0 for r in DEFAULT_ANNULUS)
    local, _, _ = sep.sum_circle(plane, x, y, radius, subpix=0, bkgann=(r_in, r_out))
    whole, _, _ = sep.sum_circle(plane, x, y, radius, subpix=0)
    area = np.pi * radius**2
    sep_level = (whole - local) / area
    clipped = np.asarray(table["bkg_g"], dtype=float) / gain + bias
    flags = np.asarray(table["flags"])
    usable = np.isfinite(clipped) & ((flags & (SourceFlag.NEAR_EDGE | SourceFlag.OFF_FRAME)) == 0)
    contaminated = (flags & SourceFlag.CONTAMINATED) != 0
    error = np.asarray(table["flux_err_g"], dtype=float) / gain
    out = {}
    for name, chosen in (
        ("isolated", usable & ~contaminated),
        ("contaminated", usable & contaminated),
    ):
        difference = (sep_level - clipped)[chosen]
        # Both green planes' annuli biased alike: the green flux's bias, in its own errors.
        in_errors = 2.0 * difference * area / error[chosen]
        out[name] = {
            "stars": int(chosen.sum()),
            "median_adu_per_px": float(np.median(difference)),
            "p90_adu_per_px": float(np.percentile(difference, 90)),
            "median_flux_errors": float(np.median(in_errors)),
            "p90_flux_errors": float(np.percentile(in_errors, 90)),
        }
    return out


def _errors_px(wcs, reference, shape) -> dict[str, float]:
    """Distance in pixels, on the frame, between where two WCSs put the centre and corners."""
    rows, cols = shape
    x = np.array([(cols - 1) / 2.0, 0.0, cols - 1.0, 0.0, cols - 1.0])
    y = np.array([(rows - 1) / 2.0, 0.0, 0.0, rows - 1.0, rows - 1.0])
    ra, dec = reference.all_pix2world(x, y, 0)
    px, py = wcs.all_world2pix(ra, dec, 0)
    distance = np.hypot(px - x, py - y)
    return {"centre_px": float(distance[0]), "worst_corner_px": float(distance[1:].max())}


def _solve_field_wcs(image, shape, hint, solver, folder: Path, sources=None):
    """solve-field on the superpixel image, or given the frame's sources; the frame's WCS."""
    low, high = solver.scale_range(CAMERA.pixel_scale)
    if sources is None:
        scale = (low * SUPERPIXEL, high * SUPERPIXEL)
        run = solve_field(image, folder, scale_range=scale, hint=hint, options=solver.options)
        wcs = unbin_wcs(wcs_from_header(run.header), SUPERPIXEL)
    else:
        run = solve_field_sources(
            sources, shape, folder, scale_range=(low, high), hint=hint, options=solver.options
        )
        wcs = wcs_from_header(run.header)
    return solution_on_frame(wcs, shape, solver.scale_range(CAMERA.pixel_scale)).wcs


def _before_calibrate(pixels: np.ndarray) -> float:
    """photutils' Background2D per plane (the calibration before sep), seconds."""
    from astropy.stats import SigmaClip
    from photutils.background import Background2D, MedianBackground, StdBackgroundRMS

    bias = np.float32(CAMERA.measure_constants()["bias"])

    def run():
        rows, cols = pixels.shape[0] // 2, pixels.shape[1] // 2
        image = np.zeros((rows, cols), dtype=np.float32)
        for offsets in plane_offsets("RGGB", pixels.shape[0]).values():
            for dy, dx in offsets:
                plane = pixels[dy::2, dx::2][:rows, :cols].astype(np.float32) - bias
                background = Background2D(
                    plane,
                    (64, 64),
                    filter_size=3,
                    exclude_percentile=50.0,
                    sigma_clip=SigmaClip(sigma=3.0, maxiters=10),
                    bkg_estimator=MedianBackground(),
                    bkg_rms_estimator=StdBackgroundRMS(),
                )
                plane -= background.background
                image += plane

    return _timed(run)[0]


def run() -> dict[str, Any]:
    """Time the stages of the per-frame path on a full-size simulated frame.

    Returns
    -------
    dict
        Median seconds and share per stage, the reference parts and the path's ratio to
        them, the stages before tracking, per-stage peak memory, the solution's errors, the
        stars measured; or ``{"skipped": reason}`` without a star catalog, ``solve-field``
        or its index files (the first frame must be solved).
    """
    catalog = _catalog()
    if catalog is None:
        return {"skipped": "no star catalog (catalog file or Tycho-2 index files)"}
    skip = _solve_skip_reason()
    if skip is not None:
        return {"skipped": skip}
    solver = PlateSolver()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-stages-") as name:
        tmp = Path(name)
        print("  simulating two full-size frames ...", flush=True)
        spec = SequenceSpec(
            ra=FIELD[0], dec=FIELD[1], start=START, count=2, seed=SEED, camera=CAMERA
        )
        simulated = simulate_sequence(spec, catalog, tmp / "sim")
        truth = SequenceTruth.read(simulated.folder)
        first_fz, second_fz = (
            compress_frame(path.read_bytes()).data for path in simulated.frames[:2]
        )
        first = read_stored_frame(first_fz, "first.fits.fz")
        shape = first.pixels.shape
        constants = CAMERA.measure_constants()
        calibrated = calibrate_superpixels(
            first.pixels, bias=constants["bias"], bayer_pattern="RGGB"
        )
        hint = pointing_hint(first.header, solver.hint_radius)
        sources = extract_sources(calibrated.image, calibrated.background.superpixel_rms)

        print("  the first frame by solve-field (image, then xylist) ...", flush=True)
        with tempfile.TemporaryDirectory(dir=tmp) as folder:
            image_s, _ = _timed(
                lambda: _solve_field_wcs(calibrated.image, shape, hint, solver, Path(folder))
            )
        with tempfile.TemporaryDirectory(dir=tmp) as folder:
            xylist_s, first_wcs = _timed(
                lambda: _solve_field_wcs(
                    calibrated.image, shape, hint, solver, Path(folder), sources
                )
            )
        before_calibrate_s = _before_calibrate(first.pixels)

        print(f"  the second frame's path: warm-up, then {RUNS} runs ...", flush=True)
        _path(second_fz, catalog, first_wcs, solver)
        runs: dict[str, list[float]] = {stage: [] for stage in STAGES}
        totals: list[float] = []
        for _ in range(RUNS):
            seconds, state = _path(second_fz, catalog, first_wcs, solver)
            for stage, value in seconds.items():
                runs[stage].append(value)
            totals.append(sum(seconds.values()))

        print("  reference parts and memory ...", flush=True)
        table = state["table"]
        x, y = np.asarray(table["x"], dtype=float), np.asarray(table["y"], dtype=float)
        pixels = state["frame"].pixels
        parts_runs: dict[str, list[float]] = {part: [] for part in PARTS}
        for i in range(RUNS):
            for part, value in _reference_parts(pixels, x, y).items():
                parts_runs[part].append(value)
            parts_runs["read"].append(runs["read"][i])
            parts_runs["write"].append(runs["write"][i])
        memory = _path_memory(second_fz, catalog, first_wcs, solver)

        second_calibrated = state["calibrated"]
        with tempfile.TemporaryDirectory(dir=tmp) as folder:
            solved_second = _solve_field_wcs(
                second_calibrated.image,
                shape,
                pointing_hint(state["frame"].header, solver.hint_radius),
                solver,
                Path(folder),
                state["sources"],
            )
        tracked = state["tracked"]
        annulus = _annulus_against_sep_mean(pixels, table)
        against_truth = _errors_px(state["wcs"], truth.wcs(1), shape)
        against_solve_field = _errors_px(state["wcs"], solved_second, shape)
        solve_field_against_truth = _errors_px(solved_second, truth.wcs(1), shape)

    stages = {stage: statistics.median(values) for stage, values in runs.items()}
    total = statistics.median(totals)
    parts = {part: statistics.median(values) for part, values in parts_runs.items()}
    parts_total = sum(parts.values())
    frame_bytes = shape[0] * shape[1] * 4
    before = {
        "calibrate_Background2D_s": before_calibrate_s,
        "solve_field_on_the_image_s": image_s,
        "solve_field_given_the_sources_s": xylist_s,
    }
    return {
        "frame": {"shape": list(shape), "fits_fz_bytes": len(second_fz), "field": list(FIELD)},
        "runs": RUNS,
        "stars_measured": len(table),
        "total_s": total,
        "stages_s": {f"{stage}_s": value for stage, value in stages.items()},
        "share": {stage: value / sum(stages.values()) for stage, value in stages.items()},
        "reference_parts_s": {f"{part}_s": value for part, value in parts.items()},
        "reference_total_s": parts_total,
        "path_over_parts": total / parts_total,
        "before_s": before,
        "first_frame_path_s": total - stages["solve"] + xylist_s,
        "peak_memory_mb": {stage: round(value / 1e6, 1) for stage, value in memory.items()},
        "peak_memory_float32_frames": {
            stage: round(value / frame_bytes, 2) for stage, value in memory.items()
        },
        "tracked": {
            "matched": tracked.matched,
            "rms_px": tracked.rms,
            "against_true_wcs": against_truth,
            "against_solve_field": against_solve_field,
        },
        "solve_field_against_true_wcs": solve_field_against_truth,
        "annulus_sep_mean_over_clipped": annulus,
        "runs_s": {**runs, "total": totals},
    }
