"""build-lightcurve honours people's flags: flagged frames and points are left out and listed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import numpy as np
import pytest
from astropy.table import Table

from panoptes_network.frames.bucket_path import format_timestamp
from panoptes_network.lightcurves import build_lightcurve as build_module
from panoptes_network.lightcurves.build_lightcurve import build_lightcurve
from panoptes_network.lightcurves.ensemble import differential_lightcurves
from panoptes_network.lightcurves.flags import (
    MAX_REASON_CHARS,
    ObservationFlags,
    leave_out_flagged_points,
    parse_flag,
    read_flags,
)
from panoptes_network.lightcurves.products import read_lightcurve_rows
from panoptes_network.lightcurves.stacking import frame_time_seconds
from panoptes_network.photometry.sources_table import write_sources_table
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.synthetic_photometry import synthetic_observation
from tests.unit.fakes import MemoryDocuments, MemoryStore

S = Settings()
SEQ = "PAN001_14d3bd_20260101T040000"
OTHER_SEQ = "PAN001_14d3bd_20260102T040000"
PREFIX = "PAN001/14d3bd/20260101T040000/"
RUN_AT = datetime(2026, 11, 21, 10, 30, 0, tzinfo=timezone.utc)
RUN_ID = f"{SEQ}_{format_timestamp(RUN_AT)}"
CLOUDY = 3
OPTIONS = {"min_stars": 30, "n_comparisons": 10}
COLUMNS = ("flux", "flux_err", "flux_raw")


@pytest.fixture(scope="module")
def observation():
    return synthetic_observation(
        n_frames=60, n_stars=120, seed=11, cloudy=(CLOUDY,), n_outliers=0, n_flagged=0
    )


@pytest.fixture(scope="module")
def comparisons(observation):
    """Each star's comparison stars (PICIDs) per colour, as the run chooses them."""
    kept = [t for i, t in enumerate(observation.tables) if i != CLOUDY]
    curves = differential_lightcurves(
        kept, n_comparisons=OPTIONS["n_comparisons"], min_coverage=0.8, clip_sigma=5.0
    )
    return curves.comparisons()


def time_of(table: Table) -> float:
    return frame_time_seconds(table.meta["mid_exposure_time"])


def sources(tables) -> dict[str, bytes]:
    """The tables as the sources bucket holds them, by object name."""
    out = {}
    for table in tables:
        meta = {**table.meta, "aperture_radius": 6.0, "software_version": "test"}
        out[f"{PREFIX}{meta['image_id'].rsplit('_', 1)[1]}.parquet"] = write_sources_table(
            table, meta
        )
    return out


def run(make_ctx, tables, flags=None, objects=None):
    """One run over ``tables`` with ``flags`` (id: fields) in the flags collection.

    Returns the context and the run's doc (``error`` set when the run failed permanently).
    """
    store = MemoryStore()
    for name, data in {**sources(tables), **(objects or {})}.items():
        store.put(S.sources_bucket, name, data)
    documents = MemoryDocuments()
    for flag_id, fields in (flags or {}).items():
        documents.merge("flags", flag_id, fields)
    ctx = make_ctx(store=store, documents=documents, now=lambda: RUN_AT)
    build_lightcurve(ctx, {"sequence_id": SEQ, "options": OPTIONS})
    return ctx, ctx.documents.get("processed_observations", RUN_ID)


def rows(ctx) -> Table:
    """Every row of the run's data file."""
    doc = ctx.documents.get("processed_observations", RUN_ID)
    return read_lightcurve_rows(ctx.store.read(S.lightcurves_bucket, doc["data_path"]))


def star(table: Table, picid: int) -> Table:
    return table[table["picid"] == picid]


def assert_same_lightcurves(a: Table, b: Table, picids=None) -> None:
    """The light curves of ``picids`` (every star by default) are the same, NaN included."""
    if picids is not None:
        a, b = a[np.isin(a["picid"], picids)], b[np.isin(b["picid"], picids)]
    np.testing.assert_array_equal(a["picid"], b["picid"])
    np.testing.assert_array_equal(a["time"], b["time"])
    for c in "rgb":
        for name in COLUMNS:
            np.testing.assert_array_equal(a[f"{name}_{c}"], b[f"{name}_{c}"], err_msg=name + c)


def blanked(tables, picid: int, frames) -> list[Table]:
    """The tables with one star's fluxes NaN in some frames, by hand (the reference)."""
    out = []
    for i, table in enumerate(tables):
        table = table.copy()
        if i in frames:
            row = table["picid"] == picid
            for c in "rgb":
                table[f"flux_{c}"][row] = np.nan
                table[f"flux_err_{c}"][row] = np.nan
        out.append(table)
    return out


