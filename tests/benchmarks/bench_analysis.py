"""analysis: the analysis' throughput on the DirectRunner against BLS alone, its memory, and
the incremental update of one run of 5,000 stars.

Simulated runs (build-lightcurve data files, 3 colours, 120 frames of 128 s) of 2,000 stars
observed by 3 units on 8 nights go through the Beam pipeline of
:mod:`panoptes_network.analysis.beam_pipeline` with the DirectRunner on this machine's cores.
Reference in the same run: astropy's ``BoxLeastSquares`` alone on the same stars' merged
light curves (green), periods 0.5 to 5 days, durations 1 to 3 hours, the usual first step of
a transit search. The figure is the ratio of the two throughputs (stars per second).

The pipeline includes the searches: each star's single-event and flare scans and BLS across
its 8 runs, each against 299 false-alarm copies of its data (:mod:`.false_alarm`).

The incremental update (the analyse-run service's work) is one run of 5,000 stars: merged
into stored sums of those stars (8 runs each), in the in-memory document store; its stars
searched; and its injection-recovery (40 events injected into the per-frame photometry of a
simulated 120-frame observation of 5,000 stars, light curves built again, the injected stars
searched). Reference: reading the run's data file alone (pyarrow).

Runs in ``.venv-beam`` (``bin/bench analysis`` uses it); under ``.venv`` it is skipped.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.analysis.run_sums import RunInput, run_contribution
from panoptes_network.analysis.star_store import merge_into_stars
from panoptes_network.analysis.star_sums import StarSums
from tests.unit.analysis.data_files import CADENCE_S, data_file
from tests.unit.fakes import MemoryDocuments

START = 1_473_408_000.0
STARS = 2_000
NIGHTS = 8
INCREMENTAL_STARS = 5_000


def _runs(folder: Path, stars: int, nights: int) -> list[RunInput]:
    runs = []
    for k in range(nights):
        seq = f"PAN00{k % 3 + 1}_14d3bd_201609{k:02d}T080000"
        path = folder / f"{seq}.parquet"
        path.write_bytes(data_file(seq, "r1", START + 86400 * k, range(1, stars + 1), seed=k))
        runs.append(RunInput(seq, "r1", str(path), 300.0, 40.0))
    return runs


def _bls_alone(runs: list[RunInput], stars: int) -> float:
    """Seconds of astropy's BoxLeastSquares over every star's merged green light curve."""
    import pyarrow.parquet as pq
    from astropy.timeseries import BoxLeastSquares

    tables = [pq.read_table(r.data_uri, columns=["picid", "time", "mag_g"]) for r in runs]
    picid = np.concatenate([t.column("picid").to_numpy() for t in tables])
    time_s = np.concatenate([t.column("time").to_numpy() for t in tables])
    mag = np.concatenate([t.column("mag_g").to_numpy() for t in tables])
    order = np.argsort(picid, kind="stable")
    picid, time_s, mag = picid[order], time_s[order], mag[order]
    edges = np.flatnonzero(np.r_[True, picid[1:] != picid[:-1], True])
    periods = np.exp(np.linspace(np.log(0.5), np.log(5.0), 2000))
    durations = np.array([1.0, 2.0, 3.0]) / 24.0
    began = time.perf_counter()
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        days = time_s[a:b] / 86400.0
        BoxLeastSquares(days, mag[a:b], dy=np.full(b - a, 0.004)).power(periods, durations)
    return time.perf_counter() - began


def _pipeline(runs: list[RunInput]) -> float:
    import apache_beam as beam

    from panoptes_network.analysis.beam_pipeline import analysis_pipeline

    began = time.perf_counter()
    with beam.Pipeline() as pipeline:
        outputs = analysis_pipeline(pipeline, runs, DEFAULT_ANALYSIS)
        _ = outputs.stars | beam.combiners.Count.Globally()
        _ = outputs.findings | "CountFindings" >> beam.combiners.Count.Globally()
    return time.perf_counter() - began


def _incremental(folder: Path) -> dict[str, float]:
    """Seconds of one run of 5,000 stars merged, searched and injected; of reading its file."""
    from datetime import datetime, timezone

    from panoptes_network.analysis.run_detections import (
        lightcurve_points,
        run_injections,
        search_points,
    )
    from panoptes_network.lightcurves.ensemble import differential_lightcurves
    from panoptes_network.simulation.synthetic_photometry import synthetic_observation

    runs = _runs(folder / "incremental", INCREMENTAL_STARS, NIGHTS + 1)
    documents = MemoryDocuments()
    stored: list[StarSums] = []
    for run in runs[:-1]:
        stored.extend(run_contribution(run, Path(run.data_uri).read_bytes()).stars)
    merge_into_stars(documents, stored, DEFAULT_ANALYSIS)
    last = runs[-1]
    began = time.perf_counter()
    data = Path(last.data_uri).read_bytes()
    import pyarrow.parquet as pq

    pq.read_table(last.data_uri)
    read_s = time.perf_counter() - began
    began = time.perf_counter()
    contribution = run_contribution(last, data)
    report = merge_into_stars(documents, contribution.stars, DEFAULT_ANALYSIS)
    merge_s = time.perf_counter() - began
    assert report.merged == INCREMENTAL_STARS
    began = time.perf_counter()
    search_points(contribution.points.values(), DEFAULT_ANALYSIS, datetime.now(timezone.utc))
    search_s = time.perf_counter() - began
    observation = synthetic_observation(n_frames=120, n_stars=INCREMENTAL_STARS, seed=1)
    points = lightcurve_points(differential_lightcurves(observation.tables), last.segment)
    began = time.perf_counter()
    recovery = run_injections(
        observation.tables, points, last.segment, DEFAULT_ANALYSIS, differential_lightcurves
    )
    injection_s = time.perf_counter() - began
    assert recovery.completeness.injected == DEFAULT_ANALYSIS.injections_per_run
    return {"merge": merge_s, "search": search_s, "injection": injection_s, "read": read_s}


def run() -> dict[str, Any]:
    """Measure the pipeline, BLS alone, memory and the incremental update.

    Returns
    -------
    dict
        Stars per second of each, their ratio, peak resident memory, and the incremental
        update's seconds against reading the run's file.
    """
    try:
        import apache_beam  # noqa: F401
    except ImportError:
        return {"skipped": "Apache Beam is in .venv-beam: bin/bench analysis runs it there"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "incremental").mkdir()
        runs = _runs(folder, STARS, NIGHTS)
        pipeline_s = _pipeline(runs)
        bls_s = _bls_alone(runs, STARS)
        incremental = _incremental(folder)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    points = STARS * NIGHTS * 120
    return {
        "stars": STARS,
        "runs": NIGHTS,
        "points_per_star_colour": NIGHTS * 120,
        "cadence_s": CADENCE_S,
        "pipeline_s": round(pipeline_s, 3),
        "pipeline_stars_per_second": round(STARS / pipeline_s, 1),
        "pipeline_points_per_second": round(points * 3 / pipeline_s),
        "bls_alone_s": round(bls_s, 3),
        "bls_stars_per_second": round(STARS / bls_s, 1),
        "pipeline_over_bls_throughput": round(bls_s / pipeline_s, 3),
        "peak_resident_bytes": int(peak_kib) * 1024,
        "incremental_stars": INCREMENTAL_STARS,
        "incremental_merge_s": round(incremental["merge"], 3),
        "incremental_search_s": round(incremental["search"], 3),
        "incremental_injection_s": round(incremental["injection"], 3),
        "incremental_update_s": round(sum(v for k, v in incremental.items() if k != "read"), 3),
        "incremental_read_file_s": round(incremental["read"], 3),
        "incremental_over_read": round(
            sum(v for k, v in incremental.items() if k != "read") / incremental["read"], 2
        ),
    }
