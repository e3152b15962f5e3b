"""A camera's registry entry, measured from its calibration frames by photon transfer.

The ``cameras/{camera_id}`` registry holds what a frame's header does not say: bias, gain
and read noise (and the white level and Bayer pattern for cameras whose headers lack them).
:func:`measure_camera` measures them from a camera's own calibration frames (told apart by
:func:`~panoptes_network.calibration.frame_kind.frame_kind`):

- **bias and read noise** from two bias frames (or the two shortest darks);
- **gain** by photon transfer from pairs of flats taken alike (consecutive in time, median
  levels within :data:`PAIR_LEVEL_TOLERANCE`: POCS adjusts twilight exposures to keep the
  level, so the pair's difference holds the shot noise and no flat-field structure), through
  :func:`~panoptes_network.calibration.photon_transfer.photon_transfer`;
- **saturation** from the pile-up of an over-exposed flat, when one is among them
  (:func:`~panoptes_network.calibration.photon_transfer.saturation_from_histogram`);
- the **Bayer pattern** from the frames' ``FILTER`` card, checked against the data: a flat's
  two green sites agree (:func:`~panoptes_network.calibration.photon_transfer.green_diagonal`),
  so a pattern that puts green on the other diagonal is refused (the frames are flipped or
  cropped by an odd row or column).

Every value records where it was measured (``<name>_source``), and a frame's constants
resolved from the entry say so (``registry: cameras/14d3bd (photon transfer of ...)``).
:func:`registry_entry` checks values given by hand the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from panoptes_network.calibration.frame_kind import FrameType, frame_kind
from panoptes_network.calibration.photon_transfer import (
    green_diagonal,
    pattern_diagonal,
    photon_transfer,
    saturation_from_histogram,
)
from panoptes_network.frames.camera import BAYER_PATTERNS
from panoptes_network.frames.camera_constants import CONSTANTS, checked_constant
from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.frames.header_values import header_value

__all__ = [
    "PAIR_LEVEL_TOLERANCE",
    "CalibrationFrameFile",
    "CameraMeasurement",
    "measure_camera",
    "registry_entry",
]

#: Largest relative difference of the median levels of two flats paired for photon transfer.
PAIR_LEVEL_TOLERANCE = 0.03


@dataclass(frozen=True)
class CalibrationFrameFile:
    """One frame given to :func:`measure_camera`.

    Attributes
    ----------
    name : str
        Where it came from (a file or object name), for messages.
    header : FitsHeader
        Its header.
    pixels : numpy.ndarray
        Its raw Bayer pixels (ADU).
    """

    name: str
    header: FitsHeader
    pixels: np.ndarray


@dataclass(frozen=True)
class CameraMeasurement:
    """What :func:`measure_camera` found.

    Attributes
    ----------
    entry : dict
        The registry entry (values and ``<name>_source``).
    biases : list of str
        The frames used as biases.
    flat_pairs : list of (str, str)
        The flats paired for photon transfer.
    gain_scatter : float
        Relative scatter of the gain between the Bayer planes.
    notes : list of str
        Frames left out and why; constants not measured.
    green_diagonal : str or None
        The diagonal of the 2 x 2 cell (FITS array) the flats show green on (``"main"`` or
        ``"anti"``), None when their levels did not tell.
    """

    entry: dict[str, Any]
    biases: list[str]
    flat_pairs: list[tuple[str, str]]
    gain_scatter: float
    notes: list[str] = field(default_factory=list)
    green_diagonal: str | None = None


def registry_entry(values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Return a registry entry from values given by name, each checked.

    Parameters
    ----------
    values : mapping
        Some of :data:`~panoptes_network.frames.camera_constants.CONSTANTS` (ADU, e-/ADU,
        e-, pattern); None values are left out.
    source : str
        Where they come from, recorded beside each (``<name>_source``).

    Returns
    -------
    dict
        The checked values and their sources.

    Raises
    ------
    ValueError
        For an unknown name or an unusable value (named), or an empty source.
    """
    if not source.strip():
        raise ValueError("say where the values come from (a source)")
    entry: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name not in CONSTANTS:
            raise ValueError(f"{name!r} is not a camera constant; expected one of {CONSTANTS}")
        usable = checked_constant(name, value)
        if usable is None:
            raise ValueError(f"{name} = {value!r} is not a usable value")
        entry[name] = usable
        entry[f"{name}_source"] = source
    if "saturation_adu" in entry and "bias_adu" in entry:
        if float(entry["saturation_adu"]) <= float(entry["bias_adu"]):
            raise ValueError(
                f"saturation {entry['saturation_adu']} ADU is not above the bias "
                f"{entry['bias_adu']} ADU"
            )
    return entry


