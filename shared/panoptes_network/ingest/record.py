"""record-image: the units, observations and images documents of a stored frame.

Counters move exactly once per frame however often the message is delivered
(:mod:`.counters`); a frame that cannot be recorded leaves an image
doc with ``status: "error"`` and its reason, and is quarantined.

The frame's camera constants are resolved here first (header, then the ``cameras`` registry:
:mod:`panoptes_network.frames.camera_registry`) and recorded on the image document with their
sources. A frame whose camera lacks one is recorded with ``status: "calibration_error"`` and a
reason naming the constant, and is not sent on to plate-solve; the file stays in the images
bucket. Once the registry has the constant, a new delivery of the same frame records its
constants, sets it back to ``uploaded`` and sends it on.

Calibration frames (darks, biases, twilight flats) come through the same chain. record-image
tells them from science frames by their header and path (the POCS convention of
:mod:`panoptes_network.calibration.frame_kind`; for a legacy 5-part upload the field part of
the uploaded name counts, read from the upload's ledger record) and records every frame's
``frame_type`` with the card or path part that decided it. A dark, bias or flat is recorded
with ``status: "calibration_frame"`` and its camera constants, counted like any frame, and
not sent to plate-solve: it waits for ``bin/calibration-masters``
(:mod:`panoptes_network.calibration.build_masters`).
"""

from __future__ import annotations

from panoptes_network.calibration.frame_kind import FrameKind, frame_kind
from panoptes_network.frames.bucket_path import ImagePath, InvalidPathError
from panoptes_network.frames.camera_constants import MissingCameraConstant
from panoptes_network.frames.camera_registry import (
    calibration_error_fields,
    camera_constants_for,
    constants_fields,
)
from panoptes_network.frames.fits_header import FitsHeader, NotFitsError
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
    UPLOADS,
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


#: Statuses a new delivery may move a frame out of, once its constants resolve: it has not
#: been solved yet, so it is sent on (or kept for the masters) as its kind says.
_WAITING_STATUSES = frozenset(
    {ImageStatus.CALIBRATION_ERROR, ImageStatus.UPLOADED, ImageStatus.CALIBRATION_FRAME}
)


def _frame_kind(
    ctx: ChainContext, header: FitsHeader, obj: StoredObject, path: ImagePath, upload: UploadRef
) -> FrameKind:
    """Tell the frame's kind from its header and name, else from the name it was uploaded as.

    The images bucket holds the normalised 4-part name; a legacy 5-part upload's field part
    (``PAN001/EveningFlat/14d3bd/...``) is only in its ledger record, read when the header did
    not decide and the upload id is not that of a 4-part name.
    """
    kind = frame_kind(header, obj.name)
    four_part = f"{path.unit_id}_{path.camera_id}_{path.sequence_start}_"
    if kind.source != "default" or not upload.upload_id or upload.upload_id.startswith(four_part):
        return kind
    assert ctx.documents is not None
    uploaded = (ctx.documents.get(UPLOADS, upload.upload_id) or {}).get("object_name")
    if not isinstance(uploaded, str) or uploaded == obj.name:
        return kind
    return frame_kind(header, uploaded)


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
        ``recorded`` (``counted`` says whether the counters moved, ``frame_type`` what the
        frame is, ``sent_to_solve`` whether it went on, ``calibration_error`` names a missing
        camera constant), ``quarantined`` or ``refused``.
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
    kind = _frame_kind(ctx, header, obj, path, upload)
    records = build_frame_records(
        path,
        header,
        bucket_path=obj.name,
        public_url=ctx.settings.public_url(obj.bucket, obj.name),
        received_time=ctx.now(),
        kind=kind,
    )
    outcome = record_frame(ctx.documents, records)
    before = outcome.image_before or {}
    solved = bool(before.get("solved")) and not outcome.counted
    calibration_error = None
    sent_to_solve = False
    try:
        constants = camera_constants_for(ctx.documents, path.camera_id, header)
    except MissingCameraConstant as exc:
        calibration_error = str(exc)
        if not solved:
            ctx.documents.merge(IMAGES, records.image_id, calibration_error_fields(exc))
    else:
        fields = constants_fields(constants)
        was = before.get("status")
        if not outcome.counted and was in _WAITING_STATUSES and was != records.image["status"]:
            fields["status"] = records.image["status"]
            if was == ImageStatus.CALIBRATION_ERROR:
                fields.update(calibration_error_reason=None, missing_camera_constant=None)
        if kind.is_calibration:
            fields["due_time"] = None  # final here: the masters read it, nothing re-queues it
        elif not solved:
            fields["due_time"] = ledger.image_due_time(ctx)
            sent_to_solve = True
        ctx.documents.merge(IMAGES, records.image_id, fields)
        if sent_to_solve:
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
            "frame_type": kind.type.value,
            "sent_to_solve": sent_to_solve,
            **({"calibration_error": calibration_error} if calibration_error else {}),
        },
    )
