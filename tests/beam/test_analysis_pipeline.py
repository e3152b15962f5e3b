"""The Beam analysis pipeline on the DirectRunner: the same documents as the domain code.

Runs in .venv-beam (bin/test runs tests/beam there). Simulated runs of three units, written
as build-lightcurve data files, go through the pipeline; its star documents must equal,
bit for bit, those built by merging the runs' sums directly in another order, and its
coverage the sum of the runs'.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.coverage import Coverage
from panoptes_network.analysis.incremental import coverage_id
from panoptes_network.analysis.run_sums import RunInput, run_contribution
from panoptes_network.analysis.star_documents import star_document, sums_document
from panoptes_network.analysis.star_store import merge_into_stars
from panoptes_network.analysis.star_sums import StarSums
from panoptes_network.pipeline.schema import ANALYSIS_COVERAGE, STAR_SUMS, STARS
from tests.unit.analysis.data_files import data_file
from tests.unit.fakes import MemoryDocuments

beam = pytest.importorskip(
    "apache_beam",
    reason="Apache Beam is in .venv-beam, not .venv: run bin/test tests/beam (bin/setup makes it)",
)
from apache_beam.testing.test_pipeline import TestPipeline as BeamPipeline  # noqa: E402
from apache_beam.testing.util import assert_that  # noqa: E402

from panoptes_network.analysis.beam_pipeline import (  # noqa: E402
    analysis_pipeline,
    write_outputs,
)

START = 1_473_408_000.0
ANALYSIS = Analysis()
CATALOG = {k: {"ra": 300.0 + k / 10, "dec": 40.0, "vmag": 8.0 + k % 5} for k in range(1, 9)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lightcurves")
    out = []
    for k in range(6):
        unit = f"PAN00{k % 3 + 1}"
        sequence_id = f"{unit}_14d3bd_2016090{k}T080000"
        path = folder / f"{sequence_id}.parquet"
        stars = list(range(1, 9)) if k % 2 else list(range(1, 6))
        path.write_bytes(data_file(sequence_id, "run1", START + 86400 * k, stars, seed=k))
        out.append(RunInput(sequence_id, "run1", str(path), field_ra=300.0, field_dec=40.0))
    return out


def _expected(runs):
    contributions = [run_contribution(r, open(r.data_uri, "rb").read()) for r in runs[::-1]]
    by_star: dict[int, list[StarSums]] = {}
    coverage = Coverage()
    for c in contributions:
        coverage.merge(c.coverage)
        for s in c.stars:
            by_star.setdefault(s.picid, []).append(s)
    stars = {
        picid: StarSums.merged(picid, parts[::-1] if picid % 2 else parts)
        for picid, parts in by_star.items()
    }
    return stars, coverage


def test_the_pipeline_gives_the_documents_of_the_domain_code_bit_for_bit(runs):
    stars, coverage = _expected(runs)
    expected = sorted(
        (p, star_document(s, ANALYSIS, CATALOG[p]), sums_document(s, ANALYSIS))
        for p, s in stars.items()
    )

    def same_stars(actual):
        assert sorted(actual) == expected

    def same_coverage(actual):
        (only,) = actual
        assert only.to_record() == coverage.to_record()

    with BeamPipeline() as pipeline:
        outputs = analysis_pipeline(pipeline, [*runs, runs[0]], ANALYSIS, catalog=CATALOG)
        assert_that(outputs.stars, same_stars, label="stars")
        assert_that(outputs.coverage, same_coverage, label="coverage")
    star_1 = dict((p, d) for p, d, _ in expected)[1]
    assert star_1["n_observations"] == 6 and star_1["n_units"] == 3
    assert star_1["analysis_hash"] == ANALYSIS.config_hash() and star_1["sky_cells"]
    assert dict((p, d) for p, d, _ in expected)[7]["n_observations"] == 3


def test_a_run_split_in_two_pipelines_adds_up_to_one(runs, tmp_path):
    halves = []
    for k, part in enumerate((runs[:3], runs[3:])):
        with BeamPipeline() as pipeline:
            outputs = analysis_pipeline(pipeline, part, ANALYSIS)
            _ = (
                outputs.coverage
                | beam.Map(lambda c: json.dumps(c.to_record()))
                | beam.io.WriteToText(str(tmp_path / f"half{k}"), shard_name_template="")
            )
        halves.append(json.loads((tmp_path / f"half{k}").read_text()))
    _, whole = _expected(runs)
    merged = Coverage.from_record(halves[0]).merge(Coverage.from_record(halves[1]))
    assert merged.to_record() == whole.to_record()


STORE = MemoryDocuments()


def _store():
    """The document store of the DirectRunner's workers: this process's, shared."""
    return STORE


def test_written_through_a_store_the_backfill_equals_the_incremental_path_and_runs_twice(runs):
    when = datetime(2026, 11, 30, tzinfo=timezone.utc)
    incremental = MemoryDocuments()
    for run in runs:
        contribution = run_contribution(run, open(run.data_uri, "rb").read())
        merge_into_stars(incremental, contribution.stars, ANALYSIS, catalog=CATALOG)
    for attempt in range(2):
        with BeamPipeline() as pipeline:
            outputs = analysis_pipeline(pipeline, runs, ANALYSIS, catalog=CATALOG)
            counts = write_outputs(outputs, _store, ANALYSIS, when=when, catalog=CATALOG)
            zero = dict.fromkeys(("merged", "already", "replaced", "rerun", "older", "stale"), 0)
            expected = {**zero, "merged": 8} if attempt == 0 else {**zero, "already": 8}
            assert_that(counts, lambda got, e=expected: _equal(got, [e]), label="counts")
        for picid in range(1, 9):
            for collection in (STARS, STAR_SUMS):
                assert STORE.get(collection, str(picid)) == incremental.get(
                    collection, str(picid)
                ), (attempt, collection, picid)
    coverage = STORE.get(ANALYSIS_COVERAGE, coverage_id(ANALYSIS, runs[0].sequence_id, "run1"))
    assert coverage["points"] > 0 and coverage["analysed_time"] == when


def _equal(actual, expected):
    assert list(actual) == expected
