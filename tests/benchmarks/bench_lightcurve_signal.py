"""Light curves keep the signal: transfer function, transit suppression, held-out scatter.

Two pixel-level observations of the Kepler field are simulated (seeds the tests never use,
48 full-size frames each, 120 s exposures every 128 s, 102 minutes), every frame measured at
its true WCS (:func:`~panoptes_network.simulation.measured.measure_sequence`), and the light
curves built by :func:`~panoptes_network.lightcurves.ensemble.differential_lightcurves` with
each correction: ``none``, ``cotrend`` (the default) and ``self`` (each star's own BIC-gated
fit, the former default), and on the calibrated magnitude scale (``calibrated``: each star
over its comparison ensemble scaled by the ensemble's catalog brightness, not normalised to
its own median, no detrending: :mod:`~panoptes_network.lightcurves.calibrated_scale`).
Injected on isolated, unsaturated V 8-11 stars.

**Paired injection.** Each observation is simulated twice from one seed, with its injected
events and without, with Gaussian shot noise so that both share every noise draw
(:func:`~panoptes_network.simulation.render.digitise`). A star's injected light curve over
its quiet twin, built with the same comparison stars (``comparisons``), is then what the
chain did to the signal, free of the photon and scintillation noise that limits one light
curve to about +-10 % per period here; that is what makes a 5 % target testable on 50 stars.
The one-curve figures (injected light curve alone, errors from its residual scatter) are
reported beside the paired ones.

- **transfer function**: 1 % sinusoids, periods 15 minutes to twice the observation, four
  phases each, two stars per (period, phase). Each star's curve is fitted at the known period
  and phase with the exposure-averaged injected shape; recovered over injected amplitude per
  period and colour: paired median and range over the stars, one-curve inverse-variance mean
  with its error. Target 0.95 to 1.05 up to the observation's length;
- **transit suppression**: box and limb-darkened transits, depths 0.5 % to 3 %, durations 15
  minutes to the whole observation, mid-times from the start to the end. Suppression = 1 -
  recovered / injected depth, the depth fitted with the exposure-averaged injected shape and a
  free out-of-transit level. Transits with no frame out of transit cannot be measured in a
  light curve normalised to its median and are counted apart. Target: median |suppression|
  below 5 % and none above 15 % for transits at most half the observation long;
- **held-out scatter**: median rms over theory of the stars with no injected signal, per V
  bin, in each observation.

Figures print as tables; two PNGs are written beside the JSON (``.dev/bench/``). The measured
frames are cached there too: delete ``lightcurve_signal_*.pkl`` to simulate again. The camera
has a 1 % pixel response non-uniformity; every frame is flat-fielded with the camera's flat
master, built from its simulated twilight flats.
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

from panoptes_network.lightcurves.calibrated_scale import calibrated_lightcurves
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
from panoptes_network.simulation.measured import (
    camera_flat,
    field_stars,
    isolated_stars,
    measure_sequence,
)
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
METHODS = ("none", "cotrend", "self", "calibrated")
COLOURS = ("r", "g", "b")
V_BINS = (8, 9, 10, 11)
SEEDS = {"sinusoids": 301, "transits": 302}


@dataclasses.dataclass(frozen=True)
class Observation:
    """One simulated observation measured twice: with its injected events and without.

    Both share their seed and, through Gaussian shot noise, every noise draw, so the ratio of
    a star's two light curves is what the chain did to the injected signal, free of the noise
    that limits one light curve (paired injection with common random numbers).
    """

    quiet: list
    injected: list
    events: list
    vmag: dict[int, float]


def _observation(catalog, seed: int, events_for, folder: Path) -> Observation:
    """Simulate and measure one observation; ``events_for(start, picids)`` makes its events.

    The measured tables are kept in ``.dev/bench/`` (keyed by the seed and the injection
    plan) so that a second run analyses them again without simulating.
    """
    name = events_for.__name__.strip("_")
    cache = OUT_DIR / f"lightcurve_signal_{seed}_{FRAMES}_{name}_paired_flat.pkl"
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
        noise="gaussian",
    )
    stars = field_stars(quiet, catalog, folder / "probe")
    picids = isolated_stars(stars, (8.0, 11.0), quiet.camera.shape)
    picids = np.random.default_rng(seed).permutation(picids)
    events = events_for(quiet.start, picids)
    # The camera's pixel response non-uniformity is taken out by its flat master, as
    # measure-sources applies a camera's masters.
    print("  building the camera's flat from simulated twilight flats ...", flush=True)
    flat = camera_flat(quiet.camera, start=highest - timedelta(hours=6))
    measured = {}
    for label, spec in (
        ("quiet", quiet),
        ("injected", dataclasses.replace(quiet, events=tuple(events))),
    ):
        print(f"  simulating {FRAMES} frames, {len(spec.events)} injected events ...", flush=True)
        result = simulate_sequence(spec, catalog, folder / label)
        print("  measuring every frame ...", flush=True)
        measured[label] = assess_frames(measure_sequence(result.folder, catalog, flat=flat)).kept
        shutil.rmtree(result.folder, ignore_errors=True)
    vmag = {int(p): float(v) for p, v in zip(stars["picid"], stars["vmag"], strict=True)}
    observation = Observation(measured["quiet"], measured["injected"], events, vmag)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with cache.open("wb") as handle:
        pickle.dump(observation, handle)
    return observation


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


def _aligned(
    quiet: Lightcurves, injected: Lightcurves, picid: int
) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray] | None:
    """The star's column in each build and their common frames ``(jq, ji, times, iq, ii)``.

    None when either build has no light curve of the star.
    """
    try:
        jq, ji = quiet.star_index(picid), injected.star_index(picid)
    except KeyError:
        return None
    times, iq, ii = np.intersect1d(
        np.asarray(quiet.stack.times), np.asarray(injected.stack.times), return_indices=True
    )
    return jq, ji, times, iq, ii


def _paired(
    quiet: Lightcurves, injected: Lightcurves, colour: str, picid: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The star's injected light curve alone and over its quiet twin, on their common frames.

    Returns ``(times, flux, ratio)``, or None when either observation has no light curve of
    the star. Clipped points are NaN in both.
    """
    aligned = _aligned(quiet, injected, picid)
    if aligned is None:
        return None
    jq, ji, times, iq, ii = aligned
    flux = _clean(injected, colour, ji)[ii]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = flux / _clean(quiet, colour, jq)[iq]
    return times, flux, ratio


