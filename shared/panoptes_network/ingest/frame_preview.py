"""The JPEG preview of a recorded frame, rendered from its FITS pixels when no raw file gave one.

Every frame gets one JPEG preview in the preview bucket, named after its image id
(:func:`~panoptes_network.frames.preview.preview_name`:
``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.jpg``). make-rgb-fits makes it from the camera raw
file where one came; for every other frame plate-solve, which decompresses each recorded frame
anyway, renders it from the pixels it holds (:func:`make_frame_preview`,
:func:`~panoptes_network.frames.preview.render_frame_preview`). The image document records
``preview_path``, ``preview_url`` and ``preview_source`` (``"raw"`` or ``"fits"``,
:class:`~panoptes_network.pipeline.schema.PreviewSource`), and ``preview_error_reason`` when
the rendering failed (None once a preview is recorded).

A preview from the raw file takes precedence, whatever the order of arrival:

- the rendering is skipped when the image document records a raw preview (``preview_source:
  "raw"``, or a ``preview_url`` without a source, as make-rgb-fits recorded them first);
- the rendered JPEG is written only when no object is stored under the name, or when the
  stored one is itself a rendering (``preview_source: fits`` in its metadata), with a
  generation precondition: a raw preview stored in between makes the write fail, and the
  rendering is dropped;
- its fields are committed only while the document, read at a known version, records no raw
  preview: a raw preview recorded in between fails the commit, and the next plan sees it;
- make-rgb-fits writes its preview and fields unconditionally, so a raw file that arrives
  later replaces a rendering.

A redelivered message renders again and writes the same name and the same fields: nothing
breaks and nothing doubles.

A preview never fails or loses its frame: :func:`make_frame_preview` does not raise. A frame it
cannot render (:class:`~panoptes_network.frames.preview.FramePreviewError`), or any fault while
rendering, storing or recording the preview, is logged with the frame's name and recorded as
``preview_error_reason`` on the image document, and the step goes on with the frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.camera import BAYER_PATTERNS
from panoptes_network.frames.preview import (
    FramePreviewError,
    preview_name,
    render_frame_preview,
)
from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.errors import PreconditionFailed
from panoptes_network.pipeline.log import log
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import IMAGES, JPEG_CONTENT_TYPE, PreviewSource
from panoptes_network.pipeline.storage import write_verified

__all__ = ["PREVIEW_SOURCE_METADATA", "has_raw_preview", "make_frame_preview"]

#: Metadata key of a stored preview that says what made it: ``fits`` for a rendering of the
#: FITS frame; make-rgb-fits writes ``embedded`` or ``rendered`` (from the raw file).
PREVIEW_SOURCE_METADATA = "preview_source"
#: Longest reason recorded on a document, in characters.
_MAX_REASON = 1024


def has_raw_preview(doc: Mapping[str, Any] | None) -> bool:
    """Whether an image document records a preview made from the camera raw file.

    Parameters
    ----------
    doc : Mapping or None
        The image document.

    Returns
    -------
    bool
        True for ``preview_source: "raw"``, and for a ``preview_url`` recorded without a
        ``preview_source`` (make-rgb-fits recorded its previews so before FITS renderings
        existed).
    """
    if not doc:
        return False
    source = doc.get("preview_source")
    return source == PreviewSource.RAW or (source is None and bool(doc.get("preview_url")))


def _bayer_pattern(header: Mapping[str, Any]) -> str | None:
    """Return the frame's Bayer pattern from its ``FILTER`` card, or None when it names none."""
    value = header.get("FILTER")
    pattern = value.strip().upper() if isinstance(value, str) else None
    return pattern if pattern in BAYER_PATTERNS else None


def _record_failure(ctx: ChainContext, path: ImagePath, reason: str) -> None:
    """Record why there is no rendered preview, unless a raw preview is recorded."""
    assert ctx.documents is not None
    key = (IMAGES, path.image_id)

    def plan() -> tuple[list[DocWrite], None]:
        snapshot = ctx.documents.read([key])[key]
        if not snapshot.exists or has_raw_preview(snapshot.fields):
            return [], None
        fields = {"preview_error_reason": reason[:_MAX_REASON]}
        return [DocWrite(*key, fields, must_exist=True, expected_version=snapshot.version)], None

    try:
        commit_with_retry(ctx.documents, plan, what=f"images/{path.image_id}")
    except Exception as exc:  # noqa: BLE001 - the frame goes on; the log keeps the reason
        log(
            "ERROR",
            f"{ctx.service}: could not record why {path.image_id} has no preview",
            image_id=path.image_id,
            reason=reason,
            error=f"{type(exc).__name__}: {exc}",
        )


