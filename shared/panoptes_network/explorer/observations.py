"""Observations: a filtered, ordered page of them, and one with its frames and runs.

Firestore serves a query from an index: a range filter on one field only, which must be the
field the query is ordered by, and a composite index for each equality filter combined with
an order. So :func:`observations` pushes into its query

- at most **one** filter besides the order's range: the sky cells of a cone search when
  one is asked for (``sky_cells array-contains-any``, see below), else the most selective
  equality filter given: ``camera_id``, else ``unit_id``, else ``status``;
- the range filter of the **order field** only: ``since``/``until`` when ordered by
  ``time``, ``min_images`` when ordered by ``num_images``;

and applies the other filters to the page it read (the answer says so:
``filtered_after_read``). Such a page may hold fewer rows than ``limit``, even none, while
``next_cursor`` still continues where the reading stopped, so paging on reaches every match.
Every query it issues is served by one of :data:`COMPOSITE_INDEXES` (or by Firestore's
automatic single-field indexes).

Documents without the order field are never listed (Firestore's order leaves them out).
Range filters match only values of the filter's type: ``since``/``until`` (timestamps) never
match a time stored as a string, as some older records hold it.

Sky search (``name``, or ``ra`` and ``dec``; ``radius``, :mod:`.sky`): the candidates are
the observations whose sky index (:mod:`panoptes_network.frames.sky_index`) holds any of the
at most 30 HEALPix cells covering the cone, so the whole collection is never read. Ordered
by ``time``, they are read by key through the sky cells key index (:mod:`.sky_page`: the
cells' documents list the observations' sequence ids, which carry their start time; at most
30 + ``limit`` documents read, and no query); ordered by ``num_images``, the query asks
``sky_cells array-contains-any`` the cells (served by Firestore's index, but slow on the
Firestore emulator, which scans the whole collection for every query). Of the candidates it
keeps those whose indexed pointing (``sky_ra``, ``sky_dec``) is within the cone's radius
plus their field's radius (``sky_radius``: the field's half diagonal, wider for a mount
position), applied after the read and listed as ``cone`` in ``after_read``, and reports each
row's ``distance_deg``. The equality filters are then all applied after the read. An
observation is found once its document has the sky index and the cells' documents list it:
record-image does both when its first frame has a mount position, plate-solve moves both to
the solved field, and ``bin/key-index`` does both for older documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from panoptes_network.explorer import _values
from panoptes_network.explorer._cursor import decode_cursor, encode_cursor
from panoptes_network.explorer._records import (
    frame_summary,
    observation_summary,
    run_summary,
)
from panoptes_network.explorer._values import (
    integer,
    is_document_id,
    iso_utc,
    json_value,
    text,
)
from panoptes_network.explorer.detections import DETECTION_INDEXES
from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.flags import flags_of
from panoptes_network.explorer.sky import SkyCone, TargetResolver, match_distance, sky_cone
from panoptes_network.explorer.sky_page import sky_time_page
from panoptes_network.explorer.stars import STAR_INDEXES, run_stars
from panoptes_network.frames.sky_index import SkySource
from panoptes_network.pipeline.key_index import read_ids, read_listed
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import (
    IMAGES,
    OBSERVATION_FRAMES,
    OBSERVATION_RUNS,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
)
from panoptes_network.pipeline.settings import Settings

__all__ = [
    "COMPOSITE_INDEXES",
    "DEFAULT_LIMIT",
    "MAX_FILTER_CHARS",
    "MAX_LIMIT",
    "MAX_MIN_IMAGES",
    "MAX_RUNS",
    "ORDER_FIELDS",
    "check_limit",
    "observation",
    "observations",
]

#: Fields an observations page may be ordered by (``time``: start of the observation).
ORDER_FIELDS = ("time", "num_images")
#: Most rows of one page.
MAX_LIMIT = 200
#: Rows of a page when no limit is given.
DEFAULT_LIMIT = 50
#: Most processing runs listed with an observation (the newest).
MAX_RUNS = 10
#: Longest value of an equality filter (unit, camera, status), in characters.
MAX_FILTER_CHARS = 100
#: Largest ``min_images`` accepted.
MAX_MIN_IMAGES = 1_000_000

#: Equality filters, most selective first: ``(parameter, field)``. One is pushed.
_EQUALITY = (("camera", "camera_id"), ("unit", "unit_id"), ("status", "status"))
#: The sky index's array of cells on observation documents.
_SKY_CELLS = "sky_cells"


def _index(collection: str, *fields: tuple[str, str]) -> dict[str, Any]:
    return {
        "collectionGroup": collection,
        "queryScope": "COLLECTION",
        "fields": [{"fieldPath": f, "order": o} for f, o in fields],
    }


def _observation_indexes() -> tuple[dict[str, Any], ...]:
    return tuple(
        _index(OBSERVATIONS, (field, "ASCENDING"), (order, direction))
        for _, field in _EQUALITY
        for order in ORDER_FIELDS
        for direction in ("DESCENDING", "ASCENDING")
    )


def _sky_indexes() -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "collectionGroup": OBSERVATIONS,
            "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": _SKY_CELLS, "arrayConfig": "CONTAINS"},
                {"fieldPath": order, "order": direction},
            ],
        }
        for order in ("num_images",)  # in time order, a sky search reads by key
        for direction in ("DESCENDING", "ASCENDING")
    )


#: The composite indexes the explorer's queries need, as ``infra/firestore.indexes.json``
#: writes them: each equality filter with each order field in both directions, the sky
#: cells (array-contains) with ``num_images`` in both directions, and, for documents written
#: before the key indexes, a sequence's frames in time order, its runs newest first, a
#: star's light curves newest first; and the analysis' detections (:mod:`.detections`).
COMPOSITE_INDEXES: tuple[dict[str, Any], ...] = (
    *_observation_indexes(),
    *_sky_indexes(),
    _index(IMAGES, ("sequence_id", "ASCENDING"), ("time", "ASCENDING")),
    _index(PROCESSED_OBSERVATIONS, ("sequence_id", "ASCENDING"), ("run_time", "DESCENDING")),
    *STAR_INDEXES,
    *DETECTION_INDEXES,
)


def check_limit(limit: Any, maximum: int = MAX_LIMIT) -> int:
    """Return ``limit`` if it is a whole number from 1 to ``maximum``; else raise InvalidQuery."""
    return _values.check_limit(limit, maximum)


def _check_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_FILTER_CHARS:
        raise InvalidQuery(name, f"must be text of 1 to {MAX_FILTER_CHARS} characters")
    return value


def _check_time(name: str, value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidQuery(name, "must be a time (ISO 8601)")
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _page(
    documents: DocumentStore,
    collection: str,
    filters: list[tuple[str, str, Any]],
    *,
    order: str,
    descending: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
    """Read one page (``limit + 1`` documents at most); return it and the next cursor."""
    after, after_id = decode_cursor(cursor, order, descending) if cursor else (None, None)
    rows = documents.query(
        collection,
        filters,
        order_by=order,
        descending=descending,
        limit=limit + 1,
        start_after=after,
        start_after_id=after_id,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if not more or not rows:
        return rows, None
    last_id, last = rows[-1]
    return rows, encode_cursor(order, descending, last.get(order), last_id)


def observations(
    documents: DocumentStore,
    *,
    unit: str | None = None,
    camera: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_images: int | None = None,
    name: str | None = None,
    ra: float | None = None,
    dec: float | None = None,
    radius: float | None = None,
    order: str = "time",
    descending: bool = True,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    resolver: TargetResolver | None = None,
) -> dict[str, Any]:
    """Return one page of observations, filtered and ordered.

    Reads at most ``limit + 1`` documents (one query); with a sky search ordered by
    ``time``, at most 30 + ``limit`` documents by key and no query (:mod:`.sky_page`).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    unit, camera, status : str, optional
        Only observations of that unit id, camera id, or status.
    since, until : datetime, optional
        Only observations that started at or after ``since`` and before ``until`` (naive
        times are UTC).
    min_images : int, optional
        Only observations with at least that many frames recorded (``num_images``).
    name : str, optional
        A sky search around a named target or coordinates given as text (see
        :func:`~.sky.sky_cone`), resolved by ``resolver``.
    ra, dec : float, optional
        A sky search around this centre, in degrees (both, and not with ``name``).
    radius : float, optional
        The sky search's radius, in degrees: 0 to :data:`~.sky.MAX_RADIUS_DEG`, default
        :data:`~.sky.DEFAULT_RADIUS_DEG`. An observation matches when its field's disc
        comes within it (see the module docstring).
    order : str
        ``time`` (start) or ``num_images``.
    descending : bool
        Largest (newest) first.
    limit : int
        Documents to read for the page, 1 to :data:`MAX_LIMIT`.
    cursor : str, optional
        ``next_cursor`` of the previous page (same order and direction).
    resolver : TargetResolver, optional
        Resolves ``name``; :func:`~.sky.offline_resolver` (the catalog's offline table) by
        default.

    Returns
    -------
    dict
        ``observations`` (rows of :func:`~._records.observation_summary` with
        ``distance_deg``, degrees from the sky search's centre to the indexed pointing, None
        without one, and ``pointing_source``, the indexed pointing's ``sky_source``),
        ``count``, ``limit``, ``order``, ``descending``, ``filters`` (as applied; times ISO
        8601 UTC), ``cone`` (the sky search: :meth:`~.sky.SkyCone.to_dict`, or None),
        ``filtered_after_read`` and ``after_read`` (the filters applied to the page read
        rather than by the query), ``documents_read`` and ``next_cursor`` (None on the
        last page).

    Raises
    ------
    InvalidQuery
        For a parameter out of range, or a name no one knows (the message names it).
    """
    equality = {
        "unit": _check_text("unit", unit),
        "camera": _check_text("camera", camera),
        "status": _check_text("status", status),
    }
    since, until = _check_time("since", since), _check_time("until", until)
    if since is not None and until is not None and since >= until:
        raise InvalidQuery("until", "must be later than since")
    if min_images is not None and (
        isinstance(min_images, bool)
        or not isinstance(min_images, int)
        or not 0 <= min_images <= MAX_MIN_IMAGES
    ):
        raise InvalidQuery("min_images", f"must be a whole number from 0 to {MAX_MIN_IMAGES}")
    if order not in ORDER_FIELDS:
        raise InvalidQuery("order", f"must be one of {', '.join(ORDER_FIELDS)}")
    if not isinstance(descending, bool):
        raise InvalidQuery("descending", "must be true or false")
    limit = check_limit(limit)
    cone = sky_cone(name=name, ra=ra, dec=dec, radius=radius, resolver=resolver)

    filters: list[tuple[str, str, Any]] = []
    later: dict[str, Callable[[Mapping[str, Any]], bool]] = {}
    pushed = False
    if cone is not None:
        filters.append((_SKY_CELLS, "array-contains-any", list(cone.cells.cells)))
        later["cone"] = lambda doc: match_distance(cone, doc) is not None
        pushed = True
    for parameter, field in _EQUALITY:
        value = equality[parameter]
        if value is None:
            continue
        if not pushed:
            filters.append((field, "==", value))
            pushed = True
        else:
            later[parameter] = lambda doc, f=field, v=value: doc.get(f) == v
    if since is not None or until is not None:
        if order == "time":
            if since is not None:
                filters.append(("time", ">=", since))
            if until is not None:
                filters.append(("time", "<", until))
        else:
            for parameter, value in (("since", since), ("until", until)):
                if value is not None:
                    later[parameter] = lambda doc: _within(doc.get("time"), since, until)
    if min_images is not None:
        if order == "num_images":
            filters.append(("num_images", ">=", min_images))
        else:
            later["min_images"] = lambda doc: _at_least(doc.get("num_images"), min_images)

    if cone is not None and order == "time":  # by key, through the sky cells key index
        sky = sky_time_page(
            documents,
            cone,
            since=since,
            until=until,
            descending=descending,
            limit=limit,
            cursor=cursor,
        )
        rows, next_cursor, documents_read = sky.rows, sky.next_cursor, sky.documents_read
    else:
        rows, next_cursor = _page(
            documents,
            OBSERVATIONS,
            filters,
            order=order,
            descending=descending,
            limit=limit,
            cursor=cursor,
        )
        documents_read = len(rows)
    kept = [
        _row(doc_id, doc, cone) for doc_id, doc in rows if all(test(doc) for test in later.values())
    ]
    return {
        "observations": kept,
        "count": len(kept),
        "limit": limit,
        "order": order,
        "descending": descending,
        "filters": {
            **equality,
            "since": iso_utc(since) if since else None,
            "until": iso_utc(until) if until else None,
            "min_images": min_images,
            "name": cone.name if cone else None,
            "ra": ra if cone and cone.name is None else None,
            "dec": dec if cone and cone.name is None else None,
            "radius": cone.radius if cone else None,
        },
        "cone": cone.to_dict() if cone else None,
        "filtered_after_read": bool(later),
        "after_read": sorted(later),
        "documents_read": documents_read,
        "next_cursor": next_cursor,
    }


def _row(doc_id: str, doc: Mapping[str, Any], cone: SkyCone | None) -> dict[str, Any]:
    """Return a row of the page: the summary, its distance from the cone, its pointing's source."""
    distance = match_distance(cone, doc) if cone is not None else None
    source = text(doc.get("sky_source"))
    return {
        **observation_summary(doc_id, doc),
        "distance_deg": round(distance, 6) if distance is not None else None,
        "pointing_source": source if source in SkySource.ALL else None,
    }


def _at_least(value: Any, minimum: int) -> bool:
    """Whether a stored count is at least ``minimum``, as the query's range filter would."""
    count = integer(value)
    return count is not None and count >= minimum


def _within(value: Any, since: datetime | None, until: datetime | None) -> bool:
    """Whether a stored time lies in ``[since, until)``, as the query's range filter would."""
    if not isinstance(value, datetime):
        return False  # a range filter on timestamps matches timestamps only
    moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return (since is None or moment >= since) and (until is None or moment < until)


def observation(
    documents: DocumentStore,
    sequence_id: str,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Return one observation: its document, a page of its frames and its processing runs.

    Reads at most ``3 + (limit + 1) + (MAX_RUNS + 1) + 21 + 50`` documents, by key but
    for the flags: the observation, its frames and runs key indexes
    (:mod:`~panoptes_network.pipeline.key_index`), one page of its frames, its newest runs,
    the brightest stars of the newest run and its active flags. An observation recorded
    before the key indexes existed (no index document) has its frames and runs read by a
    query instead, with the same answer.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    sequence_id : str
        The observation (``<UNIT>_<CAMERA>_<SEQSTART>``).
    limit : int
        Frames per page, 1 to :data:`MAX_LIMIT`.
    cursor : str, optional
        ``frames_next_cursor`` of the previous page of frames.
    settings : Settings, optional
        The images bucket and get-fits-header's URL, for the frames' header links
        (``Settings()`` by default).

    Returns
    -------
    dict
        ``observation`` (:func:`~._records.observation_summary`), ``document`` (every
        field, as JSON), ``frames`` (:func:`~._records.frame_summary`, in time order),
        ``frames_limit``, ``frames_next_cursor``, ``runs``
        (:func:`~._records.run_summary`, newest first, at most :data:`MAX_RUNS`),
        ``runs_truncated`` (more runs exist), ``stars`` (the brightest stars with a light
        curve in the newest run, see :func:`~.stars.run_stars`) and ``flags`` (its active
        flags, see :func:`~.flags.flags_of`).

    Raises
    ------
    NotFound
        When there is no such observation.
    InvalidQuery
        For a bad ``limit`` or ``cursor``.
    """
    limit = check_limit(limit)
    settings = settings or Settings()
    if not is_document_id(sequence_id):
        raise NotFound("observation", str(sequence_id))
    doc = documents.get(OBSERVATIONS, sequence_id)
    if doc is None:
        raise NotFound("observation", sequence_id)
    frames, frames_next = _frames_page(documents, sequence_id, limit=limit, cursor=cursor)
    runs = _newest_runs(documents, sequence_id)
    return {
        "observation": observation_summary(sequence_id, doc),
        "document": json_value(doc),
        "frames": [frame_summary(image_id, image, settings) for image_id, image in frames],
        "frames_limit": limit,
        "frames_next_cursor": frames_next,
        "runs": [run_summary(run_id, run) for run_id, run in runs[:MAX_RUNS]],
        "runs_truncated": len(runs) > MAX_RUNS,
        "stars": run_stars(documents, runs[0][0], run=runs[0][1]) if runs else [],
        "flags": flags_of(documents, "sequence_id", sequence_id),
    }


def _frames_page(
    documents: DocumentStore, sequence_id: str, *, limit: int, cursor: str | None
) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
    """Read one page of an observation's frames in time order; return it and the next cursor.

    By key through the frames index (image ids ``<UNIT>_<CAMERA>_<IMGSTART>`` sort in time
    order within an observation), else by the query on ``sequence_id``. The cursor is the
    same in both: the last frame's time and id.
    """
    listed = read_ids(documents, OBSERVATION_FRAMES, sequence_id)
    if listed is None:
        return _page(
            documents,
            IMAGES,
            [("sequence_id", "==", sequence_id)],
            order="time",
            descending=False,
            limit=limit,
            cursor=cursor,
        )
    after_id = decode_cursor(cursor, "time", False)[1] if cursor else None
    ids = sorted(i for i in listed if after_id is None or i > after_id)
    rows = read_listed(documents, IMAGES, ids[: limit + 1])
    more = len(ids) > limit + 1 or len(rows) > limit
    rows = rows[:limit]
    if not more or not rows:
        return rows, None
    last_id, last = rows[-1]
    return rows, encode_cursor("time", False, last.get("time"), last_id)


def _newest_runs(documents: DocumentStore, sequence_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Read an observation's newest ``MAX_RUNS + 1`` runs, newest first.

    By key through the runs index (run ids ``<sequence_id>_<RUNTIME>[-n]`` sort in the order
    the runs were made), else by the query on ``sequence_id`` ordered by ``run_time``.
    """
    listed = read_ids(documents, OBSERVATION_RUNS, sequence_id)
    if listed is None:
        return documents.query(
            PROCESSED_OBSERVATIONS,
            [("sequence_id", "==", sequence_id)],
            order_by="run_time",
            descending=True,
            limit=MAX_RUNS + 1,
        )
    return read_listed(
        documents, PROCESSED_OBSERVATIONS, sorted(listed, reverse=True)[: MAX_RUNS + 1]
    )
