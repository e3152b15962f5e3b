"""Detections of the analysis: transit-like dips and flares, ranked by significance.

The ``detections/{id}`` documents (id ``<analysis_hash>_<picid>_<search>_<POSIX seconds>``,
``_injected`` at the end for an injected event's) are read as plain mappings, each field
tolerantly (:mod:`._values`). Two queries, each served by a composite index of
:data:`DETECTION_INDEXES`:

- :func:`candidates`: the detections of one analysis (``analysis_hash ==``), real or injected
  (``injected ==``), optionally of one kind (``kind ==``), or of one star (``picid ==``),
  ordered by ``significance`` (the search's statistic over its 99th percentile on shifted
  copies of the light curve), highest first, paged by cursor;
- :func:`star_detections`: the most significant real detections of one star (the star page).

Injected detections (found where the analysis put a synthetic event, to measure its
completeness) are never mixed with real ones: a query asks for one or the other, real by
default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from panoptes_network.explorer._cursor import decode_cursor, encode_cursor
from panoptes_network.explorer._values import (
    boolean,
    check_limit,
    integer,
    number,
    text,
    time_value,
)
from panoptes_network.explorer.errors import InvalidQuery, quote
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import DETECTIONS

__all__ = [
    "DEFAULT_CANDIDATES",
    "DETECTION_INDEXES",
    "KINDS",
    "MAX_CANDIDATES",
    "MAX_FRAMES",
    "MAX_STAR_DETECTIONS",
    "SEARCHES",
    "candidates",
    "check_detection_id",
    "detection_row",
    "seconds_iso",
    "star_detections",
]

#: Kinds of event the analysis finds.
KINDS: tuple[str, ...] = ("transit", "flare")
#: Its searches: a single box-shaped dip, a periodic box, a flare.
SEARCHES: tuple[str, ...] = ("single-event", "periodic", "flare")
#: Most candidates of one page.
MAX_CANDIDATES = 200
#: Candidates of a page when no limit is given.
DEFAULT_CANDIDATES = 50
#: Most detections shown on a star's page.
MAX_STAR_DETECTIONS = 20
#: Most frames of a detection (the analysis lists at most 50).
MAX_FRAMES = 50
#: The field candidates are ordered by (highest first).
ORDER = "significance"
#: A detection id: ``<analysis_hash>_<picid>_<search>_<POSIX seconds>[_injected]``.
DETECTION_ID = re.compile(
    r"(?P<hash>[0-9a-f]{16})_(?P<picid>[0-9]{1,16})_(?P<search>single-event|periodic|flare)"
    r"_(?P<seconds>-?[0-9]{1,12})(?P<injected>_injected)?"
)


def _index(*fields: tuple[str, str]) -> dict[str, Any]:
    return {
        "collectionGroup": DETECTIONS,
        "queryScope": "COLLECTION",
        "fields": [{"fieldPath": f, "order": o} for f, o in fields],
    }


#: The composite indexes of the detections' queries, in the form of
#: ``infra/firestore.indexes.json``: the candidates (of every kind, of one kind) and a star's.
DETECTION_INDEXES: tuple[dict[str, Any], ...] = (
    _index(("analysis_hash", "ASCENDING"), ("injected", "ASCENDING"), (ORDER, "DESCENDING")),
    _index(
        ("analysis_hash", "ASCENDING"),
        ("injected", "ASCENDING"),
        ("kind", "ASCENDING"),
        (ORDER, "DESCENDING"),
    ),
    _index(
        ("picid", "ASCENDING"),
        ("analysis_hash", "ASCENDING"),
        ("injected", "ASCENDING"),
        (ORDER, "DESCENDING"),
    ),
)


def check_detection_id(detection_id: Any) -> str:
    """Return a detection id if it has the form of one; else raise InvalidQuery (HTTP 400).

    Parameters
    ----------
    detection_id : Any
        As asked for.

    Returns
    -------
    str
        The id, unchanged.

    Raises
    ------
    InvalidQuery
        Naming ``detection_id`` and the form it must have.
    """
    if not isinstance(detection_id, str) or not DETECTION_ID.fullmatch(detection_id):
        raise InvalidQuery(
            "detection_id",
            "must be <analysis_hash (16 hex digits)>_<picid>_<search (single-event, periodic "
            f"or flare)>_<POSIX seconds>[_injected], not {quote(detection_id)}",
        )
    return detection_id


def seconds_iso(seconds: float | int | None) -> str | None:
    """Return POSIX seconds as ISO 8601 UTC, or None (for None or out of range)."""
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(float(seconds), tz=timezone.utc).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _texts(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _injection(value: Any) -> dict[str, Any] | None:
    """Return the truth of an injected event: kind, depth or amplitude, duration, SNR, time."""
    if not isinstance(value, Mapping):
        return None
    out: dict[str, Any] = {"kind": text(value.get("kind"))}
    for name in ("depth", "amplitude", "duration_s", "snr", "time_s"):
        out[name] = number(value.get(name))
    out["time"] = seconds_iso(out["time_s"])
    return out


def detection_row(
    detection_id: str, doc: Mapping[str, Any], *, with_frames: bool = False
) -> dict[str, Any]:
    """Return a detection as a row of a table: the event, its significance, where it is.

    Parameters
    ----------
    detection_id : str
        The document id.
    doc : Mapping
        The ``detections`` document.
    with_frames : bool
        Add ``frames``: the image ids of the frames in the event window (at most 50).

    Returns
    -------
    dict
        ``detection_id``, ``picid``, ``ra`` and ``dec`` (deg), ``vmag`` (mag), ``kind``,
        ``search``, ``time`` (ISO 8601 UTC: mid-transit or flare peak), ``time_s`` (POSIX s),
        ``duration_s`` (s), ``depth`` and ``depth_err`` (transits) or ``amplitude`` and
        ``amplitude_err`` (flares), fractional; ``period_days`` (periodic only), ``events``,
        ``snr``, ``statistic``, ``threshold``, ``shifts``, ``significance`` (statistic over
        threshold: above 1 is significant), ``false_alarm_probability``, ``injected``,
        ``injection`` (the truth of an injected event, else None), ``sequence_ids``,
        ``run_ids``, ``unit_ids``, ``num_frames``, ``analysis``, ``analysis_hash`` and
        ``analysed_time``. Any field may be None.
    """
    time_s = number(doc.get("time_s"))
    frames = _texts(doc.get("frames"))
    row = {
        "detection_id": detection_id,
        "picid": integer(doc.get("picid")),
        "ra": number(doc.get("ra")),
        "dec": number(doc.get("dec")),
        "vmag": number(doc.get("vmag")),
        "kind": text(doc.get("kind")),
        "search": text(doc.get("search")),
        "time": time_value(doc.get("time")) or seconds_iso(time_s),
        "time_s": time_s,
        "duration_s": number(doc.get("duration_s")),
        "depth": number(doc.get("depth")),
        "depth_err": number(doc.get("depth_err")),
        "amplitude": number(doc.get("amplitude")),
        "amplitude_err": number(doc.get("amplitude_err")),
        "period_days": number(doc.get("period_days")),
        "events": integer(doc.get("events")),
        "snr": number(doc.get("snr")),
        "statistic": number(doc.get("statistic")),
        "threshold": number(doc.get("threshold")),
        "shifts": integer(doc.get("shifts")),
        "significance": number(doc.get("significance")),
        "false_alarm_probability": number(doc.get("false_alarm_probability")),
        "injected": boolean(doc.get("injected")),
        "injection": _injection(doc.get("injection")),
        "sequence_ids": _texts(doc.get("sequence_ids")),
        "run_ids": _texts(doc.get("run_ids")),
        "unit_ids": _texts(doc.get("unit_ids")),
        "num_frames": len(frames),
        "analysis": text(doc.get("analysis")),
        "analysis_hash": text(doc.get("analysis_hash")),
        "analysed_time": time_value(doc.get("analysed_time")),
    }
    if with_frames:
        row["frames"] = frames[:MAX_FRAMES]
    return row


def _check_hash(analysis_hash: Any) -> str:
    if not isinstance(analysis_hash, str) or not re.fullmatch(r"[0-9a-f]{16}", analysis_hash):
        raise InvalidQuery("analysis_hash", f"must be 16 hex digits, not {quote(analysis_hash)}")
    return analysis_hash


def candidates(
    documents: DocumentStore,
    analysis_hash: str,
    *,
    kind: str | None = None,
    injected: bool = False,
    picid: int | None = None,
    limit: int = DEFAULT_CANDIDATES,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Return one page of detections of an analysis, the most significant first.

    Reads at most ``limit`` + 1 documents, with one query (see the module docstring).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    analysis_hash : str
        The analysis whose detections are shown (16 hex digits).
    kind : str, optional
        Only ``transit`` or only ``flare`` detections (not with ``picid``).
    injected : bool
        False (default): only real detections; True: only the detections of injected
        events (the injection-recovery test, with the truth in ``injection``).
    picid : int, optional
        Only this star's detections.
    limit : int
        Rows of the page, 1 to :data:`MAX_CANDIDATES`.
    cursor : str, optional
        ``next_cursor`` of the previous page.

    Returns
    -------
    dict
        ``analysis_hash``, ``kind``, ``injected``, ``picid``, ``limit``, ``count``,
        ``candidates`` (:func:`detection_row` each, highest significance first; equal ones
        by id, descending), ``next_cursor`` (None on the last page) and ``kinds`` (the
        choices).

    Raises
    ------
    InvalidQuery
        For an unknown kind, a kind with a picid, a limit out of range, or a cursor of
        another order.
    """
    analysis_hash = _check_hash(analysis_hash)
    limit = check_limit(limit, MAX_CANDIDATES)
    if kind is not None and kind not in KINDS:
        raise InvalidQuery("kind", f"must be one of {', '.join(KINDS)}, not {quote(kind)}")
    if not isinstance(injected, bool):
        raise InvalidQuery("injected", "must be true or false")
    if picid is not None and (isinstance(picid, bool) or not isinstance(picid, int)):
        raise InvalidQuery("picid", f"must be a whole number, not {quote(picid)}")
    if picid is not None and kind is not None:
        raise InvalidQuery("kind", "cannot be combined with picid: a star's detections are few")
    filters: list[tuple[str, str, Any]] = []
    if picid is not None:
        filters.append(("picid", "==", picid))
    filters += [("analysis_hash", "==", analysis_hash), ("injected", "==", injected)]
    if kind is not None:
        filters.append(("kind", "==", kind))
    after, after_id = decode_cursor(cursor, ORDER, True) if cursor else (None, None)
    rows = documents.query(
        DETECTIONS,
        filters,
        order_by=ORDER,
        descending=True,
        limit=limit + 1,
        start_after=after,
        start_after_id=after_id,
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit and page:
        last_id, last = page[-1]
        next_cursor = encode_cursor(ORDER, True, last.get(ORDER), last_id)
    found = [detection_row(doc_id, doc) for doc_id, doc in page]
    return {
        "analysis_hash": analysis_hash,
        "kind": kind,
        "injected": injected,
        "picid": picid,
        "limit": limit,
        "count": len(found),
        "candidates": found,
        "next_cursor": next_cursor,
        "kinds": list(KINDS),
    }


def star_detections(
    documents: DocumentStore, picid: int, analysis_hash: str, *, limit: int = MAX_STAR_DETECTIONS
) -> list[dict[str, Any]]:
    """Return a star's most significant real detections of an analysis.

    Reads at most ``limit`` documents with one query (``picid``, ``analysis_hash``,
    ``injected == false``, by ``significance`` descending).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    picid : int
        The star.
    analysis_hash : str
        The analysis.
    limit : int
        Most detections, 1 to :data:`MAX_STAR_DETECTIONS`.

    Returns
    -------
    list of dict
        :func:`detection_row` each with its ``frames``, highest significance first.
    """
    limit = check_limit(limit, MAX_STAR_DETECTIONS)
    rows = documents.query(
        DETECTIONS,
        [
            ("picid", "==", picid),
            ("analysis_hash", "==", _check_hash(analysis_hash)),
            ("injected", "==", False),
        ],
        order_by=ORDER,
        descending=True,
        limit=limit,
    )
    return [detection_row(doc_id, doc, with_frames=True) for doc_id, doc in rows]
