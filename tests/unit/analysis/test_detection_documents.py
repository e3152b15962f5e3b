"""A detection as a document: its id, the rows and frames it rests on, Firestore-safe fields."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.detection_documents import (
    MAX_FRAMES,
    detection_document,
    detection_id,
    window_points,
)
from panoptes_network.analysis.detections import SearchOutcome
from panoptes_network.analysis.run_detections import search_points, store_documents
from panoptes_network.analysis.star_points import Segment, merge_points, run_star_points
from panoptes_network.pipeline.schema import DETECTIONS
from tests.unit.fakes import MemoryDocuments

T0 = 1_700_000_000.0
DAY = 86400.0
CADENCE = 120.0
N = 60
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
ANALYSIS = Analysis()
SEGMENTS = [
    Segment("PAN001_14d3bd_20231114T220000", "runA", "lc/a.parquet"),
    Segment("PAN012_ee04d1_20231115T220000", "runB", "lc/b.parquet"),
]
FIRST_ROWS = (600, 120)  # star 10 of a 60-frame run, star 2 of another


def _points(bad=()):
    """One star over two runs; ``bad`` lists (run, index) rows that are not usable."""
    parts = []
    for k, segment in enumerate(SEGMENTS):
        time = T0 + k * DAY + CADENCE * np.arange(N)
        flux = np.ones(N)
        for run, index in bad:
            if run == k:
                flux[index] = np.nan
        columns = {
            "flux_g": flux,
            "flux_err_g": np.full(N, 0.002),
            "image_id": [f"{segment.sequence_id[:14]}_img{i:03d}" for i in range(N)],
        }
        parts.append(run_star_points(99, segment, time, columns, FIRST_ROWS[k]))
    return merge_points(parts)


def _outcome(search="single-event", *, time_s=None, windows=None, **fields):
    time_s = T0 + CADENCE * 30.4 if time_s is None else time_s
    values = {
        "picid": 99,
        "search": search,
        "statistic": 9.0,
        "threshold": 4.5,
        "copies": 299,
        "false_alarm_probability": 1 / 300,
        "time_s": time_s,
        "duration_s": 1800.0,
        "value": 0.0042,
        "value_err": 0.0005,
        "windows": windows or ((time_s - 900.0, time_s + 900.0),),
    }
    values.update(fields)
    return SearchOutcome(**values)


def _walk(value, path="doc"):
    """Yield (path, value) of every leaf of a document."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert not isinstance(item, (list, tuple)), f"array inside an array at {path}[{i}]"
            yield from _walk(item, f"{path}[{i}]")
    else:
        yield path, value


def _assert_firestore_safe(doc):
    for path, value in _walk(doc):
        assert isinstance(value, (str, int, float, bool, datetime, type(None))), (path, value)
        assert not isinstance(value, (tuple, np.ndarray)), path
        if isinstance(value, float):
            assert math.isfinite(value), f"{path} is {value}"


def test_ids():
    outcome = _outcome(time_s=T0 + 123.97)
    hash_ = ANALYSIS.config_hash()
    assert detection_id(ANALYSIS, outcome) == f"{hash_}_99_single-event_{int(T0) + 123}"
    assert detection_id(ANALYSIS, outcome, injected=True) == (
        f"{hash_}_99_single-event_{int(T0) + 123}_injected"
    )
    flare = _outcome("flare", time_s=T0 + 5.0)
    assert detection_id(ANALYSIS, flare).endswith("_99_flare_1700000005")
    other = Analysis(name="other")
    assert detection_id(other, outcome) != detection_id(ANALYSIS, outcome)
    assert detection_id(other, outcome).startswith(other.config_hash() + "_")
    # The same detection found again (a fraction of a second apart) has the same id.
    assert detection_id(ANALYSIS, _outcome(time_s=T0 + 123.2)) == detection_id(ANALYSIS, outcome)


def test_window_points():
    points = _points()
    outcome = _outcome(windows=((T0 + 10 * CADENCE, T0 + 12 * CADENCE),))
    assert window_points(points, outcome).tolist() == [10, 11, 12]  # both ends inside
    two = _outcome(windows=((T0, T0 + CADENCE), (T0 + DAY + 5 * CADENCE, T0 + DAY + 6 * CADENCE)))
    assert window_points(points, two).tolist() == [0, 1, N + 5, N + 6]


