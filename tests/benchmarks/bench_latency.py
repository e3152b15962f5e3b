"""Upload-to-images-doc latency of the ingest chain on the local emulator stack.

Frames are uploaded one at a time (sequential: per-upload latency, not throughput) to the
incoming bucket under a fresh bucket path of a benchmark unit (``PAN999``, a random camera id
per run). The latency of one upload is the time from the start of the upload call until the
``images/<image_id>`` Firestore document exists. Arrivals are seen by a Firestore
``on_snapshot`` listener on the ``images`` collection filtered by the observation's
``sequence_id``, which stamps each new document as it arrives (no polling delay; on the
emulator its reports came within about 15 ms of a 5 ms polling loop's). As a safety
net the document is also read directly every :data:`CHECK_EVERY_S` seconds of waiting (every
:data:`POLL_S` seconds if the listener's stream has closed); arrivals found that way are counted
as ``found_by_direct_read`` (stamped when that read returned).

Two frame kinds, ``N`` uploads each (:data:`N`, or ``PANOPTES_BENCH_LATENCY_N``), each kind its
own observation (the small kind runs first; no upload is left out as a warm-up):

- ``full_fits``: the full-size synthetic ``.fits`` frame (5208 x 3476, about 36.2 MB), which
  goes raw-file-uploaded -> compress-fits -> record-image. The pixels are rendered once; each
  upload gets its own header (unit, camera, sequence and image ids, DATE-OBS), spliced in place
  of the first frame's (same length: the header has a fixed card list). ``DATASUM`` stays right
  (same pixels); ``CHECKSUM`` is stale after the first upload, which nothing in the chain checks.
- ``small_fits_fz``: the first :data:`SMALL_ROWS` rows of that frame with a unit's full header,
  compressed by :func:`~panoptes_network.frames.compression.compress_frame`, which goes
  raw-file-uploaded -> record-image.

The reference, measured in the same run and interleaved with the chain uploads, is a bare
upload of the same bytes to the storage emulator (a new object in bucket :data:`BENCH_BUCKET`,
which sends no notifications, deleted after each upload). ``ratio_median`` is the median
latency over the median bare upload.

Each kind also checks that every document arrived with a good status and that the
observation's ``num_images`` equals the number of uploads. When the stack is not running, the
benchmark starts it (``up``) and stops it at the end (``down``); a running stack is used as it
is and left running. At the end the storage objects of the run (``PAN999/<camera>/...`` in the
chain's buckets) are deleted, so the in-memory emulator does not keep about 3 GB; the Firestore
documents are kept.
"""

from __future__ import annotations

import gc
import os
import secrets
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from astropy.io import fits

from emulator.stack import StackConfig
from panoptes_network.frames.bucket_path import ImagePath, format_timestamp
from panoptes_network.frames.compression import compress_frame
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.synthetic_frame import (
    HEIGHT,
    WIDTH,
    frame_cards_for,
    frame_header,
    make_full_frame,
)
from tests.benchmarks.local_stack import on_local_stack

#: Uploads of each frame kind (overridden by ``PANOPTES_BENCH_LATENCY_N``).
N = 50
#: Environment variable that overrides :data:`N`.
N_ENV = "PANOPTES_BENCH_LATENCY_N"
#: The benchmark's unit id (documents of this unit are benchmark data).
UNIT_ID = "PAN999"
#: Seed of the synthetic frame.
SEED = 0
#: Exposure time written in the headers, in seconds.
EXPTIME_S = 120.0
#: Rows of the full frame kept in the small ``.fits.fz`` (full width).
SMALL_ROWS = 200
#: Bucket of the bare reference uploads (no notifications are sent for it).
BENCH_BUCKET = "panoptes-bench"
#: Longest wait for one images document, in seconds (compress-fits' own time limit).
TIMEOUT_S = 300.0
#: Seconds between direct reads of the awaited document while the listener runs.
CHECK_EVERY_S = 1.0
#: Seconds between direct reads of the awaited document when the listener's stream closed.
POLL_S = 0.02


def _say(line: str) -> None:
    print(f"  {line}", flush=True)


def _uploads() -> int:
    """Return the number of uploads per kind: :data:`N` or ``PANOPTES_BENCH_LATENCY_N``."""
    raw = os.environ.get(N_ENV)
    if raw is None or not raw.strip():
        return N
    value = int(raw)
    if value < 1:
        raise ValueError(f"{N_ENV} must be a positive integer, got {raw!r}")
    return value


