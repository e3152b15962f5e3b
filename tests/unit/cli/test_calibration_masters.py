"""bin/calibration-masters: progress, then per camera the masters built and refused with reasons."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from panoptes_network.cli.calibration_masters import main, run
from panoptes_network.simulation.calibration_sequences import (
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel
from tests.unit.calibration.recorded_frames import record_calibration_frames

CAMERA = CameraModel("ee04d1", width=80, height=60, hot_pixel_count=0)
EVENING = datetime(2016, 9, 9, 4, 0, tzinfo=timezone.utc)


@pytest.fixture
def recorded(ctx):
    darks = simulate_dark_sequence(CAMERA, start=EVENING, n_frames=5, seed=1)
    leaky = simulate_dark_sequence(
        CAMERA,
        start=datetime(2016, 9, 10, 5, 0, tzinfo=timezone.utc),
        n_frames=5,
        light_leak_e_per_s=3.0,
        seed=2,
    )
    flats = simulate_flat_sequence(CAMERA, start=EVENING.replace(hour=3), n_frames=5, seed=3)
    record_calibration_frames(ctx, [*darks, *leaky, *flats])
    return ctx


def test_every_camera_with_calibration_frames_is_built_and_summarised(recorded, capsys):
    (report,) = run(recorded, [])
    out, err = capsys.readouterr()
    assert report.camera_id == "ee04d1"
    first, *rest = out.splitlines()
    assert first.startswith("calibration-masters: camera ee04d1: 15 calibration frames, 15 read")
    assert "masters built: 2, refused: 1, unchanged: 0" in first
    assert any(line.startswith("  built ee04d1_dark_120s_15C_") for line in rest)
    (refused,) = [line for line in rest if line.startswith("  refused")]
    assert "light leak" in refused
    assert "calibration-masters: ee04d1: [3/3]" in err  # progress, on standard error
    run(recorded, ["ee04d1"], as_json=True)
    (again,) = json.loads(capsys.readouterr().out)
    assert [o["status"] for o in again["outcomes"]] == ["unchanged"] * 3


def test_a_network_without_calibration_frames_says_so(ctx, capsys):
    assert run(ctx, []) == []
    assert "no camera has calibration observations" in capsys.readouterr().err


def test_a_bad_camera_id_is_refused_before_any_cloud_client(capsys):
    assert main(["--camera", "PAN001"]) == 2
    assert "'PAN001' is not 6 lower-case hex characters" in capsys.readouterr().err