def test_rows_per_segment_from_the_first_window_point_to_the_last():
    # A periodic detection with a window at the end of run A and one early in run B; row 8 of
    # run B is not usable (no point) but lies between the window's first and last rows.
    points = _points(bad=[(1, 8)])
    windows = (
        (T0 + 50 * CADENCE, T0 + 59 * CADENCE),
        (T0 + DAY + 5 * CADENCE, T0 + DAY + 14 * CADENCE),
    )
    outcome = _outcome(
        "periodic", time_s=T0 + 54.5 * CADENCE, windows=windows, period_s=DAY, events=2
    )
    doc = detection_document(outcome, points, ANALYSIS, WHEN)
    assert doc["rows"] == [
        {
            "sequence_id": SEGMENTS[0].sequence_id,
            "run_id": "runA",
            "data_path": "lc/a.parquet",
            "row_start": 600 + 50,
            "row_count": 10,
        },
        {
            "sequence_id": SEGMENTS[1].sequence_id,
            "run_id": "runB",
            "data_path": "lc/b.parquet",
            "row_start": 120 + 5,
            "row_count": 10,
        },
    ]
    assert len(doc["frames"]) == 19 and "PAN012_ee04d1__img008" not in doc["frames"]
    assert doc["frames"][0] == "PAN001_14d3bd__img050"
    assert doc["sequence_ids"] == sorted(s.sequence_id for s in SEGMENTS)
    assert doc["run_ids"] == ["runA", "runB"] and doc["unit_ids"] == ["PAN001", "PAN012"]
    assert doc["period_days"] == 1.0 and doc["events"] == 2
    assert doc["kind"] == "transit" and doc["search"] == "periodic"
    _assert_firestore_safe(doc)


def test_a_single_event_names_only_its_own_run():
    doc = detection_document(_outcome(), _points(), ANALYSIS, WHEN)
    assert [r["run_id"] for r in doc["rows"]] == ["runA"]
    assert doc["rows"][0]["row_start"] == 600 + 23 and doc["rows"][0]["row_count"] == 15
    assert doc["run_ids"] == ["runA"] and doc["unit_ids"] == ["PAN001"]
    # No point in the window: no rows nor frames, the star's runs named.
    empty = _outcome(windows=((T0 - 10 * DAY, T0 - 9 * DAY),))
    doc = detection_document(empty, _points(), ANALYSIS, WHEN)
    assert doc["rows"] == [] and doc["frames"] == []
    assert doc["run_ids"] == ["runA", "runB"]


def test_frames_are_capped():
    long = _outcome(windows=((T0 + 2 * CADENCE, T0 + 59 * CADENCE),), duration_s=57 * CADENCE)
    doc = detection_document(long, _points(), ANALYSIS, WHEN)
    assert MAX_FRAMES == 50 and len(doc["frames"]) == MAX_FRAMES
    assert doc["frames"] == [f"PAN001_14d3bd__img{i:03d}" for i in range(2, 52)]
    assert doc["rows"][0]["row_count"] == 58  # the rows are not capped


def test_every_window_of_a_periodic_detection_names_its_first_frame():
    # Windows of 55 and 40 points: the second window's frames are beyond the first 50.
    windows = (
        (T0 + 5 * CADENCE, T0 + 59 * CADENCE),
        (T0 + DAY + 10 * CADENCE, T0 + DAY + 49 * CADENCE),
    )
    outcome = _outcome("periodic", windows=windows, period_s=DAY, events=2)
    doc = detection_document(outcome, _points(), ANALYSIS, WHEN)
    assert "PAN001_14d3bd__img005" in doc["frames"]
    assert "PAN012_ee04d1__img010" in doc["frames"]


def test_catalog_fields_are_copied_only_when_finite():
    doc = detection_document(
        _outcome(),
        _points(),
        ANALYSIS,
        WHEN,
        catalog={"ra": 300.25, "dec": float("nan"), "vmag": None, "tmag": 9.1},
    )
    assert doc["ra"] == 300.25 and "dec" not in doc and "vmag" not in doc and "tmag" not in doc
    doc = detection_document(
        _outcome(), _points(), ANALYSIS, WHEN, catalog={"vmag": 9, "dec": float("inf")}
    )
    assert doc["vmag"] == 9.0 and isinstance(doc["vmag"], float) and "dec" not in doc
    doc = detection_document(_outcome(), _points(), ANALYSIS, WHEN)
    assert not {"ra", "dec", "vmag"} & set(doc)