def points_flag(picid: int, times, reason="satellite trail", **extra) -> dict:
    return {
        "target": "points",
        "sequence_id": SEQ,
        "picid": picid,
        "times": list(times),
        "reason": reason,
        "user_uid": "u1",
        "user_email": "someone@example.org",
        "created_time": RUN_AT,
        **extra,
    }


def image_flag(image_id: str, reason="satellite trail", **extra) -> dict:
    return {
        "target": "image",
        "sequence_id": SEQ,
        "image_id": image_id,
        "reason": reason,
        "user_uid": "u1",
        "created_time": RUN_AT,
        **extra,
    }


@pytest.fixture(scope="module")
def baseline(observation, make_ctx):
    """A run without flags."""
    return run(make_ctx, observation.tables)


def test_an_image_flag_leaves_out_exactly_that_frame(observation, baseline, make_ctx):
    flagged = observation.tables[10].meta["image_id"]
    base_ctx, base = baseline
    assert flagged in base["frames_used"]

    ctx, doc = run(make_ctx, observation.tables, {"f1": image_flag(flagged, "plane in the field")})
    assert doc["status"] == "done"
    assert doc["frames_used"] == [i for i in base["frames_used"] if i != flagged]
    assert doc["num_frames"] == base["num_frames"] - 1
    assert doc["num_frames_found"] == base["num_frames_found"] == 60
    rejected = {r["image_id"]: r for r in doc["frames_rejected"]}
    assert set(rejected) == {flagged, observation.tables[CLOUDY].meta["image_id"]}
    assert rejected[flagged]["reasons"] == ["flagged: plane in the field (flag f1)"]
    assert rejected[flagged]["flag_ids"] == ["f1"]
    assert doc["num_frames_rejected"] == 2
    assert doc["flags"]["honoured"] == ["f1"] and doc["flags"]["read"] == 1
    assert rows(ctx).meta["flags_honoured"] == ["f1"]
    # the same light curves as a run that never had the frame (an independent reference)
    without = [t for t in observation.tables if t.meta["image_id"] != flagged]
    reference, _ = run(make_ctx, without)
    assert_same_lightcurves(rows(ctx), rows(reference))


def test_an_image_flag_on_an_unreadable_or_unknown_frame(observation, make_ctx):
    corrupt = "PAN001_14d3bd_20260101T070000"
    unknown = "PAN001_14d3bd_20260101T080000"
    flags = {"f1": image_flag(corrupt, "bad file"), "f2": image_flag(unknown)}
    objects = {f"{PREFIX}20260101T070000.parquet": b"not parquet"}
    ctx, doc = run(make_ctx, observation.tables, flags, objects)
    rejected = {r["image_id"]: r for r in doc["frames_rejected"]}
    assert rejected[corrupt]["reasons"][0].startswith("unreadable")
    assert rejected[corrupt]["reasons"][1:] == ["flagged: bad file (flag f1)"]
    assert rejected[corrupt]["flag_ids"] == ["f1"]
    assert unknown not in rejected
    assert doc["flags"]["honoured"] == ["f1", "f2"]
    assert any(f"flag f2: image {unknown} is not among" in n for n in doc["notes"])
    assert doc["num_frames"] == 59


