"""Writes every step shares: verified stores of products, and quarantine of bad input.

A file is never deleted until its replacement is verified to be stored; bad input is copied
to the quarantine bucket with the reason in its metadata, one copy per version, and nothing
is deleted. Products of re-uploaded files are written newest-wins: a product made from an
older upload never replaces one made from a newer upload of the same name.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.errors import ObjectNotFoundError, PreconditionFailed

__all__ = [
    "UPLOAD_GENERATION",
    "Written",
    "archive_name",
    "split_archive_name",
    "md5_base64",
    "quarantine",
    "write_latest",
    "write_verified",
]

#: Metadata key of a product: the generation of the upload it was made from.
UPLOAD_GENERATION = "upload_generation"


def archive_name(name: str, generation: int | None) -> str:
    """Return the name an upload is kept under in the archive (and in quarantine).

    Parameters
    ----------
    name : str
        The upload's object name.
    generation : int or None
        Its generation in the incoming bucket.

    Returns
    -------
    str
        ``<name>@<generation>``: every upload of one name is kept, none replaces another.
    """
    return f"{name}@{int(generation or 0)}"


def split_archive_name(name: str) -> tuple[str, int] | None:
    """Return the upload's name and generation of an archive name, or None for another name.

    Parameters
    ----------
    name : str
        An object name, e.g. ``<name>@<generation>`` (:func:`archive_name`).

    Returns
    -------
    tuple of (str, int) or None
        The upload's object name and its generation.
    """
    upload, _, tail = name.rpartition("@")
    return (upload, int(tail)) if upload and tail.isdigit() else None


class Written:
    """What :func:`write_latest` did."""

    #: The product was stored.
    WRITTEN = "written"
    #: The same upload's identical product was stored already; nothing was written.
    UNCHANGED = "unchanged"
    #: A later upload's product is stored; nothing was written.
    SUPERSEDED = "superseded"


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
    if_generation_match: int | None = None,
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
    if_generation_match : int, optional
        Write only if the live object has this generation (0: only if there is none).

    Raises
    ------
    OSError
        When the stored size or MD5 differs from ``data`` (transient: the step is retried).
    PreconditionFailed
        When ``if_generation_match`` does not hold; nothing was written.
    """
    _check_stored(
        target,
        data,
        ctx.store.write(
            target.bucket,
            target.name,
            data,
            content_type=content_type,
            metadata=dict(metadata),
            if_generation_match=if_generation_match,
        ),
    )


def _check_stored(target: StoredObject, data: bytes, stored) -> None:
    if stored.size != len(data) or stored.md5_hash != md5_base64(data):
        raise OSError(f"stored {target.uri} does not match what was written; will retry")


def write_latest(
    ctx: ChainContext,
    target: StoredObject,
    data: bytes,
    *,
    upload_generation: int,
    content_type: str,
    metadata: Mapping[str, str],
) -> str:
    """Write a product unless the stored one comes from a newer upload; verify it.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    target : StoredObject
        Where the product goes.
    data : bytes
        The product.
    upload_generation : int
        Generation of the upload it was made from (recorded as :data:`UPLOAD_GENERATION`).
    content_type : str
        Its MIME type.
    metadata : Mapping
        More custom metadata.

    Returns
    -------
    str
        :class:`Written`: ``WRITTEN``, ``UNCHANGED`` (this upload's identical product is
        there already) or ``SUPERSEDED`` (a newer upload's product is there; left alone).

    Raises
    ------
    OSError
        When another writer got there between the check and the write, or the stored bytes
        differ (transient: the message is redelivered, and the check made again).
    """
    existing = ctx.store.stat(target.bucket, target.name)
    if existing is not None:
        stored_generation = int(existing.metadata.get(UPLOAD_GENERATION, 0) or 0)
        if stored_generation > upload_generation:
            return Written.SUPERSEDED
        if stored_generation == upload_generation and existing.md5_hash == md5_base64(data):
            return Written.UNCHANGED
    try:
        stored = ctx.store.write(
            target.bucket,
            target.name,
            data,
            content_type=content_type,
            metadata={**metadata, UPLOAD_GENERATION: str(upload_generation)},
            if_generation_match=existing.generation if existing else 0,
        )
    except PreconditionFailed as exc:
        raise OSError(
            f"{exc}: another upload's product was written meanwhile; will retry"
        ) from None
    _check_stored(target, data, stored)
    return Written.WRITTEN


def quarantine(ctx: ChainContext, obj: StoredObject, reason: str) -> StepResult:
    """Copy an object into the quarantine bucket with the reason in its metadata.

    The source is left in place; nothing is deleted. Each version is kept: an archived
    upload keeps its archive name (which carries its generation), anything else gets
    ``@<generation>`` appended, and an existing quarantined copy is never replaced.

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
    kept = obj.name
    if obj.bucket != ctx.settings.archive_bucket:
        generation = obj.generation
        if generation is None:
            live = ctx.store.stat(obj.bucket, obj.name)
            generation = live.generation if live is not None else None
        if generation:
            kept = archive_name(obj.name, generation)
    try:
        ctx.store.copy(
            obj.bucket,
            obj.name,
            ctx.settings.quarantine_bucket,
            kept,
            metadata=metadata,
            source_generation=obj.generation,
            if_generation_match=0,
        )
    except ObjectNotFoundError:
        pass  # nothing left to keep; the reason is still reported and logged
    except PreconditionFailed:
        pass  # this version is in quarantine already (a redelivery)
    return StepResult(
        "quarantined",
        {
            "object": obj.uri,
            "reason": reason,
            "kept_as": f"gs://{ctx.settings.quarantine_bucket}/{kept}",
        },
    )
