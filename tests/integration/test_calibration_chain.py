"""A new camera's darks and flats through the real stack: measured, built, frames sent on.

The camera is in no registry and its frames' headers give only the white level and the
pattern, so its science frame waits with ``calibration_error``; build-calibrations' sweep
(called as the scheduler calls it) measures the camera from the calibration frames that came
through the upload chain, builds its masters, and sends the waiting frame on.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from panoptes_network.simulation.calibration_sequences import (
    calibration_fits_bytes,
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel
from panoptes_network.simulation.unit import Unit
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

TWILIGHT = datetime(2016, 9, 9, 4, 0, tzinfo=timezone.utc)


def test_a_new_cameras_calibration_frames_measure_it_and_free_its_waiting_frame(
    stack, unit_ids, panoptes_data
):
    unit_id, camera_id = unit_ids
    stack.firestore.collection("cameras").document(camera_id).delete()  # never registered
    camera = CameraModel(camera_id, width=200, height=150, hot_pixel_count=0)
    unit = Unit(unit_id)
    biases = simulate_dark_sequence(
        camera,
        start=TWILIGHT + timedelta(minutes=40),
        n_frames=5,
        exptime=0.00025,
        temperature_c=12.0,
        unit=unit,
        seed=1,
    )
    flats = simulate_flat_sequence(camera, start=TWILIGHT, n_frames=6, unit=unit, seed=2)
    science = f"{unit_id}_{camera_id}_20160909T081226"
    for frame in [*biases, *flats]:
        stack.upload(frame.path.object_name, calibration_fits_bytes(frame))
    stack.upload(
        f"{unit_id}/{camera_id}/20160909T081152/20160909T081226.fits",
        (panoptes_data / "tiny.fits").read_bytes(),
    )

    def status(image_id):
        return (stack.doc("images", image_id) or {}).get("status")

    ids = [f.image_id for f in [*biases, *flats]]
    wait_for(  # "uploaded" is the brief state before record-image has read the header
        "every frame recorded",
        lambda: all(status(i) not in (None, "uploaded") for i in [*ids, science]),
        180,
    )
    assert status(science) == "calibration_error"

    time.sleep(1.0)  # the sequence is quiet for 0.6 s (quiet_minutes 0.01)
    answer = requests.post(
        stack.url("build-calibrations") + "sweep",
        data=json.dumps({"quiet_minutes": 0.01}),
        headers={"Content-Type": "application/json", **stack.as_caller("build-calibrations")},
        timeout=600,
    )
    assert answer.status_code == 202, answer.text
    built = answer.json()["cameras"][camera_id]
    assert built["masters"]["valid"] == 2, built
    (constants,) = built["constants"]
    assert constants["status"] == "valid"
    assert constants["values"]["gain_e_per_adu"] == pytest.approx(camera.gain, rel=0.05)
    assert built["resent"]["record-image"] == len(ids) + 1

    def freed():
        doc = stack.doc("images", science)
        return doc if doc and doc.get("status") not in (None, "calibration_error") else None

    doc = wait_for("the science frame sent on", freed, 180)
    gain = doc["camera_constants"]["gain_e_per_adu"]
    assert gain["source"] == "measured" and gain["detail"].startswith(
        f"calibrations/{camera_id}_constants_2016-09-08"
    )
    wait_for(
        "the calibration frames recorded as such",
        lambda: all(status(i) == "calibration_frame" for i in ids),
        180,
    )
    master = stack.doc("calibrations", f"{camera_id}_constants_2016-09-08")
    assert master["kind"] == "constants" and master["green_diagonal"] == "main"
