"""Exact counters: the plan's preconditions and racing deliveries."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import read_header_from_bytes
from panoptes_network.ingest.counters import plan_frame_writes, record_frame, record_keys
from panoptes_network.ingest.records import build_frame_records
from panoptes_network.pipeline.ports import DocSnapshot
from tests.unit.fakes import MemoryDocuments
from tests.unit.frame_files import unit_frame

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def frame_records(image_start: str, exptime: float = 120.0, seq: str = "20180216T110623"):
    path = ImagePath.parse(f"PAN001/14d3bd/{seq}/{image_start}.fits.fz")
    header = read_header_from_bytes(unit_frame(EXPTIME=exptime))
    return build_frame_records(
        path, header, bucket_path=path.object_name, public_url="u", received_time=NOW
    )


def test_new_frame_plans_creates_under_preconditions():
    records = frame_records("20180216T112430")
    writes = plan_frame_writes(records, {k: DocSnapshot(None) for k in record_keys(records)})
    image, observation, unit, _weekly, frames, *cells = writes
    assert image.must_not_exist and observation.must_not_exist
    assert observation.fields["num_images"] == 1
    assert unit.increments == {"num_images": 1, "num_observations": 1, "total_minutes_exptime": 2.0}
    # the frame is listed under its observation, the new observation under its sky cells
    assert (frames.collection, frames.doc_id) == ("observation_frames", records.sequence_id)
    assert frames.array_union == {"ids": [records.image_id]}
    assert cells and [w.doc_id for w in cells] == [str(c) for c in records.observation["sky_cells"]]
    assert all(
        w.collection == "sky_cells" and w.array_union == {"ids": [records.sequence_id]}
        for w in cells
    )


def test_a_frame_of_a_known_observation_is_listed_but_the_sky_cells_are_not_rewritten():
    records = frame_records("20180216T112430")
    existing = {k: DocSnapshot(None) for k in record_keys(records)}
    existing[("observations", records.sequence_id)] = DocSnapshot({"num_images": 3}, 5)
    writes = plan_frame_writes(records, existing)
    assert [w.collection for w in writes].count("observation_frames") == 1
    assert "sky_cells" not in [w.collection for w in writes]


def test_counted_image_only_refreshes_descriptive_fields():
    records = frame_records("20180216T112430")
    existing = {k: DocSnapshot(None) for k in record_keys(records)}
    existing[("images", records.image_id)] = DocSnapshot({"status": "solved", "ra_image": 1.0}, 7)
    (write,) = plan_frame_writes(records, existing)
    assert write.collection == "images" and not write.increments
    assert "status" not in write.fields and "ra_image" not in write.fields
    assert write.fields["airmass"] == pytest.approx(1.2)


def test_error_placeholder_is_replaced_under_its_version():
    records = frame_records("20180216T112430")
    existing = {k: DocSnapshot(None) for k in record_keys(records)}
    existing[("images", records.image_id)] = DocSnapshot({"status": "error"}, 3)
    image = plan_frame_writes(records, existing)[0]
    assert image.must_exist and image.expected_version == 3
    assert image.fields["status"] == "uploaded" and image.fields["error_reason"] is None


def test_racing_deliveries_count_each_image_once():
    docs = MemoryDocuments()
    frames = [frame_records(f"20180216T1124{i:02d}", exptime=60.0) for i in range(12)]
    deliveries = frames * 4  # every frame delivered four times, all at once
    barrier = threading.Barrier(len(deliveries))

    def deliver(records):
        barrier.wait()
        record_frame(docs, records)

    threads = [threading.Thread(target=deliver, args=(r,)) for r in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    observation = docs.get("observations", "PAN001_14d3bd_20180216T110623")
    unit = docs.get("units", "PAN001")
    assert observation["num_images"] == 12
    assert observation["total_minutes_exptime"] == pytest.approx(12.0)
    assert (unit["num_images"], unit["num_observations"]) == (12, 1)
    assert unit["total_minutes_exptime"] == pytest.approx(12.0)


def test_second_observation_moves_unit_observation_count():
    docs = MemoryDocuments()
    record_frame(docs, frame_records("20180216T112430"))
    record_frame(docs, frame_records("20180217T010000", seq="20180217T005959"))
    assert docs.get("units", "PAN001")["num_observations"] == 2


def test_each_frame_moves_its_units_weekly_statistics_in_the_same_batch():
    records = frame_records("20180216T112430")
    writes = plan_frame_writes(records, {k: DocSnapshot(None) for k in record_keys(records)})
    (weekly,) = [w for w in writes if w.collection == "weekly_stats"]
    # 2018-02-16 is a Friday of ISO week 7; the week starts on Monday 2018-02-12.
    assert (weekly.collection, weekly.doc_id) == ("weekly_stats", "PAN001_2018-W07")
    assert weekly.fields["week_start"] == datetime(2018, 2, 12, tzinfo=timezone.utc)
    assert weekly.increments == {
        "num_images": 1,
        "num_observations": 1,
        "total_minutes_exptime": 2.0,
    }
    existing = {k: DocSnapshot(None) for k in record_keys(records)}
    existing[("observations", records.sequence_id)] = DocSnapshot({"num_images": 1}, 1)
    writes = plan_frame_writes(records, existing)
    (weekly,) = [w for w in writes if w.collection == "weekly_stats"]
    assert weekly.increments["num_observations"] == 0


def test_weekly_statistics_stay_exact_when_frames_are_delivered_many_times():
    docs = MemoryDocuments()
    # A night across a week boundary: Sunday 2018-02-18 23:58 and Monday 00:00 (UTC).
    frames = []
    for start, date_obs in (
        ("20180218T235800", "2018-02-18T23:58:00"),
        ("20180219T000000", "2018-02-19T00:00:00"),
    ):
        path = ImagePath.parse(f"PAN001/14d3bd/20180218T230000/{start}.fits.fz")
        header = read_header_from_bytes(unit_frame(EXPTIME=120.0, **{"DATE-OBS": date_obs}))
        frames.append(
            build_frame_records(
                path, header, bucket_path=path.object_name, public_url="u", received_time=NOW
            )
        )
    for records in frames * 3:
        record_frame(docs, records)
    sunday = docs.docs[("weekly_stats", "PAN001_2018-W07")]
    monday = docs.docs[("weekly_stats", "PAN001_2018-W08")]
    assert (sunday["num_images"], sunday["num_observations"]) == (1, 1)
    assert (monday["num_images"], monday["num_observations"]) == (1, 0)
    assert sunday["total_minutes_exptime"] + monday["total_minutes_exptime"] == 4.0
