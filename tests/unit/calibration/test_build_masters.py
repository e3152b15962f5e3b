"""Building a camera's masters from its recorded calibration frames, through the ports.

Simulated POCS sequences (biases, darks, evening flats) of camera ``14d3bd`` go through
record-image into the in-memory images bucket and documents; the build step reads them back,
stores masters in the calibrations bucket and ``calibrations`` collection, and is checked
against the simulator's truth (dark current, hot pixels, vignetting times PRNU).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest

from panoptes_network.calibration import build_masters as build_module
from panoptes_network.calibration.build_masters import (
    CalibrationFrameDoc,
    build_camera_masters,
    cameras_with_calibration_frames,
    plan_groups,
)
from panoptes_network.calibration.master_record import read_master_fits
from panoptes_network.calibration.master_store import camera_masters
from panoptes_network.frames.camera import bayer_slices
from panoptes_network.pipeline.context import StoredObject
from panoptes_network.pipeline.schema import CALIBRATIONS, MasterStatus
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.calibration_sequences import (
    simulate_dark_sequence,
    simulate_flat_sequence,
)
from panoptes_network.simulation.camera import CameraModel, hot_pixels
from panoptes_network.simulation.detector_response import dark_current, response_map
from tests.unit.calibration.recorded_frames import record_calibration_frames
from tests.unit.frame_files import unit_frame

S = Settings()
#: A camera the unit tests' registry holds (tests/unit/cameras.py): same electronics by id.
CAMERA = CameraModel("14d3bd", width=160, height=100, hot_pixel_count=4)
TWILIGHT = datetime(2016, 9, 9, 4, 0, tzinfo=timezone.utc)  # 18:00 in Hawaii, 8 September
NIGHT = "2016-09-08"
DARK_EXPTIME, DARK_TEMPERATURE = 120.0, 12.0


def _biases(start=TWILIGHT + timedelta(minutes=40), n=5, seed=1):
    return simulate_dark_sequence(
        CAMERA, start=start, n_frames=n, exptime=0.00025, temperature_c=DARK_TEMPERATURE, seed=seed
    )


def _darks(start=TWILIGHT + timedelta(hours=1), n=6, seed=2, **kwargs):
    return simulate_dark_sequence(
        CAMERA,
        start=start,
        n_frames=n,
        exptime=DARK_EXPTIME,
        temperature_c=DARK_TEMPERATURE,
        seed=seed,
        **kwargs,
    )


def _flats(start=TWILIGHT, n=8, seed=3):
    return simulate_flat_sequence(CAMERA, start=start, n_frames=n, stars_per_frame=3, seed=seed)


@pytest.fixture(scope="module")
def sequences():
    return {"biases": _biases(), "darks": _darks(), "flats": _flats()}


@pytest.fixture
def recorded(ctx, sequences):
    for frames in sequences.values():
        record_calibration_frames(ctx, frames)
    return ctx


def _record(ctx, kind):
    (record,) = [r for r in camera_masters(ctx.documents, CAMERA.camera_id) if r["kind"] == kind]
    return record


def test_each_sequence_becomes_a_stored_master_with_its_record(recorded, sequences):
    ctx = recorded
    lines: list[str] = []
    report = build_camera_masters(ctx, CAMERA.camera_id, progress=lines.append)
    assert report.frames_found == 19 and report.frames_read == 19
    assert [(o.kind, o.status) for o in report.outcomes] == [
        ("bias", "valid"),
        ("dark", "valid"),
        ("flat", "valid"),
    ]
    assert any("3 masters" in line for line in lines) and len(lines) >= 4
    darks = sequences["darks"]
    dark = _record(ctx, "dark")
    assert dark["master_id"] == f"14d3bd_dark_120s_10C_{darks[0].path.image_start}"
    assert dark["frames_used"] == [f.image_id for f in darks] and dark["n_frames_used"] == 6
    assert dark["status"] == MasterStatus.VALID and dark["reason"] is None
    assert dark["rejection"]["values_rejected"] >= 0 and dark["quality_figure"] > 0
    assert dark["group_key"] == f"14d3bd_dark_{NIGHT}_120s_10C"
    # the stored file is the master, and holds the simulator's dark current and hot pixels
    stored = read_master_fits(ctx.store.read(S.calibrations_bucket, dark["fits_path"]))
    assert stored.master_id == dark["master_id"] and stored.data.shape == CAMERA.shape
    expected = dark_current(DARK_TEMPERATURE) * DARK_EXPTIME / CAMERA.gain
    assert np.median(stored.data) == pytest.approx(expected, abs=0.5)
    hot = hot_pixels(CAMERA)
    truth = hot.dark_current * DARK_EXPTIME / CAMERA.gain + expected
    unsaturated = truth < CAMERA.saturation_adu - CAMERA.bias_adu - 200
    assert unsaturated.any()
    found = stored.data[hot.rows, hot.cols][unsaturated]
    assert found == pytest.approx(truth[unsaturated], rel=0.05)


def test_the_flat_master_recovers_the_response_and_subtracts_the_bias_master(recorded):
    ctx = recorded
    build_camera_masters(ctx, CAMERA.camera_id)
    flat, bias = _record(ctx, "flat"), _record(ctx, "bias")
    assert flat["dark_master_id"] == bias["master_id"]
    assert flat["night"] == NIGHT and flat["period"] == "night"
    assert flat["group_key"] == f"14d3bd_flat_night_{NIGHT}"
    master = read_master_fits(ctx.store.read(S.calibrations_bucket, flat["fits_path"]))
    truth = response_map(CAMERA)
    rows, cols = slice(26, 74), slice(40, 120)  # the central half
    for colour, slices in bayer_slices("RGGB", CAMERA.shape).items():
        found = np.concatenate([master.data[s].ravel() for s in slices])
        true = np.concatenate([truth[s].ravel() for s in slices])
        true = true / np.concatenate([truth[rows, cols][s].ravel() for s in slices]).mean()
        error = found / true - 1.0
        assert abs(np.mean(error)) < 0.003, colour
        assert np.std(error) < 5 * flat["quality"][f"noise_{colour}"], colour


def test_a_second_run_builds_nothing_and_writes_nothing(recorded):
    ctx = recorded
    build_camera_masters(ctx, CAMERA.camera_id)
    writes = list(ctx.store.writes)
    docs = sorted(k for c, k in ctx.documents.docs if c == CALIBRATIONS)
    again = build_camera_masters(ctx, CAMERA.camera_id)
    assert [o.status for o in again.outcomes] == ["unchanged"] * 3
    assert again.frames_read == 0
    assert ctx.store.writes == writes
    assert sorted(k for c, k in ctx.documents.docs if c == CALIBRATIONS) == docs


def test_a_group_that_gains_frames_is_rebuilt_under_the_same_id(ctx, sequences):
    darks = _darks(n=8)
    record_calibration_frames(ctx, darks[:6])
    first = build_camera_masters(ctx, CAMERA.camera_id)
    (outcome,) = first.outcomes
    record_calibration_frames(ctx, darks[6:])
    second = build_camera_masters(ctx, CAMERA.camera_id)
    (rebuilt,) = second.outcomes
    assert rebuilt.status == "valid" and rebuilt.master_id == outcome.master_id
    assert (outcome.frames_used, rebuilt.frames_used) == (6, 8)
    (record,) = camera_masters(ctx.documents, CAMERA.camera_id, include_superseded=True)
    assert record["n_frames_used"] == 8


def test_a_group_with_an_earlier_frame_supersedes_the_older_master(ctx):
    darks = _darks(n=7)
    record_calibration_frames(ctx, darks[1:])
    (older,) = build_camera_masters(ctx, CAMERA.camera_id).outcomes
    record_calibration_frames(ctx, darks[:1])
    (newer,) = build_camera_masters(ctx, CAMERA.camera_id).outcomes
    assert newer.master_id != older.master_id and newer.frames_used == 7
    replaced = ctx.documents.get(CALIBRATIONS, older.master_id)
    assert replaced["status"] == MasterStatus.SUPERSEDED
    assert replaced["superseded_by"] == newer.master_id
    assert [r["master_id"] for r in camera_masters(ctx.documents, "14d3bd")] == [newer.master_id]


def test_a_leaky_dark_sequence_is_refused_recorded_and_stores_no_file(ctx):
    leaky = _darks(n=6, seed=7, light_leak_e_per_s=2.0)
    record_calibration_frames(ctx, leaky)
    report = build_camera_masters(ctx, CAMERA.camera_id)
    (outcome,) = report.outcomes
    assert outcome.status == MasterStatus.REFUSED and "light leak" in outcome.reason
    record = ctx.documents.get(CALIBRATIONS, outcome.master_id)
    assert record["status"] == "refused" and "light leak" in record["reason"]
    assert record["fits_path"] is None and record["frames_used"] == []
    assert len(record["rejection"]["frames_refused"]) == 6
    assert record["input_frames"] == sorted(f.image_id for f in leaky)
    assert ctx.store.names(S.calibrations_bucket) == []


def test_too_few_flats_are_refused_with_the_reason(ctx):
    record_calibration_frames(ctx, _flats(n=3))
    (outcome,) = build_camera_masters(ctx, CAMERA.camera_id).outcomes
    assert outcome.status == "refused" and "3 usable frames of 3" in outcome.reason
    assert ctx.documents.get(CALIBRATIONS, outcome.master_id)["kind"] == "flat"


def test_frames_that_cannot_be_binned_or_recorded_are_left_out_with_reasons(make_ctx):
    ctx = make_ctx()
    name = "PAN001/14d3bd/20160909T060000/20160909T060000.fits.fz"
    from panoptes_network.frames.compression import compress_frame
    from panoptes_network.ingest.record import record_image

    frame = unit_frame(IMAGETYP="Dark Frame", FIELD="Dark", EXPTIME=120.0, CAMTEMP=None)
    ctx.store.put(S.images_bucket, name, compress_frame(frame).data)
    record_image(ctx, StoredObject(S.images_bucket, name))
    ctx.documents.merge(
        "images",
        "PAN001_14d3bd_20160909T070000",
        {"camera_id": "14d3bd", "frame_type": "flat", "status": "error", "error_reason": "bad"},
    )
    report = build_camera_masters(ctx, "14d3bd")
    reasons = {s.image_id: s.reason for s in report.skipped_frames}
    assert "CAMTEMP" in reasons["PAN001_14d3bd_20160909T060000"]
    assert reasons["PAN001_14d3bd_20160909T070000"] == "status 'error': bad"
    assert report.outcomes == [] and report.frames_found == 2


def test_frames_wait_memory_mapped_while_a_master_is_built(ctx, sequences, monkeypatch):
    record_calibration_frames(ctx, sequences["biases"])
    seen = []
    real = build_module.build_dark_master

    def spy(frames, **kwargs):
        seen.extend(type(f) for f in frames)
        return real(frames, **kwargs)

    monkeypatch.setattr(build_module, "build_dark_master", spy)
    build_camera_masters(ctx, CAMERA.camera_id)
    assert seen and all(t is np.memmap for t in seen)


def test_the_cameras_with_calibration_observations_are_found(recorded):
    assert cameras_with_calibration_frames(recorded.documents) == ["14d3bd"]


def _doc(image_id, kind, night, exptime=2.0, temperature=15.0, hours=0.0):
    return CalibrationFrameDoc(
        image_id=image_id,
        bucket_path=f"{image_id}.fits.fz",
        frame_type=kind,
        time=datetime(2016, 9, 9, tzinfo=timezone.utc) + timedelta(hours=hours),
        exptime=exptime,
        temperature_c=temperature,
        night=night,
    )


def test_flats_group_by_night_or_by_week_and_darks_by_exposure_and_temperature():
    frames = [
        _doc("f1", "flat", "2016-09-05"),  # Monday of ISO week 36
        _doc("f2", "flat", "2016-09-08"),
        _doc("f3", "flat", "2016-09-12"),  # week 37
        _doc("d1", "dark", "2016-09-08", exptime=120.0, temperature=11.0),
        _doc("d2", "dark", "2016-09-08", exptime=120.4, temperature=14.9),  # same bin
        _doc("d3", "dark", "2016-09-08", exptime=120.0, temperature=15.1),  # next bin
        _doc("d4", "dark", "2016-09-08", exptime=60.0, temperature=11.0),
        _doc("b1", "bias", "2016-09-08", exptime=0.00025, temperature=11.0),
    ]
    nightly, _ = plan_groups("14d3bd", frames)
    weekly, _ = plan_groups("14d3bd", frames, flat_period="week")
    flats = {g.group_key: g.frame_ids for g in weekly if g.kind.value == "flat"}
    assert flats == {"14d3bd_flat_week_2016-W36": ["f1", "f2"], "14d3bd_flat_week_2016-W37": ["f3"]}
    assert len([g for g in nightly if g.kind.value == "flat"]) == 3
    darks = {g.group_key: g.frame_ids for g in nightly if g.kind.value != "flat"}
    assert darks == {
        "14d3bd_dark_2016-09-08_120.2s_10C": ["d1", "d2"],
        "14d3bd_dark_2016-09-08_120s_15C": ["d3"],
        "14d3bd_dark_2016-09-08_60s_10C": ["d4"],
        "14d3bd_bias_2016-09-08_10C": ["b1"],
    }
    assert date.fromisoformat("2016-09-05").isocalendar()[1] == 36
    with pytest.raises(ValueError, match="period"):
        plan_groups("14d3bd", frames, flat_period="month")
