"""Stars by their analysis: the most variable with enough points, and those near a position.

Two queries on ``stars/{picid}`` (:mod:`panoptes_network.analysis.star_documents`), each
served by Firestore's indexes:

- :func:`variable_stars`: stars with at least ``min_points`` points (one of
  :data:`~panoptes_network.pipeline.schema.POINT_THRESHOLDS`, through
  ``points_at_least``), ordered by a variability figure, highest first: a composite index
  ``(points_at_least CONTAINS, <figure> DESCENDING)`` per figure of :data:`ORDER_FIGURES`;
- :func:`stars_near`: stars within a radius of a position, through the explorer's sky index
  (``sky_cells``, HEALPix cells, the cone's cells at one order), then by true distance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from panoptes_network.explorer._values import check_limit, number
from panoptes_network.explorer.errors import InvalidQuery
from panoptes_network.frames.sky_index import (
    MAX_CONE_RADIUS_DEG,
    STAR_INDEX_ORDERS,
    angular_distance,
    cone_cells,
)
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import POINT_THRESHOLDS, STARS

__all__ = [
    "MAX_STARS",
    "ORDER_FIGURES",
    "analysed_stars",
    "star_row",
    "stars_near",
    "variable_stars",
]

#: Figures the variable stars can be ordered by (highest first).
ORDER_FIGURES: tuple[str, ...] = ("rms_over_floor", "chi2_red", "amplitude")
#: Most stars one query returns.
MAX_STARS = 500


def star_row(picid: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return a star's line in a list: position, V, counts and headline figures."""
    catalog = doc.get("catalog") if isinstance(doc.get("catalog"), Mapping) else {}
    return {
        "picid": int(doc.get("picid") or picid),
        "ra": number(doc.get("ra")),
        "dec": number(doc.get("dec")),
        "vmag": number(catalog.get("vmag")),
        "n_points": doc.get("n_points"),
        "n_observations": doc.get("n_observations"),
        "n_units": doc.get("n_units"),
        "rms_over_floor": number(doc.get("rms_over_floor")),
        "chi2_red": number(doc.get("chi2_red")),
        "amplitude": number(doc.get("amplitude")),
        "quality": number(doc.get("quality")),
        "analysis_hash": doc.get("analysis_hash"),
    }


def variable_stars(
    documents: DocumentStore,
    *,
    min_points: int = 500,
    order: str = "rms_over_floor",
    limit: int = 100,
) -> dict[str, Any]:
    """Return the most variable stars with at least ``min_points`` points.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    min_points : int
        One of :data:`~panoptes_network.pipeline.schema.POINT_THRESHOLDS`.
    order : str
        One of :data:`ORDER_FIGURES`.
    limit : int
        Most stars, 1 to :data:`MAX_STARS`.

    Returns
    -------
    dict
        ``stars`` (:func:`star_row` each, highest first), ``min_points``, ``order``.

    Raises
    ------
    InvalidQuery
        For a threshold, order or limit out of range (the message lists the choices).
    """
    if min_points not in POINT_THRESHOLDS:
        raise InvalidQuery("min_points", f"must be one of {list(POINT_THRESHOLDS)}")
    if order not in ORDER_FIGURES:
        raise InvalidQuery("order", f"must be one of {list(ORDER_FIGURES)}")
    rows = documents.query(
        STARS,
        [("points_at_least", "array-contains-any", [min_points])],
        order_by=order,
        descending=True,
        limit=check_limit(limit, MAX_STARS),
    )
    return {
        "min_points": min_points,
        "order": order,
        "stars": [star_row(doc_id, doc) for doc_id, doc in rows],
    }


def stars_near(
    documents: DocumentStore, ra: float, dec: float, radius: float, *, limit: int = MAX_STARS
) -> dict[str, Any]:
    """Return the analysed stars within ``radius`` degrees of a position, nearest first.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    ra, dec : float
        The centre, in degrees.
    radius : float
        In degrees, at most :data:`~panoptes_network.frames.sky_index.MAX_CONE_RADIUS_DEG`.
    limit : int
        Most stars, 1 to :data:`MAX_STARS`.

    Returns
    -------
    dict
        ``stars`` (:func:`star_row` each with ``distance`` in degrees), the cone, and
        ``truncated`` when the cone's cells held more stars than ``limit``.

    Raises
    ------
    InvalidQuery
        For a position or radius out of range.
    """
    try:
        cells = cone_cells(ra, dec, radius, STAR_INDEX_ORDERS)
    except (TypeError, ValueError) as exc:
        raise InvalidQuery(
            "radius",
            f"needs RA 0 to 360, Dec -90 to 90 and a radius of 0 to {MAX_CONE_RADIUS_DEG} deg: "
            f"{exc}",
        ) from exc
    limit = check_limit(limit, MAX_STARS)
    rows = documents.query(
        STARS, [("sky_cells", "array-contains-any", list(cells.cells))], limit=limit + 1
    )
    found = []
    for doc_id, doc in rows[:limit]:
        row = star_row(doc_id, doc)
        if row["ra"] is None or row["dec"] is None:
            continue
        distance = angular_distance(ra, dec, row["ra"], row["dec"])
        if distance <= radius:
            found.append({**row, "distance": distance})
    found.sort(key=lambda r: (r["distance"], r["picid"]))
    return {
        "ra": ra,
        "dec": dec,
        "radius": radius,
        "stars": found,
        "truncated": len(rows) > limit,
    }


def analysed_stars(
    documents: DocumentStore,
    *,
    min_points: int = 500,
    order: str = "rms_over_floor",
    limit: int = 100,
    ra: float | None = None,
    dec: float | None = None,
    radius: float | None = None,
) -> dict[str, Any]:
    """Return the analysed stars page: near a position when one is given, else the variable.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    min_points, order, limit : optional
        As for :func:`variable_stars` (``limit`` also bounds :func:`stars_near`).
    ra, dec, radius : float, optional
        A position and radius in degrees: :func:`stars_near` instead.

    Returns
    -------
    dict
        ``mode`` (``"variable"`` or ``"near"``), the query's values, ``stars``,
        ``order_figures`` and ``point_thresholds`` (the choices).
    """
    if ra is not None and dec is not None and radius is not None:
        answer = {"mode": "near", **stars_near(documents, ra, dec, radius, limit=limit)}
    else:
        answer = {
            "mode": "variable",
            **variable_stars(documents, min_points=min_points, order=order, limit=limit),
        }
    return {
        **answer,
        "order_figures": list(ORDER_FIGURES),
        "point_thresholds": list(POINT_THRESHOLDS),
    }
