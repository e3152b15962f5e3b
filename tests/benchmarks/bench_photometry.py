"""photometry: per-frame photometry of 5,000 stars against photutils on the same positions.

One full-size 5208 x 3476 raw Bayer frame is rendered with the simulator's detector model
(:mod:`panoptes_network.simulation.render`: flat per-colour sky, Gaussian stars, Poisson and
read noise) holding ``STARS`` stars, V 8 to 14, at random positions (some near or past the
edges). Measured in the same run, alternately, ``RUNS`` times after one warm-up each:

- ``measure_frame_s``: :func:`~panoptes_network.photometry.frame_photometry.measure_frame`,
  everything (centroids, annulus backgrounds, exact apertures on the four Bayer planes, errors,
  flags);
- ``vectorised_sums_s``: its aperture step alone,
  :func:`~panoptes_network.photometry.aperture.aperture_sums` on the four planes;
- ``photutils_sums_s``: photutils ``aperture_photometry(method='exact')`` on the four planes
  at the same positions (the reference);
- ``photutils_with_background_s``: the same plus the photutils way to get the annulus
  backgrounds (``ApertureStats`` with a 3-sigma clip on each plane).

Ratios: ``sums_speedup`` = photutils_sums_s / vectorised_sums_s and ``frame_speedup`` =
photutils_with_background_s / measure_frame_s. Agreement: the largest relative difference
between the per-colour raw aperture sums implied by ``measure_frame`` (flux / gain + area *
(sky / gain + bias)) and photutils' sums, over the stars on the frame (must be < 1e-3).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from astropy.stats import SigmaClip
from astropy.table import Table
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture
from photutils.aperture import aperture_photometry as photutils_photometry

from panoptes_network.frames.camera import BAYER_PLANE_OFFSETS
from panoptes_network.photometry.aperture import aperture_sums, bayer_plane, plane_coordinates
from panoptes_network.photometry.flags import SourceFlag
from panoptes_network.photometry.frame_photometry import (
    DEFAULT_ANNULUS,
    DEFAULT_APERTURE_RADIUS,
    measure_frame,
)
from panoptes_network.simulation import CameraModel
from panoptes_network.simulation.camera import HotPixels
from panoptes_network.simulation.render import FrameScene, digitise, expected_electrons
from panoptes_network.simulation.smooth_field import SmoothField

#: Timed runs of each contender (after one warm-up each).
RUNS = 3
#: Stars measured on the frame.
STARS = 5_000
GAIN, BIAS = 1.5, 2048.0


def _frame() -> tuple[np.ndarray, Table]:
    """Render the full-size frame and its catalog rows (WCS positions off by 0.3 px rms)."""
    camera = CameraModel("0abcde", hot_pixel_count=0)
    rows, cols = camera.shape
    rng = np.random.default_rng(21)
    x = rng.uniform(-10, cols + 10, STARS)
    y = rng.uniform(-10, rows + 10, STARS)
    vmag = rng.uniform(8.0, 14.0, STARS)
    fluxes = np.array([8_000.0, 30_000.0, 11_000.0]) * 10 ** (-0.4 * (vmag - 10))[:, None]
    scene = FrameScene(
        camera=camera,
        x=x,
        y=y,
        fluxes=fluxes,
        sigma_x=np.full(STARS, 1.1),
        sigma_y=np.full(STARS, 1.2),
        sky=tuple(SmoothField(np.full((3, 3), v), camera.shape) for v in (150.0, 300.0, 200.0)),
        hot=HotPixels(np.zeros(0, int), np.zeros(0, int), np.zeros(0)),
        exptime=120.0,
    )
    electrons, _ = expected_electrons(scene)
    pixels = digitise(electrons, camera, np.random.default_rng(22))
    catalog = Table(
        {
            "picid": np.arange(STARS, dtype=np.int64) + 1,
            "ra": np.zeros(STARS),
            "dec": np.zeros(STARS),
            "vmag": vmag,
            "x": x + rng.normal(0, 0.3, STARS),
            "y": y + rng.normal(0, 0.3, STARS),
        }
    )
    return pixels, catalog


def _vectorised_sums(pixels: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for colour, offsets in BAYER_PLANE_OFFSETS.items():
        out[colour] = sum(
            aperture_sums(
                bayer_plane(pixels, offset),
                *plane_coordinates(x, y, offset),
                DEFAULT_APERTURE_RADIUS / 2,
            ).total
            for offset in offsets
        )
    return out


def _photutils_sums(
    pixels: np.ndarray, x: np.ndarray, y: np.ndarray, background: bool = False
) -> dict[str, np.ndarray]:
    out = {}
    clip = SigmaClip(sigma=3.0, maxiters=5)
    for colour, offsets in BAYER_PLANE_OFFSETS.items():
        total = np.zeros(x.size)
        for offset in offsets:
            plane = bayer_plane(pixels, offset).astype(float)
            positions = np.c_[plane_coordinates(x, y, offset)]
            aperture = CircularAperture(positions, DEFAULT_APERTURE_RADIUS / 2)
            table = photutils_photometry(plane, aperture, method="exact")
            total += np.nan_to_num(np.asarray(table["aperture_sum"], float))
            if background:
                annulus = CircularAnnulus(positions, *(r / 2 for r in DEFAULT_ANNULUS))
                ApertureStats(plane, annulus, sigma_clip=clip).median  # noqa: B018
        out[colour] = total
    return out


def _time(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def run() -> dict:
    """Time per-frame photometry against photutils and report their agreement.

    Returns
    -------
    dict
        Times (s, medians of ``RUNS``), ratios and the largest relative difference.
    """
    pixels, catalog = _frame()
    table = measure_frame(pixels, None, catalog)
    x, y = np.asarray(table["x"]), np.asarray(table["y"])
    contenders: dict[str, Callable[[], Any]] = {
        "measure_frame_s": lambda: measure_frame(pixels, None, catalog),
        "vectorised_sums_s": lambda: _vectorised_sums(pixels, x, y),
        "photutils_sums_s": lambda: _photutils_sums(pixels, x, y),
        "photutils_with_background_s": lambda: _photutils_sums(pixels, x, y, background=True),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for function in contenders.values():
        function()  # warm-up
    for _ in range(RUNS):
        for name, function in contenders.items():
            times[name].append(_time(function)[0])
    median = {name: statistics.median(values) for name, values in times.items()}

    reference = _photutils_sums(pixels, x, y)
    vectorised = _vectorised_sums(pixels, x, y)
    on = (np.asarray(table["flags"]) & SourceFlag.OFF_FRAME) == 0
    frame_diff, sums_diff = 0.0, 0.0
    for colour in "rgb":
        implied = np.asarray(
            table[f"flux_{colour}"] / GAIN
            + table[f"npix_{colour}"] * (table[f"bkg_{colour}"] / GAIN + BIAS)
        )
        frame_diff = max(frame_diff, np.abs(implied[on] / reference[colour][on] - 1).max())
        sums_diff = max(sums_diff, np.abs(vectorised[colour][on] / reference[colour][on] - 1).max())
    flags = np.asarray(table["flags"])
    return {
        "stars": STARS,
        "frame": list(pixels.shape),
        "stars_on_frame": int(on.sum()),
        "stars_refined": int(np.count_nonzero(table["x"] != table["x_wcs"])),
        "flag_counts": {f.name: int(np.count_nonzero(flags & f)) for f in SourceFlag},
        **{name: round(value, 4) for name, value in median.items()},
        "runs": {name: [round(v, 4) for v in values] for name, values in times.items()},
        "sums_speedup": round(median["photutils_sums_s"] / median["vectorised_sums_s"], 2),
        "frame_speedup": round(
            median["photutils_with_background_s"] / median["measure_frame_s"], 2
        ),
        "max_rel_diff_frame_vs_photutils": float(frame_diff),
        "max_rel_diff_sums_vs_photutils": float(sums_diff),
        "agrees_within_0_1_percent": bool(frame_diff < 1e-3 and sums_diff < 1e-3),
    }
