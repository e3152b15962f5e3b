"""Page cursors: the position of the last document of a page, as an opaque URL-safe string.

A cursor holds the order it belongs to (field and direction), the last document's value of
that field and its id: continuing after ``(value, id)`` neither skips nor repeats documents
that share a value (two cameras of a unit start an observation at the same second).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from panoptes_network.explorer._values import is_document_id
from panoptes_network.explorer.errors import InvalidQuery
from panoptes_network.pipeline.ports import GeoPoint

__all__ = ["MAX_CURSOR_CHARS", "decode_cursor", "encode_cursor"]

#: Longest cursor accepted, in characters.
MAX_CURSOR_CHARS = 2048


def _tag(value: Any) -> list[Any] | None:
    if value is None:
        return ["z"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, float):
        return ["f", value.hex()]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, GeoPoint):
        return ["g", value.latitude.hex(), value.longitude.hex()]
    return None


def _untag(tagged: Any) -> Any:
    kind, *rest = tagged
    if kind == "z" and not rest:
        return None
    (first, *more) = rest
    if kind == "b" and isinstance(first, bool) and not more:
        return first
    if kind == "i" and isinstance(first, str) and len(first) < 40 and not more:
        return int(first)
    if kind == "f" and isinstance(first, str) and not more:
        return float.fromhex(first)
    if kind == "t" and isinstance(first, str) and not more:
        moment = datetime.fromisoformat(first)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment
    if kind == "s" and isinstance(first, str) and not more:
        return first
    if kind == "g" and isinstance(first, str) and len(more) == 1 and isinstance(more[0], str):
        return GeoPoint(float.fromhex(first), float.fromhex(more[0]))
    raise ValueError(f"unknown value tag {kind!r}")


def encode_cursor(order: str, descending: bool, value: Any, doc_id: str) -> str | None:
    """Return the cursor that continues after one document.

    Parameters
    ----------
    order : str
        The field the page is ordered by.
    descending : bool
        The direction.
    value : Any
        The document's value of ``order`` (None, bool, number, time, string or GeoPoint).
    doc_id : str
        The document's id.

    Returns
    -------
    str or None
        URL-safe text; None when the value is of a type a cursor cannot hold (a list, map
        or bytes in an order field: the page is then the last one offered).
    """
    tagged = _tag(value)
    if tagged is None:
        return None
    raw = json.dumps({"o": order, "d": bool(descending), "v": tagged, "id": doc_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: str, descending: bool) -> tuple[Any, str]:
    """Return ``(value, doc_id)`` of a cursor made by :func:`encode_cursor`.

    Parameters
    ----------
    cursor : str
        The cursor, as given back by a client.
    order : str
        The field the page is ordered by now.
    descending : bool
        The direction now.

    Returns
    -------
    tuple
        The value of ``order`` and the id of the document to continue after.

    Raises
    ------
    InvalidQuery
        When the text is not a cursor, or belongs to another order or direction.
    """
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_CHARS:
        raise InvalidQuery("cursor", f"must be 1 to {MAX_CURSOR_CHARS} characters")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw.decode())
        if not isinstance(data, dict) or set(data) != {"o", "d", "v", "id"}:
            raise ValueError("not a cursor object")
        if not isinstance(data["v"], list) or not data["v"] or not is_document_id(data["id"]):
            raise ValueError("not a cursor object")
        value = _untag(data["v"])
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, OverflowError):
        raise InvalidQuery(
            "cursor", "is not a cursor this service made: use next_cursor of an answer"
        ) from None
    if data["o"] != order or data["d"] is not bool(descending):
        raise InvalidQuery(
            "cursor",
            f"belongs to another order ({data['o']}, "
            f"{'descending' if data['d'] else 'ascending'}): start again without a cursor",
        )
    return value, data["id"]
