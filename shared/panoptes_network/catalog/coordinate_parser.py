"""Read the coordinate and PICID forms of a field search string.

Coordinates (RA first, then Dec; ICRS degrees out):

- decimal degrees: ``"303.21 46.02"``, ``"303.21, +46.02"``, ``"303.21d -46.02d"``;
- sexagesimal, RA in hours: ``"20h06m15.45s +44d27m24.8s"``, ``"20:06:15.45 +44:27:24.8"``,
  ``"20 06 15.45 +44 27 24.8"``, ``"20h06.5m +44 27"``; RA in degrees when its first part
  says so: ``"303d12m36s +46d01m12s"``;
- ``°``, ``′``/``'`` and ``″``/``"`` are accepted for d, m and s.

RA and Dec are told apart by a comma, else by the sign of the Dec (``+``/``-``), else by a
``d``/``°`` unit, else by the count of numbers (2: one each; 4: hours minutes, degrees
minutes; 6: h m s, d m s). One RA number is degrees unless it carries ``h``; two or three
RA numbers are hours, minutes, seconds. Only the last part of RA or Dec may have decimals;
minutes and seconds are below 60; RA in [0, 360) degrees (hours below 24), Dec in [-90, 90].

PICIDs: ``"PICID 123"``, ``"TIC 123"``, ``"TIC ID 123"``, ``"TIC-123"``, ``"PIC 123"``
(explicit), or a bare unsigned integer ``"123"`` (one number alone cannot be coordinates,
which always need two).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "MAX_PICID",
    "PicidQuery",
    "SearchStringError",
    "SkyPosition",
    "parse_coordinates",
    "parse_picid",
]

#: Largest PICID accepted (the catalog's ids are int64).
MAX_PICID = 2**63 - 1

# Typographic marks folded onto ASCII before parsing.
_FOLD = str.maketrans(
    {
        "\u2212": "-",  # minus sign
        "\u2013": "-",  # en dash
        "\u2032": "'",  # prime
        "\u2019": "'",  # right single quote
        "\u2033": '"',  # double prime
        "\u201d": '"',  # right double quote
        "\u00ba": "°",  # masculine ordinal, often typed for a degree sign
    }
)
_COORDINATE_CHARS = re.compile(r"[0-9+\-.\s:,hmsd°'\"]+")
_STARTS_LIKE_NUMBER = re.compile(r"\s*,?\s*[+\-]?\s*\.?[0-9]")
_SEPARATOR = re.compile(r"[\s:]+")
_PART = re.compile(r"([+\-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*([hmsd°'\"]?)")
_EXPLICIT_PICID = re.compile(r"\s*(?:picid|pic|tic)(?:\s*id)?\s*[:#=\-]?\s*(\d+)\s*", re.I)
_BARE_PICID = re.compile(r"\s*(\d+)\s*")

_DEGREE_UNITS = ("d", "°")
_MINUTE_UNITS = ("", "m", "'")
_SECOND_UNITS = ("", "s", '"')


class SearchStringError(ValueError):
    """A search string that has the shape of coordinates or a PICID but is not valid."""


@dataclass(frozen=True)
class SkyPosition:
    """A position read from a search string.

    Attributes
    ----------
    ra, dec : float
        ICRS position, in degrees (RA in [0, 360)).
    form : str
        ``"decimal degrees"`` or ``"sexagesimal"``.
    """

    ra: float
    dec: float
    form: str


@dataclass(frozen=True)
class PicidQuery:
    """A PICID read from a search string.

    Attributes
    ----------
    picid : int
        The id.
    explicit : bool
        Whether the string named it a PICID or TIC id (``"PICID 123"``) rather than being a
        bare integer.
    """

    picid: int
    explicit: bool


@dataclass(frozen=True)
class _Part:
    sign: str
    number: str
    unit: str

    @property
    def value(self) -> float:
        return float(self.number)


def _split_parts(text: str) -> tuple[list[_Part], int | None]:
    """Cut ``text`` into signed numbers with units; return them and the comma's position."""
    parts: list[_Part] = []
    comma: int | None = None
    position = 0
    while position < len(text):
        separator = _SEPARATOR.match(text, position)
        if separator:
            position = separator.end()
            continue
        if text[position] == ",":
            if comma is not None:
                raise SearchStringError(
                    f"{text!r} has more than one comma: write RA, Dec with one comma"
                )
            comma = len(parts)
            position += 1
            continue
        part = _PART.match(text, position)
        if part is None:
            raise SearchStringError(
                f"{text!r} is not a coordinate form this service reads (at "
                f"{text[position:]!r}); examples: '303.21 46.02', '20:06:15.45 +44:27:24.8', "
                "'20h06m15.45s +44d27m24.8s'"
            )
        parts.append(_Part(*part.groups()))
        position = part.end()
    return parts, comma


def _cut(text: str, parts: list[_Part], comma: int | None) -> tuple[list[_Part], list[_Part]]:
    """Tell the RA parts from the Dec parts."""
    if comma is not None:
        cut = comma
    elif signed := [i for i, p in enumerate(parts) if i > 0 and p.sign]:
        cut = signed[0]
    elif degrees := [i for i, p in enumerate(parts) if i > 0 and p.unit in _DEGREE_UNITS]:
        cut = degrees[0]
    elif len(parts) in (2, 4, 6):
        cut = len(parts) // 2
    else:
        raise SearchStringError(
            f"cannot tell where RA ends and Dec begins in {text!r}: separate them with a "
            "comma or sign the Dec (+/-), e.g. '20 06 15.45 +44 27 24.8'"
        )
    ra, dec = parts[:cut], parts[cut:]
    if not ra or not dec:
        raise SearchStringError(f"{text!r} needs both RA and Dec, e.g. '303.21 46.02'")
    return ra, dec


