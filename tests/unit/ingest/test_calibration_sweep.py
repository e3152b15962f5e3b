"""The calibration sweep: quiet, pending dark and flat sequences become constants and masters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from panoptes_network.frames.compression import compress_frame
from panoptes_network.ingest import calibration_sweep
from panoptes_network.ingest.calibration_sweep import build_calibrations, sweep_calibrations
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import StoredObject
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.schema import IMAGES, OBSERVATIONS, ImageStatus
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.calibration_sequences import (
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel
from tests.unit.calibration.recorded_frames import record_calibration_frames
from tests.unit.frame_files import unit_frame

S = Settings()
CAMERA = CameraModel("14d3bd", width=200, height=150, hot_pixel_count=0)
TWILIGHT = datetime(2016, 9, 9, 4, 0, tzinfo=timezone.utc)
SCIENCE = "PAN001/14d3bd/20160909T081152/20160909T081226.fits.fz"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 22, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def night(make_ctx, clock):
    """A new camera's biases and flats recorded, and a science frame waiting for constants."""
    ctx = make_ctx(cameras={}, now=clock)
    biases = simulate_dark_sequence(
        CAMERA,
        start=TWILIGHT + timedelta(minutes=40),
        n_frames=5,
        exptime=0.00025,
        temperature_c=12.0,
        seed=1,
    )
    flats = simulate_flat_sequence(CAMERA, start=TWILIGHT, n_frames=6, seed=2)
    record_calibration_frames(ctx, [*biases, *flats])
    ctx.store.put(S.images_bucket, SCIENCE, compress_frame(unit_frame(WHTLVLN=11765)).data)
    record_image(ctx, StoredObject(S.images_bucket, SCIENCE))
    assert ctx.documents.get(IMAGES, "PAN001_14d3bd_20160909T081226")["status"] == (
        ImageStatus.CALIBRATION_ERROR
    )
    ctx.bus.messages.clear()
    return ctx, [biases[0].path.sequence_id, flats[0].path.sequence_id]


def test_a_quiet_sequence_is_measured_built_and_its_waiting_frame_sent_on(night, clock):
    ctx, sequences = night
    for sequence_id in sequences:
        assert ctx.documents.get(OBSERVATIONS, sequence_id)["calibration_pending"] is True
    assert sweep_calibrations(ctx, 60.0)["cameras"] == {}  # not quiet yet
    clock.now += timedelta(minutes=61)
    answer = sweep_calibrations(ctx, 60.0)
    built = answer["cameras"]["14d3bd"]
    assert built["masters"]["valid"] == 2  # the bias master and the flat master
    (constants,) = built["constants"]
    assert constants["status"] == "valid"
    assert constants["values"]["gain_e_per_adu"] == pytest.approx(CAMERA.gain, rel=0.05)
    # The camera's calibration frames waited too (recorded before it had constants): all 12
    # go back to record-image, the science frame with them.
    assert built["resent"] == {S.record_topic: 12} and built["waiting"] == 0
    assert sorted(answer["cleared"]) == sorted(sequences)
    for sequence_id in sequences:
        assert ctx.documents.get(OBSERVATIONS, sequence_id)["calibration_pending"] is False
    # Sent on, the frame is recorded with the measured constants and goes to plate-solve.
    for _, payload, _ in list(ctx.bus.messages):
        record_image(ctx, StoredObject.from_message(payload))
    assert [topic for topic, _, _ in ctx.bus.messages].count(S.solve_topic) == 1
    image = ctx.documents.get(IMAGES, "PAN001_14d3bd_20160909T081226")
    assert image["camera_constants"]["gain_e_per_adu"]["source"] == "measured"
    flat = ctx.documents.get(IMAGES, f"{sequences[1]}".rsplit("_", 1)[0] + "_20160909T040000")
    assert flat["status"] == ImageStatus.CALIBRATION_FRAME
    assert sweep_calibrations(ctx, 60.0)["cameras"] == {}  # nothing pending any more


def test_a_frame_arriving_during_the_build_keeps_its_sequence_pending(night, clock, monkeypatch):
    ctx, sequences = night
    clock.now += timedelta(minutes=61)
    build = calibration_sweep.build_camera_masters

    def build_while_a_frame_arrives(ctx_, camera_id, **kwargs):
        ctx.documents.merge(OBSERVATIONS, sequences[1], {"last_image_received_time": clock.now})
        return build(ctx_, camera_id, **kwargs)

    monkeypatch.setattr(calibration_sweep, "build_camera_masters", build_while_a_frame_arrives)
    answer = sweep_calibrations(ctx, 60.0)
    assert answer["cleared"] == [sequences[0]]
    assert ctx.documents.get(OBSERVATIONS, sequences[1])["calibration_pending"] is True


def test_one_camera_is_built_on_request_and_bad_requests_are_refused(night):
    ctx, _ = night
    answer = build_calibrations(ctx, {"camera_id": "14d3bd", "flat_period": "week"})
    assert answer["camera_id"] == "14d3bd" and answer["redrive"]["resent"] == {S.record_topic: 12}
    for body, message in [
        ({"camera_id": "14D3BD"}, "6 lower-case hex"),
        ({"camera_id": "14d3bd", "flat_period": "month"}, "flat_period"),
        ({"camera_id": "14d3bd", "extra": 1}, "unknown field"),
        ([], "JSON object"),
    ]:
        with pytest.raises(PermanentFailure, match=message):
            build_calibrations(ctx, body)
    with pytest.raises(PermanentFailure, match="quiet_minutes"):
        sweep_calibrations(ctx, 0)
