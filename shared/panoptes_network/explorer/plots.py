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

__all__ = ["PLOT_COLOURS", "lightcurve_png"]

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
