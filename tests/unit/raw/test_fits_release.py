"""A raw file's placeholder, its converted FITS waiting for the unit's FITS, and its release."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.ingest.compress import compress_fits
from panoptes_network.ingest.record import record_image
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.schema import ImageStatus
from panoptes_network.pipeline.settings import Settings
from panoptes_network.raw.fits_release import release_raw_fits, sweep_raw_fits
from panoptes_network.raw.make_rgb_fits import product_names, record_raw_products
from tests.unit.frame_files import unit_frame

S = Settings()
SEQ = "PAN001/14d3bd/20180216T110623"
RAW = ImagePath.parse(f"{SEQ}/20180216T112430.cr2")
IMAGE_ID = RAW.image_id
T0 = datetime(2026, 11, 21, 4, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def ctx(make_ctx) -> ChainContext:
    return make_ctx(service="t", now=Clock())


def deliver(ctx: ChainContext) -> None:
    """Run every queued compress-fits and record-image message, like the subscriptions do."""
    for topic, payload, _ in list(ctx.bus.messages):
        if topic == S.compress_topic:
            compress_fits(ctx, StoredObject.from_message(payload), payload.get("object_name"))
    for topic, payload, _ in list(ctx.bus.messages):
        if topic == S.record_topic:
            record_image(ctx, StoredObject.from_message(payload))
    ctx.bus.messages.clear()


def raw_arrives(ctx: ChainContext, *, staged: bool = True) -> None:
    """What make-rgb-fits records for the raw file (the products themselves are not needed)."""
    bayer = product_names(RAW)["bayer"]
    placeholder = {
        "unit_id": RAW.unit_id,
        "camera_id": RAW.camera_id,
        "sequence_id": RAW.sequence_id,
        "time": RAW.image_time,
        "received_time": ctx.now(),
        "status": ImageStatus.RAW_RECEIVED,
        "solved": False,
    }
    if staged:
        frame = unit_frame(RAWCONV=True, RAWFILE=f"gs://{S.archive_bucket}/{RAW.object_name}")
        ctx.store.put(S.raw_fits_bucket, bayer, frame)
        placeholder |= {"raw_fits_path": bayer, "raw_fits_pending": True}
    products = {
        "rgb_url": "https://x/rgb.fits.fz",
        "preview_url": "https://x/p.jpg",
        "raw_received_time": ctx.now(),
    }
    record_raw_products(ctx, RAW, products, placeholder)


def fits_arrives(ctx: ChainContext) -> None:
    name = RAW.with_extension(".fits").object_name
    info = ctx.store.put(S.incoming_bucket, name, unit_frame())
    handle_raw_upload(ctx, StoredObject(S.incoming_bucket, name, info.generation))
    deliver(ctx)


def counters(ctx: ChainContext) -> tuple:
    unit = ctx.documents.get("units", RAW.unit_id) or {}
    observation = ctx.documents.get("observations", RAW.sequence_id) or {}
    return unit.get("num_images", 0), observation.get("num_images", 0)


def test_a_raw_placeholder_moves_no_counter_and_the_fits_replaces_it_keeping_products(ctx):
    raw_arrives(ctx)
    doc = ctx.documents.get("images", IMAGE_ID)
    assert doc["status"] == "raw_received" and doc["raw_fits_pending"] is True
    assert counters(ctx) == (0, 0)
    ctx.now.now += timedelta(minutes=5)
    fits_arrives(ctx)
    doc = ctx.documents.get("images", IMAGE_ID)
    assert doc["status"] == "uploaded" and doc["converted_from_raw"] is False
    assert doc["rgb_url"] == "https://x/rgb.fits.fz" and doc["preview_url"] == "https://x/p.jpg"
    assert counters(ctx) == (1, 1)
    ctx.now.now += timedelta(hours=1)
    answer = sweep_raw_fits(ctx)
    assert answer["released"] == [] and answer["superseded"] == [IMAGE_ID]
    assert ctx.documents.get("images", IMAGE_ID)["raw_fits_pending"] is False
    assert ctx.bus.messages == []


def test_products_of_a_raw_file_after_its_fits_only_add_fields(ctx):
    fits_arrives(ctx)
    before = ctx.documents.get("images", IMAGE_ID)
    raw_arrives(ctx)
    after = ctx.documents.get("images", IMAGE_ID)
    assert after["status"] == before["status"] == "uploaded"
    assert after["rgb_url"] and "raw_fits_pending" not in after
    assert counters(ctx) == (1, 1)


def test_the_sweep_waits_then_sends_the_converted_frame_through_the_chain(ctx):
    raw_arrives(ctx)
    ctx.now.now += timedelta(minutes=S.raw_fits_wait_minutes - 1)
    early = sweep_raw_fits(ctx)
    assert early["released"] == [] and early["waiting"] == 1 and ctx.bus.messages == []
    ctx.now.now += timedelta(minutes=2)
    late = sweep_raw_fits(ctx)
    (released,) = late["released"]
    assert released["image_id"] == IMAGE_ID
    (message,) = ctx.bus.on(S.compress_topic)
    assert message["bucket"] == S.raw_fits_bucket
    deliver(ctx)
    doc = ctx.documents.get("images", IMAGE_ID)
    assert doc["status"] == "uploaded" and doc["converted_from_raw"] is True
    assert doc["raw_file"] == f"gs://{S.archive_bucket}/{RAW.object_name}"
    assert doc["rgb_url"] == "https://x/rgb.fits.fz" and doc["raw_fits_pending"] is False
    assert counters(ctx) == (1, 1)
    fz = RAW.with_extension(".fits.fz").object_name
    assert ctx.store.stat(S.images_bucket, fz) is not None
    assert sweep_raw_fits(ctx)["released"] == []  # released once


def test_a_broken_fits_lets_the_converted_frame_stand_in(ctx):
    raw_arrives(ctx)
    name = RAW.with_extension(".fits").object_name
    broken = unit_frame(EXPTIME=None)  # quarantined by raw-file-uploaded
    info = ctx.store.put(S.incoming_bucket, name, broken)
    handle_raw_upload(ctx, StoredObject(S.incoming_bucket, name, info.generation))
    ctx.now.now += timedelta(minutes=S.raw_fits_wait_minutes + 1)
    assert [r["image_id"] for r in sweep_raw_fits(ctx)["released"]] == [IMAGE_ID]


def test_an_explicit_request_releases_now_and_says_why_when_it_cannot(ctx):
    with pytest.raises(PermanentFailure, match="does not exist"):
        release_raw_fits(ctx, {"image_id": IMAGE_ID})
    for bad in ({}, {"image_id": "PAN001_nothex_2018"}, {"bucket_path": "x/y"}, []):
        with pytest.raises(PermanentFailure):
            release_raw_fits(ctx, bad)
    raw_arrives(ctx, staged=False)
    with pytest.raises(PermanentFailure, match="no FITS converted"):
        release_raw_fits(ctx, {"image_id": IMAGE_ID})
    ctx.documents.docs.clear()
    raw_arrives(ctx)
    answer = release_raw_fits(ctx, {"bucket_path": RAW.object_name})
    assert [r["image_id"] for r in answer["released"]] == [IMAGE_ID]
    deliver(ctx)
    again = release_raw_fits(ctx, {"image_id": IMAGE_ID})
    assert again["released"] == [] and "recorded" in again["why"]


def test_the_wait_comes_from_settings_and_a_negative_wait_is_refused(ctx):
    raw_arrives(ctx)
    ctx.now.now += timedelta(minutes=10)
    assert sweep_raw_fits(ctx, wait_minutes=15)["waiting"] == 1
    assert len(sweep_raw_fits(ctx, wait_minutes=5)["released"]) == 1
    with pytest.raises(PermanentFailure):
        sweep_raw_fits(ctx, wait_minutes=-1)
