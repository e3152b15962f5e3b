"""The frame simulator: time to render one full-size frame against numpy references.

The field is KIC 8462852 seen from PAN001 on 2024-09-12 (Moon up), with the stars of the
astrometry.net Tycho-2 index (about 10 000 on the frame). Measured in the same run, each the
median of ``RUNS`` runs after a warm-up:

- ``render_s``: one frame in memory: its physics
  (:func:`~panoptes_network.simulation.scene.frame_scene`), noiseless image, noise and FITS
  bytes with checksums;
- ``sequence_frame_s``: one frame of :func:`~panoptes_network.simulation.simulate_sequence`
  in a steady state (the time between frames of a ``RUNS + 1`` frame sequence, the first
  dropped): the above plus writing the FITS file and the truth tables;
- references: ``poisson_s``, numpy's Poisson draw for a 5208 x 3476 float32 array of 300 e-
  (the floor of any simulator with shot noise), and ``synthetic_frame_s``,
  :func:`panoptes_network.simulation.synthetic_frame.render_pixels` (5000 random Gaussian stars, no
  catalog, no WCS, no physics).

Ratios are ours over each reference. Target: a frame in a few seconds on a 2-core machine.
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from panoptes_network.catalog.star_catalog import InMemoryCatalog
from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars
from panoptes_network.simulation import SequenceSpec, simulate_sequence
from panoptes_network.simulation.camera import hot_pixels
from panoptes_network.simulation.observing import moon_state, observing_conditions
from panoptes_network.simulation.pointing import PointingModel
from panoptes_network.simulation.psf import STAMP_HALF, PsfModel
from panoptes_network.simulation.render import digitise, expected_electrons
from panoptes_network.simulation.scene import FrameConditions, StarField, frame_scene
from panoptes_network.simulation.synthetic_frame import HEIGHT, WIDTH, render_pixels
from panoptes_network.simulation.unit_header import exif_cards, fits_bytes, unit_cards

#: Timed runs of each contender (after one warm-up each).
RUNS = 3
#: Target: seconds per frame, at most.
TARGET_S = 5.0
START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
FIELD = (301.564, 44.457)


def _timed(function) -> float:
    gc.collect()
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _median_of(function) -> tuple[float, list[float]]:
    function()  # warm-up
    times = [_timed(function) for _ in range(RUNS)]
    return statistics.median(times), times


def _prepare(spec: SequenceSpec, catalog: InMemoryCatalog) -> dict[str, Any]:
    """Build what :func:`_render` needs once (catalog search, models)."""
    camera, unit = spec.camera, spec.unit
    pointing = PointingModel.random(spec.ra, spec.dec, np.random.default_rng(1))
    wcs = pointing.wcs(camera, 0.0)
    rows = catalog.footprint_search(wcs, camera.shape, margin=STAMP_HALF + 2)
    stars = StarField.from_catalog(rows, spec.exptime)
    mid = START + timedelta(seconds=spec.exptime / 2)
    conditions = FrameConditions(
        0.0, spec.exptime, mid, wcs, moon_state(unit, mid), np.ones(len(stars))
    )
    return {
        "spec": spec,
        "stars": stars,
        "conditions": conditions,
        "psf": PsfModel.random(np.random.default_rng(2)),
        "hot": hot_pixels(camera),
        "path": spec.frame_paths()[0],
    }


def _render(state: dict[str, Any]) -> bytes:
    spec = state["spec"]
    physics = frame_scene(
        state["stars"],
        state["conditions"],
        spec.unit,
        spec.camera,
        spec.sky,
        state["psf"],
        None,
        state["hot"],
    )
    electrons, _ = expected_electrons(physics.scene)
    pixels = digitise(electrons, spec.camera, np.random.default_rng(3))
    header = observing_conditions(spec.unit, START, spec.ra, spec.dec)
    cards = unit_cards(
        state["path"],
        spec.unit,
        spec.exptime,
        spec.field_card,
        header,
        exif_cards(spec.camera, 0.0, np.random.default_rng(4)),
    )
    return fits_bytes(pixels, cards, START + timedelta(seconds=125))


def run() -> dict[str, Any]:
    """Time the simulator against numpy references.

    Returns
    -------
    dict
        Seconds (medians and every run), ratios, stars on the frame, and the target; or
        ``{"skipped": reason}`` without the Tycho-2 index files.
    """
    files = find_index_files()
    if not files:
        return {
            "skipped": "no Tycho-2 index files (Debian: apt-get install astrometry-data-tycho2)"
        }
    load_start = time.perf_counter()
    catalog = InMemoryCatalog(read_index_stars(files))
    load_s = time.perf_counter() - load_start
    spec = SequenceSpec(ra=FIELD[0], dec=FIELD[1], start=START, count=RUNS + 1, seed=1)
    state = _prepare(spec, catalog)

    print(f"  rendering one {WIDTH} x {HEIGHT} frame in memory, {RUNS} runs ...", flush=True)
    render_s, render_runs = _median_of(lambda: _render(state))
    print("  references: numpy Poisson draw, synthetic_frame.render_pixels ...", flush=True)
    mean = np.full((HEIGHT, WIDTH), 300.0, dtype=np.float32)
    generator = np.random.default_rng(0)
    poisson_s, poisson_runs = _median_of(lambda: generator.poisson(mean))
    synthetic_s, synthetic_runs = _median_of(lambda: render_pixels(0))

    print(f"  a {RUNS + 1}-frame sequence written to disk ...", flush=True)
    stamps: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        begin = time.perf_counter()
        result = simulate_sequence(
            spec, catalog, Path(tmp), progress=lambda i, path: stamps.append(time.perf_counter())
        )
        total_s = time.perf_counter() - begin
        frame_bytes = result.frames[0].stat().st_size
    per_frame = list(np.diff(stamps))
    sequence_s = statistics.median(per_frame)
    return {
        "frame": {"shape": [HEIGHT, WIDTH], "bytes": frame_bytes, "stars": len(state["stars"])},
        "runs": RUNS,
        "catalog_load_s": load_s,
        "render_s": render_s,
        "sequence_frame_s": sequence_s,
        "sequence_total_s": total_s,
        "poisson_s": poisson_s,
        "synthetic_frame_s": synthetic_s,
        "render_over_poisson": render_s / poisson_s,
        "render_over_synthetic_frame": render_s / synthetic_s,
        "sequence_frame_over_poisson": sequence_s / poisson_s,
        "targets": {
            "frame_s_max": TARGET_S,
            "render_met": bool(render_s <= TARGET_S),
            "sequence_frame_met": bool(sequence_s <= TARGET_S),
        },
        "all_runs_s": {
            "render": render_runs,
            "sequence_frame": per_frame,
            "poisson": poisson_runs,
            "synthetic_frame": synthetic_runs,
        },
    }
