"""Stitching units onto one scale: truth recovered with honest errors, degeneracy flagged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from panoptes_network.analysis.stitching import Stitching, UnitOffset, stitch_units

HOUR = 3600.0
T0 = 1.7e9  # POSIX seconds: the transit's centre
DURATION = 2 * HOUR
DEPTH = 0.01  # fractional flux drop
DM = -2.5 * math.log10(1 - DEPTH)  # its magnitude change (about 0.0109 mag)
CADENCE = 120.0
SIGMA = 0.002  # white noise, mag
V = 10.3  # the star's magnitude on the reference scale
ZERO_POINT_B = 0.037  # unit B reads this much fainter than unit A: its offset is -0.037


def _segment(rng, unit, start, stop, *, zero_point=0.0, phase=0.0, sigma=SIGMA, dm=DM):
    """One unit's points from ``start`` to ``stop`` (s from T0), white noise, box transit."""
    t = T0 + np.arange(start + phase, stop, CADENCE)
    inside = np.abs(t - T0) < DURATION / 2
    mag = V + zero_point + dm * inside + rng.normal(0, sigma, t.size)
    return t, mag, np.full(t.size, sigma), np.full(t.size, unit)


def _star(segments):
    t, mag, err, unit = (np.concatenate(column) for column in zip(*segments, strict=True))
    return t, mag, err, unit


def _two_halves(seed, *, sigma=SIGMA, quoted=None):
    """Unit A sees the transit's first half and B its second; they overlap 0.8 h around T0."""
    rng = np.random.default_rng(seed)
    a = _segment(rng, "PAN001", -2.5 * HOUR, 0.4 * HOUR, sigma=sigma)
    b = _segment(
        rng, "PAN012", -0.4 * HOUR, 2.5 * HOUR, zero_point=ZERO_POINT_B, phase=37.0, sigma=sigma
    )
    t, mag, err, unit = _star([a, b])
    if quoted is not None:
        err = np.full(t.size, quoted)
    return t, mag, err, unit


def _pulls(stitching):
    b = stitching.offsets["PAN012"]
    offset_pull = (b.offset_mag - (-ZERO_POINT_B)) / b.offset_err_mag
    depth_pull = (stitching.depth - DEPTH) / stitching.depth_err
    return offset_pull, depth_pull


def test_two_units_across_a_transit_recover_depth_and_offset_within_errors():
    s = stitch_units(*_two_halves(1), event=(T0, DURATION))
    assert s.reference_unit == "PAN001"  # equal points: alphabetical first
    assert not s.degenerate and s.reason == ""
    a, b = s.offsets["PAN001"], s.offsets["PAN012"]
    assert (a.offset_mag, a.offset_err_mag) == (0.0, 0.0)
    assert a.points == b.points == 87
    assert a.overlap_hours == pytest.approx(0.8, abs=2 * CADENCE / HOUR)
    assert b.overlap_hours == pytest.approx(a.overlap_hours)
    assert 0 < b.offset_err_mag < 0.001 and 0 < s.depth_err < 0.001
    offset_pull, depth_pull = _pulls(s)
    assert abs(offset_pull) < 1 and abs(depth_pull) < 1


def test_errors_are_honest_over_200_seeds():
    pulls = np.array(
        [_pulls(stitch_units(*_two_halves(seed), event=(T0, DURATION))) for seed in range(200)]
    )
    within = np.mean(np.abs(pulls) < 1, axis=0)
    assert within == pytest.approx([0.68, 0.68], abs=0.07)
    assert np.all((0.85 < pulls.std(axis=0)) & (pulls.std(axis=0) < 1.15))
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.25)  # unbiased


def test_underestimated_errors_are_scaled_up_by_the_residuals():
    pulls = np.array(
        [
            _pulls(stitch_units(*_two_halves(seed, quoted=SIGMA / 3), event=(T0, DURATION)))
            for seed in range(100)
        ]
    )
    assert np.all((0.8 < pulls.std(axis=0)) & (pulls.std(axis=0) < 1.2))