def _spread(values: list[float]) -> dict[str, Any]:
    """Median, extremes and count of paired measurements."""
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": float(np.median(values)),
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "n": len(values),
    }


def _transfer(quiet: Lightcurves, injected: Lightcurves, events: list[Sinusoid]) -> dict:
    """Recovered over injected amplitude per colour and period, paired and from one curve."""
    out: dict[str, dict[str, Any]] = {}
    for colour in COLOURS:
        per_period: dict[str, Any] = {}
        for period in PERIODS_MIN:
            paired, alone = [], []
            for event in (e for e in events if e.period == period):
                curves = _paired(quiet, injected, colour, event.picid)
                if curves is None:
                    continue
                times, flux, ratio = curves
                shape = _template(event, times) - 1.0
                if (fit := _fit_scale(ratio, shape)) is not None:
                    paired.append(fit[0])
                if (fit := _fit_scale(flux, shape)) is not None:
                    alone.append(fit)
            mean, error = _weighted_mean(alone)
            per_period[f"{period:.0f}_min"] = {
                "paired": _spread(paired),
                "one_curve": {"ratio": mean, "error": error, "n": len(alone)},
            }
        out[colour] = per_period
    return out


def _suppression(quiet: Lightcurves, injected: Lightcurves, events: list[Transit]) -> dict:
    """1 - recovered / injected depth per colour: paired per transit, and from one curve."""
    out: dict[str, Any] = {}
    for colour in COLOURS:
        points, unmeasurable, whole = [], 0, []
        for event in events:
            curves = _paired(quiet, injected, colour, event.picid)
            if curves is None:
                continue
            times, flux, ratio = curves
            shape = _template(event, times) - 1.0
            paired, alone = _fit_scale(ratio, shape), _fit_scale(flux, shape)
            if np.isclose(shape, 0.0).sum() < 3 or paired is None or alone is None:
                unmeasurable += 1  # no out-of-transit level in a median-normalised curve
                scale = _ensemble_scale_suppression(quiet, injected, colour, event)
                if scale is not None:
                    whole.append(scale)
                continue
            points.append(
                (event.duration, event.depth, 1.0 - paired[0], 1.0 - alone[0], alone[1], paired[1])
            )
        short = [p for p in points if p[0] <= SPAN_MIN / 2 + 1e-6]
        mean, error = _weighted_mean([(p[3], p[4]) for p in short])
        paired_short = np.abs([p[2] for p in short])
        paired_error = np.array([p[5] for p in short])
        worst = int(np.argmax(paired_short))
        out[colour] = {
            "paired_short": {
                "median_abs": float(np.median(paired_short)),
                "max_abs": float(paired_short[worst]),
                "max_abs_error": float(paired_error[worst]),
                "n_above_15pc": int(np.sum(paired_short > 0.15)),
                "n_above_15pc_at_2_sigma": int(np.sum(paired_short - 0.15 > 2 * paired_error)),
                "n": len(short),
            },
            "paired_all_median_abs": float(np.median(np.abs([p[2] for p in points]))),
            "one_curve_short": {"weighted_mean": mean, "error": error},
            "n_not_measurable": unmeasurable,
            "whole_observation_vs_ensemble_scale": whole,
            "points": points,
        }
    return out


