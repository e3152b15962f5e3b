"""What a frame is: science, dark, bias or flat, told from its header and its path.

Units take calibration frames the way POCS takes them, and upload them like any other frame
(``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.fits``). They are archived and recorded, but neither
plate-solved nor measured as science; they feed the calibration masters (:mod:`.masters`).

Convention
----------
POCS marks calibration frames in two places:

- the ``IMAGETYP`` card, written by the camera code: ``'Dark Frame'`` when the exposure was
  taken dark (a ``DarkObservation`` or ``BiasObservation``), ``'Light Frame'`` otherwise
  (science frames *and* twilight flats). Old frames (before 2020 or so) have no ``IMAGETYP``;
- the ``FIELD`` card, the observation's field name: ``Dark`` for a dark observation,
  ``Bias`` for a bias observation, ``EveningFlat`` / ``MorningFlat`` (``FlatField`` by
  default) for twilight flats. POCS also files them locally under a folder of that name
  (``images/dark/``, ``images/bias/``, ``images/EveningFlat/``), which old units uploaded as
  the field part of a 5-part bucket path (``PAN001/EveningFlat/14d3bd/...``).

:func:`frame_kind` decides in this order and says which card or path part decided:

1. ``IMAGETYP``: a dark value (``Dark Frame``, ``Dark``) makes a **dark**, or a **bias**
   when ``EXPTIME`` is at most :data:`BIAS_MAX_EXPTIME_S` or ``FIELD`` names a bias; a bias
   value (``Bias Frame``, ``Bias``, ``Zero``) a **bias**; a flat value (``Flat Field``,
   ``Flat``, ``Sky Flat``, ...) a **flat**. A light value (``Light Frame``, ``Light``,
   ``Object``) is a **flat** when ``FIELD`` names a flat and **science** otherwise (a light
   frame whose ``FIELD`` names a dark or bias is science: the card about the shutter wins,
   and the reason says so).
2. Else ``FIELD``: a dark, bias or flat name (:func:`calibration_name`; case, spaces,
   underscores and dashes ignored): ``Dark``/``Darks``, ``Bias``/``Biases``/``Zero``,
   ``Flat``, ``Flats``, ``FlatField``, ``EveningFlat``, ``MorningFlat``, ``TwilightFlat``,
   ``SkyFlat``, ``DomeFlat``. A ``Dark`` of at most :data:`BIAS_MAX_EXPTIME_S` is a bias.
3. Else the path: a folder part with such a name (the legacy 5-part bucket path's field
   part, or the unit's local ``images/<name>/`` folder).
4. Else **science**.

A field of the sky is never taken for a calibration: names must match whole (``Darkstar``
or ``Flatiron`` are science targets).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.frames.header_values import header_value

__all__ = [
    "BIAS_MAX_EXPTIME_S",
    "FrameKind",
    "FrameType",
    "calibration_name",
    "frame_kind",
]

#: Longest exposure taken as a bias rather than a dark, in seconds: a DSLR cannot take a
#: 0 s exposure (its shortest is 1/4000 s), and dark current is nil in 10 ms.
BIAS_MAX_EXPTIME_S: float = 0.01


class FrameType(str, Enum):
    """The kinds of frame a unit uploads."""

    SCIENCE = "science"
    DARK = "dark"
    BIAS = "bias"
    FLAT = "flat"


@dataclass(frozen=True)
class FrameKind:
    """What a frame is, and what said so.

    Attributes
    ----------
    type : FrameType
        Science, dark, bias or flat.
    source : str
        What decided: ``"IMAGETYP"``, ``"FIELD"``, ``"path"`` or ``"default"``.
    reason : str
        The card or path part and its value, in words (for logs and the image document).
    """

    type: FrameType
    source: str
    reason: str

    @property
    def is_calibration(self) -> bool:
        """True for darks, biases and flats (archived and recorded, not solved or measured)."""
        return self.type is not FrameType.SCIENCE


_DARK_TYPES = {"darkframe", "dark", "darks"}
_BIAS_TYPES = {"biasframe", "bias", "biases", "zero", "zeroframe"}
_FLAT_TYPES = {"flatfield", "flat", "flatframe", "flats", "skyflat", "domeflat", "twilightflat"}
_LIGHT_TYPES = {"lightframe", "light", "object", "science"}
_FLAT_NAME = re.compile(r"(evening|morning|twilight|sky|dome)?flat(field)?s?")
_SEPARATORS = re.compile(r"[\s_\-.]+")


def _normalised(text: str) -> str:
    return _SEPARATORS.sub("", text).lower()


def calibration_name(name: str | None) -> FrameType | None:
    """Return the calibration kind a field or folder name stands for, or None.

    Parameters
    ----------
    name : str or None
        A ``FIELD`` value or a path part (case, spaces, ``_``, ``-`` and ``.`` ignored).

    Returns
    -------
    FrameType or None
        ``DARK`` for ``Dark``/``Darks``, ``BIAS`` for ``Bias``/``Biases``/``Zero``, ``FLAT``
        for ``Flat``, ``FlatField``, ``EveningFlat``, ``MorningFlat``, ``TwilightFlat``,
        ``SkyFlat``, ``DomeFlat`` (and plurals); None for anything else (a sky field).
    """
    if not isinstance(name, str):
        return None
    text = _normalised(name)
    if text in ("dark", "darks"):
        return FrameType.DARK
    if text in ("bias", "biases", "zero"):
        return FrameType.BIAS
    if _FLAT_NAME.fullmatch(text):
        return FrameType.FLAT
    return None


def _dark_or_bias(
    exptime: float | None, field_kind: FrameType | None, source: str, said: str
) -> FrameKind:
    if field_kind is FrameType.BIAS:
        return FrameKind(FrameType.BIAS, source, f"{said} and FIELD names a bias")
    if exptime is not None and exptime <= BIAS_MAX_EXPTIME_S:
        return FrameKind(
            FrameType.BIAS, source, f"{said} with EXPTIME {exptime:g} s <= {BIAS_MAX_EXPTIME_S} s"
        )
    return FrameKind(FrameType.DARK, source, said)


def _path_kind(path: str | None) -> tuple[FrameType, str] | None:
    if not path:
        return None
    folders = [part for part in str(path).replace("\\", "/").split("/")[:-1] if part]
    for part in folders:
        kind = calibration_name(part)
        if kind is not None:
            return kind, part
    return None


def frame_kind(header: FitsHeader | Mapping[str, Any], path: str | None = None) -> FrameKind:
    """Tell a science frame from a dark, bias or flat (the convention of the module docstring).

    Parameters
    ----------
    header : FitsHeader or Mapping
        The frame's primary header (anything with ``get(keyword)``).
    path : str, optional
        The object name in the bucket or a local path; its folder parts are the last resort.

    Returns
    -------
    FrameKind
        The kind, what decided it and why.
    """
    exptime = header_value(header, "EXPTIME", float)
    field_name = header_value(header, "FIELD", str)
    field_kind = calibration_name(field_name)
    image_type = header_value(header, "IMAGETYP", str)
    unknown_type = ""
    if image_type is not None:
        said = f"IMAGETYP = {image_type!r}"
        value = _normalised(image_type)
        if value in _DARK_TYPES:
            return _dark_or_bias(exptime, field_kind, "IMAGETYP", said)
        if value in _BIAS_TYPES:
            return FrameKind(FrameType.BIAS, "IMAGETYP", said)
        if value in _FLAT_TYPES:
            return FrameKind(FrameType.FLAT, "IMAGETYP", said)
        if value in _LIGHT_TYPES:
            if field_kind is FrameType.FLAT:
                return FrameKind(FrameType.FLAT, "FIELD", f"{said} and FIELD = {field_name!r}")
            if field_kind is not None:
                return FrameKind(
                    FrameType.SCIENCE,
                    "IMAGETYP",
                    f"{said} although FIELD = {field_name!r} names a {field_kind.value}: "
                    "the shutter card wins",
                )
            return FrameKind(FrameType.SCIENCE, "IMAGETYP", said)
        unknown_type = f" (IMAGETYP = {image_type!r} is not a known frame type)"
    if field_kind is FrameType.DARK:
        return _dark_or_bias(exptime, None, "FIELD", f"FIELD = {field_name!r}{unknown_type}")
    if field_kind is not None:
        return FrameKind(field_kind, "FIELD", f"FIELD = {field_name!r}{unknown_type}")
    found = _path_kind(path)
    if found is not None:
        kind, part = found
        said = f"path folder {part!r} of {path!r}{unknown_type}"
        if kind is FrameType.DARK:
            return _dark_or_bias(exptime, None, "path", said)
        return FrameKind(kind, "path", said)
    return FrameKind(
        FrameType.SCIENCE,
        "default",
        f"no IMAGETYP, FIELD or path part names a calibration{unknown_type}",
    )
