"""Injection-recovery: the events planned, put into the photometry, and found again."""

from __future__ import annotations

import copy
import math
from datetime import datetime, timezone

import numpy as np
import pytest
from astropy.table import Table

from panoptes_network.analysis import injection as injection_module
from panoptes_network.analysis.completeness import Completeness, completeness_png
from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.detections import SearchOutcome
from panoptes_network.analysis.injection import (
    INJECTION_SALT,
    Injection,
    inject_into_tables,
    plan_injections,
    recover,
)
from panoptes_network.analysis.run_detections import (
    completeness_id,
    injected_documents,
    lightcurve_points,
    run_injections,
    store_recovery,
)
from panoptes_network.analysis.searches import flare_template
from panoptes_network.analysis.star_points import Segment, run_star_points
from panoptes_network.lightcurves.ensemble import differential_lightcurves
from panoptes_network.pipeline.schema import ANALYSIS_COMPLETENESS, DETECTIONS
from panoptes_network.simulation.synthetic_photometry import synthetic_observation
from panoptes_network.simulation.variability import Flare, Transit, exposure_mean
from tests.unit.fakes import MemoryDocuments

T0 = 1_700_000_000.0
CADENCE = 135.0
N = 110
SEGMENT = Segment("PAN001_14d3bd_20231114T220000", "run1", "lc/run1.parquet")
ANALYSIS = Analysis(injections_per_run=12)
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _run_points(n_stars=30, seed=0):
    """One run's stars: errors differ between stars and frames; every tenth star is short."""
    rng = np.random.default_rng(seed)
    out = {}
    for j in range(n_stars):
        picid = 1000 + 7 * j
        n = 15 if j % 10 == 9 else N
        time = T0 + CADENCE * np.arange(n)
        err = rng.uniform(0.002, 0.01) * rng.uniform(0.8, 1.5, n)
        columns = {"flux_g": 1.0 + rng.normal(0.0, err), "flux_err_g": err}
        out[picid] = run_star_points(picid, SEGMENT, time, columns, j * N)
    return out


# --- the plan ------------------------------------------------------------------------------


def test_plan_is_deterministic_for_a_seed():
    points = _run_points()
    first = plan_injections(points, ANALYSIS, np.random.default_rng(3))
    assert first == plan_injections(points, ANALYSIS, np.random.default_rng(3))
    assert first != plan_injections(points, ANALYSIS, np.random.default_rng(4))


def test_plan_picks_eligible_stars_and_alternates_transits_and_flares():
    points = _run_points()
    plan = plan_injections(points, ANALYSIS, np.random.default_rng(3))
    eligible = sorted(p for p, pts in points.items() if pts.size >= ANALYSIS.min_points)
    order = np.random.default_rng(3).permutation(eligible)[: ANALYSIS.injections_per_run].tolist()
    assert len(plan) == ANALYSIS.injections_per_run == 12
    assert [i.picid for i in plan] == sorted(order)  # one event a star, sorted by PICID
    for event in plan:
        expected = "transit" if order.index(event.picid) % 2 == 0 else "flare"
        assert event.kind == expected
    assert sum(i.kind == "transit" for i in plan) == 6
    # More events asked for than stars: every eligible star gets one, never a short one.
    everything = plan_injections(points, Analysis(injections_per_run=100), np.random.default_rng(5))
    assert sorted(i.picid for i in everything) == eligible
    assert not {p for p, pts in points.items() if pts.size < 20} & {i.picid for i in everything}
    assert plan_injections({}, ANALYSIS, np.random.default_rng(0)) == []


def test_planned_events_lie_inside_the_run():
    points = _run_points(n_stars=60, seed=1)
    plan = plan_injections(points, Analysis(injections_per_run=60), np.random.default_rng(6))
    assert len(plan) > 40
    for event in plan:
        pts = points[event.picid]
        start, end = pts.time.min(), pts.time.max()
        assert 3.0 <= event.snr <= 30.0
        if event.kind == "transit":
            assert event.duration_s / 60.0 in ANALYSIS.transit_durations_min
            assert event.duration_s <= 0.6 * (end - start)
            assert start <= event.time_s - event.duration_s / 2
            assert event.time_s + event.duration_s / 2 <= end
            assert event.rise_s == event.decay_s == 0.0
        else:
            assert event.rise_s == 60.0 * ANALYSIS.flare_rise_min
            assert event.decay_s / 60.0 in ANALYSIS.flare_decays_min
            assert event.duration_s == event.rise_s + 3 * event.decay_s
            assert start <= event.time_s - event.rise_s
            assert event.time_s + 2 * event.decay_s <= end


