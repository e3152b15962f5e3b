"""The reconciler: find every upload and image that stopped short of a final state, re-queue it.

Pub/Sub redelivers a failed message a few times and then dead-letters it; a service that is
down for a while, a lost acknowledgement or a crash between two writes can leave work
unfinished with nothing left to deliver. The ledger (:mod:`.ledger`) and the images
documents know what is unfinished: each carries ``due_time`` while it is not final. A run
reads only what is due (``due_time <= now``, oldest first, at most ``reconcile_batch`` of
each), so its cost does not grow with the archive, and re-queues each item to the step that
finishes it:

========================  ==================================================================
state                     re-queued as
========================  ==================================================================
upload ``received``       the incoming object's generation, to raw-file-uploaded
upload ``archived``,      the archived copy, to raw-file-uploaded (it validates and routes
``routed``,               again; every later step is idempotent)
``compressed``
image ``uploaded``        the frame, to plate-solve
image ``solved``          the solved frame, to measure-sources
image                     a solved frame to measure-sources, else the stored frame to
``calibration_error``     record-image (due only after its camera got the constant:
                          :mod:`.calibration_redrive`)
========================  ==================================================================

After ``reconcile_max_attempts`` re-queues it gives up: the upload ends ``failed`` with the
reason, the image keeps its status and gets ``stuck_reason``; neither is due again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from panoptes_network.ingest import ledger
from panoptes_network.ingest.calibration_redrive import redrive_message
from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import IMAGES, UPLOADS, ImageStatus, UploadState

__all__ = ["ReconcileReport", "reconcile"]


@dataclass
class ReconcileReport:
    """What one reconciler run did.

    Attributes
    ----------
    uploads_due, images_due : int
        Records read because they were due.
    requeued : dict
        Re-queued items per topic.
    failed : list of str
        Uploads given up on (ledger ids) in this run.
    stuck : list of str
        Images given up on (image ids) in this run.
    documents_read : int
        Documents read in all (what the run costs in Firestore reads).
    """

    uploads_due: int = 0
    images_due: int = 0
    requeued: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    documents_read: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "uploads_due": self.uploads_due,
            "images_due": self.images_due,
            "requeued": dict(self.requeued),
            "failed": list(self.failed),
            "stuck": list(self.stuck),
            "documents_read": self.documents_read,
        }


def _count(report: ReconcileReport, topic: str) -> None:
    report.requeued[topic] = report.requeued.get(topic, 0) + 1


def _bump(
    ctx: ChainContext, collection: str, doc_id: str, counter: str, minutes: float
) -> int | None:
    """Count one re-queue and push ``due_time`` on; None if the record moved on meanwhile."""
    assert ctx.documents is not None
    documents = ctx.documents

    def plan() -> tuple[list[DocWrite], int | None]:
        snapshot = documents.read([(collection, doc_id)])[(collection, doc_id)]
        doc = snapshot.fields
        if doc is None or doc.get("due_time") is None or doc["due_time"] > ctx.now():
            return [], None
        count = int(doc.get(counter) or 0) + 1
        update = {counter: count, "due_time": ctx.now() + timedelta(minutes=minutes)}
        write = DocWrite(
            collection, doc_id, update, must_exist=True, expected_version=snapshot.version
        )
        return [write], count

    return commit_with_retry(documents, plan, what=f"{collection}/{doc_id}")


def _requeue_upload(
    ctx: ChainContext, uid: str, record: dict[str, Any], report: ReconcileReport
) -> None:
    s = ctx.settings
    attempts = int(record.get("requeues") or 0)
    state = record.get("state")
    if attempts >= s.reconcile_max_attempts:
        reason = (
            f"no final state after {attempts} re-queues by the reconciler; it stopped at "
            f"'{state}' (stages: {', '.join(record.get('stages') or {})})"
        )
        ledger.advance(ctx, uid, UploadState.FAILED, reason=reason)
        report.failed.append(uid)
        return
    archived = record.get("archived_as")
    if state == UploadState.RECEIVED or not archived:
        message = StoredObject(
            record["bucket"], record["object_name"], int(record.get("generation") or 0) or None
        ).message()
    else:
        bucket, _, name = str(archived).removeprefix("gs://").partition("/")
        message = StoredObject(bucket, name).message()
    if _bump(ctx, UPLOADS, uid, "requeues", s.reconcile_after_minutes) is None:
        return
    report.documents_read += 1
    ctx.bus.publish(s.upload_topic, message, reconciled="true")
    _count(report, s.upload_topic)


def _requeue_image(
    ctx: ChainContext, image_id: str, doc: dict[str, Any], report: ReconcileReport
) -> None:
    assert ctx.documents is not None
    s = ctx.settings
    status = doc.get("status")
    if status == ImageStatus.UPLOADED and doc.get("bucket_path"):
        obj = StoredObject(s.images_bucket, doc["bucket_path"])
        topic, message = s.solve_topic, obj.message(image_id=image_id)
    elif status == ImageStatus.SOLVED and doc.get("solved_path"):
        obj = StoredObject(s.solved_bucket, doc["solved_path"])
        topic, message = s.measure_topic, obj.message(image_id=image_id)
    elif status == ImageStatus.CALIBRATION_ERROR and (
        doc.get("solved_path") or doc.get("bucket_path")
    ):
        topic, message = redrive_message(ctx, image_id, doc)
    else:  # reached a final status without clearing due_time: nothing to do
        ctx.documents.merge(IMAGES, image_id, {"due_time": None})
        return
    attempts = int(doc.get("reconcile_requeues") or 0)
    if attempts >= s.reconcile_max_attempts:
        reason = (
            f"still '{status}' after {attempts} re-queues to {topic} by the reconciler; "
            "see that service's log and the dead-letter topic"
        )
        ctx.documents.merge(IMAGES, image_id, {"due_time": None, "stuck_reason": reason})
        report.stuck.append(image_id)
        return
    if _bump(ctx, IMAGES, image_id, "reconcile_requeues", s.stuck_after_minutes) is None:
        return
    report.documents_read += 1
    ctx.bus.publish(topic, message, reconciled="true")
    _count(report, topic)


def reconcile(ctx: ChainContext, *, limit: int | None = None) -> ReconcileReport:
    """Re-queue every due upload and image, or give up on it after its attempts.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    limit : int, optional
        Most uploads and most images read (default ``settings.reconcile_batch``); what is
        left waits for the next run.

    Returns
    -------
    ReconcileReport
        Counts, ids given up on, and documents read.
    """
    if ctx.documents is None:
        raise ValueError("reconcile needs a document store")
    limit = limit if limit is not None else ctx.settings.reconcile_batch
    report = ReconcileReport()
    uploads = ledger.due_uploads(ctx, limit=limit)
    report.uploads_due = len(uploads)
    for uid, record in uploads:
        _requeue_upload(ctx, uid, record, report)
    images = ctx.documents.query(
        IMAGES, [("due_time", "<=", ctx.now())], order_by="due_time", limit=limit
    )
    report.images_due = len(images)
    for image_id, doc in images:
        _requeue_image(ctx, image_id, doc, report)
    report.documents_read += report.uploads_due + report.images_due
    return report