def test_a_points_flag_on_a_comparison_star_leaves_out_only_those_points(
    observation, comparisons, baseline, make_ctx
):
    members = Counter(p for ensemble in comparisons["g"].values() for p in ensemble)
    picid = members.most_common(1)[0][0]
    using = [t for t, ensemble in comparisons["g"].items() if picid in ensemble]
    assert len(using) >= 10  # the condition: a comparison star of many stars
    frames = (20, 41)
    times = [time_of(observation.tables[i]) for i in frames]
    # a faint satellite crosses the comparison star in those frames: 3 % more light, too
    # little for the Broeg weights to notice
    hit = [t.copy() for t in observation.tables]
    for i in frames:
        row = hit[i]["picid"] == picid
        for c in "rgb":
            hit[i][f"flux_{c}"][row] *= 1.03

    flag = points_flag(picid, [times[0], times[1] + 0.4])  # the tolerance absorbs rounding
    ctx, doc = run(make_ctx, hit, {"p1": flag})
    assert doc["num_points_rejected"] == 2
    assert doc["points_rejected"] == [
        {
            "picid": picid,
            "time": t,
            "image_id": observation.tables[i].meta["image_id"],
            "flag_ids": ["p1"],
            "reasons": ["flagged: satellite trail (flag p1)"],
        }
        for i, t in zip(frames, times, strict=True)
    ]
    assert doc["flags"]["honoured"] == ["p1"]
    assert doc["frames_used"] == baseline[1]["frames_used"]
    data = rows(ctx)
    flagged = star(data, picid)
    at = np.isin(flagged["time"], times)
    assert at.sum() == 2
    for c in "rgb":
        assert np.all(np.isnan(flagged[f"flux_{c}"][at]))
        assert np.all(np.isfinite(flagged[f"flux_{c}"][~at]))  # its other points are kept
    # every light curve is that of the tables with those two points blanked by hand
    reference, _ = run(make_ctx, blanked(observation.tables, picid, frames))
    assert_same_lightcurves(data, rows(reference))
    # without the flag the satellite biases the stars that compare against that star
    biased = rows(run(make_ctx, hit)[0])
    in_frames = np.isin(biased["time"], times) & np.isin(biased["picid"], using)
    bias = np.abs(biased["flux_raw_g"][in_frames] - data["flux_raw_g"][in_frames])
    assert in_frames.sum() == 2 * len(using) and np.median(bias) > 1e-4, bias
    # stars that do not compare against it are not changed by its flag
    others = [t for t in observation.picid if all(picid not in comparisons[c][t] for c in "rgb")]
    others = [int(t) for t in others if t != picid]
    assert len(others) > 50
    assert_same_lightcurves(data, rows(baseline[0]), others)


def test_a_points_flag_on_a_star_no_one_compares_against(
    observation, comparisons, baseline, make_ctx
):
    members = {p for per_colour in comparisons.values() for e in per_colour.values() for p in e}
    picid = int(observation.picid[observation.variables[0]])
    assert picid not in members  # the condition: a variable star, in no ensemble
    frames = (5, 6, 30)
    times = [time_of(observation.tables[i]) for i in frames]
    ctx, doc = run(make_ctx, observation.tables, {"p2": points_flag(picid, times)})
    assert doc["num_points_rejected"] == 3
    assert [p["time"] for p in doc["points_rejected"]] == times
    data, base = rows(ctx), rows(baseline[0])
    flagged, before = star(data, picid), star(base, picid)
    at = np.isin(flagged["time"], times)
    for c in "rgb":
        assert np.all(np.isnan(flagged[f"flux_raw_{c}"][at]))
        assert np.all(np.isfinite(before[f"flux_raw_{c}"][at]))
    # the star's other points differ only by its normalisation (median 1 without them)
    ratio = flagged["flux_raw_g"][~at] / before["flux_raw_g"][~at]
    assert np.allclose(ratio, ratio[0], rtol=1e-12)
    others = [int(p) for p in observation.picid if p != picid]
    assert_same_lightcurves(data, base, others)


def test_points_flag_times_of_frames_left_out_or_of_no_frame(observation, baseline, make_ctx):
    picid = int(observation.picid[0])
    cloudy = time_of(observation.tables[CLOUDY])
    nowhere = time_of(observation.tables[-1]) + 3600.0
    near = time_of(observation.tables[7]) + 2.0  # outside the 1 s tolerance
    flag = points_flag(picid, [cloudy, nowhere, near])
    ctx, doc = run(make_ctx, observation.tables, {"p3": flag})
    assert doc["num_points_rejected"] == 0 and doc["points_rejected"] == []
    assert doc["flags"]["honoured"] == ["p3"]
    notes = [n for n in doc["notes"] if n.startswith("flag p3")]
    assert notes == [
        f"flag p3: 2 of 3 times of star {picid} are not within 1 s of a frame's mid-exposure "
        "time; nothing left out for them"
    ]
    assert_same_lightcurves(rows(ctx), rows(baseline[0]))


def test_the_points_listed_on_the_run_are_bounded(observation, make_ctx, monkeypatch):
    monkeypatch.setattr(build_module, "MAX_LISTED", 2)
    picid = int(observation.picid[1])
    times = [time_of(observation.tables[i]) for i in (11, 12, 13)]
    _, doc = run(make_ctx, observation.tables, {"p4": points_flag(picid, times)})
    assert doc["num_points_rejected"] == 3
    assert [p["time"] for p in doc["points_rejected"]] == times[:2]