def test_planned_flares_end_inside_the_run():
    points = _run_points(n_stars=60, seed=1)
    plan = plan_injections(points, Analysis(injections_per_run=60), np.random.default_rng(6))
    for event in plan:
        if event.kind == "flare":
            assert event.time_s - event.rise_s + event.duration_s <= points[event.picid].time.max()


def test_depths_follow_from_the_snr_and_the_stars_errors():
    points = _run_points(n_stars=60, seed=2)
    plan = plan_injections(points, Analysis(injections_per_run=60), np.random.default_rng(7))
    kinds = set()
    for event in plan:
        pts = points[event.picid]
        weight = 1.0 / pts.flux_err**2
        if event.kind == "transit":
            half = event.duration_s / 2
            inside = (pts.time >= event.time_s - half) & (pts.time <= event.time_s + half)
            error = math.sqrt(1 / weight[inside].sum() + 1 / weight[~inside].sum())
            snr = event.value / error
        else:
            shape, at = flare_template(CADENCE, event.rise_s, event.decay_s)
            first = int(np.argmin(np.abs(pts.time - event.time_s))) - at
            kept = [(first + j, s) for j, s in enumerate(shape) if 0 <= first + j < pts.size]
            snr = event.value * math.sqrt(sum(weight[i] * s * s for i, s in kept))
        assert snr == pytest.approx(event.snr, rel=1e-9)
        kinds.add(event.kind)
    assert kinds == {"transit", "flare"}


def test_injection_event_and_truth():
    transit = Injection(5, "transit", T0 + 0.25, 3600.0, 0.0123456789, 12.3456)
    event = transit.event()
    assert isinstance(event, Transit) and event.limb_darkening is None
    assert event.duration == 60.0 and event.depth == 0.0123456789
    assert event.mid_time == datetime.fromtimestamp(T0 + 0.25, tz=timezone.utc)
    assert event.relative_flux(np.array([T0, T0 + 1799.0, T0 + 1801.0])).tolist() == [
        1 - 0.0123456789,
        1 - 0.0123456789,
        1.0,
    ]
    assert transit.truth() == {
        "kind": "transit",
        "depth": 0.0123457,
        "duration_s": 3600.0,
        "snr": 12.346,
        "time_s": round(T0 + 0.25, 3),
    }
    flare = Injection(5, "flare", T0, 120.0 + 3 * 480.0, 0.05, 8.0, 120.0, 480.0)
    event = flare.event()
    assert isinstance(event, Flare) and (event.rise, event.decay) == (2.0, 8.0)
    assert event.amplitude == 0.05
    assert set(flare.truth()) == {"kind", "amplitude", "duration_s", "snr", "time_s"}


# --- into the photometry -------------------------------------------------------------------


def _tables(n_frames=8, exptime=120.0):
    """Per-frame photometry of three stars (one frame in another order, one lacks star 22)."""
    tables = []
    for i in range(n_frames):
        picid = np.array([11, 22, 33], dtype=np.int64)
        if i == 4:
            picid = np.array([33, 11, 22], dtype=np.int64)
        if i == 6:
            picid = np.array([11, 33], dtype=np.int64)
        base = picid.astype(float)
        table = Table(
            {
                "picid": picid,
                "flux_g": 100.0 * base + i,
                "flux_err_g": base / 10.0,
                "flux_r": 50.0 * base,
                "flux_err_r": base / 20.0,
                "flux_raw_g": 120.0 * base,
                "bkg_g": np.full(picid.size, 7.0),
                "x": base + 0.5,
            }
        )
        mid = T0 + CADENCE * i
        table.meta = {
            "mid_exposure_time": datetime.fromtimestamp(mid, tz=timezone.utc).isoformat(),
            "exptime": exptime,
            "camera": {"gain": 1.5},
        }
        tables.append(table)
    return tables


def _snapshot(tables):
    return [({n: np.array(t[n]) for n in t.colnames}, copy.deepcopy(t.meta)) for t in tables]


def _unchanged(tables, snapshot):
    assert len(tables) == len(snapshot)
    for table, (columns, meta) in zip(tables, snapshot, strict=True):
        assert table.colnames == list(columns) and table.meta == meta
        for name, values in columns.items():
            assert table[name].dtype == values.dtype
            assert np.array_equal(np.array(table[name]), values), name


