"""One detection (a candidate): its fields, its light curve around the event, its frames.

The light curve is read from the runs' data files (``gs://<lightcurves bucket>/<data_path>``,
:mod:`panoptes_network.lightcurves.products`): the rows the detection names in ``rows``, one
entry per run, read with :func:`~panoptes_network.lightcurves.products.read_lightcurve_rows`
through the same ``read_data`` the star pages use, at most :data:`MAX_ROW_READS` entries.
The frames are the image documents the detection lists in ``frames`` (at most
:data:`MAX_FRAMES`), read by key, with their JPEG previews.

The event window shaded on the plot (:func:`event_window`): a transit's box, ``duration_s``
centred on mid-transit; a flare's, ``duration_s`` (rise plus three decay times, nearly all
of it after the peak) from the peak.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from panoptes_network.explorer._values import integer, text, time_value
from panoptes_network.explorer.detections import (
    MAX_FRAMES,
    check_detection_id,
    detection_row,
    seconds_iso,
)
from panoptes_network.explorer.errors import NotFound
from panoptes_network.explorer.stars import DataReader
from panoptes_network.lightcurves.products import read_lightcurve_rows
from panoptes_network.pipeline.key_index import read_listed
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import DETECTIONS, IMAGES

__all__ = ["MAX_FRAMES", "MAX_ROW_READS", "PLOT_COLOURS", "candidate", "event_window"]

#: Most entries of ``rows`` (runs' data files) read for one candidate.
MAX_ROW_READS = 10
#: Most rows read of one entry (a night of 30-second frames is under 1,500).
_MAX_ROWS_PER_ENTRY = 20_000
#: The colour plotted, then the others should a run lack it.
PLOT_COLOURS: tuple[str, ...] = ("g", "r", "b")


def event_window(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the time span of a detection's event, or None without a time and duration.

    Parameters
    ----------
    row : Mapping
        :func:`~.detections.detection_row`'s answer.

    Returns
    -------
    dict or None
        ``start_s`` and ``end_s`` (POSIX s) and ``start`` and ``end`` (ISO 8601 UTC): a
        transit's ``duration_s`` centred on ``time_s``; a flare's from ``time_s`` (the peak).
    """
    time_s, duration = row.get("time_s"), row.get("duration_s")
    if time_s is None or duration is None or not duration >= 0:
        return None
    if row.get("kind") == "flare":
        start, end = float(time_s), float(time_s) + float(duration)
    else:
        start, end = float(time_s) - duration / 2, float(time_s) + duration / 2
    return {"start_s": start, "end_s": end, "start": seconds_iso(start), "end": seconds_iso(end)}


def _row_entries(value: Any) -> list[dict[str, Any]]:
    """Return the ``rows`` entries that name a file and a row range."""
    out = []
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, Mapping):
            continue
        start, count = integer(entry.get("row_start")), integer(entry.get("row_count"))
        out.append(
            {
                "sequence_id": text(entry.get("sequence_id")),
                "run_id": text(entry.get("run_id")),
                "data_path": text(entry.get("data_path")),
                "row_start": start,
                "row_count": count,
            }
        )
    return out


def _clean(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values.astype(float)]


def _segment(entry: Mapping[str, Any], read_data: DataReader | None) -> dict[str, Any]:
    """Return one entry's points (time and one colour's flux), or a note saying why not."""
    segment: dict[str, Any] = {
        "sequence_id": entry["sequence_id"],
        "run_id": entry["run_id"],
        "colour": None,
        "points": None,
        "note": None,
    }
    path, start, count = entry["data_path"], entry["row_start"], entry["row_count"]
    if path is None or start is None or count is None or start < 0 or count < 0:
        segment["note"] = "the detection names no readable rows of a data file"
        return segment
    if read_data is None:
        segment["note"] = "points not read for this page"
        return segment
    try:
        rows = read_lightcurve_rows(read_data(path), start, min(count, _MAX_ROWS_PER_ENTRY))
    except (OSError, ValueError, LookupError, pa.ArrowException):
        segment["note"] = "the run's data file could not be read"
        return segment
    colour = next((c for c in PLOT_COLOURS if f"flux_{c}" in rows.colnames), None)
    if "time" not in rows.colnames or colour is None:
        segment["note"] = "the run's data file has no time or flux"
        return segment
    n = len(rows)

    def column(name: str, default: float) -> np.ndarray:
        return np.asarray(rows[name], dtype=float) if name in rows.colnames else np.full(n, default)

    outlier = (
        np.asarray(rows[f"outlier_{colour}"], dtype=bool)
        if f"outlier_{colour}" in rows.colnames
        else np.zeros(n, dtype=bool)
    )
    segment["colour"] = colour
    segment["points"] = {
        "time_s": _clean(column("time", math.nan)),
        "flux": _clean(column(f"flux_{colour}", math.nan)),
        "flux_err": _clean(column(f"flux_err_{colour}", math.nan)),
        "outlier": [bool(v) for v in outlier],
    }
    return segment


