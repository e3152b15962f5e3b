"""Calibrated light-curve scale against injected truth: a dimming that lasts a whole night.

Two observations of one field on two nights, drawn as per-image photometry tables from the
simulator's passband model (:func:`~panoptes_network.simulation.passbands.channel_fluxes`:
per-colour zero points, colour slopes and extinction; B-V from the PICID): 140 frames of
120 s every 135 s each, CCD-equation noise (sky, read noise), a frame-to-frame transparency
jitter of 1 %. Night A rises from airmass 1.05 to 1.35 under a clear sky; night B sets from
1.5 to 2.1 through 20 % thinner transparency, with other noise. The target (V ~ 9.3, about
the brightest star whose central green pixel does not saturate in 120 s) is 1 % fainter for
all of night A and normal in night B.

The light curves are built by :func:`~panoptes_network.lightcurves.ensemble.
differential_lightcurves`, each night choosing its own comparison stars; the colour terms
come from the frames' zero points (:mod:`panoptes_network.photometry.zero_point`).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import numpy as np
import pytest
from astropy.table import Table

from panoptes_network.lightcurves.calibrated_scale import (
    box_depth,
    calibrated_lightcurves,
    calibrated_scale,
)
from panoptes_network.lightcurves.ensemble import differential_lightcurves
from panoptes_network.lightcurves.stacking import TIME_KEY
from panoptes_network.photometry.zero_point import fit_zero_points, observation_colour_term
from panoptes_network.simulation.passbands import bv_from_picid, channel_fluxes

EXPTIME, CADENCE, FRAMES = 120.0, 135.0, 140
READ_NOISE = 10.5  # e- per pixel
NPIX = {"r": 20.0, "g": 40.0, "b": 20.0}  # aperture pixels per colour
SKY = {"r": 180.0, "g": 250.0, "b": 120.0}  # e- per pixel in 120 s
DIMMING = 0.01  # the target's flux is 0.99 of its normal in night A
TOLERANCE = 0.0015  # the acceptance: the nights differ by 1 % +- 0.15 %
WIDTH, HEIGHT, SCALE = 5184, 3456, 10.3 / 3600.0  # pixels, degrees per pixel


def _field(n_stars: int = 300, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    picid = np.sort(rng.choice(np.arange(10_000_000, 99_999_999), n_stars, replace=False))
    vmag = rng.uniform(7.5, 12.0, n_stars)
    target = int(np.argmin(np.abs(vmag - 9.3)))
    x = rng.uniform(100, WIDTH - 100, n_stars)
    y = rng.uniform(100, HEIGHT - 100, n_stars)
    ra = 300.0 + (x - WIDTH / 2) * SCALE / np.cos(np.radians(40.0))
    dec = 40.0 + (y - HEIGHT / 2) * SCALE
    bv = bv_from_picid(picid)
    return {"picid": picid, "vmag": vmag, "bv": bv, "x": x, "y": y, "ra": ra, "dec": dec,
            "target": np.array(target)}  # fmt: skip


def _night(
    field: dict[str, np.ndarray],
    *,
    seed: int,
    start: datetime,
    airmass: tuple[float, float],
    transparency: float,
    target_flux: float,
) -> list[Table]:
    """Per-image tables of one night; the target's flux is ``target_flux`` of its normal."""
    rng = np.random.default_rng(seed)
    n_stars = field["vmag"].size
    s = np.linspace(0.0, 1.0, FRAMES)
    x_mass = airmass[0] + (airmass[1] - airmass[0]) * s
    clear = transparency * (1.0 - np.abs(rng.normal(0.0, 0.01, FRAMES)))
    astro = np.ones(n_stars)
    astro[int(field["target"])] = target_flux
    t0 = start.timestamp()
    tables = []
    for t in range(FRAMES):
        fluxes = channel_fluxes(field["vmag"], field["bv"], EXPTIME, x_mass[t])
        dx, dy = 8.0 * s[t] + rng.normal(0, 0.3), 2.0 * s[t] + rng.normal(0, 0.3)
        data = {name: field[name] for name in ("picid", "ra", "dec", "vmag")}
        data.update(x=field["x"] + dx, y=field["y"] + dy, x_wcs=field["x"] + dx,
                    y_wcs=field["y"] + dy)  # fmt: skip
        for i, c in enumerate("rgb"):
            true = fluxes[:, i] * clear[t] * astro
            background = NPIX[c] * (SKY[c] + READ_NOISE**2)
            measured = true + rng.normal(0.0, 1.0, n_stars) * np.sqrt(true + background)
            data[f"flux_{c}"] = measured
            data[f"flux_err_{c}"] = np.sqrt(np.clip(measured, 0, None) + background)
            data[f"bkg_{c}"] = np.full(n_stars, SKY[c])
            data[f"npix_{c}"] = np.full(n_stars, NPIX[c])
        data["fwhm"] = np.full(n_stars, 2.5, dtype=np.float32)
        data["flags"] = np.zeros(n_stars, dtype=np.int32)
        table = Table(data)
        moment = datetime.fromtimestamp(t0 + EXPTIME / 2 + CADENCE * t, tz=timezone.utc)
        table.meta.update(
            image_id=f"PAN001_14d3bd_{moment:%Y%m%dT%H%M%S}",
            sequence_id=f"PAN001_14d3bd_{start:%Y%m%dT%H%M%S}",
            exptime=EXPTIME,
            airmass=float(x_mass[t]),
            camera={"gain_e_per_adu": 1.5, "read_noise_e": READ_NOISE},
        )
        table.meta[TIME_KEY] = moment.isoformat()
        tables.append(table)
    return tables


