"""stack-throughput: a 60-frame observation uploaded at once, through the local stack.

A full-size observation of the KIC 8462852 field (:data:`FRAMES` frames of 5208 x 3476, or
``PANOPTES_BENCH_THROUGHPUT_FRAMES``) by a benchmark unit with a camera of its own is
simulated, its camera registered (``cameras/{camera_id}``, as a unit's camera is when it joins),
and every frame uploaded to the incoming bucket at once (:data:`UPLOADERS` uploads at a
time). Each frame then goes raw-file-uploaded -> compress-fits -> record-image -> plate-solve
(the first frames by ``solve-field``, the rest tracked) -> measure-sources, on this machine's
cores, one process per service as ``bin/dev`` runs them.

Figures, from the images documents' own times (``received_time`` when record-image recorded
it, ``solved_time``, ``measured_time``: the services' clocks, this machine's):

- ``frames_per_minute``: frames measured per minute, from the first upload's start to the
  last frame measured;
- ``to_last_measured_s``: from the first upload's start to the last frame measured; and to
  the first;
- per frame, the median time from recorded to solved and from solved to measured (queueing
  included), the median ``solve_seconds`` and ``measure_seconds`` the steps report (work
  only), and how each frame was solved (``solve_method``);
- the **reference**, measured in the same run in this process: the in-process cost of one
  frame's work (compress and verify, then read, calibrate, extract, track, catalog, measure,
  write: :mod:`.bench_pipeline_stages`' path) times the frames, over the cores.
  ``over_reference`` is the stack's time to the last frame measured over that ideal.

When the stack is not running the benchmark starts it and stops it at the end (its storage
is in memory); a running stack is used as it is, and keeps the run's objects and documents
under the benchmark's unit.
"""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from emulator.stack import StackConfig
from panoptes_network.frames.compression import compress_frame, verify_compressed
from panoptes_network.pipeline.schema import CAMERAS, IMAGES
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation import CameraModel, SequenceSpec, simulate_sequence
from panoptes_network.simulation.unit import Unit
from tests.benchmarks import bench_pipeline_stages as stages
from tests.benchmarks.local_stack import on_local_stack

#: Frames of the observation.
FRAMES = 60
#: Uploads in flight at once.
UPLOADERS = 4
#: Longest wait for the last frame, seconds.
TIMEOUT_S = 1800.0
START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
FIELD = (301.564, 44.457)
DONE = ("measured", "solve_error", "measure_error", "calibration_error", "error")


def _say(line: str) -> None:
    print(f"  {line}", flush=True)


def _frames() -> int:
    return int(os.environ.get("PANOPTES_BENCH_THROUGHPUT_FRAMES", FRAMES))


def _seconds(later: Any, earlier: Any) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds()


