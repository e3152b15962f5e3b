"""The reconciler finds what stopped short of a final state, re-queues it, and gives up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from panoptes_network.ingest.compress import compress_fits
from panoptes_network.ingest.reconcile import reconcile
from panoptes_network.ingest.record import record_image
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.pipeline.context import StoredObject, UploadRef
from panoptes_network.pipeline.settings import Settings
from tests.unit.frame_files import unit_frame
from tests.unit.ingest.test_ingest import SEQ, upload

S = Settings()


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 22, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ctx(make_ctx, clock):
    return make_ctx(now=clock)


def deliver(ctx) -> None:
    """Deliver every queued message once, like the push subscriptions, until none is left."""
    while ctx.bus.messages:
        topic, payload, _ = ctx.bus.messages.pop(0)
        obj = StoredObject.from_message(payload)
        if topic == S.upload_topic:
            handle_raw_upload(ctx, obj)
        elif topic == S.compress_topic:
            compress_fits(ctx, obj, payload.get("object_name"), UploadRef.from_message(payload))
        elif topic == S.record_topic:
            record_image(ctx, obj, UploadRef.from_message(payload))


def uploads(ctx) -> dict[str, dict]:
    return {k: d for (c, k), d in ctx.documents.docs.items() if c == "uploads"}


def test_a_lost_message_is_requeued_and_the_upload_finished_exactly_once(ctx, clock):
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    handle_raw_upload(ctx, obj)
    ctx.bus.messages.clear()  # compress-fits was down: its message is gone
    assert reconcile(ctx).requeued == {}  # not due yet
    clock.advance(S.reconcile_after_minutes + 1)
    report = reconcile(ctx)
    assert report.uploads_due == 1 and report.requeued == {S.upload_topic: 1}
    (topic, payload, attributes) = ctx.bus.messages[0]
    assert payload["bucket"] == S.archive_bucket and attributes == {"reconciled": "true"}
    deliver(ctx)
    (record,) = uploads(ctx).values()
    assert record["state"] == "recorded" and record["requeues"] == 1
    assert record["due_time"] is None
    assert ctx.documents.get("observations", "PAN001_14d3bd_20180216T110623")["num_images"] == 1
    clock.advance(S.reconcile_after_minutes + 1)
    assert reconcile(ctx).uploads_due == 0


def test_an_upload_never_archived_is_requeued_from_the_incoming_bucket(ctx, clock):
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    from panoptes_network.ingest.ledger import open_upload

    info = ctx.store.stat(obj.bucket, obj.name)
    open_upload(ctx, obj, size=info.size, md5_hash=info.md5_hash)  # then the service died
    clock.advance(S.reconcile_after_minutes + 1)
    reconcile(ctx)
    (_, payload, _) = ctx.bus.messages[0]
    assert (payload["bucket"], payload["name"]) == (S.incoming_bucket, obj.name)
    assert int(payload["generation"]) == obj.generation
    deliver(ctx)
    (record,) = uploads(ctx).values()
    assert record["state"] == "recorded"


def test_it_gives_up_after_its_attempts_and_says_why(ctx, clock):
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    handle_raw_upload(ctx, obj)
    for _ in range(S.reconcile_max_attempts):
        ctx.bus.messages.clear()
        clock.advance(S.reconcile_after_minutes + 1)
        assert reconcile(ctx).requeued == {S.upload_topic: 1}
    ctx.bus.messages.clear()
    clock.advance(S.reconcile_after_minutes + 1)
    report = reconcile(ctx)
    (uid,) = report.failed
    record = uploads(ctx)[uid]
    assert record["state"] == "failed" and record["final"] and record["due_time"] is None
    assert f"after {S.reconcile_max_attempts} re-queues" in record["reason"]
    assert "'routed'" in record["reason"]
    assert ctx.bus.messages == []


@pytest.mark.parametrize(
    ("status", "fields", "topic", "bucket"),
    [
        (
            "uploaded",
            {"bucket_path": f"{SEQ}/20180216T112430.fits.fz"},
            "solve_topic",
            "images_bucket",
        ),
        (
            "solved",
            {"solved_path": f"{SEQ}/20180216T112430.fits.fz"},
            "measure_topic",
            "solved_bucket",
        ),
    ],
)
def test_images_stuck_between_steps_are_sent_on(ctx, clock, status, fields, topic, bucket):
    image_id = "PAN001_14d3bd_20180216T112430"
    due = clock.now + timedelta(minutes=S.stuck_after_minutes)
    ctx.documents.merge("images", image_id, {"status": status, "due_time": due, **fields})
    assert reconcile(ctx).images_due == 0
    clock.advance(S.stuck_after_minutes + 1)
    assert reconcile(ctx).requeued == {getattr(S, topic): 1}
    (_, payload, _) = ctx.bus.messages[0]
    assert payload == {
        "bucket": getattr(S, bucket),
        "name": f"{SEQ}/20180216T112430.fits.fz",
        "image_id": image_id,
    }
    assert ctx.documents.get("images", image_id)["reconcile_requeues"] == 1
    for _ in range(S.reconcile_max_attempts):
        clock.advance(S.stuck_after_minutes + 1)
        reconcile(ctx)
    image = ctx.documents.get("images", image_id)
    assert image["due_time"] is None and status in image["stuck_reason"]
    assert image["status"] == status


def test_a_run_reads_only_what_is_due_however_large_the_archive(ctx, clock):
    for k in range(1000):
        ctx.documents.merge("uploads", f"done-{k}", {"state": "recorded", "due_time": None})
        ctx.documents.merge("images", f"img-{k}", {"status": "measured", "due_time": None})
    for k in range(3):
        obj = upload(ctx, f"{SEQ}/20180216T11243{k}.fits", unit_frame())
        handle_raw_upload(ctx, obj)
    ctx.bus.messages.clear()
    clock.advance(S.reconcile_after_minutes + 1)
    ctx.documents.queried = 0
    report = reconcile(ctx)
    assert report.uploads_due == 3 and report.images_due == 0
    assert ctx.documents.queried == 3
    assert report.documents_read == 6  # the due records, and each read again to update it


def test_the_batch_limit_leaves_the_rest_for_the_next_run(ctx, clock):
    for k in range(5):
        handle_raw_upload(ctx, upload(ctx, f"{SEQ}/20180216T11243{k}.fits", unit_frame()))
    ctx.bus.messages.clear()
    clock.advance(S.reconcile_after_minutes + 1)
    assert reconcile(ctx, limit=2).requeued == {S.upload_topic: 2}
    assert reconcile(ctx, limit=10).requeued == {S.upload_topic: 3}
