"""Values of FITS header cards as documents want them: typed, with unknowns as None.

Units write ``''`` where a value was unknown and some cards as strings; these helpers turn a
card of a :class:`~.fits_header.FitsHeader` into a clean value.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from numbers import Real
from typing import Any

from panoptes_network.frames.fits_header import FitsHeader

__all__ = ["header_value", "parse_date_obs"]


def header_value(header: FitsHeader, keyword: str, kind: type | None = None) -> Any:
    """Return a header value cleaned for a document.

    Parameters
    ----------
    header : FitsHeader
        The frame header.
    keyword : str
        Card keyword.
    kind : type, optional
        ``float``, ``int`` or ``str``: the value is converted, and None is returned when it
        cannot be (a string where a number belongs, say).

    Returns
    -------
    object or None
        The value; None when the card is absent, undefined or an empty (or blank) string.
    """
    value = header.get(keyword)
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if value is None or kind is None:
        return value
    if kind is str:
        return str(value)
    if isinstance(value, bool) or not isinstance(value, Real):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return None
        else:
            return None
    if not math.isfinite(float(value)):
        return None  # NaN and infinity have no place in a JSON-served document
    if kind is int:
        return int(value) if float(value).is_integer() else None
    return float(value)


def parse_date_obs(value: Any) -> datetime | None:
    """Parse a FITS ``DATE-OBS`` (ISO 8601, UTC) as an aware datetime.

    Parameters
    ----------
    value : object
        The card's value.

    Returns
    -------
    datetime or None
        The moment in UTC, or None when the value is missing or not a date.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
