"""The batch analysis as an Apache Beam pipeline: DirectRunner here, DataflowRunner on Google Cloud.

Runs in the analysis pipeline's own environment (``.venv-beam``; Apache Beam pins pyarrow
and pillow below the services' pins, ``services/analysis-pipeline/requirements.txt``). The
per-star work is the domain code of this package; Beam spreads it:

1. ``Runs``: the :class:`~.run_sums.RunInput` of every run to analyse;
2. ``Contribute``: read each run's data file (local path or ``gs://``, through Beam's file
   systems) into its per-star sums and its coverage (:func:`~.run_sums.run_contribution`);
3. ``MergeStars``: key the sums by PICID and merge each star's across runs, units and
   cameras (:class:`MergeStarSums`, exact in any order);
4. ``Documents``: each star's ``stars/{picid}`` and ``star_sums/{picid}`` documents
   (:mod:`.star_documents`);
5. ``Coverage``: the runs' coverage histograms added up (:class:`CoverageFn`, a
   ``CombineFn`` whose merge is integer addition);
6. ``Search``: each star's points of every run grouped by PICID and searched together
   (:func:`~.star_search.search_merged_star`: single events, flares, and BLS across
   observations, each against its own false-alarm threshold), and its units stitched.

:func:`analysis_pipeline` builds these stages on a pipeline and returns the outputs; the tests
compare them with the domain code's. :func:`write_outputs` adds the stages that store them
through a document store made on each worker (Firestore for ``bin/analysis``): the merged
sums of each star go through :func:`~.star_store.merge_into_stars` in batches (exact, a run
already stored is skipped, so a backfill after incremental updates or a second backfill adds
nothing twice), each run's coverage is written whole to ``analysis_coverage``, and each star's
detections (ids fixed by the event: written again, the same) and ``stitching``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.coverage import Coverage
from panoptes_network.analysis.incremental import measure_completeness, store_run_coverage
from panoptes_network.analysis.previous_runs import PreviousRuns
from panoptes_network.analysis.run_detections import store_documents
from panoptes_network.analysis.run_sums import RunContribution, RunInput, run_contribution
from panoptes_network.analysis.star_documents import star_document, sums_document
from panoptes_network.analysis.star_search import StarFindings, search_merged_star
from panoptes_network.analysis.star_store import merge_into_stars
from panoptes_network.analysis.star_sums import StarSums
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import DETECTIONS, STARS

__all__ = [
    "METRICS_NAMESPACE",
    "AnalysisOutputs",
    "CoverageFn",
    "MergeStarSums",
    "analysis_pipeline",
    "read_uri",
    "write_outputs",
]


#: Namespace of the pipeline's counters (``stars_merged``, ``stars_already``,
#: ``stars_replaced``, ``runs_stored``), read back by the command that ran it.
METRICS_NAMESPACE = "panoptes-analysis"


def read_uri(uri: str) -> bytes:
    """Read a whole file through Beam's file systems (local paths, ``gs://``)."""
    with FileSystems.open(uri) as handle:
        return handle.read()


class MergeStarSums(beam.CombineFn):
    """Merge one star's per-run sums (exact: the result does not depend on the order)."""

    def create_accumulator(self) -> StarSums | None:
        """Return an empty accumulator (no run merged yet)."""
        return None

    def add_input(self, accumulator: StarSums | None, sums: StarSums) -> StarSums:
        """Merge one run's sums of the star (a copy when it is the first)."""
        if accumulator is None:
            return StarSums.from_record(sums.to_record())
        accumulator.merge(sums)
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[StarSums | None]) -> StarSums | None:
        """Merge partial merges from several workers."""
        total: StarSums | None = None
        for part in accumulators:
            if part is not None:
                total = self.add_input(total, part)
        return total

    def extract_output(self, accumulator: StarSums | None) -> StarSums | None:
        """Return the star's merged sums."""
        return accumulator


class CoverageFn(beam.CombineFn):
    """Add coverage histograms (integers: any split of the data adds up to the same)."""

    def create_accumulator(self) -> Coverage:
        """Return an empty histogram."""
        return Coverage()

    def add_input(self, accumulator: Coverage, coverage: Coverage) -> Coverage:
        """Add one run's histogram."""
        return accumulator.merge(coverage)

    def merge_accumulators(self, accumulators: Iterable[Coverage]) -> Coverage:
        """Add partial histograms from several workers."""
        total = Coverage()
        for part in accumulators:
            total.merge(part)
        return total

    def extract_output(self, accumulator: Coverage) -> Coverage:
        """Return the histogram of everything added."""
        return accumulator


@dataclass
class AnalysisOutputs:
    """The pipeline's outputs.

    Attributes
    ----------
    stars : beam.PCollection
        ``(picid, stars document, star_sums document)`` per star.
    coverage : beam.PCollection
        One :class:`~.coverage.Coverage`: every run's, added up.
    sums : beam.PCollection
        ``(picid, StarSums)`` per star, merged over the runs.
    contributions : beam.PCollection
        ``(RunInput, RunContribution)`` per run.
    findings : beam.PCollection
        One :class:`~.star_search.StarFindings` per star searched.
    """

    stars: Any
    coverage: Any
    sums: Any
    contributions: Any
    findings: Any


