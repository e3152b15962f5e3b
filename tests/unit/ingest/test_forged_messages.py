"""Forged messages: no step deletes or rewrites anything it is not declared to read.

A message is a request to act on an object. Each step reads only the buckets of
``STEP_INPUTS`` (declared again in ``infra/resources.yaml``); a message naming the archive
bucket, or any other, is refused and acknowledged. The two steps that do read the archive
(compress-fits, make-rgb-fits) take the upload's identity from the archived name, and do
nothing for an upload whose ledger record is final.
"""

from __future__ import annotations

import copy

import pytest

from panoptes_network.astrometry.plate_solve import plate_solve
from panoptes_network.ingest.compress import compress_fits
from panoptes_network.ingest.record import record_image
from panoptes_network.ingest.route_upload import handle_raw_upload
from panoptes_network.photometry.measure_sources import measure_sources
from panoptes_network.pipeline.context import StoredObject, UploadRef
from panoptes_network.pipeline.settings import STEP_INPUTS, Settings
from panoptes_network.raw.make_rgb_fits import make_rgb_fits
from tests.unit.dng_files import dng_bytes
from tests.unit.frame_files import unit_frame
from tests.unit.ingest.test_ingest import SEQ, run_chain

S = Settings()

STEPS = {
    "raw-file-uploaded": lambda ctx, obj: handle_raw_upload(ctx, obj),
    "compress-fits": lambda ctx, obj: compress_fits(ctx, obj, f"{SEQ}/20180216T112430.fits"),
    "record-image": lambda ctx, obj: record_image(ctx, obj, UploadRef("forged", 10**18)),
    "make-rgb-fits": lambda ctx, obj: make_rgb_fits(ctx, obj, f"{SEQ}/20180216T112430.dng"),
    "plate-solve": lambda ctx, obj: plate_solve(ctx, obj),
    "measure-sources": lambda ctx, obj: measure_sources(ctx, obj, catalog=None),  # type: ignore[arg-type]
}


@pytest.fixture
def processed(ctx):
    """A frame and a raw file taken through the chain, every ledger record final."""
    run_chain(ctx, f"{SEQ}/20180216T112430.fits", unit_frame())
    raw = ctx.store.put(S.incoming_bucket, f"{SEQ}/20180216T112430.dng", dng_bytes(96, 128))
    handle_raw_upload(ctx, StoredObject(S.incoming_bucket, raw.name, raw.generation))
    (message,) = ctx.bus.on(S.make_rgb_topic)
    make_rgb_fits(ctx, StoredObject.from_message(message), message["object_name"])
    records = [doc for (c, _), doc in ctx.documents.docs.items() if c == "uploads"]
    assert len(records) == 2 and all(r["final"] for r in records)
    ctx.bus.messages.clear()
    return ctx


def test_every_step_that_takes_object_messages_is_covered():
    assert set(STEPS) == set(STEP_INPUTS)


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_forged_message_naming_any_archived_object_changes_nothing(processed, step):
    ctx = processed
    objects, docs = copy.deepcopy(ctx.store.objects), copy.deepcopy(ctx.documents.docs)
    for name in ctx.store.names(S.archive_bucket):
        info = ctx.store.stat(S.archive_bucket, name)
        result = STEPS[step](ctx, StoredObject(S.archive_bucket, name, info.generation))
        if S.archive_bucket not in ctx.settings.input_buckets(step):
            assert result.action == "refused", result
            assert "left untouched" in result.detail["why"]
        else:
            assert result.action in ("skipped", "quarantined"), result
    kept = {k: v for k, v in ctx.store.objects.items() if k[0] != S.quarantine_bucket}
    before = {k: v for k, v in objects.items() if k[0] != S.quarantine_bucket}
    assert kept == before  # nothing deleted, nothing rewritten (same bytes and generation)
    assert ctx.documents.docs == docs
    assert ctx.store.deleted == [
        (S.incoming_bucket, f"{SEQ}/20180216T112430.fits"),
        (S.incoming_bucket, f"{SEQ}/20180216T112430.dng"),
    ]
    assert ctx.bus.messages == []


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_message_naming_a_bucket_outside_the_declared_inputs_is_refused(processed, step):
    ctx = processed
    outside = sorted(
        {S.images_bucket, S.solved_bucket, S.incoming_bucket, S.quarantine_bucket}
        - ctx.settings.input_buckets(step)
    )
    for bucket in outside:
        result = STEPS[step](ctx, StoredObject(bucket, f"{SEQ}/20180216T112430.fits.fz", 1))
        assert result.action == "refused", (bucket, result)
