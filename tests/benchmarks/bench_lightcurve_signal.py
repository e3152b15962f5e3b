"""Light curves keep the signal: transfer function, transit suppression, held-out scatter.

Two pixel-level observations of the Kepler field are simulated (seeds the tests never use,
48 full-size frames each, 120 s exposures every 128 s, 102 minutes), every frame measured at
its true WCS (:func:`~panoptes_network.simulation.measured.measure_sequence`), and the light
curves built by :func:`~panoptes_network.lightcurves.ensemble.differential_lightcurves` with
each correction: ``none``, ``cotrend`` (the default) and ``self`` (each star's own BIC-gated
fit, the former default). Injected on isolated, unsaturated V 8-11 stars:

- **transfer function**: 1 % sinusoids, periods 15 minutes to twice the observation, four
  phases each, two stars per (period, phase). Each star's light curve is fitted at the known
  period and phase with the exposure-averaged injected shape; recovered over injected
  amplitude, median per period and colour with its error (1.4826 MAD / sqrt(n)). Target 0.95
  to 1.05 up to the observation's length;
- **transit suppression**: box and limb-darkened transits, depths 0.5 % to 3 %, durations 15
  minutes to the whole observation, mid-times from the start to the end. Suppression = 1 -
  recovered / injected depth, the depth fitted with the exposure-averaged injected shape and
  a free out-of-transit level (transits with no frame out of transit cannot be measured that
  way and are counted apart). Target: median |suppression| below 5 % and none above 15 % for
  transits at most half the observation long;
- **held-out scatter**: median rms over theory of the stars with no injected signal, per V
  bin, in each observation.

Figures print as tables; two PNGs are written beside the JSON (``.dev/bench/``). The measured
frames are cached there too: delete ``lightcurve_signal_*.pkl`` to simulate again.
"""

from __future__ import annotations

import dataclasses
import pickle
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from panoptes_network.lightcurves.ensemble import Lightcurves, differential_lightcurves
from panoptes_network.lightcurves.frame_quality import assess_frames
from panoptes_network.simulation import (
    DEFAULT_UNIT,
    SequenceSpec,
    Sinusoid,
    Transit,
    simulate_sequence,
)
from panoptes_network.simulation.fields import field_position
from panoptes_network.simulation.measured import field_stars, isolated_stars, measure_sequence
from panoptes_network.simulation.observing import darkest_time
from panoptes_network.simulation.variability import exposure_mean
from tests.benchmarks.run import OUT_DIR

FIELD = "Kepler field"
FRAMES = 48
EXPTIME = 120.0
CADENCE = 128.0
SPAN_MIN = FRAMES * CADENCE / 60.0
PERIODS_MIN = (15.0, 25.0, 40.0, 60.0, 75.0, SPAN_MIN, 2 * SPAN_MIN)
PHASES = 4
STARS_PER_CASE = 2
TRANSITS_PER_CASE = 2
AMPLITUDE = 0.01
DEPTHS = (0.005, 0.01, 0.02, 0.03)
DURATIONS_MIN = (15.0, SPAN_MIN / 4, SPAN_MIN / 2, SPAN_MIN)
METHODS = ("none", "cotrend", "self")
COLOURS = ("r", "g", "b")
V_BINS = (8, 9, 10, 11)
SEEDS = {"sinusoids": 301, "transits": 302}


