"""The processing ledger: one record per upload, followed to its final state.

Every upload (object name and generation in the incoming bucket) gets an ``uploads``
document when its notification first arrives. Each step that moves it on records the stage
it passed (when, by which service, at which delivery attempt) and its new state; a final
state (``recorded``, ``quarantined``, ``failed``, ``superseded``) ends it. Until then the
record carries ``due_time``: when the reconciler (:mod:`.reconcile`) should look at it again
if nothing has moved it. Final records drop ``due_time``, so the reconciler's query reads only
what is due, however large the archive grows.

Updates are read, plan, commit with a version precondition (:func:`.commit_with_retry`), so
concurrent deliveries never lose a stage, and a final state is never moved back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject, UploadRef
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import FINAL_UPLOAD_STATES, UPLOADS, UploadState
from panoptes_network.pipeline.storage import quarantine, split_archive_name

__all__ = [
    "advance",
    "archived_upload",
    "due_uploads",
    "image_due_time",
    "is_final",
    "open_upload",
    "quarantined",
    "upload_id",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def upload_id(name: str, generation: int | None) -> str:
    """Return the ledger id of one upload: its object name and generation.

    Parameters
    ----------
    name : str
        Object name in the incoming bucket.
    generation : int or None
        Its generation (0 when unknown).

    Returns
    -------
    str
        ``<name with / as _>@<generation>``, e.g.
        ``PAN001_14d3bd_20250101T000000_20250101T000130.fits@1795953833642791``; names with
        other characters, or over 200 characters, get a hash of the name instead of the rest.
    """
    flat = name.replace("/", "_")
    safe = _UNSAFE.sub("_", flat)[:200]
    if safe != flat or safe.strip(".") == "":
        safe = f"{safe[:150]}~{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return f"{safe}@{int(generation or 0)}"


def archived_upload(ctx: ChainContext, obj: StoredObject) -> UploadRef | None:
    """Return the upload an archived object is, read from its name, not from a message.

    Parameters
    ----------
    ctx : ChainContext
        The chain (the archive bucket's name).
    obj : StoredObject
        An object a message names.

    Returns
    -------
    UploadRef or None
        Ledger id and generation of ``<name>@<generation>`` in the archive bucket; None for
        any other object.
    """
    parts = split_archive_name(obj.name) if obj.bucket == ctx.settings.archive_bucket else None
    if parts is None:
        return None
    name, generation = parts
    return UploadRef(upload_id(name, generation), generation)


def quarantined(ctx: ChainContext, obj: StoredObject, reason: str, upload: UploadRef) -> StepResult:
    """Quarantine bad input and end its upload's ledger record ``quarantined`` with the reason.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    obj : StoredObject
        The object that cannot be processed (copied to quarantine, never deleted).
    reason : str
        Why, in words a unit operator can act on.
    upload : UploadRef
        The upload it belongs to (no record is written without an id).

    Returns
    -------
    StepResult
        What :func:`~panoptes_network.pipeline.storage.quarantine` returns.
    """
    result = quarantine(ctx, obj, reason)
    advance(ctx, upload.upload_id, UploadState.QUARANTINED, reason=reason, attempt=upload.attempt)
    return result


def is_final(ctx: ChainContext, uid: str | None) -> bool:
    """Say whether an upload's ledger record has reached a final state.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    uid : str or None
        The ledger id.

    Returns
    -------
    bool
        False without documents, id or record.
    """
    if ctx.documents is None or not uid:
        return False
    record = ctx.documents.get(UPLOADS, uid)
    return bool(record and record.get("final"))


def _due(ctx: ChainContext) -> datetime:
    return ctx.now() + timedelta(minutes=ctx.settings.reconcile_after_minutes)


def image_due_time(ctx: ChainContext) -> datetime:
    """When an image that just reached an intermediate status is due for the reconciler.

    Images carry ``due_time`` while ``uploaded`` (to be solved) or ``solved`` (to be
    measured); a final status removes it.

    Parameters
    ----------
    ctx : ChainContext
        The chain (its clock and ``stuck_after_minutes``).

    Returns
    -------
    datetime
        Now plus ``settings.stuck_after_minutes``.
    """
    return ctx.now() + timedelta(minutes=ctx.settings.stuck_after_minutes)


def open_upload(
    ctx: ChainContext, obj: StoredObject, *, size: int, md5_hash: str | None
) -> dict[str, Any]:
    """Create the ledger record of a new upload, or return the one a delivery made before.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    obj : StoredObject
        The upload in the incoming bucket, with its generation.
    size : int
        Its size, in bytes.
    md5_hash : str or None
        Its base64 MD5, as Cloud Storage reports it.

    Returns
    -------
    dict
        The record (with ``id``).
    """
    assert ctx.documents is not None
    uid = upload_id(obj.name, obj.generation)
    now = ctx.now()
    record = {
        "object_name": obj.name,
        "bucket": obj.bucket,
        "generation": int(obj.generation or 0),
        "size": int(size),
        "md5_hash": md5_hash,
        "state": UploadState.RECEIVED,
        "final": False,
        "stages": {UploadState.RECEIVED: {"time": now, "service": ctx.service}},
        "requeues": 0,
        "received_time": now,
        "updated_time": now,
        "due_time": _due(ctx),
    }

    def plan() -> tuple[list[DocWrite], dict[str, Any]]:
        existing = ctx.documents.get(UPLOADS, uid)  # type: ignore[union-attr]
        if existing is not None:
            return [], existing
        return [DocWrite(UPLOADS, uid, record, must_not_exist=True)], record

    return {"id": uid, **commit_with_retry(ctx.documents, plan, what=f"{UPLOADS}/{uid}")}


def advance(
    ctx: ChainContext,
    uid: str | None,
    state: str,
    *,
    reason: str | None = None,
    attempt: int | None = None,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Record that an upload passed a stage; a final state ends its record.

    Parameters
    ----------
    ctx : ChainContext
        The chain; without ``documents`` (or without ``uid``) nothing is recorded.
    uid : str or None
        The ledger id (:func:`upload_id`), as messages carry it (``upload_id``).
    state : str
        The new :class:`~.schema.UploadState`.
    reason : str, optional
        Why (quarantined, failed, superseded).
    attempt : int, optional
        Pub/Sub's delivery attempt of the message that did it.
    fields : Mapping, optional
        More fields to set (``archived_as``, ``image_id`` ...).

    Returns
    -------
    dict or None
        The record as written, or None when there is none (an upload from before the ledger,
        or a message without ``upload_id``). A record already final is returned unchanged.
    """
    if ctx.documents is None or not uid:
        return None
    documents = ctx.documents

    def plan() -> tuple[list[DocWrite], dict[str, Any] | None]:
        snapshot = documents.read([(UPLOADS, uid)])[(UPLOADS, uid)]
        record = snapshot.fields
        if record is None:
            return [], None
        if record.get("final"):
            return [], record
        now = ctx.now()
        stage: dict[str, Any] = {"time": now, "service": ctx.service}
        if attempt is not None:
            stage["delivery_attempt"] = int(attempt)
        final = state in FINAL_UPLOAD_STATES
        update: dict[str, Any] = {
            **dict(fields or {}),
            "state": state,
            "final": final,
            "stages": {**(record.get("stages") or {}), state: stage},
            "updated_time": now,
            "due_time": None if final else _due(ctx),
        }
        if reason is not None:
            update["reason"] = reason
        write = DocWrite(UPLOADS, uid, update, must_exist=True, expected_version=snapshot.version)
        return [write], {**record, **update}

    return commit_with_retry(documents, plan, what=f"{UPLOADS}/{uid}")


def due_uploads(ctx: ChainContext, *, limit: int | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Return the uploads whose ``due_time`` has passed, oldest first.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    limit : int, optional
        Most records to read (default ``settings.reconcile_batch``).

    Returns
    -------
    list of (str, dict)
        Ledger ids and records. Only due records are read: final ones have no ``due_time``.
    """
    assert ctx.documents is not None
    return ctx.documents.query(
        UPLOADS,
        [("due_time", "<=", ctx.now())],
        order_by="due_time",
        limit=limit if limit is not None else ctx.settings.reconcile_batch,
    )
