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
   ``CombineFn`` whose merge is integer addition).

:func:`analysis_pipeline` builds these stages on a pipeline and returns the two outputs; the
caller writes them (:mod:`panoptes_network.cli.analysis` to Firestore, the tests compare
them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.coverage import Coverage
from panoptes_network.analysis.run_sums import RunContribution, RunInput, run_contribution
from panoptes_network.analysis.star_documents import star_document, sums_document
from panoptes_network.analysis.star_sums import StarSums

__all__ = [
    "AnalysisOutputs",
    "CoverageFn",
    "MergeStarSums",
    "analysis_pipeline",
    "read_uri",
]


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
    """

    stars: Any
    coverage: Any


def _contribute(run: RunInput, read: Callable[[str], bytes]) -> RunContribution:
    return run_contribution(run, read(run.data_uri))


def analysis_pipeline(
    pipeline: beam.Pipeline,
    runs: Iterable[RunInput],
    analysis: Analysis,
    *,
    catalog: Mapping[int, Mapping[str, Any]] | None = None,
    read: Callable[[str], bytes] = read_uri,
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

    Returns
    -------
    AnalysisOutputs
        The star documents and the coverage.
    """
    rows = dict(catalog or {})
    contributions = (
        pipeline
        | "Runs" >> beam.Create(sorted(set(runs), key=lambda r: r.run))
        | "Contribute" >> beam.Map(_contribute, read=read)
    )
    stars = (
        contributions
        | "KeyByStar" >> beam.FlatMap(lambda c: [(s.picid, s) for s in c.stars])
        | "MergeStars" >> beam.CombinePerKey(MergeStarSums())
        | "Documents"
        >> beam.MapTuple(
            lambda picid, sums: (
                picid,
                star_document(sums, analysis, rows.get(picid)),
                sums_document(sums, analysis),
            )
        )
    )
    coverage = (
        contributions
        | "RunCoverage" >> beam.Map(lambda c: c.coverage)
        | "Coverage" >> beam.CombineGlobally(CoverageFn())
    )
    return AnalysisOutputs(stars, coverage)
