"""Writes every step shares: verified stores of products, and quarantine of bad input.

A file is never deleted until its replacement is verified to be stored; bad input is copied
to the quarantine bucket with the reason in its metadata, and nothing is deleted.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.errors import ObjectNotFoundError

__all__ = ["md5_base64", "quarantine", "write_verified"]


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

    Raises
    ------
    OSError
        When the stored size or MD5 differs from ``data`` (transient: the step is retried).
    """
    stored = ctx.store.write(
        target.bucket, target.name, data, content_type=content_type, metadata=dict(metadata)
    )
    if stored.size != len(data) or stored.md5_hash != md5_base64(data):
        raise OSError(f"stored {target.uri} does not match what was written; will retry")


def quarantine(ctx: ChainContext, obj: StoredObject, reason: str) -> StepResult:
    """Copy an object into the quarantine bucket with the reason in its metadata.

    The source is left in place; nothing is deleted.

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
    try:
        ctx.store.copy(
            obj.bucket, obj.name, ctx.settings.quarantine_bucket, obj.name, metadata=metadata
        )
    except ObjectNotFoundError:
        pass  # nothing left to keep; the reason is still reported and logged
    return StepResult("quarantined", {"object": obj.uri, "reason": reason})
