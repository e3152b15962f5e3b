"""Injection-recovery completeness: exact integer counts that add in any order, and its plot."""

from __future__ import annotations

import copy
import json
import math
import struct

import numpy as np
import pytest

from panoptes_network.analysis.completeness import (
    DEPTH_EDGES,
    DURATION_EDGES_MIN,
    KINDS,
    SNR_EDGES,
    Completeness,
    completeness_png,
    wilson_interval,
)
from panoptes_network.analysis.coverage import bin_of

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _events(seed: int, n: int = 1000) -> list[tuple[str, float, float, float, bool]]:
    """Random events, some on bin edges, below the first edge, past the last, or NaN."""
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(n):
        kind = KINDS[rng.integers(len(KINDS))]
        depth = rng.choice(
            [10 ** rng.uniform(-4, -0.5), rng.choice(DEPTH_EDGES), -0.001, math.nan],
            p=[0.8, 0.1, 0.05, 0.05],
        )
        duration_s = rng.choice(
            [rng.uniform(0, 30000), 60.0 * rng.choice(DURATION_EDGES_MIN), math.nan],
            p=[0.85, 0.1, 0.05],
        )
        snr = rng.choice(
            [rng.uniform(0, 45), rng.choice(SNR_EDGES), math.nan, math.inf],
            p=[0.8, 0.1, 0.05, 0.05],
        )
        events.append((str(kind), float(depth), float(duration_s), float(snr), rng.random() < 0.6))
    return events


def _completeness(events) -> Completeness:
    out = Completeness()
    for event in events:
        out.add(*event)
    return out


def _realistic(seed: int = 7, n: int = 4000) -> Completeness:
    """Transits and flares whose expected SNR follows from depth, duration and noise.

    Recovery rises from ~0.1 at SNR 5 to ~1 above SNR 10.
    """
    rng = np.random.default_rng(seed)
    out = Completeness()
    for _ in range(n):
        kind = "transit" if rng.random() < 0.7 else "flare"
        depth = 10 ** rng.uniform(-3.2, -1.0)
        duration_s = 60.0 * 10 ** rng.uniform(1.0, 2.6)
        sigma = 10 ** rng.uniform(-2.5, -1.5)  # per 128 s point
        snr = depth / sigma * math.sqrt(duration_s / 128.0)
        recovered = rng.random() < 1.0 / (1.0 + math.exp(-(snr - 7.5) / 1.1))
        out.add(kind, depth, duration_s, snr, bool(recovered))
    return out


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_MAGIC and png[12:16] == b"IHDR"
    return struct.unpack(">II", png[16:24])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_merging_a_random_split_equals_counting_all_in_any_order(seed):
    events = _events(seed)
    whole = _completeness(events)
    assert whole.injected == 1000 and whole.recovered == sum(e[4] for e in events)
    rng = np.random.default_rng(100 + seed)
    order = rng.permutation(len(events))
    cut = int(rng.integers(1, len(events)))
    first = _completeness([events[i] for i in order[:cut]])
    second = _completeness([events[i] for i in order[cut:]])
    second_before = copy.deepcopy(second.counts)
    ab = copy.deepcopy(first).merge(second)
    assert second.counts == second_before  # the merged one is left as it was
    ba = copy.deepcopy(second).merge(first)
    assert ab.to_record() == ba.to_record() == whole.to_record()
    assert ab == ba == whole
    # In many parts, merged in another order.
    parts = [_completeness([events[i] for i in chunk]) for chunk in np.array_split(order, 7)]
    merged = Completeness()
    for k in rng.permutation(len(parts)):
        assert merged.merge(parts[k]) is merged
    assert merged.to_record() == whole.to_record()


def test_values_on_edges_fall_in_the_upper_bin_the_last_is_open_nan_unknown():
    c = Completeness()
    cases = {
        # depth, duration_s, snr -> depth bin, duration bin, snr bin
        (0.002, 1800.0, 7.5): (1, 1, 2),
        (0.0019999, 1799.0, 7.4999): (0, 0, 1),
        (0.05, 14400.0, 30.0): (5, 4, 6),
        (0.9, 1e6, 1e4): (5, 4, 6),
        (0.0, 0.0, 0.0): (0, 0, 0),
        (-0.001, -5.0, -1.0): (0, 0, 0),
        (math.nan, math.nan, math.nan): (-1, -1, -1),
        (0.01, 3600.0, math.inf): (3, 2, -1),
    }
    for (depth, duration_s, snr), bins in cases.items():
        one = Completeness()
        one.add("transit", depth, duration_s, snr, recovered=True)
        assert one.counts == {("transit", *bins): [1, 1]}, (depth, duration_s, snr)
        c.add("flare", depth, duration_s, snr, recovered=False)
    # Values past the last edge share the open bin; values below the first edge the first.
    assert len(c.counts) == len(cases) - 2
    assert c.counts[("flare", 5, 4, 6)] == c.counts[("flare", 0, 0, 0)] == [2, 0]


