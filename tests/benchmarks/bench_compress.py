"""compress-fits against the ``fpack`` CLI on a full-size frame.

Both compress the same synthetic 5208 x 3476 frame
(:mod:`panoptes_network.simulation.synthetic_frame`) in the same run, alternately, ``RUNS`` times
after one warm-up each; the medians are compared:

- ``time_ratio``: :func:`~panoptes_network.frames.compression.compress_frame` on the bytes in
  memory, over ``fpack -S frame.fits > frame.fits.fz`` (a process that reads and writes files in a
  temporary folder: the way a service would have to use the CLI);
- ``time_ratio_with_verify``: ``compress_frame`` plus
  :func:`~panoptes_network.frames.compression.verify_compressed` (the service verifies every frame
  before deleting the original) over the same ``fpack`` time;
- ``size_ratio``: bytes of our ``.fits.fz`` over bytes of fpack's.

Targets: time at most 1.3x fpack, size within 2 % of fpack's. Both outputs are decompressed
(astropy for both, ``funpack`` for ours as well) and compared with the input pixels.
"""

from __future__ import annotations

import gc
import io
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from panoptes_network.frames.compression import (
    TILE_ROWS,
    compress_frame,
    read_image_pixels,
    verify_compressed,
)
from panoptes_network.simulation.synthetic_frame import HEIGHT, WIDTH, make_full_frame

#: Timed runs of each contender (after one warm-up each).
RUNS = 5
#: Seed of the synthetic frame.
SEED = 0
#: Target: our compression time over fpack's, at most.
TIME_RATIO_TARGET = 1.3
#: Target: our size over fpack's differs from 1 by at most this much.
SIZE_TOLERANCE = 0.02


def _image_of(data: bytes) -> np.ndarray:
    """Return the first image with pixels in a FITS file (decompressed by astropy)."""
    with fits.open(io.BytesIO(data)) as hdus:
        for hdu in hdus:
            if hdu.data is not None:
                return np.array(hdu.data)
    raise ValueError("no image in the file")


def _fpack(fpack: str, source: Path, target: Path) -> float:
    """Run ``fpack -S source > target``; return the wall time in seconds."""
    gc.collect()
    start = time.perf_counter()
    with target.open("wb") as out:
        subprocess.run([fpack, "-S", str(source)], stdout=out, check=True)
    return time.perf_counter() - start


def _ours(raw: bytes) -> tuple[bytes, float, float]:
    """Compress and verify ``raw``; return the output, compress time and verify time (s)."""
    gc.collect()
    start = time.perf_counter()
    compressed = compress_frame(raw, "bench-frame.fits").data
    middle = time.perf_counter()
    verify_compressed(raw, compressed, "bench-frame.fits")
    return compressed, middle - start, time.perf_counter() - middle


def run() -> dict[str, Any]:
    """Compare compress-fits with ``fpack`` on a full-size frame.

    Returns
    -------
    dict
        Figures: times in seconds (medians and every run), sizes in bytes, the ratios ours
        over fpack, the targets, and whether all decompressed pixels equal the input's; or
        ``{"skipped": reason}`` when ``fpack`` or ``funpack`` is not installed.
    """
    fpack, funpack = shutil.which("fpack"), shutil.which("funpack")
    if fpack is None or funpack is None:
        return {"skipped": "fpack/funpack not on PATH (Debian: apt-get install libcfitsio-bin)"}

    print(f"  rendering a {WIDTH} x {HEIGHT} frame (seed {SEED}) ...", flush=True)
    raw = make_full_frame(SEED)
    ours_compress: list[float] = []
    ours_verify: list[float] = []
    fpack_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-compress-") as tmp:
        source, target = Path(tmp) / "frame.fits", Path(tmp) / "frame.fits.fz"
        source.write_bytes(raw)
        print(f"  warm-up, then {RUNS} runs of each, alternately ...", flush=True)
        _ours(raw)
        _fpack(fpack, source, target)
        for _ in range(RUNS):
            compressed, t_compress, t_verify = _ours(raw)
            ours_compress.append(t_compress)
            ours_verify.append(t_verify)
            fpack_times.append(_fpack(fpack, source, target))
        theirs = target.read_bytes()
        ours_path = Path(tmp) / "ours.fits.fz"
        ours_path.write_bytes(compressed)
        ours_funpacked = subprocess.run(
            [funpack, "-S", str(ours_path)], capture_output=True, check=True
        ).stdout
        theirs_funpacked = subprocess.run(
            [funpack, "-S", str(target)], capture_output=True, check=True
        ).stdout

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

    ours_total = [c + v for c, v in zip(ours_compress, ours_verify, strict=True)]
    fpack_median = statistics.median(fpack_times)
    time_ratio = statistics.median(ours_compress) / fpack_median
    time_ratio_verify = statistics.median(ours_total) / fpack_median
    size_ratio = len(compressed) / len(theirs)
    return {
        "frame": {
            "shape": list(pixels.shape),
            "input_bytes": len(raw),
            "seed": SEED,
        },
        "runs": RUNS,
        "ours_tile_rows": TILE_ROWS,
        "fpack_tile_rows": 1,
        "ours_compress_s": statistics.median(ours_compress),
        "ours_verify_s": statistics.median(ours_verify),
        "ours_compress_verify_s": statistics.median(ours_total),
        "fpack_s": fpack_median,
        "time_ratio": time_ratio,
        "time_ratio_with_verify": time_ratio_verify,
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
            "time_ratio_met": time_ratio <= TIME_RATIO_TARGET,
            "time_ratio_with_verify_met": time_ratio_verify <= TIME_RATIO_TARGET,
            "size_ratio_within": SIZE_TOLERANCE,
            "size_ratio_met": abs(size_ratio - 1.0) <= SIZE_TOLERANCE,
        },
        "all_runs_s": {
            "ours_compress": ours_compress,
            "ours_verify": ours_verify,
            "fpack": fpack_times,
        },
    }
