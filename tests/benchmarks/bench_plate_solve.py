"""plate-solve: the step on a first frame and on a tracked frame, against bare ``solve-field``.

Two consecutive full-size 5208 x 3476 frames of one observation of the KIC 8462852 field are
simulated by :data:`CAMERA` (:mod:`panoptes_network.simulation`, stars from the local catalog
file, else the astrometry.net Tycho-2 index, with their true WCS) and compressed to
``.fits.fz``. The same catalog is given to the step, as the service gives it its own.

Every step is :func:`~panoptes_network.astrometry.plate_solve.plate_solve` in-process with
in-memory ports (:mod:`tests.unit.fakes`), timed from the request to the documents updated,
and starts from a fresh context: new fakes, the camera's registry entry
(``cameras/{camera_id}``, with its ``pixel_scale_arcsec``, so the scale range is the camera's
within 10 %), and the frame stored and recorded
(:func:`~panoptes_network.ingest.record.record_image`); nothing is ever skipped as solved
already. Measured in the same run, alternately, ``RUNS``
times after one warm-up each (medians, seconds):

- ``first_frame_step_s``: frame 0, whose observation has no solved frame: ``solve-field``
  given the step's sources as an xylist (``method: "solve-field"``);
- ``tracked_step_s``: frame 1, its context also holding every document frame 0's solve left
  (its ``tracking/{sequence_id}`` reference included): the reference's WCS shifted and
  refitted against the catalog (``method: "tracked"``);
- each with its stage breakdown, as the step's ``StageTimer`` records it: ``read``
  (download and decompress), ``preview`` (the JPEG preview rendered, stored and recorded),
  ``calibrate`` (bias, sep's per-colour background, superpixels, star count), ``extract``
  (sep's sources), ``solve`` (the xylist written, ``solve-field`` run, its WCS read and
  checked; or tracking: catalog search, match and fit), ``write`` (the solved ``.fits.fz``,
  stored and checked) and ``record`` (the document batch, the tracking reference);
- ``bare_solve_field_s``: the ``solve-field`` process alone with exactly the step's arguments
  (:func:`~panoptes_network.astrometry.solve_field.solve_field_arguments` with
  ``xylist=True``: full-resolution grid, the camera's raw pixel scale, the mount hint),
  checked equal to those the step ran, on the xylist the step wrote for frame 0, already
  written.

Ratios: ``first_frame_over_bare`` (first_frame_step_s / bare_solve_field_s) and
``tracked_over_first_frame`` (tracked_step_s / first_frame_step_s). Also reported: each
solution's error against the simulator's true WCS at the centre and the worst corner (pixels);
the peak resident memory (Linux ``VmHWM``, reset just before the step) of one first-frame
step and one tracked step, each in a fresh Python process that has opened the catalog and
recorded the frame, and the process's resident memory before the step; and the peak resident
memory of ``solve-field`` with the children it waits for (GNU ``time``).
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import io
import json
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from panoptes_network.astrometry.frame_wcs import wcs_from_header
from panoptes_network.astrometry.plate_solve import PlateSolver, plate_solve, pointing_hint
from panoptes_network.astrometry.solve_field import run_process_group, solve_field_arguments
from panoptes_network.catalog.star_catalog import Catalog
from panoptes_network.frames.compression import compress_frame
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.schema import CAMERAS, IMAGES
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation import CameraModel, SequenceSpec, SequenceTruth, simulate_sequence
from panoptes_network.simulation.camera import SIMULATED_SOURCE
from tests.unit.fakes import MemoryBus, MemoryDocuments, MemoryStore

#: Timed runs of each contender (after one warm-up each).
RUNS = 3
START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
FIELD = (301.564, 44.457)
SEED = 7
ROOT = Path(__file__).resolve().parents[2]
S = Settings()
#: The simulated camera; its registry entry is what the step reads.
CAMERA = CameraModel()
#: The stages the step's timer records on a solved frame, in order.
STAGES = ("read", "preview", "calibrate", "extract", "solve", "write", "record")

#: Documents by (collection, id): what a context holds before its frame is recorded.
Documents = dict[tuple[str, str], dict[str, Any]]

# One step in a fresh interpreter: its peak resident memory. The peak (VmHWM) is reset just
# before the step: a forked child starts with its parent's pages counted, and the setup
# (imports, the catalog, the frame stored and recorded) is reported apart.
_MEMORY_PROBE = """
import json, pickle, sys
from pathlib import Path
from panoptes_network.astrometry.plate_solve import plate_solve
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.settings import Settings
from tests.unit.fakes import MemoryBus, MemoryDocuments, MemoryStore

def kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])

