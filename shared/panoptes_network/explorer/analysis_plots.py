"""Static plots of the analysis pages, PNGs drawn with matplotlib (Figure and Agg, no pyplot).

- :func:`completeness_png`: injection-recovery completeness against SNR, per kind;
- :func:`depth_duration_png`: the transits' completeness per depth and duration (a heat map);
- :func:`coverage_png`: points and hours searched per quality, airmass, Moon and unit bin;
- :func:`candidate_png`: a detection's light curve around its event, the event shaded.

Each takes the read model's answer (:mod:`.analysis_summary`, :mod:`.candidate`) and draws
what it holds; an empty answer gives a plot that says so, never an error.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from panoptes_network.explorer.analysis_summary import COVERAGE_DIMENSIONS
from panoptes_network.explorer.plots import PLOT_COLOURS

__all__ = [
    "candidate_png",
    "completeness_png",
    "coverage_png",
    "depth_duration_png",
    "wilson_interval",
]

_DPI = 100
#: Line colour of each kind.
_KIND_COLOURS = {"transit": "#2e5fa8", "flare": "#c0392b"}
#: Bars of a known bin, and of the unknown bin.
_BAR, _BAR_UNKNOWN = "#2a6bb5", "#9aa3b2"
#: The completeness a survey quotes its limits at.
TARGET_COMPLETENESS = 0.9


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


def _nothing(axis: Any, message: str) -> None:
    axis.text(0.5, 0.5, message, ha="center", va="center", transform=axis.transAxes, color="#555")
    axis.set_xticks([])
    axis.set_yticks([])


def wilson_interval(recovered: int, injected: int, z: float = 1.0) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial fraction (68 % for ``z`` = 1).

    Parameters
    ----------
    recovered, injected : int
        Successes and trials (``injected`` > 0).
    z : float
        Half-width in standard deviations.

    Returns
    -------
    tuple of float
        Lower and upper bound, within 0 to 1 (sensible at 0 and at 1, unlike ``p ± σ``).
    """
    p = recovered / injected
    denominator = 1 + z * z / injected
    centre = (p + z * z / (2 * injected)) / denominator
    half = z * math.sqrt(p * (1 - p) / injected + z * z / (4 * injected * injected)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def completeness_png(completeness: Mapping[str, Any]) -> bytes:
    """Return a PNG of completeness against SNR, a line per kind, a dashed 90 % line.

    Parameters
    ----------
    completeness : Mapping
        :func:`~.analysis_summary.merge_completeness`'s answer (``by_snr``, ``runs``).

    Returns
    -------
    bytes
        The PNG: recovered over injected per SNR bin (unknown SNR left out), with 68 %
        Wilson intervals, the number injected over each point.
    """
    figure = _figure(7.5, 4.2)
    axis = figure.subplots()
    rows = [r for r in completeness.get("by_snr") or [] if r.get("snr", -1) >= 0]
    labels = {r["snr"]: r["label"] for r in rows}
    positions = {snr: k for k, snr in enumerate(sorted(labels))}
    kinds = sorted({r["kind"] for r in rows if r.get("injected")})
    offset = {kind: (k - (len(kinds) - 1) / 2) * 0.08 for k, kind in enumerate(kinds)}
    for index, kind in enumerate(kinds):
        mine = [r for r in rows if r["kind"] == kind and r["injected"] > 0]
        x = np.array([positions[r["snr"]] + offset[kind] for r in mine])
        y = np.array([r["recovered"] / r["injected"] for r in mine])
        bounds = np.array([wilson_interval(r["recovered"], r["injected"]) for r in mine])
        colour = _KIND_COLOURS.get(kind, "#444444")
        axis.errorbar(
            x,
            y,
            yerr=np.clip([y - bounds[:, 0], bounds[:, 1] - y], 0.0, None),  # rounding
            fmt="o-",
            ms=5,
            lw=1.2,
            capsize=2,
            color=colour,
            label=f"{kind}s ({sum(r['injected'] for r in mine):,} injected)",
        )
        for xi, yi, r in zip(x, y, mine, strict=True):
            axis.annotate(
                f"{r['injected']:,}",
                (xi, yi),
                textcoords="offset points",
                xytext=(0, 8) if index % 2 == 0 else (0, -13),  # one kind above, one below
                ha="center",
                fontsize=7,
                color=colour,
            )
    if not kinds:
        _nothing(axis, "nothing injected yet")
    else:
        axis.axhline(TARGET_COMPLETENESS, ls="--", lw=1, color="#333333", label="90 %")
        axis.set_xticks(list(positions.values()), [labels[s] for s in positions])
        axis.set_ylim(-0.02, 1.08)
        axis.set_xlabel("signal-to-noise ratio of the injected event")
        axis.set_ylabel("fraction recovered")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, frameon=False, loc="lower right")
    runs = completeness.get("runs") or 0
    axis.set_title(f"Injection-recovery completeness, {runs:,} run(s)", fontsize=10)
    return _png(figure)


