"""A camera's constants measured from a night's darks and flats, and used by its frames.

Simulated POCS sequences of camera ``14d3bd`` (known bias, gain, read noise) go through
record-image with an empty registry, so only a measurement can give the constants; the
nightly measurement is checked against the simulator's truth and then resolved for a frame
of that camera.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from astropy.io import fits

from panoptes_network.calibration.build_masters import calibration_frame_docs
from panoptes_network.calibration.measured_constants import (
    constants_record_id,
    measure_nightly_constants,
)
from panoptes_network.frames.camera_constants import MissingCameraConstant
from panoptes_network.frames.camera_registry import MEASURED_KIND, camera_constants_for
from panoptes_network.pipeline.schema import CALIBRATIONS, MasterStatus
from panoptes_network.simulation.calibration_sequences import (
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel
from tests.unit.calibration.recorded_frames import record_calibration_frames

CAMERA = CameraModel("14d3bd", width=400, height=300, hot_pixel_count=0)
TWILIGHT = datetime(2016, 9, 9, 4, 0, tzinfo=timezone.utc)  # 18:00 in Hawaii, 8 September
NIGHT = "2016-09-08"


def _night(ctx, start=TWILIGHT, n_biases=3, n_flats=8, seed=1):
    biases = simulate_dark_sequence(
        CAMERA,
        start=start + timedelta(minutes=40),
        n_frames=n_biases,
        exptime=0.00025,
        temperature_c=12.0,
        seed=seed,
    )
    flats = simulate_flat_sequence(CAMERA, start=start, n_frames=n_flats, seed=seed + 1)
    record_calibration_frames(ctx, [*biases, *flats])


def _measure(ctx):
    frames, _ = calibration_frame_docs(ctx.documents, CAMERA.camera_id)
    return measure_nightly_constants(ctx, CAMERA.camera_id, frames)


def _header(when: datetime) -> fits.Header:
    """A science frame's header with the white level and pattern a Canon writes, nothing else."""
    return fits.Header(
        {"DATE-OBS": when.strftime("%Y-%m-%dT%H:%M:%S"), "FILTER": "RGGB", "WHTLVLN": 11765}
    )


@pytest.fixture(scope="module")
def measured(make_ctx):
    ctx = make_ctx(cameras={})
    _night(ctx)
    return ctx, _measure(ctx)


def test_a_night_of_biases_and_flats_measures_the_camera_within_5_percent(measured):
    ctx, outcomes = measured
    (outcome,) = outcomes
    assert (outcome.night, outcome.status) == (NIGHT, MasterStatus.VALID)
    record = ctx.documents.get(CALIBRATIONS, constants_record_id(CAMERA.camera_id, NIGHT))
    assert record["kind"] == MEASURED_KIND and record["status"] == MasterStatus.VALID
    assert record["gain_e_per_adu"] == pytest.approx(CAMERA.gain, rel=0.05)
    assert record["read_noise_e"] == pytest.approx(CAMERA.read_noise, rel=0.05)
    assert record["bias_adu"] == pytest.approx(CAMERA.bias_adu, abs=1.0)
    assert "photon transfer" in record["gain_e_per_adu_source"]
    assert len(record["biases"]) == 2 and len(record["flat_pairs"]) >= 2


def test_a_frame_without_header_constants_uses_the_nights_measurement(measured):
    ctx, _ = measured
    constants = camera_constants_for(
        ctx.documents, CAMERA.camera_id, _header(TWILIGHT + timedelta(hours=5))
    )
    gain = constants.values["gain_e_per_adu"]
    assert gain.source == "measured"
    assert gain.detail.startswith(f"calibrations/{CAMERA.camera_id}_constants_{NIGHT} (")
    assert constants.values["bias_adu"].source == "measured"
    assert constants.values["read_noise_e"].source == "measured"
    assert constants.values["bayer_pattern"].source == "header"


def test_a_second_run_measures_nothing_again(measured):
    ctx, _ = measured
    before = ctx.documents.get(CALIBRATIONS, constants_record_id(CAMERA.camera_id, NIGHT))
    (again,) = _measure(ctx)
    assert again.status == "unchanged"
    assert ctx.documents.get(CALIBRATIONS, again.record_id) == before


def test_a_night_with_one_bias_is_refused_with_the_reason_and_never_used(make_ctx):
    ctx = make_ctx(cameras={})
    _night(ctx, n_biases=1)
    (outcome,) = _measure(ctx)
    assert outcome.status == MasterStatus.REFUSED and "two bias" in outcome.reason
    record = ctx.documents.get(CALIBRATIONS, outcome.record_id)
    assert record["status"] == MasterStatus.REFUSED and record["gain_e_per_adu"] is None
    with pytest.raises(MissingCameraConstant, match="bias_adu"):
        camera_constants_for(ctx.documents, CAMERA.camera_id, _header(TWILIGHT))


def _record(ctx, night: str, when: datetime, gain: float, status=MasterStatus.VALID) -> None:
    ctx.documents.merge(
        CALIBRATIONS,
        constants_record_id(CAMERA.camera_id, night),
        {
            "kind": MEASURED_KIND,
            "camera_id": CAMERA.camera_id,
            "status": status,
            "time": when.isoformat(),
            "gain_e_per_adu": gain,
            "gain_e_per_adu_source": f"test {night}",
        },
    )


def test_the_measurement_nearest_the_frame_is_used_and_refused_ones_never(make_ctx):
    ctx = make_ctx()  # the registry has every constant: the measurement comes before it
    _record(ctx, "2016-09-08", TWILIGHT, 1.2)
    _record(ctx, "2016-10-08", TWILIGHT + timedelta(days=30), 1.6)
    _record(ctx, "2016-09-20", TWILIGHT + timedelta(days=12), 9.9, MasterStatus.REFUSED)
    for days, gain in ((2, 1.2), (13, 1.2), (17, 1.6), (60, 1.6)):
        when = TWILIGHT + timedelta(days=days)
        resolved = camera_constants_for(ctx.documents, CAMERA.camera_id, _header(when))
        assert resolved["gain_e_per_adu"] == gain, days
        assert resolved.values["read_noise_e"].source == "registry"
