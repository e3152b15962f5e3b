"""The simulated lens and sensor response: vignetting, PRNU and dark current against their
stated laws, and the calibration sequences built on them."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from panoptes_network.calibration.frame_kind import FrameType, frame_kind
from panoptes_network.frames.fits_header import read_header_from_bytes
from panoptes_network.simulation.calibration_sequences import (
    calibration_fits_bytes,
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel
from panoptes_network.simulation.detector_response import (
    add_detector_response,
    dark_current,
    fast_lens_vignetting,
    prnu_map,
    vignetting,
    vignetting_map,
)

CAMERA = CameraModel(camera_id="0a1b2c", width=300, height=200, hot_pixel_count=4)
START = datetime(2016, 9, 9, 5, 0, tzinfo=timezone.utc)


def test_vignetting_loses_the_corner_loss_at_the_corners_and_nothing_at_the_centre():
    cx, cy = CAMERA.centre
    corners_x = np.array([0.0, CAMERA.width - 1.0, 0.0, CAMERA.width - 1.0])
    corners_y = np.array([0.0, 0.0, CAMERA.height - 1.0, CAMERA.height - 1.0])
    assert vignetting(CAMERA, corners_x, corners_y) == pytest.approx(0.65, abs=1e-12)
    assert vignetting(CAMERA, cx, cy) == pytest.approx(1.0)
    assert vignetting(CAMERA, corners_x, corners_y, corner_loss=0.3) == pytest.approx(0.7)
    # half way to the corner: 1 - 0.35 * (0.5 * 0.25 + 0.5 * 0.0625), flatter than r**2 law
    half = fast_lens_vignetting(cx / 2, cy / 2, (cx, cy), 0.35)
    assert half == pytest.approx(1 - 0.35 * (0.125 + 0.03125))
    assert half > 1 - 0.35 * 0.25
    whole = vignetting_map(CAMERA)
    assert whole.shape == CAMERA.shape and whole.dtype == np.float32
    assert whole.max() <= 1.0 and whole.min() == pytest.approx(0.65, abs=1e-6)
    with pytest.raises(ValueError, match="corner loss"):
        vignetting(CAMERA, cx, cy, corner_loss=1.0)


def test_prnu_is_fixed_by_the_camera_id_with_the_asked_rms():
    first = prnu_map(CAMERA, 0.01)
    again = prnu_map(CameraModel(camera_id="0a1b2c", width=300, height=200), 0.01)
    other = prnu_map(CameraModel(camera_id="0a1b2d", width=300, height=200), 0.01)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.std() == pytest.approx(0.01, rel=0.02)
    assert first.mean() == pytest.approx(1.0, abs=1e-3)
    assert not first.flags.writeable


def test_dark_current_doubles_every_6_degrees_from_0_1_at_20():
    assert dark_current(20.0) == pytest.approx(0.1)
    assert dark_current(26.0) == pytest.approx(0.2)
    assert dark_current(8.0) == pytest.approx(0.025)
    assert np.allclose(dark_current(np.array([14.0, 32.0])), [0.05, 0.4])


def test_detector_response_multiplies_light_by_prnu_and_adds_dark():
    light = np.full(CAMERA.shape, 1000.0, dtype=np.float32)
    out = add_detector_response(light, CAMERA, exptime=100.0, temperature_c=26.0)
    expected = 1000.0 * prnu_map(CAMERA) + 0.2 * 100.0
    assert np.allclose(out, expected, rtol=1e-6)


def test_a_dark_sequence_has_the_dark_current_of_its_temperature_and_pocs_cards():
    frames = simulate_dark_sequence(
        CAMERA, start=START, n_frames=2, exptime=300.0, temperature_c=32.0
    )
    assert len(frames) == 2 and frames[1].time > frames[0].time
    level_e = (np.median(frames[0].pixels) - CAMERA.bias_adu) * CAMERA.gain
    assert level_e == pytest.approx(0.4 * 300.0, abs=2 * CAMERA.gain)  # 120 e-
    header = read_header_from_bytes(calibration_fits_bytes(frames[0]))
    assert header["IMAGETYP"] == "Dark Frame"
    assert header["FIELD"] == "Dark"
    assert header["CAMTEMP"] == "32 C"
    assert header["EXPTIME"] == 300.0
    assert header["INSTRUME"] == CAMERA.camera_id
    assert frame_kind(header, frames[0].path.object_name).type is FrameType.DARK


def test_a_twilight_flat_sequence_follows_the_sky_and_holds_the_level():
    frames = simulate_flat_sequence(CAMERA, start=START, n_frames=5, target_fraction=0.5)
    exptimes = [f.exptime for f in frames]
    assert all(b > a for a, b in zip(exptimes, exptimes[1:], strict=False))  # evening: darker
    rates = [f.sky_rate_e_per_s for f in frames]
    assert all(b < a for a, b in zip(rates, rates[1:], strict=False))
    full_well = CAMERA.saturation_adu - CAMERA.bias_adu
    for frame in frames:
        level = frame.pixels.mean() - CAMERA.bias_adu
        assert level == pytest.approx(0.5 * full_well, rel=0.05)
    header = read_header_from_bytes(calibration_fits_bytes(frames[0]))
    assert header["IMAGETYP"] == "Light Frame" and header["FIELD"] == "EveningFlat"
    assert frame_kind(header).type is FrameType.FLAT
    # the corners are vignetted by the fast lens: G pixels at a corner versus the centre
    pixels = frames[0].pixels.astype(float) - CAMERA.bias_adu
    corner = pixels[0:6:2, 0:6:2].mean()  # G2 sites near (0, 0)
    rows, cols = CAMERA.shape
    centre = pixels[rows // 2 - 4 : rows // 2 + 4 : 2, cols // 2 - 4 : cols // 2 + 4 : 2].mean()
    assert corner / centre == pytest.approx(0.65, abs=0.03)