def _level(pixels: np.ndarray) -> float:
    rows, cols = pixels.shape
    return float(np.median(pixels[rows // 4 : 3 * rows // 4, cols // 4 : 3 * cols // 4]))


def _check_phase(
    camera_id: str, flat: np.ndarray, bias: float, pattern: str | None
) -> tuple[str | None, list[str]]:
    """Return the flat's green diagonal and notes; raise when the pattern contradicts it."""
    rows = flat.shape[0]
    diagonal = green_diagonal(flat, bias)
    if diagonal is None:
        return None, ["the flat's levels do not show which sites are green: pattern unchecked"]
    if pattern is None:
        fits = " or ".join(p for p in BAYER_PATTERNS if pattern_diagonal(p, rows) == diagonal)
        return diagonal, [f"the flats show green on the {diagonal} diagonal of the cell ({fits})"]
    expected = pattern_diagonal(pattern, rows)
    if expected != diagonal:
        raise ValueError(
            f"camera {camera_id}: FILTER = {pattern} puts green on the {expected} diagonal of "
            f"the 2 x 2 cell, but the flats' equal sites are on the {diagonal} one: the frames "
            "are flipped or cropped by an odd row or column, or FILTER is wrong"
        )
    return diagonal, []


def _time(frame: CalibrationFrameFile) -> str:
    return str(frame.header.get("DATE-OBS") or "")


def measure_camera(
    frames: Sequence[CalibrationFrameFile], camera_id: str, *, pattern_required: bool = True
) -> CameraMeasurement:
    """Measure a camera's registry entry from its calibration frames.

    Parameters
    ----------
    frames : sequence of CalibrationFrameFile
        The camera's bias or dark frames and flats (science frames are left out).
    camera_id : str
        The camera.
    pattern_required : bool, optional
        Whether frames without a ``FILTER`` card are an error. When False the entry has no
        Bayer pattern and a note says so (the pattern then comes from the registry).

    Returns
    -------
    CameraMeasurement
        The entry and what it was measured from.

    Raises
    ------
    ValueError
        Without two bias (or dark) frames, a pair of flats, or a Bayer pattern; the message
        says what is missing.
    """
    notes: list[str] = []
    darks, flats = [], []
    for frame in frames:
        kind = frame_kind(frame.header, frame.name)
        if kind.type in (FrameType.BIAS, FrameType.DARK):
            darks.append((header_value(frame.header, "EXPTIME", float) or 0.0, frame))
        elif kind.type == FrameType.FLAT:
            flats.append(frame)
        else:
            notes.append(f"{frame.name}: a science frame, left out")
    if len(darks) < 2:
        raise ValueError(
            f"camera {camera_id}: photon transfer needs two bias (or dark) frames, "
            f"found {len(darks)}"
        )
    darks.sort(key=lambda item: (item[0], _time(item[1])))
    biases = [darks[0][1], darks[1][1]]
    patterns = {str(header_value(f.header, "FILTER") or "").strip().upper() for f in frames}
    patterns.discard("")
    pattern: str | None = None
    if len(patterns) > 1 or (pattern_required and not patterns):
        raise ValueError(
            f"camera {camera_id}: the frames' FILTER cards give {sorted(patterns) or 'no'} "
            "Bayer pattern; one is needed"
        )
    if patterns:
        (pattern,) = patterns
        if checked_constant("bayer_pattern", pattern) is None:
            raise ValueError(f"camera {camera_id}: FILTER = {pattern!r} is not a Bayer pattern")
    else:
        notes.append("no FILTER card: the Bayer pattern is not measured")
    saturation = None
    usable = []
    for flat in sorted(flats, key=_time):
        white = saturation_from_histogram(flat.pixels)
        if white is not None:
            saturation = white if saturation is None else max(saturation, white)
            notes.append(f"{flat.name}: over-exposed, used for the white level only")
        else:
            usable.append(flat)
    pairs: list[tuple[CalibrationFrameFile, CalibrationFrameFile]] = []
    index = 0
    while index + 1 < len(usable):
        first, second = usable[index], usable[index + 1]
        level_1, level_2 = _level(first.pixels), _level(second.pixels)
        if abs(level_1 - level_2) <= PAIR_LEVEL_TOLERANCE * max(level_1, level_2):
            pairs.append((first, second))
            index += 2
        else:
            notes.append(f"{first.name}: no flat taken alike next to it, left out")
            index += 1
    if not pairs:
        raise ValueError(
            f"camera {camera_id}: photon transfer needs a pair of consecutive flats at levels "
            f"within {PAIR_LEVEL_TOLERANCE:.0%}; found {len(flats)} flat(s)"
        )
    result = photon_transfer(
        (biases[0].pixels, biases[1].pixels),
        [(a.pixels, b.pixels) for a, b in pairs],
        # The gain and read noise are those of every site of the 2 x 2 cell: which colour a
        # site holds does not change them, so an unknown pattern only names the sites.
        pattern=pattern or "RGGB",
    )
    diagonal, phase_notes = _check_phase(camera_id, pairs[0][0].pixels, result.bias_adu, pattern)
    notes.extend(phase_notes)
    times = sorted(t for t in (_time(f) for f in [*biases, *(f for p in pairs for f in p)]) if t)
    span = f", {times[0]} to {times[-1]}" if times else ""
    source = f"photon transfer of 2 bias frames and {len(pairs)} flat pair(s){span}"
    values: dict[str, Any] = {
        "bias_adu": round(result.bias_adu, 2),
        "gain_e_per_adu": round(result.gain_e_per_adu, 4),
        "read_noise_e": round(result.read_noise_e, 3),
        "bayer_pattern": pattern,
    }
    entry = registry_entry(values, source)
    if pattern is not None:
        entry["bayer_pattern_source"] = "the frames' FILTER card"
    if saturation is not None:
        entry.update(
            registry_entry({"saturation_adu": saturation}, "pile-up of an over-exposed flat")
        )
    else:
        notes.append("no over-exposed flat: the white level is not measured")
    return CameraMeasurement(
        entry={"camera_id": camera_id, **entry},
        biases=[b.name for b in biases],
        flat_pairs=[(a.name, b.name) for a, b in pairs],
        gain_scatter=result.gain_scatter,
        notes=notes,
        green_diagonal=diagonal,
    )
