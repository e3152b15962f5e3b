"""The analysis of one new processing run: its stars updated, its coverage stored.

build-lightcurve publishes ``{"sequence_id", "run_id"}`` to topic ``analyse-run`` when a run
is done; the analyse-run service calls :func:`analyse_run`, which

1. reads the run's data file and computes each star's sums and the run's coverage
   (:func:`~.run_sums.run_contribution`: the same functions the Beam backfill runs);
2. merges the sums into ``star_sums/{picid}`` and ``stars/{picid}`` of that run's stars
   only (:func:`~.star_store.merge_into_stars`; the sums add exactly, so the update equals a
   rebuild, and a run already merged is skipped, so a redelivered message adds nothing); a
   run of an observation processed before replaces the earlier run, whose sums are computed
   again from its data file and taken out exactly;
3. stores the run's coverage histogram (``analysis_coverage/<hash>_<sequence>_<run>``,
   written whole: a redelivery writes the same document);
4. searches the run's stars for single events and flares (:func:`~.run_detections.search_points`;
   the periodic search needs several observations and runs in the backfill) and writes their
   ``detections`` (ids fixed by the event, so a redelivery writes the same documents);
5. measures the run's completeness (:func:`~.run_detections.run_injections`): events injected
   into the per-frame photometry of the frames the run kept, light curves built again with the
   run's options, the injected stars searched; ``analysis_completeness`` and the recovered
   events' hidden detections are written. A run whose photometry cannot be read keeps its
   analysis; the completeness document records why it has no counts.

The stars' catalog rows (position, V) come from the run's ``lightcurves`` documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from panoptes_network.analysis.completeness import Completeness
from panoptes_network.analysis.config import DEFAULT_ANALYSIS, Analysis
from panoptes_network.analysis.coverage import Coverage
from panoptes_network.analysis.previous_runs import PreviousRuns
from panoptes_network.analysis.run_detections import (
    completeness_document,
    completeness_id,
    run_injections,
    search_points,
    store_documents,
    store_recovery,
)
from panoptes_network.analysis.run_sums import RunInput, run_contribution
from panoptes_network.analysis.star_store import merge_into_stars
from panoptes_network.lightcurves.build_lightcurve import read_observation_tables
from panoptes_network.lightcurves.ensemble import Lightcurves, differential_lightcurves
from panoptes_network.lightcurves.request import parse_request
from panoptes_network.pipeline.context import ChainContext, StepResult
from panoptes_network.pipeline.errors import NotFound, ObjectNotFoundError, PermanentFailure
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import (
    ANALYSIS_COMPLETENESS,
    ANALYSIS_COVERAGE,
    DETECTIONS,
    LIGHTCURVES,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
    RunStatus,
)

__all__ = [
    "analyse_run",
    "measure_completeness",
    "coverage_document",
    "coverage_id",
    "run_catalog",
    "run_input",
    "store_run_coverage",
]

_CATALOG_FIELDS = ("ra", "dec", "vmag", "bmag", "tmag")


def coverage_id(analysis: Analysis, sequence_id: str, run_id: str) -> str:
    """Return the ``analysis_coverage`` id of a run's histogram."""
    return f"{analysis.config_hash()}_{sequence_id}_{run_id}"


def coverage_document(
    analysis: Analysis, run: RunInput, coverage: Coverage, when: datetime
) -> dict[str, Any]:
    """Return a run's ``analysis_coverage`` document (its histogram, totals and names)."""
    return {
        **analysis.stamp(),
        "sequence_id": run.sequence_id,
        "run_id": run.run_id,
        "unit_id": run.unit_id,
        "points": coverage.points,
        "hours": round(coverage.hours, 6),
        "analysed_time": when,
        **coverage.to_record(),
    }


def store_run_coverage(
    documents: DocumentStore, analysis: Analysis, run: RunInput, coverage: Coverage, when: datetime
) -> None:
    """Write a run's coverage document whole (a second write of a run writes the same)."""
    documents.merge(
        ANALYSIS_COVERAGE,
        coverage_id(analysis, run.sequence_id, run.run_id),
        coverage_document(analysis, run, coverage, when),
    )


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > 200 or "/" in value:
        raise PermanentFailure(f"{name} must be a non-empty name without '/', not {value!r}")
    return value


def run_input(ctx: ChainContext, sequence_id: str, run_id: str) -> RunInput:
    """Return the :class:`~.run_sums.RunInput` of a finished run, from its documents.

    Raises
    ------
    NotFound
        When the run is not recorded, or not of that observation.
    PermanentFailure
        When it is not finished or has no data file.
    """
    assert ctx.documents is not None
    run = ctx.documents.get(PROCESSED_OBSERVATIONS, run_id)
    if run is None or run.get("sequence_id") != sequence_id:
        raise NotFound(f"no processing run {run_id} of observation {sequence_id}")
    if run.get("status") != RunStatus.DONE or not run.get("data_path"):
        raise PermanentFailure(
            f"run {run_id} of {sequence_id} is {run.get('status')!r}, not done with a data file"
        )
    observation = ctx.documents.get(OBSERVATIONS, sequence_id) or {}
    ra, dec = observation.get("ra"), observation.get("dec")
    return RunInput(
        sequence_id,
        run_id,
        f"gs://{ctx.settings.lightcurves_bucket}/{run['data_path']}",
        float(ra) if isinstance(ra, (int, float)) else None,
        float(dec) if isinstance(dec, (int, float)) else None,
    )


