"""A frame's camera constants, resolved from its header, a measurement or the camera registry.

PANOPTES units carry different Canon bodies: their black levels, white levels, gains and read
noises differ (real headers hold white levels of 11435, 11765, 11892 and 12277 ADU). So no
constant of a camera is a fleet-wide default. Each of :data:`CONSTANTS` is resolved per
frame, in this order, and records where it came from (:class:`Resolved`):

1. the frame's **header**, where it has the constant (:data:`HEADER_CARDS`): the Canon
   white level ``WHTLVLN`` (or ``SATURATE``) as saturation, the colour filter array
   ``FILTER`` as the Bayer pattern, the black level ``BLKLEVEL`` a frame made from a camera
   raw file carries as bias, and the usual ``GAIN`` and ``RDNOISE`` cards where a unit
   writes them;
2. else a **measurement** of this camera (bias from dark or bias frames, saturation from the
   pixel histogram, gain and read noise by photon transfer from flat pairs), passed in by
   the caller with its own source;
3. else the **camera registry**: the ``cameras/{camera_id}`` document (fields named as
   :data:`CONSTANTS`, optional ``<name>_source`` saying where the value was measured);
4. else :class:`MissingCameraConstant`, whose message names the constant and the camera: the
   frame fails loudly (``status: "calibration_error"``) and its file is kept.

A header value that contradicts the registry by more than :data:`REGISTRY_TOLERANCE` is used
(the header describes this frame) and reported as a warning
(:attr:`CameraConstants.warnings`), to be recorded on the image document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from panoptes_network.frames.camera import BAYER_PATTERNS
from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.frames.header_values import header_value

__all__ = [
    "CONSTANTS",
    "HEADER_CARDS",
    "REGISTRY_TOLERANCE",
    "CameraConstants",
    "ConstantSource",
    "MissingCameraConstant",
    "Resolved",
    "checked_constant",
    "resolve_camera_constants",
]

#: The constants of a camera: bias (black level, ADU), saturation (the highest linear value,
#: bias included, ADU), gain (electrons per ADU), read noise (RMS electrons per pixel) and the
#: Bayer pattern (read from the top-left of the upright image, e.g. ``"RGGB"``).
CONSTANTS: tuple[str, ...] = (
    "bias_adu",
    "saturation_adu",
    "gain_e_per_adu",
    "read_noise_e",
    "bayer_pattern",
)
#: Header cards that hold a constant, tried in order.
HEADER_CARDS: Mapping[str, tuple[str, ...]] = {
    "bias_adu": ("BLKLEVEL",),
    "saturation_adu": ("WHTLVLN", "SATURATE"),
    "gain_e_per_adu": ("GAIN",),
    "read_noise_e": ("RDNOISE",),
    "bayer_pattern": ("FILTER",),
}
#: Relative difference between a header value and the registry's beyond which it is reported.
REGISTRY_TOLERANCE = 0.01
#: Highest ADU a 14-bit raw pixel holds.
_MAX_ADU = 16383.0


class ConstantSource:
    """Values of :attr:`Resolved.source`."""

    HEADER = "header"
    MEASURED = "measured"
    REGISTRY = "registry"


@dataclass(frozen=True)
class Resolved:
    """One resolved constant.

    Attributes
    ----------
    value : float or str
        The value (units of its name; the Bayer pattern is text).
    source : str
        :class:`ConstantSource`: ``header``, ``measured`` or ``registry``.
    detail : str
        Where exactly: the header card (``WHTLVLN``), the measurement, or the registry
        document (``cameras/14d3bd``, with its recorded source).
    """

    value: float | str
    source: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the record stored on the image document."""
        return {"value": self.value, "source": self.source, "detail": self.detail}


class MissingCameraConstant(ValueError):
    """A constant the header, the measurements and the registry all lack (or hold unusable).

    Attributes
    ----------
    name : str
        The constant (one of :data:`CONSTANTS`).
    camera_id : str
        The camera.
    """

    def __init__(self, name: str, camera_id: str, why: str = "") -> None:
        self.name, self.camera_id = name, camera_id
        super().__init__(
            f"camera {camera_id}: no {name} in the frame's header"
            f"{' (' + ', '.join(HEADER_CARDS[name]) + ')' if name in HEADER_CARDS else ''}, "
            f"no measurement and none in the camera registry (cameras/{camera_id})"
            f"{': ' + why if why else ''}"
        )


