"""bin/cameras: measuring a camera from its calibration files, and bad input named."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from panoptes_network.cli import cameras
from panoptes_network.simulation.calibration_sequences import (
    calibration_fits_bytes,
    photon_transfer_set,
)
from panoptes_network.simulation.camera import CameraModel
from tests.unit.fakes import MemoryDocuments

CAMERA = CameraModel("0b1c2d", width=400, height=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("calibration")
    for frame in photon_transfer_set(CAMERA, start=datetime(2026, 9, 1, 4, tzinfo=timezone.utc)):
        target = root / frame.path.object_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(calibration_fits_bytes(frame))
    return root


def test_measure_dry_run_prints_the_cameras_own_entry(folder, capsys):
    assert cameras.main(["measure", CAMERA.camera_id, str(folder), "--dry-run"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["camera_id"] == CAMERA.camera_id
    assert entry["gain_e_per_adu"] == pytest.approx(CAMERA.gain, rel=0.05)
    assert entry["read_noise_e"] == pytest.approx(CAMERA.read_noise, rel=0.05)
    assert entry["saturation_adu"] == pytest.approx(CAMERA.saturation_adu, rel=0.01)


def test_register_merges_the_entry(folder):
    documents = MemoryDocuments()
    frames = cameras.read_calibration_files([folder])
    assert len(frames) == 9
    cameras.register(documents, "0b1c2d", {"gain_e_per_adu": 1.7, "gain_e_per_adu_source": "x"})
    cameras.register(documents, "0b1c2d", {"read_noise_e": 8.0, "read_noise_e_source": "y"})
    doc = documents.get("cameras", "0b1c2d")
    assert doc["gain_e_per_adu"] == 1.7 and doc["read_noise_e"] == 8.0
    assert doc["camera_id"] == "0b1c2d"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["set", "14D3BD", "--source", "lab", "--gain", "1.5"], "is not six lower-case hex"),
        (["set", "14d3bd", "--source", "lab"], "give at least one value"),
        (["set", "14d3bd", "--source", "lab", "--gain", "-2"], "gain_e_per_adu = -2.0"),
        (["set", "14d3bd", "--source", "lens", "--pixel-scale", "0"], "--pixel-scale 0.0 is not"),
        (["measure", "14d3bd", "/nonexistent/flats"], "/nonexistent/flats does not exist"),
    ],
)
def test_bad_input_is_named_before_any_cloud_client(argv, says, capsys):
    assert cameras.main(argv) == 2
    assert says in capsys.readouterr().err


def test_frames_that_are_not_fits_are_named(tmp_path, capsys):
    (tmp_path / "notes.fits").write_bytes(b"not a FITS file")
    assert cameras.main(["measure", "14d3bd", str(tmp_path)]) == 2
    assert "notes.fits is not a readable FITS frame" in capsys.readouterr().err
