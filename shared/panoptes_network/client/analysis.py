"""The analysis as tables: detections, analysed stars, coverage and completeness.

The DataFrames the :class:`~panoptes_network.client.Client` methods make of the explorer's
analysis answers (``/api/v1/analysis/candidates``, ``/api/v1/analysis/stars``,
``/api/v1/analysis``), each with typed columns in a fixed order (times UTC, fractions as
fractions, never percentages):

- :func:`detections_frame`: one row per detection (:data:`DETECTION_COLUMNS`, then
  ``sequence_ids``, ``run_ids`` and ``unit_ids`` as lists);
- :func:`analysed_stars_frame`: one row per analysed star (:data:`ANALYSED_STAR_COLUMNS`);
- :func:`coverage_frame`: one row per bin of one coverage dimension
  (:data:`COVERAGE_COLUMNS`);
- :func:`completeness_frame`: one row per (kind, depth, duration, SNR) bin with its edges
  (:data:`COMPLETENESS_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from panoptes_network.client._tables import typed_frame

__all__ = [
    "ANALYSED_STAR_COLUMNS",
    "COMPLETENESS_COLUMNS",
    "COVERAGE_COLUMNS",
    "COVERAGE_DIMENSIONS",
    "DETECTION_COLUMNS",
    "DETECTION_KINDS",
    "analysed_stars_frame",
    "completeness_frame",
    "coverage_frame",
    "detections_frame",
]

#: Kinds of detection.
DETECTION_KINDS = ("transit", "flare")
#: Dimensions of the coverage histograms.
COVERAGE_DIMENSIONS = ("quality", "airmass", "moon", "unit")

#: Columns of :func:`detections_frame` and their kinds (see :data:`._tables.DTYPES`).
DETECTION_COLUMNS: Mapping[str, str] = {
    "detection_id": "text",
    "picid": "int",
    "kind": "text",  # transit or flare
    "search": "text",  # single-event, periodic or flare
    "time": "time",  # mid-transit or flare peak, UTC
    "time_s": "float",  # the same, POSIX s
    "duration_s": "float",  # s
    "depth": "float",  # fractional (transits)
    "depth_err": "float",
    "amplitude": "float",  # fractional (flares)
    "amplitude_err": "float",
    "period_days": "float",  # periodic only
    "events": "int",
    "snr": "float",
    "statistic": "float",
    "threshold": "float",
    "shifts": "int",
    "significance": "float",  # statistic / threshold: above 1 is significant
    "false_alarm_probability": "float",
    "injected": "bool",
    "injection_kind": "text",  # the truth of an injected event (else missing)
    "injection_depth": "float",
    "injection_amplitude": "float",
    "injection_duration_s": "float",
    "injection_snr": "float",
    "injection_time": "time",
    "ra": "float",  # deg
    "dec": "float",  # deg
    "vmag": "float",  # mag
    "num_frames": "int",
    "analysis": "text",
    "analysis_hash": "text",
    "analysed_time": "time",
}
#: The list fields of a detection, kept as lists in object columns after the others.
_LIST_COLUMNS = ("sequence_ids", "run_ids", "unit_ids")

#: Columns of :func:`analysed_stars_frame`.
ANALYSED_STAR_COLUMNS: Mapping[str, str] = {
    "picid": "int",
    "ra": "float",
    "dec": "float",
    "vmag": "float",
    "distance": "float",  # deg, from the position of a search near one (else missing)
    "n_points": "int",
    "n_observations": "int",
    "n_units": "int",
    "rms_over_floor": "float",
    "chi2_red": "float",
    "amplitude": "float",  # mag
    "quality": "float",
    "analysis_hash": "text",
}

#: Columns of :func:`coverage_frame` (``bin`` is text, the unit's id, for ``unit``).
COVERAGE_COLUMNS: Mapping[str, str] = {
    "bin": "int",  # index into the edges; -1 unknown
    "label": "text",
    "low": "float",  # the bin's edges (missing: open or unknown)
    "high": "float",
    "points": "int",
    "hours": "float",
}

#: Columns of :func:`completeness_frame`.
COMPLETENESS_COLUMNS: Mapping[str, str] = {
    "kind": "text",
    "depth_bin": "int",
    "duration_bin": "int",
    "snr_bin": "int",
    "depth_low": "float",  # fractional
    "depth_high": "float",
    "duration_low_min": "float",  # min
    "duration_high_min": "float",
    "snr_low": "float",
    "snr_high": "float",
    "injected": "int",
    "recovered": "int",
    "completeness": "float",  # recovered / injected
}


def _flat_detection(row: Mapping[str, Any]) -> dict[str, Any]:
    truth = row.get("injection") if isinstance(row.get("injection"), Mapping) else {}
    flat = {k: v for k, v in row.items() if k not in ("injection", "frames", *_LIST_COLUMNS)}
    for name in ("kind", "depth", "amplitude", "duration_s", "snr", "time"):
        flat[f"injection_{name}"] = truth.get(name)
    return flat


def detections_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Return detection rows of the API as a DataFrame.

    Parameters
    ----------
    rows : sequence of Mapping
        ``candidates`` of ``/api/v1/analysis/candidates`` pages.

    Returns
    -------
    pandas.DataFrame
        :data:`DETECTION_COLUMNS` (the truth of an injected event flattened into the
        ``injection_*`` columns), then ``sequence_ids``, ``run_ids`` and ``unit_ids``, each
        a list of text; one row per detection, in the order given.
    """
    frame = typed_frame([_flat_detection(row) for row in rows], DETECTION_COLUMNS)
    for name in _LIST_COLUMNS:
        values = [row.get(name) for row in rows]
        frame[name] = pd.Series(
            [list(v) if isinstance(v, list) else [] for v in values],
            index=frame.index,
            dtype=object,
        )
    return frame


