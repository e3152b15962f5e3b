"""A star (PICID): its catalog data and every light curve of it, across runs and units.

A star's light curves are the ``lightcurves`` documents of build-lightcurve's runs (one per
star and run, id ``<PICID>_<run_id>``, ``run_id = <sequence_id>_<RUNTIME>``). build-lightcurve
lists each in the star's key index ``star_lightcurves/{picid}``
(:mod:`panoptes_network.pipeline.key_index`): :func:`star` reads that index document, picks
the newest :data:`MAX_LIGHTCURVES` runs by the RUNTIME their ids carry and reads those
documents by key (the emulator answers this in the same time whatever the size of the
archive, where it scans the whole collection for a query). A star without an index document
(stored before the index existed) is read with one query instead (``picid ==``, ordered by
``run_time``: the composite index of :data:`STAR_INDEXES`); both give the same light curves
in the same order. The star's points flags are read with another query (bounded by
:data:`MAX_FLAGS`). A light curve's points come from its document when embedded there
(small runs), else from the run's Parquet data file (its rows ``data_row_start`` to
``data_row_start + data_row_count``), read through ``read_data`` at most
:data:`MAX_FILE_READS` times per page; beyond that its points are left out of the page and
the downloads (:func:`star_points`) still hold them.

:func:`run_stars` lists a run's brightest stars from the lcids its run document records
(``brightest_lightcurves``), by key; for runs recorded without them, by a query.

:func:`star_points` is the download: one row per (run, frame) of the star, with the run and
the unit on every row (:data:`POINT_COLUMNS`, then ``flux_c``, ``flux_err_c`` and
``outlier_c`` for each colour ``c``). ``flagged`` marks the points a person flagged on this
star (points flags, matched in time within build-lightcurve's own
:data:`~panoptes_network.lightcurves.flags.POINT_TIME_TOLERANCE_S`, so the points marked
are the points a new run leaves out); flags of a whole
frame or observation are shown on those pages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from panoptes_network.explorer._values import (
    check_limit,
    integer,
    is_document_id,
    masked_user,
    number,
    text,
    time_value,
)
from panoptes_network.explorer.detections import star_detections
from panoptes_network.explorer.errors import NotFound
from panoptes_network.lightcurves.flags import POINT_TIME_TOLERANCE_S
from panoptes_network.lightcurves.products import MAX_BRIGHTEST, read_lightcurve_rows
from panoptes_network.pipeline.key_index import read_ids, read_listed
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import (
    FLAGS,
    LIGHTCURVES,
    PROCESSED_OBSERVATIONS,
    STAR_LIGHTCURVES,
    STARS,
    FlagTarget,
)

__all__ = [
    "COLOURS",
    "MAX_FILE_READS",
    "MAX_FLAGS",
    "MAX_LIGHTCURVES",
    "MAX_PICID",
    "POINT_COLUMNS",
    "STAR_INDEXES",
    "DataReader",
    "check_picid",
    "lightcurve",
    "lightcurve_points",
    "run_stars",
    "star",
    "star_points",
    "stitching_summary",
]

#: Most light curves of a star read for one page or download (the newest runs).
MAX_LIGHTCURVES = 100
#: Stars of a run listed with its observation (the brightest): those its run document lists.
MAX_RUN_STARS = MAX_BRIGHTEST
#: Most points flags of a star read for one page.
MAX_FLAGS = 200
#: Most run data files read for one page (light curves whose points are not embedded).
MAX_FILE_READS = 10
#: Largest PICID (TESS Input Catalog ids are well below).
MAX_PICID = 2**53
#: Colours of the light curves, in the order shown.
COLOURS = ("r", "g", "b")
#: The first columns of a star's points; ``flux_c``, ``flux_err_c``, ``outlier_c`` follow
#: for each colour ``c`` of :data:`COLOURS`, then ``flagged``.
POINT_COLUMNS = (
    "picid",
    "unit_id",
    "camera_id",
    "sequence_id",
    "run_id",
    "time",
    "time_utc",
    "airmass",
)
#: The RUNTIME (``YYYYMMDDTHHMMSS``, UTC, to the second) that ends a run id, before any
#: ``-n`` suffix.
_RUNTIME = re.compile(r"_(\d{8}T\d{6})(?:-\d+)?$")
#: The composite index of the star query (and Firestore's automatic single-field ones for
#: the flags query), in the form of ``infra/firestore.indexes.json``.
STAR_INDEXES: tuple[dict[str, Any], ...] = (
    {
        "collectionGroup": LIGHTCURVES,
        "queryScope": "COLLECTION",
        "fields": [
            {"fieldPath": "picid", "order": "ASCENDING"},
            {"fieldPath": "run_time", "order": "DESCENDING"},
        ],
    },
    {
        "collectionGroup": LIGHTCURVES,
        "queryScope": "COLLECTION",
        "fields": [
            {"fieldPath": "processed_observation", "order": "ASCENDING"},
            {"fieldPath": "vmag", "order": "ASCENDING"},
        ],
    },
)

#: ``read_data(data_path) -> bytes``: a run's data file from the light-curves bucket.
DataReader = Callable[[str], bytes]


def check_picid(picid: Any) -> int:
    """Return a PICID as an int, or raise NotFound (no star can have that id).

    Parameters
    ----------
    picid : Any
        As asked for: an int or its decimal text.

    Returns
    -------
    int
        The PICID, 1 to :data:`MAX_PICID`.
    """
    value: int | None = None
    if isinstance(picid, int) and not isinstance(picid, bool):
        value = picid
    elif isinstance(picid, str) and picid.isascii() and picid.isdigit() and len(picid) <= 16:
        value = int(picid)
    if value is None or not 1 <= value <= MAX_PICID:
        raise NotFound("star", str(picid))
    return value


def _iso(seconds: float | None) -> str | None:
    if seconds is None or not math.isfinite(seconds):
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def _floats(values: Any, n: int) -> np.ndarray:
    """Return a list of numbers (None for missing) as float64 of length n (NaN-padded)."""
    out = np.full(n, np.nan)
    if isinstance(values, list):
        for i, v in enumerate(values[:n]):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[i] = float(v)
    return out


def _bools(values: Any, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    if isinstance(values, list):
        for i, v in enumerate(values[:n]):
            out[i] = v is True
    return out


def _embedded_points(doc: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
    """Return the points embedded in a light curve's document, or None."""
    points = doc.get("points")
    if not isinstance(points, Mapping) or not isinstance(points.get("time"), list):
        return None
    n = len(points["time"])
    columns: dict[str, np.ndarray] = {"time": _floats(points["time"], n)}
    columns["airmass"] = np.full(n, np.nan)
    for c in COLOURS:
        if isinstance(points.get(c), list):
            columns[f"flux_{c}"] = _floats(points[c], n)
            columns[f"flux_err_{c}"] = _floats(points.get(f"{c}_err"), n)
            columns[f"outlier_{c}"] = _bools(points.get(f"{c}_outlier"), n)
    return columns


