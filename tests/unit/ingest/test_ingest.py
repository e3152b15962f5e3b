"""The chain's steps against in-memory ports: routing, archiving, quarantine, compression."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits

from panoptes_network.ingest.compress import compress_fits
from panoptes_network.ingest.record import record_image
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.pipeline.context import ChainContext, StoredObject, UploadRef
from panoptes_network.pipeline.settings import Settings
from panoptes_network.pipeline.storage import md5_base64
from tests.unit.frame_files import unit_frame

S = Settings()
SEQ = "PAN001/14d3bd/20180216T110623"


def upload(ctx: ChainContext, name: str, data: bytes) -> StoredObject:
    info = ctx.store.put(S.incoming_bucket, name, data)
    return StoredObject(S.incoming_bucket, name, info.generation)


def archived(obj: StoredObject) -> str:
    return f"{obj.name}@{obj.generation}"


def test_fits_upload_is_archived_then_routed_to_compress(ctx):
    data = unit_frame()
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", data)
    result = handle_raw_upload(ctx, obj)
    assert result.action == "routed"
    assert ctx.store.read(S.archive_bucket, archived(obj)) == data
    (message,) = ctx.bus.on(S.compress_topic)
    assert message["name"] == archived(obj) and message["bucket"] == S.archive_bucket
    assert message["object_name"] == obj.name
    assert message["upload_generation"] == obj.generation
    # The landing copy goes once the archive holds a verified one.
    assert ctx.store.stat(S.incoming_bucket, obj.name) is None
    record = ctx.documents.get("uploads", message["upload_id"])
    assert record["state"] == "routed" and record["route"] == S.compress_topic
    assert set(record["stages"]) == {"received", "archived", "routed"}
    assert record["archived_as"] == f"gs://{S.archive_bucket}/{archived(obj)}"
    assert not record["final"] and record["due_time"] > record["received_time"]


def test_legacy_five_part_path_is_normalised(ctx):
    legacy = "PAN001/Wasp33/14d3bd/20180216T110623/20180216T112430.fits"
    obj = upload(ctx, legacy, unit_frame())
    handle_raw_upload(ctx, obj)
    (message,) = ctx.bus.on(S.compress_topic)
    assert message["name"] == archived(obj)
    assert message["object_name"] == f"{SEQ}/20180216T112430.fits"


def fz_bytes(**cards) -> bytes:
    fz = io.BytesIO()
    with fits.open(io.BytesIO(unit_frame(**cards))) as hdus:
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(hdus[0].data, hdus[0].header)]).writeto(
            fz
        )
    return fz.getvalue()


def test_fz_upload_is_verified_copied_to_images_and_routed_to_record(ctx):
    data = fz_bytes()
    obj = upload(ctx, f"{SEQ}/20180216T112431.fits.fz", data)
    assert handle_raw_upload(ctx, obj).action == "routed"
    (message,) = ctx.bus.on(S.record_topic)
    assert (message["bucket"], message["name"]) == (S.images_bucket, obj.name)
    assert message["upload_generation"] == obj.generation
    assert ctx.store.read(S.images_bucket, obj.name) == data
    stored = ctx.store.stat(S.images_bucket, obj.name)
    assert stored.metadata["upload_generation"] == str(obj.generation)


def test_corrupt_fz_tiles_are_quarantined_not_published(ctx):
    good = fz_bytes()
    out = io.BytesIO()
    with fits.open(io.BytesIO(good)) as hdus:
        hdus.writeto(out, checksum=True)  # DATASUM and CHECKSUM, as fpack writes them
    data = bytearray(out.getvalue())
    with fits.open(io.BytesIO(bytes(data))) as hdus:
        where = hdus.fileinfo(1)["datLoc"] + hdus.fileinfo(1)["datSpan"] // 2
    data[where : where + 16] = bytes(16)  # inside the compressed tiles: the header stays valid
    obj = upload(ctx, f"{SEQ}/20180216T112431.fits.fz", bytes(data))
    result = handle_raw_upload(ctx, obj)
    assert result.action == "quarantined", result
    assert ctx.store.stat(S.images_bucket, obj.name) is None
    assert ctx.bus.messages == []
    assert ctx.store.read(S.quarantine_bucket, archived(obj)) == bytes(data)
    assert ctx.store.read(S.archive_bucket, archived(obj)) == bytes(data)


def test_a_decompression_bomb_is_quarantined_before_its_pixels_exist(ctx):
    small = fz_bytes()
    bomb = small.replace(b"ZNAXIS1 =                  ", b"ZNAXIS1 =                  ")
    header_end = bomb.index(b"ZNAXIS2")
    card = bomb[header_end : header_end + 80]
    bomb = bomb.replace(card, f"{'ZNAXIS2':8s}= {16_000_000:20d}".ljust(80).encode())
    obj = upload(ctx, f"{SEQ}/20180216T112431.fits.fz", bomb)
    result = handle_raw_upload(ctx, obj)
    assert result.action == "quarantined"
    assert "not decompressed" in result.detail["reason"]
    assert ctx.store.stat(S.images_bucket, obj.name) is None and ctx.bus.messages == []


@pytest.mark.parametrize(
    ("extension", "where"),
    [(".jpg", "jpg_bucket"), (".mp4", "mp4_bucket")],
)
def test_media_goes_to_its_own_bucket(ctx, extension, where):
    obj = upload(ctx, f"{SEQ}/20180216T112430{extension}", b"media bytes")
    assert handle_raw_upload(ctx, obj).action == "routed"
    assert ctx.store.read(getattr(S, where), obj.name) == b"media bytes"
    assert ctx.bus.messages == []
    (uid,) = [k for c, k in ctx.documents.docs if c == "uploads"]
    assert ctx.documents.get("uploads", uid)["state"] == "recorded"


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
def test_bad_uploads_are_archived_and_quarantined_with_reason(ctx, name, data, reason):
    obj = upload(ctx, name, data)
    result = handle_raw_upload(ctx, obj)
    assert result.action == "quarantined"
    assert reason in result.detail["reason"]
    kept = ctx.store.stat(S.quarantine_bucket, archived(obj))
    assert kept is not None and kept.metadata["reason"] == result.detail["reason"]
    assert kept.metadata["source"] == f"gs://{S.archive_bucket}/{archived(obj)}"
    assert ctx.store.read(S.quarantine_bucket, archived(obj)) == data
    assert ctx.store.read(S.archive_bucket, archived(obj)) == data
    assert ctx.bus.messages == []
    (uid,) = [k for c, k in ctx.documents.docs if c == "uploads"]
    record = ctx.documents.get("uploads", uid)
    assert record["state"] == "quarantined" and record["reason"] == result.detail["reason"]
    assert record["final"] and record["due_time"] is None


def test_three_uploads_of_one_name_keep_three_archived_versions(ctx):
    """Even when each replaced the last in the incoming bucket before it was archived."""
    name = f"{SEQ}/20180216T112430.fits"
    objs = [upload(ctx, name, unit_frame(seed=k)) for k in (1, 2, 3)]
    for obj in objs:  # notifications arrive after all three uploads
        assert handle_raw_upload(ctx, obj).action == "routed"
    assert {ctx.store.read(S.archive_bucket, archived(o)) for o in objs} == {
        unit_frame(seed=k) for k in (1, 2, 3)
    }
    assert len(ctx.store.names(S.archive_bucket)) == 3


def test_products_of_an_older_upload_never_replace_a_newer_ones(ctx):
    name = f"{SEQ}/20180216T112430.fits"
    objs = [upload(ctx, name, unit_frame(seed=k)) for k in (1, 2)]
    for obj in objs:
        handle_raw_upload(ctx, obj)
    first, second = ctx.bus.on(S.compress_topic)
    run = [
        compress_fits(
            ctx, StoredObject.from_message(m), m["object_name"], UploadRef.from_message(m)
        )
        for m in (second, first)
    ]
    assert [r.action for r in run] == ["compressed", "skipped"]
    stored = ctx.store.stat(S.images_bucket, f"{SEQ}/20180216T112430.fits.fz")
    assert stored.metadata["upload_generation"] == str(objs[1].generation)
    assert ctx.documents.get("uploads", first["upload_id"])["state"] == "superseded"


def test_a_redelivered_notification_archives_once_and_routes_again(ctx):
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    handle_raw_upload(ctx, obj)
    writes = len(ctx.store.writes)
    again = handle_raw_upload(ctx, obj)
    assert again.action == "routed"  # harmless: every later step is idempotent
    assert len(ctx.store.writes) == writes and len(ctx.store.names(S.archive_bucket)) == 1


def test_compress_stores_verified_fz_and_deletes_nothing(ctx):
    data = unit_frame(shape=(64, 96))
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", data)
    handle_raw_upload(ctx, obj)
    (message,) = ctx.bus.on(S.compress_topic)
    deleted = list(ctx.store.deleted)
    result = compress_fits(
        ctx,
        StoredObject.from_message(message),
        message["object_name"],
        UploadRef.from_message(message),
    )
    assert result.action == "compressed"
    target = f"{SEQ}/20180216T112430.fits.fz"
    stored = ctx.store.read(S.images_bucket, target)
    with fits.open(io.BytesIO(stored)) as hdus, fits.open(io.BytesIO(data)) as original:
        np.testing.assert_array_equal(hdus[1].data, original[0].data)
        assert hdus[1].header["FIELD"] == "Wasp 33"
    assert ctx.store.stat(S.images_bucket, target).metadata["source_md5"] == md5_base64(data)
    (record,) = ctx.bus.on(S.record_topic)
    assert (record["bucket"], record["name"]) == (S.images_bucket, target)
    assert record["upload_id"] == message["upload_id"]
    assert ctx.store.deleted == deleted
    assert ctx.store.read(S.archive_bucket, archived(obj)) == data


def test_compress_redelivered_writes_nothing_new(ctx):
    obj = upload(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    handle_raw_upload(ctx, obj)
    (message,) = ctx.bus.on(S.compress_topic)
    args = (
        StoredObject.from_message(message),
        message["object_name"],
        UploadRef.from_message(message),
    )
    compress_fits(ctx, *args)
    writes = list(ctx.store.writes)
    assert compress_fits(ctx, *args).action == "compressed"
    assert ctx.store.writes == writes
    assert len(ctx.bus.on(S.record_topic)) == 2


def test_compress_failure_quarantines_and_keeps_the_archived_upload(ctx):
    header = fits.Header({"EXPTIME": 1.0})
    out = io.BytesIO()
    fits.PrimaryHDU(np.zeros((8, 8), dtype=np.float32), header=header).writeto(out)
    name = f"{SEQ}/20180216T112430.fits"
    obj = StoredObject(S.archive_bucket, f"{name}@7")
    ctx.store.put(obj.bucket, obj.name, out.getvalue())
    result = compress_fits(ctx, obj, name)
    assert result.action == "quarantined" and "BITPIX" in result.detail["reason"]
    assert ctx.store.stat(S.archive_bucket, obj.name) is not None
    assert ctx.store.stat(S.quarantine_bucket, obj.name) is not None
    assert ctx.store.stat(S.images_bucket, f"{SEQ}/20180216T112430.fits.fz") is None


def run_chain(ctx: ChainContext, name: str, data: bytes) -> None:
    """Deliver an upload through every step, like the push subscriptions do."""
    handle_raw_upload(ctx, upload(ctx, name, data))
    for topic, payload, _ in list(ctx.bus.messages):
        if topic == S.compress_topic:
            compress_fits(
                ctx,
                StoredObject.from_message(payload),
                payload.get("object_name"),
                UploadRef.from_message(payload),
            )
    for topic, payload, _ in list(ctx.bus.messages):
        if topic == S.record_topic:
            record_image(ctx, StoredObject.from_message(payload), UploadRef.from_message(payload))


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
    kept = [n for n in ctx.store.names(S.quarantine_bucket) if n.startswith(f"{name}@")]
    assert len(kept) == 1
    assert ctx.documents.get("observations", "PAN001_14d3bd_20180216T110623") is None


def test_recorded_frames_go_to_plate_solve_unless_already_solved(ctx):
    run_chain(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    fz = f"{SEQ}/20180216T112430.fits.fz"
    assert ctx.bus.on(S.solve_topic) == [
        {"bucket": S.images_bucket, "name": fz, "image_id": "PAN001_14d3bd_20180216T112430"}
    ]
    image = ctx.documents.get("images", "PAN001_14d3bd_20180216T112430")
    assert image["due_time"] > image["received_time"]  # the reconciler's, if solving stalls
    (uid,) = [k for c, k in ctx.documents.docs if c == "uploads"]
    record = ctx.documents.get("uploads", uid)
    assert record["state"] == "recorded"
    assert record["image_id"] == "PAN001_14d3bd_20180216T112430"
    assert list(record["stages"]) == ["received", "archived", "routed", "compressed", "recorded"]
    ctx.documents.merge("images", "PAN001_14d3bd_20180216T112430", {"solved": True})
    result = record_image(ctx, StoredObject(S.images_bucket, fz))
    assert result.detail["sent_to_solve"] is False
    assert len(ctx.bus.on(S.solve_topic)) == 1
