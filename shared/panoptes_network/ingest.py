"""The steps of the ingest chain: raw-file-uploaded, compress-fits and record-image.

Each step is one function that takes the :class:`ChainContext` and one message, does its
work through the ports, and returns a :class:`StepResult` saying what it did. Bad input is
recorded (the file copied to quarantine with the reason in its metadata, or the image doc set
to ``status: "error"``) and reported as a result with ``action="quarantined"``: the service
acknowledges it. Anything else that goes wrong raises, so that Pub/Sub redelivers.

A file is never deleted until its replacement is verified to be stored, and every upload is
copied to the archive bucket before anything else touches it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .bucket_path import RAW_EXTENSIONS, ImagePath, InvalidPathError
from .compression import CompressionError, compress_frame, verify_compressed
from .counters import record_frame
from .errors import ObjectNotFoundError, PermanentFailure
from .fits_header import FitsHeader, NotFitsError, read_header
from .frame_check import InvalidFrameError, check_frame_header
from .ports import DocumentStore, MessageBus, ObjectInfo, ObjectStore
from .records import PLACEHOLDER_STATUSES, ImageStatus, build_frame_records
from .settings import Settings

__all__ = [
    "ChainContext",
    "StepResult",
    "StoredObject",
    "md5_base64",
    "quarantine",
    "handle_raw_upload",
    "compress_fits",
    "record_image",
]

FITS_CONTENT_TYPE = "application/fits"
_CONTENT_TYPES = {
    ".fits": FITS_CONTENT_TYPE,
    ".fits.fz": FITS_CONTENT_TYPE,
    ".cr2": "image/x-canon-cr2",
    ".cr3": "image/x-canon-cr3",
    ".nef": "image/x-nikon-nef",
    ".dng": "image/x-adobe-dng",
    ".jpg": "image/jpeg",
    ".mp4": "video/mp4",
}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ChainContext:
    """Everything a step needs, built once per process.

    Attributes
    ----------
    settings : Settings
        Bucket and topic names, limits.
    store : ObjectStore
        Cloud Storage.
    bus : MessageBus
        Pub/Sub.
    documents : DocumentStore or None
        Firestore (only record-image needs it).
    service : str
        Name of the running service, recorded with failures.
    now : callable
        Returns the current aware UTC time.
    """

    settings: Settings
    store: ObjectStore
    bus: MessageBus
    documents: DocumentStore | None = None
    service: str = "panoptes-network"
    now: Callable[[], datetime] = _utcnow


@dataclass(frozen=True)
class StepResult:
    """What a step did with one message.

    Attributes
    ----------
    action : str
        ``routed``, ``compressed``, ``recorded``, ``quarantined``, ``skipped`` ...
    detail : dict
        Names and figures worth logging.
    """

    action: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    """A reference to an object, as steps pass it to each other in messages.

    Attributes
    ----------
    bucket, name : str
        Where the object is.
    generation : int or None
        The generation the message is about, when known.
    """

    bucket: str
    name: str
    generation: int | None = None

    @classmethod
    def from_message(cls, payload: Mapping[str, Any]) -> StoredObject:
        """Read ``{"bucket", "name", "generation"?}`` from a message payload.

        Parameters
        ----------
        payload : Mapping
            The decoded message.

        Returns
        -------
        StoredObject
            The reference.

        Raises
        ------
        PermanentFailure
            If the bucket or name is missing: such a message can never succeed.
        """
        bucket = payload.get("bucket") or payload.get("bucketId")
        name = payload.get("name") or payload.get("objectId")
        if not isinstance(bucket, str) or not isinstance(name, str) or not bucket or not name:
            raise PermanentFailure(f"message has no bucket and object name: {dict(payload)!r}")
        generation = payload.get("generation") or payload.get("objectGeneration")
        try:
            generation = int(generation) if generation not in (None, "") else None
        except (TypeError, ValueError):
            generation = None
        return cls(bucket, name, generation)

    @property
    def uri(self) -> str:
        """The ``gs://`` URI."""
        return f"gs://{self.bucket}/{self.name}"

    def message(self, **extra: Any) -> dict[str, Any]:
        """Return the message payload that names this object."""
        out: dict[str, Any] = {"bucket": self.bucket, "name": self.name}
        if self.generation is not None:
            out["generation"] = str(self.generation)
        out.update(extra)
        return out


