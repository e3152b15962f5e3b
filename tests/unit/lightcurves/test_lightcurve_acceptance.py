"""Acceptance of "Per-frame photometry and build-lightcurve", at pixel level.

One module fixture simulates, once, a 60-frame observation of the KIC 8462852 field (full-size
raw Bayer frames from :func:`~panoptes_network.simulation.simulate_sequence`, Tycho-2 stars
from the local catalog, 120 s exposures every 128 s, the field rising so the airmass is
monotonic) with the demo events on: a 1 % limb-darkened transit of a V ~ 9 star centred on
the middle of the sequence and lasting 60 % of it, a flare and a sinusoidal variable.

The camera has its own electronics and a 1 % pixel response non-uniformity; a flat master
built from its simulated evening twilight flats
(:func:`~panoptes_network.simulation.measured.camera_flat`) flat-fields every frame, as
measure-sources applies a camera's masters. Every frame is read, flat-fielded, measured with
:func:`~panoptes_network.photometry.frame_photometry.measure_frame` and dropped
(:func:`~panoptes_network.simulation.measured.measure_sequence`: two worker processes, one
frame each at a time). The frames are measured at the TRUE WCS of the simulation
truth: plate solving is tested elsewhere (``astrometry/test_plate_solve_simulated.py``,
``simulation/test_full_frame.py``), this test scores the photometry and the light curves alone. The
stars measured are the catalog footprint of each frame. Each table gets the image metadata of the
light-curve contract (``image_id``, ``sequence_id``, ``mid_exposure_time``, ``exptime``,
``airmass``), then :func:`~panoptes_network.lightcurves.frame_quality.assess_frames` and
:func:`~panoptes_network.lightcurves.ensemble.differential_lightcurves` run on them.

Acceptance criteria:

1. the injected transit is recovered, depth within 10 % and mid-time within one cadence (or
   two formal sigmas, where the photon noise of one observation is larger than that): the
   depth is fitted jointly with the trends (the star's x and y, as in
   ``test_ensemble.py``) on the raw differential flux (the detrending can absorb
   a transit), with the exposure-averaged shape of the injected transit as template, the three
   colours combined by inverse variance; the mid-time is the centre of the chi-square minimum
   over a grid of template mid-times;
2. the median rms of the quiet stars (truth: no injected event; the variability screen is not
   used) per V bin (7-8 ... 11-12, bins with at least 10 stars) is within 0.7 to 1.3 times the
   theoretical noise of :func:`~panoptes_network.photometry.noise.theoretical_mag_error`
   computed from each star's measured flux, sky and aperture area (read noise, quantisation
   and the background estimate from the annulus pixels included; no scintillation: the
   simulator has none).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.time import Time

from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.analysis.detections import search_star
from panoptes_network.analysis.run_detections import lightcurve_points
from panoptes_network.analysis.star_points import Segment
from panoptes_network.lightcurves.ensemble import differential_lightcurves
from panoptes_network.lightcurves.frame_quality import assess_frames
from panoptes_network.photometry.frame_photometry import DEFAULT_ANNULUS
from panoptes_network.photometry.noise import theoretical_mag_error
from panoptes_network.simulation import (
    DEFAULT_UNIT,
    SequenceSpec,
    SequenceTruth,
    Transit,
    simulate_sequence,
)
from panoptes_network.simulation.camera import CameraModel
from panoptes_network.simulation.fields import field_position
from panoptes_network.simulation.measured import camera_flat, measure_sequence
from panoptes_network.simulation.observing import darkest_time
from panoptes_network.simulation.variability import Flare, exposure_mean

FRAMES = 60
EXPTIME = 120.0
CADENCE = 128.0
FIELD = "KIC 8462852"
#: The simulated camera's own gain and read noise (SequenceSpec's default camera).
GAIN, READ_NOISE = CameraModel().gain, CameraModel().read_noise
#: V bins of the rms criterion (bright edge) and the fewest quiet stars a bin needs.
BINS = (7, 8, 9, 10, 11)
MIN_STARS_PER_BIN = 10


@pytest.fixture(scope="module")
def observation(local_catalog, tmp_path_factory):
    catalog = local_catalog
    ra, dec = field_position(FIELD)
    highest = darkest_time(DEFAULT_UNIT, ra, dec, datetime(2026, 7, 14, tzinfo=timezone.utc))
    assert highest is not None
    spec = SequenceSpec(
        ra=ra,
        dec=dec,
        start=highest - timedelta(hours=2.5),  # rising: airmass not symmetric about the transit
        exptime=EXPTIME,
        count=FRAMES,
        interval=CADENCE,
        field_name=FIELD,
        seed=8,
        demo_events=True,
    )
    result = simulate_sequence(spec, catalog, tmp_path_factory.mktemp("acceptance"))
    truth = SequenceTruth.read(result.folder)
    # The camera's pixel response non-uniformity is taken out by its flat master, built from
    # the evening's simulated twilight flats, as measure-sources applies a camera's masters.
    flat = camera_flat(spec.camera, start=highest - timedelta(hours=6))
    tables = measure_sequence(result.folder, catalog, vmag_range=spec.vmag_range, flat=flat)
    quality = assess_frames(tables)
    curves = differential_lightcurves(quality.kept)
    return spec, truth, tables, quality, curves


def test_every_frame_kept(observation):
    spec, _, tables, quality, curves = observation
    assert len(tables) == FRAMES
    assert quality.rejected == []
    assert len(curves.stack.times) == FRAMES
    assert np.allclose(np.diff(curves.stack.times), CADENCE, atol=1.0)


def _transit(truth: SequenceTruth) -> Transit:
    transits = [e for e in truth.event_list() if isinstance(e, Transit)]
    assert len(transits) == 1, "the demo events inject one transit"
    return transits[0]


def _template(transit: Transit, mid: float, times: np.ndarray, exptime: float) -> np.ndarray:
    """The exposure-averaged transit shape at mid-time ``mid`` (POSIX s), 1 at mid-transit."""
    moved = dataclasses.replace(transit, mid_time=datetime.fromtimestamp(mid, tz=timezone.utc))
    picid = np.array([transit.picid])
    flux = np.array([exposure_mean([moved], picid, t - exptime / 2, exptime)[0] for t in times])
    return (1.0 - flux) / transit.depth


def _fit(flux, err, template, trends):
    """Weighted least squares of flux = a - b template + trends @ c: depth, error, chi2."""
    design = np.column_stack([np.ones_like(flux), -template, trends]) / err[:, None]
    coef, *_ = np.linalg.lstsq(design, flux / err, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    chi2 = float(np.sum((flux / err - design @ coef) ** 2))
    return coef[1] / coef[0], math.sqrt(cov[1, 1]) / coef[0], chi2


def _transit_fit(observation):
    spec, truth, _, _, curves = observation
    transit = _transit(truth)
    true_mid = transit.mid_time.timestamp()
    regressors = curves.regressors(transit.picid)
    trends = np.column_stack([regressors[k] - np.mean(regressors[k]) for k in ("x", "y")])
    times = np.asarray(curves.stack.times)
    data = []
    for colour in "rgb":
        lc = curves.lightcurve(transit.picid, colour)
        raw = curves.colours[colour].flux_raw[:, curves.star_index(transit.picid)]
        good = np.isfinite(raw) & ~np.asarray(lc["outlier"])
        data.append((raw[good], np.asarray(lc["flux_err"])[good], good))
    # depth at the true mid-time (the template has unit depth)
    depths, errors = [], []
    truth_template = _template(transit, true_mid, times, spec.exptime)
    for flux, err, good in data:
        depth, error, _ = _fit(flux, err, truth_template[good], trends[good])
        depths.append(depth)
        errors.append(error)
    weights = 1 / np.square(errors)
    depth = float(np.sum(weights * depths) / weights.sum())
    depth_error = float(1 / np.sqrt(weights.sum()))
    # mid-time: chi2 of the three colours over a grid of +-30 min, cadence / 8 steps
    grid = true_mid + np.arange(-1800.0, 1800.0 + 1, CADENCE / 8)
    chi2 = np.zeros_like(grid)
    for k, mid in enumerate(grid):
        template = _template(transit, mid, times, spec.exptime)
        chi2[k] = sum(_fit(f, e, template[g], trends[g])[2] for f, e, g in data)
    best = float(grid[chi2 <= chi2.min() + 1e-6].mean())
    within = grid[chi2 <= chi2.min() + 1.0]  # the 1-sigma interval of the mid-time
    mid_error = max(float(within.max() - within.min()) / 2.0, CADENCE / 8)
    return transit, depth, depth_error, depths, best - true_mid, mid_error


@pytest.fixture(scope="module")
def transit_fit(observation):
    return _transit_fit(observation)


def test_transit_inside_the_frames(observation):
    _, truth, _, _, curves = observation
    transit = _transit(truth)
    times = curves.stack.times
    half = transit.duration * 30.0
    mid = transit.mid_time.timestamp()
    assert times[0] < mid - half and mid + half < times[-1]
    assert transit.duration == pytest.approx(0.6 * ((FRAMES - 1) * CADENCE + EXPTIME) / 60.0)
    assert 8.5 <= curves.stack.vmag[curves.star_index(transit.picid)] <= 10.0


def test_transit_depth_recovered(transit_fit):
    # Within 10 %, or within two formal sigmas where the photon noise of one observation
    # cannot test 10 % (its formal error is 13 % of the depth: the xfail below).
    transit, depth, depth_error, depths, *_ = transit_fit
    print(f"transit depth {depth:.5f} +- {depth_error:.5f} (r, g, b: {np.round(depths, 5)})")
    assert abs(depth - transit.depth) <= max(0.10 * transit.depth, 2.0 * depth_error)


@pytest.mark.xfail(
    strict=True,
    reason="measured formal depth error 0.00132 (13 % of the 1 % depth, colours combined): "
    "photon and sky noise of a V 9.3 star (the brightest that does not saturate in 120 s) "
    "over 60 frames, ~36 in transit; the 10 % criterion needs ~7x more in-transit frames "
    "(or a brighter host) to be a 2-sigma test",
)
def test_transit_depth_error_allows_the_10_percent_criterion(transit_fit):
    # the 10 % tolerance is meaningful only if it is at least 2 formal sigmas
    _, _, depth_error, *_ = transit_fit
    assert depth_error < 0.0005


def test_transit_mid_time_recovered(transit_fit):
    # Within one cadence, or two sigmas of the mid-time (its chi-square rising by 1).
    *_, offset, mid_error = transit_fit
    print(f"mid-time error {offset:+.1f} s, 1 sigma {mid_error:.0f} s (cadence {CADENCE:g} s)")
    assert abs(offset) < max(CADENCE, 2.0 * mid_error)


def _annulus_pixels(colour: str) -> float:
    """Colour pixels in the background annulus (the sigma clip drops a few)."""
    r_in, r_out = DEFAULT_ANNULUS
    planes = 2 if colour == "g" else 1
    return planes * math.pi * (r_out**2 - r_in**2) / 4.0


def _rms_ratios(observation, colour: str) -> dict[int, tuple[int, float]]:
    _, truth, _, _, curves = observation
    stack = curves.stack
    summary = curves.colours[colour].summary
    theory = np.nanmedian(
        theoretical_mag_error(
            stack.flux[colour],
            stack.bkg[colour],
            stack.npix[colour],
            READ_NOISE,
            _annulus_pixels(colour),
            gain_e_per_adu=GAIN,
        ),
        axis=0,
    )
    quiet = ~np.isin(stack.picid, np.asarray(truth.events["picid"], dtype=np.int64))
    quiet &= np.asarray(summary["n_points"]) >= 0.8 * len(stack.times)
    ratio = np.asarray(summary["rms_mag"]) / theory
    out = {}
    for bright in BINS:
        in_bin = quiet & (stack.vmag >= bright) & (stack.vmag < bright + 1)
        if in_bin.sum() >= MIN_STARS_PER_BIN:
            out[bright] = (int(in_bin.sum()), float(np.median(ratio[in_bin])))
    return out


@pytest.mark.parametrize("colour", ["r", "g", "b"])
def test_rms_of_quiet_stars_follows_theory(observation, colour):
    ratios = _rms_ratios(observation, colour)
    print(colour, {f"V{b}-{b + 1}": (n, round(r, 3)) for b, (n, r) in ratios.items()})
    assert set(ratios) >= {9, 10, 11}, ratios  # the field is rich enough for these bins
    for bright, (_, median) in ratios.items():
        assert 0.7 < median < 1.3, (colour, bright, median)


def test_frame_metadata(observation):
    _, truth, tables, _, _ = observation
    first = tables[0]
    assert first.meta["image_id"] == truth.frames["image_id"][0]
    assert first.meta["sequence_id"]
    mid = Time(truth.frames["mid_time"][0]).unix
    assert Time(first.meta["mid_exposure_time"]).unix == pytest.approx(mid, abs=1e-3)
    assert (first["flags"] == 0).sum() > 1000


def test_the_analysis_finds_the_demo_flare_within_one_cadence_and_the_transit(observation):
    """The analysis searches (issue: flares of the demo events found, peak within one cadence).

    The light curves are the pixel-level ones above; each event's star is searched as the
    analysis searches every star (its false-alarm copies included).
    """
    _, truth, _, _, curves = observation
    segment = Segment("PAN001_14d3bd_20260714T000000", "acceptance", "lightcurves.parquet")
    points = lightcurve_points(curves, segment)
    events = truth.event_list()
    (flare,) = [e for e in events if isinstance(e, Flare)]
    transit = _transit(truth)
    found = {o.search: o for o in search_star(points[flare.picid], DEFAULT_ANALYSIS)}
    peak = found["flare"]
    assert peak.significant, peak
    assert abs(peak.time_s - flare.peak_time.timestamp()) <= CADENCE, peak
    assert peak.value == pytest.approx(flare.amplitude, abs=3 * peak.value_err + 0.01)
    dip = {o.search: o for o in search_star(points[transit.picid], DEFAULT_ANALYSIS)}
    box = dip["single-event"]
    assert box.significant, box
    assert abs(box.time_s - transit.mid_time.timestamp()) <= transit.duration * 60 / 2
