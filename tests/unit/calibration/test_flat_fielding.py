"""Acceptance: flat fielding makes a star's brightness flat across the field.

Stars of one brightness are placed on a grid from the centre to the corners of a small
frame seen through a fast lens (35 % loss at the corners) and a sensor with 1 % PRNU, with
dark current; the science frame goes through the simulator's pipeline (star and sky light
times the vignetting at their place, then :func:`add_detector_response`, then
:func:`digitise`). A dark master comes from a simulated dark sequence, a flat master from a
simulated evening twilight sequence with stars in it. Measured with ``measure_frame``:

- on the raw frame the stars' fluxes follow the injected vignetting (rms of measured over
  injected-vignetting-times-flux below 1 %; corner-to-centre ratio as injected);
- after :func:`calibrate_frame` their rms over field position is below 1 %.

Run ``pytest -s`` to see the figures.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
from astropy.table import Table

from panoptes_network.calibration.apply import calibrate_frame
from panoptes_network.calibration.masters import build_dark_master, build_flat_master
from panoptes_network.photometry.flags import SourceFlag
from panoptes_network.photometry.frame_photometry import measure_frame
from panoptes_network.simulation.calibration_sequences import (
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel, HotPixels
from panoptes_network.simulation.detector_response import (
    CORNER_LOSS,
    add_detector_response,
    vignetting,
)
from panoptes_network.simulation.render import FrameScene, digitise, expected_electrons
from panoptes_network.simulation.smooth_field import SmoothField

CAMERA = CameraModel(camera_id="0a1b2c", width=300, height=200, hot_pixel_count=2)
EVENING = datetime(2016, 9, 9, 5, 0, tzinfo=timezone.utc)
NIGHT = datetime(2016, 9, 9, 9, 0, tzinfo=timezone.utc)
EXPTIME = 60.0  # s
TEMPERATURE = 20.0  # C
FLUX = np.array([60000.0, 100000.0, 40000.0])  # e- per colour (R, G, B) above the lens
SKY = np.array([120.0, 200.0, 90.0])  # e- per pixel of each colour at the centre
SIGMA = 1.7  # px: FWHM 4 px, wide enough that Bayer sampling keeps every star's colours
APERTURE, ANNULUS = 8.0, (11.0, 16.0)  # frame pixels


def _star_grid() -> tuple[np.ndarray, np.ndarray]:
    """Star places from near a corner to the centre, 40 px apart, with sub-pixel offsets."""
    rng = np.random.default_rng(21)
    xs, ys = np.meshgrid(np.linspace(18, 281, 7), np.linspace(18, 181, 5))
    x = xs.ravel() + rng.uniform(-0.5, 0.5, xs.size)
    y = ys.ravel() + rng.uniform(-0.5, 0.5, ys.size)
    return x, y


def _science_frame(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    throughput = vignetting(CAMERA, x, y)
    node_x, node_y = SmoothField.node_positions(CAMERA.shape, (9, 13))
    node_throughput = vignetting(CAMERA, node_x, node_y)
    scene = FrameScene(
        camera=CAMERA,
        x=x,
        y=y,
        fluxes=FLUX[None, :] * throughput[:, None],
        sigma_x=np.full(x.size, SIGMA),
        sigma_y=np.full(x.size, SIGMA),
        sky=tuple(SmoothField(level * node_throughput, CAMERA.shape) for level in SKY),
        hot=HotPixels(np.zeros(0, int), np.zeros(0, int), np.zeros(0)),
        exptime=EXPTIME,
    )
    light, _ = expected_electrons(scene)
    electrons = add_detector_response(light, CAMERA, exptime=EXPTIME, temperature_c=TEMPERATURE)
    return digitise(electrons, CAMERA, np.random.default_rng(seed))


def _fluxes(pixels: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    catalog = Table(
        {
            "picid": np.arange(x.size),
            "ra": np.zeros(x.size),
            "dec": np.zeros(x.size),
            "vmag": np.full(x.size, 9.0),
            "x": x,
            "y": y,
        }
    )
    table = measure_frame(
        pixels,
        None,
        catalog,
        aperture_radius=APERTURE,
        annulus=ANNULUS,
        **CAMERA.measure_constants(),
    )
    bad = SourceFlag.SATURATED | SourceFlag.NEAR_EDGE | SourceFlag.OFF_FRAME
    assert not (np.asarray(table["flags"]) & int(bad)).any()
    return np.stack([np.asarray(table[f"flux_{c}"]) for c in "rgb"], axis=1)


@pytest.fixture(scope="module")
def measured():
    constants = {
        "camera_id": CAMERA.camera_id,
        "bias_adu": CAMERA.bias_adu,
        "saturation_adu": CAMERA.saturation_adu,
        "gain": CAMERA.gain,
        "read_noise_e": CAMERA.read_noise,
    }
    darks = simulate_dark_sequence(
        CAMERA, start=EVENING, n_frames=5, exptime=EXPTIME, temperature_c=TEMPERATURE, seed=1
    )
    dark = build_dark_master(
        [f.pixels for f in darks],
        exptime=EXPTIME,
        temperature_c=TEMPERATURE,
        times=[f.time for f in darks],
        **constants,
    )
    flats = simulate_flat_sequence(
        CAMERA, start=EVENING, n_frames=10, stars_per_frame=4, temperature_c=TEMPERATURE, seed=2
    )
    flat = build_flat_master(
        [f.pixels for f in flats],
        bayer_pattern="RGGB",
        times=[f.time for f in flats],
        exptimes=[f.exptime for f in flats],
        longitude_deg=-155.58,
        **constants,
    )
    assert dark.valid and flat.valid
    x, y = _star_grid()
    raw = _science_frame(x, y, seed=3)
    calibrated = calibrate_frame(
        raw,
        bias_adu=CAMERA.bias_adu,
        dark=dark.data,
        flat=flat.data,
        saturation_adu=CAMERA.saturation_adu,
    )
    before = _fluxes(raw, x, y)
    after = _fluxes(calibrated + np.float32(CAMERA.bias_adu), x, y)
    return x, y, before, after


def _rms(values: np.ndarray) -> float:
    return float(np.std(values) / np.mean(values))


def test_the_raw_fluxes_show_the_injected_vignetting(measured):
    x, y, before, _ = measured
    throughput = vignetting(CAMERA, x, y)
    assert throughput.min() < 0.8  # the grid reaches the vignetted corners
    total = before.sum(axis=1)
    rms_before = _rms(total)
    rms_vs_injected = _rms(total / throughput)
    corner = np.argmin(throughput)
    centre = np.argmax(throughput)
    measured_ratio = total[corner] / total[centre]
    injected_ratio = throughput[corner] / throughput[centre]
    print(
        f"\nbefore flat fielding: rms over field {100 * rms_before:.2f} %, "
        f"corner/centre {measured_ratio:.3f} (injected {injected_ratio:.3f}), "
        f"rms of measured / injected vignetting {100 * rms_vs_injected:.2f} %"
    )
    assert rms_before > 0.05
    assert rms_vs_injected < 0.01
    assert measured_ratio == pytest.approx(injected_ratio, abs=0.015)
    assert injected_ratio == pytest.approx(1 - CORNER_LOSS, abs=0.15)


def test_after_flat_fielding_the_fluxes_are_flat_within_1_percent(measured):
    _, _, before, after = measured
    total = after.sum(axis=1)
    rms_after = _rms(total)
    per_colour = [_rms(after[:, c]) for c in range(3)]
    print(
        f"\nafter flat fielding: rms over field {100 * rms_after:.2f} % "
        f"(R {100 * per_colour[0]:.2f} %, G {100 * per_colour[1]:.2f} %, "
        f"B {100 * per_colour[2]:.2f} %); before {100 * _rms(before.sum(axis=1)):.2f} %"
    )
    assert rms_after < 0.01
    assert max(per_colour) < 0.015
    # the fluxes are those of the centre: the flat is 1 there
    assert np.median(total) == pytest.approx(FLUX.sum(), rel=0.03)
