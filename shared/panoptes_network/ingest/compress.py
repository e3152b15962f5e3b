"""compress-fits: Rice-compress a ``.fits`` upload, verify it, store it, hand it on.

The upload is deleted only after the decompressed pixels equal the input and the stored
object's checksum equals the compressed bytes'.
"""

from __future__ import annotations

from panoptes_network.frames.bucket_path import ImagePath, InvalidPathError
from panoptes_network.frames.compression import CompressionError, compress_frame, verify_compressed
from panoptes_network.frames.fits_header import NotFitsError
from panoptes_network.ingest.frame_check import (
    quarantine_reason,
)
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.errors import ObjectNotFoundError, PermanentFailure
from panoptes_network.pipeline.schema import (
    FITS_CONTENT_TYPE,
)
from panoptes_network.pipeline.storage import md5_base64, quarantine, write_verified

__all__ = ["compress_fits"]


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
        return quarantine(ctx, obj, quarantine_reason(exc))
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