def _contribute(run: RunInput, read: Callable[[str], bytes]) -> tuple[RunInput, RunContribution]:
    return run, run_contribution(run, read(run.data_uri))


def analysis_pipeline(
    pipeline: beam.Pipeline,
    runs: Iterable[RunInput],
    analysis: Analysis,
    *,
    catalog: Mapping[int, Mapping[str, Any]] | None = None,
    read: Callable[[str], bytes] = read_uri,
    when: datetime | None = None,
) -> AnalysisOutputs:
    """Add the analysis stages to a pipeline.

    Parameters
    ----------
    pipeline : apache_beam.Pipeline
        The pipeline (any runner).
    runs : iterable of RunInput
        The runs to analyse (each once: a run listed twice is merged once).
    analysis : Analysis
        The configuration, stamped on every document.
    catalog : mapping, optional
        PICID to catalog row (``ra``, ``dec``, ``vmag`` ...) copied into the star documents.
    read : callable, optional
        Reads a data file's bytes from its URI (Beam's file systems by default).
    when : datetime, optional
        The analysis time written on the detections (now by default).

    Returns
    -------
    AnalysisOutputs
        The star documents, the coverage and the searches' findings.
    """
    rows = dict(catalog or {})
    moment = when or datetime.now(timezone.utc)
    contributions = (
        pipeline
        | "Runs" >> beam.Create(sorted(set(runs), key=lambda r: r.run))
        | "Contribute" >> beam.Map(_contribute, read=read)
    )
    sums = (
        contributions
        | "KeyByStar" >> beam.FlatMap(lambda rc: [(s.picid, s) for s in rc[1].stars])
        | "MergeStars" >> beam.CombinePerKey(MergeStarSums())
    )
    stars = sums | "Documents" >> beam.MapTuple(
        lambda picid, sums: (
            picid,
            star_document(sums, analysis, rows.get(picid)),
            sums_document(sums, analysis),
        )
    )
    coverage = (
        contributions
        | "RunCoverage" >> beam.Map(lambda rc: rc[1].coverage)
        | "Coverage" >> beam.CombineGlobally(CoverageFn())
    )
    findings = (
        contributions
        | "KeyPoints" >> beam.FlatMap(lambda rc: list(rc[1].points.items()))
        | "GroupPoints" >> beam.GroupByKey()
        | "Search"
        >> beam.MapTuple(
            lambda picid, parts: search_merged_star(parts, analysis, moment, rows.get(picid))
        )
    )
    return AnalysisOutputs(stars, coverage, sums, contributions, findings)


class _MergeIntoStars(beam.DoFn):
    """Merge batches of stars' sums into the stored documents (one store per worker)."""

    def __init__(
        self,
        documents: Callable[[], DocumentStore],
        analysis: Analysis,
        catalog: Mapping[int, Mapping[str, Any]],
        read: Callable[[str], bytes],
        lightcurves_bucket: str,
    ) -> None:
        self._factory, self._analysis, self._catalog = documents, analysis, catalog
        self._read, self._bucket = read, lightcurves_bucket
        self._documents: DocumentStore | None = None
        self._previous: PreviousRuns | None = None

    def setup(self) -> None:
        """Make this worker's document store (and its cache of earlier runs' sums)."""
        self._documents = self._factory()
        self._previous = PreviousRuns(self._documents, self._read, self._bucket)

    def process(self, batch: list[StarSums]) -> Iterable[dict[str, int]]:
        """Merge one batch; yield its counts."""
        assert self._documents is not None
        catalog = {s.picid: self._catalog[s.picid] for s in batch if s.picid in self._catalog}
        report = merge_into_stars(
            self._documents, batch, self._analysis, catalog=catalog, previous=self._previous
        )
        counts = report.counts()
        for name, value in counts.items():
            Metrics.counter(METRICS_NAMESPACE, f"stars_{name}").inc(value)
        yield counts


class _StoreCoverage(beam.DoFn):
    """Write each run's coverage document (one store per worker)."""

    def __init__(
        self, documents: Callable[[], DocumentStore], analysis: Analysis, when: Any
    ) -> None:
        self._factory, self._analysis, self._when = documents, analysis, when
        self._documents: DocumentStore | None = None

    def setup(self) -> None:
        """Make this worker's document store."""
        self._documents = self._factory()

    def process(self, item: tuple[RunInput, RunContribution]) -> Iterable[str]:
        """Write one run's coverage; yield the run."""
        assert self._documents is not None
        run, contribution = item
        store_run_coverage(self._documents, self._analysis, run, contribution.coverage, self._when)
        Metrics.counter(METRICS_NAMESPACE, "runs_stored").inc()
        yield run.run


