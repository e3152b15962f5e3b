"""analyse-run: a finished run's stars updated once, its coverage stored, bad input refused."""

from __future__ import annotations

import pytest

from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.analysis.incremental import analyse_run, coverage_id
from panoptes_network.pipeline.errors import NotFound, PermanentFailure
from panoptes_network.pipeline.schema import (
    ANALYSIS_COMPLETENESS,
    ANALYSIS_COVERAGE,
    LIGHTCURVES,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
    STARS,
)
from panoptes_network.pipeline.settings import Settings
from tests.unit.analysis.data_files import data_file

S = Settings()
START = 1_473_408_000.0


def _finished_run(ctx, k: int, *, status="done", stars=(5, 6, 7)):
    seq = f"PAN00{k}_14d3bd_2016090{k}T080000"
    run_id = f"run{k}"
    path = f"{seq}/{run_id}/lightcurves.parquet"
    ctx.store.put(S.lightcurves_bucket, path, data_file(seq, run_id, START + 86400 * k, stars))
    ctx.documents.merge(
        PROCESSED_OBSERVATIONS,
        run_id,
        {"sequence_id": seq, "status": status, "data_path": path},
    )
    ctx.documents.merge(OBSERVATIONS, seq, {"ra": 300.0, "dec": 40.0})
    for picid in stars:
        ctx.documents.merge(
            LIGHTCURVES,
            f"{run_id}_{picid}",
            {
                "picid": picid,
                "processed_observation": run_id,
                "ra": 300.1,
                "dec": 40.2,
                "vmag": 9.5,
            },
        )
    return {"sequence_id": seq, "run_id": run_id}


def test_each_run_updates_its_stars_once_and_stores_its_coverage(ctx):
    first = _finished_run(ctx, 1)
    result = analyse_run(ctx, first)
    assert result.action == "analysed" and result.detail["merged"] == 3
    again = analyse_run(ctx, first)  # a redelivered message
    assert (again.detail["merged"], again.detail["already"]) == (0, 3)
    analyse_run(ctx, _finished_run(ctx, 2, stars=(6, 7, 8)))
    star = ctx.documents.get(STARS, "6")
    assert star["n_observations"] == 2 and star["units"] == ["PAN001", "PAN002"]
    assert star["catalog"] == {"ra": 300.1, "dec": 40.2, "vmag": 9.5}
    assert ctx.documents.get(STARS, "5")["n_observations"] == 1
    coverage = ctx.documents.get(
        ANALYSIS_COVERAGE, coverage_id(DEFAULT_ANALYSIS, first["sequence_id"], "run1")
    )
    assert coverage["points"] == 3 * 120 and coverage["unit_id"] == "PAN001"
    assert coverage["analysis_hash"] == DEFAULT_ANALYSIS.config_hash()


def test_unknown_unfinished_and_unreadable_runs_are_refused_with_the_reason(ctx):
    with pytest.raises(NotFound, match="no processing run nope"):
        analyse_run(ctx, {"sequence_id": "PAN001_14d3bd_20160901T080000", "run_id": "nope"})
    running = _finished_run(ctx, 3, status="running")
    with pytest.raises(PermanentFailure, match="'running', not done"):
        analyse_run(ctx, running)
    broken = _finished_run(ctx, 4)
    path = f"{broken['sequence_id']}/run4/lightcurves.parquet"
    ctx.store.put(S.lightcurves_bucket, path, b"garbage")
    with pytest.raises(PermanentFailure, match="not a Parquet light-curve data file"):
        analyse_run(ctx, broken)
    ctx.store.delete(
        S.lightcurves_bucket, path, generation=ctx.store.stat(S.lightcurves_bucket, path).generation
    )
    with pytest.raises(PermanentFailure, match="data file does not exist"):
        analyse_run(ctx, broken)
    for body in ({"sequence_id": "a/b", "run_id": "r"}, {"run_id": "r"}, ["x"]):
        with pytest.raises(PermanentFailure):
            analyse_run(ctx, body)


def _rerun(ctx, seq: str, run_id: str, seed: int, stars=(5, 6, 7)):
    path = f"{seq}/{run_id}/lightcurves.parquet"
    ctx.store.put(S.lightcurves_bucket, path, data_file(seq, run_id, START, stars, seed=seed))
    ctx.documents.merge(
        PROCESSED_OBSERVATIONS, run_id, {"sequence_id": seq, "status": "done", "data_path": path}
    )
    return {"sequence_id": seq, "run_id": run_id}


def test_an_observation_processed_again_counts_once_with_its_new_run(make_ctx):
    seq = "PAN001_14d3bd_20160901T080000"
    replaced, fresh = make_ctx(), make_ctx()
    analyse_run(replaced, _finished_run(replaced, 2))  # another observation, kept throughout
    analyse_run(replaced, _rerun(replaced, seq, f"{seq}_20260101T000000", seed=1))
    result = analyse_run(replaced, _rerun(replaced, seq, f"{seq}_20260201T000000", seed=9))
    assert result.detail["rerun"] == 3
    analyse_run(fresh, _finished_run(fresh, 2))
    analyse_run(fresh, _rerun(fresh, seq, f"{seq}_20260201T000000", seed=9))
    for picid in ("5", "6", "7"):
        assert replaced.documents.get("star_sums", picid) == fresh.documents.get("star_sums", picid)
        assert replaced.documents.get(STARS, picid) == fresh.documents.get(STARS, picid)
    assert replaced.documents.get(STARS, "5")["n_observations"] == 2
    # The earlier run, delivered late, changes nothing.
    late = analyse_run(replaced, {"sequence_id": seq, "run_id": f"{seq}_20260101T000000"})
    assert late.detail["older"] == 3 and late.detail["merged"] == 0


def test_a_new_run_whose_earlier_run_is_gone_leaves_the_star_stale(ctx):
    seq = "PAN001_14d3bd_20160901T080000"
    first = _rerun(ctx, seq, f"{seq}_20260101T000000", seed=1)
    analyse_run(ctx, first)
    path = f"{seq}/{first['run_id']}/lightcurves.parquet"
    ctx.store.delete(
        S.lightcurves_bucket, path, generation=ctx.store.stat(S.lightcurves_bucket, path).generation
    )
    before = ctx.documents.get(STARS, "5")
    result = analyse_run(ctx, _rerun(ctx, seq, f"{seq}_20260201T000000", seed=9))
    assert result.detail["stale"] == 3 and ctx.documents.get(STARS, "5") == before


def test_a_run_without_its_photometry_keeps_its_analysis_and_says_why_it_has_no_counts(ctx):
    first = _finished_run(ctx, 1)  # its data file only: no per-frame photometry stored
    result = analyse_run(ctx, first)
    assert result.detail["merged"] == 3 and result.detail["injected"] == 0
    assert "no sources tables" in result.detail["injection_error"]
    counts = ctx.documents.get(
        ANALYSIS_COMPLETENESS, f"{DEFAULT_ANALYSIS.config_hash()}_{first['sequence_id']}_run1"
    )
    assert counts["injected"] == 0 and counts["bins"] == []
    assert counts["error"] == result.detail["injection_error"]
