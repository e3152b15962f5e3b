"""A camera's registry entry measured from its simulated calibration frames.

The camera is not the nominal one (its electronics are drawn from its id), so a default
would show: gain and read noise must come within 5 % of the truth, saturation within 1 %.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from panoptes_network.calibration.camera_measurement import (
    CalibrationFrameFile,
    measure_camera,
    registry_entry,
)
from panoptes_network.calibration.photon_transfer import green_diagonal, pattern_diagonal
from panoptes_network.frames.camera_constants import resolve_camera_constants
from panoptes_network.simulation.calibration_sequences import (
    as_frame_files,
    photon_transfer_set,
)
from panoptes_network.simulation.camera import CameraModel

CAMERA = CameraModel("0a1b2c", width=600, height=400)
START = datetime(2026, 8, 20, 4, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def frames() -> list[CalibrationFrameFile]:
    return as_frame_files(photon_transfer_set(CAMERA, start=START, seed=4))


def test_the_entry_is_the_cameras_own_within_the_acceptance(frames):
    measured = measure_camera(frames, CAMERA.camera_id)
    entry = measured.entry
    print(
        f"gain {entry['gain_e_per_adu'] / CAMERA.gain - 1:+.2%}, read noise "
        f"{entry['read_noise_e'] / CAMERA.read_noise - 1:+.2%}, saturation "
        f"{entry['saturation_adu'] / CAMERA.saturation_adu - 1:+.2%}, bias "
        f"{entry['bias_adu'] - CAMERA.bias_adu:+.2f} ADU"
    )
    assert entry["gain_e_per_adu"] == pytest.approx(CAMERA.gain, rel=0.05)
    assert entry["read_noise_e"] == pytest.approx(CAMERA.read_noise, rel=0.05)
    assert entry["saturation_adu"] == pytest.approx(CAMERA.saturation_adu, rel=0.01)
    assert entry["bias_adu"] == pytest.approx(CAMERA.bias_adu, abs=1.0)
    assert entry["bayer_pattern"] == "RGGB"
    assert entry["gain_e_per_adu_source"].startswith("photon transfer of 2 bias frames and 3")
    assert len(measured.flat_pairs) == 3 and len(measured.biases) == 2
    assert measured.gain_scatter < 0.05
    # A frame resolved against the entry takes every constant from it, saying so.
    constants = resolve_camera_constants(CAMERA.camera_id, None, registry=entry)
    assert constants["gain_e_per_adu"] == entry["gain_e_per_adu"]
    assert "photon transfer" in constants.values["read_noise_e"].detail


def test_missing_frames_are_named(frames):
    biases, flats = frames[:2], frames[2:8]
    with pytest.raises(ValueError, match="two bias"):
        measure_camera(frames[1:], CAMERA.camera_id)
    with pytest.raises(ValueError, match="pair of consecutive flats"):
        measure_camera([*biases, flats[0]], CAMERA.camera_id)
    measured = measure_camera([*biases, *flats], CAMERA.camera_id)
    assert "saturation_adu" not in measured.entry
    assert any("white level is not measured" in note for note in measured.notes)


def test_values_given_by_hand_are_checked():
    entry = registry_entry({"gain_e_per_adu": 1.6, "bias_adu": 2048, "read_noise_e": None}, "lab")
    assert entry == {
        "gain_e_per_adu": 1.6,
        "gain_e_per_adu_source": "lab",
        "bias_adu": 2048.0,
        "bias_adu_source": "lab",
    }
    with pytest.raises(ValueError, match="gain_e_per_adu = -1"):
        registry_entry({"gain_e_per_adu": -1}, "lab")
    with pytest.raises(ValueError, match="not a camera constant"):
        registry_entry({"gain": 1.5}, "lab")
    with pytest.raises(ValueError, match="not above the bias"):
        registry_entry({"bias_adu": 3000, "saturation_adu": 2000}, "lab")
    with pytest.raises(ValueError, match="source"):
        registry_entry({"bias_adu": 3000}, " ")


def _with(frame: CalibrationFrameFile, *, pixels=None, drop_filter=False) -> CalibrationFrameFile:
    header = frame.header.copy()
    if drop_filter:
        del header["FILTER"]
    return CalibrationFrameFile(frame.name, header, frame.pixels if pixels is None else pixels)


def test_the_flats_green_sites_check_the_pattern(frames):
    rows = frames[0].pixels.shape[0]
    measured = measure_camera(frames, CAMERA.camera_id)
    assert measured.green_diagonal == pattern_diagonal("RGGB", rows) == "main"
    # Cropped by one column, the frames put red and green where FILTER says green and red.
    shifted = [_with(f, pixels=f.pixels[:, 1:]) for f in frames]
    with pytest.raises(ValueError, match="cropped by an odd row or column"):
        measure_camera(shifted, CAMERA.camera_id)
    # Without FILTER the pattern is not measured, but the green diagonal narrows it to two.
    bare = measure_camera(
        [_with(f, drop_filter=True) for f in frames], CAMERA.camera_id, pattern_required=False
    )
    assert "bayer_pattern" not in bare.entry and bare.green_diagonal == "main"
    assert any("(RGGB or BGGR)" in note for note in bare.notes), bare.notes
    assert bare.entry["gain_e_per_adu"] == measured.entry["gain_e_per_adu"]
    with pytest.raises(ValueError, match="Bayer pattern; one is needed"):
        measure_camera([_with(f, drop_filter=True) for f in frames], CAMERA.camera_id)


def test_a_flat_without_colour_contrast_leaves_the_phase_undecided():
    rng = np.random.default_rng(3)
    grey = rng.normal(3000.0, 20.0, (200, 300))
    assert green_diagonal(grey, bias=2048.0) is None
    tinted = grey.copy()
    tinted[0::2, 1::2] *= 1.2  # one site of the anti-diagonal brighter: red or blue
    assert green_diagonal(tinted, bias=2048.0) == "main"