def _ensemble_scale_suppression(
    quiet: Lightcurves, injected: Lightcurves, colour: str, event: Transit
) -> float | None:
    """Suppression of a transit that covers the whole observation, against the ensemble scale.

    A light curve normalised to its median cannot show such a transit. What the photometry
    kept is the star's flux over its (pinned) comparison ensemble, injected over quiet: the
    median of that ratio is one minus the recovered depth.
    """
    aligned = _aligned(quiet, injected, event.picid)
    if aligned is None:
        return None
    jq, ji, times, iq, ii = aligned

    def over_ensemble(curves: Lightcurves, rows: np.ndarray, j: int) -> np.ndarray:
        lc = curves.colours[colour]
        flux = np.asarray(curves.stack.flux[colour])[rows]
        comparisons = flux[:, lc.ensemble[j]]
        ensemble = np.nansum(
            lc.ensemble_weights[j] * comparisons / np.nanmedian(comparisons, axis=0), axis=1
        )
        return flux[:, j] / ensemble

    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = over_ensemble(injected, ii, ji) / over_ensemble(quiet, iq, jq)
    injected_depth = -float(np.median(_template(event, times) - 1.0))
    return 1.0 - (1.0 - float(np.nanmedian(ratio))) / injected_depth


def _verdict(transfer: dict, suppression: dict) -> dict[str, Any]:
    """The issue's targets, from the paired measurements, per colour."""
    verdict: dict[str, Any] = {}
    for colour in COLOURS:
        medians = [
            transfer[colour][f"{p:.0f}_min"]["paired"]["median"]
            for p in PERIODS_MIN
            if p <= SPAN_MIN + 1e-6
        ]
        short = suppression[colour]["paired_short"]
        verdict[colour] = {
            "transfer_within_0.95_1.05": bool(all(0.95 <= m <= 1.05 for m in medians)),
            "transfer_worst": float(max(medians, key=lambda m: abs(m - 1.0))),
            "suppression_median_below_5pc": short["median_abs"] < 0.05,
            "suppression_none_above_15pc": short["max_abs"] < 0.15,
            "suppression_none_above_15pc_at_2_sigma": short["n_above_15pc_at_2_sigma"] == 0,
        }
    return verdict


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


_STYLES = {
    "none": ("o", "C0"),
    "cotrend": ("s", "C2"),
    "self": ("^", "C3"),
    "calibrated": ("D", "C1"),
}


