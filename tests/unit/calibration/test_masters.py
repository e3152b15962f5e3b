"""Dark and flat masters from simulated sequences with known truth, and the sequences they
refuse: light leaks, saturated or dark flats, too few frames, frames that do not fit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from panoptes_network.calibration.frame_kind import FrameType
from panoptes_network.calibration.master_record import (
    Master,
    master_fits_bytes,
    night_of,
    read_master_fits,
    temperature_bin,
    week_of,
)
from panoptes_network.calibration.masters import (
    MIN_DARK_FRAMES,
    build_dark_master,
    build_flat_master,
)
from panoptes_network.frames.camera import bayer_slices
from panoptes_network.simulation.calibration_sequences import (
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel, hot_pixels
from panoptes_network.simulation.detector_response import dark_current, response_map

CAMERA = CameraModel(camera_id="0a1b2c", width=300, height=200, hot_pixel_count=6)
EVENING = datetime(2016, 9, 9, 5, 0, tzinfo=timezone.utc)  # 19:00 in Hawaii
LONGITUDE = -155.58
CONSTANTS = {
    "camera_id": CAMERA.camera_id,
    "bias_adu": CAMERA.bias_adu,
    "saturation_adu": CAMERA.saturation_adu,
    "gain": CAMERA.gain,
    "read_noise_e": CAMERA.read_noise,
}


def _dark(frames, exptime=300.0, temperature_c=32.0, **kwargs):
    return build_dark_master(
        [f.pixels for f in frames],
        exptime=exptime,
        temperature_c=temperature_c,
        times=[f.time for f in frames],
        frame_ids=[f.image_id for f in frames],
        **{**CONSTANTS, **kwargs},
    )


def _flat(sequence, frames=None, **kwargs):
    return build_flat_master(
        [f.pixels for f in sequence] if frames is None else frames,
        bayer_pattern="RGGB",
        times=[f.time for f in sequence],
        longitude_deg=LONGITUDE,
        exptimes=[f.exptime for f in sequence],
        frame_ids=[f.image_id for f in sequence],
        **{**CONSTANTS, **kwargs},
    )


@pytest.fixture(scope="module")
def darks():
    return simulate_dark_sequence(
        CAMERA, start=EVENING, n_frames=8, exptime=300.0, temperature_c=32.0, seed=3
    )


@pytest.fixture(scope="module")
def flats():
    return simulate_flat_sequence(CAMERA, start=EVENING, n_frames=8, stars_per_frame=4, seed=4)


def test_a_dark_master_holds_the_dark_current_and_hot_pixels(darks):
    master = _dark(darks)
    assert master.valid and master.reason is None
    assert master.kind is FrameType.DARK
    assert master.data.dtype == np.float32 and master.data.shape == CAMERA.shape
    expected_adu = dark_current(32.0) * 300.0 / CAMERA.gain  # 120 e-
    assert np.median(master.data) == pytest.approx(expected_adu, abs=0.5)
    hot = hot_pixels(CAMERA)
    truth = hot.dark_current * 300.0 / CAMERA.gain + expected_adu
    unsaturated = truth < CAMERA.saturation_adu - CAMERA.bias_adu - 200
    assert unsaturated.sum() >= 3
    found = master.data[hot.rows, hot.cols][unsaturated]
    assert found == pytest.approx(truth[unsaturated], rel=0.05)
    # 8 frames: the master's noise is a third of one frame's
    assert master.quality_figure == pytest.approx(1 / np.sqrt(8), rel=0.1)
    assert master.frames_used == tuple(f.image_id for f in darks)
    assert master.temperature_bin_c == 30.0
    assert master.bin_key == "0a1b2c_dark_300s_30C"
    assert master.master_id == "0a1b2c_dark_300s_30C_20160909T050000"


def test_a_cosmic_ray_is_rejected(darks):
    frames = [f.pixels.copy() for f in darks]
    clean = _dark(darks).data[50, 60]
    frames[2][50, 60] = 9000
    master = build_dark_master(
        frames,
        exptime=300.0,
        temperature_c=32.0,
        times=[f.time for f in darks],
        **CONSTANTS,
    )
    assert master.rejection.per_frame[2] > master.rejection.per_frame[1]
    assert master.data[50, 60] == pytest.approx(clean, abs=10.0)


def test_a_dark_with_a_light_leak_is_refused_with_the_reason():
    leaky = simulate_dark_sequence(
        CAMERA,
        start=EVENING,
        n_frames=6,
        exptime=300.0,
        temperature_c=32.0,
        light_leak_e_per_s=2.0,
        seed=5,
    )
    corner = np.median(leaky[0].pixels[:20, :20]) - CAMERA.bias_adu
    assert corner * CAMERA.gain > 300  # the leak took: hundreds of electrons at the corner
    master = _dark(leaky)
    assert not master.valid and master.data is None
    assert master.status == "refused"
    assert "0a1b2c" in master.reason and "0 usable frames of 6" in master.reason
    assert "light leak" in master.reason and leaky[0].image_id in master.reason
    assert len(master.rejection.frames_refused) == 6
    with pytest.raises(ValueError, match="refused"):
        master_fits_bytes(master)


def test_too_few_darks_are_refused(darks):
    master = _dark(darks[: MIN_DARK_FRAMES - 1])
    assert not master.valid
    assert f"at least {MIN_DARK_FRAMES} needed" in master.reason


def test_a_frame_of_another_exposure_or_shape_is_left_out(darks):
    frames = [f.pixels for f in darks]
    frames[1] = frames[1][:100]
    exptimes = [300.0] * len(darks)
    exptimes[3] = 60.0
    master = build_dark_master(
        frames,
        exptime=300.0,
        temperature_c=32.0,
        exptimes=exptimes,
        times=[f.time for f in darks],
        **CONSTANTS,
    )
    assert master.valid
    assert len(master.frames_used) == len(darks) - 2
    reasons = {r.frame_id: r.reason for r in master.rejection.frames_refused}
    assert "shape (100, 300)" in reasons["frame 1"]
    assert "exposure 60 s" in reasons["frame 3"]


def test_a_bias_master_is_binned_as_a_bias():
    biases = simulate_dark_sequence(CAMERA, start=EVENING, n_frames=5, exptime=0.0, seed=6)
    master = _dark(biases, exptime=0.0, temperature_c=11.0)
    assert master.valid and master.kind is FrameType.BIAS
    assert master.bin_key == "0a1b2c_bias_10C"
    assert abs(np.median(master.data)) <= 0.5


def test_a_flat_master_recovers_the_response_per_colour(flats):
    master = _flat(flats)
    assert master.valid, master.reason
    rows, cols = slice(50, 150), slice(74, 226)  # the central region (half of each side)
    truth = response_map(CAMERA)
    for colour, slices in bayer_slices("RGGB", CAMERA.shape).items():
        central = np.concatenate([master.data[rows, cols][s].ravel() for s in slices])
        assert central.mean() == pytest.approx(1.0, abs=1e-5)
        found = np.concatenate([master.data[s].ravel() for s in slices])
        true = np.concatenate([truth[s].ravel() for s in slices])
        true = true / np.concatenate([truth[rows, cols][s].ravel() for s in slices]).mean()
        error = found / true - 1.0
        noise = master.quality[f"noise_{colour}"]
        assert 0.002 < noise < 0.008
        assert np.std(error) == pytest.approx(noise, rel=0.15)  # the noise figure is honest
        assert np.abs(error).max() < 6 * noise  # stars in the flats did not leave a mark
        assert master.quality[f"pixel_scatter_{colour}"] == pytest.approx(0.01, abs=0.003)
    assert master.rejection.values_rejected > 0  # the stars were clipped
    assert master.night == "2016-09-08" and master.week == "2016-W36"
    assert master.bin_key == "0a1b2c_flat_night_2016-09-08"


def test_saturated_flats_are_refused():
    frames = simulate_flat_sequence(CAMERA, start=EVENING, n_frames=6, target_fraction=1.3)
    assert (frames[0].pixels >= CAMERA.saturation_adu).mean() > 0.5
    master = _flat(frames)
    assert not master.valid
    assert "saturated" in master.reason and frames[0].image_id in master.reason


def test_flats_too_dark_are_refused():
    frames = simulate_flat_sequence(
        CAMERA, start=EVENING, n_frames=6, sky_rate_e_per_s=300.0, max_exptime=1.0
    )
    assert frames[-1].pixels.mean() - CAMERA.bias_adu < 1000
    master = _flat(frames)
    assert not master.valid
    assert "too dark" in master.reason


def test_a_flat_subtracts_a_dark_master_scaled_to_its_exposures(flats):
    rate = np.zeros(CAMERA.shape, dtype=np.float32)
    rate[80:90, 100:110] = 500.0  # ADU per second: a glowing patch the dark knows about
    glowing = [(f.pixels + np.rint(rate * f.exptime)).astype(np.uint16) for f in flats]
    assert glowing[0][85, 105] > flats[0].pixels[85, 105] + 400
    dark = Master(
        kind=FrameType.DARK,
        camera_id=CAMERA.camera_id,
        status="valid",
        reason=None,
        data=rate * 10.0,
        shape=CAMERA.shape,
        start=EVENING,
        end=EVENING,
        time=EVENING,
        exptime_s=10.0,
        temperature_c=15.0,
        temperature_bin_c=15.0,
    )
    clean = _flat(flats)
    with_dark = _flat(flats, dark=dark, frames=glowing)
    without = _flat(flats, frames=glowing)
    assert with_dark.valid and with_dark.dark_master_id == dark.master_id
    patch = (slice(80, 90), slice(100, 110))
    assert np.abs(with_dark.data[patch] - clean.data[patch]).max() < 2e-3
    assert (without.data[patch] / clean.data[patch]).min() > 1.05
    with pytest.raises(ValueError, match="exptimes"):
        build_flat_master(
            [f.pixels for f in flats],
            bayer_pattern="RGGB",
            times=[f.time for f in flats],
            longitude_deg=LONGITUDE,
            dark=dark,
            **CONSTANTS,
        )


def test_a_master_round_trips_through_fits_and_its_record_is_json(flats):
    master = _flat(flats)
    record = master.to_record()
    assert json.loads(json.dumps(record)) == record
    assert "data" not in record and record["status"] == "valid"
    again = read_master_fits(master_fits_bytes(master))
    assert np.array_equal(again.data, master.data)
    assert again.to_record() == record


def test_nights_and_temperature_bins():
    evening = night_of(EVENING, LONGITUDE)
    morning = night_of(EVENING + timedelta(hours=11), LONGITUDE)  # 06:00 in Hawaii
    assert evening == morning
    assert week_of(evening) == "2016-W36"
    assert temperature_bin(11.0) == 10.0 and temperature_bin(-1.0) == -5.0
