"""Raw decoding of make-rgb-fits against ``dcraw`` on a full-size DNG.

Both read the same 5208 x 3476 DNG (written by ``tests/unit/dng_files.py``) in the same run,
alternately, ``RUNS`` times after one warm-up each; the medians are compared:

- ``time_ratio``: :func:`~panoptes_network.raw.decode.decode_raw` on the bytes read from the
  file plus :func:`~panoptes_network.raw.products.bayer_fits_bytes` written to a file, over
  ``dcraw -D -4 -c FILE > out.pgm`` (the raw mosaic, undemosaiced, as 16-bit PGM);
- ``products_s``: the whole :func:`~panoptes_network.raw.products.make_raw_products` (EXIF,
  Bayer FITS, RGB cube, preview), with its peak of Python-allocated memory (``tracemalloc``:
  numpy arrays included, LibRaw's own buffers not).

Both mosaics are compared pixel for pixel (dcraw's rows flipped to FITS orientation).
"""

from __future__ import annotations

import gc
import shutil
import statistics
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from panoptes_network.raw.decode import decode_raw
from panoptes_network.raw.exif import exif_cards
from panoptes_network.raw.products import bayer_fits_bytes, make_raw_products, raw_frame_cards
from tests.unit.dng_files import dng_bytes

RUNS = 5
ROWS, COLS = 3476, 5208
OBJECT = "PAN001/14d3bd/20160909T081152/20160909T081314.cr2"


def _ours(source: Path, target: Path) -> float:
    gc.collect()
    start = time.perf_counter()
    frame = decode_raw(source.read_bytes(), str(source))
    target.write_bytes(
        bayer_fits_bytes(frame, exif_cards({}, frame.pattern) + raw_frame_cards(frame))
    )
    return time.perf_counter() - start


def _dcraw(dcraw: str, source: Path, target: Path) -> float:
    gc.collect()
    start = time.perf_counter()
    with target.open("wb") as out:
        subprocess.run([dcraw, "-D", "-4", "-c", str(source)], stdout=out, check=True)
    return time.perf_counter() - start


def _pgm_pixels(data: bytes) -> np.ndarray:
    fields = data.split(maxsplit=4)
    width, height = int(fields[1]), int(fields[2])
    return np.frombuffer(fields[4][: width * height * 2], dtype=">u2").reshape(height, width)


def run() -> dict[str, Any]:
    """Compare decode + Bayer FITS with ``dcraw -D -4`` on a full-size DNG.

    Returns
    -------
    dict
        Figures: medians and every run in seconds, the ratio ours over dcraw, the products
        time and peak memory, whether the mosaics agree; or ``{"skipped": reason}``.
    """
    dcraw, exiftool = shutil.which("dcraw"), shutil.which("exiftool")
    if dcraw is None or exiftool is None:
        return {"skipped": "dcraw or exiftool missing (Debian: dcraw, libimage-exiftool-perl)"}
    print(f"  writing a {COLS} x {ROWS} DNG ...", flush=True)
    data = dng_bytes(ROWS, COLS)
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-raw-") as folder:
        source = Path(folder) / "frame.dng"
        source.write_bytes(data)
        fits_path, pgm_path = Path(folder) / "frame.fits", Path(folder) / "frame.pgm"
        _ours(source, fits_path)
        _dcraw(dcraw, source, pgm_path)
        for _ in range(RUNS):
            ours.append(_ours(source, fits_path))
            theirs.append(_dcraw(dcraw, source, pgm_path))
        fits_bytes = fits_path.stat().st_size
        dcraw_pixels = _pgm_pixels(pgm_path.read_bytes())
    frame = decode_raw(data, "frame.dng")
    identical = bool(np.array_equal(np.flipud(dcraw_pixels), frame.bayer))
    del frame, dcraw_pixels

    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    products = make_raw_products(data, "gs://bench/" + OBJECT, OBJECT)
    products_s = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    median_ours, median_dcraw = statistics.median(ours), statistics.median(theirs)
    return {
        "frame": {"shape": [ROWS, COLS], "dng_bytes": len(data), "fits_bytes": fits_bytes},
        "runs": RUNS,
        "ours_decode_write_s": median_ours,
        "dcraw_s": median_dcraw,
        "time_ratio": median_ours / median_dcraw,
        "mosaics_identical": identical,
        "products_s": products_s,
        "products_peak_python_bytes": peak,
        "rgb_fits_bytes": len(products.rgb_fits),
        "preview_bytes": len(products.preview_jpeg),
        "preview_source": products.preview_source,
        "all_runs_s": {"ours": ours, "dcraw": theirs},
    }