def depth_duration_png(completeness: Mapping[str, Any]) -> bytes:
    """Return a PNG heat map of the transits' completeness per depth and duration bin.

    Parameters
    ----------
    completeness : Mapping
        :func:`~.analysis_summary.merge_completeness`'s answer (``depth_duration``,
        ``edges``).

    Returns
    -------
    bytes
        The PNG: a cell per depth and duration bin (over every SNR), coloured by the fraction
        recovered (grey: nothing injected), labelled ``recovered/injected``.
    """
    figure = _figure(7.5, 4.6)
    axis = figure.subplots()
    edges = completeness.get("edges") or {}
    rows = [
        r
        for r in completeness.get("depth_duration") or []
        if r["depth"] >= 0 and r["duration"] >= 0 and r["injected"] > 0
    ]
    if not rows or not edges:
        _nothing(axis, "no transits injected yet")
        axis.set_title("Transit completeness by depth and duration", fontsize=10)
        return _png(figure)
    n_depth, n_duration = len(edges["depth"]), len(edges["duration_min"])
    grid = np.full((n_depth, n_duration), np.nan)
    for r in rows:
        if r["depth"] < n_depth and r["duration"] < n_duration:
            grid[r["depth"], r["duration"]] = r["recovered"] / r["injected"]
    axis.set_facecolor("#e4e7ec")
    image = axis.imshow(
        np.ma.masked_invalid(grid),
        origin="lower",
        aspect="auto",
        cmap="viridis",
        vmin=0.0,
        vmax=1.0,
    )
    for r in rows:
        if r["depth"] < n_depth and r["duration"] < n_duration:
            value = grid[r["depth"], r["duration"]]
            axis.text(
                r["duration"],
                r["depth"],
                f"{r['recovered']:,}/{r['injected']:,}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value < 0.6 else "black",
            )
    depth_labels = {r["depth"]: r["depth_label"] for r in completeness["depth_duration"]}
    duration_labels = {r["duration"]: r["duration_label"] for r in completeness["depth_duration"]}
    axis.set_yticks(range(n_depth), [depth_labels.get(k, "") for k in range(n_depth)])
    axis.set_xticks(range(n_duration), [duration_labels.get(k, "") for k in range(n_duration)])
    axis.set_ylabel("transit depth")
    axis.set_xlabel("transit duration")
    figure.colorbar(image, ax=axis, label="fraction recovered")
    axis.set_title("Transit completeness by depth and duration (every SNR)", fontsize=10)
    return _png(figure)


