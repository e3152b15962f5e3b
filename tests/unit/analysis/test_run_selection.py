"""A backfill takes each observation's latest finished run, filtered by id, sky and time."""

from __future__ import annotations

from datetime import datetime, timezone

from panoptes_network.analysis.run_selection import Region, select_runs
from panoptes_network.pipeline.schema import OBSERVATIONS, PROCESSED_OBSERVATIONS
from panoptes_network.pipeline.settings import Settings
from tests.unit.fakes import MemoryDocuments

S = Settings()


def _archive():
    documents = MemoryDocuments()
    fields = {"A": (10.0, 20.0, 1), "B": (10.5, 20.5, 5), "C": (200.0, -30.0, 9), "D": (None,) * 3}
    for name, (ra, dec, day) in fields.items():
        seq = f"PAN001_14d3bd_201609{name}"
        when = datetime(2016, 9, day or 1, tzinfo=timezone.utc)
        documents.merge(OBSERVATIONS, seq, {"ra": ra, "dec": dec, "time": when})
        for k, status in enumerate(("done", "done", "running")):
            documents.merge(
                PROCESSED_OBSERVATIONS,
                f"{seq}_run{k}",
                {
                    "sequence_id": seq,
                    "status": status,
                    "run_time": f"2026-0{k + 1}-01",
                    "data_path": f"{seq}/run{k}/lightcurves.parquet",
                },
            )
    return documents


def test_the_latest_finished_run_of_each_observation_is_taken():
    runs = select_runs(_archive(), S)
    assert [r.run_id for r in runs] == [f"PAN001_14d3bd_201609{n}_run1" for n in "ABCD"]
    assert (
        runs[0].data_uri
        == f"gs://{S.lightcurves_bucket}/PAN001_14d3bd_201609A/run1/lightcurves.parquet"
    )
    assert (runs[0].field_ra, runs[0].field_dec) == (10.0, 20.0) and runs[3].field_ra is None


def test_runs_are_chosen_by_id_by_sky_and_by_time():
    documents = _archive()
    by_id = select_runs(documents, S, observations=["PAN001_14d3bd_201609C"])
    assert [r.sequence_id for r in by_id] == ["PAN001_14d3bd_201609C"]
    near = select_runs(documents, S, region=Region(10.2, 20.2, 1.0))
    assert [r.sequence_id[-1] for r in near] == ["A", "B"]  # D has no centre: left out
    since = datetime(2016, 9, 2, tzinfo=timezone.utc)
    until = datetime(2016, 9, 9, tzinfo=timezone.utc)
    assert [r.sequence_id[-1] for r in select_runs(documents, S, since=since, until=until)] == ["B"]
    assert Region(0.0, 89.0, 2.0).contains(180.0, 89.5)
