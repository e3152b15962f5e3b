"""The front page: the network's totals from the units' exact counters, the latest observations.

record-image keeps exact counters on each unit's document (``num_observations``,
``num_images``, ``total_minutes_exptime``; ``ingest/counters.py``): the network's totals
are their sums, never a count of observation or image documents. A unit whose document has
no such counter (older records lack ``total_minutes_exptime``) is named in the answer and
the total is marked incomplete.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from panoptes_network.explorer._values import number
from panoptes_network.explorer.observations import check_limit, observations
from panoptes_network.explorer.units import MAX_UNITS, read_units
from panoptes_network.explorer.weekly import MAX_WEEKLY_DOCUMENTS, weekly_activity
from panoptes_network.pipeline.ports import DocumentStore

__all__ = ["DEFAULT_LATEST", "MAX_LATEST", "MAX_WEEKLY_DOCUMENTS", "home"]

#: Latest observations shown when not told otherwise.
DEFAULT_LATEST = 10
#: Most latest observations shown.
MAX_LATEST = 50

#: The totals: ``(name, unit counter summed, factor to the total's unit)``.
_COUNTERS = (
    ("observations", "num_observations", 1.0),
    ("images", "num_images", 1.0),
    ("exposure_hours", "total_minutes_exptime", 1 / 60.0),
)


def _total(rows: list[tuple[str, dict[str, Any]]], counter: str, factor: float, truncated: bool):
    values = [(unit_id, number(doc.get(counter))) for unit_id, doc in rows]
    missing = sorted(unit_id for unit_id, value in values if value is None)
    known = [value for _, value in values if value is not None]
    total: float | int | None = None
    if known:
        total = sum(known) * factor if factor != 1.0 else sum(known)
    if missing:
        note = f"{len(missing)} of {len(rows)} units have no {counter} counter yet"
    elif truncated:
        note = f"only the first {MAX_UNITS} units are summed"
    else:
        note = None
    return {
        "value": total,
        "counter": counter,
        "complete": not missing and not truncated,
        "units_without_counter": missing,
        "note": note,
    }


def home(
    documents: DocumentStore, *, latest: int = DEFAULT_LATEST, now: datetime | None = None
) -> dict[str, Any]:
    """Return the network's totals, its weekly activity per unit and its latest observations.

    Reads at most ``MAX_UNITS + 1 + latest + 1 + MAX_WEEKLY_DOCUMENTS + 1`` documents: the
    units (see :func:`~.units.read_units`), one page of observations and the weekly
    statistics (:func:`~.weekly.weekly_activity`).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    latest : int
        Latest observations to list, 1 to :data:`MAX_LATEST`.
    now : datetime, optional
        The present, for the weekly chart (UTC; now by default).

    Returns
    -------
    dict
        ``totals``: ``units`` (unit documents, each a unit's counters), ``observations``,
        ``images`` and ``exposure_hours`` (h), each ``{"value", "counter", "complete",
        "units_without_counter", "note"}`` (``value`` sums the units that have the counter;
        None when none has it); ``latest`` (the newest observations,
        :func:`~.observations.observations` rows, by start time), ``latest_limit`` and
        ``weekly`` (:func:`~.weekly.weekly_activity`).

    Raises
    ------
    InvalidQuery
        For a bad ``latest``.
    """
    latest = check_limit(latest, MAX_LATEST)
    rows, truncated = read_units(documents)
    totals: dict[str, Any] = {
        "units": {
            "value": len(rows),
            "counter": None,
            "complete": not truncated,
            "units_without_counter": [],
            "note": f"only the first {MAX_UNITS} units are counted" if truncated else None,
        }
    }
    for name, counter, factor in _COUNTERS:
        totals[name] = _total(rows, counter, factor, truncated)
    page = observations(documents, limit=latest)
    return {
        "totals": totals,
        "latest": page["observations"],
        "latest_limit": latest,
        "weekly": weekly_activity(documents, now=now),
    }
