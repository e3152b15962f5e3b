"""One star searched over every run: its detections and its units stitched together.

The backfill (:mod:`.beam_pipeline`) keys each run's points by star and hands a star's parts
to :func:`search_merged_star`, which joins them (:func:`~.star_points.merge_points`), runs the
three searches (:func:`~.detections.search_star`, the periodic one across observations) and,
for a star seen by several units, solves the units' magnitude offsets
(:func:`~.stitching.stitch_units`, jointly with the depth of the most significant transit when
there is one). The searches use each run's normalised flux, never these offsets, so no detection
rests on an offset that the data leave degenerate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.detection_documents import detection_document, detection_id
from panoptes_network.analysis.detections import SearchOutcome, search_star
from panoptes_network.analysis.star_points import StarPoints, merge_points
from panoptes_network.analysis.stitching import stitch_units

__all__ = ["StarFindings", "search_merged_star", "stitch_star"]


@dataclass
class StarFindings:
    """What the search of one star found.

    Attributes
    ----------
    picid : int
        The star.
    detections : list of (str, dict)
        ``detections`` documents of the significant outcomes.
    stitching : dict or None
        The star's ``stitching`` field (:meth:`~.stitching.Stitching.to_record`), for a star
        seen by two units or more.
    outcomes : list of SearchOutcome
        Every search's outcome.
    """

    picid: int
    detections: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stitching: dict[str, Any] | None = None
    outcomes: list[SearchOutcome] = field(default_factory=list)


def stitch_star(
    points: StarPoints, event: tuple[float, float] | None = None
) -> dict[str, Any] | None:
    """Return a star's ``stitching`` record, or None when one unit (or no magnitude) saw it."""
    if points.mag is None or points.mag_err is None:
        return None
    units = np.array([points.segments[int(i)].unit_id for i in points.segment])
    if np.unique(units).size < 2:
        return None
    try:
        return stitch_units(points.time, points.mag, points.mag_err, units, event=event).to_record()
    except ValueError:
        return None


def search_merged_star(
    parts: Iterable[StarPoints],
    analysis: Analysis,
    when: datetime,
    catalog: Mapping[str, Any] | None = None,
) -> StarFindings:
    """Search one star over all its runs.

    Parameters
    ----------
    parts : iterable of StarPoints
        The star's points, one part per run, in any order.
    analysis : Analysis
        The configuration.
    when : datetime
        The analysis time.
    catalog : mapping, optional
        The star's catalog row.

    Returns
    -------
    StarFindings
        Detections, stitching and every outcome.
    """
    points = merge_points(parts)
    outcomes = search_star(points, analysis)
    significant = [o for o in outcomes if o.significant]
    detections = [
        (detection_id(analysis, o), detection_document(o, points, analysis, when, catalog=catalog))
        for o in significant
    ]
    transits = [o for o in significant if o.kind == "transit"]
    best = max(transits, key=lambda o: o.significance) if transits else None
    event = (best.time_s, best.duration_s) if best is not None and best.period_s is None else None
    return StarFindings(points.picid, detections, stitch_star(points, event), outcomes)
