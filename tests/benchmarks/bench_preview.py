"""The JPEG preview rendered from a full-size FITS frame, against reading that frame.

One synthetic 5208 x 3476 frame (:mod:`panoptes_network.simulation.synthetic_frame`: bias,
a sky gradient of another strength per Bayer colour, 5000 stars, hot pixels) is compressed to
``.fits.fz`` as the images bucket holds it. Measured in the same run, alternately, ``RUNS``
times after one warm-up each; the medians are compared:

- ``read_s``, the reference: astropy decompressing the ``.fits.fz`` into its uint16 pixels
  (:func:`~panoptes_network.astrometry.solved_frame.read_stored_frame`, the read plate-solve
  does before it renders the preview);
- ``render_s``: :func:`~panoptes_network.frames.preview.render_frame_preview` on those
  pixels, from the mosaic to the JPEG bytes;
- ``time_ratio``: ``render_s / read_s``.

Also reported: ``step_s``, the whole preview step
(:func:`~panoptes_network.ingest.frame_preview.make_frame_preview`: render, store, record) on
the in-memory fakes; the peak of Python-allocated memory of one rendering beyond the frame
(``tracemalloc``: numpy's arrays included, Pillow's own buffers not) against the frame's own
bytes; and the JPEG's size.
"""

from __future__ import annotations

import gc
import io
import statistics
import time
import tracemalloc
from typing import Any

from PIL import Image

from panoptes_network.astrometry.solved_frame import read_stored_frame
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.compression import compress_frame
from panoptes_network.frames.preview import render_frame_preview
from panoptes_network.ingest.frame_preview import make_frame_preview
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.synthetic_frame import (
    HEIGHT,
    WIDTH,
    frame_cards_for,
    make_full_frame,
)
from tests.unit.fakes import MemoryBus, MemoryDocuments, MemoryStore

#: Timed runs of each contender (after one warm-up each).
RUNS = 5
#: Seed of the synthetic frame.
SEED = 0
NAME = "PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz"
S = Settings()


def _read(fz: bytes) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    frame = read_stored_frame(fz, NAME)
    return time.perf_counter() - start, frame


def _render(frame) -> tuple[float, bytes]:
    gc.collect()
    start = time.perf_counter()
    jpeg = render_frame_preview(frame.pixels, name=NAME, pattern=frame.header["FILTER"])
    return time.perf_counter() - start, jpeg


def _step(fz: bytes, frame) -> float:
    ctx = ChainContext(S, MemoryStore(), MemoryBus(), MemoryDocuments(), service="bench")
    ctx.store.put(S.images_bucket, NAME, fz)
    obj = StoredObject(S.images_bucket, NAME)
    record_image(ctx, obj)
    gc.collect()
    start = time.perf_counter()
    outcome = make_frame_preview(ctx, obj, ImagePath.parse(NAME), frame.pixels, frame.header)
    elapsed = time.perf_counter() - start
    if outcome["action"] != "made":
        raise RuntimeError(f"the preview step did not make the preview: {outcome}")
    return elapsed


def run() -> dict[str, Any]:
    """Time the preview of a full-size frame against reading the frame with astropy.

    Returns
    -------
    dict
        Medians and every run in seconds, the ratio, the whole step's time, the peak
        memory of one rendering and the JPEG's size and bytes.
    """
    print(f"  making a {WIDTH} x {HEIGHT} frame ...", flush=True)
    cards = frame_cards_for(ImagePath.parse(NAME))
    fz = compress_frame(make_full_frame(SEED, cards)).data
    _, frame = _read(fz)
    _render(frame)
    reads: list[float] = []
    renders: list[float] = []
    print(f"  warm-up, then {RUNS} runs of each, alternately ...", flush=True)
    for _ in range(RUNS):
        seconds, frame = _read(fz)
        reads.append(seconds)
        seconds, jpeg = _render(frame)
        renders.append(seconds)
    steps = [_step(fz, frame) for _ in range(RUNS)]

    gc.collect()
    tracemalloc.start()
    render_frame_preview(frame.pixels, name=NAME, pattern=frame.header["FILTER"])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with Image.open(io.BytesIO(jpeg)) as image:
        size = list(image.size)

    read_s, render_s = statistics.median(reads), statistics.median(renders)
    return {
        "frame": {
            "shape": [HEIGHT, WIDTH],
            "fits_fz_bytes": len(fz),
            "pixel_bytes": frame.pixels.nbytes,
        },
        "runs": RUNS,
        "read_s": read_s,
        "render_s": render_s,
        "time_ratio": render_s / read_s,
        "step_s": statistics.median(steps),
        "render_peak_python_bytes": peak,
        "render_peak_over_frame_bytes": peak / frame.pixels.nbytes,
        "preview_size": size,
        "preview_bytes": len(jpeg),
        "all_runs_s": {"read": reads, "render": renders, "step": steps},
    }