def md5_base64(data: bytes) -> str:
    """Return the base64 MD5 digest of ``data``, as Cloud Storage reports ``md5Hash``."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def write_verified(
    ctx: ChainContext,
    target: StoredObject,
    data: bytes,
    *,
    content_type: str,
    metadata: Mapping[str, str],
) -> None:
    """Write an object and check that the store holds exactly those bytes.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    target : StoredObject
        Where to write.
    data : bytes
        The content.
    content_type : str
        Its MIME type.
    metadata : Mapping
        Custom metadata of the object.

    Raises
    ------
    OSError
        When the stored size or MD5 differs from ``data`` (transient: the step is retried).
    """
    stored = ctx.store.write(
        target.bucket, target.name, data, content_type=content_type, metadata=dict(metadata)
    )
    if stored.size != len(data) or stored.md5_hash != md5_base64(data):
        raise OSError(f"stored {target.uri} does not match what was written; will retry")


def quarantine(ctx: ChainContext, obj: StoredObject, reason: str) -> StepResult:
    """Copy an object into the quarantine bucket with the reason in its metadata.

    The source is left in place; nothing is deleted.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    obj : StoredObject
        The object that cannot be processed.
    reason : str
        Why, in words a unit operator can act on.

    Returns
    -------
    StepResult
        ``quarantined``, with the reason.
    """
    metadata = {
        "reason": reason[:1024],
        "source": obj.uri,
        "service": ctx.service,
        "quarantined_at": ctx.now().isoformat(),
    }
    try:
        ctx.store.copy(
            obj.bucket, obj.name, ctx.settings.quarantine_bucket, obj.name, metadata=metadata
        )
    except ObjectNotFoundError:
        pass  # nothing left to keep; the reason is still reported and logged
    return StepResult("quarantined", {"object": obj.uri, "reason": reason})


def _archive(ctx: ChainContext, obj: StoredObject, info: ObjectInfo) -> str:
    """Copy an upload into the archive bucket, keeping earlier different uploads too."""
    archive = ctx.settings.archive_bucket
    existing = ctx.store.stat(archive, obj.name)
    if existing is not None and existing.md5_hash == info.md5_hash:
        return obj.name
    name = obj.name if existing is None else f"{obj.name}.gen{info.generation or 0}"
    ctx.store.copy(obj.bucket, obj.name, archive, name)
    return name


def _why(exc: NotFitsError | InvalidFrameError | CompressionError) -> str:
    """Return the quarantine reason for a failure, in words that name the problem."""
    if isinstance(exc, NotFitsError):
        return f"not a readable FITS file: {exc.reason}"
    return exc.reason


def _read_frame_header(ctx: ChainContext, obj: StoredObject, size: int) -> FitsHeader:
    """Read and check a frame's header with ranged reads."""
    header = read_header(
        lambda start, length: ctx.store.read_range(obj.bucket, obj.name, start, length),
        size=size,
        source=obj.uri,
        max_header_bytes=ctx.settings.max_header_bytes,
    )
    check_frame_header(header, size, obj.uri)
    return header


def handle_raw_upload(ctx: ChainContext, obj: StoredObject) -> StepResult:
    """Archive a new upload, validate it, and route it by extension.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    obj : StoredObject
        The object that was finalised in the incoming bucket.

    Returns
    -------
    StepResult
        ``routed`` (with the route), ``quarantined`` (with the reason) or ``skipped``.
    """
    info = ctx.store.stat(obj.bucket, obj.name)
    if info is None:
        return StepResult("skipped", {"object": obj.uri, "why": "object no longer exists"})
    if obj.generation and info.generation and info.generation != obj.generation:
        return StepResult("skipped", {"object": obj.uri, "why": "a newer upload replaced it"})
    obj = StoredObject(obj.bucket, obj.name, info.generation)
    archived = _archive(ctx, obj, info)
    try:
        path = ImagePath.parse(obj.name)
    except InvalidPathError as exc:
        return quarantine(ctx, obj, exc.reason)
    if info.size == 0:
        return quarantine(ctx, obj, "the file is empty (0 bytes)")
    detail = {"object": obj.uri, "archived_as": archived, "extension": path.extension}
    s = ctx.settings
    if path.extension in (".fits", ".fits.fz"):
        try:
            _read_frame_header(ctx, obj, info.size)
        except (NotFitsError, InvalidFrameError) as exc:
            return quarantine(ctx, obj, _why(exc))
    if path.extension == ".fits":
        ctx.bus.publish(s.compress_topic, obj.message(object_name=path.object_name))
        return StepResult("routed", {**detail, "to": s.compress_topic})
    if path.extension == ".fits.fz":
        ctx.store.copy(obj.bucket, obj.name, s.images_bucket, path.object_name)
        ctx.bus.publish(s.record_topic, StoredObject(s.images_bucket, path.object_name).message())
        return StepResult("routed", {**detail, "to": s.record_topic})
    if path.extension in RAW_EXTENSIONS:
        archived_obj = StoredObject(s.archive_bucket, archived)
        ctx.bus.publish(s.make_rgb_topic, archived_obj.message(object_name=path.object_name))
        return StepResult("routed", {**detail, "to": s.make_rgb_topic})
    bucket = s.jpg_bucket if path.extension == ".jpg" else s.mp4_bucket
    ctx.store.copy(obj.bucket, obj.name, bucket, path.object_name)
    return StepResult("routed", {**detail, "to": f"gs://{bucket}/{path.object_name}"})


