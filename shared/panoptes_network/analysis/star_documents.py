"""A star's analysis documents: ``stars/{picid}`` (statistics) and ``star_sums/{picid}``.

``stars/{picid}`` holds what people and queries read: the statistics of
:func:`~.star_statistics.star_statistics`, the analysis stamp (``analysis``,
``analysis_hash``), and the fields its indexes need:

- ``points_at_least``: the thresholds of :data:`POINT_THRESHOLDS` the star's point count
  reaches, so "the most variable stars with more than 500 points" is one query
  (``points_at_least array-contains 500``, ordered by ``rms_over_floor`` descending);
- ``sky_cells`` (the HEALPix cells holding the star at the orders of
  :data:`~panoptes_network.frames.sky_index.STAR_INDEX_ORDERS`,
  :func:`~panoptes_network.frames.sky_index.point_cells`) when its position is known, so a
  cone search finds stars as the explorer finds observations, with finer cells.

``star_sums/{picid}`` holds the exact sums the statistics come from
(:meth:`~.star_sums.StarSums.to_record`), which an incremental update merges a new run into.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.star_statistics import star_statistics
from panoptes_network.analysis.star_sums import StarSums
from panoptes_network.frames.sky_index import point_cells
from panoptes_network.pipeline.schema import POINT_THRESHOLDS

__all__ = ["POINT_THRESHOLDS", "star_document", "sums_document"]


def star_document(
    sums: StarSums, analysis: Analysis, catalog: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return the ``stars/{picid}`` document of a star.

    Parameters
    ----------
    sums : StarSums
        The star's merged sums.
    analysis : Analysis
        The configuration (stamped on the document).
    catalog : mapping, optional
        Its catalog row: ``ra``, ``dec`` (deg), ``vmag`` (mag) and any other fields to copy.

    Returns
    -------
    dict
        Statistics, stamp, ``points_at_least`` and, with a position, ``ra``, ``dec`` and
        ``sky_cells``.
    """
    stats = star_statistics(sums)
    doc: dict[str, Any] = {
        "picid": sums.picid,
        **analysis.stamp(),
        **stats,
        "points_at_least": [t for t in POINT_THRESHOLDS if stats["n_points"] >= t],
    }
    if catalog:
        doc["catalog"] = {k: v for k, v in catalog.items() if k not in ("picid",)}
        ra, dec = catalog.get("ra"), catalog.get("dec")
        if isinstance(ra, (int, float)) and isinstance(dec, (int, float)):
            doc.update(ra=float(ra), dec=float(dec), sky_cells=point_cells(ra, dec))
    return doc


def sums_document(sums: StarSums, analysis: Analysis) -> dict[str, Any]:
    """Return the ``star_sums/{picid}`` document: the exact sums and the analysis stamp."""
    return {**analysis.stamp(), **sums.to_record()}