def run_catalog(documents: DocumentStore, run_id: str) -> dict[int, dict[str, Any]]:
    """Return the catalog rows of a run's stars (PICID to ``ra``, ``dec``, ``vmag`` ...)."""
    rows = documents.query(LIGHTCURVES, [("processed_observation", "==", run_id)])
    catalog: dict[int, dict[str, Any]] = {}
    for _, doc in rows:
        picid = doc.get("picid")
        if isinstance(picid, int) and not isinstance(picid, bool):
            catalog[picid] = {k: doc[k] for k in _CATALOG_FIELDS if doc.get(k) is not None}
    return catalog


def analyse_run(
    ctx: ChainContext, body: Mapping[str, Any], analysis: Analysis = DEFAULT_ANALYSIS
) -> StepResult:
    """Update the stars of one finished run and store its coverage.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    body : mapping
        The message: ``{"sequence_id": ..., "run_id": ...}``.
    analysis : Analysis
        The configuration.

    Returns
    -------
    StepResult
        ``analysed`` with the stars merged, already merged and replaced, and the points.

    Raises
    ------
    PermanentFailure
        For a malformed message, an unknown or unfinished run, or an unreadable data file
        (the message names it).
    """
    if ctx.documents is None:
        raise ValueError("analyse_run needs a document store")
    if not isinstance(body, Mapping):
        raise PermanentFailure('send a JSON object {"sequence_id": ..., "run_id": ...}')
    sequence_id, run_id = _text(body, "sequence_id"), _text(body, "run_id")
    run = run_input(ctx, sequence_id, run_id)
    bucket, _, name = run.data_uri.removeprefix("gs://").partition("/")
    try:
        data = ctx.store.read(bucket, name)
    except ObjectNotFoundError as exc:
        raise PermanentFailure(f"{run.data_uri}: the run's data file does not exist") from exc
    try:
        contribution = run_contribution(run, data)
    except ValueError as exc:
        raise PermanentFailure(str(exc)) from exc
    store = ctx.store

    def read(uri: str) -> bytes:
        bucket_name, _, object_name = uri.removeprefix("gs://").partition("/")
        return store.read(bucket_name, object_name)

    catalog = run_catalog(ctx.documents, run_id)  # one query of the run's light curves
    report = merge_into_stars(
        ctx.documents,
        contribution.stars,
        analysis,
        catalog=catalog,
        previous=PreviousRuns(ctx.documents, read, ctx.settings.lightcurves_bucket),
    )
    coverage: Coverage = contribution.coverage
    when = ctx.now()
    store_run_coverage(ctx.documents, analysis, run, coverage, when)
    found = search_points(contribution.points.values(), analysis, when, catalog)
    detections = store_documents(ctx.documents, DETECTIONS, found)
    injection = measure_completeness(ctx, run, contribution.points, analysis, catalog)
    return StepResult(
        "analysed",
        {
            "sequence_id": sequence_id,
            "run_id": run_id,
            "stars": len(contribution.stars),
            **report.counts(),
            "points": coverage.points,
            "detections": detections,
            **injection,
        },
    )


def _run_tables(ctx: ChainContext, run: RunInput) -> tuple[list[Any], Any]:
    """Return the per-frame tables of the frames a run kept, and its light-curve options."""
    assert ctx.documents is not None
    doc = ctx.documents.get(PROCESSED_OBSERVATIONS, run.run_id) or {}
    request = parse_request({"sequence_id": run.sequence_id, "options": doc.get("options") or {}})
    tables, _ = read_observation_tables(ctx, request)
    kept = set(doc.get("frames_used") or [])
    return [t for t in tables if str(t.meta.get("image_id")) in kept], request.options


def measure_completeness(
    ctx: ChainContext,
    run: RunInput,
    points: Mapping[int, Any],
    analysis: Analysis,
    catalog: Mapping[int, Mapping[str, Any]],
) -> dict[str, Any]:
    """Inject events into a run's photometry and count those recovered; store the counts.

    Parameters
    ----------
    ctx : ChainContext
        The chain (documents, and the store of the per-frame photometry).
    run : RunInput
        The run.
    points : mapping
        PICID to the star's points in the run's real light curves.
    analysis : Analysis
        The configuration.
    catalog : mapping
        The run's stars' catalog rows.

    Returns
    -------
    dict
        ``injected`` and ``recovered``, and ``injection_error`` when the photometry could not
        be read (recorded on the completeness document too).
    """
    assert ctx.documents is not None
    if analysis.injections_per_run <= 0:
        return {"injected": 0, "recovered": 0}
    try:
        tables, options = _run_tables(ctx, run)

        def build(injected: list[Any]) -> Lightcurves:
            return differential_lightcurves(
                injected,
                colours=options.colours,
                n_comparisons=options.n_comparisons,
                min_coverage=options.min_coverage,
                clip_sigma=options.clip_sigma,
                detrend=options.detrend,
            )

        recovery = run_injections(tables, points, run.segment, analysis, build)
    except (PermanentFailure, ValueError, KeyError) as exc:  # the photometry, not the analysis
        reason = f"no injection-recovery: {exc}"
        empty = completeness_document(analysis, run.segment, Completeness(), ctx.now())
        ctx.documents.merge(
            ANALYSIS_COMPLETENESS,
            completeness_id(analysis, run.sequence_id, run.run_id),
            {**empty, "error": reason},
        )
        return {"injected": 0, "recovered": 0, "injection_error": reason}
    store_recovery(ctx.documents, analysis, run.segment, recovery, ctx.now(), catalog)
    return {
        "injected": recovery.completeness.injected,
        "recovered": recovery.completeness.recovered,
    }
