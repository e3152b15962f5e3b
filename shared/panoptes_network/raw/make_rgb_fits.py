"""The make-rgb-fits step: products of a camera raw file, and its frame when no FITS comes.

raw-file-uploaded archives a ``.cr2`` (or ``.cr3``, ``.nef``, ``.dng``) upload and queues
the archived copy on topic ``make-rgb-fits``. For each message this step reads the raw file
and makes (:func:`.products.make_raw_products`):

- the RGB FITS, in the RGB bucket (``rgb_url`` on the image doc);
- the JPEG preview, in the preview bucket (``preview_url``, ``preview_source: "raw"``): it
  replaces a preview plate-solve rendered from the FITS frame, and is never replaced by one
  (:mod:`panoptes_network.ingest.frame_preview`);
- the raw Bayer FITS, the frame the unit would have made, staged in the raw-FITS bucket
  (``raw_fits_path``) unless the unit's own FITS is already recorded.

The products are recorded on ``images/{image_id}``. When the image has no recorded frame yet, the
doc is created as a placeholder with ``status: raw_received`` and ``raw_fits_pending: true``: it
moves no counter (:mod:`panoptes_network.ingest.counters` treats it like the error placeholder), and
record-image replaces it, keeping the product fields, when the unit's FITS arrives. If no FITS
arrives within the wait, :mod:`.fits_release` sends the staged frame into the chain (compress-fits,
record-image, ...) marked as converted from raw.

A file LibRaw cannot read is copied to quarantine with the reason (the archived original
stays where it is) and the message is acknowledged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from panoptes_network.frames.bucket_path import RAW_EXTENSIONS, ImagePath, InvalidPathError
from panoptes_network.frames.preview import preview_name
from panoptes_network.ingest import ledger
from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject, UploadRef
from panoptes_network.pipeline.errors import NotFound, ObjectNotFoundError
from panoptes_network.pipeline.inputs import refuse_foreign_bucket
from panoptes_network.pipeline.key_index import add_ids
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import (
    FITS_CONTENT_TYPE,
    IMAGES,
    JPEG_CONTENT_TYPE,
    OBSERVATION_FRAMES,
    PLACEHOLDER_STATUSES,
    ImageStatus,
    PreviewSource,
    UploadState,
)
from panoptes_network.pipeline.storage import write_verified
from panoptes_network.raw.decode import RawDecodeError
from panoptes_network.raw.products import RawProducts, make_raw_products

__all__ = ["SERVICE", "product_names", "make_rgb_fits", "record_raw_products"]

SERVICE = "make-rgb-fits"


def product_names(path: ImagePath) -> dict[str, str]:
    """Return the object names of a raw file's products.

    Parameters
    ----------
    path : ImagePath
        The raw file's normalised bucket path.

    Returns
    -------
    dict
        ``rgb`` (``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>-rgb.fits.fz``), ``preview``
        (``... /<IMGSTART>.jpg``) and ``bayer`` (``.../<IMGSTART>.fits``).
    """
    stem = path.object_name[: -len(path.extension)]
    return {
        "rgb": f"{stem}-rgb.fits.fz",
        "preview": preview_name(path),
        "bayer": f"{stem}.fits",
    }


def _write(
    ctx: ChainContext,
    bucket: str,
    name: str,
    data: bytes,
    content_type: str,
    metadata: dict[str, str],
) -> str:
    write_verified(
        ctx, StoredObject(bucket, name), data, content_type=content_type, metadata=metadata
    )
    return ctx.settings.public_url(bucket, name)


def record_raw_products(
    ctx: ChainContext,
    path: ImagePath,
    products: dict[str, Any],
    placeholder: dict[str, Any],
) -> bool:
    """Record a raw file's products on its image doc, creating a placeholder when needed.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    path : ImagePath
        The raw file's path.
    products : dict
        Fields every image doc of this raw file gets (URLs, raw source, times).
    placeholder : dict
        Fields of a new placeholder doc, and ``raw_fits_pending``, set only while the image
        holds no recorded frame.

    Returns
    -------
    bool
        True when the image had no recorded frame (its doc is, or stays, a placeholder).

    Raises
    ------
    WriteConflict
        When the doc kept changing under every attempt (the message is redelivered).
    """
    assert ctx.documents is not None
    image_id = path.image_id

    def plan() -> tuple[list[DocWrite], bool]:
        existing = ctx.documents.get(IMAGES, image_id)
        if existing is None:
            write = DocWrite(IMAGES, image_id, {**placeholder, **products}, must_not_exist=True)
            listed = add_ids(OBSERVATION_FRAMES, path.sequence_id, [image_id])
            return [write, listed], True
        else:
            waiting = existing.get("status") in PLACEHOLDER_STATUSES
            fields = dict(products)
            if waiting and "raw_fits_path" in placeholder:
                fields["raw_fits_path"] = placeholder["raw_fits_path"]
                fields["raw_fits_pending"] = placeholder["raw_fits_pending"]
            write = DocWrite(IMAGES, image_id, fields, must_exist=True)
        return [write], existing is None or existing.get("status") in PLACEHOLDER_STATUSES

    return commit_with_retry(ctx.documents, plan, what=f"images/{image_id}")


def _image_is_recorded(ctx: ChainContext, image_id: str) -> bool:
    assert ctx.documents is not None
    doc = ctx.documents.get(IMAGES, image_id)
    return doc is not None and doc.get("status") not in PLACEHOLDER_STATUSES


def make_rgb_fits(
    ctx: ChainContext,
    obj: StoredObject,
    object_name: str | None = None,
    upload: UploadRef | None = None,
) -> StepResult:
    """Make and store the products of one archived raw file and record them.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    obj : StoredObject
        The archived raw file.
    object_name : str, optional
        Its normalised bucket path (defaults to ``obj.name``).
    upload : UploadRef, optional
        The upload it belongs to: its ledger record ends here (``recorded`` when the
        products are stored, or ``quarantined``).

    Returns
    -------
    StepResult
        ``made`` with the product locations, ``quarantined`` with the reason, or
        ``refused`` (not an archived object).

    Raises
    ------
    PermanentFailure
        When the raw file no longer exists.
    """
    if ctx.documents is None:
        raise ValueError("make_rgb_fits needs a document store")
    refused = refuse_foreign_bucket(ctx, obj, SERVICE)
    if refused is not None:
        return refused
    attempt = upload.attempt if upload else None
    upload = ledger.archived_upload(ctx, obj) or UploadRef()  # from the name, not the message
    upload = UploadRef(upload.upload_id, upload.upload_generation, attempt)
    if ledger.is_final(ctx, upload.upload_id):
        return StepResult("skipped", {"object": obj.uri, "why": "its products are made already"})
    s = ctx.settings

    try:
        path = ImagePath.parse(object_name or obj.name)
    except InvalidPathError as exc:
        return ledger.quarantined(ctx, obj, exc.reason, upload)
    if path.extension not in RAW_EXTENSIONS:
        return ledger.quarantined(ctx, obj, f"{path.extension} is not a camera raw file", upload)
    try:
        data = ctx.store.read(obj.bucket, obj.name)
    except ObjectNotFoundError:
        raise NotFound(f"{obj.uri} does not exist") from None
    try:
        made: RawProducts = make_raw_products(data, obj.uri, path.object_name)
    except RawDecodeError as exc:
        return ledger.quarantined(ctx, obj, str(exc), upload)

    names = product_names(path)
    metadata = {"source": obj.uri, "image_id": path.image_id}
    now: datetime = ctx.now()
    rgb_url = _write(ctx, s.rgb_bucket, names["rgb"], made.rgb_fits, FITS_CONTENT_TYPE, metadata)
    preview_url = _write(
        ctx,
        s.preview_bucket,
        names["preview"],
        made.preview_jpeg,
        JPEG_CONTENT_TYPE,
        {**metadata, "preview_source": made.preview_source},
    )
    products: dict[str, Any] = {
        "rgb_url": rgb_url,
        "rgb_path": names["rgb"],
        "preview_url": preview_url,
        "preview_path": names["preview"],
        "preview_source": PreviewSource.RAW,  # takes precedence over a FITS rendering
        "preview_error_reason": None,
        "raw_file": obj.uri,
        "raw_received_time": now,
        "raw_pattern": made.pattern,
        "updated_time": now,
    }
    placeholder: dict[str, Any] = {
        "unit_id": path.unit_id,
        "camera_id": path.camera_id,
        "sequence_id": path.sequence_id,
        "time": path.image_time,
        "received_time": now,
        "status": ImageStatus.RAW_RECEIVED,
        "solved": False,
    }
    staged = None
    if not _image_is_recorded(ctx, path.image_id):
        _write(
            ctx,
            s.raw_fits_bucket,
            names["bayer"],
            made.bayer_fits,
            FITS_CONTENT_TYPE,
            {**metadata, "converted_from_raw": "true"},
        )
        staged = names["bayer"]
        placeholder["raw_fits_path"] = staged
        placeholder["raw_fits_pending"] = True
    waiting = record_raw_products(ctx, path, products, placeholder)
    ledger.advance(
        ctx,
        upload.upload_id,
        UploadState.RECORDED,
        attempt=upload.attempt,
        fields={"image_id": path.image_id},
    )
    return StepResult(
        "made",
        {
            "object": obj.uri,
            "image_id": path.image_id,
            "rgb": f"gs://{s.rgb_bucket}/{names['rgb']}",
            "preview": f"gs://{s.preview_bucket}/{names['preview']}",
            "preview_source": made.preview_source,
            "raw_fits": f"gs://{s.raw_fits_bucket}/{staged}" if staged else None,
            "waiting_for_fits": waiting,
        },
    )
