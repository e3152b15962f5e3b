"""plate-solve: the step's own time against bare ``solve-field`` on the same full-size frame.

One full-size 5208 x 3476 frame of the KIC 8462852 field is simulated from the astrometry.net
Tycho-2 index (:mod:`panoptes_network.simulation`, with its true WCS) and compressed to
``.fits.fz``. Measured in the same run, alternately, ``RUNS`` times after one warm-up each:

- ``step_s``: :func:`~panoptes_network.astrometry.plate_solve.plate_solve` in-process with in-memory
  ports, from the request to the documents updated (the frame already recorded), with its
  stage breakdown: ``read`` (download and decompress), ``preview`` (the JPEG preview
  rendered, stored and recorded), ``calibrate`` (bias, per-colour
  background, superpixels, star count), ``solve`` (writing the superpixel image, running
  ``solve-field``, reading and checking the WCS), ``write`` (the solved ``.fits.fz``, stored
  and checked) and ``record`` (the document batch);
- ``bare_solve_field_s``: the ``solve-field`` process alone with exactly the step's arguments
  (:func:`~panoptes_network.astrometry.solve_field.solve_field_arguments`) on the step's superpixel
  image, already written;
- ``raw_solve_field_s``: what a pipeline without the calibration would run: ``solve-field``
  on the raw uncompressed frame, the same hints and limits, scale in raw pixels and
  ``--downsample 4``.

``overhead_ratio`` is ``step_s / bare_solve_field_s``. Also reported: the solution's error
against the true WCS (centre and corners, in pixels), the peak resident memory of one step in
a fresh Python process (Linux ``VmHWM``), and that of ``solve-field`` with its children
(GNU ``time``).
"""

from __future__ import annotations

import gc
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from panoptes_network.astrometry.bayer_background import calibrate_superpixels
from panoptes_network.astrometry.frame_wcs import wcs_from_header
from panoptes_network.astrometry.plate_solve import (
    SUPERPIXEL,
    PlateSolver,
    plate_solve,
    pointing_hint,
)
from panoptes_network.astrometry.solve_field import run_process_group, solve_field_arguments
from panoptes_network.catalog.star_catalog import InMemoryCatalog
from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars
from panoptes_network.frames.compression import compress_frame
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation import SequenceSpec, SequenceTruth, simulate_sequence
from tests.unit.fakes import MemoryBus, MemoryDocuments, MemoryStore

#: Timed runs of each contender (after one warm-up each).
RUNS = 3
START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
FIELD = (301.564, 44.457)
SEED = 7
ROOT = Path(__file__).resolve().parents[2]
S = Settings()
_STAGES = ("read_s", "preview_s", "calibrate_s", "solve_s", "write_s", "record_s")

# Run one step in a fresh interpreter and report its peak resident memory. The peak (VmHWM)
# is reset first: a forked child starts with its parent's pages counted, which would
# otherwise hide the step's own figure.
_MEMORY_PROBE = """
import json, sys
from pathlib import Path
from panoptes_network.astrometry.plate_solve import plate_solve
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.settings import Settings
from tests.unit.fakes import MemoryBus, MemoryDocuments, MemoryStore

def peak_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

Path("/proc/self/clear_refs").write_text("5")
S = Settings()
ctx = ChainContext(S, MemoryStore(), MemoryBus(), MemoryDocuments())
name = sys.argv[2]
ctx.store.put(S.images_bucket, name, open(sys.argv[1], "rb").read())
obj = StoredObject(S.images_bucket, name)
record_image(ctx, obj)
before = peak_kib()
result = plate_solve(ctx, obj)
print(json.dumps({"action": result.action, "before_kib": before, "step_kib": peak_kib()}))
"""


