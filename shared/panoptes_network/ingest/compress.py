"""compress-fits: Rice-compress an archived ``.fits`` upload, verify it, store it, hand it on.

The input is the archived upload (or a Bayer FITS converted from a raw file); it is only
read. The compressed frame is stored in the images bucket only after its decompressed pixels
equal the input, and only if the images bucket does not already hold the frame of a later
upload of the same name. Nothing is deleted.
"""

from __future__ import annotations

from panoptes_network.frames.bucket_path import ImagePath, InvalidPathError
from panoptes_network.frames.compression import CompressionError, compress_frame, verify_compressed
from panoptes_network.frames.fits_header import NotFitsError
from panoptes_network.frames.pixel_check import PixelBudgetError
from panoptes_network.ingest import ledger
from panoptes_network.ingest.frame_check import quarantine_reason
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject, UploadRef
from panoptes_network.pipeline.errors import ObjectNotFoundError, PermanentFailure
from panoptes_network.pipeline.inputs import refuse_foreign_bucket
from panoptes_network.pipeline.schema import FITS_CONTENT_TYPE, UploadState
from panoptes_network.pipeline.storage import Written, md5_base64, write_latest

__all__ = ["SERVICE", "compress_fits"]

SERVICE = "compress-fits"


def compress_fits(
    ctx: ChainContext,
    obj: StoredObject,
    object_name: str | None = None,
    upload: UploadRef | None = None,
) -> StepResult:
    """Compress a ``.fits`` frame, verify it, store the ``.fits.fz`` and hand it on.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    obj : StoredObject
        The archived ``.fits`` upload (or a converted raw file's Bayer FITS).
    object_name : str, optional
        The normalised bucket path of the frame (defaults to ``obj.name``).
    upload : UploadRef, optional
        The upload it belongs to (ledger id, generation, delivery attempt).

    Returns
    -------
    StepResult
        ``compressed``, ``quarantined``, ``refused`` or ``skipped`` (a later upload of the
        same name is already stored).
    """
    refused = refuse_foreign_bucket(ctx, obj, SERVICE)
    if refused is not None:
        return refused
    attempt = upload.attempt if upload else None
    # Which upload this is comes from the archived name, never from the message: a forged
    # message cannot make an older upload's frame replace a newer one.
    upload = ledger.archived_upload(ctx, obj) or UploadRef()
    upload = UploadRef(upload.upload_id, upload.upload_generation, attempt)
    s = ctx.settings
    try:
        path = ImagePath.parse(object_name or obj.name)
    except InvalidPathError as exc:
        return ledger.quarantined(ctx, obj, exc.reason, upload)
    target = StoredObject(s.images_bucket, path.with_extension(".fits.fz").object_name)
    try:
        raw = ctx.store.read(obj.bucket, obj.name, generation=obj.generation)
    except ObjectNotFoundError:
        raise PermanentFailure(f"{obj.uri} does not exist") from None
    try:
        frame = compress_frame(raw, obj.uri)
        verify_compressed(raw, frame.data, obj.uri)
    except (NotFitsError, CompressionError, PixelBudgetError) as exc:
        return ledger.quarantined(ctx, obj, quarantine_reason(exc), upload)
    written = write_latest(
        ctx,
        target,
        frame.data,
        upload_generation=upload.upload_generation,
        content_type=FITS_CONTENT_TYPE,
        metadata={"source": obj.uri, "compression": "RICE_1", "source_md5": md5_base64(raw)},
    )
    if written == Written.UNCHANGED and ledger.is_final(ctx, upload.upload_id):
        return StepResult("skipped", {"object": obj.uri, "why": "already compressed and recorded"})
    if written == Written.SUPERSEDED:
        reason = f"{target.uri} already holds a later upload of the same name"
        ledger.advance(
            ctx, upload.upload_id, UploadState.SUPERSEDED, reason=reason, attempt=upload.attempt
        )
        return StepResult("skipped", {"object": obj.uri, "why": reason})
    ctx.bus.publish(s.record_topic, target.message(**upload.carried()))
    ledger.advance(ctx, upload.upload_id, UploadState.COMPRESSED, attempt=upload.attempt)
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
