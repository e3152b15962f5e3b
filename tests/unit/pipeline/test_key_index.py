"""Key indexes: the writes that list ids, the reads by key, and the backfill of older data."""

from __future__ import annotations

import pytest

from panoptes_network.pipeline.key_index import (
    IDS,
    add_ids,
    move_id,
    read_ids,
    read_ids_of,
    read_listed,
)
from panoptes_network.pipeline.key_index_backfill import backfill_key_indexes
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import (
    IMAGES,
    LIGHTCURVES,
    OBSERVATION_FRAMES,
    OBSERVATION_RUNS,
    PROCESSED_OBSERVATIONS,
    SKY_CELLS,
    STAR_LIGHTCURVES,
)
from tests.unit.fakes import CountingDocuments, MemoryDocuments

SEQ = "PAN001_14d3bd_20180216T110623"


def test_adding_an_id_twice_lists_it_once_and_keeps_the_others():
    documents = MemoryDocuments()
    documents.commit([add_ids(OBSERVATION_FRAMES, SEQ, ["b", "a"])])
    documents.commit([add_ids(OBSERVATION_FRAMES, SEQ, ["a", "c"])])
    assert sorted(read_ids(documents, OBSERVATION_FRAMES, SEQ)) == ["a", "b", "c"]
    assert read_ids(documents, OBSERVATION_FRAMES, "PAN001_14d3bd_20990101T000000") is None


def test_moving_an_id_between_owners_leaves_the_old_and_joins_the_new():
    documents = MemoryDocuments()
    documents.commit(move_id(SKY_CELLS, SEQ, [], [100, 101, 102]))
    documents.commit(move_id(SKY_CELLS, "other", [], [101]))
    documents.commit(move_id(SKY_CELLS, SEQ, [100, 101, 102], [101, 103]))
    listed = read_ids_of(documents, SKY_CELLS, ["100", "101", "102", "103", "104"])
    assert listed == {"100": [], "101": [SEQ, "other"], "102": [], "103": [SEQ]}


def test_a_write_may_not_touch_a_field_twice():
    with pytest.raises(ValueError, match="ids"):
        DocWrite(SKY_CELLS, "1", {IDS: []}, array_union={IDS: ["a"]})


def test_listed_documents_are_read_in_one_batch_in_order_and_the_gone_are_skipped():
    documents = CountingDocuments()
    for name in ("x", "y", "z"):
        documents.merge(IMAGES, name, {"n": name})
    documents.reads = 0
    assert read_listed(documents, IMAGES, ["z", "gone", "x", "z"]) == [
        ("z", {"n": "z"}),
        ("x", {"n": "x"}),
    ]
    assert documents.reads == 3  # the three distinct keys, in one batch read
    assert read_listed(documents, IMAGES, []) == []


def _older_archive() -> MemoryDocuments:
    """Documents as they were before the key indexes: nothing listed, one owner half listed."""
    documents = MemoryDocuments()
    for k in range(7):
        documents.merge(IMAGES, f"PAN001_14d3bd_2018021{k}T000000", {"sequence_id": SEQ, "time": k})
    documents.merge(IMAGES, "PAN001_14d3bd_20180300T000000", {"time": 9})  # no sequence id
    documents.commit([add_ids(OBSERVATION_FRAMES, SEQ, ["PAN001_14d3bd_20180210T000000"])])
    for k in range(3):
        run_id = f"{SEQ}_2026112{k}T000000"
        documents.merge(PROCESSED_OBSERVATIONS, run_id, {"sequence_id": SEQ, "run_time": k})
        for picid in (11, 12):
            documents.merge(LIGHTCURVES, f"{picid}_{run_id}", {"picid": picid, "run_time": k})
    return documents


def test_the_backfill_lists_what_each_index_lacks_and_a_second_run_writes_nothing():
    documents = _older_archive()
    report = backfill_key_indexes(documents, page_size=2)
    assert report.read == {IMAGES: 8, PROCESSED_OBSERVATIONS: 3, LIGHTCURVES: 6}
    assert report.listed == {OBSERVATION_FRAMES: 6, OBSERVATION_RUNS: 3, STAR_LIGHTCURVES: 6}
    assert report.without_owner == {IMAGES: 1, PROCESSED_OBSERVATIONS: 0, LIGHTCURVES: 0}
    frames = read_ids(documents, OBSERVATION_FRAMES, SEQ)
    assert sorted(frames) == [f"PAN001_14d3bd_2018021{k}T000000" for k in range(7)]
    assert len(read_ids(documents, OBSERVATION_RUNS, SEQ)) == 3
    assert len(read_ids(documents, STAR_LIGHTCURVES, "12")) == 3
    again = backfill_key_indexes(documents, page_size=3)
    assert sum(again.listed.values()) == 0


def test_a_dry_run_counts_and_writes_nothing():
    documents = _older_archive()
    before = dict(documents.docs)
    report = backfill_key_indexes(documents, dry_run=True)
    assert report.dry_run and report.listed[OBSERVATION_FRAMES] == 6
    assert documents.docs == before


@pytest.mark.parametrize("page_size", [0, 501])
def test_a_page_size_out_of_range_is_refused(page_size):
    with pytest.raises(ValueError, match="page_size"):
        backfill_key_indexes(MemoryDocuments(), page_size=page_size)


@pytest.mark.parametrize("page_size", ["0", "501"])
def test_the_command_refuses_a_page_size_out_of_range_before_reaching_a_cloud(page_size, capsys):
    from panoptes_network.cli import key_index

    assert key_index.main(["--page-size", page_size]) == 2
    assert "--page-size must be 1 to 500" in capsys.readouterr().err