def coverage_png(coverage: Mapping[str, Any]) -> bytes:
    """Return a PNG of the coverage: points and hours per bin of each dimension.

    Parameters
    ----------
    coverage : Mapping
        :func:`~.analysis_summary.merge_coverage`'s answer (``marginals``).

    Returns
    -------
    bytes
        The PNG: a column per dimension (quality, airmass, Moon, unit), points above and
        hours below; the unknown bin in grey.
    """
    names = [name for name, _, _ in COVERAGE_DIMENSIONS]
    titles = {
        "quality": "quality (rms / photon floor)",
        "airmass": "airmass",
        "moon": "Moon distance (deg)",
        "unit": "unit",
    }
    figure = _figure(12.0, 5.6)
    axes = figure.subplots(2, len(names), squeeze=False)
    marginals = coverage.get("marginals") or {}
    for column, name in enumerate(names):
        rows: Sequence[Mapping[str, Any]] = marginals.get(name) or []
        for row_index, (field, label) in enumerate((("points", "points"), ("hours", "hours"))):
            axis = axes[row_index, column]
            if not rows:
                _nothing(axis, "no data")
                continue
            colours = [_BAR_UNKNOWN if r["label"] == "unknown" else _BAR for r in rows]
            axis.bar(range(len(rows)), [r[field] for r in rows], color=colours)
            labels = [str(r["label"]).replace(" × floor", "") for r in rows]
            crowded = sum(len(label) + 2 for label in labels) > 36
            axis.set_xticks(
                range(len(rows)),
                labels,
                rotation=35 if crowded else 0,
                ha="right" if crowded else "center",
                fontsize=8,
            )
            axis.tick_params(axis="y", labelsize=8)
            axis.grid(axis="y", alpha=0.3)
            if column == 0:
                axis.set_ylabel(label)
        axes[0, column].set_title(titles[name], fontsize=9)
    figure.suptitle(
        f"Coverage: {coverage.get('points') or 0:,} points, "
        f"{coverage.get('hours') or 0.0:,.1f} hours in {coverage.get('runs') or 0:,} run(s)",
        fontsize=10,
    )
    return _png(figure)


def candidate_png(candidate: Mapping[str, Any]) -> bytes:
    """Return a PNG of a detection's light curve around its event.

    Parameters
    ----------
    candidate : Mapping
        :func:`~.candidate.candidate`'s answer: ``segments`` (points per run), ``window``,
        ``time_s``, ``kind``, ``search``, ``period_days``, ``picid``.

    Returns
    -------
    bytes
        The PNG: normalised flux (g unless a run lacks it) against hours from mid-event
        (folded on the period for a periodic detection), error bars, outliers as crosses,
        the event window shaded.
    """
    figure = _figure(10.0, 4.2)
    axis = figure.subplots()
    time_s = candidate.get("time_s")
    period = candidate.get("period_days")
    fold = (
        period * 86400.0
        if candidate.get("search") == "periodic" and isinstance(period, (int, float)) and period > 0
        else None
    )
    drawn = 0
    for segment in candidate.get("segments") or []:
        points = segment.get("points")
        if not points or time_s is None:
            continue
        times = np.array([np.nan if t is None else t for t in points["time_s"]], dtype=float)
        flux = np.array([np.nan if f is None else f for f in points["flux"]], dtype=float)
        error = np.array([0.0 if e is None else e for e in points["flux_err"]], dtype=float)
        outlier = np.array(points["outlier"], dtype=bool)
        offset = times - float(time_s)
        if fold is not None:
            offset = (offset / fold + 0.5) % 1.0 * fold - fold / 2
        hours = offset / 3600.0
        good = np.isfinite(flux) & np.isfinite(hours) & ~outlier
        colour = PLOT_COLOURS.get(segment.get("colour") or "g", "#1e8449")
        axis.errorbar(
            hours[good],
            flux[good],
            yerr=np.clip(error[good], 0.0, None),
            fmt="o",
            ms=3,
            lw=0.6,
            color=colour,
            ecolor=colour + "66",
            label=f"{segment.get('colour')} · {segment.get('run_id') or '?'}",
        )
        bad = np.isfinite(flux) & np.isfinite(hours) & outlier
        if bad.any():
            axis.plot(hours[bad], flux[bad], "x", color="#555555", ms=5)
        drawn += int(good.sum())
    window = candidate.get("window")
    if window and time_s is not None:
        axis.axvspan(
            (window["start_s"] - time_s) / 3600.0,
            (window["end_s"] - time_s) / 3600.0,
            color="#f0b429",
            alpha=0.25,
            label="event",
        )
        axis.axvline(0.0, color="#b07d12", lw=0.8, ls=":")
    if not drawn:
        _nothing(axis, "no points of the event could be read")
    else:
        axis.set_xlabel(
            "hours from mid-event" + (f", folded on {period:.4f} d" if fold is not None else "")
        )
        axis.set_ylabel("normalised flux")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, frameon=False, loc="best")
    when = str(candidate.get("time") or "?").replace("T", " ").replace("+00:00", " UTC")
    axis.set_title(
        f"PICID {candidate.get('picid')} · {candidate.get('kind') or '?'} "
        f"({candidate.get('search') or '?'}) at {when}",
        fontsize=10,
    )
    return _png(figure)
