"""The request of a build-lightcurve run: which observation, and how to process it.

A request is the JSON message ``{"sequence_id": "<UNIT>_<CAMERA>_<SEQSTART>", "options":
{...}}``. :func:`parse_request` checks it and returns a :class:`LightcurveRequest` whose
:class:`LightcurveOptions` are the effective options (defaults filled in); anything wrong
raises :class:`~panoptes_network.pipeline.errors.PermanentFailure` with a message naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from panoptes_network.frames.bucket_path import parse_timestamp, split_id
from panoptes_network.lightcurves.stacking import COLOURS
from panoptes_network.pipeline.errors import PermanentFailure

__all__ = ["OPTION_RULES", "LightcurveOptions", "LightcurveRequest", "parse_request"]


@dataclass(frozen=True)
class LightcurveOptions:
    """How one observation is processed.

    See :func:`.frame_quality.assess_frames` and
    :func:`.ensemble.differential_lightcurves`.

    Attributes
    ----------
    min_stars : int
        Fewest usable stars in a kept frame.
    cloud_threshold : float
        Lowest median flux ratio of a kept frame (dimensionless, 0 to 1).
    focus_threshold : float
        Largest median star FWHM of a kept frame, over the observation's median (the median
        of the frames' medians); dimensionless, above 1.
    n_comparisons : int
        Comparison stars per target.
    colours : tuple of str
        Bayer colours processed (r, g, b), in that order.
    detrend : bool
        Correct trends the differential photometry leaves, by cotrending (each star's trend
        predicted from its comparison stars; applied in a colour only when it lowers the
        quiet stars' held-out scatter).
    min_coverage : float
        Fraction of the kept frames a star needs to get a light curve.
    clip_sigma : float
        Outlier threshold, robust sigmas.
    min_frames : int
        Fewest kept frames a run needs.
    """

    min_stars: int = 50
    cloud_threshold: float = 0.7
    focus_threshold: float = 1.5
    n_comparisons: int = 20
    colours: tuple[str, ...] = COLOURS
    detrend: bool = True
    min_coverage: float = 0.8
    clip_sigma: float = 5.0
    min_frames: int = 10

    def as_record(self) -> dict[str, Any]:
        """Return the options as a JSON/Firestore-friendly dict (colours as a list)."""
        record = asdict(self)
        record["colours"] = list(self.colours)
        return record


#: Per option: (type, lowest, highest, lowest included, highest included).
OPTION_RULES: dict[str, tuple[type, float, float, bool, bool]] = {
    "min_stars": (int, 1, 100_000, True, True),
    "cloud_threshold": (float, 0.0, 1.0, False, True),
    "focus_threshold": (float, 1.0, 100.0, False, True),
    "n_comparisons": (int, 1, 500, True, True),
    "min_coverage": (float, 0.0, 1.0, False, True),
    "clip_sigma": (float, 1.0, 100.0, True, True),
    "min_frames": (int, 3, 100_000, True, True),
}


@dataclass(frozen=True)
class LightcurveRequest:
    """A checked request.

    Attributes
    ----------
    sequence_id : str
        ``<UNIT>_<CAMERA>_<SEQSTART>``.
    unit_id, camera_id, sequence_start : str
        Its parts.
    options : LightcurveOptions
        The effective options.
    """

    sequence_id: str
    unit_id: str
    camera_id: str
    sequence_start: str
    options: LightcurveOptions

    @property
    def sources_prefix(self) -> str:
        """Prefix of the observation's per-image tables: ``<UNIT>/<CAMERA>/<SEQSTART>/``."""
        return f"{self.unit_id}/{self.camera_id}/{self.sequence_start}/"


def _number(name: str, value: Any) -> float | int:
    kind, low, high, low_in, high_in = OPTION_RULES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PermanentFailure(f"option {name} must be a number, not {value!r}")
    if kind is int and not float(value).is_integer():
        raise PermanentFailure(f"option {name} must be a whole number, not {value!r}")
    above = value >= low if low_in else value > low
    below = value <= high if high_in else value < high
    if not (above and below):
        span = f"{'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"
        raise PermanentFailure(f"option {name} = {value!r} is outside {span}")
    return int(value) if kind is int else float(value)


def _colours(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise PermanentFailure(f"option colours must be a non-empty list of r, g, b, not {value!r}")
    unknown = [c for c in value if c not in COLOURS]
    if unknown:
        raise PermanentFailure(f"option colours has unknown colours {unknown}: use r, g, b")
    if len(set(value)) != len(value):
        raise PermanentFailure(f"option colours repeats a colour: {value!r}")
    return tuple(c for c in COLOURS if c in value)


def parse_request(request: Any) -> LightcurveRequest:
    """Check a build-lightcurve request.

    Parameters
    ----------
    request : Any
        The decoded message: ``{"sequence_id": str, "options": dict}`` (``options``
        optional).

    Returns
    -------
    LightcurveRequest
        The observation and the effective options.

    Raises
    ------
    PermanentFailure
        When the request is not a mapping, the sequence id does not follow
        ``<UNIT>_<CAMERA>_<SEQSTART>`` (e.g. ``PAN001_14d3bd_20180216T110623``), an option is
        unknown, has the wrong type or is out of range.
    """
    if not isinstance(request, Mapping):
        raise PermanentFailure(f"request must be a JSON object, not {type(request).__name__}")
    extra = sorted(set(request) - {"sequence_id", "options"})
    if extra:
        raise PermanentFailure(f"request has unknown fields {extra}: use sequence_id, options")
    sequence_id = request.get("sequence_id")
    parts = split_id(sequence_id)  # type: ignore[arg-type]
    if parts is None:
        raise PermanentFailure(
            f"sequence_id {sequence_id!r} is not <UNIT>_<CAMERA>_<SEQSTART> "
            "(like PAN001_14d3bd_20180216T110623)"
        )
    try:
        parse_timestamp(parts[2])
    except ValueError:
        raise PermanentFailure(f"sequence_id {sequence_id!r} has an invalid start time") from None
    raw = request.get("options")
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise PermanentFailure(f"options must be a JSON object, not {type(raw).__name__}")
    known = {f.name for f in fields(LightcurveOptions)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PermanentFailure(f"unknown options {unknown}: known are {sorted(known)}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name == "colours":
            values[name] = _colours(value)
        elif name == "detrend":
            if not isinstance(value, bool):
                raise PermanentFailure(f"option detrend must be true or false, not {value!r}")
            values[name] = value
        else:
            values[name] = _number(name, value)
    return LightcurveRequest(
        sequence_id=sequence_id,  # type: ignore[arg-type]
        unit_id=parts[0],
        camera_id=parts[1],
        sequence_start=parts[2],
        options=LightcurveOptions(**values),
    )