def test_units_that_never_overlap_are_degenerate_and_left_unsolved():
    rng = np.random.default_rng(3)
    a = _segment(rng, "PAN001", -3 * HOUR, 1.5 * HOUR)
    b = _segment(rng, "PAN012", 4 * HOUR, 6 * HOUR, zero_point=ZERO_POINT_B)
    s = stitch_units(*_star([a, b]), event=(T0, DURATION))
    assert s.reference_unit == "PAN001"  # more points
    assert s.degenerate
    b_offset = s.offsets["PAN012"]
    assert b_offset.offset_mag is None and b_offset.offset_err_mag is None
    assert b_offset.overlap_hours == 0.0 and b_offset.points == 60
    assert s.reason == (
        "PAN012 never overlaps another unit in time: its offset is degenerate with the star's "
        "variability"
    )
    assert "PAN001" not in s.reason
    # The depth comes from the reference's points alone, not pulled by B's unknown offset.
    assert s.depth == pytest.approx(DEPTH, abs=3 * s.depth_err)


def test_too_few_overlapping_points_do_not_link_units():
    rng = np.random.default_rng(4)
    a = _segment(rng, "PAN001", -3 * HOUR, 0.0)
    # Overlap from B's first point to A's last: two points of each.
    b = _segment(rng, "PAN012", -3 * CADENCE, 2 * HOUR, zero_point=ZERO_POINT_B, phase=30.0)
    linked = stitch_units(*_star([a, b]), min_overlap_points=2)
    unlinked = stitch_units(*_star([a, b]), min_overlap_points=3)
    assert not linked.degenerate and linked.offsets["PAN012"].offset_mag is not None
    assert unlinked.degenerate and unlinked.offsets["PAN012"].offset_mag is None


def test_both_units_need_points_in_their_overlap():
    rng = np.random.default_rng(13)
    a = _segment(rng, "PAN001", -3 * HOUR, 3 * HOUR)
    # B's first run is two points 4 min apart inside A's (three of A's points there).
    t = T0 + np.array([0.0, 2 * CADENCE])
    early = (t, V + ZERO_POINT_B + DM + rng.normal(0, SIGMA, 2), np.full(2, SIGMA), ["PAN012"] * 2)
    late = _segment(rng, "PAN012", 5 * HOUR, 7 * HOUR, zero_point=ZERO_POINT_B)
    s = stitch_units(*_star([a, early, late]), min_overlap_points=3)
    assert s.degenerate and s.offsets["PAN012"].offset_mag is None
    assert s.offsets["PAN012"].overlap_hours == pytest.approx(2 * CADENCE / HOUR)
    linked = stitch_units(*_star([a, early, late]), min_overlap_points=2)
    assert not linked.degenerate and linked.offsets["PAN012"].offset_mag is not None


def test_values_that_are_not_finite_are_stored_as_null():
    s = Stitching(
        reference_unit="PAN001",
        offsets={"PAN001": UnitOffset("PAN001", 0.0, math.nan, math.inf, 10)},
        degenerate=False,
        reason="",
        depth=math.nan,
        depth_err=math.inf,
    )
    record = s.to_record()
    _assert_firestore_safe(record)
    assert record["depth"] is None and record["depth_err"] is None
    assert record["offsets"]["PAN001"]["offset_err_mag"] is None
    assert record["offsets"]["PAN001"]["overlap_hours"] == 0.0