def test_depth_or_amplitude_by_kind_and_the_other_fields():
    transit = detection_document(_outcome(), _points(), ANALYSIS, WHEN)
    assert transit["depth"] == 0.0042 and transit["depth_err"] == 0.0005
    assert transit["amplitude"] is None and transit["amplitude_err"] is None
    assert transit["kind"] == "transit" and transit["period_days"] is None
    assert transit["snr"] == pytest.approx(8.4) and transit["statistic"] == 9.0
    assert transit["threshold"] == 4.5 and transit["significance"] == 2.0
    assert transit["shifts"] == 299 and transit["false_alarm_probability"] == round(1 / 300, 6)
    assert transit["time"] == datetime.fromtimestamp(T0 + CADENCE * 30.4, tz=timezone.utc)
    assert transit["time_s"] == round(T0 + CADENCE * 30.4, 3) and transit["duration_s"] == 1800.0
    assert transit["analysis"] == "default" and transit["analysis_hash"] == ANALYSIS.config_hash()
    assert transit["picid"] == 99 and transit["analysed_time"] == WHEN
    assert transit["injected"] is False and transit["injection"] is None
    flare = detection_document(_outcome("flare", value=0.031), _points(), ANALYSIS, WHEN)
    assert flare["kind"] == "flare" and flare["search"] == "flare"
    assert flare["amplitude"] == 0.031 and flare["amplitude_err"] == 0.0005
    assert flare["depth"] is None and flare["depth_err"] is None
    truth = {"kind": "flare", "amplitude": 0.03, "time_s": T0 + 3600.0}
    injected = detection_document(_outcome("flare"), _points(), ANALYSIS, WHEN, injection=truth)
    assert injected["injected"] is True and injected["injection"] == truth
    assert injected["injection"] is not truth  # a copy
    _assert_firestore_safe(transit)
    _assert_firestore_safe(flare)


def test_no_nan_anywhere():
    # No copies run (NaN threshold) and a zero error (NaN SNR): nulls, not NaN.
    outcome = _outcome(threshold=float("nan"), value_err=0.0, false_alarm_probability=1.0)
    doc = detection_document(outcome, _points(), ANALYSIS, WHEN, catalog={"ra": float("nan")})
    assert doc["threshold"] is None and doc["significance"] is None and doc["snr"] is None
    _assert_firestore_safe(doc)
    negative = _outcome(threshold=-1.0, value=float("nan"))
    doc = detection_document(negative, _points(), ANALYSIS, WHEN)
    assert doc["significance"] is None and doc["depth"] is None
    _assert_firestore_safe(doc)


def test_search_points_documents_only_the_significant_detections():
    rng = np.random.default_rng(3)
    stars = []
    for picid in (30, 10, 20):
        parts = []
        for k, segment in enumerate(SEGMENTS):
            time = T0 + k * DAY + CADENCE * np.arange(N)
            flux = 1.0 + rng.normal(0.0, 0.002, N)
            if picid == 20 and k == 1:
                flux[20:35] -= 0.01  # a 30-minute box at SNR ~ 20
            columns = {"flux_g": flux, "flux_err_g": np.full(N, 0.002)}
            parts.append(run_star_points(picid, segment, time, columns, FIRST_ROWS[k]))
        stars.append(merge_points(parts))
    analysis = Analysis(period_min_days=30.0)
    catalog = {20: {"ra": 10.5, "dec": -3.25, "vmag": 9.5}}
    found = search_points(stars, analysis, WHEN, catalog)
    box = [(i, d) for i, d in found if d["picid"] == 20 and d["search"] == "single-event"]
    assert len(box) == 1 and len(found) <= 2  # the box; at most one chance false alarm
    doc_id, doc = box[0]
    assert doc_id == f"{analysis.config_hash()}_20_single-event_{int(doc['time_s'])}"
    assert abs(doc["time_s"] - (T0 + DAY + 27 * CADENCE)) <= CADENCE
    assert doc["run_ids"] == ["runB"] and doc["ra"] == 10.5 and doc["vmag"] == 9.5
    assert [d["picid"] for _, d in found] == sorted(d["picid"] for _, d in found)
    documents = MemoryDocuments()
    assert store_documents(documents, DETECTIONS, found) == len(found)
    assert documents.get(DETECTIONS, doc_id)["depth"] == doc["depth"]
    assert store_documents(documents, DETECTIONS, []) == 0
