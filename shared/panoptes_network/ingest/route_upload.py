"""raw-file-uploaded: archive every upload first, validate it, and route it by extension.

For each upload (object name and generation in the incoming bucket):

1. the ledger record is opened (:mod:`.ledger`);
2. that generation is copied to the archive as ``<name>@<generation>``, create-only, and the
   copy's MD5 checked: a second upload of the same name is archived beside the first and
   never replaces it;
3. the upload is deleted from the incoming bucket, only while its live generation is still
   the one archived (a newer upload of the name is left for its own notification);
4. from the archived copy: the path and header are checked, the pixel count bounded, and a
   ``.fits.fz`` decompressed and checksummed in full before it is published;
5. it is routed: ``.fits`` to compress-fits, ``.fits.fz`` to the images bucket and
   record-image, camera raw files to make-rgb-fits, previews and movies to their buckets.

Bad input is quarantined with the reason (one copy per version) and the ledger says so; the
service acknowledges it. Anything else raises, so Pub/Sub redelivers; every stage is
idempotent, so a redelivery or a re-queue by the reconciler finishes the work.
"""

from __future__ import annotations

from panoptes_network.frames.bucket_path import RAW_EXTENSIONS, ImagePath, InvalidPathError
from panoptes_network.frames.fits_header import NotFitsError
from panoptes_network.frames.pixel_check import (
    CorruptPixelsError,
    PixelBudgetError,
    check_pixel_budget,
    verify_fits_fz,
)
from panoptes_network.ingest import ledger
from panoptes_network.ingest.frame_check import (
    InvalidFrameError,
    quarantine_reason,
    read_frame_header,
)
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject, UploadRef
from panoptes_network.pipeline.errors import ObjectNotFoundError, PreconditionFailed
from panoptes_network.pipeline.inputs import refuse_foreign_bucket
from panoptes_network.pipeline.ports import ObjectInfo
from panoptes_network.pipeline.schema import FITS_CONTENT_TYPE, UploadState
from panoptes_network.pipeline.storage import (
    Written,
    archive_name,
    split_archive_name,
    write_latest,
)

__all__ = ["SERVICE", "handle_raw_upload"]

SERVICE = "raw-file-uploaded"


def _archive(ctx: ChainContext, obj: StoredObject, info: ObjectInfo) -> StoredObject:
    """Copy one generation of an upload into the archive, create-only, and verify the copy.

    Raises
    ------
    OSError
        When the archived copy differs from the upload (transient: redelivered).
    """
    target = StoredObject(ctx.settings.archive_bucket, archive_name(obj.name, obj.generation))
    try:
        stored = ctx.store.copy(
            obj.bucket,
            obj.name,
            target.bucket,
            target.name,
            metadata={"source": obj.uri, "source_generation": str(obj.generation)},
            source_generation=obj.generation,
            if_generation_match=0,
        )
    except PreconditionFailed:
        stored = ctx.store.stat(target.bucket, target.name)  # archived by an earlier delivery
        if stored is None:
            raise OSError(f"{target.uri} vanished after it was archived; will retry") from None
    if stored.md5_hash != info.md5_hash or stored.size != info.size:
        raise OSError(
            f"{target.uri} ({stored.size} bytes, md5 {stored.md5_hash}) does not match "
            f"{obj.uri}#{obj.generation} ({info.size} bytes, md5 {info.md5_hash}); will retry"
        )
    return StoredObject(target.bucket, target.name, stored.generation)


def handle_raw_upload(
    ctx: ChainContext, obj: StoredObject, *, delivery_attempt: int | None = None
) -> StepResult:
    """Archive a new upload, validate it, and route it by extension.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` holds the ledger.
    obj : StoredObject
        The object that was finalised in the incoming bucket, with its generation; or an
        archived upload (``<name>@<generation>``) the reconciler re-queued, which is routed
        again unless its ledger record is final.
    delivery_attempt : int, optional
        Pub/Sub's delivery attempt, recorded in the ledger.

    Returns
    -------
    StepResult
        ``routed`` (with the route), ``quarantined`` (with the reason), ``refused`` (not the
        incoming bucket) or ``skipped``.
    """
    refused = refuse_foreign_bucket(ctx, obj, SERVICE)
    if refused is not None:
        return refused
    requeued = ledger.archived_upload(ctx, obj)
    if requeued is not None:  # an archived upload the reconciler sent round again
        if ledger.is_final(ctx, requeued.upload_id):
            return StepResult("skipped", {"object": obj.uri, "why": "its upload is final"})
        archived = StoredObject(obj.bucket, obj.name)
        return route_archived(ctx, archived, delivery_attempt=delivery_attempt)
    info = ctx.store.stat(obj.bucket, obj.name, generation=obj.generation)
    if info is None:
        return StepResult(
            "skipped",
            {"object": f"{obj.uri}#{obj.generation}", "why": "that upload no longer exists"},
        )
    obj = StoredObject(obj.bucket, obj.name, info.generation)
    record = ledger.open_upload(ctx, obj, size=info.size, md5_hash=info.md5_hash)
    uid = record["id"]
    if record.get("final"):
        return StepResult("skipped", {"object": obj.uri, "why": f"already {record['state']}"})
    archived = _archive(ctx, obj, info)
    ledger.advance(
        ctx,
        uid,
        UploadState.ARCHIVED,
        attempt=delivery_attempt,
        fields={"archived_as": archived.uri},
    )
    ctx.store.delete(obj.bucket, obj.name, generation=obj.generation)
    return route_archived(ctx, archived, delivery_attempt=delivery_attempt)