def test_inject_into_tables_scales_the_chosen_stars_fluxes_by_the_exposure_mean():
    tables = _tables()
    before = _snapshot(tables)
    # The transit starts 55 s into frame 3's exposure and ends 85 s into frame 5's.
    transit = Injection(22, "transit", T0 + 550.0, 300.0, 0.02, 10.0)
    flare = Injection(33, "flare", T0 + 2 * CADENCE + 10.0, 840.0, 0.1, 10.0, 120.0, 240.0)
    out = inject_into_tables(tables, [transit, flare])
    assert len(out) == len(tables)
    events = [transit.event(), flare.event()]
    scaled = set()
    for i, (table, result) in enumerate(zip(tables, out, strict=True)):
        assert result is not table and result.colnames == table.colnames
        start = T0 + CADENCE * i - 60.0  # the exposure starts half an exposure before mid
        for row, picid in enumerate(np.asarray(table["picid"]).tolist()):
            factor = exposure_mean(events, np.array([picid]), start, 120.0)[0]
            if picid == 11:
                assert factor == 1.0
            if factor != 1.0:
                scaled.add((i, picid))
            for name in ("flux_g", "flux_err_g", "flux_r", "flux_err_r"):
                assert result[name][row] == pytest.approx(table[name][row] * factor, rel=1e-12)
            for name in ("flux_raw_g", "bkg_g", "x", "picid"):
                assert result[name][row] == table[name][row]
    # Frames 3 and 5 are partly in transit, frame 4 wholly; the flare from frame 2 on.
    factor_3 = exposure_mean(events[:1], np.array([22]), T0 + 3 * CADENCE - 60.0, 120.0)[0]
    assert factor_3 == pytest.approx(1 - 0.02 * 65.0 / 120.0, abs=2e-4)
    assert out[4]["flux_g"][2] == pytest.approx(table_value(tables, 4, 22) * 0.98)
    assert {i for i, p in scaled if p == 22} == {3, 4, 5}
    assert {i for i, p in scaled if p == 33} >= {2, 3, 4, 5, 6, 7}
    # The inputs are unchanged, metadata included, and the copies' metadata is their own.
    _unchanged(tables, before)
    out[0].meta["camera"]["gain"] = 9.9
    assert tables[0].meta["camera"]["gain"] == 1.5
    # No events: equal copies.
    same = inject_into_tables(tables, [])
    assert all(np.array_equal(a["flux_g"], b["flux_g"]) for a, b in zip(same, tables, strict=True))


def table_value(tables, frame, picid, name="flux_g"):
    table = tables[frame]
    return float(table[name][np.flatnonzero(np.asarray(table["picid"]) == picid)[0]])


# --- recovery ----------------------------------------------------------------------------


def _found(search, time_s, statistic=9.0, threshold=4.5, picid=0):
    return SearchOutcome(
        picid, search, statistic, threshold, 299, 0.01, time_s, 1800.0, 0.01, 0.001
    )