def test_binning_agrees_with_coverage_bin_of():
    events = _events(5, 500)
    c = Completeness()
    for kind, depth, duration_s, snr, recovered in events:
        c.add(kind, depth, duration_s, snr, recovered)
    expected = Completeness()
    for kind, depth, duration_s, snr, recovered in events:
        key = (
            kind,
            int(bin_of(np.array([depth]), DEPTH_EDGES)[0]),
            int(bin_of(np.array([duration_s / 60.0]), DURATION_EDGES_MIN)[0]),
            int(bin_of(np.array([snr]), SNR_EDGES)[0]),
        )
        cell = expected.counts.setdefault(key, [0, 0])
        cell[0] += 1
        cell[1] += int(recovered)
    assert c.to_record() == expected.to_record()


def test_add_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="'planet'"):
        Completeness().add("planet", 0.01, 3600, 10, True)


@pytest.mark.parametrize("by", [("kind", "snr"), ("kind",), ("depth", "duration"), ("snr",), ()])
def test_table_marginals_add_to_the_totals(by):
    events = _events(11)
    c = _completeness(events)
    table = c.table(by)
    assert table.colnames == [*by, "injected", "recovered", "completeness", "lo", "hi"]
    assert int(table["injected"].sum()) == c.injected == len(events)
    assert int(table["recovered"].sum()) == c.recovered
    empty = table["injected"] == 0
    assert np.all(np.isnan(table["completeness"][empty]))
    full = ~empty
    np.testing.assert_array_equal(
        table["completeness"][full], table["recovered"][full] / table["injected"][full]
    )
    assert np.all(table["lo"][full] <= table["completeness"][full])
    assert np.all(table["completeness"][full] <= table["hi"][full])


def test_table_rows_and_labels_match_a_count_by_hand():
    events = _events(12)
    table = _completeness(events).table()  # by kind and snr
    labels = ["0-5", "5-7.5", "7.5-10", "10-15", "15-20", "20-30", ">=30", "unknown"]
    assert list(table["kind"]) == [k for k in KINDS for _ in labels]
    assert list(table["snr"]) == labels * len(KINDS)
    row = table[(table["kind"] == "flare") & (table["snr"] == "10-15")][0]
    chosen = [e for e in events if e[0] == "flare" and 10 <= e[3] < 15]
    assert row["injected"] == len(chosen) and row["recovered"] == sum(e[4] for e in chosen)
    last = table[(table["kind"] == "transit") & (table["snr"] == ">=30")][0]
    assert last["injected"] == sum(1 for e in events if e[0] == "transit" and 30 <= e[3] < np.inf)
    unknown = table[(table["kind"] == "transit") & (table["snr"] == "unknown")][0]
    assert unknown["injected"] == sum(
        1 for e in events if e[0] == "transit" and not np.isfinite(e[3])
    )
    assert (unknown["lo"], unknown["hi"]) == wilson_interval(
        int(unknown["recovered"]), int(unknown["injected"])
    )


def test_table_without_unknowns_has_no_unknown_row_and_refuses_unknown_dimensions():
    c = Completeness()
    c.add("transit", 0.01, 3600, 12.0, True)
    table = c.table(("depth", "duration"))
    assert len(table) == len(DEPTH_EDGES) * len(DURATION_EDGES_MIN)
    (one,) = table[table["injected"] > 0]
    assert (one["depth"], one["duration"], one["completeness"]) == ("0.01-0.02", "60-120", 1.0)
    assert c.table("snr").colnames == c.table(["snr"]).colnames
    assert list(c.table("snr")["injected"]) == [0, 0, 0, 1, 0, 0, 0]
    with pytest.raises(ValueError, match="'colour'"):
        c.table(("kind", "colour"))
    with pytest.raises(ValueError, match="twice"):
        c.table(("snr", "snr"))


def _wilson_closed_form(k: int, n: int, z: float) -> tuple[float, float]:
    """The Wilson score interval as statsmodels' proportion_confint(method="wilson") writes it.

    (k + z²/2) / (n + z²) ± z √n / (n + z²) · √(p̂ (1 - p̂) + z² / (4n)).
    """
    p = k / n
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    return centre - half, centre + half


@pytest.mark.parametrize("z", [1.0, 1.96, 2.5758])
@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (3, 7), (8, 10), (50, 100), (1, 1000)])
def test_wilson_interval_matches_the_closed_form(k, n, z):
    lo, hi = wilson_interval(k, n, z)
    want_lo, want_hi = _wilson_closed_form(k, n, z)
    assert lo == pytest.approx(max(want_lo, 0.0), abs=1e-12)
    assert hi == pytest.approx(min(want_hi, 1.0), abs=1e-12)
    assert 0.0 <= lo <= k / n <= hi <= 1.0


