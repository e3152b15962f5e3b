"""compress-fits against the ``fpack`` CLI on a full-size frame, verification included.

Everything runs on the same synthetic 5208 x 3476 ``uint16`` frame
(:mod:`panoptes_network.simulation.synthetic_frame`) in the same run, the contenders one after
the other in each round, ``RUNS`` rounds after one warm-up round; medians are compared:

- ``fpack_s``: ``fpack -S frame.fits > frame.fits.fz``, a process that reads and writes files
  in a temporary folder (the way a service would have to use the CLI). fpack is
  single-threaded;
- ``funpack_s``: ``funpack -S frame.fits.fz > out.fits`` on fpack's output, for reference (a
  decompression of the whole frame, as the verification does);
- ours, on the bytes in memory:
  :func:`~panoptes_network.frames.compression.compress_frame` (``compress_s``) then
  :func:`~panoptes_network.frames.compression.verify_compressed` (``verify_s``; the service
  verifies every frame before the original may be deleted), and their sum (``total_s``),
  once with the default number of threads (``threaded``: one per CPU,
  :func:`~panoptes_network.frames.compression.default_workers`) and once in one thread
  (``one_thread``), the fair comparison with fpack;
- ``ratio_total_to_fpack``: ``total_s`` over ``fpack_s`` (``ratio_compress_to_fpack``:
  compression alone);
- ``peak_memory_bytes``: the most memory that compress and verify (threaded) allocate
  beyond the input bytes, traced by :mod:`tracemalloc` in a separate, untimed round (Python
  and numpy allocations, which hold every pixel and byte array; the codec's own buffers of a
  tile or two per thread are not traced), and ``peak_memory_ratio``: that over the input's
  bytes;
- ``size_ratio``: bytes of our ``.fits.fz`` over bytes of fpack's.

Targets: total (compress and verify) at most 1.3x fpack's time, size within 2 % of fpack's.
Both outputs are decompressed (astropy for both, ``funpack`` for ours as well) and compared
with the input pixels.
"""

from __future__ import annotations

import gc
import io
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from panoptes_network.frames.compression import (
    TILE_ROWS,
    compress_frame,
    default_workers,
    read_image_pixels,
    verify_compressed,
)
from panoptes_network.simulation.synthetic_frame import HEIGHT, WIDTH, make_full_frame

#: Timed rounds (after one warm-up round).
RUNS = 7
#: Seed of the synthetic frame.
SEED = 0
#: Target: our compression and verification time over fpack's, at most.
TIME_RATIO_TARGET = 1.3
#: Target: our size over fpack's differs from 1 by at most this much.
SIZE_TOLERANCE = 0.02
_NAME = "bench-frame.fits"


def _image_of(data: bytes) -> np.ndarray:
    """Return the first image with pixels in a FITS file (decompressed by astropy)."""
    with fits.open(io.BytesIO(data)) as hdus:
        for hdu in hdus:
            if hdu.data is not None:
                return np.array(hdu.data)
    raise ValueError("no image in the file")


def _cli(command: list[str], target: Path) -> float:
    """Run ``command > target``; return the wall time in seconds."""
    gc.collect()
    start = time.perf_counter()
    with target.open("wb") as out:
        subprocess.run(command, stdout=out, check=True)
    return time.perf_counter() - start


def _ours(raw: bytes, workers: int | None) -> tuple[bytes, float, float]:
    """Compress and verify ``raw``; return the output, compress time and verify time (s)."""
    gc.collect()
    start = time.perf_counter()
    compressed = compress_frame(raw, _NAME, workers=workers).data
    middle = time.perf_counter()
    verify_compressed(raw, compressed, _NAME, workers=workers)
    return compressed, middle - start, time.perf_counter() - middle


def _peak_memory(raw: bytes) -> int:
    """Return the most bytes compress and verify allocate at once beyond what is held before."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        compressed = compress_frame(raw, _NAME).data
        verify_compressed(raw, compressed, _NAME)
        del compressed
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _figures(compress: list[float], verify: list[float], fpack_s: float) -> dict[str, float]:
    """Medians of one way of running ours, and their ratios to fpack's median."""
    total = statistics.median(c + v for c, v in zip(compress, verify, strict=True))
    compress_s = statistics.median(compress)
    return {
        "compress_s": compress_s,
        "verify_s": statistics.median(verify),
        "total_s": total,
        "ratio_compress_to_fpack": compress_s / fpack_s,
        "ratio_total_to_fpack": total / fpack_s,
    }