def test_recover_counts_a_significant_matching_search_near_the_injected_time(monkeypatch):
    t = T0 + 50 * CADENCE
    rise, decay = 120.0, 480.0
    cases = [
        # (injection, outcomes of the star's search, recovered by)
        (
            Injection(1, "transit", t, 3600.0, 0.01, 12.0),
            [_found("single-event", t + 1700)],
            "single-event",
        ),
        (Injection(2, "transit", t, 3600.0, 0.01, 12.0), [_found("single-event", t + 1900)], None),
        (Injection(3, "transit", t, 3600.0, 0.01, 12.0), [_found("single-event", t, 4.0)], None),
        (Injection(4, "transit", t, 3600.0, 0.01, 12.0), [_found("flare", t)], None),
        (
            Injection(5, "transit", t, 3600.0, 0.01, 12.0),
            [_found("single-event", t, 6.0), _found("periodic", t + 100, 9.0)],
            "periodic",  # the most significant match
        ),
        (
            Injection(6, "transit", t, 120.0, 0.01, 12.0),
            [_found("single-event", t - 130)],
            "single-event",
        ),
        (Injection(7, "transit", t, 120.0, 0.01, 12.0), [_found("single-event", t - 140)], None),
        (
            Injection(8, "flare", t, rise + 3 * decay, 0.02, 12.0, rise, decay),
            [_found("flare", t + CADENCE + decay - 1)],
            "flare",
        ),
        (
            Injection(9, "flare", t, rise + 3 * decay, 0.02, 12.0, rise, decay),
            [_found("flare", t - CADENCE - decay - 1)],
            None,
        ),
        (
            Injection(10, "flare", t, rise + 3 * decay, 0.02, 12.0, rise, decay),
            [_found("single-event", t)],
            None,
        ),
        (Injection(11, "transit", t, 3600.0, 0.01, 12.0), [], None),  # no light curve
    ]
    points = {
        i.picid: run_star_points(
            i.picid,
            SEGMENT,
            T0 + CADENCE * np.arange(N),
            {"flux_g": np.ones(N), "flux_err_g": np.full(N, 0.01)},
            0,
        )
        for i, _, _ in cases
        if i.picid != 11
    }
    outcomes = {i.picid: o for i, o, _ in cases}
    calls = []

    def search(star, analysis, *, salt=""):
        calls.append((star.picid, salt))
        return outcomes[star.picid]

    monkeypatch.setattr(injection_module, "search_star", search)
    recovery = recover([i for i, _, _ in cases], points, ANALYSIS)
    assert sorted(calls) == [(p, INJECTION_SALT) for p in range(1, 11)]
    assert recovery.completeness.injected == len(cases)
    expected = [(i.picid, by) for i, _, by in cases if by is not None]
    assert [(i.picid, o.search) for i, o, _ in recovery.found] == expected
    assert recovery.completeness.recovered == len(expected) == 4
    assert recovery.completeness.recovery("transit", 10.0) == (8, 3)
    assert recovery.completeness.recovery("flare", 10.0) == (3, 1)
    assert all(p is points[i.picid] for i, _, p in recovery.found)


# --- acceptance on synthetic observations -----------------------------------------------------


def test_injected_events_are_recovered_on_synthetic_observations(tmp_path):
    analysis = Analysis(injections_per_run=120)
    total = Completeness()
    for seed in (0, 1):
        obs = synthetic_observation(n_frames=110, n_stars=400, seed=seed)
        segment = Segment(obs.tables[0].meta["sequence_id"], f"run{seed}", f"lc/{seed}.parquet")
        lightcurves = differential_lightcurves(obs.tables)
        points = lightcurve_points(lightcurves, segment)
        # Rows as in the run's data file: star j of the stack from row j * frames.
        stack = lightcurves.stack
        j = 17
        star = points[int(stack.picid[j])]
        assert np.all(star.row // stack.shape[0] == j)
        assert star.image_id.tolist() == [stack.image_ids[r % stack.shape[0]] for r in star.row]
        before = _snapshot(obs.tables)
        recovery = run_injections(
            obs.tables, points, segment, analysis, build=differential_lightcurves
        )
        _unchanged(obs.tables, before)
        assert recovery.completeness.injected >= 100
        docs = injected_documents(recovery, analysis, WHEN)
        assert len(docs) == len(recovery.found) == recovery.completeness.recovered
        for doc_id, doc in docs:
            assert doc_id.endswith("_injected") and doc["injected"] is True
            assert doc["injection"]["kind"] == doc["kind"]
        documents = MemoryDocuments()  # refuses what Firestore refuses
        assert store_recovery(documents, analysis, segment, recovery, WHEN) == len(docs)
        stored = documents.get(
            ANALYSIS_COMPLETENESS, completeness_id(analysis, segment.sequence_id, segment.run_id)
        )
        assert stored["injected"] == recovery.completeness.injected
        assert stored["unit_id"] == "PAN001" and stored["analysis_hash"] == analysis.config_hash()
        assert Completeness.from_record(stored).counts == recovery.completeness.counts
        assert all(documents.get(DETECTIONS, doc_id) is not None for doc_id, _ in docs)
        total.merge(recovery.completeness)
    transits = total.recovery("transit", 10.0)
    flares = total.recovery("flare", 10.0)
    print(
        f"\nrecovered at expected SNR >= 10: transits {transits[1]}/{transits[0]}, "
        f"flares {flares[1]}/{flares[0]}; all: {total.recovered}/{total.injected}"
    )
    assert transits[0] >= 50 and flares[0] >= 50
    assert transits[1] / transits[0] > 0.9
    assert flares[1] / flares[0] > 0.9
    png = completeness_png(total, "injection-recovery, two synthetic runs")
    path = tmp_path / "completeness.png"
    path.write_bytes(png)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