def test_wilson_interval_known_values_and_defaults():
    # 0 of 10 at 95%: the well-known upper bound z²/(n + z²) = 0.2775.
    assert wilson_interval(0, 10, 1.96) == (0.0, pytest.approx(0.27754, abs=1e-5))
    # 5 of 10 at the default z = 1 (68%): 0.5 ± √(0.025 + 0.0025) / 1.1.
    assert wilson_interval(5, 10) == pytest.approx((0.349244, 0.650756), abs=1e-6)
    assert wilson_interval(10, 10)[1] == 1.0
    assert all(math.isnan(b) for b in wilson_interval(0, 0))
    for bad in [(3, 2), (-1, 2), (1, -1)]:
        with pytest.raises(ValueError):
            wilson_interval(*bad)


def test_recovery_counts_bins_whose_lower_edge_reaches_min_snr():
    events = _events(13)
    c = _completeness(events)
    for kind in KINDS:
        for min_snr, lowest in [(10.0, 10.0), (8.0, 10.0), (0.0, 0.0), (7.5, 7.5), (31.0, None)]:
            chosen = [
                e
                for e in events
                if e[0] == kind and lowest is not None and lowest <= e[3] < math.inf
            ]
            assert c.recovery(kind, min_snr) == (len(chosen), sum(e[4] for e in chosen))
    with pytest.raises(ValueError):
        c.recovery("planet", 10.0)


def test_record_round_trips_through_json_and_holds_no_nested_arrays():
    c = _completeness(_events(14))
    record = c.to_record()
    assert record["edges"] == {
        "depth": list(DEPTH_EDGES),
        "duration_min": list(DURATION_EDGES_MIN),
        "snr": list(SNR_EDGES),
    }
    keys = [(b["kind"], b["depth"], b["duration"], b["snr"]) for b in record["bins"]]
    assert keys == sorted(keys) and len(keys) == len(set(keys)) == len(c.counts)
    assert Completeness.from_record(record) == c
    assert Completeness.from_record(json.loads(json.dumps(record))) == c

    def check(value, inside_array=False):
        if isinstance(value, list):
            assert not inside_array, "an array inside an array"
            for item in value:
                check(item, inside_array=True)
        elif isinstance(value, dict):
            for item in value.values():
                check(item)
        else:  # Firestore's scalar types only (no numpy integers)
            assert type(value) in (str, int, float), value

    check(record)
    assert Completeness.from_record(Completeness().to_record()) == Completeness()


def _record_with(change):
    record = _completeness(_events(15, 50)).to_record()
    change(record)
    return record


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["edges"].__setitem__("snr", [0.0, 5.0, 10.0, 20.0]), "snr edges"),
        (lambda r: r["edges"]["depth"].append(0.1), "depth edges"),
        (lambda r: r["edges"].pop("duration_min"), "edges"),
        (lambda r: r.pop("edges"), "edges"),
        (lambda r: r["bins"][0].__setitem__("kind", "planet"), "kind"),
        (lambda r: r["bins"][0].__setitem__("snr", 7), "snr bin 7"),
        (lambda r: r["bins"][0].__setitem__("recovered", r["bins"][0]["injected"] + 1), "more"),
        (lambda r: r["bins"][0].__setitem__("injected", 1.5), "not a count"),
        (lambda r: r["bins"].append(dict(r["bins"][0])), "twice"),
    ],
)
def test_from_record_refuses_other_edges_and_malformed_bins(change, message):
    with pytest.raises(ValueError, match=message):
        Completeness.from_record(_record_with(change))


def test_png_of_a_filled_and_an_empty_completeness(tmp_path):
    filled = completeness_png(_realistic(), title="Injection-recovery, example")
    assert _png_size(filled) == (1000, 420)
    empty = completeness_png(Completeness())
    assert _png_size(empty) == (1000, 420)
    flares_only = Completeness()
    flares_only.add("flare", 0.03, 600, 12, True)
    assert _png_size(completeness_png(flares_only)) == (1000, 420)
    assert len({filled, empty}) == 2
    (tmp_path / "completeness.png").write_bytes(filled)


def test_realistic_example_rises_with_snr():
    c = _realistic()
    table = c.table(("kind", "snr"))
    transits = table[table["kind"] == "transit"]
    by_snr = dict(zip(transits["snr"], transits["completeness"], strict=True))
    assert by_snr["0-5"] < 0.2 and by_snr["5-7.5"] < 0.6 < by_snr["7.5-10"]
    assert by_snr["10-15"] > 0.9 and by_snr[">=30"] == 1.0