def _sexagesimal(parts: list[_Part], what: str, text: str) -> float:
    """Combine 1 to 3 parts (whole units, minutes, seconds) into one unsigned value."""
    if len(parts) > 3:
        raise SearchStringError(f"{what} in {text!r} has {len(parts)} numbers; at most 3")
    for index, part in enumerate(parts):
        if index and part.sign:
            raise SearchStringError(f"{what} in {text!r} has a sign inside: only at its start")
        if index < len(parts) - 1 and "." in part.number:
            raise SearchStringError(
                f"{what} in {text!r}: only the last number may have decimals ({part.number})"
            )
    for index, allowed, name in ((1, _MINUTE_UNITS, "minutes"), (2, _SECOND_UNITS, "seconds")):
        if index < len(parts):
            if parts[index].unit not in allowed:
                raise SearchStringError(
                    f"{what} in {text!r}: {parts[index].number}{parts[index].unit} is in the "
                    f"place of {name}"
                )
            if parts[index].value >= 60:
                raise SearchStringError(
                    f"{what} in {text!r}: {name} {parts[index].number} must be below 60"
                )
    return sum(part.value / 60.0**index for index, part in enumerate(parts))


def _ra_degrees(parts: list[_Part], text: str) -> float:
    first = parts[0]
    if first.sign == "-":
        raise SearchStringError(f"RA in {text!r} is negative: RA runs from 0 to 360 degrees")
    if first.unit not in ("", "h", *_DEGREE_UNITS):
        raise SearchStringError(f"RA in {text!r} starts with {first.number}{first.unit}")
    hours = first.unit == "h" or (len(parts) > 1 and first.unit not in _DEGREE_UNITS)
    value = _sexagesimal(parts, "RA", text)
    if hours:
        if value >= 24:
            raise SearchStringError(f"RA in {text!r} is {value:g} hours: it must be below 24")
        return value * 15.0
    if value >= 360:
        raise SearchStringError(f"RA in {text!r} is {value:g} degrees: it must be below 360")
    return value


def _dec_degrees(parts: list[_Part], text: str) -> float:
    first = parts[0]
    if first.unit not in ("", *_DEGREE_UNITS):
        raise SearchStringError(
            f"Dec in {text!r} starts with {first.number}{first.unit}: Dec is in degrees"
        )
    value = _sexagesimal(parts, "Dec", text)
    if value > 90:
        raise SearchStringError(f"Dec in {text!r} is {value:g} degrees: it must be within +-90")
    return -value if first.sign == "-" else value


def parse_coordinates(text: str) -> SkyPosition | None:
    """Read a position from a search string.

    Parameters
    ----------
    text : str
        The search string (forms in the module docstring).

    Returns
    -------
    SkyPosition or None
        The position; None when ``text`` is not shaped like coordinates at all (it starts
        with a letter, or holds characters no coordinate form uses), so it may be a name.

    Raises
    ------
    SearchStringError
        When ``text`` is shaped like coordinates but is not valid (RA 400, minutes 75, one
        number only, ...), with a message naming the problem.
    """
    folded = text.translate(_FOLD).replace("''", '"').strip().lower()
    if not _COORDINATE_CHARS.fullmatch(folded) or not _STARTS_LIKE_NUMBER.match(folded):
        return None
    parts, comma = _split_parts(folded)
    if len(parts) < 2:
        raise SearchStringError(
            f"{text!r} is one number: give RA and Dec ('303.21 46.02') or a PICID ('PICID 123')"
        )
    ra_parts, dec_parts = _cut(text, parts, comma)
    ra = _ra_degrees(ra_parts, text)
    dec = _dec_degrees(dec_parts, text)
    decimal = len(ra_parts) == 1 and len(dec_parts) == 1 and ra_parts[0].unit != "h"
    return SkyPosition(ra=ra, dec=dec, form="decimal degrees" if decimal else "sexagesimal")


def parse_picid(text: str) -> PicidQuery | None:
    """Read a PICID from a search string.

    Parameters
    ----------
    text : str
        ``"PICID 123"``, ``"TIC 123"``, ``"TIC ID 123"``, ``"PIC 123"`` (any case, with an
        optional ``:``, ``#``, ``=`` or ``-`` before the number), or a bare unsigned integer.

    Returns
    -------
    PicidQuery or None
        The id, or None when ``text`` has neither form.

    Raises
    ------
    SearchStringError
        When the number is 0 or does not fit in 64 bits.
    """
    match = _EXPLICIT_PICID.fullmatch(text)
    explicit = match is not None
    match = match or _BARE_PICID.fullmatch(text)
    if match is None:
        return None
    picid = int(match.group(1))
    if not 0 < picid <= MAX_PICID:
        raise SearchStringError(f"PICID {match.group(1)} must be from 1 to {MAX_PICID}")
    return PicidQuery(picid=picid, explicit=explicit)
