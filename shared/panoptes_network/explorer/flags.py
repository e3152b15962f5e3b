"""People's flags on bad data: checking a new flag, writing it, removing it, listing them.

A flag (collection ``flags``, fields documented at
:data:`panoptes_network.pipeline.schema.FLAGS`) names an observation, an image, or points of
one star's light curve, with a reason. :func:`new_flag` checks a request against what is
stored (the observation, image or light curve must exist: one read) and returns the document
to write; :func:`write_flag` writes it under a fresh random id; :func:`remove_flag` marks one
removed (the document is kept, with who removed it and when); :func:`flags_of` lists the
active flags of an observation or an image. Who may do what is the web layer's business:
these functions take the user as already checked.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from panoptes_network.explorer._values import is_document_id, masked_user, text, time_value
from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.stars import check_picid
from panoptes_network.pipeline.ports import DocumentStore, DocWrite, WriteConflict
from panoptes_network.pipeline.schema import (
    FLAGS,
    IMAGES,
    LIGHTCURVES,
    OBSERVATIONS,
    FlagTarget,
)

__all__ = [
    "MAX_FLAGS_LISTED",
    "MAX_REASON_CHARS",
    "MAX_TIMES",
    "MIN_REASON_CHARS",
    "User",
    "flags_of",
    "new_flag",
    "remove_flag",
    "write_flag",
]

#: Shortest and longest reason (characters).
MIN_REASON_CHARS, MAX_REASON_CHARS = 3, 500
#: Most points in one points flag.
MAX_TIMES = 2000
#: Most flags listed on an observation or image page.
MAX_FLAGS_LISTED = 50
_FIELDS = {"target", "sequence_id", "image_id", "picid", "run_id", "times", "reason"}


@dataclass(frozen=True)
class User:
    """A signed-in person, as their verified token says.

    Attributes
    ----------
    uid : str
        The Firebase user id.
    email : str or None
        Their address.
    email_verified : bool
        Whether the address is verified (flagging needs it).
    admin : bool
        The ``admin`` custom claim (removing a flag needs it).
    """

    uid: str
    email: str | None
    email_verified: bool
    admin: bool


def _reason(value: Any) -> str:
    if not isinstance(value, str) or not (
        MIN_REASON_CHARS <= len(value.strip()) <= MAX_REASON_CHARS
    ):
        raise InvalidQuery(
            "reason", f"say why, in {MIN_REASON_CHARS} to {MAX_REASON_CHARS} characters"
        )
    if any(ch < " " and ch not in "\n\t" for ch in value):
        raise InvalidQuery("reason", "must not hold control characters")
    return value.strip()


def _id(name: str, value: Any) -> str:
    if not is_document_id(value):
        raise InvalidQuery(name, "must be an id of 1 to 200 characters without '/'")
    return value


def _times(value: Any) -> list[float]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_TIMES:
        raise InvalidQuery("times", f"must list 1 to {MAX_TIMES} point times (POSIX s)")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise InvalidQuery("times", "must hold numbers (POSIX seconds)")
        if not math.isfinite(item) or not 0 < item < 1e10:
            raise InvalidQuery("times", "must hold finite POSIX seconds")
        out.append(float(item))
    return sorted(set(out))


def new_flag(documents: DocumentStore, request: Any, user: User, now: datetime) -> dict[str, Any]:
    """Check a flag request and return the document to write.

    Reads 1 document (what the flag names).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    request : Mapping
        ``target`` (``observation``, ``image`` or ``points``) and ``reason``; with
        ``sequence_id`` (an observation), ``image_id`` (an image), or ``picid``, ``run_id``
        and ``times`` (points: POSIX s, as the star's points give them).
    user : User
        Who flags (already checked to be allowed).
    now : datetime
        The flag's time (aware, UTC).

    Returns
    -------
    dict
        The flag document (:data:`~panoptes_network.pipeline.schema.FLAGS`).

    Raises
    ------
    InvalidQuery
        A missing or bad field, named.
    NotFound
        What the flag names does not exist.
    """
    if not isinstance(request, Mapping):
        raise InvalidQuery("body", "must be a JSON object")
    unknown = sorted(set(request) - _FIELDS)
    if unknown:
        raise InvalidQuery(
            str(unknown[0])[:40], f"is not a flag field ({', '.join(sorted(_FIELDS))})"
        )
    target = request.get("target")
    if target not in FlagTarget.ALL:
        raise InvalidQuery("target", f"must be one of {', '.join(FlagTarget.ALL)}")
    flag: dict[str, Any] = {
        "target": target,
        "reason": _reason(request.get("reason")),
        "user_uid": user.uid,
        "user_email": user.email,
        "created_time": now,
        "removed": False,
    }
    if target == FlagTarget.OBSERVATION:
        sequence_id = _id("sequence_id", request.get("sequence_id"))
        if documents.get(OBSERVATIONS, sequence_id) is None:
            raise NotFound("observation", sequence_id)
        flag["sequence_id"] = sequence_id
    elif target == FlagTarget.IMAGE:
        image_id = _id("image_id", request.get("image_id"))
        image = documents.get(IMAGES, image_id)
        if image is None:
            raise NotFound("image", image_id)
        flag.update(image_id=image_id, sequence_id=text(image.get("sequence_id")))
    else:
        picid = check_picid(request.get("picid"))
        run_id = _id("run_id", request.get("run_id"))
        times = _times(request.get("times"))
        lightcurve = documents.get(LIGHTCURVES, f"{picid}_{run_id}")
        if lightcurve is None:
            raise NotFound("light curve", f"{picid}_{run_id}")
        flag.update(
            picid=picid,
            run_id=run_id,
            times=times,
            sequence_id=text(lightcurve.get("sequence_id")),
        )
    return flag


def write_flag(documents: DocumentStore, flag: Mapping[str, Any]) -> str:
    """Write a new flag under a fresh random id and return the id.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    flag : Mapping
        :func:`new_flag`'s document.

    Returns
    -------
    str
        The flag's id (32 hexadecimal digits).
    """
    for _ in range(3):
        flag_id = secrets.token_hex(16)
        try:
            documents.commit([DocWrite(FLAGS, flag_id, dict(flag), must_not_exist=True)])
        except WriteConflict:
            continue
        return flag_id
    raise RuntimeError("no free flag id after 3 tries")


def remove_flag(
    documents: DocumentStore, flag_id: Any, user: User, now: datetime
) -> dict[str, Any]:
    """Mark a flag removed (kept, with who removed it and when) and return it.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    flag_id : str
        The flag.
    user : User
        The admin who removes it (already checked to be one).
    now : datetime
        When (aware, UTC).

    Returns
    -------
    dict
        The flag's ``flag_id``, ``target``, ``sequence_id`` and ``removed`` (true).

    Raises
    ------
    NotFound
        No such flag.
    """
    if not is_document_id(flag_id):
        raise NotFound("flag", str(flag_id))
    flag = documents.get(FLAGS, flag_id)
    if flag is None:
        raise NotFound("flag", flag_id)
    if flag.get("removed") is not True:
        documents.merge(
            FLAGS,
            flag_id,
            {"removed": True, "removed_by": user.email or user.uid, "removed_time": now},
        )
    return {
        "flag_id": flag_id,
        "target": text(flag.get("target")),
        "sequence_id": text(flag.get("sequence_id")),
        "removed": True,
    }


def _listed(flag_id: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    times = doc.get("times")
    return {
        "flag_id": flag_id,
        "target": text(doc.get("target")),
        "sequence_id": text(doc.get("sequence_id")),
        "image_id": text(doc.get("image_id")),
        "picid": doc.get("picid") if isinstance(doc.get("picid"), int) else None,
        "num_points": len(times) if isinstance(times, list) else None,
        "reason": text(doc.get("reason")),
        "user": masked_user(doc),
        "created_time": time_value(doc.get("created_time")),
    }


def flags_of(documents: DocumentStore, field: str, value: str) -> list[dict[str, Any]]:
    """Return the active flags whose ``field`` is ``value`` (an observation's, an image's).

    Reads at most :data:`MAX_FLAGS_LISTED` documents.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    field : str
        ``sequence_id`` or ``image_id``.
    value : str
        The id.

    Returns
    -------
    list of dict
        ``flag_id``, ``target``, ``sequence_id``, ``image_id``, ``picid``, ``num_points``,
        ``reason``, ``user`` and ``created_time`` (ISO 8601 UTC); removed flags left out.
    """
    if field not in ("sequence_id", "image_id"):
        raise ValueError(f"flags are listed by sequence_id or image_id, not {field!r}")
    found = documents.query(FLAGS, [(field, "==", value)], limit=MAX_FLAGS_LISTED)
    return [_listed(i, doc) for i, doc in found if doc.get("removed") is not True]