def _solve_field_peak_mb(command: list[str], timeout: float) -> float | None:
    """Peak resident memory of solve-field and the children it waits for (GNU time)."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if gnu_time is None:
        return None
    done = run_process_group([gnu_time, "-f", "%M", *command], timeout)
    try:
        return round(int(done.stderr.strip().splitlines()[-1]) / 1024, 1)
    except (ValueError, IndexError):
        return None


def _recorded(name: str, fz: bytes) -> tuple[ChainContext, StoredObject]:
    ctx = ChainContext(S, MemoryStore(), MemoryBus(), MemoryDocuments(), service="bench")
    ctx.store.put(S.images_bucket, name, fz)
    obj = StoredObject(S.images_bucket, name)
    record_image(ctx, obj)
    return ctx, obj


def _step(name: str, fz: bytes, solver: PlateSolver) -> tuple[float, dict[str, Any], Any]:
    ctx, obj = _recorded(name, fz)
    gc.collect()
    start = time.perf_counter()
    result = plate_solve(ctx, obj, solver)
    elapsed = time.perf_counter() - start
    if result.action != "solved":
        raise RuntimeError(f"the step did not solve the frame: {dict(result.detail)}")
    return elapsed, dict(result.detail), ctx


def _process(command: list[str], timeout: float) -> tuple[float, bool]:
    gc.collect()
    start = time.perf_counter()
    done = run_process_group(command, timeout)
    elapsed = time.perf_counter() - start
    solved = Path(command[command.index("--solved") + 1]) if "--solved" in command else None
    ok = done.returncode == 0 and (solved is None or solved.exists())
    if solved is not None:
        solved.unlink(missing_ok=True)
    return elapsed, ok


def _errors_px(wcs, truth_wcs, shape) -> dict[str, float]:
    rows, cols = shape
    x = np.array([(cols - 1) / 2, 0, cols - 1, 0, cols - 1], dtype=float)
    y = np.array([(rows - 1) / 2, 0, 0, rows - 1, rows - 1], dtype=float)
    ra, dec = truth_wcs.all_pix2world(x, y, 0)
    px, py = wcs.all_world2pix(ra, dec, 0)
    error = np.hypot(px - x, py - y)
    return {"centre_px": float(error[0]), "worst_corner_px": float(error[1:].max())}


def run() -> dict[str, Any]:
    """Time the plate-solve step against bare ``solve-field`` on a full-size frame.

    Returns
    -------
    dict
        Medians and every run in seconds, the stage breakdown, the ratios, the accuracy
        against the true WCS and the peak memory; or ``{"skipped": reason}`` without
        ``solve-field`` or the Tycho-2 index files.
    """
    if shutil.which("solve-field") is None:
        return {"skipped": "solve-field not installed (Debian: astrometry.net)"}
    files = find_index_files()
    if not files:
        return {"skipped": "Tycho-2 index files not installed (astrometry-data-tycho2)"}

    with tempfile.TemporaryDirectory(prefix="bench-plate-solve-") as tmp:
        folder = Path(tmp)
        print("  simulating a full-size frame from the Tycho-2 index ...", flush=True)
        catalog = InMemoryCatalog(read_index_stars(files))
        spec = SequenceSpec(ra=FIELD[0], dec=FIELD[1], start=START, count=1, seed=SEED)
        simulated = simulate_sequence(spec, catalog, folder / "sim")
        del catalog
        raw_path = simulated.frames[0]
        truth_wcs = SequenceTruth.read(simulated.folder).wcs(0)
        name = raw_path.relative_to(folder / "sim").as_posix() + ".fz"
        fz = compress_frame(raw_path.read_bytes()).data
        fz_path = folder / "frame.fits.fz"
        fz_path.write_bytes(fz)

        solver = PlateSolver()
        with fits.open(raw_path) as hdus:
            header, pixels = hdus[0].header.copy(), np.array(hdus[0].data)
        low, high = solver.pixel_scale
        hint = pointing_hint(header, solver.hint_radius)
        bare_dir = folder / "bare"
        bare_dir.mkdir()
        image = calibrate_superpixels(pixels).image
        fits.writeto(bare_dir / "frame.fits", image)
        bare = solve_field_arguments(
            bare_dir / "frame.fits",
            scale_range=(low * SUPERPIXEL, high * SUPERPIXEL),
            hint=hint,
            options=solver.options,
            shape=image.shape,
        )
        raw_dir = folder / "raw"
        raw_dir.mkdir()
        shutil.copy(raw_path, raw_dir / "frame.fits")
        raw = solve_field_arguments(
            raw_dir / "frame.fits",
            scale_range=(low, high),
            hint=hint,
            options=solver.options,
            shape=pixels.shape,
        )
        raw[raw.index("--downsample") + 1] = "4"
        del image, pixels

        print(f"  warm-up, then {RUNS} runs of each, alternately ...", flush=True)
        _step(name, fz, solver)
        _process(bare, solver.options.timeout)
        _process(raw, solver.options.timeout)
        step_times: list[float] = []
        bare_times: list[float] = []
        raw_times: list[float] = []
        stages: dict[str, list[float]] = {stage: [] for stage in _STAGES}
        raw_solved = True
        for _ in range(RUNS):
            elapsed, detail, ctx = _step(name, fz, solver)
            step_times.append(elapsed)
            for stage in _STAGES:
                stages[stage].append(float(detail[stage]))
            seconds, ok = _process(bare, solver.options.timeout)
            if not ok:
                raise RuntimeError("bare solve-field did not solve the superpixel image")
            bare_times.append(seconds)
            seconds, ok = _process(raw, solver.options.timeout)
            raw_times.append(seconds)
            raw_solved = raw_solved and ok
        with fits.open(io.BytesIO(ctx.store.read(S.solved_bucket, name))) as hdus:
            solved_wcs = wcs_from_header(hdus[1].header)
        accuracy = _errors_px(solved_wcs, truth_wcs, (header["NAXIS2"], header["NAXIS1"]))

        print("  one step in a fresh process, for its peak memory ...", flush=True)
        probe = subprocess.run(
            [sys.executable, "-c", _MEMORY_PROBE, str(fz_path), name],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        memory = json.loads(probe.stdout.strip().splitlines()[-1])
        solver_peak = _solve_field_peak_mb(bare, solver.options.timeout)

    step = statistics.median(step_times)
    bare_median = statistics.median(bare_times)
    raw_median = statistics.median(raw_times)
    return {
        "frame": {"shape": [3476, 5208], "fits_fz_bytes": len(fz), "field": list(FIELD)},
        "runs": RUNS,
        "step_s": step,
        "stages_s": {stage: statistics.median(v) for stage, v in stages.items()},
        "bare_solve_field_s": bare_median,
        "raw_solve_field_s": raw_median,
        "overhead_ratio": step / bare_median,
        "step_over_raw_solve_field": step / raw_median,
        "raw_solve_field_solved": raw_solved,
        "accuracy_vs_true_wcs": accuracy,
        "peak_memory_mb": {
            "python_before_step": round(memory["before_kib"] / 1024, 1),
            "python_during_step": round(memory["step_kib"] / 1024, 1),
            "solve_field": solver_peak,
        },
        "runs_s": {"step": step_times, "bare_solve_field": bare_times, "raw": raw_times},
        "solve_field_arguments": " ".join(bare[2:]).replace(str(bare_dir), "<dir>"),
    }