def compress_fits(
    ctx: ChainContext, obj: StoredObject, object_name: str | None = None
) -> StepResult:
    """Compress a ``.fits`` upload, verify it, store the ``.fits.fz`` and hand it on.

    The upload is deleted only after the decompressed pixels equal the input and the stored
    object's checksum equals the compressed bytes'.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    obj : StoredObject
        The uploaded ``.fits``.
    object_name : str, optional
        The normalised bucket path of the upload (defaults to ``obj.name``).

    Returns
    -------
    StepResult
        ``compressed``, ``quarantined`` or ``skipped``.
    """
    s = ctx.settings
    try:
        path = ImagePath.parse(object_name or obj.name)
    except InvalidPathError as exc:
        return quarantine(ctx, obj, exc.reason)
    target = StoredObject(s.images_bucket, path.with_extension(".fits.fz").object_name)
    try:
        raw = ctx.store.read(obj.bucket, obj.name)
    except ObjectNotFoundError:
        if ctx.store.stat(target.bucket, target.name) is not None:
            # Redelivered after the work was done: make sure the next step has its message.
            ctx.bus.publish(s.record_topic, target.message())
            return StepResult("skipped", {"object": obj.uri, "why": "already compressed"})
        raise PermanentFailure(f"{obj.uri} does not exist and was never compressed") from None
    try:
        frame = compress_frame(raw, obj.uri)
        verify_compressed(raw, frame.data, obj.uri)
    except (NotFitsError, CompressionError) as exc:
        return quarantine(ctx, obj, _why(exc))
    write_verified(
        ctx,
        target,
        frame.data,
        content_type=FITS_CONTENT_TYPE,
        metadata={"source": obj.uri, "compression": "RICE_1", "source_md5": md5_base64(raw)},
    )
    ctx.bus.publish(s.record_topic, target.message())
    ctx.store.delete(obj.bucket, obj.name, generation=obj.generation)
    return StepResult(
        "compressed",
        {
            "object": obj.uri,
            "to": target.uri,
            "input_bytes": len(raw),
            "output_bytes": len(frame.data),
            "ratio": round(frame.ratio, 3),
        },
    )


def _mark_image_error(ctx: ChainContext, path: ImagePath, obj: StoredObject, reason: str) -> None:
    assert ctx.documents is not None
    existing = ctx.documents.get("images", path.image_id)
    if existing is not None and existing.get("status") not in PLACEHOLDER_STATUSES:
        return  # a good recording of this image exists; do not spoil it
    ctx.documents.merge(
        "images",
        path.image_id,
        {
            "status": ImageStatus.ERROR,
            "error_reason": reason,
            "bucket_path": obj.name,
            "sequence_id": path.sequence_id,
            "unit_id": path.unit_id,
            "camera_id": path.camera_id,
            "time": path.image_time,
            "received_time": ctx.now(),
        },
    )


def record_image(ctx: ChainContext, obj: StoredObject) -> StepResult:
    """Write the units, observations and images documents of a stored ``.fits.fz`` frame.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    obj : StoredObject
        The compressed frame in the images bucket.

    Returns
    -------
    StepResult
        ``recorded`` (``counted`` says whether the counters moved), or ``quarantined``.
    """
    if ctx.documents is None:
        raise ValueError("record_image needs a document store")
    try:
        path = ImagePath.parse(obj.name)
    except InvalidPathError as exc:
        return quarantine(ctx, obj, exc.reason)
    info = ctx.store.stat(obj.bucket, obj.name)
    if info is None:
        reason = f"{obj.uri} does not exist"
        _mark_image_error(ctx, path, obj, reason)
        return StepResult("quarantined", {"object": obj.uri, "reason": reason})
    try:
        header = _read_frame_header(ctx, obj, info.size)
    except (NotFitsError, InvalidFrameError) as exc:
        _mark_image_error(ctx, path, obj, _why(exc))
        return quarantine(ctx, obj, _why(exc))
    records = build_frame_records(
        path,
        header,
        bucket_path=obj.name,
        public_url=ctx.settings.public_url(obj.bucket, obj.name),
        received_time=ctx.now(),
    )
    outcome = record_frame(ctx.documents, records)
    solved = bool((outcome.image_before or {}).get("solved")) and not outcome.counted
    if not solved:
        ctx.bus.publish(ctx.settings.solve_topic, obj.message(image_id=records.image_id))
    return StepResult(
        "recorded",
        {
            "object": obj.uri,
            "image_id": records.image_id,
            "counted": outcome.counted,
            "sent_to_solve": not solved,
        },
    )
