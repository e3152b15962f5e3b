"""record-image tells darks, biases and flats from science frames, records them, solves none."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from panoptes_network.ingest.compress import compress_fits
from panoptes_network.ingest.record import record_image
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.pipeline.context import ChainContext, StoredObject, UploadRef
from panoptes_network.pipeline.schema import ImageStatus
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.calibration_sequences import (
    calibration_fits_bytes,
    simulate_dark_sequence,
)
from panoptes_network.simulation.camera import CameraModel
from tests.unit.cameras import simulated_entries
from tests.unit.frame_files import unit_frame

S = Settings()
SEQ = "PAN001/14d3bd/20180216T110623"
NAME = f"{SEQ}/20180216T112430.fits"
IMAGE_ID = "PAN001_14d3bd_20180216T112430"
SEQUENCE_ID = "PAN001_14d3bd_20180216T110623"
DARK_CARDS = {"IMAGETYP": "Dark Frame", "FIELD": "Dark", "EXPTIME": 120.0, "CAMTEMP": "11 C"}


def run_chain(ctx: ChainContext, name: str, data: bytes) -> list[dict]:
    """Deliver an upload through raw-file-uploaded, compress-fits and record-image."""
    info = ctx.store.put(S.incoming_bucket, name, data)
    handle_raw_upload(ctx, StoredObject(S.incoming_bucket, name, info.generation))
    for topic, payload, _ in list(ctx.bus.messages):
        if topic == S.compress_topic:
            compress_fits(
                ctx,
                StoredObject.from_message(payload),
                payload.get("object_name"),
                UploadRef.from_message(payload),
            )
    results = []
    for topic, payload, _ in list(ctx.bus.messages):
        if topic == S.record_topic:
            result = record_image(
                ctx, StoredObject.from_message(payload), UploadRef.from_message(payload)
            )
            results.append(result.detail)
    return results


def test_a_dark_is_recorded_as_a_calibration_frame_and_not_solved(ctx):
    (detail,) = run_chain(ctx, NAME, unit_frame(**DARK_CARDS))
    assert detail["frame_type"] == "dark" and detail["sent_to_solve"] is False
    assert detail["counted"] is True
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["status"] == ImageStatus.CALIBRATION_FRAME == "calibration_frame"
    assert image["frame_type"] == "dark" and image["frame_type_source"] == "IMAGETYP"
    assert "IMAGETYP = 'Dark Frame'" in image["frame_type_reason"]
    assert image["camera_temperature_c"] == 11.0
    # LONG-OBS -155.58: local mean time is UTC - 10.4 h, so 11:24 UTC is 01:02 on the 16th,
    # the night of the 15th
    assert image["night"] == "2018-02-15"
    assert image["camera_constants"]["bias_adu"]["source"] == "registry"
    assert image.get("due_time") is None  # nothing for the reconciler to re-queue
    assert ctx.bus.on(S.solve_topic) == []
    observation = ctx.documents.get("observations", SEQUENCE_ID)
    assert observation["frame_type"] == "dark" and observation["num_images"] == 1
    assert observation["lightcurve_pending"] is False  # the sweep makes no light curves of it
    assert ctx.documents.get("units", "PAN001")["num_images"] == 1


def test_a_science_frame_says_so_and_goes_to_plate_solve(ctx):
    (detail,) = run_chain(ctx, NAME, unit_frame(IMAGETYP="Light Frame"))
    assert detail["frame_type"] == "science" and detail["sent_to_solve"] is True
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["status"] == ImageStatus.UPLOADED and image["frame_type"] == "science"
    assert "camera_temperature_c" not in image and "night" not in image
    assert len(ctx.bus.on(S.solve_topic)) == 1
    assert ctx.documents.get("observations", SEQUENCE_ID)["lightcurve_pending"] is True


@pytest.mark.parametrize(
    ("cards", "frame_type", "source"),
    [
        ({"IMAGETYP": "Light Frame", "FIELD": "EveningFlat", "EXPTIME": 2.5}, "flat", "FIELD"),
        ({"IMAGETYP": "Dark Frame", "FIELD": "Bias", "EXPTIME": 0.00025}, "bias", "IMAGETYP"),
        ({"IMAGETYP": None, "FIELD": "MorningFlat", "EXPTIME": 3.0}, "flat", "FIELD"),
    ],
)
def test_flats_and_biases_are_told_by_their_cards(ctx, cards, frame_type, source):
    (detail,) = run_chain(ctx, NAME, unit_frame(**cards))
    assert (detail["frame_type"], detail["sent_to_solve"]) == (frame_type, False)
    image = ctx.documents.get("images", IMAGE_ID)
    assert (image["frame_type"], image["frame_type_source"]) == (frame_type, source)
    assert image["status"] == "calibration_frame"


def test_a_legacy_five_part_path_names_the_flats_when_the_header_does_not(ctx):
    legacy = "PAN001/EveningFlat/14d3bd/20180216T110623/20180216T112430.fits"
    frame = unit_frame(FIELD=None, IMAGETYP=None, EXPTIME=2.0)
    (detail,) = run_chain(ctx, legacy, frame)
    assert detail["frame_type"] == "flat" and detail["sent_to_solve"] is False
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["bucket_path"] == f"{SEQ}/20180216T112430.fits.fz"  # the 4-part name
    assert image["frame_type_source"] == "path" and "EveningFlat" in image["frame_type_reason"]


def test_the_same_frame_without_a_field_part_is_science(ctx):
    (detail,) = run_chain(ctx, NAME, unit_frame(FIELD=None, IMAGETYP=None, EXPTIME=2.0))
    assert detail["frame_type"] == "science" and detail["sent_to_solve"] is True


def test_a_calibration_frame_without_camera_constants_waits_then_is_recorded(make_ctx):
    ctx = make_ctx(cameras={})
    (detail,) = run_chain(ctx, NAME, unit_frame(**DARK_CARDS))
    assert "bias_adu" in detail["calibration_error"] and detail["sent_to_solve"] is False
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["status"] == ImageStatus.CALIBRATION_ERROR and image["frame_type"] == "dark"
    for camera_id, entry in simulated_entries(["14d3bd"]).items():
        ctx.documents.merge("cameras", camera_id, entry)
    again = record_image(ctx, StoredObject(S.images_bucket, f"{SEQ}/20180216T112430.fits.fz"))
    assert again.detail["counted"] is False and again.detail["sent_to_solve"] is False
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["status"] == ImageStatus.CALIBRATION_FRAME
    assert image["calibration_error_reason"] is None and "camera_constants" in image
    assert ctx.bus.on(S.solve_topic) == []


def test_a_redelivered_calibration_frame_moves_no_counter_and_is_not_sent(ctx):
    run_chain(ctx, NAME, unit_frame(**DARK_CARDS))
    fz = StoredObject(S.images_bucket, f"{SEQ}/20180216T112430.fits.fz")
    result = record_image(ctx, fz)
    assert result.detail["counted"] is False and result.detail["sent_to_solve"] is False
    assert ctx.documents.get("observations", SEQUENCE_ID)["num_images"] == 1
    assert ctx.documents.get("images", IMAGE_ID)["status"] == "calibration_frame"
    assert ctx.bus.on(S.solve_topic) == []


def test_a_simulated_pocs_dark_sequence_is_recorded_frame_by_frame(ctx):
    camera = CameraModel("14d3bd", width=60, height=40, hot_pixel_count=0)
    start = datetime(2016, 9, 9, 6, 0, tzinfo=timezone.utc)
    darks = simulate_dark_sequence(camera, start=start, n_frames=3, temperature_c=12.0)
    for frame in darks:
        run_chain(ctx, frame.path.object_name, calibration_fits_bytes(frame))
        ctx.bus.messages.clear()
    for frame in darks:
        image = ctx.documents.get("images", frame.image_id)
        assert (image["frame_type"], image["status"]) == ("dark", "calibration_frame")
        assert image["camera_temperature_c"] == 12.0 and image["exptime"] == 120.0
    observation = ctx.documents.get("observations", darks[0].path.sequence_id)
    assert observation["num_images"] == 3 and observation["frame_type"] == "dark"