@dataclass
class Arrivals:
    """Images documents of one observation as an ``on_snapshot`` listener sees them arrive.

    Attributes
    ----------
    times : dict
        Image id to the ``time.perf_counter()`` reading (seconds) when its document was first
        seen.
    statuses : dict
        Image id to the document's ``status`` when first seen.
    found_by_read : int
        Documents found by a direct read (the safety net) before the listener reported
        them; their arrival is stamped when that read returned.
    """

    times: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, Any] = field(default_factory=dict)
    found_by_read: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def on_snapshot(self, docs: list[Any], changes: list[Any], read_time: Any) -> None:
        """Listener callback: stamp every document not seen before."""
        now = time.perf_counter()
        with self._cond:
            for doc in docs:
                if doc.id not in self.times:
                    self.times[doc.id] = now
                    self.statuses[doc.id] = (doc.to_dict() or {}).get("status")
            self._cond.notify_all()

    def wait(self, image_id: str, ref: Any, watch: Any, timeout: float) -> float | None:
        """Wait until the document of ``image_id`` exists.

        Parameters
        ----------
        image_id : str
            The awaited document id.
        ref : google.cloud.firestore.DocumentReference
            Its reference, for the direct reads of the safety net.
        watch : google.cloud.firestore_v1.watch.Watch
            The listener; when its stream has closed, direct reads are made every
            :data:`POLL_S` seconds.
        timeout : float
            Longest wait, in seconds.

        Returns
        -------
        float or None
            The ``time.perf_counter()`` reading of its arrival (seconds), or None on timeout.
        """
        deadline = time.perf_counter() + timeout
        while True:
            every = CHECK_EVERY_S if watch.is_active else POLL_S
            with self._cond:
                self._cond.wait_for(
                    lambda: image_id in self.times,
                    timeout=max(0.0, min(every, deadline - time.perf_counter())),
                )
                if image_id in self.times:
                    return self.times[image_id]
            snapshot = ref.get()
            if snapshot.exists:
                now = time.perf_counter()
                with self._cond:
                    if image_id not in self.times:  # the listener may have just reported it
                        self.times[image_id] = now
                        self.statuses[image_id] = (snapshot.to_dict() or {}).get("status")
                        self.found_by_read += 1
                    return self.times[image_id]
            if time.perf_counter() >= deadline:
                return None


def _paths(camera_id: str, sequence_start: datetime, n: int, extension: str) -> list[ImagePath]:
    """Bucket paths of ``n`` images of one observation, starting one second apart."""
    sequence = format_timestamp(sequence_start)
    return [
        ImagePath(
            UNIT_ID,
            camera_id,
            sequence,
            format_timestamp(sequence_start + timedelta(seconds=i)),
            extension,
        )
        for i in range(n)
    ]


class FullFrames:
    """Full-size ``.fits`` frames that share one rendering of the pixels.

    Parameters
    ----------
    first : ImagePath
        Path of the first upload; its frame is rendered with its cards.
    """

    def __init__(self, first: ImagePath):
        base = make_full_frame(SEED, frame_cards_for(first, EXPTIME_S))
        self._buffer = bytearray(base)
        del base
        self.header_bytes = len(frame_header(cards=frame_cards_for(first, EXPTIME_S)).tostring())
        header = fits.Header.fromstring(bytes(self._buffer[: self.header_bytes]).decode("ascii"))
        self._checksum = str(header["CHECKSUM"])
        self._datasum = str(header["DATASUM"])

    @property
    def pixel_bytes(self) -> memoryview:
        """The data unit (stored pixels and padding), shared by every frame."""
        return memoryview(self._buffer)[self.header_bytes :]

    def frame(self, path: ImagePath) -> bytes:
        """Return the whole ``.fits`` file of the upload at ``path``.

        Parameters
        ----------
        path : ImagePath
            Where it will be uploaded.

        Returns
        -------
        bytes
            The first frame's bytes with this upload's header spliced in.
        """
        text = frame_header(self._checksum, self._datasum, frame_cards_for(path, EXPTIME_S))
        encoded = text.tostring().encode("ascii")
        if len(encoded) != self.header_bytes:
            raise RuntimeError("a frame header changed length; cannot splice it in")
        self._buffer[: self.header_bytes] = encoded
        return bytes(self._buffer)