def _median(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def _reference_per_frame(raw: bytes, catalog) -> float:
    """In-process seconds of one frame's work: compress and verify, then the per-frame path."""
    compress_s, compressed = stages._timed(lambda: compress_frame(raw))
    verify_s, _ = stages._timed(lambda: verify_compressed(raw, compressed.data))
    first = stages.read_stored_frame(compressed.data, "frame")
    constants = stages.CAMERA.measure_constants()
    calibrated = stages.calibrate_superpixels(
        first.pixels, bias=constants["bias"], bayer_pattern="RGGB"
    )
    sources = stages.extract_sources(calibrated.image, calibrated.background.superpixel_rms)
    solver = stages.PlateSolver()
    with tempfile.TemporaryDirectory() as folder:
        wcs = stages._solve_field_wcs(
            calibrated.image,
            first.pixels.shape,
            stages.pointing_hint(first.header, solver.hint_radius),
            solver,
            Path(folder),
            sources,
        )
    stages._path(compressed.data, catalog, wcs, solver)  # warm-up
    seconds, _ = stages._path(compressed.data, catalog, wcs, solver)
    return compress_s + verify_s + sum(seconds.values())


def _measure(config: StackConfig, count: int) -> dict[str, Any]:
    from google.cloud import firestore, storage

    settings = Settings.from_env()
    db = firestore.Client(project=config.project)
    bucket = storage.Client(project=config.project).bucket(settings.incoming_bucket)
    catalog = stages._catalog()
    unit_id = f"PAN{900 + secrets.randbelow(100)}"
    camera = CameraModel(camera_id=secrets.token_hex(3))
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as name:
        _say(f"simulating {count} full-size frames ({unit_id}, camera {camera.camera_id}) ...")
        spec = SequenceSpec(
            ra=FIELD[0],
            dec=FIELD[1],
            start=START,
            count=count,
            seed=11,
            unit=Unit(unit_id=unit_id),
            camera=camera,
        )
        simulated = simulate_sequence(spec, catalog, Path(name))
        frames = sorted(simulated.frames)
        _say("the in-process reference: one frame's work ...")
        stages.CAMERA = camera  # the reference measures with this camera's constants
        per_frame_s = _reference_per_frame(frames[0].read_bytes(), catalog)
        db.collection(CAMERAS).document(camera.camera_id).set(
            camera.registry_entry("the benchmark's simulated camera")
        )
        names = [str(path.relative_to(name)) for path in frames]
        image_ids = [f"{unit_id}_{camera.camera_id}_{n.rsplit('/', 1)[1][:-5]}" for n in names]

        def upload(index: int) -> None:
            bucket.blob(names[index]).upload_from_filename(
                str(frames[index]), content_type="application/octet-stream"
            )

        _say(f"uploading {count} frames, {UPLOADERS} at a time ...")
        started = datetime.now(timezone.utc)
        with ThreadPoolExecutor(UPLOADERS) as pool:
            list(pool.map(upload, range(count)))
        uploaded_s = _seconds(datetime.now(timezone.utc), started)
        _say(f"uploaded in {uploaded_s:.1f} s; waiting for every frame to be measured ...")
        deadline = time.monotonic() + TIMEOUT_S
        docs: dict[str, dict] = {}
        while time.monotonic() < deadline:
            refs = [db.collection(IMAGES).document(i) for i in image_ids]
            docs = {s.id: s.to_dict() for s in db.get_all(refs) if s.exists}
            done = sum(1 for d in docs.values() if d.get("status") in DONE)
            if done == count:
                break
            time.sleep(2.0)
    rows = [docs.get(i, {}) for i in image_ids]
    measured = [r for r in rows if r.get("status") == "measured"]
    last = max((r["measured_time"] for r in measured), default=None)
    first = min((r["measured_time"] for r in measured), default=None)
    to_last = _seconds(last, started)
    cores = os.cpu_count() or 1
    ideal_s = per_frame_s * count / cores
    methods: dict[str, int] = {}
    for r in rows:
        methods[str(r.get("solve_method"))] = methods.get(str(r.get("solve_method")), 0) + 1
    return {
        "frames": count,
        "measured": len(measured),
        "statuses": sorted({str(r.get("status")) for r in rows}),
        "upload_s": uploaded_s,
        "to_first_measured_s": _seconds(first, started),
        "to_last_measured_s": to_last,
        "frames_per_minute": None if not to_last else 60.0 * len(measured) / to_last,
        "median_recorded_to_solved_s": _median(
            [_seconds(r.get("solved_time"), r.get("received_time")) for r in rows]
        ),
        "median_solved_to_measured_s": _median(
            [_seconds(r.get("measured_time"), r.get("solved_time")) for r in rows]
        ),
        "median_solve_seconds": _median([r.get("solve_seconds") for r in rows]),
        "median_measure_seconds": _median([r.get("measure_seconds") for r in rows]),
        "solve_method": methods,
        "reference": {
            "per_frame_in_process_s": per_frame_s,
            "cores": cores,
            "ideal_to_last_measured_s": ideal_s,
        },
        "over_reference": None if not to_last else to_last / ideal_s,
        "unit": unit_id,
        "camera": camera.camera_id,
    }


def run() -> dict[str, Any]:
    """Upload an observation at once to the local stack and time it to the last frame measured.

    Returns
    -------
    dict
        Throughput, times to the first and last frame measured, per-frame medians, how the
        frames were solved, and the in-process reference; or ``{"skipped": reason}`` without
        a catalog, ``solve-field`` or a stack that can start.
    """
    if stages._catalog() is None:
        return {"skipped": "no star catalog (catalog file or Tycho-2 index files)"}
    skip = stages._solve_skip_reason()
    if skip is not None:
        return {"skipped": skip}
    return on_local_stack(lambda config: _measure(config, _frames()), _say)
