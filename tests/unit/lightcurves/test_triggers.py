"""Which observations the sweep queues, and explicit requests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from panoptes_network.lightcurves.triggers import observations_due, request_lightcurve, sweep
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.settings import Settings

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=timezone.utc)
S = Settings()


def minutes_ago(m: float) -> datetime:
    return NOW - timedelta(minutes=m)


OBSERVATIONS = [
    ("PAN001_14d3bd_20260102T100000", {"last_image_received_time": minutes_ago(45)}),  # due
    ("PAN001_14d3bd_20260102T113500", {"last_image_received_time": minutes_ago(5)}),  # still busy
    (
        "PAN002_0a0b0c_20260102T090000",
        {"last_image_received_time": minutes_ago(90), "last_processed": {"time": minutes_ago(60)}},
    ),  # processed after its last frame
    (
        "PAN003_0a0b0c_20260102T080000",
        {"last_image_received_time": minutes_ago(40), "last_processed": {"time": minutes_ago(70)}},
    ),  # a frame came in after the last run: due again
]


def test_due_observations_are_quiet_and_unprocessed_since_their_last_frame():
    assert observations_due(OBSERVATIONS, NOW, 30) == [
        "PAN001_14d3bd_20260102T100000",
        "PAN003_0a0b0c_20260102T080000",
    ]
    assert observations_due(OBSERVATIONS, NOW, 120) == []


@pytest.fixture
def ctx(make_ctx) -> ChainContext:
    """A context at NOW whose documents hold OBSERVATIONS."""
    ctx = make_ctx(now=lambda: NOW)
    for doc_id, fields in OBSERVATIONS:  # as record-image leaves them
        ctx.documents.merge("observations", doc_id, {**fields, "lightcurve_pending": True})
    return ctx


def test_sweep_publishes_one_request_per_due_observation(ctx):
    answer = sweep(ctx, 30)
    assert answer["queued"] == ["PAN001_14d3bd_20260102T100000", "PAN003_0a0b0c_20260102T080000"]
    assert [m["sequence_id"] for m in ctx.bus.on(S.lightcurve_topic)] == answer["queued"]


def test_explicit_requests_are_checked_before_they_are_queued(ctx):
    answer = request_lightcurve(
        ctx, {"sequence_id": "PAN001_14d3bd_20260102T100000", "options": {"min_frames": 20}}
    )
    assert answer["queued"] == "PAN001_14d3bd_20260102T100000"
    assert ctx.bus.on(S.lightcurve_topic) == [
        {"sequence_id": "PAN001_14d3bd_20260102T100000", "options": {"min_frames": 20}}
    ]
    with pytest.raises(PermanentFailure, match="does not exist"):
        request_lightcurve(ctx, {"sequence_id": "PAN009_14d3bd_20260102T100000"})
    with pytest.raises(PermanentFailure):
        request_lightcurve(ctx, {"sequence_id": "not an id"})
    with pytest.raises(PermanentFailure):
        request_lightcurve(
            ctx, {"sequence_id": "PAN001_14d3bd_20260102T100000", "options": {"min_frames": -1}}
        )
    assert len(ctx.bus.on(S.lightcurve_topic)) == 1


def test_the_sweep_reads_what_is_pending_and_retires_what_is_processed(ctx):
    for k in range(2000):  # an archive of processed observations that are not pending
        ctx.documents.merge(
            "observations",
            f"PAN009_0a0b0c_2025{k:08d}",
            {"last_image_received_time": minutes_ago(10_000), "lightcurve_pending": False},
        )
    ctx.documents.queried = 0
    sweep(ctx, 30)
    assert ctx.documents.queried == 3  # the quiet, pending ones only
    processed = ctx.documents.get("observations", "PAN002_0a0b0c_20260102T090000")
    assert processed["lightcurve_pending"] is False
    ctx.documents.queried = 0
    again = sweep(ctx, 30)
    assert ctx.documents.queried == 2 and len(again["queued"]) == 2


def test_a_new_frame_makes_an_observation_pending_again(ctx):
    from panoptes_network.frames.bucket_path import ImagePath
    from panoptes_network.frames.fits_header import read_header_from_bytes
    from panoptes_network.ingest.counters import record_frame
    from panoptes_network.ingest.records import build_frame_records
    from tests.unit.frame_files import unit_frame

    path = ImagePath.parse("PAN002/0a0b0c/20260102T090000/20260102T110000.fits.fz")
    header = read_header_from_bytes(unit_frame(), hdu=0, source="frame")
    records = build_frame_records(
        path, header, bucket_path=path.object_name, public_url="http://x", received_time=NOW
    )
    ctx.documents.merge("observations", path.sequence_id, {"lightcurve_pending": False})
    record_frame(ctx.documents, records)
    assert ctx.documents.get("observations", path.sequence_id)["lightcurve_pending"] is True