def _observation(catalog, seed: int, events_for, folder: Path):
    """Simulate and measure one observation; ``events_for(start, picids)`` makes its events.

    The measured tables are kept in ``.dev/bench/`` (keyed by the seed and the injection
    plan) so that a second run analyses them again without simulating.
    """
    cache = OUT_DIR / f"lightcurve_signal_{seed}_{FRAMES}_{events_for.__name__.strip('_')}.pkl"
    if cache.is_file():
        print(f"  using the measured frames in {cache.name}", flush=True)
        with cache.open("rb") as handle:
            return pickle.load(handle)
    ra, dec = field_position(FIELD)
    highest = darkest_time(DEFAULT_UNIT, ra, dec, datetime(2026, 7, 1, tzinfo=timezone.utc))
    quiet = SequenceSpec(
        ra=ra,
        dec=dec,
        start=highest - timedelta(hours=1.5),
        exptime=EXPTIME,
        count=FRAMES,
        interval=CADENCE,
        field_name=FIELD,
        seed=seed,
    )
    stars = field_stars(quiet, catalog, folder / "probe")
    picids = isolated_stars(stars, (8.0, 11.0), quiet.camera.shape)
    picids = np.random.default_rng(seed).permutation(picids)
    events = events_for(quiet.start, picids)
    spec = dataclasses.replace(quiet, events=tuple(events))
    print(f"  simulating {FRAMES} frames with {len(events)} injected events ...", flush=True)
    result = simulate_sequence(spec, catalog, folder / "sequence")
    print("  measuring every frame ...", flush=True)
    tables = assess_frames(measure_sequence(result.folder, catalog)).kept
    vmag = {int(p): float(v) for p, v in zip(stars["picid"], stars["vmag"], strict=True)}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as handle:
        pickle.dump((tables, events, vmag), handle)
    return tables, events, vmag


def _sinusoids(start: datetime, picids: np.ndarray) -> list[Sinusoid]:
    events, k = [], 0
    for period in PERIODS_MIN:
        for phase in range(PHASES):
            for _ in range(STARS_PER_CASE):
                epoch = start + timedelta(minutes=period * phase / PHASES)
                events.append(Sinusoid(int(picids[k]), epoch, AMPLITUDE, period))
                k += 1
    return events


def _transits(start: datetime, picids: np.ndarray) -> list[Transit]:
    events, k = [], 0
    mids = np.linspace(0.0, SPAN_MIN, 9)
    for depth in DEPTHS:
        for duration in DURATIONS_MIN:
            for box in (True, False):
                for _ in range(TRANSITS_PER_CASE):
                    mid = start + timedelta(minutes=float(mids[k % len(mids)]))
                    shape = {"limb_darkening": None} if box else {}
                    events.append(Transit(int(picids[k]), mid, depth, duration, **shape))
                    k += 1
    return events


def _template(event, times: np.ndarray) -> np.ndarray:
    """The event's exposure-averaged relative flux at each mid-exposure time (POSIX s)."""
    picid = np.array([event.picid])
    return np.array([exposure_mean([event], picid, t - EXPTIME / 2, EXPTIME)[0] for t in times])


def _fit_scale(flux: np.ndarray, shape: np.ndarray) -> tuple[float, float] | None:
    """Least squares of flux = a (1 + k shape): return k and its error (None if unconstrained).

    ``shape`` is the injected relative change (exposure-averaged flux minus 1), so ``k`` is
    the recovered over the injected signal: 1 when the light curve keeps all of it. The error
    comes from the residual scatter.
    """
    good = np.isfinite(flux)
    if good.sum() < 8 or np.ptp(shape[good]) == 0:
        return None
    design = np.column_stack([np.ones(good.sum()), shape[good]])
    (a, b), *_ = np.linalg.lstsq(design, flux[good], rcond=None)
    residual = flux[good] - design @ np.array([a, b])
    variance = np.sum(residual**2) / (good.sum() - 2)
    covariance = variance * np.linalg.inv(design.T @ design)
    return float(b / a), float(np.sqrt(covariance[1, 1]) / a)


def _clean(curves: Lightcurves, colour: str, j: int) -> np.ndarray:
    lc = curves.colours[colour]
    return np.where(lc.outlier[:, j], np.nan, lc.flux[:, j])


def _weighted_mean(fits: list[tuple[float, float]]) -> tuple[float, float]:
    """Inverse-variance mean of ``(value, error)`` pairs and its error."""
    values = np.array([v for v, _ in fits])
    weights = 1.0 / np.square([e for _, e in fits])
    return float(np.sum(weights * values) / weights.sum()), float(1.0 / np.sqrt(weights.sum()))


