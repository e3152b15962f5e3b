"""Query parameters of the explorer's pages, from the text of a URL to read-model arguments.

Strict, like the network's other HTTP services: an unknown parameter, a repeated one, a bad
date, a negative number, an unknown order or a limit above the maximum is refused with a
message naming it (:class:`~.errors.InvalidQuery`, HTTP 400). An empty value is the same as
no value (an HTML form sends its empty fields).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from panoptes_network.explorer.detections import KINDS, MAX_CANDIDATES
from panoptes_network.explorer.errors import InvalidQuery, quote
from panoptes_network.explorer.home import MAX_LATEST
from panoptes_network.explorer.observations import (
    MAX_LIMIT,
    MAX_MIN_IMAGES,
    ORDER_FIELDS,
)
from panoptes_network.explorer.sky import MAX_RADIUS_DEG

__all__ = [
    "CANDIDATES_PARAMETERS",
    "OBSERVATIONS_PARAMETERS",
    "PAGE_PARAMETERS",
    "candidates_arguments",
    "home_arguments",
    "observations_arguments",
    "page_arguments",
    "parse_time",
]

#: Parameters of the observations list.
OBSERVATIONS_PARAMETERS = (
    "unit",
    "camera",
    "status",
    "since",
    "until",
    "min_images",
    "name",
    "ra",
    "dec",
    "radius",
    "order",
    "direction",
    "limit",
    "cursor",
)
#: Parameters of a page with one paged table (a unit's observations, an observation's frames).
PAGE_PARAMETERS = ("limit", "cursor")

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE = re.compile(r"[0-9]{1,9}")
_DECIMAL = re.compile(r"[+-]?([0-9]{1,3}(\.[0-9]{0,12})?|\.[0-9]{1,12})")


def _single(args: Mapping[str, Any], allowed: Sequence[str]) -> dict[str, str]:
    """Return each parameter's one non-empty value; refuse unknown and repeated ones."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise InvalidQuery(
            unknown[0][:40], f"is not a parameter here (allowed: {', '.join(allowed)})"
        )
    out = {}
    for name, raw in args.items():
        values = [raw] if isinstance(raw, str) else list(raw)
        values = [v for v in values if v != ""]
        if len(values) > 1:
            raise InvalidQuery(name, "is given more than once")
        if values:
            out[name] = values[0]
    return out


def _whole(name: str, text: str, low: int, high: int) -> int:
    if not _WHOLE.fullmatch(text.strip()) or not low <= int(text) <= high:
        raise InvalidQuery(name, f"must be a whole number from {low} to {high}, not {quote(text)}")
    return int(text)


def _degrees(name: str, text: str, low: float, high: float) -> float:
    """Return a decimal number of degrees from ``low`` to ``high``; else raise InvalidQuery."""
    value = float(text) if _DECIMAL.fullmatch(text.strip()) else math.nan
    if not low <= value <= high:
        raise InvalidQuery(
            name, f"must be a decimal number of degrees from {low:g} to {high:g}, not {quote(text)}"
        )
    return value


