"""Exact counters when Pub/Sub delivers at least once and units upload twice.

The image document is the ledger: the counters of its observation and unit move in the same
transaction that creates it, and only then. A redelivered message or a second upload of the
same image finds the document and moves nothing.
"""

from __future__ import annotations

from typing import Any

from .ports import DocKey, DocWrite
from .records import FrameRecords, ImageStatus

__all__ = ["record_keys", "plan_frame_writes"]

_COUNTERS = ("num_images", "num_observations", "total_minutes_exptime")


def record_keys(records: FrameRecords) -> list[DocKey]:
    """Return the documents a frame's transaction reads.

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
        ("images", records.image_id),
        ("observations", records.sequence_id),
        ("units", records.unit_id),
    ]


def _is_counted(image: dict[str, Any] | None) -> bool:
    return image is not None and image.get("status") != ImageStatus.ERROR


def plan_frame_writes(
    records: FrameRecords, existing: dict[DocKey, dict[str, Any] | None]
) -> list[DocWrite]:
    """Plan the writes that record one frame, given what the documents hold now.

    Parameters
    ----------
    records : FrameRecords
        The documents built from the frame.
    existing : dict
        Current fields of each key of :func:`record_keys` (None when missing).

    Returns
    -------
    list of DocWrite
        For a new image: create it, and create or increment its observation and unit. For an
        image already counted: refresh the image's descriptive fields only, keeping fields
        that later steps set (status, plate solution) and all counters.
    """
    image_key, observation_key, unit_key = record_keys(records)
    image = existing.get(image_key)
    if _is_counted(image):
        keep = {"status", "solved", "ra_image", "dec_image", "received_time"}
        return [
            DocWrite(
                "images",
                records.image_id,
                {k: v for k, v in records.image.items() if k not in keep},
            )
        ]
    minutes = records.minutes_exptime
    writes = [DocWrite("images", records.image_id, dict(records.image))]
    observation = existing.get(observation_key)
    if observation is None:
        writes.append(
            DocWrite(
                "observations",
                records.sequence_id,
                {**records.observation, "num_images": 1, "total_minutes_exptime": minutes},
            )
        )
        unit_new_observations = 1
    else:
        writes.append(
            DocWrite(
                "observations",
                records.sequence_id,
                {},
                {"num_images": 1, "total_minutes_exptime": minutes},
            )
        )
        unit_new_observations = 0
    unit = existing.get(unit_key)
    unit_increments = {
        "num_images": 1,
        "num_observations": unit_new_observations,
        "total_minutes_exptime": minutes,
    }
    if unit is None:
        writes.append(DocWrite("units", records.unit_id, {**records.unit, **unit_increments}))
    else:
        missing = {k: v for k, v in records.unit.items() if unit.get(k) is None}
        missing = {k: v for k, v in missing.items() if v is not None and k not in _COUNTERS}
        writes.append(DocWrite("units", records.unit_id, missing, unit_increments))
    return writes