def _failed(ctx: ChainContext, obj: StoredObject, path: ImagePath, reason: str) -> dict[str, Any]:
    log(
        "WARNING",
        f"{ctx.service}: no preview of {path.image_id} ({obj.uri}): {reason}",
        image_id=path.image_id,
        object=obj.uri,
        reason=reason,
    )
    _record_failure(ctx, path, reason)
    return {"action": "failed", "reason": reason}


def _render_store_record(
    ctx: ChainContext,
    obj: StoredObject,
    path: ImagePath,
    pixels: np.ndarray,
    header: Mapping[str, Any],
    width: int | None,
) -> dict[str, Any]:
    assert ctx.documents is not None
    if has_raw_preview(ctx.documents.get(IMAGES, path.image_id)):
        return {"action": "skipped", "why": "the preview from the camera raw file is recorded"}
    pattern = _bayer_pattern(header)
    try:
        jpeg = render_frame_preview(
            pixels, name=obj.uri, pattern=pattern, **({"width": width} if width else {})
        )
    except FramePreviewError as exc:
        return _failed(ctx, obj, path, exc.reason)
    target = StoredObject(ctx.settings.preview_bucket, preview_name(path))
    existing = ctx.store.stat(target.bucket, target.name)
    if (
        existing is not None
        and existing.metadata.get(PREVIEW_SOURCE_METADATA) != PreviewSource.FITS
    ):
        return {"action": "skipped", "why": f"{target.uri} holds the camera raw file's preview"}
    metadata = {
        "source": obj.uri,
        "image_id": path.image_id,
        PREVIEW_SOURCE_METADATA: PreviewSource.FITS,
        "bayer_pattern": pattern or "none (grey)",
    }
    try:
        write_verified(
            ctx,
            target,
            jpeg,
            content_type=JPEG_CONTENT_TYPE,
            metadata=metadata,
            if_generation_match=existing.generation if existing is not None else 0,
        )
    except PreconditionFailed:
        return {"action": "skipped", "why": f"{target.uri} was written by another step meanwhile"}
    fields = {
        "preview_path": target.name,
        "preview_url": ctx.settings.public_url(target.bucket, target.name),
        "preview_source": PreviewSource.FITS,
        "preview_error_reason": None,
    }
    key = (IMAGES, path.image_id)

    def plan() -> tuple[list[DocWrite], str | None]:
        snapshot = ctx.documents.read([key])[key]
        if not snapshot.exists:
            return [], "the image document is gone"
        if has_raw_preview(snapshot.fields):
            return [], "the preview from the camera raw file was recorded meanwhile"
        return [DocWrite(*key, fields, must_exist=True, expected_version=snapshot.version)], None

    why = commit_with_retry(ctx.documents, plan, what=f"images/{path.image_id}")
    if why is not None:
        return {"action": "skipped", "why": why}
    return {
        "action": "made",
        "to": target.uri,
        "bytes": len(jpeg),
        "bayer_pattern": pattern,
    }


def make_frame_preview(
    ctx: ChainContext,
    obj: StoredObject,
    path: ImagePath,
    pixels: np.ndarray,
    header: Mapping[str, Any],
    *,
    width: int | None = None,
) -> dict[str, Any]:
    """Render, store and record the preview of a recorded frame, unless a raw one exists.

    Never raises: a frame whose preview cannot be made keeps going, with the reason logged
    (naming the frame) and recorded as ``preview_error_reason``.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    obj : StoredObject
        The frame (for messages and the preview's ``source`` metadata).
    path : ImagePath
        Its bucket path (gives the image id and the preview's name).
    pixels : numpy.ndarray
        Its pixels, (rows, columns), in ADU, in FITS orientation.
    header : Mapping
        Its header: ``FILTER`` gives the Bayer pattern (a frame without one is rendered in
        grey, and says so in the preview's ``bayer_pattern`` metadata).
    width : int, optional
        Width of the preview, in pixels
        (:data:`~panoptes_network.frames.preview.PREVIEW_WIDTH` by default).

    Returns
    -------
    dict
        ``action``: ``made`` (with ``to``, ``bytes``, ``bayer_pattern``), ``skipped`` (with
        ``why``: a raw preview is recorded or stored) or ``failed`` (with ``reason``).
    """
    try:
        return _render_store_record(ctx, obj, path, pixels, header, width)
    except Exception as exc:  # noqa: BLE001 - a preview never fails its frame
        reason = f"the preview could not be made: {type(exc).__name__}: {exc}"
        log(
            "ERROR",
            f"{ctx.service}: no preview of {path.image_id} ({obj.uri}): {reason}",
            exc_info=True,
            image_id=path.image_id,
            object=obj.uri,
        )
        _record_failure(ctx, path, reason)
        return {"action": "failed", "reason": reason}
