"""Synthetic per-frame photometry tables with known truth, for tests and benchmarks.

Not the pixel simulator: this draws the per-image tables the per-frame photometry produces
(one :class:`astropy.table.Table` per image, columns of :data:`PHOTOMETRY_COLUMNS`, metadata
in ``table.meta``) directly from a flux model, so that differential photometry can be checked
against injected truth quickly and at scale.

Flux model (electrons, per Bayer colour ``c`` in r, g, b), for star ``s`` in frame ``t``::

    F = F0_c(V, colour) * astro(t) * transparency(t) * 10**(-0.4 k_c X(t)) * flat(x, y)

- ``F0_g = 32,000 e- * 10**(-0.4 (V - 10)) * exptime / 120 s``; ``F0_r = 0.55 F0_g
  10**(0.2 (colour - 0.6))`` and ``F0_b = 0.45 F0_g 10**(-0.3 (colour - 0.6))`` (redder
  stars are brighter in r);
- ``astro``: sinusoidal variables and one box transit (the truth);
- ``transparency`` and airmass ``X`` extinction are common to all stars (what differential
  photometry removes); cloudy frames have a transparency of :data:`CLOUD_TRANSMISSION`;
- ``flat``: a smooth pixel-response error (8 %, periods 900 and 800 px) sampled at the star's
  pixel position, which drifts 12 px in x and 3 px in y over the observation plus a 1.5 px,
  10 minute periodic error in y;
- noise: Gaussian with the CCD-equation variance ``F + npix (sky + read_noise**2)``
  (:func:`~panoptes_network.photometry.noise.theoretical_flux_error`, background known),
  and the reported ``flux_err_<c>`` is that sigma from the measured flux.

Star widths ``fwhm`` (full-resolution pixels, ``float32``) are noiseless and drawn from no
random numbers: 2.3 px at the frame centre growing by 25 % to the corners, times a seeing
factor of 1 +- 2 % with a one-hour period.

Metadata keys: ``image_id``, ``sequence_id``, ``mid_exposure_time`` (ISO UTC), ``exptime`` (s),
``airmass``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
from astropy.table import Table

from panoptes_network.frames.camera import PIXEL_SCALE_ARCSEC
from panoptes_network.lightcurves.stacking import TIME_KEY
from panoptes_network.simulation.camera import CameraModel

__all__ = [
    "CLOUD_TRANSMISSION",
    "NPIX",
    "PHOTOMETRY_COLUMNS",
    "SKY_E_PER_PIX",
    "SyntheticObservation",
    "synthetic_observation",
]

#: Columns of a per-frame photometry table.
PHOTOMETRY_COLUMNS: tuple[str, ...] = (
    "picid", "ra", "dec", "vmag", "x", "y", "x_wcs", "y_wcs",
    "flux_r", "flux_err_r", "bkg_r", "npix_r",
    "flux_g", "flux_err_g", "bkg_g", "npix_g",
    "flux_b", "flux_err_b", "bkg_b", "npix_b",
    "fwhm", "flags",
)  # fmt: skip
#: Aperture pixels per colour.
NPIX = {"r": 14, "g": 28, "b": 14}
#: Sky per pixel in a 120 s exposure, e-.
SKY_E_PER_PIX = {"r": 180.0, "g": 250.0, "b": 120.0}
#: Extinction coefficients, mag per airmass.
EXTINCTION = {"r": 0.10, "g": 0.15, "b": 0.25}
#: Transparency of a cloudy frame.
CLOUD_TRANSMISSION = 0.45
_WIDTH, _HEIGHT, _SCALE_DEG = 5184, 3456, PIXEL_SCALE_ARCSEC / 3600.0


@dataclass
class SyntheticObservation:
    """Per-frame tables of one observation and the truth injected in them.

    Attributes
    ----------
    tables : list of astropy.table.Table
        One per frame, in time order.
    times : numpy.ndarray
        Mid-exposure times, POSIX seconds.
    picid, vmag, colour : numpy.ndarray
        Per star (colour: a B-V-like index, mag).
    astro : numpy.ndarray
        True relative astrophysical flux, shape (n_frames, n_stars).
    variables : numpy.ndarray
        Star indices with sinusoidal variability.
    transit_star : int
        Star index with the transit.
    transit_mid, transit_duration, transit_depth : float
        Mid-time (POSIX s), duration (s) and fractional depth of the box transit.
    outliers : numpy.ndarray
        (frame, star) index pairs multiplied by 1.3 in every colour.
    flagged : numpy.ndarray
        (frame, star) index pairs flagged NEAR_EDGE.
    cloudy : list of int
        Cloudy frame indices.
    cadence : float
        Seconds between frames.
    """

    tables: list[Table]
    times: np.ndarray
    picid: np.ndarray
    vmag: np.ndarray
    colour: np.ndarray
    astro: np.ndarray
    variables: np.ndarray
    transit_star: int
    transit_mid: float
    transit_duration: float
    transit_depth: float
    outliers: np.ndarray
    flagged: np.ndarray
    cloudy: list[int] = field(default_factory=list)
    cadence: float = 135.0


def synthetic_observation(
    n_frames: int = 110,
    n_stars: int = 400,
    seed: int = 0,
    *,
    n_variables: int = 6,
    cloudy: tuple[int, ...] = (),
    n_outliers: int = 8,
    n_flagged: int = 10,
    transit_depth: float = 0.01,
    transit_duration_min: float = 120.0,
    exptime: float = 120.0,
    cadence: float = 135.0,
    camera: CameraModel | None = None,
) -> SyntheticObservation:
    """Draw per-frame photometry tables of one observation.

    Parameters
    ----------
    n_frames, n_stars : int
        Frames and stars (V uniform in 7 to 12 mag).
    seed : int
        Random seed.
    n_variables : int
        Sinusoidal variables (V 8 to 10.5, amplitude 2 to 5 %, period 40 to 90 min).
    cloudy : tuple of int
        Frames with a transparency of :data:`CLOUD_TRANSMISSION`.
    n_outliers, n_flagged : int
        Single points made 30 % too bright, and rows flagged NEAR_EDGE.
    transit_depth : float
        Fractional depth of the box transit of the star nearest V = 9.
    transit_duration_min : float
        Transit duration, minutes.
    exptime, cadence : float
        Exposure time and time between frames, seconds.
    camera : CameraModel, optional
        The camera (its read noise, e- per pixel, and the ``camera`` metadata of the tables);
        the default simulated camera when omitted.

    Returns
    -------
    SyntheticObservation
        The tables and the truth.
    """
    camera = camera or CameraModel()
    read_noise_e = camera.read_noise
    rng = np.random.default_rng(seed)
    vmag = rng.uniform(7.0, 12.0, n_stars)
    colour = rng.uniform(0.0, 1.2, n_stars)
    picid = np.sort(rng.choice(np.arange(10_000_000, 99_999_999), n_stars, replace=False))
    x0 = rng.uniform(60, _WIDTH - 80, n_stars)
    y0 = rng.uniform(60, _HEIGHT - 80, n_stars)
    ra0, dec0 = 300.0, 40.0
    ra = ra0 + (x0 - _WIDTH / 2) * _SCALE_DEG / np.cos(np.radians(dec0))
    dec = dec0 + (y0 - _HEIGHT / 2) * _SCALE_DEG

    start = datetime(2026, 1, 1, 4, 0, tzinfo=timezone.utc).timestamp()
    times = start + exptime / 2 + cadence * np.arange(n_frames)
    s = np.linspace(0.0, 1.0, n_frames)
    airmass = 1.05 + 0.6 * s**2
    transparency = 1.0 - np.abs(rng.normal(0.0, 0.01, n_frames))
    transparency[list(cloudy)] *= CLOUD_TRANSMISSION
    dx = 12.0 * s + rng.normal(0.0, 0.3, n_frames)
    # polar-alignment drift plus the mount's periodic error (10 min period)
    dy = 3.0 * s + 1.5 * np.sin(2 * np.pi * (times - start) / 600.0) + rng.normal(0, 0.3, n_frames)
    x = x0[None, :] + dx[:, None]
    y = y0[None, :] + dy[:, None]
    flat = 1.0 + 0.08 * np.sin(2 * np.pi * x / 900.0 + 0.7) * np.cos(2 * np.pi * y / 800.0)

    astro = np.ones((n_frames, n_stars))
    candidates = np.flatnonzero((vmag > 8.0) & (vmag < 10.5))
    transit_star = int(candidates[np.argmin(np.abs(vmag[candidates] - 9.0))])
    pool = candidates[candidates != transit_star]
    variables = np.sort(rng.choice(pool, min(n_variables, pool.size), replace=False))
    amplitude = rng.uniform(0.02, 0.05, variables.size)
    period = rng.uniform(40.0, 90.0, variables.size) * 60.0
    phase = rng.uniform(0.0, 2 * np.pi, variables.size)
    astro[:, variables] = 1.0 + amplitude * np.sin(
        2 * np.pi * (times[:, None] - start) / period + phase
    )
    transit_mid = float(times[n_frames // 2] + 0.3 * cadence)
    duration = transit_duration_min * 60.0
    astro[np.abs(times - transit_mid) < duration / 2, transit_star] *= 1.0 - transit_depth

    quiet = np.setdiff1d(np.arange(n_stars), np.append(variables, transit_star))
    picks = rng.choice(n_frames * quiet.size, n_outliers + n_flagged, replace=False)
    pairs = np.stack([picks // quiet.size, quiet[picks % quiet.size]], axis=1)
    outliers, flagged = pairs[:n_outliers], pairs[n_outliers:]
    bump = np.ones((n_frames, n_stars))
    bump[outliers[:, 0], outliers[:, 1]] = 1.3
    flags = np.zeros((n_frames, n_stars), dtype=np.int64)
    flags[flagged[:, 0], flagged[:, 1]] = 2

    g0 = 32_000.0 * 10 ** (-0.4 * (vmag - 10.0)) * exptime / 120.0
    base = {
        "g": g0,
        "r": 0.55 * g0 * 10 ** (0.2 * (colour - 0.6)),
        "b": 0.45 * g0 * 10 ** (-0.3 * (colour - 0.6)),
    }
    columns: dict[str, np.ndarray] = {}
    for c in ("r", "g", "b"):
        sky = SKY_E_PER_PIX[c] * exptime / 120.0
        true = (
            base[c][None, :]
            * astro
            * (transparency * 10 ** (-0.4 * EXTINCTION[c] * airmass))[:, None]
            * flat
        )
        noise_var = true + NPIX[c] * (sky + read_noise_e**2)
        measured = (true + rng.normal(0.0, 1.0, true.shape) * np.sqrt(noise_var)) * bump
        columns[f"flux_{c}"] = measured
        columns[f"flux_err_{c}"] = np.sqrt(
            np.clip(measured, 0.0, None) + NPIX[c] * (sky + read_noise_e**2)
        )
        columns[f"bkg_{c}"] = np.full((n_frames, n_stars), sky)
        columns[f"npix_{c}"] = np.full((n_frames, n_stars), NPIX[c])

    r2 = ((x - _WIDTH / 2) ** 2 + (y - _HEIGHT / 2) ** 2) / ((_WIDTH / 2) ** 2 + (_HEIGHT / 2) ** 2)
    seeing = 1.0 + 0.02 * np.sin(2 * np.pi * (times - start) / 3600.0)
    fwhm = (2.3 * (1.0 + 0.25 * r2) * seeing[:, None]).astype(np.float32)

    tables = []
    for t in range(n_frames):
        moment = datetime.fromtimestamp(times[t], tz=timezone.utc)
        data = {
            "picid": picid,
            "ra": ra,
            "dec": dec,
            "vmag": vmag,
            "x": x[t],
            "y": y[t],
            "x_wcs": x[t] + rng.normal(0.0, 0.05, n_stars),
            "y_wcs": y[t] + rng.normal(0.0, 0.05, n_stars),
        }
        for c in ("r", "g", "b"):
            for name in ("flux", "flux_err", "bkg", "npix"):
                data[f"{name}_{c}"] = columns[f"{name}_{c}"][t]
        data["fwhm"] = fwhm[t]
        data["flags"] = flags[t]
        table = Table(data)
        table.meta.update(
            image_id=f"PAN001_{camera.camera_id}_{moment:%Y%m%dT%H%M%S}",
            sequence_id=f"PAN001_{camera.camera_id}_20260101T040000",
            exptime=exptime,
            airmass=float(airmass[t]),
            camera=camera.table_metadata(),
        )
        table.meta[TIME_KEY] = moment.isoformat()
        tables.append(table)
    return SyntheticObservation(
        tables=tables,
        times=times,
        picid=picid,
        vmag=vmag,
        colour=colour,
        astro=astro,
        variables=variables,
        transit_star=transit_star,
        transit_mid=transit_mid,
        transit_duration=duration,
        transit_depth=transit_depth,
        outliers=outliers,
        flagged=flagged,
        cloudy=list(cloudy),
        cadence=cadence,
    )