def test_removed_flags_are_ignored_and_listed(observation, baseline, make_ctx):
    removed = {"removed": True, "removed_by": "admin", "removed_time": RUN_AT}
    flags = {
        "r1": image_flag(observation.tables[10].meta["image_id"], **removed),
        "r2": points_flag(int(observation.picid[2]), [time_of(observation.tables[12])], **removed),
        "r3": {"target": "observation", "sequence_id": SEQ, "reason": "dome", **removed},
        "a1": image_flag(observation.tables[20].meta["image_id"], removed=False),
    }
    ctx, doc = run(make_ctx, observation.tables, flags)
    assert doc["status"] == "done"
    assert doc["flags"]["removed"] == ["r1", "r2", "r3"]
    assert doc["flags"]["honoured"] == ["a1"]
    base = baseline[1]
    assert doc["frames_used"] == [
        i for i in base["frames_used"] if i != observation.tables[20].meta["image_id"]
    ]
    assert doc["num_points_rejected"] == 0


def test_an_observation_flag_ends_the_run_with_its_reason(observation, make_ctx):
    flags = {
        "o1": {"target": "observation", "sequence_id": SEQ, "reason": "dome closed", "x": 1},
        "f1": image_flag(observation.tables[10].meta["image_id"]),
    }
    with pytest.raises(PermanentFailure) as failure:
        run(make_ctx, observation.tables, flags)
    assert "every frame is left out, flagged: dome closed (flag o1)" in failure.value.reason
    assert SEQ in failure.value.reason


def test_an_observation_flag_writes_nothing(observation, make_ctx):
    store = MemoryStore()
    for name, data in sources(observation.tables).items():
        store.put(S.sources_bucket, name, data)
    documents = MemoryDocuments()
    documents.merge("flags", "o1", {"target": "observation", "sequence_id": SEQ})
    ctx = make_ctx(store=store, documents=documents, now=lambda: RUN_AT)
    with pytest.raises(PermanentFailure, match="flagged: no reason given"):
        build_lightcurve(ctx, {"sequence_id": SEQ})
    assert [k for k in documents.docs if k[0] not in ("flags", "cameras")] == []
    assert store.names(S.lightcurves_bucket) == []


def test_malformed_flags_are_reported_and_ignored(observation, baseline, make_ctx):
    image_id = observation.tables[10].meta["image_id"]
    picid = int(observation.picid[4])
    times = [time_of(observation.tables[12])]
    flags = {
        "m1": image_flag(image_id, target="imgae"),
        "m2": image_flag(image_id, removed="yes"),
        "m3": image_flag(image_id.replace("14d3bd", "ee04d1")),
        "m4": image_flag(image_id, reason=42),
        "m5": {"target": "image", "sequence_id": SEQ},
        "m6": points_flag(str(picid), times),
        "m7": points_flag(True, times),
        "m8": points_flag(picid, []),
        "m9": points_flag(picid, [times[0], float("nan")]),
        "m10": points_flag(picid, f"{times[0]}"),
        "ok": image_flag(observation.tables[20].meta["image_id"]),
    }
    ctx, doc = run(make_ctx, observation.tables, flags)
    assert doc["status"] == "done"
    malformed = {m["flag_id"]: m["problem"] for m in doc["flags"]["malformed"]}
    assert set(malformed) == {f"m{i}" for i in range(1, 11)}
    assert doc["flags"]["num_malformed"] == 10 and doc["flags"]["read"] == 11
    assert "target 'imgae'" in malformed["m1"]
    assert "removed must be true or false" in malformed["m2"]
    assert "is not a frame of observation" in malformed["m3"]
    assert "reason must be text" in malformed["m4"]
    assert "image_id None" in malformed["m5"]
    assert "picid must be a positive whole number" in malformed["m6"]
    assert "picid" in malformed["m7"] and "times must" in malformed["m8"]
    assert "nan" in malformed["m9"] and "times must" in malformed["m10"]
    assert doc["flags"]["honoured"] == ["ok"]
    assert sum("ignored as malformed" in n for n in doc["notes"]) == 10
    # none of them left anything out; the well-formed one did
    left_out = observation.tables[20].meta["image_id"]
    assert doc["frames_used"] == [i for i in baseline[1]["frames_used"] if i != left_out]
    assert doc["num_points_rejected"] == 0


