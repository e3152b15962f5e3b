"""Static plots of the explorer: a light curve as a PNG, made with matplotlib.

Drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, so no global
state: safe in the threads of a web server).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["PLOT_COLOURS", "lightcurve_png", "precision_png"]

#: How each colour's points are drawn.
PLOT_COLOURS = {"r": "#c0392b", "g": "#1e8449", "b": "#2e5fa8"}
#: Size of a light curve's PNG (inches at :data:`_DPI`): 1000 px wide.
_WIDTH_IN, _PANEL_IN, _DPI = 10.0, 2.2, 100


def lightcurve_png(lightcurve: Mapping[str, Any]) -> bytes:
    """Return a PNG of one light curve: a panel per colour, flux against time.

    Parameters
    ----------
    lightcurve : Mapping
        :func:`panoptes_network.explorer.stars.lightcurve`'s answer: ``picid``, ``vmag``
        (mag), ``sequence_id``, ``run_id``, ``unit_id`` and ``columns`` (``time`` in POSIX
        s, per colour ``flux_c``, ``flux_err_c`` and ``outlier_c``).

    Returns
    -------
    bytes
        The PNG: normalised flux against hours since the first point, error bars, outliers
        as crosses, the time of the first point in UTC under the axis.
    """
    columns = lightcurve["columns"]
    colours = [c for c in PLOT_COLOURS if f"flux_{c}" in columns]
    times = np.asarray(columns["time"], dtype=float)
    finite = times[np.isfinite(times)]
    start = float(finite.min()) if finite.size else 0.0
    hours = (times - start) / 3600.0
    panels = max(len(colours), 1)
    figure = Figure(figsize=(_WIDTH_IN, 0.9 + _PANEL_IN * panels), dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    for axis, colour in zip(axes, colours or [None], strict=False):
        if colour is None:
            axis.text(0.5, 0.5, "no points", ha="center", va="center", transform=axis.transAxes)
            continue
        flux = np.asarray(columns[f"flux_{colour}"], dtype=float)
        error = np.asarray(columns[f"flux_err_{colour}"], dtype=float)
        outlier = np.asarray(columns[f"outlier_{colour}"], dtype=bool)
        good = np.isfinite(flux) & ~outlier
        axis.errorbar(
            hours[good],
            flux[good],
            yerr=np.where(np.isfinite(error[good]), error[good], 0.0),
            fmt="o",
            ms=3,
            lw=0.6,
            color=PLOT_COLOURS[colour],
            ecolor=PLOT_COLOURS[colour] + "66",
            label=f"{colour} ({int(good.sum())} points)",
        )
        bad = np.isfinite(flux) & outlier
        if bad.any():
            axis.plot(hours[bad], flux[bad], "x", color="#555555", ms=5, label="outlier")
        axis.set_ylabel(f"flux ({colour})")
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right", fontsize=8, frameon=False)
    when = datetime.fromtimestamp(start, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    axes[-1].set_xlabel(f"hours since {when}")
    vmag = lightcurve.get("vmag")
    magnitude = f" · V = {vmag:.2f}" if isinstance(vmag, float) and math.isfinite(vmag) else ""
    figure.suptitle(
        f"PICID {lightcurve.get('picid')}{magnitude} · {lightcurve.get('unit_id') or '?'} · "
        f"run {lightcurve.get('run_id') or '?'}",
        fontsize=10,
    )
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def _bins(rows: Any) -> list[dict[str, float]]:
    """Return a run's precision bins of one colour that hold numbers, bright to faint."""
    out = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping):
            continue
        values = {
            k: row.get(k)
            for k in (
                "vmag_min",
                "vmag_max",
                "median_rms_mag",
                "median_robust_rms_mag",
                "theoretical_rms_mag",
                "num_stars",
            )
        }
        if all(isinstance(values[k], (int, float)) for k in ("vmag_min", "vmag_max")):
            out.append(values)
    return sorted(out, key=lambda r: r["vmag_min"])


def precision_png(run: Mapping[str, Any]) -> bytes:
    """Return a PNG of a run's precision: rms against V, with the theoretical noise curve.

    Parameters
    ----------
    run : Mapping
        :func:`panoptes_network.explorer._records.run_summary`'s answer: ``run_id`` and
        ``precision`` (per colour, the V bins of
        ``lightcurves.products.precision_statistics``: ``vmag_min``, ``vmag_max``,
        ``num_stars``, ``median_rms_mag``, ``median_robust_rms_mag`` and
        ``theoretical_rms_mag``, mag).

    Returns
    -------
    bytes
        The PNG: per colour, the median rms (points) and robust rms (open points) of the
        light curves in each V bin, and the theoretical noise (line), in millimagnitudes on
        a logarithmic axis against V (mag).

    Raises
    ------
    ValueError
        When the run has no precision figures.
    """
    precision = run.get("precision")
    colours = (
        [c for c in PLOT_COLOURS if _bins(precision.get(c))]
        if isinstance(precision, Mapping)
        else []
    )
    if not colours:
        raise ValueError(f"run {run.get('run_id')} has no precision figures")
    figure = Figure(figsize=(7.0, 4.2), dpi=_DPI)
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for colour in colours:
        rows = _bins(precision[colour])
        vmag = np.array([(r["vmag_min"] + r["vmag_max"]) / 2 for r in rows])

        def column(name: str, rows: list[dict[str, Any]] = rows) -> np.ndarray:
            return np.array(
                [1e3 * r[name] if isinstance(r[name], (int, float)) else np.nan for r in rows]
            )

        ink = PLOT_COLOURS[colour]
        axis.plot(vmag, column("median_rms_mag"), "o", color=ink, label=f"{colour}: rms")
        axis.plot(
            vmag,
            column("median_robust_rms_mag"),
            "o",
            mfc="none",
            color=ink,
            label=f"{colour}: robust rms",
        )
        axis.plot(
            vmag,
            column("theoretical_rms_mag"),
            "-",
            color=ink,
            alpha=0.7,
            label=f"{colour}: theory",
        )
    axis.set_yscale("log")
    axis.set_xlabel("V (mag)")
    axis.set_ylabel("rms per frame (mmag)")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=7, ncols=len(colours), frameon=False)
    axis.set_title(f"Precision of run {run.get('run_id')}: median per V bin", fontsize=9)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()
