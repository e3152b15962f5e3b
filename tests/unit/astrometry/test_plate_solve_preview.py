"""plate-solve renders the preview of every frame it reads, and a preview never stops a frame.

Replayed solver runs (no ``solve-field`` is run): a TAN solution of the right scale is handed
to the step, so each test is about what happens around the preview, on the in-memory fakes.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from infra.spec import load
from panoptes_network.adapters.access import Access, GuardedStore
from panoptes_network.astrometry.plate_solve import PlateSolver, plate_solve
from panoptes_network.frames.compression import compress_frame
from panoptes_network.ingest import frame_preview
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.settings import Settings
from tests.unit.fakes import MemoryStore, ReplayRunner
from tests.unit.frame_files import unit_frame

S = Settings()
FRAME = "PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz"
IMAGE_ID = "PAN001_14d3bd_20180216T112430"
PREVIEW = "PAN001/14d3bd/20180216T110623/20180216T112430.jpg"
SHAPE = (256, 384)  # rows, columns of the raw frame


def frame_solution() -> fits.Header:
    """A TAN WCS of the frame's pixels: 10.3 arcsec each, centred on the mount."""
    header = fits.Header()
    header["WCSAXES"] = 2
    header["CTYPE1"], header["CTYPE2"] = "RA---TAN", "DEC--TAN"
    header["CRVAL1"], header["CRVAL2"] = 40.5, 37.5
    header["CRPIX1"], header["CRPIX2"] = SHAPE[1] / 2 + 0.5, SHAPE[0] / 2 + 0.5
    header["CD1_1"], header["CD1_2"] = -10.3 / 3600, 0.0
    header["CD2_1"], header["CD2_2"] = 0.0, 10.3 / 3600
    return header


SOLVER = PlateSolver(runner=ReplayRunner(frame_solution()), min_stars=0, background_box=32)


def recorded(ctx: ChainContext) -> StoredObject:
    ctx.store.put(S.images_bucket, FRAME, compress_frame(unit_frame(SHAPE, stars=12)).data)
    obj = StoredObject(S.images_bucket, FRAME)
    assert record_image(ctx, obj).action == "recorded"
    return obj


@pytest.fixture
def solver_ctx(make_ctx):
    return make_ctx(service="plate-solve")


