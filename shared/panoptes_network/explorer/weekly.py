"""The network's weekly activity per unit, from the exact ``weekly_stats`` documents.

record-image moves a unit's ``weekly_stats`` document of the frame's ISO week in the batch
that records the frame (``ingest/counters.py``), so a week's frames, new observations and
exposure are exact and a page view reads one small document per unit and week, never the
frames.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from panoptes_network.explorer._values import integer, iso_utc, number, text
from panoptes_network.ingest.counters import week_of
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import WEEKLY_STATS

__all__ = ["DEFAULT_WEEKS", "MAX_WEEKLY_DOCUMENTS", "weekly_activity"]

#: Weeks shown, the current one included.
DEFAULT_WEEKS = 12
#: Most weekly documents read for one view (units x weeks); more are left out and said so.
MAX_WEEKLY_DOCUMENTS = 1200


def weekly_activity(
    documents: DocumentStore, *, weeks: int = DEFAULT_WEEKS, now: datetime | None = None
) -> dict[str, Any]:
    """Return each unit's frames and exposure per ISO week over the last ``weeks`` weeks.

    Reads at most :data:`MAX_WEEKLY_DOCUMENTS` + 1 documents: one query, a range on
    ``week_start`` (a single-field index) from the first Monday to the end of this week.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    weeks : int
        Number of weeks, ending with the current one.
    now : datetime, optional
        The present (UTC; ``datetime.now`` by default).

    Returns
    -------
    dict
        ``weeks`` (ISO week keys, oldest first), ``week_starts`` (their Mondays, ISO 8601
        UTC), ``units`` (one entry per unit with activity: ``unit_id``, ``num_images``,
        ``num_observations`` and ``exposure_hours`` (h), each a list aligned with ``weeks``)
        and ``truncated`` (True when more documents matched than were read).
    """
    now = now or datetime.now(UTC)
    _, this_monday = week_of(now)
    starts = [this_monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    keys = [week_of(start)[0] for start in starts]
    index = {key: k for k, key in enumerate(keys)}
    rows = documents.query(
        WEEKLY_STATS,
        [("week_start", ">=", starts[0]), ("week_start", "<", this_monday + timedelta(weeks=1))],
        order_by="week_start",
        limit=MAX_WEEKLY_DOCUMENTS + 1,
    )
    truncated = len(rows) > MAX_WEEKLY_DOCUMENTS
    units: dict[str, dict[str, list[float | int]]] = {}
    for _, doc in rows[:MAX_WEEKLY_DOCUMENTS]:
        unit_id, week = text(doc.get("unit_id")), text(doc.get("week"))
        if unit_id is None or week not in index:
            continue
        series = units.setdefault(
            unit_id,
            {
                "num_images": [0] * weeks,
                "num_observations": [0] * weeks,
                "exposure_hours": [0.0] * weeks,
            },
        )
        k = index[week]
        series["num_images"][k] += integer(doc.get("num_images")) or 0
        series["num_observations"][k] += integer(doc.get("num_observations")) or 0
        series["exposure_hours"][k] += (number(doc.get("total_minutes_exptime")) or 0.0) / 60.0
    return {
        "weeks": keys,
        "week_starts": [iso_utc(start) for start in starts],
        "units": [{"unit_id": unit_id, **units[unit_id]} for unit_id in sorted(units)],
        "truncated": truncated,
    }