def analysed_stars_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Return analysed star rows of ``/api/v1/analysis/stars`` as a DataFrame.

    Parameters
    ----------
    rows : sequence of Mapping
        ``stars`` of the answer.

    Returns
    -------
    pandas.DataFrame
        :data:`ANALYSED_STAR_COLUMNS`, one row per star, in the API's order.
    """
    return typed_frame(rows, ANALYSED_STAR_COLUMNS)


def coverage_frame(rows: Sequence[Mapping[str, Any]], dimension: str) -> pd.DataFrame:
    """Return one coverage dimension's bins as a DataFrame.

    Parameters
    ----------
    rows : sequence of Mapping
        ``coverage.marginals[dimension]`` of ``/api/v1/analysis``.
    dimension : str
        One of :data:`COVERAGE_DIMENSIONS`.

    Returns
    -------
    pandas.DataFrame
        :data:`COVERAGE_COLUMNS`, one row per bin with data; for ``unit``, ``bin`` is the
        unit's id (text).
    """
    columns = dict(COVERAGE_COLUMNS)
    if dimension == "unit":
        columns["bin"] = "text"
    return typed_frame(rows, columns)


def _edges(edges: Any, name: str, index: Any) -> tuple[float | None, float | None]:
    values = edges.get(name) if isinstance(edges, Mapping) else None
    if not isinstance(values, list) or not isinstance(index, int) or not 0 <= index < len(values):
        return None, None
    low = values[index]
    high = values[index + 1] if index + 1 < len(values) else None
    return low, high


def completeness_frame(completeness: Mapping[str, Any]) -> pd.DataFrame:
    """Return the injection-recovery bins of every run added, with their edges.

    Parameters
    ----------
    completeness : Mapping
        ``completeness`` of ``/api/v1/analysis`` (``edges`` and ``bins``).

    Returns
    -------
    pandas.DataFrame
        :data:`COMPLETENESS_COLUMNS`, one row per bin with injected events; bin indices are
        -1 where the value was unknown (its edges missing), the last bin of each axis open
        (its ``high`` missing).
    """
    edges = completeness.get("edges")
    rows = []
    for b in completeness.get("bins") or []:
        if not isinstance(b, Mapping):
            continue
        depth, duration, snr = (_edges(edges, n, b.get(k)) for n, k in (
            ("depth", "depth"),
            ("duration_min", "duration"),
            ("snr", "snr"),
        ))  # fmt: skip
        rows.append(
            {
                "kind": b.get("kind"),
                "depth_bin": b.get("depth"),
                "duration_bin": b.get("duration"),
                "snr_bin": b.get("snr"),
                "depth_low": depth[0],
                "depth_high": depth[1],
                "duration_low_min": duration[0],
                "duration_high_min": duration[1],
                "snr_low": snr[0],
                "snr_high": snr[1],
                "injected": b.get("injected"),
                "recovered": b.get("recovered"),
                "completeness": b.get("completeness"),
            }
        )
    return typed_frame(rows, COMPLETENESS_COLUMNS)
