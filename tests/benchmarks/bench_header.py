"""get-fits-header: ranged header reads against downloading the whole ``.fits.fz``.

The object is the full-size synthetic frame (:mod:`panoptes_network.simulation.synthetic_frame`)
compressed by :func:`~panoptes_network.frames.compression.compress_frame` (about 22.7 MB). Two ways
to get its image header as a keyword-to-value mapping are compared:

- ranged: :func:`~panoptes_network.frames.fits_header.read_header` through a ``read_range``
  callable, then :meth:`~panoptes_network.frames.fits_header.FitsHeader.to_dict` (what the
  get-fits-header service does);
- whole: fetch the whole object, open it with astropy and read HDU 1's header into a dict.

Measured (a) in process, against the bytes in memory through a reader that counts bytes, and
(b) against the Cloud Storage emulator when ``STORAGE_EMULATOR_HOST`` is set: the object is
uploaded to bucket ``panoptes-bench`` (created when missing; the object is deleted at the end),
the ranged way does what the service does (one metadata request for the size, then ranged
``blob.download_as_bytes(start=, end=)`` reads) and the whole way one
``blob.download_as_bytes()``. Ratios are ranged over whole: bytes read and median time.
"""

from __future__ import annotations

import gc
import io
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from astropy.io import fits

from panoptes_network.frames.compression import compress_frame
from panoptes_network.frames.fits_header import read_header
from panoptes_network.simulation.synthetic_frame import make_full_frame

#: Seed of the synthetic frame.
SEED = 0
#: Timed runs of each way in process (after one warm-up each).
MEMORY_RUNS = 25
#: Timed runs of each way against the emulator (after one warm-up each).
EMULATOR_RUNS = 5
#: Bucket used against the emulator (the only one this benchmark touches).
BUCKET = "panoptes-bench"
#: Object name in that bucket.
OBJECT = "bench/PAN001/frame-full.fits.fz"


class CountingReader:
    """A ``read_range(start, length)`` over bytes in memory that counts what it returns.

    Parameters
    ----------
    data : bytes
        The whole object.
    """

    def __init__(self, data: bytes):
        self._view = memoryview(data)
        self.bytes_read = 0
        self.calls = 0

    def __call__(self, start: int, length: int) -> bytes:
        chunk = bytes(self._view[start : start + length])
        self.bytes_read += len(chunk)
        self.calls += 1
        return chunk


def _astropy_header(data: bytes) -> dict[str, Any]:
    """Parse the image header of a whole ``.fits.fz`` with astropy, as a plain dict."""
    with fits.open(io.BytesIO(data)) as hdus:
        header = hdus[1].header
        return {key: header[key] for key in header if key not in ("COMMENT", "HISTORY", "")}


def _disagreements(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, list[str]]:
    """Keywords astropy found that ours lacks, and keywords whose values differ."""
    return {
        "keywords_missing": sorted(k for k in theirs if k not in ours),
        "values_differ": sorted(k for k in theirs if k in ours and ours[k] != theirs[k]),
    }


def _median_times(
    ranged: Callable[[], Any], whole: Callable[[], Any], runs: int
) -> tuple[list[float], list[float]]:
    """Time two callables alternately, one warm-up each; return every run's time (s)."""
    ranged()
    whole()
    ranged_times: list[float] = []
    whole_times: list[float] = []
    for _ in range(runs):
        for func, times in ((ranged, ranged_times), (whole, whole_times)):
            gc.collect()
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
    return ranged_times, whole_times


def _figures(
    ranged_bytes: int,
    ranged_requests: int,
    whole_bytes: int,
    ranged_times: list[float],
    whole_times: list[float],
) -> dict[str, Any]:
    ranged_s, whole_s = statistics.median(ranged_times), statistics.median(whole_times)
    return {
        "runs": len(ranged_times),
        "ranged_bytes": ranged_bytes,
        "ranged_requests": ranged_requests,
        "whole_bytes": whole_bytes,
        "bytes_ratio": ranged_bytes / whole_bytes,
        "ranged_s": ranged_s,
        "whole_s": whole_s,
        "time_ratio": ranged_s / whole_s,
        "speed_up": whole_s / ranged_s,
        "all_runs_s": {"ranged": ranged_times, "whole": whole_times},
    }