class _StoreFindings(beam.DoFn):
    """Write batches of stars' detections and stitching (one store per worker)."""

    def __init__(self, documents: Callable[[], DocumentStore]) -> None:
        self._factory = documents
        self._documents: DocumentStore | None = None

    def setup(self) -> None:
        """Make this worker's document store."""
        self._documents = self._factory()

    def process(self, batch: list[StarFindings]) -> Iterable[dict[str, int]]:
        """Write one batch; yield its counts."""
        assert self._documents is not None
        detections = [d for findings in batch for d in findings.detections]
        stored = store_documents(self._documents, DETECTIONS, detections)
        stitched = [(STARS, str(f.picid), {"stitching": f.stitching}) for f in batch if f.stitching]
        if stitched:
            self._documents.merge_many(stitched)
        Metrics.counter(METRICS_NAMESPACE, "detections").inc(stored)
        Metrics.counter(METRICS_NAMESPACE, "stars_searched").inc(len(batch))
        Metrics.counter(METRICS_NAMESPACE, "stars_stitched").inc(len(stitched))
        yield {"detections": stored, "stars_stitched": len(stitched), "stars_searched": len(batch)}


class _MeasureCompleteness(beam.DoFn):
    """Inject events into each run's photometry; store its completeness (a context per worker)."""

    def __init__(
        self,
        context: Callable[[], ChainContext],
        analysis: Analysis,
        catalog: Mapping[int, Mapping[str, Any]],
    ) -> None:
        self._factory, self._analysis, self._catalog = context, analysis, catalog
        self._context: ChainContext | None = None

    def setup(self) -> None:
        """Make this worker's chain context."""
        self._context = self._factory()

    def process(self, item: tuple[RunInput, RunContribution]) -> Iterable[dict[str, int]]:
        """Measure one run; yield its injected and recovered counts."""
        assert self._context is not None
        run, contribution = item
        catalog = {p: self._catalog[p] for p in contribution.points if p in self._catalog}
        counts = measure_completeness(
            self._context, run, contribution.points, self._analysis, catalog
        )
        Metrics.counter(METRICS_NAMESPACE, "injected").inc(int(counts["injected"]))
        Metrics.counter(METRICS_NAMESPACE, "recovered").inc(int(counts["recovered"]))
        yield {"injected": int(counts["injected"]), "recovered": int(counts["recovered"])}


def _add_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in counts:
        for key, value in part.items():
            total[key] = total.get(key, 0) + value
    return total


def write_outputs(
    outputs: AnalysisOutputs,
    documents: Callable[[], DocumentStore],
    analysis: Analysis,
    *,
    when: Any,
    catalog: Mapping[int, Mapping[str, Any]] | None = None,
    read: Callable[[str], bytes] = read_uri,
    lightcurves_bucket: str = "panoptes-lightcurves",
    sums: bool = True,
    search: bool = True,
    context: Callable[[], ChainContext] | None = None,
) -> Any:
    """Add the stages that store the pipeline's outputs; return the PCollection of counts.

    Parameters
    ----------
    outputs : AnalysisOutputs
        What :func:`analysis_pipeline` returned.
    documents : callable
        Makes a document store on each worker (picklable: a module-level function).
    analysis : Analysis
        The configuration.
    when : datetime
        The time written on the coverage documents.
    catalog : mapping, optional
        PICID to catalog row for the ``stars`` documents.
    read : callable, optional
        Reads a data file's bytes (for an earlier run of an observation to take out).
    lightcurves_bucket : str, optional
        The bucket of the data files.
    sums : bool, optional
        Store the stars' merged sums and the runs' coverage (additive: any batch of runs).
    search : bool, optional
        Store the searches' detections and stitching. A star is searched over the runs of
        this pipeline only, so a backfill in batches of runs searches once, over them all.
    context : callable, optional
        Makes a chain context on each worker (picklable); with it, each run's completeness is
        measured by injection into its per-frame photometry, as analyse-run does, when ``sums``.

    Returns
    -------
    beam.PCollection
        One dict: stars by outcome (:meth:`~.star_store.MergeReport.counts`).
    """
    parts = []
    if sums:
        _ = outputs.contributions | "StoreCoverage" >> beam.ParDo(
            _StoreCoverage(documents, analysis, when)
        )
        parts.append(
            outputs.sums
            | "Sums" >> beam.Values()
            | "Batches" >> beam.BatchElements(min_batch_size=50, max_batch_size=300)
            | "MergeIntoStars"
            >> beam.ParDo(
                _MergeIntoStars(documents, analysis, dict(catalog or {}), read, lightcurves_bucket)
            )
        )
        if context is not None:
            parts.append(
                outputs.contributions
                | "Completeness"
                >> beam.ParDo(_MeasureCompleteness(context, analysis, dict(catalog or {})))
            )
    if search:
        parts.append(
            outputs.findings
            | "FindingBatches" >> beam.BatchElements(min_batch_size=50, max_batch_size=300)
            | "StoreFindings" >> beam.ParDo(_StoreFindings(documents))
        )
    return (
        tuple(parts) | "AllCounts" >> beam.Flatten() | "Counts" >> beam.CombineGlobally(_add_counts)
    )
