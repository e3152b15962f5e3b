"""Frames that waited for a camera constant are sent on once their camera has it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from panoptes_network.cli.cameras import register
from panoptes_network.ingest.calibration_redrive import redrive_waiting_frames
from panoptes_network.ingest.reconcile import reconcile
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import StoredObject
from panoptes_network.pipeline.schema import CALIBRATIONS, IMAGES, ImageStatus
from panoptes_network.pipeline.settings import Settings
from tests.unit.cameras import simulated_entries
from tests.unit.frame_files import unit_frame
from tests.unit.ingest.test_record_calibration_frames import IMAGE_ID, NAME, run_chain

S = Settings()
CAMERA = "14d3bd"
NOW = datetime(2026, 11, 1, 22, 0, tzinfo=timezone.utc)


def _waiting(make_ctx):
    """A science frame of a camera the registry does not know, recorded: it waits."""
    ctx = make_ctx(cameras={}, now=lambda: NOW)
    (detail,) = run_chain(ctx, NAME, unit_frame())
    assert "bias_adu" in detail["calibration_error"] and detail["sent_to_solve"] is False
    assert ctx.documents.get(IMAGES, IMAGE_ID)["status"] == ImageStatus.CALIBRATION_ERROR
    ctx.bus.messages.clear()
    return ctx


def test_a_waiting_frame_stays_until_its_constant_exists_then_is_recorded_and_solved(make_ctx):
    ctx = _waiting(make_ctx)
    before = redrive_waiting_frames(ctx, CAMERA)
    assert before.resent == {} and before.waiting == [(IMAGE_ID, "bias_adu")]
    assert "1 still wait for bias_adu" in before.describe() and ctx.bus.messages == []

    register(ctx.documents, CAMERA, simulated_entries([CAMERA])[CAMERA])
    after = redrive_waiting_frames(ctx, CAMERA)
    assert after.resent == {S.record_topic: 1} and after.waiting == []
    assert ctx.documents.get(IMAGES, IMAGE_ID)["due_time"] > NOW
    ((topic, payload, attributes),) = ctx.bus.messages
    assert topic == S.record_topic and attributes == {"redriven": "true"}

    result = record_image(ctx, StoredObject.from_message(payload))
    assert result.detail["sent_to_solve"] is True
    image = ctx.documents.get(IMAGES, IMAGE_ID)
    assert image["status"] == ImageStatus.UPLOADED and image["calibration_error_reason"] is None
    assert image["camera_constants"]["bias_adu"]["source"] == "registry"


def test_a_nights_measurement_of_the_missing_constant_is_enough(make_ctx):
    ctx = _waiting(make_ctx)
    ctx.documents.merge(
        CALIBRATIONS,
        f"{CAMERA}_constants_2018-02-15",
        {
            "kind": "constants",
            "camera_id": CAMERA,
            "status": "valid",
            "time": "2018-02-16T05:00:00+00:00",
            "bias_adu": 2048.0,
        },
    )
    assert redrive_waiting_frames(ctx, CAMERA).resent == {S.record_topic: 1}


def test_a_solved_frame_that_waited_goes_back_to_measure_sources(make_ctx):
    ctx = make_ctx(cameras={})
    ctx.documents.merge(
        IMAGES,
        "PAN001_14d3bd_20180216T112430",
        {
            "camera_id": CAMERA,
            "status": ImageStatus.CALIBRATION_ERROR,
            "missing_camera_constant": "gain_e_per_adu",
            "bucket_path": f"{NAME}.fz",
            "solved_path": "PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz",
        },
    )
    ctx.documents.merge("cameras", CAMERA, {"gain_e_per_adu": 1.5})
    assert redrive_waiting_frames(ctx, CAMERA).resent == {S.measure_topic: 1}
    ((_, payload, _),) = ctx.bus.messages
    assert payload["bucket"] == S.solved_bucket and payload["image_id"] == IMAGE_ID


def test_a_redriven_frame_whose_message_was_lost_is_requeued_by_the_reconciler(make_ctx):
    clock = {"now": NOW}
    ctx = make_ctx(cameras={}, now=lambda: clock["now"])
    run_chain(ctx, NAME, unit_frame())
    register(ctx.documents, CAMERA, simulated_entries([CAMERA])[CAMERA])
    redrive_waiting_frames(ctx, CAMERA)
    ctx.bus.messages.clear()  # lost
    clock["now"] = NOW + timedelta(minutes=S.stuck_after_minutes + 1)
    report = reconcile(ctx)
    assert report.requeued == {S.record_topic: 1}
    ((topic, payload, _),) = ctx.bus.messages
    assert (topic, payload["name"]) == (S.record_topic, f"{NAME}.fz")