@dataclass(frozen=True)
class CameraConstants:
    """Every constant of a frame's camera, each with where it came from.

    Attributes
    ----------
    camera_id : str
        The camera.
    values : dict
        :class:`Resolved` per name of :data:`CONSTANTS`.
    warnings : list of str
        Header values that contradict the registry.
    """

    camera_id: str
    values: Mapping[str, Resolved]
    warnings: tuple[str, ...] = field(default=())

    def __getitem__(self, name: str) -> float | str:
        return self.values[name].value

    def to_record(self) -> dict[str, Any]:
        """Return the ``camera_constants`` record of the image document."""
        return {name: self.values[name].to_dict() for name in CONSTANTS}

    def summary(self) -> dict[str, Any]:
        """Return ``{name: value}`` and ``{name}_source`` (``header: WHTLVLN``...) per constant.

        Returns
        -------
        dict
            Plain values, for a table's metadata.
        """
        out: dict[str, Any] = {}
        for name in CONSTANTS:
            resolved = self.values[name]
            out[name] = resolved.value
            out[f"{name}_source"] = f"{resolved.source}: {resolved.detail}"
        return out


def checked_constant(name: str, value: Any) -> float | str | None:
    """Return a usable value of a constant, or None (wrong type, not finite, out of range).

    Parameters
    ----------
    name : str
        One of :data:`CONSTANTS`.
    value : Any
        The value (ADU, e-/ADU, e-, or the Bayer pattern's letters).

    Returns
    -------
    float or str or None
        The value as a float (the pattern upper-case), or None when unusable.
    """
    if name == "bayer_pattern":
        text = value.strip().upper() if isinstance(value, str) else None
        return text if text in BAYER_PATTERNS else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    if name in ("bias_adu", "saturation_adu"):
        return number if 0.0 <= number <= _MAX_ADU and (number > 0 or name == "bias_adu") else None
    return number if number > 0 else None


def _from_header(header: FitsHeader | None) -> dict[str, Resolved]:
    found: dict[str, Resolved] = {}
    if header is None:
        return found
    for name, cards in HEADER_CARDS.items():
        for card in cards:
            value = checked_constant(name, header_value(header, card))
            if value is not None:
                found[name] = Resolved(value, ConstantSource.HEADER, card)
                break
    return found


def _from_registry(camera_id: str, entry: Mapping[str, Any] | None) -> dict[str, Resolved]:
    found: dict[str, Resolved] = {}
    for name in CONSTANTS:
        value = checked_constant(name, (entry or {}).get(name))
        if value is not None:
            note = (entry or {}).get(f"{name}_source")
            detail = f"cameras/{camera_id}" + (f" ({note})" if isinstance(note, str) else "")
            found[name] = Resolved(value, ConstantSource.REGISTRY, detail)
    return found


def _contradiction(name: str, header: Resolved, registry: Resolved) -> str | None:
    if isinstance(header.value, str) or isinstance(registry.value, str):
        differs = header.value != registry.value
    else:
        differs = abs(header.value - registry.value) > REGISTRY_TOLERANCE * abs(registry.value)
    if not differs:
        return None
    return (
        f"{name}: the header's {header.detail} says {header.value}, the registry "
        f"({registry.detail}) {registry.value}; the header's value is used"
    )


def resolve_camera_constants(
    camera_id: str,
    header: FitsHeader | None,
    *,
    measured: Mapping[str, Resolved] | None = None,
    registry: Mapping[str, Any] | None = None,
) -> CameraConstants:
    """Resolve every camera constant of a frame: header, else measured, else registry.

    Parameters
    ----------
    camera_id : str
        The frame's camera (``INSTRUME``, the path's camera id).
    header : FitsHeader or None
        The frame's header.
    measured : mapping, optional
        Measurements of this camera (:class:`Resolved` with source ``measured``) by name.
    registry : mapping, optional
        The camera's registry document ``cameras/{camera_id}`` (None when there is none).

    Returns
    -------
    CameraConstants
        Each constant with its source; warnings where the header contradicts the registry.

    Raises
    ------
    MissingCameraConstant
        For the first constant (in the order of :data:`CONSTANTS`) found nowhere.
    """
    from_header = _from_header(header)
    from_registry = _from_registry(camera_id, registry)
    values: dict[str, Resolved] = {}
    warnings: list[str] = []
    for name in CONSTANTS:
        choice = from_header.get(name)
        if choice is None and measured is not None and name in measured:
            candidate = measured[name]
            if checked_constant(name, candidate.value) is not None:
                choice = candidate
        choice = choice or from_registry.get(name)
        if choice is None:
            why = "the registry's value is unusable" if registry and name in registry else ""
            raise MissingCameraConstant(name, camera_id, why)
        if choice.source == ConstantSource.HEADER and name in from_registry:
            warning = _contradiction(name, choice, from_registry[name])
            if warning is not None:
                warnings.append(warning)
        values[name] = choice
    saturation, bias = values["saturation_adu"].value, values["bias_adu"].value
    if float(saturation) <= float(bias):
        raise MissingCameraConstant(
            "saturation_adu",
            camera_id,
            f"saturation {saturation} ADU is not above the bias {bias} ADU",
        )
    return CameraConstants(camera_id, values, tuple(warnings))
