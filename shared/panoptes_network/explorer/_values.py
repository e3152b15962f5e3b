"""Values of stored documents as JSON: read tolerantly, never raising on what is missing.

Firestore has no schema and the archive holds records of every age, so each reader here takes
whatever a field holds and returns a value of one JSON type, or None when the field is
missing or holds something else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

from panoptes_network.explorer.errors import InvalidQuery
from panoptes_network.pipeline.ports import GeoPoint

__all__ = [
    "angle_between",
    "boolean",
    "check_limit",
    "integer",
    "is_document_id",
    "iso_utc",
    "json_value",
    "location",
    "masked_user",
    "number",
    "text",
    "time_value",
]


def iso_utc(moment: datetime) -> str:
    """Return a datetime as ISO 8601 in UTC (``2020-01-08T05:17:17+00:00``).

    Parameters
    ----------
    moment : datetime
        Aware, or naive and taken to be UTC (as the network writes every time).

    Returns
    -------
    str
        The time in UTC.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def json_value(value: Any) -> Any:
    """Return any stored value as JSON: times in ISO 8601 UTC, non-finite numbers as None.

    Parameters
    ----------
    value : Any
        A field's value (maps and lists converted recursively).

    Returns
    -------
    Any
        None, bool, int, float, str, list or dict; a GeoPoint becomes ``{"latitude",
        "longitude"}`` (degrees), bytes None, anything else its ``str``.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, GeoPoint):
        return {"latitude": number(value.latitude), "longitude": number(value.longitude)}
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return None
    return str(value)


def time_value(value: Any) -> str | None:
    """Return a stored time as ISO 8601 UTC, or None.

    Parameters
    ----------
    value : Any
        A timestamp (datetime), or an ISO 8601 string as older records and exports hold
        (naive ones are UTC).

    Returns
    -------
    str or None
        The time, or None when the value is missing or not a time.
    """
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, str) and "T" in value and len(value) <= 64:
        try:
            return iso_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def number(value: Any) -> float | int | None:
    """Return a finite int or float (never a bool), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def integer(value: Any) -> int | None:
    """Return an int (a float holding a whole number too; never a bool), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def text(value: Any) -> str | None:
    """Return a string, or None."""
    return value if isinstance(value, str) else None


def boolean(value: Any) -> bool | None:
    """Return a bool, or None."""
    return value if isinstance(value, bool) else None


def location(doc: Mapping[str, Any]) -> dict[str, float] | None:
    """Return a unit's location from its document, or None.

    Parameters
    ----------
    doc : Mapping
        A unit document: ``location`` (a GeoPoint, as record-image writes it) or the
        ``latitude`` and ``longitude`` fields of older records.

    Returns
    -------
    dict or None
        ``{"latitude", "longitude"}`` in degrees (north, east), or None when either is
        missing or out of range.
    """
    point = doc.get("location")
    if isinstance(point, GeoPoint):
        lat, lon = number(point.latitude), number(point.longitude)
    elif isinstance(point, Mapping):
        lat, lon = number(point.get("latitude")), number(point.get("longitude"))
    else:
        lat, lon = number(doc.get("latitude")), number(doc.get("longitude"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 360):
        return None
    return {"latitude": float(lat), "longitude": float(lon - 360 if lon > 180 else lon)}


def angle_between(ra1: Any, dec1: Any, ra2: Any, dec2: Any) -> float | None:
    """Return the angle between two sky positions, in degrees, or None.

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : Any
        Right ascensions (0 to 360) and declinations (-90 to 90), in degrees; anything else
        (missing, out of range) gives None.

    Returns
    -------
    float or None
        The great-circle separation (Vincenty's formula, stable at every angle), degrees.
    """
    values = [number(v) for v in (ra1, dec1, ra2, dec2)]
    if any(v is None for v in values):
        return None
    a1, d1, a2, d2 = (float(v) for v in values)  # type: ignore[arg-type]
    if not (0 <= a1 <= 360 and 0 <= a2 <= 360 and -90 <= d1 <= 90 and -90 <= d2 <= 90):
        return None
    a1, d1, a2, d2 = map(math.radians, (a1, d1, a2, d2))
    delta = a2 - a1
    num = math.hypot(
        math.cos(d2) * math.sin(delta),
        math.cos(d1) * math.sin(d2) - math.sin(d1) * math.cos(d2) * math.cos(delta),
    )
    den = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(delta)
    return math.degrees(math.atan2(num, den))


#: Longest document id the explorer looks up, in characters (real ids are under 40).
MAX_ID_CHARS = 200


def is_document_id(doc_id: Any) -> bool:
    """Whether ``doc_id`` can name a Firestore document (else nothing can have that id).

    Parameters
    ----------
    doc_id : Any
        A requested id.

    Returns
    -------
    bool
        True for a string of 1 to :data:`MAX_ID_CHARS` characters without ``/`` or control
        characters, other than ``.``, ``..`` and Firestore's reserved ``__...__``.
    """
    return (
        isinstance(doc_id, str)
        and 0 < len(doc_id) <= MAX_ID_CHARS
        and "/" not in doc_id
        and doc_id not in (".", "..")
        and not (doc_id.startswith("__") and doc_id.endswith("__"))
        and all(ch >= " " and ch != "\x7f" for ch in doc_id)
    )


def masked_user(doc: Mapping[str, Any]) -> str | None:
    """Return who wrote a flag, as pages show it: never a whole address.

    Parameters
    ----------
    doc : Mapping
        A flag document (``user_email``, ``user_uid``).

    Returns
    -------
    str or None
        ``a…@example.org`` (the first character of the address and its domain), else
        ``user 1a2b3c`` (the uid's first six characters), else None.
    """
    email, uid = doc.get("user_email"), doc.get("user_uid")
    if isinstance(email, str) and "@" in email and not email.startswith("@"):
        local, _, domain = email.rpartition("@")
        return f"{local[0]}…@{domain[:100]}"
    if isinstance(uid, str) and uid:
        return f"user {uid[:6]}"
    return None


def check_limit(limit: Any, maximum: int) -> int:
    """Return ``limit`` if it is a whole number from 1 to ``maximum``; else raise InvalidQuery."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidQuery("limit", f"must be a whole number from 1 to {maximum}")
    return limit