def parse_time(name: str, text: str, *, end_of_day: bool = False) -> datetime:
    """Return a time given as a date or an ISO 8601 time, in UTC.

    Parameters
    ----------
    name : str
        The parameter, for the message.
    text : str
        ``YYYY-MM-DD`` (midnight UTC), or an ISO 8601 time (``2020-01-08T05:17:17Z``, with an
        offset, or none for UTC).
    end_of_day : bool
        Whether a bare date means the end of that day (the next midnight): for ``until``,
        so that ``until=2020-01-08`` includes the 8th.

    Returns
    -------
    datetime
        Aware, in UTC.

    Raises
    ------
    InvalidQuery
        When the text is neither.
    """
    text = text.strip()
    try:
        if _DATE.fullmatch(text):
            day = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
            return day + timedelta(days=1) if end_of_day else day
        if "T" not in text or len(text) > 40:
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidQuery(
            name, f"must be a date (2020-01-08) or an ISO 8601 time, not {quote(text)}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _page(values: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "limit" in values:
        out["limit"] = _whole("limit", values["limit"], 1, MAX_LIMIT)
    if "cursor" in values:
        out["cursor"] = values["cursor"]
    return out


def page_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``limit`` and ``cursor`` of a page with one paged table.

    Parameters
    ----------
    args : Mapping
        Parameter name to its value or list of values (``request.args.to_dict(flat=False)``).

    Returns
    -------
    dict
        Keyword arguments for :func:`~.units.unit` or :func:`~.observations.observation`.

    Raises
    ------
    InvalidQuery
        See the module docstring.
    """
    return _page(_single(args, PAGE_PARAMETERS))


def home_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """Return the arguments of :func:`~.home.home`: ``latest`` (1 to :data:`~.home.MAX_LATEST`).

    Parameters
    ----------
    args : Mapping
        As for :func:`page_arguments`.

    Returns
    -------
    dict
        Keyword arguments.

    Raises
    ------
    InvalidQuery
        See the module docstring.
    """
    values = _single(args, ("latest",))
    if "latest" in values:
        return {"latest": _whole("latest", values["latest"], 1, MAX_LATEST)}
    return {}


def observations_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """Return the arguments of :func:`~.observations.observations` from URL parameters.

    Parameters
    ----------
    args : Mapping
        As for :func:`page_arguments`: ``unit``, ``camera``, ``status``; ``since`` and
        ``until`` (see :func:`parse_time`; ``until`` is exclusive, a bare date includes
        that day); ``min_images`` (0 to 1,000,000); a sky search: ``name`` (a target or
        coordinates as text) or ``ra`` (0 to 360) and ``dec`` (-90 to 90), and ``radius`` (0
        to 10), in decimal degrees (see :func:`~.sky.sky_cone`); ``order`` (``time`` or
        ``num_images``); ``direction`` (``desc``, the default, or ``asc``); ``limit`` (1 to
        200); ``cursor``.

    Returns
    -------
    dict
        Keyword arguments.

    Raises
    ------
    InvalidQuery
        See the module docstring.
    """
    values = _single(args, OBSERVATIONS_PARAMETERS)
    out = _page(values)
    for name in ("unit", "camera", "status"):
        if name in values:
            out[name] = values[name]
    if "since" in values:
        out["since"] = parse_time("since", values["since"])
    if "until" in values:
        out["until"] = parse_time("until", values["until"], end_of_day=True)
    if "min_images" in values:
        out["min_images"] = _whole("min_images", values["min_images"], 0, MAX_MIN_IMAGES)
    if "name" in values:
        out["name"] = values["name"]
    for name, low, high in (
        ("ra", 0.0, 360.0),
        ("dec", -90.0, 90.0),
        ("radius", 0, MAX_RADIUS_DEG),
    ):
        if name in values:
            out[name] = _degrees(name, values[name], low, high)
    if "order" in values:
        if values["order"] not in ORDER_FIELDS:
            raise InvalidQuery(
                "order", f"must be one of {', '.join(ORDER_FIELDS)}, not {quote(values['order'])}"
            )
        out["order"] = values["order"]
    if "direction" in values:
        if values["direction"] not in ("asc", "desc"):
            raise InvalidQuery(
                "direction", f"must be asc or desc, not {quote(values['direction'])}"
            )
        out["descending"] = values["direction"] == "desc"
    return out


#: URL parameters of the analysed stars page (:func:`analysed_stars_arguments`).
ANALYSED_STARS_PARAMETERS: tuple[str, ...] = ("min_points", "order", "limit", "ra", "dec", "radius")


def analysed_stars_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """Return the arguments of :func:`~.analysed_stars.analysed_stars` from URL parameters.

    Parameters
    ----------
    args : Mapping
        As for :func:`page_arguments`: ``min_points`` (a whole number), ``order`` (a
        variability figure), ``limit`` (1 to 500); or a position: ``ra`` (0 to 360), ``dec``
        (-90 to 90) and ``radius`` (0 to 10), in decimal degrees.

    Returns
    -------
    dict
        Keyword arguments.

    Raises
    ------
    InvalidQuery
        See the module docstring.
    """
    values = _single(args, ANALYSED_STARS_PARAMETERS)
    out: dict[str, Any] = {}
    if "min_points" in values:
        out["min_points"] = _whole("min_points", values["min_points"], 0, 10**9)
    if "order" in values:
        out["order"] = values["order"]
    if "limit" in values:
        out["limit"] = _whole("limit", values["limit"], 1, 500)
    sky = [name for name in ("ra", "dec", "radius") if name in values]
    if sky and len(sky) != 3:
        raise InvalidQuery(sky[0], "a position needs ra, dec and radius together")
    if sky:
        out["ra"] = _degrees("ra", values["ra"], 0.0, 360.0)
        out["dec"] = _degrees("dec", values["dec"], -90.0, 90.0)
        out["radius"] = _degrees("radius", values["radius"], 0.0, 10.0)
    return out


#: URL parameters of the candidates page (:func:`candidates_arguments`).
CANDIDATES_PARAMETERS: tuple[str, ...] = ("kind", "injected", "picid", "limit", "cursor")


def candidates_arguments(args: Mapping[str, Any]) -> dict[str, Any]:
    """Return the arguments of :func:`~.detections.candidates` from URL parameters.

    Parameters
    ----------
    args : Mapping
        As for :func:`page_arguments`: ``kind`` (``transit`` or ``flare``), ``injected``
        (``true``: only the detections of injected events; ``false``, the default: only
        real ones), ``picid`` (one star's), ``limit`` (1 to
        :data:`~.detections.MAX_CANDIDATES`) and ``cursor``.

    Returns
    -------
    dict
        Keyword arguments.

    Raises
    ------
    InvalidQuery
        See the module docstring.
    """
    values = _single(args, CANDIDATES_PARAMETERS)
    out: dict[str, Any] = {}
    if "kind" in values:
        if values["kind"] not in KINDS:
            raise InvalidQuery(
                "kind", f"must be one of {', '.join(KINDS)}, not {quote(values['kind'])}"
            )
        out["kind"] = values["kind"]
    if "injected" in values:
        if values["injected"] not in ("true", "false"):
            shown = quote(values["injected"])
            raise InvalidQuery("injected", f"must be true or false, not {shown}")
        out["injected"] = values["injected"] == "true"
    if "picid" in values:
        text = values["picid"].strip()
        if not text.isascii() or not text.isdigit() or len(text) > 16 or int(text) < 1:
            raise InvalidQuery("picid", f"must be a star's PICID, not {quote(values['picid'])}")
        out["picid"] = int(text)
    if "limit" in values:
        out["limit"] = _whole("limit", values["limit"], 1, MAX_CANDIDATES)
    if "cursor" in values:
        out["cursor"] = values["cursor"]
    return out
