"""The Beam analysis pipeline on the DirectRunner: the same documents as the domain code.

Runs in .venv-beam (bin/test runs tests/beam there). Simulated runs of three units, written
as build-lightcurve data files, go through the pipeline; its star documents must equal,
bit for bit, those built by merging the runs' sums directly in another order, and its
coverage the sum of the runs'.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.coverage import Coverage
from panoptes_network.analysis.incremental import coverage_id
from panoptes_network.analysis.run_sums import RunInput, run_contribution
from panoptes_network.analysis.star_documents import star_document, sums_document
from panoptes_network.analysis.star_search import search_merged_star
from panoptes_network.analysis.star_store import merge_into_stars
from panoptes_network.analysis.star_sums import StarSums
from panoptes_network.pipeline.schema import ANALYSIS_COVERAGE, DETECTIONS, STAR_SUMS, STARS
from tests.unit.analysis.data_files import CADENCE_S, data_file
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


def _findings(runs, when):
    """Each star's findings by the domain code: its runs' points searched together."""
    parts: dict[int, list] = {}
    for run in runs[::-1]:
        contribution = run_contribution(run, open(run.data_uri, "rb").read())
        for picid, points in contribution.points.items():
            parts.setdefault(picid, []).append(points)
    return {
        p: search_merged_star(found, ANALYSIS, when, CATALOG.get(p)) for p, found in parts.items()
    }


def test_written_through_a_store_the_backfill_equals_the_incremental_path_and_runs_twice(runs):
    when = datetime(2026, 11, 30, tzinfo=timezone.utc)
    incremental = MemoryDocuments()
    for run in runs:
        contribution = run_contribution(run, open(run.data_uri, "rb").read())
        merge_into_stars(incremental, contribution.stars, ANALYSIS, catalog=CATALOG)
    findings = _findings(runs, when)
    detections = dict(d for f in findings.values() for d in f.detections)
    searched = {
        "detections": len(detections),
        "stars_stitched": sum(1 for f in findings.values() if f.stitching),
        "stars_searched": len(findings),
    }
    assert searched["stars_stitched"] == 8  # every star was seen by two units or more
    for attempt in range(2):
        with BeamPipeline() as pipeline:
            outputs = analysis_pipeline(pipeline, runs, ANALYSIS, catalog=CATALOG, when=when)
            counts = write_outputs(outputs, _store, ANALYSIS, when=when, catalog=CATALOG)
            zero = dict.fromkeys(("merged", "already", "replaced", "rerun", "older", "stale"), 0)
            merged = {**zero, "merged": 8} if attempt == 0 else {**zero, "already": 8}
            expected = {**merged, **searched}
            assert_that(counts, lambda got, e=expected: _equal(got, [e]), label="counts")
        for picid in range(1, 9):
            assert STORE.get(STAR_SUMS, str(picid)) == incremental.get(STAR_SUMS, str(picid))
            stored = dict(STORE.get(STARS, str(picid)))
            assert stored.pop("stitching") == findings[picid].stitching
            assert stored == incremental.get(STARS, str(picid)), (attempt, picid)
        for doc_id, doc in detections.items():
            assert STORE.get(DETECTIONS, doc_id) == doc
    coverage = STORE.get(ANALYSIS_COVERAGE, coverage_id(ANALYSIS, runs[0].sequence_id, "run1"))
    assert coverage["points"] > 0 and coverage["analysed_time"] == when


def _equal(actual, expected):
    assert list(actual) == expected


TRANSIT_STAR, FLARE_STAR = 3, 4


def _transit(mid: float, duration: float, depth: float):
    return lambda t: np.where(np.abs(t - mid) < duration / 2, 1.0 - depth, 1.0)


def _flare(peak: float, amplitude: float, decay: float):
    return lambda t: 1.0 + amplitude * np.where(t >= peak, np.exp(-(t - peak) / decay), 0.0)


@pytest.fixture(scope="module")
def runs_with_events(tmp_path_factory):
    """Four runs of two units: a 2 % transit of star 3 in run 2, a flare of star 4 in run 3."""
    folder = tmp_path_factory.mktemp("events")
    out, truth = [], {}
    for k in range(4):
        sequence_id = f"PAN00{k % 2 + 1}_14d3bd_2016091{k}T080000"
        start = START + 86400 * (10 + k)
        events = {}
        if k == 1:
            truth["transit"] = start + CADENCE_S * 60
            events[TRANSIT_STAR] = _transit(truth["transit"], 3600.0, 0.02)
        if k == 2:
            truth["flare"] = start + CADENCE_S * 40
            events[FLARE_STAR] = _flare(truth["flare"], 0.05, 600.0)
        path = folder / f"{sequence_id}.parquet"
        data = data_file(sequence_id, "run1", start, range(1, 9), seed=10 + k, events=events)
        path.write_bytes(data)
        out.append(RunInput(sequence_id, "run1", str(path), field_ra=300.0, field_dec=40.0))
    return out, truth


def test_the_pipeline_finds_the_events_as_the_domain_code_does(runs_with_events):
    runs, truth = runs_with_events
    when = datetime(2026, 11, 30, tzinfo=timezone.utc)
    expected = _findings(runs, when)

    def same(actual):
        got = {f.picid: f for f in actual}
        assert sorted(got) == sorted(expected)
        for picid, findings in got.items():
            assert findings.detections == expected[picid].detections, picid
            assert findings.stitching == expected[picid].stitching, picid

    with BeamPipeline() as pipeline:
        outputs = analysis_pipeline(pipeline, runs, ANALYSIS, catalog=CATALOG, when=when)
        assert_that(outputs.findings, same)
    transit = [d for _, d in expected[TRANSIT_STAR].detections if d["search"] == "single-event"]
    flare = [d for _, d in expected[FLARE_STAR].detections if d["search"] == "flare"]
    assert len(transit) == 1 and abs(transit[0]["time_s"] - truth["transit"]) < CADENCE_S
    assert transit[0]["depth"] == pytest.approx(0.02, abs=3 * transit[0]["depth_err"])
    assert len(flare) == 1 and abs(flare[0]["time_s"] - truth["flare"]) <= CADENCE_S
    (rows,) = transit[0]["rows"]
    assert rows["sequence_id"] == runs[1].sequence_id and rows["row_count"] >= 25
    assert len(transit[0]["frames"]) == rows["row_count"]
    stitching = expected[TRANSIT_STAR].stitching
    assert stitching["degenerate"] and "never overlaps" in stitching["reason"]