def run() -> dict[str, Any]:
    """Compare compress-fits (compression and verification) with ``fpack`` on a full-size frame.

    Returns
    -------
    dict
        Figures: times in seconds (medians and every run), sizes in bytes, the ratios ours
        over fpack, peak memory, the targets, and whether all decompressed pixels equal the
        input's; or ``{"skipped": reason}`` when ``fpack`` or ``funpack`` is not installed.
    """
    fpack, funpack = shutil.which("fpack"), shutil.which("funpack")
    if fpack is None or funpack is None:
        return {"skipped": "fpack/funpack not on PATH (Debian: apt-get install libcfitsio-bin)"}

    print(f"  rendering a {WIDTH} x {HEIGHT} frame (seed {SEED}) ...", flush=True)
    raw = make_full_frame(SEED)
    workers = default_workers()
    times: dict[str, list[float]] = {
        k: [] for k in ("fpack", "funpack", "compress", "verify", "compress_1", "verify_1")
    }
    with tempfile.TemporaryDirectory(prefix="bench-compress-") as tmp:
        source, target = Path(tmp) / "frame.fits", Path(tmp) / "frame.fits.fz"
        unpacked = Path(tmp) / "funpacked.fits"
        source.write_bytes(raw)
        print(f"  warm-up, then {RUNS} rounds ({workers} threads, then 1) ...", flush=True)
        for round_ in range(RUNS + 1):
            compressed, t_compress, t_verify = _ours(raw, None)
            _, t_compress_1, t_verify_1 = _ours(raw, 1)
            t_fpack = _cli([fpack, "-S", str(source)], target)
            t_funpack = _cli([funpack, "-S", str(target)], unpacked)
            if round_ == 0:
                continue
            for key, value in zip(
                times,
                (t_fpack, t_funpack, t_compress, t_verify, t_compress_1, t_verify_1),
                strict=True,
            ):
                times[key].append(value)
        theirs = target.read_bytes()
        ours_path = Path(tmp) / "ours.fits.fz"
        ours_path.write_bytes(compressed)
        ours_funpacked = subprocess.run(
            [funpack, "-S", str(ours_path)], capture_output=True, check=True
        ).stdout
        theirs_funpacked = unpacked.read_bytes()

    print("  peak memory of compress and verify ...", flush=True)
    peak = _peak_memory(raw)
    print("  decompressing both outputs and comparing pixels ...", flush=True)
    _, pixels = read_image_pixels(raw)
    identical = {
        "ours_astropy": bool(np.array_equal(_image_of(compressed), pixels)),
        "ours_funpack": bool(np.array_equal(_image_of(ours_funpacked), pixels)),
        "fpack_astropy": bool(np.array_equal(_image_of(theirs), pixels)),
        "fpack_funpack": bool(np.array_equal(_image_of(theirs_funpacked), pixels)),
    }
    bytes_identical = theirs_funpacked == raw
    del ours_funpacked, theirs_funpacked

    fpack_s = statistics.median(times["fpack"])
    threaded = _figures(times["compress"], times["verify"], fpack_s)
    one_thread = _figures(times["compress_1"], times["verify_1"], fpack_s)
    size_ratio = len(compressed) / len(theirs)
    return {
        "frame": {
            "shape": list(pixels.shape),
            "input_bytes": len(raw),
            "seed": SEED,
        },
        "runs": RUNS,
        "threads": workers,
        "ours_tile_rows": TILE_ROWS,
        "fpack_tile_rows": 1,
        "fpack_s": fpack_s,
        "funpack_s": statistics.median(times["funpack"]),
        "threaded": threaded,
        "one_thread": one_thread,
        "peak_memory_bytes": peak,
        "peak_memory_ratio": peak / len(raw),
        "ours_bytes": len(compressed),
        "fpack_bytes": len(theirs),
        "size_ratio": size_ratio,
        "ours_compression_factor": len(raw) / len(compressed),
        "fpack_compression_factor": len(raw) / len(theirs),
        "pixels_identical": all(identical.values()),
        "pixels_identical_by_reader": identical,
        "fpack_funpack_bytes_identical": bytes_identical,
        "targets": {
            "time_ratio_max": TIME_RATIO_TARGET,
            "time_ratio_met_threaded": threaded["ratio_total_to_fpack"] <= TIME_RATIO_TARGET,
            "time_ratio_met_one_thread": one_thread["ratio_total_to_fpack"] <= TIME_RATIO_TARGET,
            "size_ratio_within": SIZE_TOLERANCE,
            "size_ratio_met": abs(size_ratio - 1.0) <= SIZE_TOLERANCE,
        },
        "all_runs_s": times,
    }
