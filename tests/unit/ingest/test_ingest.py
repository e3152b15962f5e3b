"""The chain's steps against in-memory ports: routing, archiving, quarantine, compression."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits

from panoptes_network.ingest.compress import compress_fits
from panoptes_network.ingest.record import record_image
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.settings import Settings
from panoptes_network.pipeline.storage import md5_base64
from tests.unit.frame_files import unit_frame

S = Settings()
SEQ = "PAN001/14d3bd/20180216T110623"


def upload(ctx: ChainContext, name: str, data: bytes) -> StoredObject:
    info = ctx.store.put(S.incoming_bucket, name, data)
    return StoredObject(S.incoming_bucket, name, info.generation)


def test_fits_upload_is_archived_then_routed_to_compress(ctx):
    data = unit_frame()
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", data)
    result = handle_raw_upload(ctx, obj)
    assert result.action == "routed"
    assert ctx.store.read(S.archive_bucket, obj.name) == data
    (message,) = ctx.bus.on(S.compress_topic)
    assert message["name"] == obj.name and message["bucket"] == S.incoming_bucket
    assert message["object_name"] == obj.name
    assert ctx.store.stat(S.incoming_bucket, obj.name) is not None


def test_legacy_five_part_path_is_normalised(ctx):
    legacy = "PAN001/Wasp33/14d3bd/20180216T110623/20180216T112430.fits"
    handle_raw_upload(ctx, upload(ctx, legacy, unit_frame()))
    (message,) = ctx.bus.on(S.compress_topic)
    assert message["name"] == legacy
    assert message["object_name"] == f"{SEQ}/20180216T112430.fits"


def test_fz_upload_is_copied_to_images_and_routed_to_record(ctx):
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    fz = io.BytesIO()
    with fits.open(io.BytesIO(unit_frame())) as hdus:
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(hdus[0].data, hdus[0].header)]).writeto(
            fz
        )
    obj = upload(ctx, f"{SEQ}/20180216T112431.fits.fz", fz.getvalue())
    assert handle_raw_upload(ctx, obj).action == "routed"
    (message,) = ctx.bus.on(S.record_topic)
    assert message == {"bucket": S.images_bucket, "name": obj.name}
    assert ctx.store.read(S.images_bucket, obj.name) == fz.getvalue()


@pytest.mark.parametrize(
    ("extension", "where"),
    [(".jpg", "jpg_bucket"), (".mp4", "mp4_bucket")],
)
def test_media_goes_to_its_own_bucket(ctx, extension, where):
    obj = upload(ctx, f"{SEQ}/20180216T112430{extension}", b"media bytes")
    assert handle_raw_upload(ctx, obj).action == "routed"
    assert ctx.store.read(getattr(S, where), obj.name) == b"media bytes"
    assert ctx.bus.messages == []


def test_cr2_waits_on_make_rgb_topic_pointing_at_the_archive(ctx):
    obj = upload(ctx, f"{SEQ}/20180216T112430.cr2", b"raw camera bytes")
    handle_raw_upload(ctx, obj)
    (message,) = ctx.bus.on(S.make_rgb_topic)
    assert message["bucket"] == S.archive_bucket
    assert ctx.store.read(S.archive_bucket, message["name"]) == b"raw camera bytes"


TRUNCATED = unit_frame()[:-2880]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (f"{SEQ}/20180216T112430.fits", unit_frame(EXPTIME=None), "EXPTIME"),
        (f"{SEQ}/20180216T112430.fits", b"", "empty"),
        (f"{SEQ}/20180216T112430.fits", TRUNCATED, "truncated"),
        (f"{SEQ}/20180216T112430.fits", b"hello, this is not FITS\n" * 200, "SIMPLE"),
        ("PAN001/14d3bd/20180216T112430.fits", unit_frame(), "4 parts"),
        ("PAN001/14d3bd/../20180216T112430.fits", unit_frame(), "'..'"),
        (f"{SEQ}/20180216T112430.txt", b"notes", "unknown extension"),
    ],
)
def test_bad_uploads_are_quarantined_with_reason_and_nothing_deleted(ctx, name, data, reason):
    obj = upload(ctx, name, data)
    result = handle_raw_upload(ctx, obj)
    assert result.action == "quarantined"
    assert reason in result.detail["reason"]
    kept = ctx.store.stat(S.quarantine_bucket, name)
    assert kept is not None and kept.metadata["reason"] == result.detail["reason"]
    assert kept.metadata["source"] == obj.uri
    assert ctx.store.read(S.quarantine_bucket, name) == data
    assert ctx.store.read(S.archive_bucket, name) == data
    assert ctx.store.read(S.incoming_bucket, name) == data
    assert ctx.store.deleted == [] and ctx.bus.messages == []


def test_archive_keeps_both_versions_of_a_changed_reupload(ctx):
    name = f"{SEQ}/20180216T112430.fits"
    handle_raw_upload(ctx, upload(ctx, name, unit_frame(seed=1)))
    handle_raw_upload(ctx, upload(ctx, name, unit_frame(seed=2)))
    archived = ctx.store.names(S.archive_bucket)
    assert len(archived) == 2
    assert {ctx.store.read(S.archive_bucket, n) for n in archived} == {
        unit_frame(seed=1),
        unit_frame(seed=2),
    }


def test_stale_notification_of_a_replaced_object_is_skipped(ctx):
    name = f"{SEQ}/20180216T112430.fits"
    first = upload(ctx, name, unit_frame(seed=1))
    upload(ctx, name, unit_frame(seed=2))
    assert handle_raw_upload(ctx, first).action == "skipped"


def test_compress_stores_verified_fz_then_deletes_the_upload(ctx):
    data = unit_frame(shape=(64, 96))
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", data)
    result = compress_fits(ctx, obj)
    assert result.action == "compressed"
    target = f"{SEQ}/20180216T112430.fits.fz"
    stored = ctx.store.read(S.images_bucket, target)
    with fits.open(io.BytesIO(stored)) as hdus, fits.open(io.BytesIO(data)) as original:
        np.testing.assert_array_equal(hdus[1].data, original[0].data)
        assert hdus[1].header["FIELD"] == "Wasp 33"
    assert ctx.store.stat(S.images_bucket, target).metadata["source_md5"] == md5_base64(data)
    assert ctx.bus.on(S.record_topic) == [{"bucket": S.images_bucket, "name": target}]
    assert ctx.store.deleted == [(S.incoming_bucket, obj.name)]


def test_compress_redelivered_after_success_republishes_and_deletes_nothing(ctx):
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    compress_fits(ctx, obj)
    again = compress_fits(ctx, obj)
    assert again.action == "skipped"
    assert len(ctx.bus.on(S.record_topic)) == 2
    assert len(ctx.store.deleted) == 1


def test_compress_failure_quarantines_and_keeps_the_upload(ctx):
    header = fits.Header({"EXPTIME": 1.0})
    out = io.BytesIO()
    fits.PrimaryHDU(np.zeros((8, 8), dtype=np.float32), header=header).writeto(out)
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", out.getvalue())
    result = compress_fits(ctx, obj)
    assert result.action == "quarantined" and "BITPIX" in result.detail["reason"]
    assert ctx.store.stat(S.incoming_bucket, obj.name) is not None
    assert ctx.store.stat(S.images_bucket, f"{SEQ}/20180216T112430.fits.fz") is None


def run_chain(ctx: ChainContext, name: str, data: bytes) -> None:
    """Deliver an upload through every step, like the push subscriptions do."""
    handle_raw_upload(ctx, upload(ctx, name, data))
    for topic, payload, _ in list(ctx.bus.messages):
        if topic == S.compress_topic:
            compress_fits(ctx, StoredObject.from_message(payload), payload.get("object_name"))
    for topic, payload, _ in list(ctx.bus.messages):
        if topic == S.record_topic:
            record_image(ctx, StoredObject.from_message(payload))


def test_record_image_writes_three_docs_with_counters(ctx):
    run_chain(ctx, f"{SEQ}/20180216T112430.fits", unit_frame(EXPTIME=90.0))
    image = ctx.documents.get("images", "PAN001_14d3bd_20180216T112430")
    assert image["bucket_path"] == f"{SEQ}/20180216T112430.fits.fz"
    assert image["public_url"].endswith(f"/{S.images_bucket}/{SEQ}/20180216T112430.fits.fz")
    observation = ctx.documents.get("observations", "PAN001_14d3bd_20180216T110623")
    assert observation["num_images"] == 1
    assert observation["total_minutes_exptime"] == pytest.approx(1.5)
    unit = ctx.documents.get("units", "PAN001")
    assert (unit["num_images"], unit["num_observations"]) == (1, 1)


def test_redelivery_and_reupload_do_not_move_counters(ctx):
    name = f"{SEQ}/20180216T112430.fits"
    run_chain(ctx, name, unit_frame())
    fz = StoredObject(S.images_bucket, f"{SEQ}/20180216T112430.fits.fz")
    assert record_image(ctx, fz).detail["counted"] is False
    ctx.bus.messages.clear()
    run_chain(ctx, name, unit_frame())
    run_chain(ctx, f"{SEQ}/20180216T112630.fits", unit_frame())
    observation = ctx.documents.get("observations", "PAN001_14d3bd_20180216T110623")
    unit = ctx.documents.get("units", "PAN001")
    assert observation["num_images"] == 2
    assert observation["total_minutes_exptime"] == pytest.approx(4.0)
    assert (unit["num_images"], unit["num_observations"]) == (2, 1)


def test_record_image_of_a_bad_header_marks_error_and_quarantines(ctx):
    name = f"{SEQ}/20180216T112430.fits.fz"
    ctx.store.put(S.images_bucket, name, b"SIMPLE  = not really")
    result = record_image(ctx, StoredObject(S.images_bucket, name))
    assert result.action == "quarantined"
    image = ctx.documents.get("images", "PAN001_14d3bd_20180216T112430")
    assert image["status"] == "error" and image["error_reason"] == result.detail["reason"]
    assert ctx.store.stat(S.quarantine_bucket, name) is not None
    assert ctx.documents.get("observations", "PAN001_14d3bd_20180216T110623") is None


def test_recorded_frames_go_to_plate_solve_unless_already_solved(ctx):
    run_chain(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    fz = f"{SEQ}/20180216T112430.fits.fz"
    assert ctx.bus.on(S.solve_topic) == [
        {"bucket": S.images_bucket, "name": fz, "image_id": "PAN001_14d3bd_20180216T112430"}
    ]
    ctx.documents.merge("images", "PAN001_14d3bd_20180216T112430", {"solved": True})
    result = record_image(ctx, StoredObject(S.images_bucket, fz))
    assert result.detail["sent_to_solve"] is False
    assert len(ctx.bus.on(S.solve_topic)) == 1
