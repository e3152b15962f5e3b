"""One run's contribution: per-star sums and coverage read from its data file."""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.analysis.coverage import Coverage, bin_of
from panoptes_network.analysis.run_sums import RunInput, moon_separation_deg, run_contribution
from panoptes_network.analysis.star_statistics import star_statistics
from panoptes_network.analysis.star_sums import StarSums
from tests.unit.analysis.data_files import CADENCE_S, data_file

START = 1_473_408_000.0  # 2016-09-09T08:00:00Z
SEQ = "PAN001_14d3bd_20160909T080000"


def test_a_run_gives_each_stars_sums_and_its_coverage():
    data = data_file(SEQ, "run1", START, [11, 12, 13], seed=1)
    run = RunInput(SEQ, "run1", "mem://lc.parquet", field_ra=303.2, field_dec=46.0)
    contribution = run_contribution(run, data)
    assert [s.picid for s in contribution.stars] == [11, 12, 13]
    first = star_statistics(contribution.stars[0])
    assert first["units"] == ["PAN001"] and first["n_points"] == 120
    assert first["colours"]["g"]["mean_mag"] == pytest.approx(9.0, abs=0.002)
    coverage = contribution.coverage
    assert coverage.points == 3 * 120
    assert coverage.hours == pytest.approx(3 * 120 * CADENCE_S / 3600)
    airmass = coverage.marginal("airmass")
    assert sum(p for p, _ in airmass.values()) == 360 and set(airmass) == {0, 1, 2, 3}
    assert set(coverage.marginal("unit")) == {"PAN001"}
    assert set(coverage.marginal("moon")) <= {0, 1, 2, 3, 4} and -1 not in coverage.marginal("moon")


def test_the_moon_separation_agrees_with_the_units_own_header():
    # The real PAN001 frame of 2016-09-09T08:12:26 (tiny.fits): mount at RA-MNT 301.56439,
    # DEC-MNT 44.456875, MOONSEP 75.97764 (POCS, topocentric: the Moon's parallax is ~1 deg).
    when = np.array([1_473_408_746.0])
    sep = moon_separation_deg(when, 301.56439, 44.456875)
    assert sep[0] == pytest.approx(75.97764, abs=1.5)
    assert np.isnan(moon_separation_deg(when, None, None)[0])


def test_coverage_of_halves_merges_to_the_whole_bit_for_bit():
    runs = [
        (RunInput(f"PAN00{k}_14d3bd_2016090{k}T080000", "r", "x", 300.0, 40.0), k)
        for k in range(1, 7)
    ]
    parts = [
        run_contribution(run, data_file(run.sequence_id, "r", START + 86400 * k, [1, 2], seed=k))
        for run, k in runs
    ]
    whole = Coverage()
    for part in parts:
        whole.merge(part.coverage)
    first, second = Coverage(), Coverage()
    for part in parts[::2]:
        first.merge(part.coverage)
    for part in parts[1::2]:
        second.merge(part.coverage)
    assert second.merge(first).to_record() == whole.to_record()
    assert Coverage.from_record(whole.to_record()).to_record() == whole.to_record()
    # The same stars' sums merged across the runs equal a merge in reverse order.
    forward = StarSums.merged(1, [p.stars[0] for p in parts])
    backward = StarSums.merged(1, [p.stars[0] for p in parts[::-1]])
    assert forward.to_record() == backward.to_record() and len(forward.units) == 6


def test_bins_and_bad_files():
    assert bin_of(np.array([0.5, 1.0, 1.19, 1.2, 9.0, np.nan]), (1.0, 1.2, 1.5)).tolist() == [
        0,
        0,
        0,
        1,
        2,
        -1,
    ]
    with pytest.raises(ValueError, match="mem://bad: not a Parquet"):
        run_contribution(RunInput(SEQ, "r", "mem://bad"), b"not parquet")
