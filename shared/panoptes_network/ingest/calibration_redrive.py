"""Send frames that waited for a camera constant on again, once their camera has it.

A frame whose camera lacks a constant (no header card, no measurement, no registry entry)
is recorded with ``status: "calibration_error"``, its file kept where it is
(:func:`~panoptes_network.frames.camera_registry.calibration_error_fields`). When the camera
gets the constant, from ``bin/cameras set`` or ``measure`` or from a night's measurement by
``bin/calibration-masters``, :func:`redrive_waiting_frames` sends each of the camera's
waiting frames to the step that finishes it:

- a frame not yet solved to **record-image** (which records it again and, for a science
  frame, sends it to plate-solve; a calibration frame is recorded as one);
- a solved frame (``solved_path``) to **measure-sources**.

Frames whose missing constant the camera still lacks keep waiting and are listed. A re-sent
frame is due again (``due_time``), so the reconciler re-queues it the same way if the message
is lost (:mod:`.reconcile`); a step that fails again clears ``due_time``, ending the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from panoptes_network.calibration.master_record import aware_utc
from panoptes_network.frames.camera_constants import checked_constant
from panoptes_network.frames.camera_registry import measured_constants, measured_records
from panoptes_network.ingest import ledger
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.schema import CAMERAS, IMAGES, ImageStatus

__all__ = ["Redrive", "redrive_message", "redrive_waiting_frames"]


@dataclass
class Redrive:
    """What :func:`redrive_waiting_frames` did for one camera.

    Attributes
    ----------
    camera_id : str
        The camera.
    resent : dict
        Frames sent on, per topic.
    waiting : list of (str, str)
        ``(image_id, constant)`` of frames whose constant the camera still lacks.
    """

    camera_id: str
    resent: dict[str, int] = field(default_factory=dict)
    waiting: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        """Return one line for a person: what was sent where, and what still waits."""
        sent = ", ".join(f"{n} to {topic}" for topic, n in self.resent.items()) or "none"
        line = f"camera {self.camera_id}: frames that waited for a constant sent on: {sent}"
        if self.waiting:
            missing = sorted({name for _, name in self.waiting})
            line += f"; {len(self.waiting)} still wait for {', '.join(missing)}"
        return line


def redrive_message(ctx: ChainContext, image_id: str, doc: dict[str, Any]) -> tuple[str, dict]:
    """Return the topic and message that finish a waiting frame.

    Parameters
    ----------
    ctx : ChainContext
        The chain (for the settings).
    image_id : str
        The image.
    doc : dict
        Its images document (``solved_path`` or ``bucket_path``).

    Returns
    -------
    (str, dict)
        measure-sources with the solved frame, else record-image with the stored frame.

    Raises
    ------
    ValueError
        When the document names neither file.
    """
    s = ctx.settings
    if doc.get("solved_path"):
        return s.measure_topic, StoredObject(s.solved_bucket, doc["solved_path"]).message(
            image_id=image_id
        )
    if doc.get("bucket_path"):
        return s.record_topic, StoredObject(s.images_bucket, doc["bucket_path"]).message()
    raise ValueError(f"images/{image_id} names neither its stored nor its solved frame")


def redrive_waiting_frames(ctx: ChainContext, camera_id: str, *, limit: int = 5000) -> Redrive:
    """Send the camera's frames waiting with ``calibration_error`` on, where it now can be.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    camera_id : str
        The camera that got constants.
    limit : int, optional
        Most waiting frames read in one call.

    Returns
    -------
    Redrive
        Frames sent on per topic, and those still waiting with their missing constant.

    Raises
    ------
    ValueError
        Without a document store.
    """
    if ctx.documents is None:
        raise ValueError("redrive_waiting_frames needs a document store")
    documents = ctx.documents
    report = Redrive(camera_id)
    rows = documents.query(
        IMAGES,
        [("camera_id", "==", camera_id), ("status", "==", ImageStatus.CALIBRATION_ERROR)],
        limit=limit,
    )
    registry = documents.get(CAMERAS, camera_id) or {}
    measured = measured_records(documents, camera_id) if rows else []
    for image_id, doc in rows:
        missing = doc.get("missing_camera_constant")
        if isinstance(missing, str):
            have = checked_constant(missing, registry.get(missing)) is not None or (
                missing
                in measured_constants(
                    documents,
                    camera_id,
                    aware_utc(when) if isinstance(when := doc.get("time"), datetime) else None,
                    records=measured,
                )
            )
            if not have:
                report.waiting.append((image_id, missing))
                continue
        try:
            topic, message = redrive_message(ctx, image_id, doc)
        except ValueError:
            report.waiting.append((image_id, str(missing or "a stored frame")))
            continue
        documents.merge(IMAGES, image_id, {"due_time": ledger.image_due_time(ctx)})
        ctx.bus.publish(topic, message, redriven="true")
        report.resent[topic] = report.resent.get(topic, 0) + 1
    return report
