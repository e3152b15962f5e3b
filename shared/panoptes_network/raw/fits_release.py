"""Send a raw file's converted FITS into the chain when the unit's own FITS never came.

make-rgb-fits (:mod:`.make_rgb_fits`) stages the Bayer FITS converted from a raw file and marks the
image doc ``raw_fits_pending: true`` while the image holds no recorded frame. Two things
release it:

- the sweep (:func:`sweep_raw_fits`, ``POST /sweep`` of raw-fits-requests, called by the
  ``raw-fits-sweep`` scheduler job): every pending image whose raw file arrived more than
  ``raw_fits_wait_minutes`` ago (``PANOPTES_RAW_FITS_WAIT_MINUTES``, default 30) and whose
  FITS is still missing (or was broken: an ``error`` placeholder);
- an explicit request (:func:`release_raw_fits`, ``POST /`` of raw-fits-requests).

Releasing publishes the staged object to topic ``compress-fits``: the frame then goes through
compress-fits, record-image, plate-solve and the rest like any upload, and its header
(``RAWCONV = T``, ``RAWFILE``) makes record-image set ``converted_from_raw: true``. A pending
image whose FITS arrived meanwhile is only unmarked (``raw_fits_superseded_time``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from panoptes_network.frames.bucket_path import (
    ImagePath,
    InvalidPathError,
    parse_timestamp,
    split_id,
)
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.errors import NotFound, PermanentFailure
from panoptes_network.pipeline.schema import IMAGES, PLACEHOLDER_STATUSES

__all__ = ["resolve_image_id", "release_raw_fits", "sweep_raw_fits", "MAX_RELEASES_PER_SWEEP"]

#: Images released by one sweep at most; the next sweep takes the rest.
MAX_RELEASES_PER_SWEEP = 500


def resolve_image_id(request: Any) -> str:
    """Read the image a request names.

    Parameters
    ----------
    request : Mapping
        ``{"image_id": "<UNIT>_<CAMERA>_<IMGSTART>"}`` or ``{"bucket_path": "<path>"}`` (any
        file of the image: the raw file, its FITS ...).

    Returns
    -------
    str
        The image id.

    Raises
    ------
    PermanentFailure
        When the request names no image, or a malformed one.
    """
    if not isinstance(request, dict):
        raise PermanentFailure('request must be a JSON object: {"image_id": ...}')
    image_id, bucket_path = request.get("image_id"), request.get("bucket_path")
    if isinstance(bucket_path, str) and bucket_path:
        try:
            return ImagePath.parse(bucket_path).image_id
        except InvalidPathError as exc:
            raise PermanentFailure(str(exc)) from None
    if not isinstance(image_id, str) or not image_id:
        raise PermanentFailure('request needs "image_id" or "bucket_path"')
    parts = split_id(image_id)
    if parts is None:
        raise PermanentFailure(f"image_id {image_id!r} is not <UNIT>_<CAMERA>_<YYYYMMDDTHHMMSS>")
    try:
        parse_timestamp(parts[2])
    except ValueError:
        raise PermanentFailure(f"image_id {image_id!r} has an invalid time") from None
    return image_id


def _release(ctx: ChainContext, image_id: str, doc: dict[str, Any], why: str) -> dict[str, Any]:
    assert ctx.documents is not None
    s = ctx.settings
    staged = doc["raw_fits_path"]
    message = StoredObject(s.raw_fits_bucket, staged).message(object_name=staged)
    message_id = ctx.bus.publish(s.compress_topic, message)
    ctx.documents.merge(
        IMAGES,
        image_id,
        {
            "raw_fits_pending": False,
            "raw_fits_released_time": ctx.now(),
            "raw_fits_release_reason": why,
        },
    )
    return {
        "image_id": image_id,
        "object": f"gs://{s.raw_fits_bucket}/{staged}",
        "message_id": message_id,
    }


def _supersede(ctx: ChainContext, image_id: str) -> None:
    assert ctx.documents is not None
    ctx.documents.merge(
        IMAGES, image_id, {"raw_fits_pending": False, "raw_fits_superseded_time": ctx.now()}
    )


def release_raw_fits(ctx: ChainContext, request: Any) -> dict[str, Any]:
    """Send one image's converted FITS into the chain now.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    request : Mapping
        See :func:`resolve_image_id`.

    Returns
    -------
    dict
        ``{"released": [...], "image_id", "message_id"}``; ``released`` is empty, with a
        ``why``, when the unit's FITS is already recorded.

    Raises
    ------
    PermanentFailure
        Malformed request, unknown image (:class:`NotFound`), or an image without a converted
        FITS.
    """
    if ctx.documents is None:
        raise ValueError("release_raw_fits needs a document store")
    image_id = resolve_image_id(request)
    doc = ctx.documents.get(IMAGES, image_id)
    if doc is None:
        raise NotFound(f"image {image_id} does not exist")
    if doc.get("status") not in PLACEHOLDER_STATUSES:
        if doc.get("raw_fits_pending"):
            _supersede(ctx, image_id)
        return {"image_id": image_id, "released": [], "why": "its FITS frame is recorded"}
    if not doc.get("raw_fits_path"):
        raise PermanentFailure(f"image {image_id} has no FITS converted from a raw file")
    return {"image_id": image_id, "released": [_release(ctx, image_id, doc, "requested")]}


def sweep_raw_fits(ctx: ChainContext, wait_minutes: float | None = None) -> dict[str, Any]:
    """Release every converted FITS whose unit FITS did not arrive within the wait.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    wait_minutes : float, optional
        The wait in minutes; ``ctx.settings.raw_fits_wait_minutes`` by default.

    Returns
    -------
    dict
        ``released`` (list), ``superseded`` (image ids whose FITS came), ``waiting`` (count)
        and ``wait_minutes``.
    """
    if ctx.documents is None:
        raise ValueError("sweep_raw_fits needs a document store")
    wait = float(ctx.settings.raw_fits_wait_minutes if wait_minutes is None else wait_minutes)
    if wait < 0:
        raise PermanentFailure("wait_minutes must not be negative")
    cutoff = ctx.now() - timedelta(minutes=wait)
    released, superseded, waiting = [], [], 0
    for image_id, doc in ctx.documents.find(IMAGES, "raw_fits_pending", "==", True):
        if doc.get("status") not in PLACEHOLDER_STATUSES:
            _supersede(ctx, image_id)
            superseded.append(image_id)
        elif not doc.get("raw_fits_path"):
            continue
        elif doc.get("raw_received_time") is None or doc["raw_received_time"] <= cutoff:
            if len(released) < MAX_RELEASES_PER_SWEEP:
                released.append(_release(ctx, image_id, doc, f"no FITS within {wait:g} min"))
            else:
                waiting += 1
        else:
            waiting += 1
    return {
        "released": released,
        "superseded": superseded,
        "waiting": waiting,
        "wait_minutes": wait,
    }
