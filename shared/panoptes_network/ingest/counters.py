"""Exact counters when Pub/Sub delivers at least once and units upload twice.

The image document is the ledger. The counters of its observation and unit move in the same
atomic batch that creates the image document, and that batch carries preconditions: the
image must not exist yet (or must still be the placeholder that was read: an error, or a
raw file's products waiting for their frame), and a new
observation must not exist yet. Two deliveries of the same frame race to create the image;
one batch wins and the other fails whole, re-reads, finds the image, and moves nothing.

This is optimistic concurrency without read locks, so frames of one observation recorded in
parallel never wait on each other's locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any

from panoptes_network.ingest.records import FrameRecords
from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.key_index import add_ids, move_id
from panoptes_network.pipeline.ports import (
    DocKey,
    DocSnapshot,
    DocumentStore,
    DocWrite,
)
from panoptes_network.pipeline.schema import (
    IMAGES,
    OBSERVATION_FRAMES,
    OBSERVATIONS,
    PLACEHOLDER_STATUSES,
    SKY_CELLS,
    UNITS,
    WEEKLY_STATS,
)

__all__ = ["record_keys", "plan_frame_writes", "record_frame", "RecordOutcome", "week_of"]

#: Read-plan-commit rounds before giving up (the message is then redelivered).
_LATER_FIELDS = {"status", "solved", "ra_image", "dec_image", "received_time"}


def record_keys(records: FrameRecords) -> list[DocKey]:
    """Return the documents a frame's batch depends on: image, observation, unit.

    Parameters
    ----------
    records : FrameRecords
        The frame's documents.

    Returns
    -------
    list of (collection, doc_id)
        Image, observation and unit keys.
    """
    return [
        (IMAGES, records.image_id),
        (OBSERVATIONS, records.sequence_id),
        (UNITS, records.unit_id),
    ]


def week_of(moment: datetime) -> tuple[str, datetime]:
    """Return the ISO week of a moment (UTC) and the start of that week.

    Parameters
    ----------
    moment : datetime
        A time; naive times are taken as UTC.

    Returns
    -------
    tuple of (str, datetime)
        ``YYYY-Www`` (ISO 8601 week) and its Monday 00:00 UTC.
    """
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    year, week, _ = utc.isocalendar()
    monday = date.fromisocalendar(year, week, 1)
    return f"{year}-W{week:02d}", datetime.combine(monday, time(0), tzinfo=timezone.utc)


def _weekly_write(records: FrameRecords, new_observation: bool) -> DocWrite | None:
    """Return the increment of the weekly statistics of the frame's unit, in its batch."""
    moment = records.image.get("time")
    if not isinstance(moment, datetime):
        return None
    week, start = week_of(moment)
    return DocWrite(
        WEEKLY_STATS,
        f"{records.unit_id}_{week}",
        {"unit_id": records.unit_id, "week": week, "week_start": start},
        {
            "num_images": 1,
            "num_observations": 1 if new_observation else 0,
            "total_minutes_exptime": records.minutes_exptime,
        },
    )


def _is_counted(image: DocSnapshot) -> bool:
    return image.exists and (image.fields or {}).get("status") not in PLACEHOLDER_STATUSES