def _frames(documents: DocumentStore, listed: Any) -> tuple[list[dict[str, Any]], int]:
    """Return the listed frames (in the listed order) with their previews, and the reads."""
    ids = [i for i in dict.fromkeys(_texts(listed)) if "/" not in i and 0 < len(i) <= 200]
    ids = ids[:MAX_FRAMES]
    found = dict(read_listed(documents, IMAGES, ids))
    frames = []
    for image_id in ids:
        doc = found.get(image_id)
        frames.append(
            {
                "image_id": image_id,
                "recorded": doc is not None,
                "sequence_id": text((doc or {}).get("sequence_id")),
                "time": time_value((doc or {}).get("time")),
                "status": text((doc or {}).get("status")),
                "preview_url": text((doc or {}).get("preview_url")),
            }
        )
    return frames, len(ids)


def _texts(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def candidate(
    documents: DocumentStore,
    detection_id: Any,
    *,
    read_data: DataReader | None = None,
    analysis_hash: str | None = None,
) -> dict[str, Any]:
    """Return one detection with its light curve around the event and its frames.

    Reads the detection, at most :data:`MAX_FRAMES` image documents (by key) and at most
    :data:`MAX_ROW_READS` data files.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    detection_id : str
        The detection (see :data:`~.detections.DETECTION_ID`).
    read_data : callable, optional
        Reads a run's data file from the light-curves bucket; None reads no points.
    analysis_hash : str, optional
        The analysis the explorer shows: ``current_analysis`` says whether the detection
        is of it.

    Returns
    -------
    dict
        :func:`~.detections.detection_row`'s fields; ``rows`` (each data file's entry:
        ``sequence_id``, ``run_id``, ``data_path``, ``row_start``, ``row_count``);
        ``window`` (:func:`event_window`); ``segments`` (per entry read, in order: the run,
        ``colour`` (g unless the run lacks it), ``points`` (``time_s`` in POSIX s, ``flux``
        and ``flux_err`` normalised, ``outlier``) or None with ``note``);
        ``rows_unread`` (entries beyond :data:`MAX_ROW_READS`); ``frames`` (``image_id``,
        ``recorded``, ``sequence_id``, ``time``, ``status``, ``preview_url``);
        ``frames_listed`` (how many the detection lists); ``current_analysis``;
        ``documents_read``.

    Raises
    ------
    InvalidQuery
        For an id that is not of a detection's form.
    NotFound
        When there is no such detection.
    """
    detection_id = check_detection_id(detection_id)
    doc = documents.get(DETECTIONS, detection_id)
    if doc is None:
        raise NotFound("detection", detection_id)
    row = detection_row(detection_id, doc)
    entries = _row_entries(doc.get("rows"))
    segments = [_segment(entry, read_data) for entry in entries[:MAX_ROW_READS]]
    frames, frames_read = _frames(documents, doc.get("frames"))
    return {
        **row,
        "rows": entries,
        "window": event_window(row),
        "segments": segments,
        "rows_unread": max(0, len(entries) - MAX_ROW_READS),
        "frames": frames,
        "frames_listed": len(_texts(doc.get("frames"))),
        "current_analysis": analysis_hash is not None and row["analysis_hash"] == analysis_hash,
        "documents_read": 1 + frames_read,
    }