def test_a_chain_of_overlaps_connects_every_unit():
    rng = np.random.default_rng(5)
    a = _segment(rng, "PAN001", -3 * HOUR, 0.5 * HOUR)
    b = _segment(rng, "PAN006", 0.0, 2.5 * HOUR, zero_point=-0.021, phase=20.0)
    c = _segment(rng, "PAN012", 2.0 * HOUR, 4.0 * HOUR, zero_point=0.054, phase=50.0)
    s = stitch_units(*_star([a, b, c]), event=(T0, DURATION))
    assert s.reference_unit == "PAN001"
    assert not s.degenerate and s.reason == ""
    assert s.offsets["PAN006"].offset_mag == pytest.approx(0.021, abs=4 * SIGMA / 3)
    assert s.offsets["PAN012"].offset_mag == pytest.approx(-0.054, abs=4 * SIGMA / 3)
    # C overlaps only B, so its offset is less certain than B's.
    assert s.offsets["PAN012"].offset_err_mag > s.offsets["PAN006"].offset_err_mag
    near = 3 * CADENCE / HOUR  # a run ends at its last point, up to a cadence before stop
    assert s.offsets["PAN001"].overlap_hours == pytest.approx(0.5, abs=near)
    assert s.offsets["PAN006"].overlap_hours == pytest.approx(1.0, abs=near)
    assert s.offsets["PAN012"].overlap_hours == pytest.approx(0.5, abs=near)


def test_a_pair_that_overlaps_only_each_other_is_named_as_such():
    rng = np.random.default_rng(6)
    a = _segment(rng, "PAN001", -5 * HOUR, -1 * HOUR)
    b = _segment(rng, "PAN006", 2 * HOUR, 4 * HOUR, zero_point=0.01)
    c = _segment(rng, "PAN012", 3 * HOUR, 5 * HOUR, zero_point=0.02, phase=10.0)
    s = stitch_units(*_star([a, b, c]))
    assert s.degenerate
    assert s.offsets["PAN006"].offset_mag is None and s.offsets["PAN012"].offset_mag is None
    assert "PAN006 overlaps only units not connected to the reference PAN001 (PAN012)" in s.reason
    assert "PAN012 overlaps only units not connected to the reference PAN001 (PAN006)" in s.reason


def test_constant_star_offsets_and_record_round_trip():
    rng = np.random.default_rng(8)
    zero_points = {"PAN001": 0.0, "PAN006": 0.045, "PAN012": -0.018}
    segments = [
        _segment(rng, "PAN001", -4 * HOUR, 0.0, dm=0.0),
        _segment(rng, "PAN006", -1 * HOUR, 2 * HOUR, zero_point=0.045, phase=11.0, dm=0.0),
        _segment(rng, "PAN012", -6 * HOUR, -3 * HOUR, zero_point=-0.018, phase=71.0, dm=0.0),
    ]
    t, mag, err, unit = _star(segments)
    mag[5], err[6], err[7] = np.nan, 0.0, -1.0  # ignored rows
    s = stitch_units(t, mag, err, unit)
    assert s.reference_unit == "PAN001" and not s.degenerate
    assert s.depth is None and s.depth_err is None
    assert s.offsets["PAN001"].points == 120 - 3
    for name, zero_point in zero_points.items():
        o = s.offsets[name]
        assert o.offset_mag == pytest.approx(-zero_point, abs=3 * o.offset_err_mag + 1e-12)

    record = s.to_record()
    assert set(record) == {
        "reference_unit",
        "offsets",
        "degenerate",
        "reason",
        "depth",
        "depth_err",
    }
    assert set(record["offsets"]["PAN006"]) == {
        "offset_mag",
        "offset_err_mag",
        "overlap_hours",
        "points",
    }
    _assert_firestore_safe(record)
    back = Stitching.from_record(record)
    assert back.to_record() == record
    assert back.reference_unit == s.reference_unit and set(back.offsets) == set(s.offsets)
    for name, o in s.offsets.items():
        b = back.offsets[name]
        assert isinstance(b, UnitOffset) and b.unit == name and b.points == o.points
        assert b.offset_mag == pytest.approx(o.offset_mag, abs=1e-6)
        assert b.offset_err_mag == pytest.approx(o.offset_err_mag, abs=1e-6)
        assert b.overlap_hours == pytest.approx(o.overlap_hours, abs=1e-6)