def _in_memory(fz: bytes) -> dict[str, Any]:
    """Part (a): both ways against bytes in memory."""
    probe = CountingReader(fz)
    ours = read_header(probe, size=len(fz), source="memory").to_dict()
    theirs = _astropy_header(fz)

    def ranged() -> dict[str, Any]:
        return read_header(CountingReader(fz), size=len(fz), source="memory").to_dict()

    def whole() -> dict[str, Any]:
        reader = CountingReader(fz)
        return _astropy_header(reader(0, len(fz)))

    ranged_times, whole_times = _median_times(ranged, whole, MEMORY_RUNS)
    figures = _figures(probe.bytes_read, probe.calls, len(fz), ranged_times, whole_times)
    figures["cards"] = len(ours)
    figures["against_astropy"] = _disagreements(ours, theirs)
    return figures


def _emulator(fz: bytes) -> dict[str, Any]:
    """Part (b): both ways against the Cloud Storage emulator."""
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if not host:
        return {
            "skipped": "STORAGE_EMULATOR_HOST is not set: start the local stack "
            "(bin/dev up); bin/bench exports its environment when it runs"
        }
    from google.cloud import storage

    project = os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-panoptes")
    client = storage.Client(project=project)
    try:
        bucket = client.lookup_bucket(BUCKET) or client.create_bucket(BUCKET)
    except Exception as exc:  # any failure here means the emulator is not usable
        return {"skipped": f"the storage emulator at {host} did not answer: {exc}"}
    bucket.blob(OBJECT).upload_from_string(fz, content_type="application/fits")
    try:
        counter = {"bytes": 0, "requests": 0}

        def ranged() -> dict[str, Any]:
            blob = bucket.get_blob(OBJECT)  # the service's stat: one metadata request
            assert blob is not None and blob.size is not None
            counter["bytes"], counter["requests"] = 0, 1

            def read_range(start: int, length: int) -> bytes:
                chunk = blob.download_as_bytes(start=start, end=start + length - 1, checksum=None)
                counter["bytes"] += len(chunk)
                counter["requests"] += 1
                return chunk

            return read_header(read_range, size=blob.size, source=OBJECT).to_dict()

        def whole() -> dict[str, Any]:
            return _astropy_header(bucket.blob(OBJECT).download_as_bytes())

        ours, theirs = ranged(), whole()
        ranged_bytes, ranged_requests = counter["bytes"], counter["requests"]
        ranged_times, whole_times = _median_times(ranged, whole, EMULATOR_RUNS)
    finally:
        bucket.blob(OBJECT).delete()
    figures = _figures(ranged_bytes, ranged_requests, len(fz), ranged_times, whole_times)
    figures["emulator"] = host
    figures["object"] = f"gs://{BUCKET}/{OBJECT}"
    figures["against_astropy"] = _disagreements(ours, theirs)
    return figures


def run() -> dict[str, Any]:
    """Compare ranged header reads with whole-object downloads of a full-size ``.fits.fz``.

    Returns
    -------
    dict
        ``object_bytes`` and, for ``in_memory`` and ``emulator``: bytes read (bytes), requests,
        median times (seconds), ``bytes_ratio`` and ``time_ratio`` (ranged over whole), every
        run's times, and keywords astropy reads that ours lacks or reads differently. ``emulator``
        is ``{"skipped": reason}`` when ``STORAGE_EMULATOR_HOST`` is not set.
    """
    print("  rendering and compressing a full-size frame ...", flush=True)
    fz = compress_frame(make_full_frame(SEED), "bench-frame.fits").data
    print(f"  (a) in memory: {MEMORY_RUNS} runs of each way ...", flush=True)
    memory = _in_memory(fz)
    host = os.environ.get("STORAGE_EMULATOR_HOST")
    if host:
        print(f"  (b) storage emulator at {host}: {EMULATOR_RUNS} runs of each way ...")
    emulator = _emulator(fz)
    if "skipped" in emulator:
        print(f"  (b) skipped: {emulator['skipped']}", flush=True)
    return {"object_bytes": len(fz), "in_memory": memory, "emulator": emulator}