fz_path, name, seed_path, catalog_path = sys.argv[1:5]
if catalog_path:
    from panoptes_network.catalog.local_file import open_catalog
    catalog = open_catalog(catalog_path)
else:
    from panoptes_network.catalog.star_catalog import InMemoryCatalog
    from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars
    catalog = InMemoryCatalog(read_index_stars(find_index_files()))
S = Settings()
documents = MemoryDocuments()
for (collection, doc_id), fields in pickle.loads(Path(seed_path).read_bytes()).items():
    documents.merge(collection, doc_id, fields)
ctx = ChainContext(S, MemoryStore(), MemoryBus(), documents, service="bench")
ctx.store.put(S.images_bucket, name, Path(fz_path).read_bytes())
obj = StoredObject(S.images_bucket, name)
record_image(ctx, obj)
before = kib("VmRSS")
Path("/proc/self/clear_refs").write_text("5")
result = plate_solve(ctx, obj, None, catalog)
print(json.dumps({
    "action": result.action,
    "method": result.detail.get("method"),
    "before_kib": before,
    "step_kib": kib("VmHWM"),
}))
"""


def _catalog() -> tuple[Catalog, str] | None:
    """Return the star catalog and its file (empty for the Tycho-2 index), or None."""
    from panoptes_network.catalog.local_file import default_catalog_path, open_catalog

    path = default_catalog_path()
    try:
        return open_catalog(path), str(path)
    except (FileNotFoundError, ValueError):
        pass
    from panoptes_network.catalog.star_catalog import InMemoryCatalog
    from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars

    files = find_index_files()
    return (InMemoryCatalog(read_index_stars(files)), "") if files else None


def _skip_reason() -> str | None:
    """Why the benchmark cannot run here (no ``solve-field`` or index files), or None."""
    if shutil.which("solve-field") is None:
        return "solve-field not installed (Debian: astrometry.net)"
    from panoptes_network.catalog.tycho2_index import find_index_files

    if not find_index_files():
        return "Tycho-2 index files not installed (astrometry-data-tycho2)"
    return None


class _CapturingRunner:
    """Runs ``solve-field`` as the step does, keeping its command line and a copy of its xylist.

    Parameters
    ----------
    keep : Path
        Where the xylist (the command's input, ``command[1]``) is copied before the run.
    """

    def __init__(self, keep: Path) -> None:
        self.keep = keep
        self.commands: list[list[str]] = []

    def __call__(self, command: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
        """Copy the input, record the command and run it (:func:`run_process_group`)."""
        self.commands.append(list(command))
        shutil.copy(command[1], self.keep)
        return run_process_group(command, timeout)


def _context(seed: Documents, name: str, fz: bytes) -> tuple[ChainContext, StoredObject]:
    """A fresh context over new fakes holding ``seed``, the frame stored and recorded."""
    documents = MemoryDocuments()
    for (collection, doc_id), fields in seed.items():
        documents.merge(collection, doc_id, fields)
    ctx = ChainContext(S, MemoryStore(), MemoryBus(), documents, service="bench")
    ctx.store.put(S.images_bucket, name, fz)
    obj = StoredObject(S.images_bucket, name)
    recorded = record_image(ctx, obj)
    if recorded.action != "recorded":
        raise RuntimeError(f"record-image did not record {name}: {dict(recorded.detail)}")
    return ctx, obj


def _step(
    seed: Documents,
    name: str,
    fz: bytes,
    solver: PlateSolver,
    catalog: Catalog,
    method: str,
) -> tuple[float, StepResult, ChainContext]:
    """Run the step once from a fresh context; its seconds, result and context.

    Raises
    ------
    RuntimeError
        If the frame was not solved, or not by ``method``, with the step's detail.
    """
    ctx, obj = _context(seed, name, fz)
    gc.collect()
    start = time.perf_counter()
    result = plate_solve(ctx, obj, solver, catalog)
    elapsed = time.perf_counter() - start
    if result.action != "solved" or result.detail.get("method") != method:
        raise RuntimeError(
            f"{name}: expected solved by {method}, got {result.action}: {dict(result.detail)}"
        )
    return elapsed, result, ctx


def _snapshot(ctx: ChainContext) -> Documents:
    """Every document of a context over :class:`MemoryDocuments`, copied."""
    documents = ctx.documents
    if not isinstance(documents, MemoryDocuments):
        raise TypeError("the benchmark's contexts hold MemoryDocuments")
    return copy.deepcopy(documents.docs)


def _process(command: list[str], timeout: float) -> float:
    """Seconds of one ``solve-field`` run (its ``.solved`` flag checked and removed).

    Raises
    ------
    RuntimeError
        If it did not solve.
    """
    gc.collect()
    start = time.perf_counter()
    done = run_process_group(command, timeout)
    elapsed = time.perf_counter() - start
    solved = Path(command[command.index("--solved") + 1])
    if done.returncode != 0 or not solved.exists():
        raise RuntimeError(f"bare solve-field did not solve: {done.stderr.strip()[-800:]}")
    solved.unlink()
    return elapsed


def _solve_field_peak_mb(command: list[str], timeout: float) -> float | None:
    """Peak resident memory of ``solve-field`` and the children it waits for (GNU time), MB."""
    gnu_time = "/usr/bin/time" if Path("/usr/bin/time").exists() else shutil.which("time")
    if gnu_time is None:
        return None
    done = run_process_group([gnu_time, "-f", "%M", *command], timeout)
    try:
        return round(int(done.stderr.strip().splitlines()[-1]) / 1024, 1)
    except (ValueError, IndexError):
        return None


def _memory_probe(
    fz_path: Path, name: str, seed: Documents, catalog_path: str, method: str, folder: Path
) -> dict[str, float]:
    """Peak resident memory of one step in a fresh Python process, MB.

    Returns
    -------
    dict
        ``before_step`` (resident memory once the catalog is open and the frame recorded) and
        ``during_step`` (the peak of the step), MB.

    Raises
    ------
    RuntimeError
        If the step did not solve the frame by ``method``.
    """
    seed_path = folder / f"seed-{method}.pickle"
    seed_path.write_bytes(pickle.dumps(seed))
    probe = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(fz_path), name, str(seed_path), catalog_path],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    memory = json.loads(probe.stdout.strip().splitlines()[-1])
    if memory["action"] != "solved" or memory["method"] != method:
        raise RuntimeError(f"the memory probe's step did not solve by {method}: {memory}")
    return {
        "before_step": round(memory["before_kib"] / 1024, 1),
        "during_step": round(memory["step_kib"] / 1024, 1),
    }


def _solved_wcs(ctx: ChainContext, name: str) -> WCS:
    """The WCS of the solved frame the step stored."""
    with fits.open(io.BytesIO(ctx.store.read(S.solved_bucket, name))) as hdus:
        return wcs_from_header(hdus[1].header)


def _errors_px(wcs: WCS, truth: WCS, shape: tuple[int, int]) -> dict[str, float]:
    """Where a WCS puts the true centre and corners, from where they are, in pixels.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        The solution.
    truth : astropy.wcs.WCS
        The true WCS.
    shape : (int, int)
        The frame's (rows, columns), pixels.

    Returns
    -------
    dict
        ``centre_px`` and ``worst_corner_px``: distances on the frame, pixels.
    """
    rows, cols = shape
    x = np.array([(cols - 1) / 2, 0, cols - 1, 0, cols - 1], dtype=float)
    y = np.array([(rows - 1) / 2, 0, 0, rows - 1, rows - 1], dtype=float)
    ra, dec = truth.all_pix2world(x, y, 0)
    px, py = wcs.all_world2pix(ra, dec, 0)
    error = np.hypot(px - x, py - y)
    return {"centre_px": float(error[0]), "worst_corner_px": float(error[1:].max())}


def _stages(detail: Mapping[str, Any]) -> dict[str, float]:
    """The step's stage seconds from its result's detail."""
    return {f"{stage}_s": float(detail[f"{stage}_s"]) for stage in STAGES}


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def run() -> dict[str, Any]:
    """Time the step on a first frame and a tracked frame against bare ``solve-field``.

    Returns
    -------
    dict
        Medians and every run in seconds, each step's stage breakdown (s), the ratios, the
        solutions' errors against the true WCS (pixels) and the peak memory (MB); or
        ``{"skipped": reason}`` without ``solve-field``, the Tycho-2 index files or a star
        catalog.
    """
    skip = _skip_reason()
    if skip is not None:
        return {"skipped": skip}
    found = _catalog()
    if found is None:
        return {"skipped": "no star catalog (catalog file or Tycho-2 index files)"}
    catalog, catalog_path = found
    solver = PlateSolver()
    camera = {CAMERA.camera_id: CAMERA.registry_entry(SIMULATED_SOURCE)}
    registry: Documents = {(CAMERAS, camera_id): entry for camera_id, entry in camera.items()}

    with tempfile.TemporaryDirectory(prefix="bench-plate-solve-") as tmp:
        folder = Path(tmp)
        print("  simulating two full-size frames ...", flush=True)
        spec = SequenceSpec(
            ra=FIELD[0], dec=FIELD[1], start=START, count=2, seed=SEED, camera=CAMERA
        )
        simulated = simulate_sequence(spec, catalog, folder / "sim")
        truth = SequenceTruth.read(simulated.folder)
        names = [p.relative_to(folder / "sim").as_posix() + ".fz" for p in simulated.frames[:2]]
        fzs = [compress_frame(p.read_bytes()).data for p in simulated.frames[:2]]
        header = fits.getheader(simulated.frames[0])
        shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
        fz_paths = [folder / "frame0.fits.fz", folder / "frame1.fits.fz"]
        for path, fz in zip(fz_paths, fzs, strict=True):
            path.write_bytes(fz)

        print("  warm-up: the first frame (its arguments and xylist kept), tracked, bare ...")
        bare_dir = folder / "bare"
        bare_dir.mkdir()
        capture = _CapturingRunner(bare_dir / "sources.fits")
        _, first, solved_first = _step(
            registry,
            names[0],
            fzs[0],
            dataclasses.replace(solver, runner=capture),
            catalog,
            "solve-field",
        )
        (step_command,) = capture.commands
        tracked_seed = _snapshot(solved_first)
        del solved_first
        bare = solve_field_arguments(
            bare_dir / "sources.fits",
            scale_range=solver.scale_range(CAMERA.pixel_scale),
            hint=pointing_hint(header, solver.hint_radius),
            options=solver.options,
            shape=shape,
            xylist=True,
        )
        step_dir = str(Path(step_command[1]).parent)
        if [arg.replace(step_dir, str(bare_dir)) for arg in step_command] != bare:
            raise RuntimeError(f"the step ran {step_command}, not the benchmark's {bare}")
        _step(tracked_seed, names[1], fzs[1], solver, catalog, "tracked")
        _process(bare, solver.options.timeout)

        print(f"  {RUNS} runs of each, alternately ...", flush=True)
        times: dict[str, list[float]] = {"first_frame": [], "tracked": [], "bare_solve_field": []}
        first_stages: list[dict[str, float]] = []
        tracked_stages: list[dict[str, float]] = []
        for _ in range(RUNS):
            seconds, first, first_ctx = _step(
                registry, names[0], fzs[0], solver, catalog, "solve-field"
            )
            times["first_frame"].append(seconds)
            first_stages.append(_stages(first.detail))
            seconds, tracked, tracked_ctx = _step(
                tracked_seed, names[1], fzs[1], solver, catalog, "tracked"
            )
            times["tracked"].append(seconds)
            tracked_stages.append(_stages(tracked.detail))
            times["bare_solve_field"].append(_process(bare, solver.options.timeout))

        first_image = first_ctx.documents.get(IMAGES, first.detail["image_id"]) or {}
        tracked_image = tracked_ctx.documents.get(IMAGES, tracked.detail["image_id"]) or {}
        accuracy = {
            "first_frame_solve_field": {
                **_errors_px(_solved_wcs(first_ctx, names[0]), truth.wcs(0), shape),
                "index": first_image.get("solve_index"),
                "matched_stars": first_image.get("solve_matched_stars"),
            },
            "tracked": {
                **_errors_px(_solved_wcs(tracked_ctx, names[1]), truth.wcs(1), shape),
                "matched_stars": tracked_image.get("solve_matched_stars"),
                "rms_px": tracked_image.get("solve_rms_px"),
            },
        }
        del first_ctx, tracked_ctx

        print("  one step of each in a fresh process, for its peak memory ...", flush=True)
        memory = {
            "first_frame_step": _memory_probe(
                fz_paths[0], names[0], registry, catalog_path, "solve-field", folder
            ),
            "tracked_step": _memory_probe(
                fz_paths[1], names[1], tracked_seed, catalog_path, "tracked", folder
            ),
            "solve_field": _solve_field_peak_mb(bare, solver.options.timeout),
        }

    first_s = statistics.median(times["first_frame"])
    tracked_s = statistics.median(times["tracked"])
    bare_s = statistics.median(times["bare_solve_field"])
    return {
        "frame": {
            "shape": list(shape),
            "fits_fz_bytes": len(fzs[0]),
            "field": list(FIELD),
            "sources_extracted": first.detail.get("sources_extracted"),
            "catalog": catalog_path or "Tycho-2 index",
        },
        "runs": RUNS,
        "first_frame_step_s": first_s,
        "first_frame_stages_s": _medians(first_stages),
        "tracked_step_s": tracked_s,
        "tracked_stages_s": _medians(tracked_stages),
        "bare_solve_field_s": bare_s,
        "first_frame_over_bare": first_s / bare_s,
        "tracked_over_first_frame": tracked_s / first_s,
        "accuracy_vs_true_wcs": accuracy,
        "peak_memory_mb": memory,
        "runs_s": times,
        "solve_field_arguments": " ".join(bare[2:]).replace(str(bare_dir), "<dir>"),
    }
