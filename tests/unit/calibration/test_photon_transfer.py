"""Photon transfer on simulated calibration frames of a camera whose constants are not the
nominal ones: gain and read noise within 5 % of the truth, saturation within 1 %."""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.calibration.photon_transfer import (
    measure_bias,
    photon_transfer,
    saturation_from_histogram,
)
from panoptes_network.simulation.camera import CameraModel
from panoptes_network.simulation.render import digitise

#: A camera unlike the nominal one (bias 2048, gain 1.5, read noise 10.5, white 11530).
CAMERA = CameraModel(
    camera_id="0a1b2c",
    width=600,
    height=400,
    bias_adu=2040.0,
    gain=1.83,
    read_noise=7.2,
    saturation_adu=11892,
)


def _flat(level_e: float, rng: np.random.Generator, prnu: np.ndarray) -> np.ndarray:
    """A flat: per-colour levels (the lamp is not white), vignetting and PRNU fixed per pixel."""
    rows, cols = np.indices(CAMERA.shape)
    colour = np.where((rows % 2 == 1) & (cols % 2 == 0), 0.6, 1.0)  # red is fainter
    colour = np.where((rows % 2 == 0) & (cols % 2 == 1), 0.8, colour)  # so is blue
    vignetting = CAMERA.vignetting(cols.astype(float), rows.astype(float))
    electrons = (level_e * colour * vignetting * prnu).astype(np.float32)
    return digitise(electrons, CAMERA, rng)


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(15)
    prnu = 1.0 + 0.01 * rng.standard_normal(CAMERA.shape)
    zero = np.zeros(CAMERA.shape, dtype=np.float32)
    biases = (digitise(zero, CAMERA, rng), digitise(zero, CAMERA, rng))
    pairs = [(_flat(e, rng, prnu), _flat(e, rng, prnu)) for e in (2000.0, 6000.0, 12000.0)]
    return biases, pairs, prnu, rng


def test_gain_and_read_noise_are_measured_within_5_percent(frames):
    biases, pairs, _, _ = frames
    found = photon_transfer(biases, pairs, pattern="RGGB")
    assert found.gain_e_per_adu == pytest.approx(CAMERA.gain, rel=0.05)
    assert found.read_noise_e == pytest.approx(CAMERA.read_noise, rel=0.05)
    assert found.bias_adu == pytest.approx(CAMERA.bias_adu, abs=0.5)
    assert set(found.planes) == {"R", "G1", "G2", "B"}
    assert found.gain_scatter < 0.05
    # one pair alone gives it too
    alone = photon_transfer(biases, pairs[1:2], pattern="RGGB")
    assert alone.gain_e_per_adu == pytest.approx(CAMERA.gain, rel=0.05)


def test_a_hot_pixel_and_a_cosmic_ray_do_not_bias_the_gain(frames):
    biases, pairs, _, _ = frames
    f1, f2 = (f.copy() for f in pairs[1])
    f1[200:203, 300:303] = 11000  # a cosmic ray in one flat only
    f1[100, 100] = f2[100, 100] = 9000  # a hot pixel in both
    found = photon_transfer(biases, [(f1, f2)], pattern="RGGB")
    assert found.gain_e_per_adu == pytest.approx(CAMERA.gain, rel=0.05)


def test_the_white_level_comes_from_an_over_exposed_flat_within_1_percent(frames):
    _, _, prnu, rng = frames
    assert saturation_from_histogram(_flat(40_000.0, rng, prnu)) == pytest.approx(
        CAMERA.saturation_adu, rel=0.01
    )
    assert saturation_from_histogram(_flat(3_000.0, rng, prnu)) is None


def test_bad_calibration_frames_are_refused_with_the_reason(frames):
    biases, pairs, _, _ = frames
    with pytest.raises(ValueError, match="at least one pair"):
        photon_transfer(biases, [], pattern="RGGB")
    with pytest.raises(ValueError, match="different shapes"):
        photon_transfer(biases, [(pairs[0][0], pairs[0][1][:-2])], pattern="RGGB")
    with pytest.raises(ValueError, match="flat pair 0: no signal above the bias"):
        photon_transfer(biases, [biases], pattern="RGGB")
    with pytest.raises(ValueError, match="no bias frame"):
        measure_bias([])