def small_frame(path: ImagePath, pixel_bytes: memoryview) -> bytes:
    """Return a small ``.fits.fz`` frame of a unit: the first rows of the full frame.

    Parameters
    ----------
    path : ImagePath
        Where it will be uploaded (its cards go in the header).
    pixel_bytes : memoryview
        The full frame's data unit (big-endian, ``BZERO = 32768``).

    Returns
    -------
    bytes
        The compressed file: :data:`SMALL_ROWS` x 5208 pixels and a unit's full header.
    """
    header = frame_header(cards=frame_cards_for(path, EXPTIME_S))
    header["NAXIS2"] = SMALL_ROWS
    del header["CHECKSUM"], header["DATASUM"]  # their values would be wrong for this frame
    data = bytes(pixel_bytes[: SMALL_ROWS * WIDTH * 2])
    data += b"\0" * (-len(data) % 2880)
    raw = header.tostring().encode("ascii") + data
    return compress_frame(raw, path.object_name).data


def _percentile(values: list[float], q: int) -> float:
    """Return the ``q``-th percentile (inclusive method) of ``values``."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _measure_kind(
    name: str,
    paths: list[ImagePath],
    make: Any,
    clients: dict[str, Any],
    settings: Settings,
    reference: str,
) -> dict[str, Any]:
    """Upload one frame kind ``len(paths)`` times and time each upload's images doc.

    Parameters
    ----------
    name : str
        Kind, for progress lines.
    paths : list of ImagePath
        One observation's uploads, in order.
    make : callable
        ``make(path) -> bytes``: the file uploaded at ``path``.
    clients : dict
        ``storage`` and ``firestore`` clients.
    settings : Settings
        Bucket names.
    reference : str
        Folder of the bare reference uploads in :data:`BENCH_BUCKET` (one new object per
        upload, deleted after it, as the chain's uploads are new objects too).

    Returns
    -------
    dict
        The kind's figures (times in seconds).
    """
    from google.cloud.firestore_v1.base_query import FieldFilter

    storage, db = clients["storage"], clients["firestore"]
    incoming = storage.bucket(settings.incoming_bucket)
    bench = storage.bucket(BENCH_BUCKET)
    sequence_id = paths[0].sequence_id
    arrivals = Arrivals()
    query = db.collection("images").where(filter=FieldFilter("sequence_id", "==", sequence_id))
    watch = query.on_snapshot(arrivals.on_snapshot)
    latencies: list[float] = []
    upload_calls: list[float] = []
    bare: list[float] = []
    sizes: set[int] = set()
    timed_out: str | None = None
    try:
        for i, path in enumerate(paths):
            data = make(path)
            sizes.add(len(data))
            gc.collect()
            blob = bench.blob(f"{reference}/{i:04d}")
            start = time.perf_counter()
            blob.upload_from_string(data, content_type="application/fits")
            bare.append(time.perf_counter() - start)
            blob.delete()  # keeps the emulator's memory flat; not timed
            gc.collect()
            start = time.perf_counter()
            incoming.blob(path.object_name).upload_from_string(
                data, content_type="application/fits"
            )
            upload_calls.append(time.perf_counter() - start)
            del data
            ref = db.collection("images").document(path.image_id)
            arrived = arrivals.wait(path.image_id, ref, watch, TIMEOUT_S)
            if arrived is None:
                timed_out = path.image_id
                _say(f"{name}: no images/{path.image_id} after {TIMEOUT_S:.0f} s; stopping")
                break
            latencies.append(arrived - start)
            if (i + 1) % 10 == 0 or i + 1 == len(paths):
                _say(
                    f"{name}: {i + 1}/{len(paths)} "
                    f"(median so far {statistics.median(latencies) * 1000:.0f} ms)"
                )
    finally:
        watch.unsubscribe()
    wanted = {p.image_id for p in paths}
    statuses = [arrivals.statuses[i] for i in wanted if i in arrivals.statuses]
    errors = sum(1 for s in statuses if s == "error")
    observation = db.collection("observations").document(sequence_id).get()
    num_images = (observation.to_dict() or {}).get("num_images") if observation.exists else None
    figures: dict[str, Any] = {
        "sequence_id": sequence_id,
        "object_bytes": max(sizes) if len(sizes) == 1 else sorted(sizes),
        "uploads": len(upload_calls),
        "docs_arrived": len(statuses),
        "docs_with_error_status": errors,
        "found_by_direct_read": arrivals.found_by_read,
    }
    if latencies:
        bare_median = statistics.median(bare)
        latency_median = statistics.median(latencies)
        figures.update(
            {
                "latency_median_s": latency_median,
                "latency_p95_s": _percentile(latencies, 95),
                "latency_min_s": min(latencies),
                "latency_max_s": max(latencies),
                "bare_upload_median_s": bare_median,
                "ratio_median": latency_median / bare_median,
                "upload_call_median_s": statistics.median(upload_calls),
            }
        )
    figures["checks"] = {
        "all_docs_arrived": len(statuses) == len(paths) and timed_out is None,
        "no_error_status": errors == 0,
        "num_images": num_images,
        "num_images_equals_uploads": num_images == len(upload_calls),
    }
    if timed_out is not None:
        figures["timed_out_on"] = timed_out
    figures["all_runs_s"] = {"latency": latencies, "bare_upload": bare, "upload_call": upload_calls}
    return figures


def _delete_prefix(bucket: Any, prefix: str) -> int:
    """Delete every object under ``prefix``; return how many were deleted."""
    from google.api_core.exceptions import NotFound

    deleted = 0
    for blob in list(bucket.list_blobs(prefix=prefix)):
        try:
            blob.delete()
            deleted += 1
        except NotFound:
            pass  # a service deleted it meanwhile
    return deleted


def _cleanup(storage: Any, settings: Settings, prefix: str, reference: str) -> int:
    """Delete the run's objects from the chain's buckets and any reference object left."""
    deleted = 0
    for name in (
        settings.incoming_bucket,
        settings.archive_bucket,
        settings.images_bucket,
        settings.quarantine_bucket,
    ):
        deleted += _delete_prefix(storage.bucket(name), prefix)
    return deleted + _delete_prefix(storage.bucket(BENCH_BUCKET), f"{reference}/")


def _measure(config: StackConfig, n: int) -> dict[str, Any]:
    """Run both frame kinds against a running stack; return the figures."""
    from google.cloud import firestore, storage

    settings = Settings.from_env()
    clients = {
        "storage": storage.Client(project=config.project),
        "firestore": firestore.Client(project=config.project),
    }
    if clients["storage"].lookup_bucket(BENCH_BUCKET) is None:
        clients["storage"].create_bucket(BENCH_BUCKET)
    camera_id = secrets.token_hex(3)
    start = datetime.now(timezone.utc).replace(microsecond=0)
    full_paths = _paths(camera_id, start, n, ".fits")
    small_paths = _paths(camera_id, start + timedelta(hours=1), n, ".fits.fz")
    reference = f"latency/{UNIT_ID}/{camera_id}"
    _say(f"unit {UNIT_ID}, camera {camera_id}: {n} uploads of each kind")
    _say(f"rendering a {WIDTH} x {HEIGHT} frame (seed {SEED}) ...")
    frames = FullFrames(full_paths[0])
    small_bytes = len(small_frame(small_paths[0], frames.pixel_bytes))
    figures: dict[str, Any] = {
        "uploads_per_kind": n,
        "unit_id": UNIT_ID,
        "camera_id": camera_id,
        "arrival": "Firestore on_snapshot listener (direct read as safety net)",
    }
    try:
        _say(f"small .fits.fz ({small_bytes:,} B): raw-file-uploaded -> record-image")
        small = _measure_kind(
            "small .fits.fz",
            small_paths,
            lambda path: small_frame(path, frames.pixel_bytes),
            clients,
            settings,
            f"{reference}/small-fits-fz",
        )
        _say("full .fits: raw-file-uploaded -> compress-fits -> record-image")
        full = _measure_kind(
            "full .fits", full_paths, frames.frame, clients, settings, f"{reference}/full-fits"
        )
    finally:
        deleted = _cleanup(clients["storage"], settings, f"{UNIT_ID}/{camera_id}/", reference)
        _say(f"deleted {deleted} storage objects of this run")
    figures["full_fits"] = {
        "route": "raw-file-uploaded -> compress-fits -> record-image",
        "shape": [HEIGHT, WIDTH],
        **full,
    }
    figures["small_fits_fz"] = {
        "route": "raw-file-uploaded -> record-image",
        "shape": [SMALL_ROWS, WIDTH],
        **small,
    }
    return figures


def run() -> dict[str, Any]:
    """Measure upload-to-images-doc latency of a full ``.fits`` and a small ``.fits.fz``.

    Returns
    -------
    dict
        For ``full_fits`` and ``small_fits_fz``: file size (bytes); median, 95th percentile,
        minimum and maximum latency (seconds, from the start of the upload call to the
        images document's arrival); the median bare upload of the same bytes (seconds) and
        ``ratio_median`` (median latency over it); the median upload call of the chain
        uploads (seconds); documents arrived (and how many the safety-net read found first);
        checks (every document arrived, none has status ``error``, the observation's
        ``num_images`` equals the uploads); every run's times. Or ``{"skipped": reason}``
        when the stack cannot be started or is only partly running.
    """
    n = _uploads()
    return on_local_stack(lambda config: _measure(config, n), _say)
