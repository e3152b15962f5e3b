"""Differential light curves of 100 frames x 5000 stars: time and peak memory.

Synthetic per-frame tables
(:func:`~panoptes_network.simulation.synthetic_photometry.synthetic_observation`, generation not
timed) go through :func:`~panoptes_network.lightcurves.ensemble.differential_lightcurves` (three
colours, 20 comparisons per star, Broeg weighting, detrending) :data:`RUNS` times. References
measured in the same run:

- :func:`~panoptes_network.lightcurves.stacking.stack_frames` alone (reading the tables
  into arrays, the least any builder must do): the ratio is build over stack;
- a naive per-star loop (for each of :data:`NAIVE_STARS` targets: pick the 20 nearest stars
  in brightness by sorting, weight by 1 / variance once, divide), scaled to every star: the
  ratio is build over the naive loop.

Peak memory: :mod:`tracemalloc` peak during one separate build (numpy reports its buffers to
tracemalloc), against the size of the stacked arrays.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from typing import Any

import numpy as np

from panoptes_network.lightcurves.ensemble import differential_lightcurves
from panoptes_network.lightcurves.stacking import stack_frames
from panoptes_network.simulation.synthetic_photometry import synthetic_observation

N_FRAMES = 100
N_STARS = 5000
RUNS = 3
NAIVE_STARS = 100


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _naive(flux: np.ndarray, n_targets: int) -> None:
    """Per-star loop: 20 nearest in brightness, inverse-variance weights, divide."""
    norm = flux / np.nanmedian(flux, axis=0)
    level = np.nanmedian(flux, axis=0)
    for target in range(n_targets):
        order = np.argsort(np.abs(np.log10(level) - np.log10(level[target])))
        comps = [i for i in order[:21] if i != target][:20]
        weights = 1 / np.nanvar(norm[:, comps], axis=0)
        ensemble = np.nansum(norm[:, comps] * weights, axis=1) / weights.sum()
        curve = norm[:, target] / ensemble
        curve /= np.nanmedian(curve)


def run() -> dict[str, Any]:
    """Time and measure the light-curve builder.

    Returns
    -------
    dict
        Seconds (medians and runs), ratios to the references, peak memory in MB.
    """
    print(f"  generating {N_FRAMES} frames x {N_STARS} stars ...", flush=True)
    obs = synthetic_observation(n_frames=N_FRAMES, n_stars=N_STARS, seed=1)
    tables = obs.tables
    differential_lightcurves(tables)  # warm-up
    build_runs = [_timed(lambda: differential_lightcurves(tables)) for _ in range(RUNS)]
    stack_runs = [_timed(lambda: stack_frames(tables)) for _ in range(RUNS)]
    stack = stack_frames(tables)
    naive_s = _timed(lambda: _naive(stack.flux["g"], NAIVE_STARS)) * N_STARS / NAIVE_STARS * 3
    build_s = statistics.median(build_runs)
    stack_s = statistics.median(stack_runs)

    array_mb = (
        sum(
            a.nbytes
            for d in (stack.flux, stack.flux_err, stack.bkg, stack.npix)
            for a in d.values()
        )
        + stack.x.nbytes
        + stack.y.nbytes
    ) / 1e6
    tracemalloc.start()
    differential_lightcurves(tables)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "frames": N_FRAMES,
        "stars": N_STARS,
        "build_s": build_s,
        "build_runs_s": build_runs,
        "stack_s": stack_s,
        "naive_loop_all_stars_3_colours_s": naive_s,
        "build_over_stack": build_s / stack_s,
        "build_over_naive_loop": build_s / naive_s,
        "peak_memory_mb": peak / 1e6,
        "stacked_arrays_mb": array_mb,
        "peak_over_stacked_arrays": peak / 1e6 / array_mb,
    }
