"""The Analysis page's read model: every run's coverage and completeness of one analysis, added.

The expected sums are made here from the runs' bins (:mod:`tests.unit.explorer.analysis_records`),
independently of the code's merge; the plots are checked as PNGs of the right size.
"""

from __future__ import annotations

import io
from collections import Counter

import pytest
from PIL import Image

from panoptes_network.explorer.analysis_plots import (
    candidate_png,
    completeness_png,
    coverage_png,
    depth_duration_png,
    wilson_interval,
)
from panoptes_network.explorer.analysis_summary import (
    MAX_RUNS,
    analysis_summary,
    bin_label,
    merge_completeness,
    merge_coverage,
)
from panoptes_network.explorer.candidate import candidate
from panoptes_network.pipeline.schema import ANALYSIS_COMPLETENESS, ANALYSIS_COVERAGE
from tests.unit.explorer.analysis_records import (
    ANALYSIS_HASH,
    COMPLETENESS_EDGES,
    COVERAGE_EDGES,
    OLD_HASH,
    TRANSIT_ID,
    build_analysis_runs,
    build_detections,
    completeness_bins,
    coverage_bins,
)
from tests.unit.explorer.network import SETTINGS
from tests.unit.explorer.openapi_check import schema_errors
from tests.unit.explorer.star_records import RUNS, build_star
from tests.unit.fakes import CountingDocuments, MemoryDocuments, MemoryStore

RUN_INDEXES = (0, 1, 2)


@pytest.fixture
def documents():
    documents = CountingDocuments()
    build_analysis_runs(documents, RUN_INDEXES)
    documents.reads = 0
    return documents


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data)).size


def test_the_completeness_of_every_run_added_bin_by_bin(documents):
    summary = analysis_summary(documents, ANALYSIS_HASH)
    assert schema_errors(summary, "AnalysisSummary") == []
    com = summary["completeness"]
    assert com["runs"] == len(RUN_INDEXES) and com["runs_left_out"] == 0
    expected: Counter = Counter()
    for run in RUN_INDEXES:
        for b in completeness_bins(run):
            key = (b["kind"], b["depth"], b["duration"], b["snr"])
            expected[key + ("injected",)] += b["injected"]
            expected[key + ("recovered",)] += b["recovered"]
    for b in com["bins"]:
        key = (b["kind"], b["depth"], b["duration"], b["snr"])
        assert b["injected"] == expected[key + ("injected",)], key
        assert b["recovered"] == expected[key + ("recovered",)], key
        assert b["completeness"] == pytest.approx(b["recovered"] / b["injected"])
    assert len(com["bins"]) == len({k[:4] for k in expected})
    assert com["injected"] == sum(v for k, v in expected.items() if k[4] == "injected")
    assert com["edges"] == COMPLETENESS_EDGES
    # by SNR: each kind's counts over depth and duration; rising with SNR as injected
    transit_snr = [r for r in com["by_snr"] if r["kind"] == "transit" and r["snr"] >= 0]
    assert [r["label"] for r in transit_snr] == [
        "0–5", "5–7.5", "7.5–10", "10–15", "15–20", "20–30", "≥ 30"
    ]  # fmt: skip
    for r in transit_snr:
        assert r["injected"] == sum(
            v
            for k, v in expected.items()
            if k[0] == "transit" and k[3] == r["snr"] and k[4] == "injected"
        )
    values = [r["completeness"] for r in transit_snr]
    assert values == sorted(values) and values[0] == 0.0 and values[-1] == 1.0
    unknown = [r for r in com["by_snr"] if r["snr"] == -1]
    assert unknown == [
        {"kind": "transit", "snr": -1, "label": "unknown", "low": None, "high": None,
         "injected": 6, "recovered": 3, "completeness": 0.5}
    ]  # fmt: skip
    # depth x duration: transits only, over SNR
    cell = next(r for r in com["depth_duration"] if (r["depth"], r["duration"]) == (2, 1))
    assert cell["depth_label"] == "0.5–1 %" and cell["duration_label"] == "30–60 min"
    assert cell["injected"] == sum(
        v for k, v in expected.items() if k[:3] == ("transit", 2, 1) and k[4] == "injected"
    )


def test_the_coverage_of_every_run_added_and_its_marginals(documents):
    summary = analysis_summary(documents, ANALYSIS_HASH)
    cov = summary["coverage"]
    bins = [b for run in RUN_INDEXES for b in coverage_bins(run)]
    assert summary["runs"] == cov["runs"] == len(RUN_INDEXES)
    assert summary["points"] == cov["points"] == sum(b["points"] for b in bins)
    assert summary["hours"] == pytest.approx(sum(b["seconds"] for b in bins) / 3600)
    assert cov["edges"] == COVERAGE_EDGES
    for name in ("quality", "airmass", "moon", "unit"):
        sums: Counter = Counter()
        for b in bins:
            sums[b[name]] += b["points"]
        assert {r["bin"]: r["points"] for r in cov["marginals"][name]} == dict(sums), name
        assert sum(r["hours"] for r in cov["marginals"][name]) == pytest.approx(summary["hours"])
    airmass = cov["marginals"]["airmass"]
    assert [r["label"] for r in airmass] == ["1–1.2", "1.2–1.5", "unknown"]  # unknown last
    moon = {r["bin"]: r for r in cov["marginals"]["moon"]}
    assert moon[4]["label"] == "120–180°" and moon[4]["high"] == 180.0
    assert [r["label"] for r in cov["marginals"]["unit"]] == sorted({run[0] for run in RUNS})
    quality = {r["bin"]: r["label"] for r in cov["marginals"]["quality"]}
    assert quality[4] == "3–5 × floor"
    assert summary["empty"] is False and summary["truncated"] is False
    # two queries, one document read per run of each
    assert documents.reads == 2 * len(RUN_INDEXES)