def test_degenerate_record_has_nulls_not_nan_and_round_trips():
    rng = np.random.default_rng(9)
    a = _segment(rng, "PAN001", -3 * HOUR, 1.5 * HOUR)
    b = _segment(rng, "PAN012", 4 * HOUR, 6 * HOUR)
    s = stitch_units(*_star([a, b]), event=(T0, DURATION))
    record = s.to_record()
    _assert_firestore_safe(record)
    assert record["offsets"]["PAN012"]["offset_mag"] is None
    assert record["degenerate"] is True and "PAN012" in record["reason"]
    assert Stitching.from_record(record).to_record() == record
    assert Stitching.from_record(record) == Stitching.from_record(record)


def _assert_firestore_safe(value, *, in_array=False):
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            _assert_firestore_safe(item, in_array=in_array)
    elif isinstance(value, (list, tuple)):
        assert not in_array, "an array inside an array"
        for item in value:
            _assert_firestore_safe(item, in_array=True)
    else:
        assert value is None or type(value) in (str, bool, int, float), type(value)
        assert not (isinstance(value, float) and not math.isfinite(value))


def test_single_unit_star_is_its_own_reference():
    rng = np.random.default_rng(10)
    s = stitch_units(*_segment(rng, "PAN001", -3 * HOUR, 3 * HOUR), event=(T0, DURATION))
    assert s.reference_unit == "PAN001" and not s.degenerate and s.reason == ""
    assert list(s.offsets) == ["PAN001"]
    assert s.offsets["PAN001"].overlap_hours == 0.0
    assert s.depth == pytest.approx(DEPTH, abs=4 * s.depth_err)


def test_event_outside_the_data_gives_no_depth():
    rng = np.random.default_rng(11)
    s = stitch_units(*_segment(rng, "PAN001", 2 * HOUR, 4 * HOUR), event=(T0, DURATION))
    assert s.depth is None and s.depth_err is None


def test_reference_is_the_unit_with_most_points():
    rng = np.random.default_rng(12)
    a = _segment(rng, "PAN001", -1 * HOUR, 1 * HOUR, dm=0.0)
    b = _segment(rng, "PAN012", -2 * HOUR, 2 * HOUR, zero_point=0.03, phase=5.0, dm=0.0)
    s = stitch_units(*_star([a, b]))
    assert s.reference_unit == "PAN012"
    assert s.offsets["PAN012"].offset_mag == 0.0
    assert s.offsets["PAN001"].offset_mag == pytest.approx(0.03, abs=4 * SIGMA / 5)


def test_bad_input_raises_clear_errors():
    t = T0 + CADENCE * np.arange(5)
    mag, err, unit = np.full(5, V), np.full(5, SIGMA), np.full(5, "PAN001")
    with pytest.raises(ValueError, match="same length: time_s 5, mag 4, mag_err 5, unit 5"):
        stitch_units(t, mag[:4], err, unit)
    with pytest.raises(ValueError, match="same length"):
        stitch_units(t, mag, err, unit[:3])
    with pytest.raises(ValueError, match="no usable points among 5"):
        stitch_units(t, np.full(5, np.nan), err, unit)
    with pytest.raises(ValueError, match="no usable points among 5"):
        stitch_units(t, mag, np.zeros(5), unit)
    with pytest.raises(ValueError, match="no usable points among 0"):
        stitch_units([], [], [], [])
    with pytest.raises(ValueError, match="min_overlap_points"):
        stitch_units(t, mag, err, unit, min_overlap_points=0)
    with pytest.raises(ValueError, match="gap_s"):
        stitch_units(t, mag, err, unit, gap_s=-1.0)
    with pytest.raises(ValueError, match="duration_s > 0"):
        stitch_units(t, mag, err, unit, event=(T0, 0.0))
    with pytest.raises(ValueError, match=r"event must be \(t0_s, duration_s\)"):
        stitch_units(t, mag, err, unit, event=(T0,))
