"""Runs merged into the star documents: exactly, once, and never mixed across configurations."""

from __future__ import annotations

import pytest

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.run_sums import RunInput, run_contribution
from panoptes_network.analysis.star_store import merge_into_stars
from panoptes_network.analysis.star_sums import StarSums
from panoptes_network.pipeline.ports import WriteConflict
from panoptes_network.pipeline.schema import STAR_SUMS, STARS
from tests.unit.analysis.data_files import data_file
from tests.unit.fakes import MemoryDocuments

START = 1_473_408_000.0
ANALYSIS = Analysis()
CATALOG = {p: {"ra": 300.0, "dec": 40.0 + p / 100, "vmag": 9.0} for p in range(1, 5)}


def _runs(n=4):
    out = []
    for k in range(n):
        seq = f"PAN00{k % 2 + 1}_14d3bd_2016090{k}T080000"
        run = RunInput(seq, "r1", "mem://", 300.0, 40.0)
        out.append(
            run_contribution(run, data_file(seq, "r1", START + 86400 * k, [1, 2, 3], seed=k))
        )
    return out


def test_runs_arriving_one_by_one_equal_all_at_once_and_redelivery_adds_nothing():
    runs = _runs()
    one_by_one = MemoryDocuments()
    for run in runs[::-1]:
        merge_into_stars(one_by_one, run.stars, ANALYSIS, catalog=CATALOG)
    at_once = MemoryDocuments()
    report = merge_into_stars(
        at_once, [s for r in runs for s in r.stars], ANALYSIS, catalog=CATALOG
    )
    assert report.merged == 3 and sorted(report.picids) == [1, 2, 3]
    for collection in (STAR_SUMS, STARS):
        for picid in ("1", "2", "3"):
            assert one_by_one.get(collection, picid) == at_once.get(collection, picid)
    star = at_once.get(STARS, "1")
    assert star["n_observations"] == 4 and star["units"] == ["PAN001", "PAN002"]
    assert star["catalog"]["vmag"] == 9.0 and star["sky_cells"]
    before = at_once.get(STAR_SUMS, "1")
    again = merge_into_stars(at_once, runs[0].stars, ANALYSIS)
    assert (again.already, again.merged) == (3, 0)
    assert at_once.get(STAR_SUMS, "1") == before
    # The catalog row stays when a later update gives none.
    merge_into_stars(at_once, _runs(5)[4].stars, ANALYSIS)
    assert at_once.get(STARS, "1")["catalog"]["vmag"] == 9.0
    assert at_once.get(STARS, "1")["n_observations"] == 5


def test_sums_of_another_configuration_are_replaced_not_mixed():
    documents = MemoryDocuments()
    runs = _runs(2)
    merge_into_stars(documents, runs[0].stars, ANALYSIS)
    other = Analysis(name="more copies", shifts=499)
    report = merge_into_stars(documents, runs[1].stars, other)
    assert report.replaced == 3
    stored = StarSums.from_record(documents.get(STAR_SUMS, "2"))
    assert len(stored.runs) == 1 and documents.get(STARS, "2")["analysis_hash"] == (
        other.config_hash()
    )


class Racing(MemoryDocuments):
    """A store where another update of star 2 lands between the read and the first commit."""

    def __init__(self, intruder):
        super().__init__()
        self.intruder, self.raced = intruder, False

    def commit(self, writes):
        if not self.raced:
            self.raced = True
            merge_into_stars(self, self.intruder, ANALYSIS)
        super().commit(writes)


def test_a_batch_that_loses_a_race_is_merged_star_by_star_keeping_both_updates():
    runs = _runs(3)
    documents = Racing(runs[2].stars[1:2])  # star 2's third run, merged meanwhile
    merge_into_stars(documents, runs[0].stars, ANALYSIS)
    report = merge_into_stars(documents, runs[1].stars, ANALYSIS)
    assert report.merged == 3
    stored = StarSums.from_record(documents.get(STAR_SUMS, "2"))
    assert len(stored.runs) == 3  # nothing lost
    assert len(StarSums.from_record(documents.get(STAR_SUMS, "1")).runs) == 2


def test_a_conflict_that_never_ends_is_raised_for_redelivery():
    class Always(MemoryDocuments):
        def commit(self, writes):
            raise WriteConflict("busy")

    with pytest.raises(WriteConflict):
        merge_into_stars(Always(), _runs(1)[0].stars, ANALYSIS)