def test_a_flag_of_another_observation_is_ignored(observation, baseline, make_ctx):
    image_id = observation.tables[10].meta["image_id"]  # a frame of this observation
    picid = int(observation.picid[4])
    flags = {
        "x1": {**image_flag(image_id), "sequence_id": OTHER_SEQ},
        "x2": {**points_flag(picid, [time_of(observation.tables[12])]), "sequence_id": OTHER_SEQ},
        "x3": {"target": "observation", "sequence_id": OTHER_SEQ, "reason": "dome"},
    }
    ctx, doc = run(make_ctx, observation.tables, flags)
    assert doc["status"] == "done"
    assert doc["flags"] == {
        "read": 0,
        "honoured": [],
        "removed": [],
        "malformed": [],
        "num_malformed": 0,
    }
    assert doc["frames_used"] == baseline[1]["frames_used"]
    assert doc["num_points_rejected"] == 0
    assert_same_lightcurves(rows(ctx), rows(baseline[0]))


def test_read_flags_is_one_bounded_query_and_refuses_more_than_its_cap():
    documents = MemoryDocuments()
    for n in range(4):
        documents.merge("flags", f"f{n}", {"target": "observation", "sequence_id": SEQ})
    documents.merge("flags", "other", {"target": "observation", "sequence_id": OTHER_SEQ})
    assert [f.flag_id for f in read_flags(documents, SEQ, limit=4).active] == [
        "f0",
        "f1",
        "f2",
        "f3",
    ]
    documents.queried = 0
    with pytest.raises(PermanentFailure) as failure:
        read_flags(documents, SEQ, limit=3)
    assert f"observation {SEQ} has more than 3 flags" in failure.value.reason
    assert documents.queried == 4  # the cap plus one, never the whole collection


def test_parse_flag_normalises_a_well_formed_flag():
    flag = parse_flag(
        "p",
        {
            "target": "points",
            "sequence_id": SEQ,
            "picid": 12345678.0,
            "times": [20.0, 10, 20.0],
            "reason": "  two\n words  ",
            "run_id": "whatever",
        },
        SEQ,
    )
    assert (flag.picid, flag.times, flag.reason) == (12345678, (10.0, 20.0), "two words")
    assert flag.label == "flagged: two words (flag p)"
    long = parse_flag("o", {"target": "observation", "sequence_id": SEQ, "reason": "x" * 999}, SEQ)
    assert len(long.reason) == MAX_REASON_CHARS and long.reason.endswith("...")
    removed = parse_flag("r", {"target": "bogus", "sequence_id": SEQ, "removed": True}, SEQ)
    assert removed.removed


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"target": "observation", "sequence_id": OTHER_SEQ}, f"is not {SEQ}"),
        ({"target": "observation"}, "sequence_id None"),
        ({"target": "image", "sequence_id": SEQ, "image_id": "PAN001_14d3bd"}, "image_id"),
        ({"target": "points", "sequence_id": SEQ, "picid": 0, "times": [1.0]}, "picid"),
        ({"target": "points", "sequence_id": SEQ, "picid": 5, "times": [1.0, "2"]}, "times"),
        ({"target": "points", "sequence_id": SEQ, "picid": 5, "times": [-1.0]}, "times holds"),
        ({"target": "points", "sequence_id": SEQ, "picid": 5}, "times must"),
    ],
)
def test_parse_flag_refuses_what_it_cannot_apply(fields, says):
    with pytest.raises(ValueError, match=says):
        parse_flag("x", fields, SEQ)


def test_observation_flags_record_is_bounded(monkeypatch):
    from panoptes_network.lightcurves import flags as flags_module

    monkeypatch.setattr(flags_module, "MAX_LISTED", 3)
    docs = [(f"m{n:02d}", {"target": "?", "sequence_id": SEQ}) for n in range(30)]
    sorted_flags = ObservationFlags.from_documents(SEQ, docs)
    record = sorted_flags.record()
    assert record["num_malformed"] == 30 and len(record["malformed"]) == 3
    notes = sorted_flags.notes()
    assert len(notes) == 21 and notes[-1].startswith("... and 10 more")


def test_leave_out_flagged_points_does_not_change_its_input(observation):
    tables = observation.tables[:5]
    picid = int(observation.picid[0])
    before = np.array(tables[2]["flux_g"])
    flags = ObservationFlags.from_documents(SEQ, [("p", points_flag(picid, [time_of(tables[2])]))])
    result = leave_out_flagged_points(tables, flags)
    np.testing.assert_array_equal(tables[2]["flux_g"], before)
    row = result.tables[2]["picid"] == picid
    assert np.isnan(result.tables[2]["flux_g"][row]).all()
    assert np.isfinite(result.tables[2]["flux_g"][~row]).all()
    assert result.tables[2]["x"][row][0] == tables[2]["x"][row][0]  # its position is kept
    assert [t is u for t, u in zip(tables, result.tables, strict=True)] == [
        True,
        True,
        False,
        True,
        True,
    ]