def _transfer(curves: Lightcurves, events: list[Sinusoid]) -> dict[str, dict[str, Any]]:
    times = np.asarray(curves.stack.times)
    out: dict[str, dict[str, Any]] = {}
    for colour in COLOURS:
        per_period: dict[str, Any] = {}
        for period in PERIODS_MIN:
            fits = []
            for event in (e for e in events if e.period == period):
                if event.picid not in set(curves.stack.picid.tolist()):
                    continue
                j = curves.star_index(event.picid)
                shape = _template(event, times) - 1.0
                fit = _fit_scale(_clean(curves, colour, j), shape)
                if fit is not None:
                    fits.append(fit)
            ratio, error = _weighted_mean(fits)
            per_period[f"{period:.0f}_min"] = {"ratio": ratio, "error": error, "n": len(fits)}
        out[colour] = per_period
    return out


def _suppression(curves: Lightcurves, events: list[Transit]) -> dict[str, Any]:
    times = np.asarray(curves.stack.times)
    out: dict[str, Any] = {}
    for colour in COLOURS:
        rows = []
        for event in events:
            if event.picid not in set(curves.stack.picid.tolist()):
                continue
            j = curves.star_index(event.picid)
            shape = _template(event, times) - 1.0
            out_of_transit = np.isclose(shape, 0.0)
            if out_of_transit.sum() < 3:
                rows.append((event, None))
                continue
            fit = _fit_scale(_clean(curves, colour, j), shape)
            rows.append((event, None if fit is None else (1.0 - fit[0], fit[1])))
        measured = [(e, s) for e, s in rows if s is not None]
        short = [s for e, s in measured if e.duration <= SPAN_MIN / 2 + 1e-6]
        precise = [s for s, err in short if err < 0.05]
        significant = [s for s, err in short if abs(s) > 0.15 and abs(s) - 0.15 > 3 * err]
        out[colour] = {
            "median_abs_suppression_short": float(np.median(np.abs([s for s, _ in short]))),
            "weighted_mean_suppression_short": _weighted_mean(short)[0],
            "its_error": _weighted_mean(short)[1],
            "max_abs_suppression_short_error_below_5pc": (
                float(np.max(np.abs(precise))) if precise else None
            ),
            "n_short": len(short),
            "n_short_error_below_5pc": len(precise),
            "n_above_15pc_at_3_sigma": len(significant),
            "median_abs_suppression_all": float(np.median(np.abs([s for _, (s, _) in measured]))),
            "n_not_measurable": sum(1 for _, s in rows if s is None),
            "points": [(e.duration, e.depth, s, err) for e, (s, err) in measured],
        }
    return out


