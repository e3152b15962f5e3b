"""The preview of a recorded frame on the in-memory fakes: stored, recorded, raw first.

A frame recorded by record-image gets a JPEG rendered from its pixels, under the name of its
image id in the preview bucket, recorded on its image document. A preview from the camera raw
file (the real make-rgb-fits step on a DNG) wins in either order of arrival and in the races
between them; a preview that cannot be made is recorded and logged, and never raises.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from panoptes_network.astrometry.solved_frame import read_stored_frame
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.compression import compress_frame
from panoptes_network.frames.preview import FramePreviewError
from panoptes_network.ingest import frame_preview
from panoptes_network.ingest.frame_preview import has_raw_preview, make_frame_preview
from panoptes_network.ingest.record import record_image
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import IMAGES
from panoptes_network.pipeline.settings import Settings
from panoptes_network.raw.make_rgb_fits import make_rgb_fits
from tests.unit.dng_files import dng_bytes
from tests.unit.fakes import MemoryDocuments, MemoryStore
from tests.unit.frame_files import unit_frame

S = Settings()
FRAME = "PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz"
RAW = "PAN001/14d3bd/20180216T110623/20180216T112430.dng"
PATH = ImagePath.parse(FRAME)
IMAGE_ID = PATH.image_id
PREVIEW = "PAN001/14d3bd/20180216T110623/20180216T112430.jpg"

needs_exiftool = pytest.mark.skipif(
    shutil.which("exiftool") is None,
    reason="exiftool is missing (Debian: apt-get install libimage-exiftool-perl)",
)


def recorded_frame(ctx: ChainContext, **cards):
    """Store and record a small unit frame; return it, its pixels and header as plate-solve
    holds them."""
    ctx.store.put(S.images_bucket, FRAME, compress_frame(unit_frame((120, 180), **cards)).data)
    obj = StoredObject(S.images_bucket, FRAME)
    assert record_image(ctx, obj).action == "recorded"
    frame = read_stored_frame(ctx.store.read(S.images_bucket, FRAME), obj.uri)
    return obj, frame.pixels, frame.header


def raw_arrives(ctx: ChainContext) -> None:
    """The camera raw file of the same image goes through raw-file-uploaded and make-rgb-fits."""
    info = ctx.store.put(S.incoming_bucket, RAW, dng_bytes(96, 128))
    routed = handle_raw_upload(ctx, StoredObject(S.incoming_bucket, RAW, info.generation))
    assert routed.action == "routed"
    (message,) = [m for m in ctx.bus.on(S.make_rgb_topic) if m["object_name"] == RAW]
    obj = StoredObject.from_message(message)
    assert make_rgb_fits(ctx, obj, message["object_name"]).action == "made"


def stored_preview(ctx: ChainContext):
    info = ctx.store.stat(S.preview_bucket, PREVIEW)
    assert info is not None, "no preview stored"
    with Image.open(io.BytesIO(ctx.store.read(S.preview_bucket, PREVIEW))) as image:
        return info, image.format, image.size


def test_a_frame_without_a_raw_file_gets_a_preview_rendered_from_its_pixels(ctx):
    obj, pixels, header = recorded_frame(ctx)
    assert ctx.documents.get(IMAGES, IMAGE_ID).get("preview_url") is None
    outcome = make_frame_preview(ctx, obj, PATH, pixels, header)
    assert outcome["action"] == "made", outcome
    assert outcome["to"] == f"gs://{S.preview_bucket}/{PREVIEW}"
    info, kind, size = stored_preview(ctx)
    assert kind == "JPEG" and size == (1200, 800)
    assert info.metadata["preview_source"] == "fits"
    assert info.metadata["bayer_pattern"] == "RGGB"
    assert info.metadata["source"] == obj.uri and info.metadata["image_id"] == IMAGE_ID
    doc = ctx.documents.get(IMAGES, IMAGE_ID)
    assert doc["preview_path"] == PREVIEW
    assert doc["preview_url"] == f"{S.public_base_url}/{S.preview_bucket}/{PREVIEW}"
    assert doc["preview_source"] == "fits" and doc["preview_error_reason"] is None
    assert doc["status"] == "uploaded"  # nothing else of the frame changed


def test_a_redelivery_renders_again_under_the_same_name_and_breaks_nothing(ctx):
    obj, pixels, header = recorded_frame(ctx)
    first = make_frame_preview(ctx, obj, PATH, pixels, header)
    doc = ctx.documents.get(IMAGES, IMAGE_ID)
    info = ctx.store.stat(S.preview_bucket, PREVIEW)
    again = make_frame_preview(ctx, obj, PATH, pixels, header)
    assert first["action"] == again["action"] == "made"
    assert ctx.store.names(S.preview_bucket) == [PREVIEW]
    assert ctx.store.stat(S.preview_bucket, PREVIEW).md5_hash == info.md5_hash
    assert ctx.documents.get(IMAGES, IMAGE_ID) == doc


def test_a_frame_without_a_bayer_pattern_is_rendered_in_grey(ctx):
    obj, pixels, header = recorded_frame(ctx, FILTER="")
    assert header["FILTER"] == ""
    assert make_frame_preview(ctx, obj, PATH, pixels, header)["bayer_pattern"] is None
    info, _, _ = stored_preview(ctx)
    assert info.metadata["bayer_pattern"] == "none (grey)"
    with Image.open(io.BytesIO(ctx.store.read(S.preview_bucket, PREVIEW))) as image:
        rgb = np.asarray(image).astype(int)
    assert np.abs(rgb[..., 0] - rgb[..., 2]).mean() < 3  # grey, up to JPEG's chroma noise


@needs_exiftool
def test_a_raw_file_arriving_later_replaces_the_rendering(ctx):
    obj, pixels, header = recorded_frame(ctx)
    assert make_frame_preview(ctx, obj, PATH, pixels, header)["action"] == "made"
    assert ctx.store.stat(S.preview_bucket, PREVIEW).metadata["preview_source"] == "fits"
    raw_arrives(ctx)
    info, _, _ = stored_preview(ctx)
    assert info.metadata["preview_source"] in ("embedded", "rendered")  # the raw file's
    doc = ctx.documents.get(IMAGES, IMAGE_ID)
    assert doc["preview_source"] == "raw" and doc["preview_path"] == PREVIEW
    assert doc["status"] == "uploaded"  # still the recorded frame
    # The plate-solve message redelivered now: the raw preview stays.
    again = make_frame_preview(ctx, obj, PATH, pixels, header)
    assert again["action"] == "skipped" and "raw file" in again["why"]
    assert ctx.store.stat(S.preview_bucket, PREVIEW).generation == info.generation
    assert ctx.documents.get(IMAGES, IMAGE_ID) == doc


@needs_exiftool
def test_a_raw_file_arriving_first_keeps_its_preview(ctx):
    raw_arrives(ctx)
    placeholder = ctx.documents.get(IMAGES, IMAGE_ID)
    assert placeholder["status"] == "raw_received" and placeholder["preview_source"] == "raw"
    raw_info = ctx.store.stat(S.preview_bucket, PREVIEW)
    obj, pixels, header = recorded_frame(ctx)  # the unit's own FITS comes after
    doc = ctx.documents.get(IMAGES, IMAGE_ID)
    assert doc["status"] == "uploaded" and has_raw_preview(doc)
    outcome = make_frame_preview(ctx, obj, PATH, pixels, header)
    assert outcome["action"] == "skipped"
    assert ctx.store.stat(S.preview_bucket, PREVIEW).generation == raw_info.generation
    assert ctx.documents.get(IMAGES, IMAGE_ID) == doc


def test_a_raw_preview_recorded_before_preview_source_existed_counts_as_raw():
    assert has_raw_preview({"preview_url": "https://x/p.jpg"})
    assert has_raw_preview({"preview_url": "https://x/p.jpg", "preview_source": "raw"})
    assert not has_raw_preview({"preview_url": "https://x/p.jpg", "preview_source": "fits"})
    assert not has_raw_preview({"preview_error_reason": "x"}) and not has_raw_preview(None)


class RawLandsBeforeOurWrite(MemoryStore):
    """make-rgb-fits stores its preview between the rendering's check and its write."""

    def write(self, bucket, name, data, **kwargs):
        ours = kwargs.get("metadata", {}).get("preview_source") == "fits"
        if bucket == S.preview_bucket and ours:
            self.put(bucket, name, b"raw jpeg", {"preview_source": "embedded"})
        return super().write(bucket, name, data, **kwargs)