def _on_calibrated_scale(curves: Lightcurves) -> Lightcurves:
    """The light curves' calibrated magnitudes as relative fluxes (the level is fitted)."""
    colours = {}
    for colour, lc in curves.colours.items():
        mag = calibrated_lightcurves(curves, colour).mag
        with np.errstate(invalid="ignore"):
            flux = 10 ** (-0.4 * (mag - np.nanmedian(mag, axis=0)))
        colours[colour] = dataclasses.replace(lc, flux=flux)
    return dataclasses.replace(curves, colours=colours)


def _plots(transfer: dict[str, Any], suppression: dict[str, Any], folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5), sharey=True)
    for ax, colour in zip(axes, COLOURS, strict=True):
        for offset, method in enumerate(METHODS):
            marker, tint = _STYLES[method]
            cells = [transfer[method][colour][f"{p:.0f}_min"] for p in PERIODS_MIN]
            median = np.array([c["paired"]["median"] for c in cells])
            low = median - np.array([c["paired"]["min"] for c in cells])
            high = np.array([c["paired"]["max"] for c in cells]) - median
            shifted = np.array(PERIODS_MIN) * (1 + 0.035 * (offset - 1))
            ax.errorbar(
                shifted,
                median,
                yerr=[low, high],
                fmt=marker + "-",
                color=tint,
                capsize=3,
                label=f"{method} (paired: median, range of stars)",
            )
        cells = [transfer["cotrend"][colour][f"{p:.0f}_min"]["one_curve"] for p in PERIODS_MIN]
        ax.errorbar(
            np.array(PERIODS_MIN) * 1.07,
            [c["ratio"] for c in cells],
            yerr=[c["error"] for c in cells],
            fmt="o",
            mfc="none",
            color="grey",
            capsize=2,
            label="cotrend, one light curve (noise-limited)",
        )
        ax.axhspan(0.95, 1.05, color="green", alpha=0.12, label="target 0.95-1.05")
        ax.axvline(SPAN_MIN, color="grey", ls=":", label="observation length")
        ax.set_xscale("log")
        ax.set_xticks(PERIODS_MIN, [f"{p:.0f}" for p in PERIODS_MIN])
        ax.minorticks_off()
        ax.set_ylim(0.0, 1.6)
        ax.set_xlabel("period (minutes)")
        ax.set_title(f"{colour}: recovered / injected amplitude")
    axes[0].set_ylabel("amplitude ratio")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Transfer function, 1 % sinusoids, {FRAMES} frames ({SPAN_MIN:.0f} min)")
    fig.tight_layout()
    path = folder / "lightcurve_signal_transfer.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(str(path))

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5), sharey=True)
    jitter = np.random.default_rng(0)
    for ax, colour in zip(axes, COLOURS, strict=True):
        for offset, method in enumerate(METHODS):
            marker, tint = _STYLES[method]
            points = np.array(suppression[method][colour]["points"], dtype=float)
            spread = 1 + 0.05 * (offset - 1) + jitter.uniform(-0.015, 0.015, len(points))
            ax.scatter(
                points[:, 0] * spread,
                points[:, 2],
                marker=marker,
                s=14,
                color=tint,
                alpha=0.6,
                label=f"{method} (paired, one per transit)",
            )
        ax.axhspan(-0.05, 0.05, color="green", alpha=0.15, label="|suppression| < 5 %")
        ax.axhline(0.15, color="red", lw=0.8, ls="--", label="15 %")
        ax.axhline(-0.15, color="red", lw=0.8, ls="--")
        ax.axvline(SPAN_MIN / 2, color="grey", ls=":", label="half the observation")
        ax.set_ylim(-0.3, 1.0)
        ax.set_xscale("log")
        ax.set_xticks(DURATIONS_MIN, [f"{d:.0f}" for d in DURATIONS_MIN])
        ax.minorticks_off()
        ax.set_xlabel("transit duration (minutes)")
        ax.set_title(f"{colour}: 1 - recovered / injected depth")
    axes[0].set_ylabel("suppression")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Transit suppression, depths 0.5-3 %, box and limb-darkened, mid-times across")
    fig.tight_layout()
    path = folder / "lightcurve_signal_suppression.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(str(path))
    return paths