def _calibrate(tables: list[Table]):
    curves = differential_lightcurves(tables)
    calibrated, terms = {}, {}
    for c in "rgb":
        zero_points = [fit_zero_points(t, exptime=EXPTIME, colours=(c,))[c] for t in tables]
        terms[c] = observation_colour_term(zero_points)
        calibrated[c] = calibrated_lightcurves(
            curves, c, colour_term=terms[c][0], colour_term_err=terms[c][1]
        )
    return curves, calibrated, terms


@pytest.fixture(scope="module")
def nights():
    field = _field()
    night_a = _night(
        field,
        seed=1,
        start=datetime(2026, 8, 20, 6, 0, tzinfo=timezone.utc),
        airmass=(1.05, 1.35),
        transparency=0.97,
        target_flux=1.0 - DIMMING,
    )
    night_b = _night(
        field,
        seed=2,
        start=datetime(2026, 8, 23, 9, 30, tzinfo=timezone.utc),
        airmass=(1.5, 2.1),
        transparency=0.78,
        target_flux=1.0,
    )
    return field, _calibrate(night_a), _calibrate(night_b)


def _mean_and_error(values: np.ndarray) -> tuple[float, float]:
    """Mean of the finite values and its error from their scatter."""
    values = values[np.isfinite(values)]
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def _night_difference(curves_a, curves_b, picid: int) -> dict[str, tuple[float, float]]:
    """Per colour and combined: 1 - (night A flux / night B flux) and its error."""
    out = {}
    for c in "rgb":
        mean_a, err_a = _mean_and_error(curves_a[c].lightcurve(picid)["mag"].value)
        mean_b, err_b = _mean_and_error(curves_b[c].lightcurve(picid)["mag"].value)
        fraction = 1.0 - 10.0 ** (-0.4 * (mean_a - mean_b))
        out[c] = (fraction, np.hypot(err_a, err_b) / 1.0857 * (1.0 - fraction))
    values = np.array([out[c][0] for c in "rgb"])
    weights = 1.0 / np.array([out[c][1] for c in "rgb"]) ** 2
    out["rgb"] = (float(np.sum(weights * values) / weights.sum()), float(weights.sum() ** -0.5))
    return out


def test_a_whole_night_dimming_survives_on_the_calibrated_scale(nights):
    field, (curves_a, cal_a, terms_a), (_, cal_b, terms_b) = nights
    picid = int(field["picid"][int(field["target"])])
    j = curves_a.star_index(picid)
    # The setup took: the target is a light curve of night A, not a comparison of itself.
    assert picid in set(cal_b["g"].picid)
    assert j not in set(curves_a.colours["g"].ensemble[j])
    difference = _night_difference(cal_a, cal_b, picid)
    for key, (value, error) in difference.items():
        print(f"night A vs B, {key}: {100 * value:.3f} % +- {100 * error:.3f} % (injected 1 %)")
    print("colour terms (mag/mag) night A:", terms_a, "night B:", terms_b)
    value, error = difference["rgb"]
    assert error < 0.0006, error  # the tolerance is at least 2.5 sigma
    assert abs(value - DIMMING) < TOLERANCE, difference
    for c in "rgb":
        assert abs(difference[c][0] - DIMMING) < max(TOLERANCE, 3.5 * difference[c][1])


def test_quiet_stars_as_bright_agree_between_the_nights(nights):
    field, (_, cal_a, _), (_, cal_b, _) = nights
    vmag, target = field["vmag"], int(field["target"])
    near = np.flatnonzero(np.abs(vmag - vmag[target]) < 0.4)
    near = near[near != target]
    values = np.array(
        [_night_difference(cal_a, cal_b, int(field["picid"][i]))["rgb"][0] for i in near]
    )
    win = np.mean(np.abs(values) < TOLERANCE)
    print(f"{near.size} quiet stars within 0.4 mag of the target: nights differ by "
          f"{100 * values.mean():+.3f} % on average, spread {100 * values.std():.3f} %, "
          f"{100 * win:.0f} % within +- {100 * TOLERANCE:.2f} %")  # fmt: skip
    assert near.size >= 30
    assert abs(values.mean()) < 0.0003
    assert values.std() < 0.0008
    assert win >= 0.9


