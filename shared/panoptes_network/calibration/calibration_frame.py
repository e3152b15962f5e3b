"""What the images document of a frame says about its kind, for the calibration masters.

record-image tells each frame's kind (:func:`.frame_kind.frame_kind`: from ``IMAGETYP``,
``FIELD`` and the path) and records it on the image document with what decided it
(:func:`frame_kind_fields`). A dark, bias or flat also gets the facts its master's bins are
made of, so the masters can be planned from the documents alone, before any pixel is read:

- ``camera_temperature_c``: the sensor temperature, ``CAMTEMP`` (units write ``'15 C'``),
  in degrees Celsius; None when the header lacks it;
- ``night``: the night of the frame, ``YYYY-MM-DD`` (the local date of its evening, with
  local mean solar time from ``LONG-OBS``: :func:`.master_record.night_of`); UTC when the
  header has no longitude.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from panoptes_network.calibration.frame_kind import FrameKind
from panoptes_network.calibration.master_record import night_of
from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.frames.header_values import header_value, parse_date_obs

__all__ = ["frame_kind_fields", "site_longitude_deg", "sensor_temperature_c"]

_TEMPERATURE = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?)\s*(?:C|deg\s*C|degC|celsius)?\s*$", re.I)


def sensor_temperature_c(header: FitsHeader) -> float | None:
    """Return a frame's sensor temperature from its ``CAMTEMP`` card.

    Parameters
    ----------
    header : FitsHeader
        The frame's header (anything with ``get(keyword)``).

    Returns
    -------
    float or None
        Degrees Celsius: a number, or text such as ``'15 C'`` as units write it; None when
        the card is missing or holds something else.
    """
    value = header.get("CAMTEMP")
    if isinstance(value, str):
        found = _TEMPERATURE.match(value)
        return float(found.group(1)) if found else None
    return header_value(header, "CAMTEMP", float)


def site_longitude_deg(header: FitsHeader) -> float:
    """Return the site's longitude (``LONG-OBS``) in degrees east, 0 when unknown."""
    longitude = header_value(header, "LONG-OBS", float)
    if longitude is None or not -180.0 <= longitude <= 360.0:
        return 0.0
    return longitude - 360.0 if longitude > 180.0 else longitude


def frame_kind_fields(kind: FrameKind, header: FitsHeader, start: datetime) -> dict[str, Any]:
    """Return the images document fields of a frame's kind.

    Parameters
    ----------
    kind : FrameKind
        What the frame is and what said so.
    header : FitsHeader
        The frame's header.
    start : datetime
        Start of the exposure (aware UTC), used when the header has no ``DATE-OBS``.

    Returns
    -------
    dict
        ``frame_type`` (``science``, ``dark``, ``bias`` or ``flat``), ``frame_type_source``
        (``IMAGETYP``, ``FIELD``, ``path`` or ``default``) and ``frame_type_reason``; for a
        calibration frame also ``camera_temperature_c`` and ``night`` (module docstring).
    """
    fields: dict[str, Any] = {
        "frame_type": kind.type.value,
        "frame_type_source": kind.source,
        "frame_type_reason": kind.reason,
    }
    if kind.is_calibration:
        moment = parse_date_obs(header.get("DATE-OBS")) or start
        fields["camera_temperature_c"] = sensor_temperature_c(header)
        fields["night"] = night_of(moment, site_longitude_deg(header)).isoformat()
    return fields