def plan_frame_writes(records: FrameRecords, existing: dict[DocKey, DocSnapshot]) -> list[DocWrite]:
    """Plan the batch that records one frame, given what the documents held when read.

    Parameters
    ----------
    records : FrameRecords
        The documents built from the frame.
    existing : dict
        Snapshot of each key of :func:`record_keys`.

    Returns
    -------
    list of DocWrite
        For an image already counted: refresh its descriptive fields only, keeping what
        later steps set (status, plate solution) and every counter. Otherwise: create the
        image (or replace its error placeholder), create or increment the observation, and
        increment the unit (creating it when missing) and the unit's weekly statistics of the
        frame's ISO week (a new observation counts in the week of the frame that created
        it), all under preconditions; and list the image in its observation's frames index
        and a new observation under each cell of its sky index (:mod:`~..pipeline.key_index`).
    """
    image_key, observation_key, unit_key = record_keys(records)
    image = existing.get(image_key, DocSnapshot(None))
    if _is_counted(image):
        refresh = {k: v for k, v in records.image.items() if k not in _LATER_FIELDS}
        return [DocWrite(IMAGES, records.image_id, refresh)]
    minutes = records.minutes_exptime
    # A dark, bias or flat observation never gets light curves: the sweep leaves it alone;
    # it is pending for the calibration sweep instead (calibration_sweep.py).
    pending = records.image.get("frame_type") in (None, "science")
    if image.exists:
        image_write = DocWrite(
            IMAGES,
            records.image_id,
            {**records.image, "error_reason": None},
            must_exist=True,
            expected_version=image.version,
        )
    else:
        image_write = DocWrite(IMAGES, records.image_id, dict(records.image), must_not_exist=True)
    observation = existing.get(observation_key, DocSnapshot(None))
    if observation.exists:
        observation_write = DocWrite(
            OBSERVATIONS,
            records.sequence_id,
            {
                "last_image_received_time": records.observation["received_time"],
                "lightcurve_pending": pending,
                "calibration_pending": not pending,
            },
            {"num_images": 1, "total_minutes_exptime": minutes},
            must_exist=True,
        )
    else:
        observation_write = DocWrite(
            OBSERVATIONS,
            records.sequence_id,
            {
                **records.observation,
                "num_images": 1,
                "total_minutes_exptime": minutes,
                "last_image_received_time": records.observation["received_time"],
                "lightcurve_pending": pending,
                "calibration_pending": not pending,
            },
            must_not_exist=True,
        )
    unit = existing.get(unit_key, DocSnapshot(None))
    unit_fields: dict[str, Any] = (
        dict(records.unit)
        if not unit.exists
        else {
            k: v
            for k, v in records.unit.items()
            if v is not None and (unit.fields or {}).get(k) is None
        }
    )
    unit_write = DocWrite(
        UNITS,
        records.unit_id,
        unit_fields,
        {
            "num_images": 1,
            "num_observations": 0 if observation.exists else 1,
            "total_minutes_exptime": minutes,
        },
    )
    weekly = _weekly_write(records, not observation.exists)
    indexes = [add_ids(OBSERVATION_FRAMES, records.sequence_id, [records.image_id])]
    if not observation.exists:
        cells = records.observation.get("sky_cells") or []
        indexes += move_id(SKY_CELLS, records.sequence_id, [], cells)
    return [image_write, observation_write, unit_write, *([weekly] if weekly else []), *indexes]


@dataclass(frozen=True)
class RecordOutcome:
    """What :func:`record_frame` committed.

    Attributes
    ----------
    writes : list of DocWrite
        The batch that was committed.
    image_before : dict or None
        The image document as it was before the batch (None when it was new).
    """

    writes: list[DocWrite]
    image_before: dict[str, Any] | None

    @property
    def counted(self) -> bool:
        """Whether this recording moved the counters (the image was new or an error)."""
        return len(self.writes) > 1


def record_frame(documents: DocumentStore, records: FrameRecords) -> RecordOutcome:
    """Record a frame exactly once: read, plan, commit; on a conflict, again.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    records : FrameRecords
        The frame's documents.

    Returns
    -------
    RecordOutcome
        The batch that was committed and the image document it found.

    Raises
    ------
    WriteConflict
        If every round of :func:`~panoptes_network.pipeline.commit.commit_with_retry` lost a race (a
        transient fault: retry).
    """
    keys = record_keys(records)

    def plan() -> tuple[list[DocWrite], RecordOutcome]:
        existing = documents.read(keys)
        writes = plan_frame_writes(records, existing)
        return writes, RecordOutcome(writes, existing[keys[0]].fields)

    return commit_with_retry(documents, plan, what=f"the records of {records.image_id}")