def test_a_raw_preview_stored_during_the_rendering_is_not_overwritten(make_ctx):
    ctx = make_ctx(store=RawLandsBeforeOurWrite())
    obj, pixels, header = recorded_frame(ctx)
    outcome = make_frame_preview(ctx, obj, PATH, pixels, header)
    assert outcome["action"] == "skipped" and "meanwhile" in outcome["why"]
    assert ctx.store.read(S.preview_bucket, PREVIEW) == b"raw jpeg"
    assert ctx.documents.get(IMAGES, IMAGE_ID).get("preview_source") is None  # make-rgb-fits'


class RawRecordedBeforeOurCommit(MemoryDocuments):
    """make-rgb-fits records its preview between the rendering's read and its commit."""

    raced = False

    def commit(self, writes):
        fields = writes[0].fields if writes else {}
        if not self.raced and fields.get("preview_source") == "fits":
            self.raced = True
            raw = {"preview_source": "raw", "preview_url": "https://x/raw.jpg"}
            super().commit([DocWrite(IMAGES, IMAGE_ID, raw, must_exist=True)])
        return super().commit(writes)


def test_a_raw_preview_recorded_during_the_rendering_is_kept(make_ctx):
    documents = RawRecordedBeforeOurCommit()
    ctx = make_ctx(documents=documents)
    obj, pixels, header = recorded_frame(ctx)
    outcome = make_frame_preview(ctx, obj, PATH, pixels, header)
    assert documents.raced and documents.conflicts >= 1
    assert outcome["action"] == "skipped" and "recorded meanwhile" in outcome["why"]
    doc = documents.get(IMAGES, IMAGE_ID)
    assert doc["preview_source"] == "raw" and doc["preview_url"] == "https://x/raw.jpg"


