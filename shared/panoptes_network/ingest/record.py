"""record-image: the units, observations and images documents of a stored frame.

Counters move exactly once per frame however often the message is delivered
(:mod:`.counters`); a frame that cannot be recorded leaves an image
doc with ``status: "error"`` and its reason, and is quarantined.
"""

from __future__ import annotations

from panoptes_network.frames.bucket_path import ImagePath, InvalidPathError
from panoptes_network.frames.fits_header import NotFitsError
from panoptes_network.ingest import ledger
from panoptes_network.ingest.counters import record_frame
from panoptes_network.ingest.frame_check import (
    InvalidFrameError,
    quarantine_reason,
    read_frame_header,
)
from panoptes_network.ingest.records import build_frame_records
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject, UploadRef
from panoptes_network.pipeline.inputs import refuse_foreign_bucket
from panoptes_network.pipeline.key_index import add_ids
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import (
    IMAGES,
    OBSERVATION_FRAMES,
    PLACEHOLDER_STATUSES,
    ImageStatus,
    UploadState,
)
from panoptes_network.pipeline.storage import UPLOAD_GENERATION, quarantine

__all__ = ["SERVICE", "record_image"]

SERVICE = "record-image"


def _mark_image_error(ctx: ChainContext, path: ImagePath, obj: StoredObject, reason: str) -> None:
    assert ctx.documents is not None
    existing = ctx.documents.get(IMAGES, path.image_id)
    if existing is not None and existing.get("status") not in PLACEHOLDER_STATUSES:
        return  # a good recording of this image exists; do not spoil it
    error = DocWrite(
        IMAGES,
        path.image_id,
        {
            "status": ImageStatus.ERROR,
            "error_reason": reason,
            "due_time": None,
            "bucket_path": obj.name,
            "sequence_id": path.sequence_id,
            "unit_id": path.unit_id,
            "camera_id": path.camera_id,
            "time": path.image_time,
            "received_time": ctx.now(),
        },
    )
    # the observation page lists the frame with its error
    ctx.documents.commit([error, add_ids(OBSERVATION_FRAMES, path.sequence_id, [path.image_id])])


def record_image(
    ctx: ChainContext, obj: StoredObject, upload: UploadRef | None = None
) -> StepResult:
    """Write the units, observations and images documents of a stored ``.fits.fz`` frame.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    obj : StoredObject
        The compressed frame in the images bucket.
    upload : UploadRef, optional
        The upload it came from: its ledger record ends here, ``recorded`` (or
        ``superseded`` when the images bucket now holds a later upload of the name).

    Returns
    -------
    StepResult
        ``recorded`` (``counted`` says whether the counters moved), ``quarantined`` or
        ``refused``.
    """
    if ctx.documents is None:
        raise ValueError("record_image needs a document store")
    upload = upload or UploadRef()
    refused = refuse_foreign_bucket(ctx, obj, SERVICE)
    if refused is not None:
        return refused

    def failed(reason: str) -> None:
        ledger.advance(
            ctx, upload.upload_id, UploadState.QUARANTINED, reason=reason, attempt=upload.attempt
        )

    try:
        path = ImagePath.parse(obj.name)
    except InvalidPathError as exc:
        failed(exc.reason)
        return quarantine(ctx, obj, exc.reason)
    info = ctx.store.stat(obj.bucket, obj.name)
    if info is None:
        reason = f"{obj.uri} does not exist"
        _mark_image_error(ctx, path, obj, reason)
        failed(reason)
        return StepResult("quarantined", {"object": obj.uri, "reason": reason})
    try:
        header = read_frame_header(ctx, obj, info.size)
    except (NotFitsError, InvalidFrameError) as exc:
        _mark_image_error(ctx, path, obj, quarantine_reason(exc))
        failed(quarantine_reason(exc))
        return quarantine(ctx, obj, quarantine_reason(exc))
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
        ctx.documents.merge(IMAGES, records.image_id, {"due_time": ledger.image_due_time(ctx)})
        ctx.bus.publish(ctx.settings.solve_topic, obj.message(image_id=records.image_id))
    stored_generation = int(info.metadata.get(UPLOAD_GENERATION, 0) or 0)
    if upload.upload_generation and stored_generation > upload.upload_generation:
        reason = f"{obj.uri} now holds a later upload of the same name, recorded instead"
        ledger.advance(
            ctx, upload.upload_id, UploadState.SUPERSEDED, reason=reason, attempt=upload.attempt
        )
    else:
        ledger.advance(
            ctx,
            upload.upload_id,
            UploadState.RECORDED,
            attempt=upload.attempt,
            fields={"image_id": records.image_id},
        )
    return StepResult(
        "recorded",
        {
            "object": obj.uri,
            "image_id": records.image_id,
            "counted": outcome.counted,
            "sent_to_solve": not solved,
        },
    )
