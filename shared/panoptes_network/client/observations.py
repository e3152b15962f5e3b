"""Observations as a table: the query a search sends, and the DataFrame its pages make.

The columns of :func:`observations_frame`, in order (times are UTC datetimes; a value the
record lacks is NaN, NaT or ``<NA>``):

============================  ==========================================================
``sequence_id``               ``<UNIT>_<CAMERA>_<SEQSTART>``, the observation's id
``unit_id``, ``camera_id``    the unit (``PAN001``) and the camera that took it
``time``                      start of the observation
``status``                    the record's status, e.g. ``receiving_files``
``field_name``                the target field the unit observed
``exptime``                   exposure time of a frame, s
``num_images``                frames recorded (Int64)
``exposure_minutes``          the frames' exposure in total, min
``ra``, ``dec``               centre of the solved field, deg (NaN until plate solved)
``distance_deg``              angle from the centre of a cone or name search, deg (NaN
                              for other searches)
``software_version``          the unit's software
``received_time``             when the network received its first frame
``last_image_received_time``  when it received its latest frame
============================  ==========================================================

Fields the API adds later follow these columns.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

import pandas as pd

from panoptes_network.client._tables import typed_frame

__all__ = [
    "FRAME_COLUMNS",
    "OBSERVATION_COLUMNS",
    "ORDERS",
    "frames_frame",
    "observations_frame",
    "search_parameters",
]

#: Columns of :func:`observations_frame` and their kinds (see :data:`._tables.DTYPES`).
OBSERVATION_COLUMNS: Mapping[str, str] = {
    "sequence_id": "text",
    "unit_id": "text",
    "camera_id": "text",
    "time": "time",
    "status": "text",
    "field_name": "text",
    "exptime": "float",
    "num_images": "int",
    "exposure_minutes": "float",
    "ra": "float",
    "dec": "float",
    "distance_deg": "float",
    "software_version": "text",
    "received_time": "time",
    "last_image_received_time": "time",
}

#: Columns of :func:`frames_frame` and their kinds: the frames of one observation.
FRAME_COLUMNS: Mapping[str, str] = {
    "image_id": "text",
    "time": "time",
    "status": "text",
    "solved": "bool",
    "exptime": "float",
    "airmass": "float",
    "ra_image": "float",
    "dec_image": "float",
    "public_url": "text",
    "preview_url": "text",
}

#: What a search may be ordered by: start time, or frames recorded.
ORDERS = ("time", "num_images")


def observations_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Return observation rows of the API as a DataFrame.

    Parameters
    ----------
    rows : sequence of Mapping
        Rows of ``/api/v1/observations`` (``observations`` of each page).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`OBSERVATION_COLUMNS` (see the module docstring), one row per
        observation; no rows but the same columns and dtypes when there are none.
    """
    return typed_frame(rows, OBSERVATION_COLUMNS)


def frames_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Return frame rows of ``/api/v1/observations/<sequence_id>`` as a DataFrame.

    Parameters
    ----------
    rows : sequence of Mapping
        ``frames`` of each page of an observation.

    Returns
    -------
    pandas.DataFrame
        ``image_id``, ``time`` (start of the exposure, UTC), ``status``, ``solved``,
        ``exptime`` (s), ``airmass``, ``ra_image`` and ``dec_image`` (solved centre, deg),
        ``public_url`` (the stored ``.fits.fz``) and ``preview_url`` (a JPEG, camera raw
        uploads only); one row per frame.
    """
    return typed_frame(rows, FRAME_COLUMNS)


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be non-empty text, not {value!r}")
    return value.strip()


def _degrees(name: str, value: Any) -> str | None:
    """Return an angle as decimal text in degrees: a number, or an astropy Quantity or Angle."""
    if value is None:
        return None
    if hasattr(value, "to_value"):
        value = value.to_value("deg")
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number of degrees, not {value!r}")
    try:
        degrees = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of degrees, not {value!r}") from None
    if not math.isfinite(degrees):
        raise ValueError(f"{name} must be a finite number of degrees, not {value!r}")
    # Plain decimals, at most 10 places (0.4 milliarcsecond): the API takes no exponent.
    return f"{degrees:.10f}".rstrip("0").rstrip(".")


def _time(name: str, value: Any) -> str | None:
    """Return a time as the API reads it: text as given, a date as YYYY-MM-DD, else ISO UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        return _text(name, value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a date, a datetime or ISO 8601 text, not {value!r}"
        ) from None
    if pd.isna(moment):
        raise ValueError(f"{name} must be a time, not {value!r}")
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return moment.to_pydatetime(warn=False).astimezone(timezone.utc).isoformat()


def _whole(name: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise TypeError(name)
        return str(operator.index(value))
    except TypeError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None


def search_parameters(
    *,
    name: str | None = None,
    ra: Any = None,
    dec: Any = None,
    radius: Any = None,
    unit: str | None = None,
    camera: str | None = None,
    status: str | None = None,
    since: Any = None,
    until: Any = None,
    min_images: int | None = None,
    order: str = "time",
    descending: bool = True,
) -> dict[str, str]:
    """Return the query of ``/api/v1/observations`` for a search, without its paging.

    Checks only what the API cannot say better: types, and that ``ra`` and ``dec`` come
    together. Ranges (a declination beyond 90 deg, ``until`` before ``since``) are the API's
    to refuse, with its message.

    Parameters
    ----------
    name : str, optional
        A target name the explorer's offline table knows (``M42``, ``KIC 8462852``), or
        coordinates as text: the centre of a cone search.
    ra, dec : float or astropy Quantity, optional
        Centre of a cone search, deg (both or neither).
    radius : float or astropy Quantity, optional
        Radius of the cone (or around the named target), deg.
    unit, camera, status : str, optional
        Only observations of that unit id, camera id, or status.
    since, until : str, date, datetime or pandas.Timestamp, optional
        Only observations that started at or after ``since`` and before ``until``. A date
        (``2020-01-08`` or a ``date``) means midnight UTC for ``since`` and includes that
        whole day for ``until``; a naive datetime is UTC.
    min_images : int, optional
        Only observations with at least that many frames.
    order : str
        ``time`` (start) or ``num_images``.
    descending : bool
        Newest (largest) first.

    Returns
    -------
    dict
        Parameter name to text; parameters not given are left out (the API refuses unknown
        ones and reads an empty one as none).

    Raises
    ------
    ValueError
        For a value of the wrong type, an unknown order, or only one of ``ra`` and ``dec``.
    """
    if (ra is None) != (dec is None):
        raise ValueError("ra and dec go together: give both (degrees) for a cone search")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if not isinstance(descending, bool):
        raise ValueError(f"descending must be True or False, not {descending!r}")
    query = {
        "name": _text("name", name),
        "ra": _degrees("ra", ra),
        "dec": _degrees("dec", dec),
        "radius": _degrees("radius", radius),
        "unit": _text("unit", unit),
        "camera": _text("camera", camera),
        "status": _text("status", status),
        "since": _time("since", since),
        "until": _time("until", until),
        "min_images": _whole("min_images", min_images),
    }
    out = {key: value for key, value in query.items() if value is not None}
    if order != "time":
        out["order"] = order
    if not descending:
        out["direction"] = "asc"
    return out