def test_runs_of_another_analysis_are_never_added(documents):
    old = analysis_summary(documents, OLD_HASH)
    assert old["runs"] == 1 and old["completeness"]["runs"] == 1
    assert old["points"] == sum(b["points"] for b in coverage_bins(0))


def test_nothing_analysed_is_an_empty_summary_and_empty_plots():
    summary = analysis_summary(MemoryDocuments(), ANALYSIS_HASH)
    assert schema_errors(summary, "AnalysisSummary") == []
    assert summary["empty"] is True and summary["runs"] == summary["points"] == 0
    assert (
        summary["completeness"]["edges"] is None and summary["coverage"]["marginals"]["unit"] == []
    )
    for draw, part in (
        (completeness_png, "completeness"),
        (depth_duration_png, "completeness"),
        (coverage_png, "coverage"),
    ):
        assert _png_size(draw(summary[part]))[0] > 500


def test_a_run_with_other_edges_or_broken_bins_is_left_out_not_added(documents):
    documents.merge(
        ANALYSIS_COVERAGE,
        f"{ANALYSIS_HASH}_other",
        {
            "analysis_hash": ANALYSIS_HASH,
            "edges": {**COVERAGE_EDGES, "moon": [0.0, 90.0]},
            "bins": coverage_bins(0),
        },
    )
    documents.merge(
        ANALYSIS_COMPLETENESS,
        f"{ANALYSIS_HASH}_broken",
        {"analysis_hash": ANALYSIS_HASH, "edges": "none", "bins": completeness_bins(0)},
    )
    summary = analysis_summary(documents, ANALYSIS_HASH)
    assert summary["coverage"]["runs_left_out"] == summary["completeness"]["runs_left_out"] == 1
    assert summary["runs"] == len(RUN_INDEXES)
    bad = [
        {"quality": 0, "airmass": 0, "moon": 0, "unit": "PAN001", "points": -5, "seconds": 1},
        {"quality": 0.5, "airmass": 0, "moon": 0, "unit": "PAN001", "points": 5, "seconds": 1},
        {"quality": 0, "airmass": 0, "moon": 0, "unit": None, "points": 5, "seconds": 1},
        "garbage",
    ]
    merged = merge_coverage([("x", {"edges": COVERAGE_EDGES, "bins": bad})])
    assert merged["runs"] == 1 and merged["points"] == 0
    merged = merge_completeness(
        [("x", {"edges": COMPLETENESS_EDGES, "bins": [{"kind": "transit", "depth": 0}]})]
    )
    assert merged["bins"] == [] and merged["runs"] == 1


def test_the_reads_are_bounded(monkeypatch):
    documents = CountingDocuments()
    monkeypatch.setattr("panoptes_network.explorer.analysis_summary.MAX_RUNS", 2)
    build_analysis_runs(documents, RUN_INDEXES)
    documents.reads = 0
    summary = analysis_summary(documents, ANALYSIS_HASH)
    assert summary["truncated"] is True and summary["runs"] == 2
    assert documents.reads == 2 * 3  # limit + 1 of each
    assert MAX_RUNS == 2000


def test_bin_labels():
    edges = [0.0, 0.002, 0.005]
    assert bin_label(edges, 1, scale=100, unit="%") == ("0.2–0.5 %", 0.002, 0.005)
    assert bin_label(edges, 2, scale=100, unit="%") == ("≥ 0.5 %", 0.005, None)
    assert bin_label(edges, -1) == ("unknown", None, None)
    assert bin_label(edges, 3) == ("unknown", None, None)
    assert bin_label(None, 0) == ("unknown", None, None)
    assert bin_label([0.0, 30.0], 1, unit="°", top=180.0) == ("30–180°", 30.0, 180.0)


def test_wilson_intervals_stay_within_0_and_1():
    low, high = wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and 0.8 < low < 1.0
    low, high = wilson_interval(0, 4)
    assert low == pytest.approx(0.0) and 0 < high < 0.5
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.5 - 0.0490, abs=1e-3) and high == pytest.approx(0.549, abs=1e-3)


def test_the_plots_draw_the_summary(documents):
    summary = analysis_summary(documents, ANALYSIS_HASH)
    assert _png_size(completeness_png(summary["completeness"])) == (750, 420)
    assert _png_size(depth_duration_png(summary["completeness"])) == (750, 460)
    assert _png_size(coverage_png(summary["coverage"])) == (1200, 560)


def test_a_candidates_light_curve_plot():
    documents, store = MemoryDocuments(), MemoryStore()
    build_star(documents, store)
    build_detections(documents)
    found = candidate(
        documents,
        TRANSIT_ID,
        read_data=lambda path: store.read(SETTINGS.lightcurves_bucket, path),
    )
    assert _png_size(candidate_png(found)) == (1000, 420)
    assert _png_size(candidate_png({**found, "segments": []})) == (1000, 420)
    periodic = {**found, "search": "periodic", "period_days": 0.002}
    assert _png_size(candidate_png(periodic)) == (1000, 420)


def test_completeness_of_every_small_count_can_be_drawn():
    # all recovered, none recovered, and between: the intervals' rounding never breaks a plot
    rows = [
        {"kind": "transit", "snr": snr, "label": str(snr), "injected": n, "recovered": r}
        for snr, (n, r) in enumerate((n, r) for n in range(1, 12) for r in (0, n // 2, n))
    ]
    for r in rows:
        low, high = wilson_interval(r["recovered"], r["injected"])
        fraction = r["recovered"] / r["injected"]
        assert 0 <= low <= fraction + 1e-12 and fraction - 1e-12 <= high <= 1
    assert _png_size(completeness_png({"by_snr": rows, "runs": 1}))[0] == 750