def log_records(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_plate_solve_renders_the_preview_of_a_frame_without_a_raw_file(solver_ctx):
    ctx = solver_ctx
    result = plate_solve(ctx, recorded(ctx), SOLVER)
    assert result.action == "solved", result.detail
    assert result.detail["preview"] == "made" and result.detail["preview_s"] >= 0
    with Image.open(io.BytesIO(ctx.store.read(S.preview_bucket, PREVIEW))) as image:
        assert image.format == "JPEG" and image.width == 1200
    doc = ctx.documents.get("images", IMAGE_ID)
    assert doc["solved"] is True and doc["preview_source"] == "fits"
    assert doc["preview_url"] == f"{S.public_base_url}/{S.preview_bucket}/{PREVIEW}"


def test_a_recorded_raw_preview_is_not_rendered_again(solver_ctx):
    ctx = solver_ctx
    obj = recorded(ctx)
    raw = {"preview_source": "embedded", "source": "gs://archive/x.cr2"}
    info = ctx.store.put(S.preview_bucket, PREVIEW, b"the camera's jpeg", raw)
    raw_fields = {
        "preview_path": PREVIEW,
        "preview_url": f"{S.public_base_url}/{S.preview_bucket}/{PREVIEW}",
        "preview_source": "raw",
    }
    ctx.documents.merge("images", IMAGE_ID, raw_fields)
    result = plate_solve(ctx, obj, SOLVER)
    assert result.action == "solved" and result.detail["preview"] == "skipped"
    assert ctx.store.stat(S.preview_bucket, PREVIEW).generation == info.generation
    doc = ctx.documents.get("images", IMAGE_ID)
    assert {k: doc[k] for k in raw_fields} == raw_fields


def test_a_preview_that_cannot_be_rendered_never_stops_the_frame(solver_ctx, monkeypatch, capsys):
    def broken(pixels, *, name, **kwargs):
        raise frame_preview.FramePreviewError(name, "the mosaic is unreadable for the test")

    monkeypatch.setattr(frame_preview, "render_frame_preview", broken)
    ctx = solver_ctx
    result = plate_solve(ctx, recorded(ctx), SOLVER)
    assert result.action == "solved" and result.detail["preview"] == "failed"
    doc = ctx.documents.get("images", IMAGE_ID)
    assert doc["solved"] is True and doc["status"] == "solved"
    assert doc["preview_error_reason"] == "the mosaic is unreadable for the test"
    assert doc.get("preview_url") is None
    assert ctx.bus.on(S.measure_topic), "the frame goes on to measure-sources"
    warnings = [r for r in log_records(capsys) if "no preview" in r["message"]]
    assert warnings and IMAGE_ID in warnings[0]["message"]


def test_a_crash_while_making_the_preview_never_stops_the_frame(make_ctx, capsys):
    class PreviewBucketDown(MemoryStore):
        def write(self, bucket, name, data, **kwargs):
            if bucket == S.preview_bucket:
                raise MemoryError("out of memory while storing the preview")
            return super().write(bucket, name, data, **kwargs)

    ctx = make_ctx(store=PreviewBucketDown(), service="plate-solve")
    result = plate_solve(ctx, recorded(ctx), SOLVER)
    assert result.action == "solved" and result.detail["preview"] == "failed"
    doc = ctx.documents.get("images", IMAGE_ID)
    assert doc["solved"] is True and "MemoryError" in doc["preview_error_reason"]
    errors = [r for r in log_records(capsys) if r["severity"] == "ERROR"]
    assert errors and IMAGE_ID in errors[0]["message"]


def test_a_frame_that_cannot_be_solved_still_gets_its_preview(solver_ctx):
    ctx = solver_ctx
    unsolvable = PlateSolver(runner=ReplayRunner(None), min_stars=0, background_box=32)
    result = plate_solve(ctx, recorded(ctx), unsolvable)
    assert result.action == "solve_error"
    doc = ctx.documents.get("images", IMAGE_ID)
    assert doc["status"] == "solve_error" and doc["preview_source"] == "fits"
    assert ctx.store.stat(S.preview_bucket, PREVIEW) is not None


def test_the_preview_shows_the_frame_upright(make_ctx):
    # A bright block at the top of the upright image is the end of the FITS array.
    pixels = np.full(SHAPE, 2100, dtype=np.uint16)
    pixels[-40:, :60] = 9000
    out = io.BytesIO()
    header = fits.getheader(io.BytesIO(unit_frame(SHAPE)))
    fits.PrimaryHDU(pixels, header).writeto(out)
    ctx = make_ctx(service="plate-solve")
    ctx.store.put(S.images_bucket, FRAME, compress_frame(out.getvalue()).data)
    obj = StoredObject(S.images_bucket, FRAME)
    assert record_image(ctx, obj).action == "recorded"
    plate_solve(ctx, obj, SOLVER)  # a frame without stars: not solved, but previewed
    assert ctx.documents.get("images", IMAGE_ID)["preview_path"] == PREVIEW
    with Image.open(io.BytesIO(ctx.store.read(S.preview_bucket, PREVIEW))) as image:
        grey = np.asarray(image.convert("L")).astype(float)
    rows, cols = grey.shape
    assert grey[: rows // 10, : cols // 10].mean() > 200  # top-left: the bright block
    assert grey[-rows // 10 :, : cols // 10].mean() < 60  # bottom-left: sky


def test_what_plate_solve_declares_lets_it_store_the_preview(make_ctx):
    declared = load().services["plate-solve"]
    assert S.preview_bucket in declared.writes
    access = Access(
        "plate-solve",
        frozenset(declared.reads),
        frozenset(declared.writes),
        frozenset(declared.publishes),
    )
    ctx = make_ctx(service="plate-solve")
    obj = recorded(ctx)  # record-image's part, with the whole store
    guarded = make_ctx(documents=ctx.documents, store=GuardedStore(ctx.store, access))
    result = plate_solve(guarded, obj, SOLVER)
    assert result.action == "solved" and result.detail["preview"] == "made"
    assert ctx.store.stat(S.preview_bucket, PREVIEW) is not None