def log_records(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_a_frame_that_cannot_be_rendered_is_recorded_and_logged_never_raised(ctx, capsys):
    obj, _, header = recorded_frame(ctx)
    outcome = make_frame_preview(ctx, obj, PATH, np.zeros((3, 10, 10)), header)
    assert outcome["action"] == "failed"
    assert "shape (3, 10, 10)" in outcome["reason"]
    doc = ctx.documents.get(IMAGES, IMAGE_ID)
    assert doc["preview_error_reason"] == outcome["reason"]
    assert doc.get("preview_url") is None and ctx.store.names(S.preview_bucket) == []
    (record,) = [r for r in log_records(capsys) if "no preview" in r["message"]]
    assert record["severity"] == "WARNING" and IMAGE_ID in record["message"]
    assert record["object"] == obj.uri


class PreviewBucketDown(MemoryStore):
    def write(self, bucket, name, data, **kwargs):
        if bucket == S.preview_bucket:
            raise OSError("503 the preview bucket is unavailable")
        return super().write(bucket, name, data, **kwargs)


def test_a_fault_while_storing_is_recorded_and_logged_never_raised(make_ctx, capsys):
    ctx = make_ctx(store=PreviewBucketDown())
    obj, pixels, header = recorded_frame(ctx)
    outcome = make_frame_preview(ctx, obj, PATH, pixels, header)
    assert outcome["action"] == "failed" and "OSError" in outcome["reason"]
    doc = ctx.documents.get(IMAGES, IMAGE_ID)
    assert "preview bucket is unavailable" in doc["preview_error_reason"]
    (record,) = [r for r in log_records(capsys) if "no preview" in r["message"]]
    assert record["severity"] == "ERROR" and IMAGE_ID in record["message"]
    assert "stack_trace" in record


def test_a_later_success_clears_the_recorded_reason(ctx, monkeypatch):
    obj, pixels, header = recorded_frame(ctx)

    def broken(*args, name, **kwargs):
        raise FramePreviewError(name, "broken for the test")

    monkeypatch.setattr(frame_preview, "render_frame_preview", broken)
    assert make_frame_preview(ctx, obj, PATH, pixels, header)["action"] == "failed"
    assert ctx.documents.get(IMAGES, IMAGE_ID)["preview_error_reason"] == "broken for the test"
    monkeypatch.undo()
    assert make_frame_preview(ctx, obj, PATH, pixels, header)["action"] == "made"
    assert ctx.documents.get(IMAGES, IMAGE_ID)["preview_error_reason"] is None


def test_when_even_the_reason_cannot_be_recorded_the_step_still_does_not_raise(make_ctx, capsys):
    class DocumentsDown(MemoryDocuments):
        def read(self, keys):
            raise ConnectionError("firestore unavailable")

    ctx = make_ctx(store=PreviewBucketDown())
    obj, pixels, header = recorded_frame(ctx)
    ctx.documents.__class__ = DocumentsDown  # Firestore goes down after the frame is recorded
    outcome = make_frame_preview(ctx, obj, PATH, pixels, header)
    assert outcome["action"] == "failed"
    messages = [r["message"] for r in log_records(capsys)]
    assert any("could not record why" in m and IMAGE_ID in m for m in messages)