def _file_points(doc: Mapping[str, Any], read_data: DataReader) -> dict[str, np.ndarray] | None:
    """Return a light curve's rows from its run's data file, or None when unreadable."""
    path = text(doc.get("data_path"))
    start, count = integer(doc.get("data_row_start")), integer(doc.get("data_row_count"))
    if path is None or start is None or count is None or start < 0 or count < 0:
        return None
    try:
        rows = read_lightcurve_rows(read_data(path), start, count)
    except (OSError, ValueError, LookupError, pa.ArrowException):
        return None
    if "time" not in rows.colnames:
        return None
    n = len(rows)
    columns: dict[str, np.ndarray] = {"time": np.asarray(rows["time"], dtype=float)}
    columns["airmass"] = (
        np.asarray(rows["airmass"], dtype=float)
        if "airmass" in rows.colnames
        else np.full(n, np.nan)
    )
    for c in COLOURS:
        if f"flux_{c}" in rows.colnames:
            columns[f"flux_{c}"] = np.asarray(rows[f"flux_{c}"], dtype=float)
            columns[f"flux_err_{c}"] = (
                np.asarray(rows[f"flux_err_{c}"], dtype=float)
                if f"flux_err_{c}" in rows.colnames
                else np.full(n, np.nan)
            )
            columns[f"outlier_{c}"] = (
                np.asarray(rows[f"outlier_{c}"], dtype=bool)
                if f"outlier_{c}" in rows.colnames
                else np.zeros(n, dtype=bool)
            )
    return columns


