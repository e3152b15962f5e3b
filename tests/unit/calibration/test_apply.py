"""Applying masters to a frame, and choosing the nearest valid master with a note when the
nearest was refused."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from panoptes_network.calibration.apply import calibrate_frame, select_master

WHEN = datetime(2016, 9, 10, 9, 0, tzinfo=timezone.utc)


def test_calibrate_frame_subtracts_bias_and_dark_and_divides_by_the_flat():
    raw = np.array([[2100, 2200], [3000, 11530]], dtype=np.uint16)
    dark = np.array([[2.0, 0.0], [10.0, 0.0]], dtype=np.float32)
    flat = np.array([[0.5, 1.0], [0.0, 0.8]], dtype=np.float32)
    out = calibrate_frame(raw, bias_adu=2048.0, dark=dark, flat=flat, saturation_adu=11530)
    assert out.dtype == np.float32
    assert out[0, 0] == pytest.approx((2100 - 2048 - 2) / 0.5)
    assert out[0, 1] == pytest.approx(152.0)
    assert np.isnan(out[1, 0])  # a dead flat pixel gives no value
    assert out[1, 1] >= 11530 - 2048  # saturated stays saturated
    plain = calibrate_frame(raw, bias_adu=2048.0)
    assert plain[1, 0] == pytest.approx(952.0)
    with pytest.raises(ValueError, match="flat master shape"):
        calibrate_frame(raw, bias_adu=2048.0, flat=np.ones((3, 2)))


def _record(master_id, hours, status="valid", reason=None, **fields):
    return {
        "master_id": master_id,
        "kind": "dark",
        "camera_id": "14d3bd",
        "exptime_s": 120.0,
        "temperature_bin_c": 10.0,
        "status": status,
        "reason": reason,
        "time": (WHEN + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        **fields,
    }


def test_the_nearest_valid_master_is_chosen_without_a_note():
    records = [_record("a", -30), _record("b", 2), _record("c", -5)]
    choice = select_master(records, WHEN, kind="dark", camera_id="14d3bd")
    assert choice.master_id == "b"
    assert choice.separation == timedelta(hours=2)
    assert choice.note is None and choice.refused_nearer == ()


def test_it_falls_back_when_the_nearest_master_was_refused_and_says_why():
    leak = "0 usable frames of 10 ... light leak: the block at row 0, column 0 is 400 ADU"
    records = [
        _record("leaky", 1, status="refused", reason=leak),
        _record("older", -20),
        _record("far", 200),
    ]
    choice = select_master(records, WHEN, kind="dark")
    assert choice.master_id == "older"
    assert choice.note.startswith("fell back to older (20.0 h away) because the nearest")
    assert "leaky" in choice.note and "light leak" in choice.note
    assert [r["master_id"] for r in choice.refused_nearer] == ["leaky"]


def test_no_valid_master_is_said():
    refused = [_record("x", 3, status="refused", reason="too few frames")]
    choice = select_master(refused, WHEN)
    assert choice.record is None
    assert "no valid" in choice.note and "too few frames" in choice.note
    nothing = select_master([], WHEN, kind="flat", camera_id="14d3bd")
    assert nothing.record is None and nothing.note == "no flat master of camera 14d3bd exists"


def test_the_bin_filters_and_the_time_limit_apply():
    records = [
        _record("hot", 1, temperature_bin_c=25.0),
        _record("short", 1, exptime_s=30.0),
        _record("other camera", 1, camera_id="ee0011"),
        _record("right", 50),
    ]
    choice = select_master(records, WHEN, camera_id="14d3bd", exptime=120.4, temperature_c=11.0)
    assert choice.master_id == "right"
    limited = select_master(
        records,
        WHEN,
        camera_id="14d3bd",
        exptime=120.0,
        temperature_c=12.0,
        max_separation=timedelta(days=1),
    )
    assert limited.record is None and "1 further than 24.0 h ignored" in limited.note