def route_archived(
    ctx: ChainContext, archived: StoredObject, *, delivery_attempt: int | None = None
) -> StepResult:
    """Validate an archived upload and hand it to the step that makes its product.

    The reconciler calls this again for an upload that was archived but never routed. The
    upload's name, generation and ledger id are read from the archive name.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    archived : StoredObject
        The archived copy (``<name>@<generation>`` in the archive bucket).
    delivery_attempt : int, optional
        Pub/Sub's delivery attempt, recorded in the ledger.

    Returns
    -------
    StepResult
        ``routed`` or ``quarantined``.
    """
    s = ctx.settings
    upload_name, generation = split_archive_name(archived.name) or (archived.name, 0)
    upload = ledger.archived_upload(ctx, archived) or UploadRef()
    upload = UploadRef(upload.upload_id, generation, delivery_attempt)
    uid = upload.upload_id or ""
    try:
        path = ImagePath.parse(upload_name)
    except InvalidPathError as exc:
        return ledger.quarantined(ctx, archived, exc.reason, upload)
    info = ctx.store.stat(archived.bucket, archived.name)
    if info is None:
        raise ObjectNotFoundError(archived.bucket, archived.name)
    if info.size == 0:
        return ledger.quarantined(ctx, archived, "the file is empty (0 bytes)", upload)
    detail = {"object": archived.uri, "upload_id": uid, "extension": path.extension}
    carried = {"object_name": path.object_name, "upload_id": uid, "upload_generation": generation}
    if path.extension in (".fits", ".fits.fz"):
        try:
            header = read_frame_header(ctx, archived, info.size)
            check_pixel_budget(header, archived.uri, s.max_frame_pixels)
        except (NotFitsError, InvalidFrameError, PixelBudgetError) as exc:
            return ledger.quarantined(ctx, archived, quarantine_reason(exc), upload)
    if path.extension == ".fits":
        ctx.bus.publish(s.compress_topic, archived.message(**carried))
        return _routed(ctx, uid, detail, s.compress_topic, delivery_attempt)
    if path.extension == ".fits.fz":
        data = ctx.store.read(archived.bucket, archived.name)
        try:
            verify_fits_fz(data, archived.uri, s.max_frame_pixels)
        except (NotFitsError, CorruptPixelsError, PixelBudgetError) as exc:
            return ledger.quarantined(ctx, archived, quarantine_reason(exc), upload)
        target = StoredObject(s.images_bucket, path.object_name)
        written = write_latest(
            ctx,
            target,
            data,
            upload_generation=generation,
            content_type=FITS_CONTENT_TYPE,
            metadata={"source": archived.uri},
        )
        if written == Written.SUPERSEDED:
            return _superseded(ctx, uid, target, detail, delivery_attempt)
        ctx.bus.publish(s.record_topic, target.message(upload_id=uid, upload_generation=generation))
        return _routed(ctx, uid, detail, s.record_topic, delivery_attempt)
    if path.extension in RAW_EXTENSIONS:
        ctx.bus.publish(s.make_rgb_topic, archived.message(**carried))
        return _routed(ctx, uid, detail, s.make_rgb_topic, delivery_attempt)
    bucket = s.jpg_bucket if path.extension == ".jpg" else s.mp4_bucket
    data = ctx.store.read(archived.bucket, archived.name)
    target = StoredObject(bucket, path.object_name)
    content_type = "image/jpeg" if path.extension == ".jpg" else "video/mp4"
    written = write_latest(
        ctx,
        target,
        data,
        upload_generation=generation,
        content_type=content_type,
        metadata={"source": archived.uri},
    )
    if written == Written.SUPERSEDED:
        return _superseded(ctx, uid, target, detail, delivery_attempt)
    ledger.advance(ctx, uid, UploadState.RECORDED, attempt=delivery_attempt)
    return StepResult("routed", {**detail, "to": target.uri})


def _routed(ctx: ChainContext, uid: str, detail: dict, to: str, attempt: int | None) -> StepResult:
    ledger.advance(ctx, uid, UploadState.ROUTED, attempt=attempt, fields={"route": to})
    return StepResult("routed", {**detail, "to": to})


def _superseded(
    ctx: ChainContext, uid: str, target: StoredObject, detail: dict, attempt: int | None
) -> StepResult:
    reason = f"{target.uri} already holds a later upload of the same name; this one is archived"
    ledger.advance(ctx, uid, UploadState.SUPERSEDED, reason=reason, attempt=attempt)
    return StepResult("skipped", {**detail, "why": reason})