def lightcurve_points(
    doc: Mapping[str, Any], read_data: DataReader | None, *, prefer_file: bool = False
) -> dict[str, np.ndarray] | None:
    """Return one light curve's points as columns, or None when they cannot be had.

    Parameters
    ----------
    doc : Mapping
        The ``lightcurves`` document.
    read_data : callable or None
        Reads a run's data file; None reads only embedded points.
    prefer_file : bool
        Read the data file first (it has the airmass), the embedded points only if that
        fails; by default the embedded points first (no object read).

    Returns
    -------
    dict of numpy.ndarray or None
        ``time`` (POSIX s), ``airmass``, and per colour ``flux_c``, ``flux_err_c``
        (normalised flux) and ``outlier_c`` (bool), all of one length.
    """
    if prefer_file and read_data is not None:
        return _file_points(doc, read_data) or _embedded_points(doc)
    found = _embedded_points(doc)
    if found is None and read_data is not None:
        found = _file_points(doc, read_data)
    return found


def _run_id(lcid: str, doc: Mapping[str, Any]) -> str | None:
    return text(doc.get("processed_observation")) or (lcid.partition("_")[2] or None)


def _lightcurve_summary(lcid: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    colours = {}
    for c in COLOURS:
        n = integer(doc.get(f"num_points_{c}"))
        if n is None and doc.get(f"median_mag_{c}") is None:
            continue
        colours[c] = {
            "num_points": n,
            "median_mag": number(doc.get(f"median_mag_{c}")),
            "rms_mag": number(doc.get(f"rms_mag_{c}")),
            "robust_rms_mag": number(doc.get(f"robust_rms_mag_{c}")),
            "expected_rms_mag": number(doc.get(f"expected_rms_mag_{c}")),
            "correction": text(doc.get(f"correction_{c}")),
        }
    return {
        "lcid": lcid,
        "sequence_id": text(doc.get("sequence_id")),
        "run_id": _run_id(lcid, doc),
        "unit_id": text(doc.get("unit_id")),
        "camera_id": text(doc.get("camera_id")),
        "run_time": time_value(doc.get("run_time")),
        "num_points": integer(doc.get("num_points")),
        "variable": doc.get("variable") if isinstance(doc.get("variable"), bool) else None,
        "colours": colours,
        "data_url": text(doc.get("data_url")),
    }


def _time_order(value: Any) -> tuple[int, float]:
    """Return a sort key of a ``run_time``: timestamps by time, after any other value."""
    if isinstance(value, datetime):
        return (1, value.timestamp())
    return (0, 0.0)


def _listed_docs(
    documents: DocumentStore, lcids: Sequence[str], limit: int
) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """Read the newest ``limit`` of the listed light curves by key, as the query orders them.

    Ids are taken newest first by the RUNTIME they end with (the second of their
    ``run_time``), with every id of the same second as the last one taken (their order
    needs ``run_time`` itself), and more when listed documents are gone; ids without a
    RUNTIME are always read. The documents read are then ordered by ``run_time``
    descending, equal times by id descending, and those without ``run_time`` left out, as
    the query does. Returns the documents and the number of keys read.
    """
    ids = [lcid for lcid in dict.fromkeys(lcids) if is_document_id(lcid)]
    stamps = {lcid: found.group(1) for lcid in ids if (found := _RUNTIME.search(lcid))}
    newest = sorted(stamps, key=lambda lcid: (stamps[lcid], lcid), reverse=True)
    unknown = [lcid for lcid in ids if lcid not in stamps]

    def read(chunk: list[str]) -> list[tuple[str, dict[str, Any]]]:
        rows = read_listed(documents, LIGHTCURVES, chunk) if chunk else []
        return [(lcid, doc) for lcid, doc in rows if "run_time" in doc]

    found, reads, start, known = read(unknown), len(unknown), 0, 0
    while known < limit and start < len(newest):
        end = min(start + limit - known, len(newest))
        while end < len(newest) and stamps[newest[end]] == stamps[newest[end - 1]]:
            end += 1
        rows = read(newest[start:end])
        found, known, reads, start = found + rows, known + len(rows), reads + end - start, end
    found.sort(key=lambda row: (_time_order(row[1]["run_time"]), row[0]), reverse=True)
    return found[:limit], reads


def _lightcurve_docs(
    documents: DocumentStore, picid: int, limit: int
) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """Return the star's newest ``limit`` light curves (by key, else by query), and the reads.

    The reads count the star's index document, read (or looked for) first.
    """
    listed = read_ids(documents, STAR_LIGHTCURVES, str(picid))
    if listed is None:
        found = documents.query(
            LIGHTCURVES, [("picid", "==", picid)], order_by="run_time", descending=True, limit=limit
        )
        return found, 1 + len(found)
    found, read = _listed_docs(documents, listed, limit)
    return found, 1 + read


def _flag_summary(flag_id: str, doc: Mapping[str, Any]) -> dict[str, Any] | None:
    times = doc.get("times")
    if doc.get("removed") is True or not isinstance(times, list):
        return None
    seconds = [float(t) for t in times if isinstance(t, (int, float)) and not isinstance(t, bool)]
    return {
        "flag_id": flag_id,
        "sequence_id": text(doc.get("sequence_id")),
        "run_id": text(doc.get("run_id")),
        "reason": text(doc.get("reason")),
        "user": masked_user(doc),
        "created_time": time_value(doc.get("created_time")),
        "times": [t for t in seconds if math.isfinite(t)],
    }


def star_flags(documents: DocumentStore, picid: int) -> list[dict[str, Any]]:
    """Return the star's active points flags (at most :data:`MAX_FLAGS` read).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    picid : int
        The star.

    Returns
    -------
    list of dict
        ``flag_id``, ``sequence_id``, ``run_id``, ``reason``, ``user``, ``created_time``
        (ISO 8601 UTC) and ``times`` (POSIX s); removed flags are left out.
    """
    return _points_flags(documents, picid)[0]


def _points_flags(documents: DocumentStore, picid: int) -> tuple[list[dict[str, Any]], int]:
    """Return the star's active points flags and the flag documents read for them."""
    found = documents.query(FLAGS, [("picid", "==", picid)], limit=MAX_FLAGS)
    flags = []
    for flag_id, doc in found:
        if doc.get("target") != FlagTarget.POINTS:
            continue
        summary = _flag_summary(flag_id, doc)
        if summary is not None:
            flags.append(summary)
    return flags, len(found)


def _flagged(
    times: np.ndarray, sequence_id: str | None, flags: Sequence[Mapping[str, Any]]
) -> np.ndarray:
    """Return which of one light curve's times a flag of the star names."""
    out = np.zeros(len(times), dtype=bool)
    for flag in flags:
        if flag["sequence_id"] not in (None, sequence_id) or not flag["times"]:
            continue
        flagged = np.asarray(flag["times"], dtype=float)
        distance = np.abs(times[:, None] - flagged[None, :]).min(axis=1)
        out |= distance <= POINT_TIME_TOLERANCE_S
    return out


def _plot_points(columns: Mapping[str, np.ndarray], flagged: np.ndarray) -> dict[str, Any]:
    """Return one light curve's points as JSON lists (NaN as None) for the page's plots."""

    def clean(values: np.ndarray) -> list[float | None]:
        return [float(v) if math.isfinite(v) else None for v in values]

    points: dict[str, Any] = {
        "time": [_iso(float(t)) for t in columns["time"]],
        "time_s": clean(columns["time"]),
        "flagged": [bool(v) for v in flagged],
    }
    for c in COLOURS:
        if f"flux_{c}" in columns:
            points[c] = clean(columns[f"flux_{c}"])
            points[f"{c}_err"] = clean(columns[f"flux_err_{c}"])
            points[f"{c}_outlier"] = [bool(v) for v in columns[f"outlier_{c}"]]
    return points


#: The per-colour statistics of a star's analysis the page and the API show.
ANALYSIS_COLOUR_FIELDS: tuple[str, ...] = (
    "n",
    "mean_mag",
    "mean_mag_err",
    "rms",
    "rms_over_floor",
    "chi2_red",
    "beta_30",
    "beta_60",
    "beta_120",
    "amplitude",
    "quality",
)
_ANALYSIS_FIELDS = (
    "analysis",
    "analysis_hash",
    "n_runs",
    "n_observations",
    "n_units",
    "n_points",
    "headline_colour",
    "rms_over_floor",
    "chi2_red",
    "amplitude",
    "quality",
)


def stitching_summary(value: Any) -> dict[str, Any] | None:
    """Return how a star's units were put on one magnitude scale, or None without it.

    Parameters
    ----------
    value : Any
        The ``stitching`` field of ``stars/{picid}``: ``reference_unit``, ``offsets`` (per
        unit ``offset_mag``, ``offset_err_mag``, ``overlap_hours``), ``degenerate`` and
        ``reason``.

    Returns
    -------
    dict or None
        ``reference_unit``, ``offsets`` (a list, the reference unit first, then by unit:
        ``unit``, ``offset_mag`` and ``offset_err_mag`` in mag, ``overlap_hours``),
        ``degenerate`` (some unit's data never overlaps another's in time, so its offset is
        not measured) and ``reason``.
    """
    if not isinstance(value, Mapping):
        return None
    reference = text(value.get("reference_unit"))
    offsets = value.get("offsets") if isinstance(value.get("offsets"), Mapping) else {}
    rows = [
        {
            "unit": str(unit),
            "offset_mag": number(entry.get("offset_mag")),
            "offset_err_mag": number(entry.get("offset_err_mag")),
            "overlap_hours": number(entry.get("overlap_hours")),
        }
        for unit, entry in offsets.items()
        if isinstance(entry, Mapping)
    ]
    rows.sort(key=lambda row: (row["unit"] != reference, row["unit"]))
    return {
        "reference_unit": reference,
        "offsets": rows,
        "degenerate": value.get("degenerate") is True,
        "reason": text(value.get("reason")),
    }


def star_analysis(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return the analysis of a star as its page and the API show it, or None without one.

    Parameters
    ----------
    doc : mapping or None
        The ``stars/{picid}`` document (:mod:`panoptes_network.analysis.star_documents`).

    Returns
    -------
    dict or None
        The headline figures, counts, ``units``, per colour the statistics of
        :data:`ANALYSIS_COLOUR_FIELDS` (magnitudes in mag), and ``stitching``
        (:func:`stitching_summary`; None when the analysis stored none).
    """
    if not doc:
        return None
    out: dict[str, Any] = {k: doc.get(k) for k in _ANALYSIS_FIELDS}
    out["units"] = [u for u in doc.get("units") or [] if isinstance(u, str)]
    colours = doc.get("colours") if isinstance(doc.get("colours"), Mapping) else {}
    out["colours"] = {
        c: {k: colours[c].get(k) for k in ANALYSIS_COLOUR_FIELDS}
        for c in COLOURS
        if isinstance(colours.get(c), Mapping)
    }
    out["stitching"] = stitching_summary(doc.get("stitching"))
    return out


def star(
    documents: DocumentStore,
    picid: Any,
    *,
    read_data: DataReader | None = None,
    limit: int = MAX_LIGHTCURVES,
    analysis_hash: str | None = None,
) -> dict[str, Any]:
    """Return a star: its catalog data, its light curves with their points, its flags.

    Reads the star's index document, the newest ``limit`` + 1 of its light curves (more
    only when several runs share the second of the last one, or listed ones are gone) and at
    most :data:`MAX_FLAGS` flags; without an index document, at most ``limit`` + 1 light
    curves by query. And at most :data:`MAX_FILE_READS` data files.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    picid : int or str
        The star.
    read_data : callable, optional
        Reads a run's data file (for light curves whose points are not embedded).
    limit : int
        Most light curves (the newest runs), 1 to :data:`MAX_LIGHTCURVES`.
    analysis_hash : str, optional
        The analysis whose detections of the star are listed (at most
        :data:`~.detections.MAX_STAR_DETECTIONS`, one more query); None lists none.

    Returns
    -------
    dict
        ``picid``; ``catalog`` (``ra``, ``dec`` in deg, ``vmag`` in mag, from the newest
        light curve); ``colours`` (those with points); ``lightcurves`` (newest first: the
        run, unit, camera, run time, points, per colour statistics in mag, ``data_url``,
        ``png`` (the path of its PNG) and ``points``: ``time`` (ISO 8601 UTC), ``time_s``
        (POSIX s), per colour ``c`` the normalised flux, ``c_err``, ``c_outlier``, and
        ``flagged``; or None with ``points_note`` saying why); ``num_lightcurves``;
        ``truncated`` (more light curves than ``limit``); ``flags`` (see
        :func:`star_flags`); ``units`` (the units it was seen by); ``analysis`` (its
        statistics merged across every unit and run, :func:`star_analysis`; None before
        the analysis has seen it); ``detections`` (its most significant real detections of
        that analysis, :func:`~.detections.detection_row` each, highest significance first);
        ``documents_read`` (every document read, the index document included).

    Raises
    ------
    NotFound
        When no light curve of that star exists.
    """
    picid = check_picid(picid)
    limit = check_limit(limit, MAX_LIGHTCURVES)
    found, lightcurves_read = _lightcurve_docs(documents, picid, limit + 1)
    if not found:
        raise NotFound("star", str(picid))
    truncated = len(found) > limit
    found = found[:limit]
    flags, flags_read = _points_flags(documents, picid)
    newest = found[0][1]
    lightcurves, colours, units, file_reads = [], set(), [], 0
    for lcid, doc in found:
        summary = _lightcurve_summary(lcid, doc)
        reader = read_data if file_reads < MAX_FILE_READS else None
        embedded = isinstance(doc.get("points"), Mapping)
        columns = lightcurve_points(doc, reader)
        file_reads += int(not embedded and reader is not None)
        if columns is None:
            summary["points"] = None
            summary["points_note"] = (
                "points not shown here: download the star's points"
                if reader is None and read_data is not None
                else "the run's data file could not be read"
            )
        else:
            flagged = _flagged(columns["time"], summary["sequence_id"], flags)
            summary["points"] = _plot_points(columns, flagged)
            colours.update(c for c in COLOURS if f"flux_{c}" in columns)
        if summary["unit_id"] and summary["unit_id"] not in units:
            units.append(summary["unit_id"])
        lightcurves.append(summary)
    detections = (
        star_detections(documents, picid, analysis_hash) if analysis_hash is not None else []
    )
    return {
        "picid": picid,
        "catalog": {
            "ra": number(newest.get("ra")),
            "dec": number(newest.get("dec")),
            "vmag": number(newest.get("vmag")),
        },
        "colours": [c for c in COLOURS if c in colours],
        "units": units,
        "num_lightcurves": len(lightcurves),
        "truncated": truncated,
        "lightcurves": lightcurves,
        "flags": flags,
        "analysis": star_analysis(documents.get(STARS, str(picid))),
        "detections": detections,
        "documents_read": lightcurves_read + flags_read + 1 + len(detections),
    }


def star_points(
    documents: DocumentStore, picid: Any, *, read_data: DataReader | None = None
) -> pa.Table:
    """Return every point of a star, one row per (run, frame), for download.

    Reads the star's light curves as :func:`star` does (at most :data:`MAX_LIGHTCURVES`),
    at most :data:`MAX_FLAGS` flags and the data file of each run whose points are not
    embedded (the file first where it can be read: it has the airmass).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    picid : int or str
        The star.
    read_data : callable, optional
        Reads a run's data file.

    Returns
    -------
    pyarrow.Table
        :data:`POINT_COLUMNS` (``time`` in POSIX s, ``time_utc`` ISO 8601, ``airmass``), then
        ``flux_c``, ``flux_err_c`` (normalised flux) and ``outlier_c`` for each colour of
        :data:`COLOURS` (NaN and false where a run lacks that colour), then ``flagged``;
        newest run first, each run's rows in time order. Metadata (text): ``picid``,
        ``ra``, ``dec``, ``vmag`` and ``runs_without_points`` (run ids, comma-separated).

    Raises
    ------
    NotFound
        When no light curve of that star exists.
    """
    picid = check_picid(picid)
    found, _ = _lightcurve_docs(documents, picid, MAX_LIGHTCURVES)
    if not found:
        raise NotFound("star", str(picid))
    flags = star_flags(documents, picid)
    parts: dict[str, list[Any]] = {name: [] for name in POINT_COLUMNS}
    for c in COLOURS:
        for name in (f"flux_{c}", f"flux_err_{c}", f"outlier_{c}"):
            parts[name] = []
    parts["flagged"] = []
    missing = []
    for lcid, doc in found:
        columns = lightcurve_points(doc, read_data, prefer_file=True)
        run_id = _run_id(lcid, doc)
        if columns is None:
            missing.append(run_id)
            continue
        n = len(columns["time"])
        sequence_id = text(doc.get("sequence_id"))
        for name, value in (
            ("picid", picid),
            ("unit_id", text(doc.get("unit_id"))),
            ("camera_id", text(doc.get("camera_id"))),
            ("sequence_id", sequence_id),
            ("run_id", run_id),
        ):
            parts[name].append(np.full(n, value, dtype=object if name != "picid" else np.int64))
        parts["time"].append(columns["time"])
        parts["time_utc"].append(np.array([_iso(float(t)) for t in columns["time"]], dtype=object))
        parts["airmass"].append(columns["airmass"])
        for c in COLOURS:
            parts[f"flux_{c}"].append(columns.get(f"flux_{c}", np.full(n, np.nan)))
            parts[f"flux_err_{c}"].append(columns.get(f"flux_err_{c}", np.full(n, np.nan)))
            parts[f"outlier_{c}"].append(columns.get(f"outlier_{c}", np.zeros(n, dtype=bool)))
        parts["flagged"].append(_flagged(columns["time"], sequence_id, flags))
    types = {
        "picid": pa.int64(),
        "unit_id": pa.string(),
        "camera_id": pa.string(),
        "sequence_id": pa.string(),
        "run_id": pa.string(),
        "time_utc": pa.string(),
    }
    arrays = {}
    for name, chunks in parts.items():
        kind = types.get(
            name, pa.bool_() if name.startswith(("outlier_", "flagged")) else pa.float64()
        )
        joined = np.concatenate(chunks) if chunks else np.array([], dtype=object)
        arrays[name] = pa.array(joined.tolist() if joined.dtype == object else joined, type=kind)
    newest = found[0][1]
    metadata = {
        "picid": str(picid),
        "ra": str(number(newest.get("ra"))),
        "dec": str(number(newest.get("dec"))),
        "vmag": str(number(newest.get("vmag"))),
        "runs_without_points": ",".join(r for r in missing if r),
    }
    return pa.table(arrays).replace_schema_metadata(metadata)


def lightcurve(
    documents: DocumentStore, lcid: Any, *, read_data: DataReader | None = None
) -> dict[str, Any]:
    """Return one light curve (one star in one run) with its points as arrays.

    Reads 1 document, and the run's data file when the points are not embedded.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    lcid : str
        The light curve (``<PICID>_<run_id>``).
    read_data : callable, optional
        Reads a run's data file.

    Returns
    -------
    dict
        The summary of :func:`star`'s light curves plus ``picid``, ``vmag`` (mag) and
        ``columns``: ``time`` (POSIX s), ``airmass``, and per colour ``flux_c``,
        ``flux_err_c``, ``outlier_c`` (numpy arrays, not JSON).

    Raises
    ------
    NotFound
        When there is no such light curve, or its points cannot be read.
    """
    if not isinstance(lcid, str) or "_" not in lcid or not is_document_id(lcid):
        raise NotFound("light curve", str(lcid))
    doc = documents.get(LIGHTCURVES, lcid)
    if doc is None:
        raise NotFound("light curve", lcid)
    columns = lightcurve_points(doc, read_data)
    if columns is None:
        raise NotFound("light curve with readable points", lcid)
    return {
        **_lightcurve_summary(lcid, doc),
        "picid": integer(doc.get("picid")),
        "vmag": number(doc.get("vmag")),
        "columns": columns,
    }


def run_stars(
    documents: DocumentStore, run_id: str, *, run: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Return the brightest stars with a light curve in one run (a way into the star pages).

    Reads the run's document (unless given) and the light curves its
    ``brightest_lightcurves`` lists, by key (at most :data:`MAX_RUN_STARS`); for a run
    without that list (recorded before it existed, or not done yet), at most
    :data:`MAX_RUN_STARS` documents by query (``processed_observation ==``, ordered by
    ``vmag``: the second index of :data:`STAR_INDEXES`).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    run_id : str
        The run.
    run : Mapping, optional
        The run's ``processed_observations`` document, when the caller has read it.

    Returns
    -------
    list of dict
        ``picid``, ``vmag`` (mag), ``num_points``, ``variable`` and, per colour with
        figures, ``rms_mag`` (mag); brightest first.
    """
    if run is None:
        run = documents.get(PROCESSED_OBSERVATIONS, run_id) if is_document_id(run_id) else None
    listed = run.get("brightest_lightcurves") if run is not None else None
    if isinstance(listed, list):
        lcids = [lcid for lcid in listed if isinstance(lcid, str) and is_document_id(lcid)]
        found = read_listed(documents, LIGHTCURVES, lcids[:MAX_RUN_STARS])
    else:
        found = documents.query(
            LIGHTCURVES,
            [("processed_observation", "==", run_id)],
            order_by="vmag",
            limit=MAX_RUN_STARS,
        )
    return [
        {
            "picid": integer(doc.get("picid")),
            "vmag": number(doc.get("vmag")),
            "num_points": integer(doc.get("num_points")),
            "variable": doc.get("variable") if isinstance(doc.get("variable"), bool) else None,
            "rms_mag": {
                c: number(doc.get(f"rms_mag_{c}"))
                for c in COLOURS
                if number(doc.get(f"rms_mag_{c}")) is not None
            },
        }
        for _, doc in found
        if integer(doc.get("picid")) is not None
    ]