def _scatter(curves: Lightcurves, injected: set[int], vmag: dict[int, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    picids = curves.stack.picid
    quiet = np.array([int(p) not in injected for p in picids])
    stars_v = np.array([vmag.get(int(p), np.nan) for p in picids])
    for colour in COLOURS:
        summary = curves.colours[colour].summary
        ratio = np.asarray(summary["rms_mag"]) / np.asarray(summary["expected_rms_mag"])
        bins = {}
        for bright in V_BINS:
            chosen = quiet & (stars_v >= bright) & (stars_v < bright + 1)
            if chosen.sum() >= 10:
                bins[f"V{bright}-{bright + 1}"] = float(np.nanmedian(ratio[chosen]))
        out[colour] = bins
    return out


def _plots(transfer: dict[str, Any], suppression: dict[str, Any], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, colour in zip(axes, COLOURS, strict=True):
        for method, style in zip(METHODS, ("o-", "s-", "^--"), strict=True):
            cells = transfer[method][colour]
            ratio = [cells[f"{p:.0f}_min"]["ratio"] for p in PERIODS_MIN]
            error = [cells[f"{p:.0f}_min"]["error"] for p in PERIODS_MIN]
            shifted = np.array(PERIODS_MIN) * (1 + 0.03 * (METHODS.index(method) - 1))
            ax.errorbar(shifted, ratio, yerr=error, fmt=style, capsize=3, label=method)
        ax.axhspan(0.95, 1.05, color="green", alpha=0.12, label="target 0.95-1.05")
        ax.axvline(SPAN_MIN, color="grey", ls=":", label="observation length")
        ax.set_xscale("log")
        ax.set_xticks(PERIODS_MIN, [f"{p:.0f}" for p in PERIODS_MIN])
        ax.minorticks_off()
        ax.set_ylim(0.3, 1.7)
        ax.set_xlabel("period (minutes)")
        ax.set_title(f"{colour}: recovered / injected amplitude")
    axes[0].set_ylabel("amplitude ratio")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Transfer function, 1 % sinusoids, {FRAMES} frames ({SPAN_MIN:.0f} min)")
    fig.tight_layout()
    path = folder / "lightcurve_signal_transfer.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(str(path))

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, colour in zip(axes, COLOURS, strict=True):
        for offset, (method, style) in enumerate(zip(METHODS, ("o-", "s-", "^--"), strict=True)):
            points = np.array(suppression[method][colour]["points"], dtype=float)
            means, errors = [], []
            for duration in DURATIONS_MIN:
                chosen = np.isclose(points[:, 0], duration)
                mean, error = _weighted_mean(
                    list(zip(points[chosen, 2], points[chosen, 3], strict=True))
                )
                means.append(mean)
                errors.append(error)
            shifted = np.array(DURATIONS_MIN) * (1 + 0.03 * (offset - 1))
            ax.errorbar(shifted, means, yerr=errors, fmt=style, capsize=3, label=method)
        ax.axhspan(-0.05, 0.05, color="green", alpha=0.15, label="|suppression| < 5 %")
        ax.axhline(0.0, color="black", lw=0.5)
        ax.axvline(SPAN_MIN / 2, color="grey", ls=":", label="half the observation")
        ax.set_ylim(-0.6, 0.8)
        ax.set_xscale("log")
        ax.set_xticks(DURATIONS_MIN, [f"{d:.0f}" for d in DURATIONS_MIN])
        ax.minorticks_off()
        ax.set_xlabel("transit duration (minutes)")
        ax.set_title(f"{colour}: 1 - recovered / injected depth")
    axes[0].set_ylabel("suppression (weighted mean of 16 transits)")
    axes[0].legend(fontsize=8)
    fig.suptitle("Transit suppression, depths 0.5-3 %, box and limb-darkened, mid-times across")
    fig.tight_layout()
    path = folder / "lightcurve_signal_suppression.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(str(path))
    return paths


def run() -> dict[str, Any]:
    """Measure the transfer function, transit suppression and scatter of each correction.

    Returns
    -------
    dict
        Per method and colour: amplitude ratios per period, suppression statistics, rms over
        theory per V bin; the PNG paths.
    """
    from panoptes_network.catalog.local_file import open_catalog

    catalog = open_catalog()
    work = Path(tempfile.mkdtemp(prefix="lightcurve-signal-"))
    try:
        print("sinusoids:", flush=True)
        sin_tables, sinusoids, sin_v = _observation(
            catalog, SEEDS["sinusoids"], _sinusoids, work / "sinusoids"
        )
        print("transits:", flush=True)
        tr_tables, transits, tr_v = _observation(
            catalog, SEEDS["transits"], _transits, work / "transits"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    transfer, suppression, scatter, chosen = {}, {}, {}, {}
    for method in METHODS:
        options = {
            "detrend": method != "none",
            "correction": "cotrend" if method == "none" else method,
        }
        sin_curves = differential_lightcurves(sin_tables, **options)
        tr_curves = differential_lightcurves(tr_tables, **options)
        transfer[method] = _transfer(sin_curves, sinusoids)
        suppression[method] = _suppression(tr_curves, transits)
        scatter[method] = {
            "sinusoid_observation": _scatter(sin_curves, {e.picid for e in sinusoids}, sin_v),
            "transit_observation": _scatter(tr_curves, {e.picid for e in transits}, tr_v),
        }
        chosen[method] = {
            c: [sin_curves.colours[c].correction, tr_curves.colours[c].correction] for c in COLOURS
        }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    plots = _plots(transfer, suppression, OUT_DIR)
    for method in METHODS:
        for colour in COLOURS:
            suppression[method][colour].pop("points")
    return {
        "frames": FRAMES,
        "observation_min": SPAN_MIN,
        "injected": {"sinusoids": len(sinusoids), "transits": len(transits)},
        "correction_applied_sinusoid_transit_obs": chosen,
        "transfer_ratio": transfer,
        "transit_suppression": suppression,
        "rms_over_theory": scatter,
        "plots": plots,
    }
