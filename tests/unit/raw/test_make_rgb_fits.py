"""The make-rgb-fits step on real DNG files (LibRaw, exiftool) with in-memory storage and docs."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import rawpy
from astropy.io import fits
from PIL import Image

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.pipeline.context import ChainContext, StoredObject, UploadRef
from panoptes_network.pipeline.settings import Settings
from panoptes_network.raw.make_rgb_fits import make_rgb_fits, product_names
from tests.unit.dng_files import EXIF_TAGS, dng_bytes

pytestmark = pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool is missing (Debian: apt-get install libimage-exiftool-perl)",
)

S = Settings()
NAME = "PAN001/14d3bd/20180216T110623/20180216T112430.dng"
PATH = ImagePath.parse(NAME)


def upload_raw(ctx: ChainContext, data: bytes, name: str = NAME) -> StoredObject:
    """Upload to the incoming bucket and run raw-file-uploaded; return what it queued."""
    info = ctx.store.put(S.incoming_bucket, name, data)
    assert (
        handle_raw_upload(ctx, StoredObject(S.incoming_bucket, name, info.generation)).action
        == "routed"
    )
    (message,) = ctx.bus.on(S.make_rgb_topic)
    ctx.bus.messages.clear()
    return message


def test_a_raw_file_gets_its_products_and_a_placeholder_image(ctx):
    data = dng_bytes(96, 128, exif=EXIF_TAGS)
    message = upload_raw(ctx, data)
    upload = UploadRef.from_message(message)
    result = make_rgb_fits(ctx, StoredObject.from_message(message), message["object_name"], upload)
    assert result.action == "made" and result.detail["waiting_for_fits"] is True
    names = product_names(PATH)

    with fits.open(io.BytesIO(ctx.store.read(S.raw_fits_bucket, names["bayer"]))) as hdus:
        with rawpy.imread(io.BytesIO(data)) as raw:
            assert np.array_equal(hdus[0].data, np.flipud(raw.raw_image_visible))
        assert hdus[0].header["RAWCONV"] is True
        assert hdus[0].header["IMAGEID"] == PATH.image_id
    with fits.open(io.BytesIO(ctx.store.read(S.rgb_bucket, names["rgb"]))) as hdus:
        assert hdus[1].data.shape == (3, 96, 128)
    preview = Image.open(io.BytesIO(ctx.store.read(S.preview_bucket, names["preview"])))
    assert preview.format == "JPEG" and preview.width == 1200

    doc = ctx.documents.get("images", PATH.image_id)
    assert doc["status"] == "raw_received" and doc["raw_fits_pending"] is True
    assert doc["rgb_url"].endswith(f"/{S.rgb_bucket}/{names['rgb']}")
    assert doc["preview_url"].endswith(f"/{S.preview_bucket}/{names['preview']}")
    assert doc["raw_file"] == f"gs://{S.archive_bucket}/{message['name']}"
    assert message["name"].startswith(f"{NAME}@")
    upload = ctx.documents.get("uploads", message["upload_id"])
    assert upload["state"] == "recorded" and upload["final"] and upload["due_time"] is None
    assert doc["raw_pattern"] == "RGGB"
    assert ctx.documents.get("units", "PAN001") is None  # no counter moved


def test_a_redelivery_after_the_products_are_made_writes_nothing(ctx):
    message = upload_raw(ctx, dng_bytes(96, 128))
    obj = StoredObject.from_message(message)
    first = make_rgb_fits(ctx, obj, message["object_name"])
    assert first.action == "made"
    doc = ctx.documents.get("images", PATH.image_id)
    writes = list(ctx.store.writes)
    again = make_rgb_fits(ctx, obj, message["object_name"])
    assert again.action == "skipped"
    assert ctx.store.writes == writes
    assert ctx.documents.get("images", PATH.image_id) == doc


def test_an_interrupted_run_is_finished_by_the_redelivery(ctx):
    """Products written but the ledger not yet final: a redelivery makes the same products."""
    message = upload_raw(ctx, dng_bytes(96, 128))
    obj = StoredObject.from_message(message)
    ctx.documents.merge("uploads", message["upload_id"], {"final": False})
    first = make_rgb_fits(ctx, obj, message["object_name"])
    ctx.documents.merge("uploads", message["upload_id"], {"final": False, "state": "routed"})
    again = make_rgb_fits(ctx, obj, message["object_name"])
    assert again.detail == first.detail
    assert ctx.documents.get("uploads", message["upload_id"])["state"] == "recorded"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\x00" * 5000, "not a camera raw file"),
        (b"SIMPLE  =                    T" + b" " * 2850, "not a camera raw file"),
        (None, "truncated"),
    ],
)
def test_a_file_libraw_cannot_read_is_quarantined_with_its_reason_and_kept(ctx, data, says):
    if data is None:
        whole = dng_bytes(96, 128)
        data = whole[: len(whole) // 2]
    message = upload_raw(ctx, data)
    result = make_rgb_fits(
        ctx,
        StoredObject.from_message(message),
        message["object_name"],
        UploadRef.from_message(message),
    )
    assert result.action == "quarantined"
    assert NAME in result.detail["reason"]
    assert ctx.store.read(S.archive_bucket, message["name"]) == data
    kept = ctx.store.stat(S.quarantine_bucket, message["name"])
    assert kept is not None and kept.metadata["reason"] == result.detail["reason"]
    upload = ctx.documents.get("uploads", message["upload_id"])
    assert upload["state"] == "quarantined" and upload["reason"] == result.detail["reason"]
    assert ctx.documents.get("images", PATH.image_id) is None
    assert ctx.bus.messages == []
