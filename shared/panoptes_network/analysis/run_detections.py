"""A processing run's detections and its injection-recovery, as documents.

- :func:`search_points` searches stars (:func:`~.detections.search_star`) and returns the
  ``detections`` documents of the significant outcomes.
- :func:`run_injections` measures a run's completeness: it injects events into the run's
  per-frame photometry (:mod:`.injection`), builds light curves from the injected tables with
  the caller's ``build`` (the run's own options), searches the injected stars and returns the
  :class:`~.injection.Recovery`.
- :func:`injected_documents` and :func:`completeness_document` make the documents of an
  injection-recovery: the recovered events' detections, marked ``injected`` (hidden unless
  asked for), and the run's counts (``analysis_completeness``, written whole).
- :func:`lightcurve_points` takes a star's points from built light curves (the same selection
  a data file's rows give, :func:`~.star_points.run_star_points`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from astropy.table import Table

from panoptes_network.analysis.completeness import Completeness
from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.detection_documents import detection_document, detection_id
from panoptes_network.analysis.detections import search_star
from panoptes_network.analysis.injection import (
    Recovery,
    inject_into_tables,
    plan_injections,
    recover,
)
from panoptes_network.analysis.star_points import (
    HEADLINE_COLOUR,
    Segment,
    StarPoints,
    run_star_points,
)
from panoptes_network.lightcurves.ensemble import Lightcurves
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import ANALYSIS_COMPLETENESS, DETECTIONS

__all__ = [
    "completeness_document",
    "completeness_id",
    "injected_documents",
    "lightcurve_points",
    "run_injections",
    "search_points",
    "store_documents",
    "store_recovery",
]

Documents = list[tuple[str, dict[str, Any]]]


def search_points(
    stars: Iterable[StarPoints],
    analysis: Analysis,
    when: datetime,
    catalog: Mapping[int, Mapping[str, Any]] | None = None,
) -> Documents:
    """Search stars; return ``(id, document)`` of each significant detection.

    Parameters
    ----------
    stars : iterable of StarPoints
        Each star's points (one run's, or merged over runs).
    analysis : Analysis
        The configuration.
    when : datetime
        The analysis time.
    catalog : mapping, optional
        PICID to catalog row, copied into the documents.

    Returns
    -------
    list of (str, dict)
        The detections, in PICID order.
    """
    rows = catalog or {}
    found: Documents = []
    for points in sorted(stars, key=lambda p: p.picid):
        for outcome in search_star(points, analysis):
            if outcome.significant:
                found.append(
                    (
                        detection_id(analysis, outcome),
                        detection_document(
                            outcome, points, analysis, when, catalog=rows.get(points.picid)
                        ),
                    )
                )
    return found


def store_documents(documents: DocumentStore, collection: str, docs: Documents) -> int:
    """Write documents whole (a second write of the same writes the same); return how many."""
    if docs:
        documents.merge_many([(collection, doc_id, fields) for doc_id, fields in docs])
    return len(docs)


def lightcurve_points(
    lightcurves: Lightcurves, segment: Segment, picids: Iterable[int] | None = None
) -> dict[int, StarPoints]:
    """Return stars' points from built light curves (headline colour), by PICID.

    Parameters
    ----------
    lightcurves : Lightcurves
        The run's (or an injected copy's) light curves.
    segment : Segment
        The run.
    picids : iterable of int, optional
        The stars wanted (all when omitted).

    Returns
    -------
    dict
        PICID to points; rows numbered as in the run's data file (star ``j`` of the stack has
        rows ``j * n_frames`` onwards).
    """
    stack = lightcurves.stack
    colour = lightcurves.colours.get(HEADLINE_COLOUR)
    if colour is None:
        return {}
    n_frames = stack.shape[0]
    wanted = None if picids is None else {int(p) for p in picids}
    out: dict[int, StarPoints] = {}
    for j, picid in enumerate(np.asarray(stack.picid, dtype=np.int64).tolist()):
        if wanted is not None and picid not in wanted:
            continue
        columns = {
            f"flux_{HEADLINE_COLOUR}": colour.flux[:, j],
            f"flux_err_{HEADLINE_COLOUR}": colour.flux_err[:, j],
            f"outlier_{HEADLINE_COLOUR}": colour.outlier[:, j],
            "image_id": stack.image_ids,
        }
        points = run_star_points(picid, segment, stack.times, columns, j * n_frames)
        if points.size:
            out[picid] = points
    return out


def run_injections(
    tables: Sequence[Table],
    run_points: Mapping[int, StarPoints],
    segment: Segment,
    analysis: Analysis,
    build: Callable[[list[Table]], Lightcurves],
) -> Recovery:
    """Inject events into a run's photometry, build and search its light curves again.

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        The run's per-frame photometry (the frames it kept).
    run_points : mapping
        PICID to the star's points in the run's real light curves (their errors size the
        events).
    segment : Segment
        The run.
    analysis : Analysis
        ``injections_per_run`` and the rest.
    build : callable
        Builds light curves from tables as the run did.

    Returns
    -------
    Recovery
        The completeness counts and the recovered events.
    """
    rng = np.random.default_rng(
        [zlib.crc32(f"{segment.sequence_id}/{segment.run_id}".encode()), analysis.version]
    )
    injections = plan_injections(run_points, analysis, rng)
    if not injections:
        return Recovery(Completeness(), [])
    lightcurves = build(inject_into_tables(tables, injections))
    injected = lightcurve_points(lightcurves, segment, [i.picid for i in injections])
    return recover(injections, injected, analysis)


def injected_documents(
    recovery: Recovery,
    analysis: Analysis,
    when: datetime,
    catalog: Mapping[int, Mapping[str, Any]] | None = None,
) -> Documents:
    """Return the recovered injected events as hidden detections (``injected: true``)."""
    rows = catalog or {}
    return [
        (
            detection_id(analysis, outcome, injected=True),
            detection_document(
                outcome,
                points,
                analysis,
                when,
                catalog=rows.get(outcome.picid),
                injection=injection.truth(),
            ),
        )
        for injection, outcome, points in recovery.found
    ]


def completeness_id(analysis: Analysis, sequence_id: str, run_id: str) -> str:
    """Return the ``analysis_completeness`` id of a run's counts."""
    return f"{analysis.config_hash()}_{sequence_id}_{run_id}"


def completeness_document(
    analysis: Analysis, segment: Segment, completeness: Completeness, when: datetime
) -> dict[str, Any]:
    """Return a run's ``analysis_completeness`` document."""
    return {
        **analysis.stamp(),
        "sequence_id": segment.sequence_id,
        "run_id": segment.run_id,
        "unit_id": segment.unit_id,
        "injected": completeness.injected,
        "recovered": completeness.recovered,
        "analysed_time": when,
        **completeness.to_record(),
    }


def store_recovery(
    documents: DocumentStore,
    analysis: Analysis,
    segment: Segment,
    recovery: Recovery,
    when: datetime,
    catalog: Mapping[int, Mapping[str, Any]] | None = None,
) -> int:
    """Write a run's completeness and its recovered injected detections; return how many."""
    documents.merge(
        ANALYSIS_COMPLETENESS,
        completeness_id(analysis, segment.sequence_id, segment.run_id),
        completeness_document(analysis, segment, recovery.completeness, when),
    )
    return store_documents(
        documents, DETECTIONS, injected_documents(recovery, analysis, when, catalog)
    )