def _print_tables(transfer: dict, suppression: dict, verdict: dict) -> None:
    """The figures a reader wants first, as plain tables."""
    print("\ntransfer function (paired median recovered / injected amplitude):")
    print("method   colour " + " ".join(f"{p:>6.0f}" for p in PERIODS_MIN) + "  (minutes)")
    for method in METHODS:
        for colour in COLOURS:
            cells = transfer[method][colour]
            row = " ".join(f"{cells[f'{p:.0f}_min']['paired']['median']:6.3f}" for p in PERIODS_MIN)
            print(f"{method:8s} {colour:6s} {row}")
    print("\ntransit suppression, transits at most half the observation (paired):")
    print("method   colour  median|s|  max|s| (+- error)   one curve: mean s +- error")
    for method in METHODS:
        for colour in COLOURS:
            cell = suppression[method][colour]
            short, one = cell["paired_short"], cell["one_curve_short"]
            print(
                f"{method:8s} {colour:6s} {short['median_abs']:8.3f} {short['max_abs']:8.3f}"
                f" (+- {short['max_abs_error']:.3f})"
                f"   {one['weighted_mean']:+.3f} +- {one['error']:.3f}"
            )
    print("\ntargets, default correction (cotrend):")
    for colour, checks in verdict["cotrend"].items():
        print(f"  {colour}: " + ", ".join(f"{k} {v}" for k, v in checks.items()))


def run() -> dict[str, Any]:
    """Measure the transfer function, transit suppression and scatter of each correction.

    Returns
    -------
    dict
        Per method and colour: amplitude ratios per period, suppression statistics, rms over
        theory per V bin, whether the targets are met; the PNG paths.
    """
    from panoptes_network.catalog.local_file import open_catalog

    catalog = open_catalog()
    work = Path(tempfile.mkdtemp(prefix="lightcurve-signal-"))
    try:
        print("sinusoids:", flush=True)
        sin = _observation(catalog, SEEDS["sinusoids"], _sinusoids, work / "sinusoids")
        print("transits:", flush=True)
        tr = _observation(catalog, SEEDS["transits"], _transits, work / "transits")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    transfer, suppression, scatter, chosen, verdict = {}, {}, {}, {}, {}
    for method in METHODS:
        options = {
            "detrend": method not in ("none", "calibrated"),
            "correction": "cotrend" if method in ("none", "calibrated") else method,
        }
        curves = {}
        for name, obs in (("sinusoids", sin), ("transits", tr)):
            injected = differential_lightcurves(obs.injected, **options)
            quiet = differential_lightcurves(
                obs.quiet, comparisons=injected.comparisons(), **options
            )
            if method == "calibrated":
                injected, quiet = _on_calibrated_scale(injected), _on_calibrated_scale(quiet)
            curves[name] = (quiet, injected)
        transfer[method] = _transfer(*curves["sinusoids"], sin.events)
        suppression[method] = _suppression(*curves["transits"], tr.events)
        verdict[method] = _verdict(transfer[method], suppression[method])
        scatter[method] = {
            "sinusoid_observation": _scatter(
                curves["sinusoids"][1], {e.picid for e in sin.events}, sin.vmag
            ),
            "transit_observation": _scatter(
                curves["transits"][1], {e.picid for e in tr.events}, tr.vmag
            ),
        }
        chosen[method] = {
            c: [curves[name][1].colours[c].correction for name in curves] for c in COLOURS
        }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    plots = _plots(transfer, suppression, OUT_DIR)
    _print_tables(transfer, suppression, verdict)
    for method in METHODS:
        for colour in COLOURS:
            suppression[method][colour].pop("points")
    return {
        "frames": FRAMES,
        "observation_min": SPAN_MIN,
        "injected": {"sinusoids": len(sin.events), "transits": len(tr.events)},
        "correction_applied_sinusoid_transit_obs": chosen,
        "targets_met": verdict,
        "transfer_ratio": transfer,
        "transit_suppression": suppression,
        "rms_over_theory": scatter,
        "plots": plots,
    }
