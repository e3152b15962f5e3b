"""raw-file-uploaded: archive every upload first, validate it, and route it by extension.

Every upload is copied to the archive bucket before anything else touches it; a second,
different upload of the same name is archived beside the first. Bad input is quarantined
with the reason (the service acknowledges it); anything else raises, so Pub/Sub redelivers.
"""

from __future__ import annotations

from panoptes_network.frames.bucket_path import RAW_EXTENSIONS, ImagePath, InvalidPathError
from panoptes_network.frames.fits_header import NotFitsError
from panoptes_network.ingest.frame_check import (
    InvalidFrameError,
    quarantine_reason,
    read_frame_header,
)
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.ports import ObjectInfo
from panoptes_network.pipeline.storage import quarantine

__all__ = ["handle_raw_upload"]


def _archive(ctx: ChainContext, obj: StoredObject, info: ObjectInfo) -> str:
    """Copy an upload into the archive bucket, keeping earlier different uploads too."""
    archive = ctx.settings.archive_bucket
    existing = ctx.store.stat(archive, obj.name)
    if existing is not None and existing.md5_hash == info.md5_hash:
        return obj.name
    name = obj.name if existing is None else f"{obj.name}.gen{info.generation or 0}"
    ctx.store.copy(obj.bucket, obj.name, archive, name)
    return name


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
            read_frame_header(ctx, obj, info.size)
        except (NotFitsError, InvalidFrameError) as exc:
            return quarantine(ctx, obj, quarantine_reason(exc))
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
