"""Units: the list of them, and one unit with its latest observations."""

from __future__ import annotations

from typing import Any

from panoptes_network.explorer._records import unit_summary
from panoptes_network.explorer._values import is_document_id, json_value
from panoptes_network.explorer.errors import NotFound
from panoptes_network.explorer.observations import DEFAULT_LIMIT, check_limit, observations
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import UNITS

__all__ = ["MAX_UNITS", "read_units", "unit", "units"]

#: Most units listed (there are a few dozen; more are left out and ``truncated`` is set).
MAX_UNITS = 500


def read_units(documents: DocumentStore) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    """Read the unit documents in id order, at most :data:`MAX_UNITS`.

    Reads at most ``MAX_UNITS + 1`` documents (one query).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.

    Returns
    -------
    rows : list of (str, dict)
        ``(unit_id, document)``.
    truncated : bool
        Whether more units exist than were read.
    """
    rows = documents.query(UNITS, limit=MAX_UNITS + 1)
    return rows[:MAX_UNITS], len(rows) > MAX_UNITS


def units(documents: DocumentStore) -> dict[str, Any]:
    """Return every unit (up to :data:`MAX_UNITS`), in id order.

    Reads at most ``MAX_UNITS + 1`` documents.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.

    Returns
    -------
    dict
        ``units`` (:func:`~._records.unit_summary` each), ``count`` and ``truncated``.
    """
    rows, truncated = read_units(documents)
    listed = [unit_summary(unit_id, doc) for unit_id, doc in rows]
    return {"units": listed, "count": len(listed), "truncated": truncated}


def unit(
    documents: DocumentStore,
    unit_id: str,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Return one unit: its document and a page of its observations, newest first.

    Reads at most ``1 + limit + 1`` documents.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    unit_id : str
        The unit, e.g. ``PAN001``.
    limit : int
        Observations per page, 1 to :data:`~.observations.MAX_LIMIT`.
    cursor : str, optional
        ``next_cursor`` of the previous page of its observations.

    Returns
    -------
    dict
        ``unit`` (:func:`~._records.unit_summary`: location, counters), ``document``
        (every field, as JSON) and ``observations`` (a page of
        :func:`~.observations.observations` for this unit).

    Raises
    ------
    NotFound
        When there is no such unit.
    InvalidQuery
        For a bad ``limit`` or ``cursor``.
    """
    limit = check_limit(limit)
    if not is_document_id(unit_id):
        raise NotFound("unit", str(unit_id))
    doc = documents.get(UNITS, unit_id)
    if doc is None:
        raise NotFound("unit", unit_id)
    return {
        "unit": unit_summary(unit_id, doc),
        "document": json_value(doc),
        "observations": observations(documents, unit=unit_id, limit=limit, cursor=cursor),
    }