def test_the_depth_of_a_whole_night_is_fitted_against_the_other_night(nights):
    field, (_, cal_a, _), (_, cal_b, _) = nights
    picid = int(field["picid"][int(field["target"])])
    a, b = cal_a["g"].lightcurve(picid), cal_b["g"].lightcurve(picid)
    mag = np.concatenate([a["mag"].value, b["mag"].value])
    err = np.concatenate([a["mag_err"].value, b["mag_err"].value])
    in_night_a = np.arange(mag.size) < len(a)
    fit = box_depth(mag, err, in_night_a)
    print(f"box depth, g: {100 * fit.depth:.3f} % +- {100 * fit.depth_err:.3f} % "
          f"(reduced chi2 {fit.reduced_chi2:.2f})")  # fmt: skip
    assert abs(fit.depth - DIMMING) < max(TOLERANCE, 3 * fit.depth_err)
    assert fit.depth_err < 0.001
    assert fit.baseline_mag == pytest.approx(float(np.nanmean(b["mag"])), abs=3 * fit.depth_err)


def test_the_median_normalised_scale_loses_it(nights):
    field, (curves_a, _, _), (curves_b, _, _) = nights
    picid = int(field["picid"][int(field["target"])])
    means = []
    for curves in (curves_a, curves_b):
        lc = curves.lightcurve(picid, "g")
        flux = np.where(lc["outlier"], np.nan, lc["flux"])
        means.append(_mean_and_error(np.asarray(flux)))
    lost = 1.0 - means[0][0] / means[1][0]
    print(f"median-normalised scale, g: nights differ by {100 * lost:.3f} % (injected 1 %)")
    assert abs(lost) < 0.002


def test_catalog_stars_come_out_at_their_catalog_magnitudes(nights):
    field, (curves_a, cal_a, _), (curves_b, cal_b, _) = nights
    target = int(field["picid"][int(field["target"])])
    for name, curves, cal in (("A", curves_a, cal_a), ("B", curves_b, cal_b)):
        quiet = (curves.stack.picid != target) & ~curves.colours["g"].variable
        for c in "rgb":
            mean = np.nanmedian(cal[c].mag, axis=0)[quiet]
            offset = mean - curves.stack.vmag[quiet]
            spread = 1.4826 * np.median(np.abs(offset - np.median(offset)))
            print(f"night {name}, {c}: mean calibrated - catalog V: median "
                  f"{np.median(offset):+.4f} mag, robust scatter {spread:.4f} mag")  # fmt: skip
            assert abs(np.median(offset)) < 0.003
            assert spread < 0.01


def test_a_comparison_missing_from_a_frame_leaves_the_scale_unchanged(nights):
    field, (curves_a, cal_a, terms_a), _ = nights
    lc = curves_a.colours["g"]
    j = curves_a.star_index(int(field["picid"][int(field["target"])]))
    stack = curves_a.stack
    flux = {c: a.copy() for c, a in stack.flux.items()}
    flux["g"][::2, lc.ensemble[j][0]] = np.nan  # the first comparison lost in every other frame
    holed = dataclasses.replace(stack, flux=flux)
    again = calibrated_scale(holed, "g", lc.ensemble, lc.ensemble_weights)
    before, after = cal_a["g"].mag[:, j], again.mag[:, j]
    assert np.isnan(holed.flux["g"][0, lc.ensemble[j][0]])
    shift = np.nanmean(after[::2]) - np.nanmean(before[::2])
    print(f"a comparison missing in half the frames shifts the target by {shift:+.5f} mag")
    assert abs(shift) < 0.001
    assert not np.allclose(after[::2], before[::2])


def test_box_depth_against_a_known_dip_with_a_trend():
    rng = np.random.default_rng(5)
    time = np.linspace(0.0, 1.0, 400)
    trend = 0.02 * (time - 0.5)
    box = np.abs(time - 0.6) < 0.1
    flux = 2.0 * (1.0 + trend) * np.where(box, 0.985, 1.0)
    sigma = 0.001
    mag = 12.0 - 2.5 * np.log10(flux * (1.0 + rng.normal(0, sigma, time.size)))
    err = np.full(time.size, 1.0857 * sigma)
    fit = box_depth(mag, err, box, regressors=time[:, None])
    print(f"known 1.5 % dip on a 2 % slope: {100 * fit.depth:.3f} % +- {100 * fit.depth_err:.3f} %")
    assert fit.depth == pytest.approx(0.015, abs=3 * fit.depth_err)
    assert fit.depth_err < 0.0003
    assert fit.baseline_mag == pytest.approx(12.0 - 2.5 * np.log10(2.0), abs=0.001)
    without = box_depth(mag, err, box)
    assert abs(without.depth - 0.015) > 5 * fit.depth_err  # the slope biases a flat baseline
    with pytest.raises(ValueError, match="points in"):
        box_depth(mag, err, np.zeros(time.size, dtype=bool))
