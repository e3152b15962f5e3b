"""A sky search's page in time order, read by key through the sky cells key index.

A cone (:class:`~.sky.SkyCone`) is covered by at most 30 HEALPix cells; the document of
each cell in the sky cells key index (:data:`~panoptes_network.pipeline.schema.SKY_CELLS`,
:mod:`panoptes_network.pipeline.key_index`) lists the sequence ids of the observations
whose sky index (``sky_cells``) holds it. :func:`sky_time_page` reads those documents (one
batch read), takes the union of the ids as the candidates, orders them by the start time
the id carries (``<UNIT>_<CAMERA>_<SEQSTART>``, ``SEQSTART`` being ``YYYYMMDDTHHMMSS`` in
UTC, the observation's ``time``) and reads the page's observations by key (a second batch
read). So a page costs at most 30 + ``limit`` document reads whatever the size of the
archive, and never a query: Firestore's emulator answers a query by scanning the whole
collection, and reads by key at once.

The candidates are those of the cells, a superset of the matches: the caller keeps the
observations whose field meets the cone (:func:`~.sky.match_distance`) and applies its
other filters to the documents read, so a page may hold fewer rows than ``limit``, even
none, while ``next_cursor`` goes on. ``since`` and ``until`` apply to the ids' start times,
before any document is read. An id whose start time cannot be read is left out, as is a
listed observation whose document is gone.

The cursor is the one of :mod:`._cursor` for the order ``time``: the last candidate's start
time and its sequence id, so paging on reaches every candidate once, in either direction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from panoptes_network.explorer._cursor import decode_cursor, encode_cursor
from panoptes_network.explorer.errors import InvalidQuery
from panoptes_network.explorer.sky import SkyCone
from panoptes_network.pipeline.key_index import read_ids_of, read_listed
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import OBSERVATIONS, SKY_CELLS

__all__ = ["SkyPage", "sequence_start", "sky_time_page"]

#: The order a cursor of this page belongs to.
_ORDER = "time"
#: ``SEQSTART`` of a sequence id: ``YYYYMMDDTHHMMSS``.
_SEQSTART = re.compile(r"[0-9]{8}T[0-9]{6}")


@dataclass(frozen=True)
class SkyPage:
    """One page of a sky search's candidates, read.

    Attributes
    ----------
    rows : list of (str, dict)
        ``(sequence_id, fields)`` of the page's observations that exist, in the page's order.
    next_cursor : str or None
        The cursor after the page's last candidate; None when no candidate remains.
    documents_read : int
        Documents read: the cells' index documents and the observations.
    """

    rows: list[tuple[str, dict[str, Any]]]
    next_cursor: str | None
    documents_read: int


def sequence_start(sequence_id: str) -> datetime | None:
    """Return the start time a sequence id carries, or None when it has none.

    Parameters
    ----------
    sequence_id : str
        ``<UNIT>_<CAMERA>_<SEQSTART>``, ``SEQSTART`` being ``YYYYMMDDTHHMMSS``.

    Returns
    -------
    datetime or None
        ``SEQSTART`` as a UTC time; None for an id of another form or an impossible date.
    """
    parts = sequence_id.split("_")
    if len(parts) != 3 or not all(parts) or not _SEQSTART.fullmatch(parts[2]):
        return None
    try:
        return datetime.strptime(parts[2], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _after(cursor: str | None, descending: bool) -> tuple[datetime, str] | None:
    """Return the position a cursor continues after, or None without a cursor."""
    if cursor is None:
        return None
    value, doc_id = decode_cursor(cursor, _ORDER, descending)
    if not isinstance(value, datetime):
        raise InvalidQuery(
            "cursor", "is not a cursor of this sky search: start again without a cursor"
        )
    return value, doc_id


def sky_time_page(
    documents: DocumentStore,
    cone: SkyCone,
    *,
    since: datetime | None,
    until: datetime | None,
    descending: bool,
    limit: int,
    cursor: str | None,
) -> SkyPage:
    """Read one page of the observations listed under a cone's cells, in time order.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    cone : SkyCone
        The search; its cells (at most 30) are read from the sky cells key index.
    since, until : datetime, optional
        Only candidates that started at or after ``since`` and before ``until``
        (timezone-aware).
    descending : bool
        Newest first.
    limit : int
        Candidates read per page (each one document read).
    cursor : str, optional
        ``next_cursor`` of the previous page (same direction).

    Returns
    -------
    SkyPage
        The rows, the next cursor and the documents read (at most
        ``len(cone.cells.cells) + limit``).

    Raises
    ------
    InvalidQuery
        For a cursor that is not one of this order and direction.
    """
    after = _after(cursor, descending)
    cells = [str(cell) for cell in dict.fromkeys(cone.cells.cells)]
    listed = read_ids_of(documents, SKY_CELLS, cells)
    starts: dict[str, datetime] = {}
    for ids in listed.values():
        for sequence_id in ids:
            if sequence_id in starts:
                continue
            start = sequence_start(sequence_id)
            if start is None or (since is not None and start < since):
                continue
            if until is not None and start >= until:
                continue
            starts[sequence_id] = start
    keys = sorted(((start, i) for i, start in starts.items()), reverse=descending)
    if after is not None:
        keys = [k for k in keys if (k < after if descending else k > after)]
    window = keys[:limit]
    rows = read_listed(documents, OBSERVATIONS, [i for _, i in window])
    next_cursor = None
    if len(keys) > limit:
        start, last_id = window[-1]
        next_cursor = encode_cursor(_ORDER, descending, start, last_id)
    return SkyPage(rows, next_cursor, len(cells) + len(window))
