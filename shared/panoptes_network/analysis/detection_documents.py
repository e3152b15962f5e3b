"""A detection as a ``detections/{id}`` document: what was found, and what it rests on.

The document (fields below) names the light-curve rows and the frames inside the event's
windows, so a person can open the points and the images and judge real or artefact:

- ``rows``: per run, ``{"sequence_id", "run_id", "data_path", "row_start", "row_count"}``,
  the star's rows of the run's data file from the first point in a window to the last;
- ``frames``: the image ids of the points in the windows (at most :data:`MAX_FRAMES`).

Fields: ``analysis``, ``analysis_hash``, ``picid``, catalog ``ra``/``dec``/``vmag`` when
known, ``kind`` (``transit``/``flare``), ``search`` (``single-event``/``periodic``/``flare``),
``time`` (UTC) and ``time_s`` (POSIX seconds) of mid-transit or the flare's peak,
``duration_s``, ``depth`` and ``depth_err`` (transits) or ``amplitude`` and
``amplitude_err`` (flares), fractional, ``period_days`` and ``events`` (transits covered),
``snr``, ``statistic``, ``threshold``, ``shifts`` (copies run), ``significance``
(statistic over threshold), ``false_alarm_probability``, ``injected`` and ``injection``
(the truth of an injected event, else null), ``sequence_ids``, ``run_ids``, ``unit_ids``,
``rows``, ``frames`` and ``analysed_time``.

The id is ``<analysis_hash>_<picid>_<search>_<whole POSIX seconds>``, with ``_injected`` after
it for an injected event's detection: the same detection found again writes the same document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.detections import SearchOutcome
from panoptes_network.analysis.star_points import StarPoints

__all__ = ["MAX_FRAMES", "detection_document", "detection_id", "window_points"]

#: Frames listed on a detection (the first of each window first).
MAX_FRAMES = 50
_CATALOG_FIELDS = ("ra", "dec", "vmag")


def detection_id(analysis: Analysis, outcome: SearchOutcome, *, injected: bool = False) -> str:
    """Return a detection's document id."""
    suffix = "_injected" if injected else ""
    return (
        f"{analysis.config_hash()}_{outcome.picid}_{outcome.search}_"
        f"{int(math.floor(outcome.time_s))}{suffix}"
    )


def window_points(points: StarPoints, outcome: SearchOutcome) -> np.ndarray:
    """Return the indices of the star's points inside the outcome's windows."""
    inside = np.zeros(points.size, dtype=bool)
    for low, high in outcome.windows:
        inside |= (points.time >= low) & (points.time <= high)
    return np.flatnonzero(inside)


def _rows(points: StarPoints, chosen: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for index in np.unique(points.segment[chosen]):
        mine = chosen[points.segment[chosen] == index]
        segment = points.segments[int(index)]
        first, last = int(points.row[mine].min()), int(points.row[mine].max())
        rows.append(
            {
                "sequence_id": segment.sequence_id,
                "run_id": segment.run_id,
                "data_path": segment.data_path,
                "row_start": first,
                "row_count": last - first + 1,
            }
        )
    return rows


def _frames(points: StarPoints, outcome: SearchOutcome) -> list[str]:
    """Return the frames in the windows: each window's first, then the rest in time order."""
    firsts: list[str] = []
    rest: list[str] = []
    for low, high in outcome.windows:
        inside = [
            str(i) for i in points.image_id[(points.time >= low) & (points.time <= high)] if str(i)
        ]
        firsts.extend(inside[:1])
        rest.extend(inside[1:])
    ordered = list(dict.fromkeys([*firsts, *rest]))
    return ordered


def _number(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def detection_document(
    outcome: SearchOutcome,
    points: StarPoints,
    analysis: Analysis,
    when: datetime,
    *,
    catalog: Mapping[str, Any] | None = None,
    injection: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a detection's document.

    Parameters
    ----------
    outcome : SearchOutcome
        The search's outcome (significant, for a stored detection).
    points : StarPoints
        The star's points it was found in.
    analysis : Analysis
        The configuration.
    when : datetime
        The analysis time.
    catalog : mapping, optional
        The star's catalog row (``ra``, ``dec``, ``vmag``).
    injection : mapping, optional
        The injected event's truth, for an injected event's detection.

    Returns
    -------
    dict
        The fields of the module docstring.
    """
    chosen = window_points(points, outcome)
    frames = _frames(points, outcome)
    used = sorted({int(s) for s in points.segment[chosen]}) or sorted(
        {int(s) for s in points.segment}
    )
    segments = [points.segments[i] for i in used]
    transit = outcome.kind == "transit"
    doc: dict[str, Any] = {
        **analysis.stamp(),
        "picid": int(outcome.picid),
        "kind": outcome.kind,
        "search": outcome.search,
        "time": datetime.fromtimestamp(outcome.time_s, tz=timezone.utc),
        "time_s": round(outcome.time_s, 3),
        "duration_s": round(outcome.duration_s, 1),
        "depth": _number(outcome.value) if transit else None,
        "depth_err": _number(outcome.value_err) if transit else None,
        "amplitude": None if transit else _number(outcome.value),
        "amplitude_err": None if transit else _number(outcome.value_err),
        "period_days": _number(outcome.period_s / 86400.0, 7) if outcome.period_s else None,
        "events": int(outcome.events),
        "snr": _number(outcome.snr, 3),
        "statistic": _number(outcome.statistic, 4),
        "threshold": _number(outcome.threshold, 4),
        "shifts": int(outcome.copies),
        "significance": _number(outcome.significance, 4),
        "false_alarm_probability": _number(outcome.false_alarm_probability, 6),
        "injected": injection is not None,
        "injection": dict(injection) if injection is not None else None,
        "sequence_ids": sorted({s.sequence_id for s in segments}),
        "run_ids": sorted({s.run_id for s in segments}),
        "unit_ids": sorted({s.unit_id for s in segments}),
        "rows": _rows(points, chosen) if chosen.size else [],
        "frames": frames[:MAX_FRAMES],
        "analysed_time": when,
    }
    for name in _CATALOG_FIELDS:
        value = (catalog or {}).get(name)
        if isinstance(value, (int, float)) and math.isfinite(value):
            doc[name] = float(value)
    return doc
