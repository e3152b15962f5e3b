"""What the analysis has searched and what it can find: coverage and completeness, merged.

Every analysed run leaves two documents of integer counts, read here as plain mappings:

- ``analysis_coverage/{analysis_hash}_{sequence_id}_{run_id}``: light-curve points and the
  seconds they cover, binned by ``quality`` (the star's rms over its photon-noise floor),
  ``airmass``, ``moon`` (the Moon's distance from the field, deg) and ``unit``;
- ``analysis_completeness/{analysis_hash}_{sequence_id}_{run_id}``: the synthetic events the
  analysis injected into the run's light curves and those it recovered, binned by ``kind``,
  ``depth`` (fractional), ``duration`` (min) and ``snr``.

Counts add exactly, so the network's coverage and completeness are the sums over every run
of one analysis (one query each, ``analysis_hash ==``, at most :data:`MAX_RUNS` documents
read by id order: ``truncated`` says when there were more). A run's document whose edges
differ from the first one read cannot be added bin by bin; it is left out and counted in
``runs_left_out``. Bins are indices into the edges (the last bin open above; -1 unknown).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from panoptes_network.explorer._values import integer, number, text, time_value
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import ANALYSIS_COMPLETENESS, ANALYSIS_COVERAGE

__all__ = [
    "COMPLETENESS_AXES",
    "COVERAGE_DIMENSIONS",
    "MAX_RUNS",
    "analysis_summary",
    "bin_label",
    "merge_completeness",
    "merge_coverage",
]

#: Most run documents of each collection read for one summary.
MAX_RUNS = 2000
#: Coverage dimensions, in key order: (name, what a bin's edges are in, top of the last bin
#: when it is closed).
COVERAGE_DIMENSIONS: tuple[tuple[str, str, float | None], ...] = (
    ("quality", "× floor", None),
    ("airmass", "", None),
    ("moon", "°", 180.0),
    ("unit", "", None),
)
#: Completeness axes: (bin field, edges field, scale shown, unit shown).
COMPLETENESS_AXES: tuple[tuple[str, str, float, str], ...] = (
    ("depth", "depth", 100.0, "%"),
    ("duration", "duration_min", 1.0, "min"),
    ("snr", "snr", 1.0, ""),
)
#: Bin index of an unknown value.
UNKNOWN = -1


def bin_label(
    edges: Sequence[float] | None,
    index: int,
    *,
    scale: float = 1.0,
    unit: str = "",
    top: float | None = None,
) -> tuple[str, float | None, float | None]:
    """Return a bin's label and its edges.

    Parameters
    ----------
    edges : sequence of float or None
        The bins' lower edges (bin ``k`` is ``edges[k]`` to ``edges[k + 1]``, the last open).
    index : int
        The bin; -1 (or out of range) is unknown.
    scale : float
        Factor of the label's numbers (100 shows a fraction in %).
    unit : str
        Appended to the label.
    top : float, optional
        Upper edge of the last bin when it is closed (the Moon's 180 deg).

    Returns
    -------
    tuple
        ``(label, low, high)``: ``"1.2–1.5"``, ``"≥ 3"`` for the open last bin,
        ``"unknown"``; ``low`` and ``high`` in the edges' units (None when open or unknown).
    """
    if not edges or not 0 <= index < len(edges):
        return "unknown", None, None
    low = float(edges[index])
    high = float(edges[index + 1]) if index + 1 < len(edges) else top
    suffix = f" {unit}" if unit and unit not in ("°",) else unit
    if high is None:
        return f"≥ {low * scale:g}{suffix}", low, None
    return f"{low * scale:g}–{high * scale:g}{suffix}", low, high


def _edges(record: Any, names: Sequence[str]) -> dict[str, list[float]] | None:
    """Return the named edges of a record, each a list of finite numbers; None if any lacks."""
    if not isinstance(record, Mapping):
        return None
    out = {}
    for name in names:
        values = record.get(name)
        if not isinstance(values, list) or not values:
            return None
        numbers = [number(v) for v in values]
        if any(v is None for v in numbers):
            return None
        out[name] = [float(v) for v in numbers]  # type: ignore[arg-type]
    return out


def _whole(row: Mapping[str, Any], names: Sequence[str]) -> list[int] | None:
    """Return the named fields of a bin as ints, or None when any is not a whole number."""
    values = [integer(row.get(name)) for name in names]
    return None if any(v is None for v in values) else values  # type: ignore[return-value]


def _runs_and_bins(
    docs: Sequence[tuple[str, Mapping[str, Any]]], names: Sequence[str]
) -> tuple[dict[str, list[float]] | None, int, int, list[str | None], list[Mapping[str, Any]]]:
    """Return the runs whose edges agree with the first usable run's, and their bins.

    Returns
    -------
    tuple
        The edges (None without runs), the runs added, the runs left out (edges unlike the
        first's, or none), their analysis times, and every bin of the runs added that is a
        mapping (each caller checks its own fields).
    """
    edges: dict[str, list[float]] | None = None
    runs = left_out = 0
    times: list[str | None] = []
    rows: list[Mapping[str, Any]] = []
    for _, doc in docs:
        found = _edges(doc.get("edges"), names)
        if found is None or (edges is not None and found != edges):
            left_out += 1
            continue
        edges = edges or found
        runs += 1
        times.append(time_value(doc.get("analysed_time")))
        bins = doc.get("bins") if isinstance(doc.get("bins"), list) else []
        rows.extend(row for row in bins if isinstance(row, Mapping))
    return edges, runs, left_out, times, rows


def _fraction(recovered: int, injected: int) -> float | None:
    return recovered / injected if injected > 0 else None


def _newest(times: list[str | None]) -> str | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def merge_completeness(docs: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Return the injection-recovery counts of several runs added bin by bin.

    Parameters
    ----------
    docs : sequence of (str, Mapping)
        ``analysis_completeness`` documents.

    Returns
    -------
    dict
        ``runs`` (added), ``runs_left_out`` (edges unlike the first run's, or none),
        ``injected`` and ``recovered`` (totals), ``edges`` (``depth`` fractional,
        ``duration_min``, ``snr``; None without runs), ``bins`` (every bin with counts:
        ``kind``, ``depth``, ``duration``, ``snr`` indices, ``injected``, ``recovered``,
        ``completeness`` = recovered / injected, None when nothing was injected), ``by_snr``
        (per kind and SNR bin, over depth and duration, with ``label``, ``low``, ``high``)
        and ``depth_duration`` (transits per depth and duration bin, over SNR, with
        ``depth_label`` and ``duration_label``).
    """
    names = [edges for _, edges, _, _ in COMPLETENESS_AXES]
    edges, runs, left_out, times, rows = _runs_and_bins(docs, names)
    counts: dict[tuple[str, int, int, int], list[int]] = {}
    for row in rows:
        kind = text(row.get("kind"))
        values = _whole(row, ("depth", "duration", "snr", "injected", "recovered"))
        if kind is None or values is None or min(values[3:]) < 0:
            continue
        depth, duration, snr, injected, recovered = values
        cell = counts.setdefault((kind, depth, duration, snr), [0, 0])
        cell[0] += injected
        cell[1] += recovered
    bins = [
        {
            "kind": kind,
            "depth": depth,
            "duration": duration,
            "snr": snr,
            "injected": injected,
            "recovered": recovered,
            "completeness": _fraction(recovered, injected),
        }
        for (kind, depth, duration, snr), (injected, recovered) in sorted(counts.items())
    ]
    return {
        "runs": runs,
        "runs_left_out": left_out,
        "last_analysed_time": _newest(times),
        "injected": sum(b["injected"] for b in bins),
        "recovered": sum(b["recovered"] for b in bins),
        "edges": edges,
        "bins": bins,
        "by_snr": _by_snr(bins, edges),
        "depth_duration": _depth_duration(bins, edges),
    }


def _axis(edges: Mapping[str, list[float]] | None, field: str, index: int) -> tuple:
    (_, name, scale, unit) = next(a for a in COMPLETENESS_AXES if a[0] == field)
    return bin_label(edges.get(name) if edges else None, index, scale=scale, unit=unit)


def _by_snr(
    bins: list[dict[str, Any]], edges: Mapping[str, list[float]] | None
) -> list[dict[str, Any]]:
    sums: dict[tuple[str, int], list[int]] = {}
    for b in bins:
        cell = sums.setdefault((b["kind"], b["snr"]), [0, 0])
        cell[0] += b["injected"]
        cell[1] += b["recovered"]
    out = []
    for (kind, snr), (injected, recovered) in sorted(sums.items()):
        label, low, high = _axis(edges, "snr", snr)
        out.append(
            {
                "kind": kind,
                "snr": snr,
                "label": label,
                "low": low,
                "high": high,
                "injected": injected,
                "recovered": recovered,
                "completeness": _fraction(recovered, injected),
            }
        )
    return out


def _depth_duration(
    bins: list[dict[str, Any]], edges: Mapping[str, list[float]] | None
) -> list[dict[str, Any]]:
    sums: dict[tuple[int, int], list[int]] = {}
    for b in bins:
        if b["kind"] != "transit":
            continue
        cell = sums.setdefault((b["depth"], b["duration"]), [0, 0])
        cell[0] += b["injected"]
        cell[1] += b["recovered"]
    return [
        {
            "depth": depth,
            "duration": duration,
            "depth_label": _axis(edges, "depth", depth)[0],
            "duration_label": _axis(edges, "duration", duration)[0],
            "injected": injected,
            "recovered": recovered,
            "completeness": _fraction(recovered, injected),
        }
        for (depth, duration), (injected, recovered) in sorted(sums.items())
    ]


def merge_coverage(docs: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Return the coverage of several runs added bin by bin, and its marginals.

    Parameters
    ----------
    docs : sequence of (str, Mapping)
        ``analysis_coverage`` documents.

    Returns
    -------
    dict
        ``runs`` (added), ``runs_left_out``, ``points``, ``hours`` (seconds / 3600),
        ``units`` (the units' ids), ``edges`` (``quality``, ``airmass``, ``moon``; None
        without runs) and ``marginals``: per dimension of :data:`COVERAGE_DIMENSIONS`, a row
        per bin with data (``bin``: its index, or the unit's id; ``label``, ``low``,
        ``high``, ``points``, ``hours``), summed over the other dimensions.
    """
    names = [name for name, _, _ in COVERAGE_DIMENSIONS if name != "unit"]
    edges, runs, left_out, times, rows = _runs_and_bins(docs, names)
    counts: dict[tuple[int, int, int, str], list[int]] = {}
    for row in rows:
        unit_id = text(row.get("unit"))
        values = _whole(row, (*names, "points", "seconds"))
        if unit_id is None or values is None or min(values[3:]) < 0:
            continue
        quality, airmass, moon, points, seconds = values
        cell = counts.setdefault((quality, airmass, moon, unit_id), [0, 0])
        cell[0] += points
        cell[1] += seconds
    marginals: dict[str, list[dict[str, Any]]] = {}
    for axis, (name, unit, top) in enumerate(COVERAGE_DIMENSIONS):
        sums: dict[Any, list[int]] = {}
        for key, (points, seconds) in counts.items():
            cell = sums.setdefault(key[axis], [0, 0])
            cell[0] += points
            cell[1] += seconds
        rows = []
        for value in sorted(sums, key=lambda v: (isinstance(v, str), v == UNKNOWN, v)):
            points, seconds = sums[value]
            if name == "unit":
                label, low, high = value, None, None
            else:
                label, low, high = bin_label(
                    edges[name] if edges else None, value, unit=unit, top=top
                )
            rows.append(
                {
                    "bin": value,
                    "label": label,
                    "low": low,
                    "high": high,
                    "points": points,
                    "hours": seconds / 3600.0,
                }
            )
        marginals[name] = rows
    seconds = sum(s for _, s in counts.values())
    return {
        "runs": runs,
        "runs_left_out": left_out,
        "last_analysed_time": _newest(times),
        "points": sum(p for p, _ in counts.values()),
        "hours": seconds / 3600.0,
        "units": sorted({key[3] for key in counts}),
        "edges": edges,
        "marginals": marginals,
    }


def analysis_summary(documents: DocumentStore, analysis_hash: str) -> dict[str, Any]:
    """Return the Analysis page: coverage and completeness of one analysis, every run added.

    Reads at most :data:`MAX_RUNS` + 1 documents of each collection (two queries).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    analysis_hash : str
        The analysis (16 hex digits).

    Returns
    -------
    dict
        ``analysis_hash``; ``empty`` (no run analysed yet); totals ``runs`` (runs whose
        coverage was added), ``points`` and ``hours``; ``truncated`` (more run documents
        than :data:`MAX_RUNS` in either collection: the first by id are added);
        ``coverage`` (:func:`merge_coverage`) and ``completeness``
        (:func:`merge_completeness`).
    """
    truncated = False
    merged = {}
    for collection, merge in (
        (ANALYSIS_COVERAGE, merge_coverage),
        (ANALYSIS_COMPLETENESS, merge_completeness),
    ):
        rows = documents.query(
            collection, [("analysis_hash", "==", analysis_hash)], limit=MAX_RUNS + 1
        )
        truncated = truncated or len(rows) > MAX_RUNS
        merged[collection] = merge(rows[:MAX_RUNS])
    coverage, completeness = merged[ANALYSIS_COVERAGE], merged[ANALYSIS_COMPLETENESS]
    hours = coverage["hours"]
    return {
        "analysis_hash": analysis_hash,
        "empty": coverage["runs"] == 0 and completeness["runs"] == 0,
        "runs": coverage["runs"],
        "points": coverage["points"],
        "hours": hours if math.isfinite(hours) else 0.0,
        "truncated": truncated,
        "coverage": coverage,
        "completeness": completeness,
    }
