"""The lookup-field request: resolve a search string to a position, list the catalog stars.

A request is ``{"search_string": str, "radius_deg": float, "vmag_min": float,
"vmag_max": float, "max_sources": int}`` (all but ``search_string`` optional). The search
string is tried, in this order, as

1. a PICID (:func:`~.coordinate_parser.parse_picid`: ``"PICID 123"``,
   ``"TIC 123"`` or a bare integer): the field is centred on that catalog star;
2. coordinates (:func:`~.coordinate_parser.parse_coordinates`: decimal
   degrees or sexagesimal, RA then Dec);
3. a name of the offline table (:mod:`~.target_names`);
4. a name for the online resolver, when the caller passes one (off by default).

Answers are ``(status, body)`` pairs the HTTP service returns as JSON: 200 with the field;
400 for a malformed request; 404 for an unknown name or PICID; 503 when the catalog file is
missing. The stars come back brightest first (then by PICID), at most ``max_sources`` of
them: when more match, ``truncated`` is true and ``total`` says how many matched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from panoptes_network.catalog.coordinate_parser import (
    SearchStringError,
    parse_coordinates,
    parse_picid,
)
from panoptes_network.catalog.picid_lookup import find_star
from panoptes_network.catalog.sesame_resolver import NameResolver
from panoptes_network.catalog.star_catalog import DEFAULT_VMAG_RANGE, Catalog
from panoptes_network.catalog.target_names import TargetNames

__all__ = [
    "DEFAULT_MAX_SOURCES",
    "DEFAULT_RADIUS_DEG",
    "FIELDS",
    "MAX_RADIUS_DEG",
    "MAX_REQUEST_BYTES",
    "MAX_SEARCH_LENGTH",
    "MAX_SOURCES_LIMIT",
    "VMAG_LIMITS",
    "lookup_field",
    "request_from_query",
]

#: Default cone radius, degrees.
DEFAULT_RADIUS_DEG = 1.0
#: Largest cone radius, degrees (keeps answers small; a PANOPTES frame is about 15 x 10).
MAX_RADIUS_DEG = 10.0
#: Bounds of ``vmag_min`` and ``vmag_max``, V magnitudes.
VMAG_LIMITS: tuple[float, float] = (-2.0, 25.0)
#: Default largest number of stars in an answer.
DEFAULT_MAX_SOURCES = 1000
#: Largest ``max_sources`` a request may ask for.
MAX_SOURCES_LIMIT = 5000
#: Longest search string, characters.
MAX_SEARCH_LENGTH = 200
#: Largest request body accepted, bytes.
MAX_REQUEST_BYTES = 4096
#: Fields a request may have.
FIELDS: tuple[str, ...] = ("search_string", "radius_deg", "vmag_min", "vmag_max", "max_sources")

_EXAMPLES = "e.g. 'HD 189733', 'M 42', '303.21 46.02', '20:06:15.45 +44:27:24.8' or 'PICID 123'"
_DECIMALS = 7  # of angles in degrees in an answer: 0.4 milliarcseconds


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def request_from_query(args: Mapping[str, str]) -> dict[str, Any]:
    """Turn GET query parameters into a request: numeric fields become numbers.

    Parameters
    ----------
    args : Mapping of str to str
        The query parameters.

    Returns
    -------
    dict
        The request; a value that does not read as a number is kept as text, so that
        :func:`lookup_field` names it in its 400 answer.
    """
    request: dict[str, Any] = dict(args)
    for field in ("radius_deg", "vmag_min", "vmag_max", "max_sources"):
        value = request.get(field)
        if isinstance(value, str):
            try:
                request[field] = float(value)
            except ValueError:
                pass
    return request


def _ra(value: float) -> float:
    """Round an RA for an answer, keeping it below 360 degrees."""
    return round(float(value), _DECIMALS) % 360.0


def _number(
    request: Mapping[str, Any], field: str, default: float, low: float, high: float
) -> float:
    value = request.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _BadRequest(f"{field} must be a number, not {value!r}")
    try:
        number = float(value)
    except OverflowError:  # a JSON integer beyond any float
        number = math.inf
    if not (math.isfinite(number) and low <= number <= high):
        raise _BadRequest(f"{field} {number:g} must be from {low:g} to {high:g}")
    return number


def _read_request(request: Any) -> tuple[str, float, tuple[float, float], int]:
    if not isinstance(request, dict):
        raise _BadRequest(f'send a JSON object like {{"search_string": "M 42"}} ({_EXAMPLES})')
    unknown = sorted(set(request) - set(FIELDS))
    if unknown:
        raise _BadRequest(
            f"unknown field(s) {', '.join(map(repr, unknown))}; the fields are {', '.join(FIELDS)}"
        )
    text = request.get("search_string")
    if not isinstance(text, str) or not text.strip():
        raise _BadRequest(f"search_string is required and must be a non-empty string ({_EXAMPLES})")
    text = text.strip()
    if len(text) > MAX_SEARCH_LENGTH:
        raise _BadRequest(f"search_string is longer than {MAX_SEARCH_LENGTH} characters")
    radius = _number(request, "radius_deg", DEFAULT_RADIUS_DEG, 0.0, MAX_RADIUS_DEG)
    if radius <= 0:
        raise _BadRequest(f"radius_deg must be above 0 and at most {MAX_RADIUS_DEG:g} degrees")
    vmag_min = _number(request, "vmag_min", DEFAULT_VMAG_RANGE[0], *VMAG_LIMITS)
    vmag_max = _number(request, "vmag_max", DEFAULT_VMAG_RANGE[1], *VMAG_LIMITS)
    if vmag_min > vmag_max:
        raise _BadRequest(f"vmag_min {vmag_min:g} is above vmag_max {vmag_max:g}")
    cap = _number(request, "max_sources", DEFAULT_MAX_SOURCES, 1, MAX_SOURCES_LIMIT)
    if not cap.is_integer():
        raise _BadRequest(f"max_sources must be a whole number, not {request['max_sources']!r}")
    return text, radius, (vmag_min, vmag_max), int(cap)


def _resolve(
    text: str, catalog: Catalog, names: TargetNames, resolver: NameResolver | None
) -> tuple[float, float, dict[str, Any]]:
    """Return the centre (degrees) and what ``text`` was read as."""
    try:
        picid = parse_picid(text)
        position = None if picid else parse_coordinates(text)
    except SearchStringError as exc:
        raise _BadRequest(str(exc)) from None
    if picid is not None:
        star = find_star(catalog, picid.picid)
        if star is None:
            rule = "" if picid.explicit else " (a lone integer is read as a PICID)"
            raise _BadRequest(f"no star with PICID {picid.picid} in the catalog{rule}", 404)
        about = {"type": "picid", "picid": star.picid, "vmag": round(star.vmag, 3)}
        return star.ra, star.dec, about
    if position is not None:
        return position.ra, position.dec, {"type": "coordinates", "form": position.form}
    target = names.resolve(text)
    if target is not None:
        about = {"type": "name", "name": target.name, "kind": target.kind, "source": target.source}
        return target.ra, target.dec, about
    online = resolver(text) if resolver is not None else None
    if online is not None:
        about = {"type": "name", "name": text, "kind": "online", "source": "CDS Sesame (online)"}
        return online[0] % 360.0, online[1], about
    online_note = " nor known to the online resolver" if resolver is not None else ""
    raise _BadRequest(
        f"no target named {text!r}: not in the offline table of {len(names)} targets (bright "
        f"stars, Messier objects, exoplanet hosts){online_note}; give coordinates or a PICID "
        f"instead ({_EXAMPLES})",
        404,
    )


def lookup_field(
    request: Any,
    catalog: Catalog,
    names: TargetNames,
    resolver: NameResolver | None = None,
) -> tuple[int, dict[str, Any]]:
    """Answer one lookup-field request.

    Parameters
    ----------
    request : object
        The decoded JSON body (or :func:`request_from_query` of a GET): ``search_string``
        (str, required), ``radius_deg`` (degrees, default 1, above 0 and at most 10),
        ``vmag_min`` and ``vmag_max`` (V magnitudes, default 6 and 13, each from -2 to 25,
        min <= max), ``max_sources`` (int, default 1000, from 1 to 5000).
    catalog : Catalog
        The star catalog.
    names : TargetNames
        The offline target names.
    resolver : callable, optional
        Online name resolver (name -> (RA, Dec) degrees or None), tried after the table.

    Returns
    -------
    status : int
        HTTP status code.
    body : dict
        On success ``{"search_string", "ra", "dec", "resolved_as", "radius_deg",
        "vmag_min", "vmag_max", "count", "total", "truncated", "max_sources", "sources"}``
        with ``sources`` a list of ``{"picid", "ra", "dec", "vmag"}`` (degrees), brightest
        first; else ``{"error": message}``.
    """
    try:
        text, radius, vmag_range, cap = _read_request(request)
        ra, dec, about = _resolve(text, catalog, names, resolver)
        stars = catalog.cone_search(ra, dec, radius, vmag_range)
    except _BadRequest as exc:
        return exc.status, {"error": str(exc)}
    except FileNotFoundError as exc:
        return 503, {"error": f"the star catalog is not available: {exc}"}
    vmag = np.asarray(stars["vmag"], dtype=float)
    picid = np.asarray(stars["picid"], dtype=np.int64)
    order = np.lexsort((picid, vmag))[:cap]
    star_ra = np.asarray(stars["ra"], dtype=float)[order]
    star_dec = np.asarray(stars["dec"], dtype=float)[order]
    sources = [
        {
            "picid": int(p),
            "ra": _ra(r),
            "dec": round(float(d), _DECIMALS),
            "vmag": round(float(v), 3),
        }
        for p, r, d, v in zip(picid[order], star_ra, star_dec, vmag[order], strict=True)
    ]
    return 200, {
        "search_string": text,
        "ra": _ra(ra),
        "dec": round(float(dec), _DECIMALS),
        "resolved_as": about,
        "radius_deg": radius,
        "vmag_min": vmag_range[0],
        "vmag_max": vmag_range[1],
        "count": len(sources),
        "total": len(stars),
        "truncated": len(stars) > len(sources),
        "max_sources": cap,
        "sources": sources,
    }
