"""The analysis' detections: candidates by significance, a star's, one candidate in full.

The documents are the contract's (:mod:`tests.unit.explorer.analysis_records`); the expected
order comes from their definition (``DETECTIONS_TABLE``), not from the code's answers.
"""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.explorer.candidate import MAX_ROW_READS, candidate, event_window
from panoptes_network.explorer.detections import (
    DETECTION_INDEXES,
    MAX_CANDIDATES,
    candidates,
    check_detection_id,
    detection_row,
    star_detections,
)
from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.params import candidates_arguments
from panoptes_network.explorer.stars import star
from panoptes_network.pipeline.schema import DETECTIONS, STARS
from tests.unit.explorer.analysis_records import (
    ANALYSIS_HASH,
    DETECTIONS_TABLE,
    FILE_RUN,
    OLD_HASH,
    TRANSIT_ID,
    build_detections,
    data_path_of,
    detection_doc,
    stitching,
)
from tests.unit.explorer.network import SETTINGS
from tests.unit.explorer.openapi_check import schema_errors
from tests.unit.explorer.star_records import PICID, RUNS, build_star, run_id_of, star_series
from tests.unit.fakes import CountingDocuments, MemoryDocuments, MemoryStore


@pytest.fixture
def stored():
    documents, store = CountingDocuments(), MemoryStore()
    build_star(documents, store)
    ids = build_detections(documents)
    documents.reads = 0

    def read_data(path: str) -> bytes:
        return store.read(SETTINGS.lightcurves_bucket, path)

    return documents, read_data, ids


def _expected(*, injected: bool, kind: str | None = None, picid: int | None = None) -> list:
    """The detection ids of the table that a query should give, most significant first."""
    rows = []
    for p, search, run, minutes, significance, inj, analysis_hash in DETECTIONS_TABLE:
        if analysis_hash != ANALYSIS_HASH or inj != injected:
            continue
        if kind is not None and ("flare" if search == "flare" else "transit") != kind:
            continue
        if picid is not None and p != picid:
            continue
        doc_id, _ = detection_doc(
            p,
            search,
            _start(run) + 15 + 60 * minutes,
            significance,
            injected=inj,
            run=run,
        )
        rows.append((significance, doc_id))
    return [doc_id for _, doc_id in sorted(rows, reverse=True)]


def _start(run: int) -> float:
    return RUNS[run][2].timestamp()


def test_real_candidates_come_most_significant_first_and_of_the_current_analysis(stored):
    documents, _, ids = stored
    page = candidates(documents, ANALYSIS_HASH)
    got = [row["detection_id"] for row in page["candidates"]]
    assert got == _expected(injected=False) == ids["real"]
    assert page["count"] == len(got) and page["next_cursor"] is None
    assert not set(got) & set(ids["old"])
    assert all(r["injected"] is False for r in page["candidates"])
    assert schema_errors(page, "CandidatePage") == []
    significances = [row["significance"] for row in page["candidates"]]
    assert significances == sorted(significances, reverse=True)


def test_injected_candidates_are_asked_for_and_then_only_they_are_given(stored):
    documents, _, ids = stored
    page = candidates(documents, ANALYSIS_HASH, injected=True)
    got = [row["detection_id"] for row in page["candidates"]]
    assert got == _expected(injected=True) == ids["injected"]
    assert all(r["injected"] is True and r["injection"] for r in page["candidates"])
    assert all(i.endswith("_injected") for i in got)
    assert schema_errors(page, "CandidatePage") == []


@pytest.mark.parametrize("kind", ["transit", "flare"])
def test_candidates_of_one_kind(stored, kind):
    documents, _, _ = stored
    for injected in (False, True):
        page = candidates(documents, ANALYSIS_HASH, kind=kind, injected=injected)
        assert [r["detection_id"] for r in page["candidates"]] == _expected(
            injected=injected, kind=kind
        )
        assert {r["kind"] for r in page["candidates"]} == {kind}


def test_paging_by_cursor_gives_every_candidate_once_ties_included(stored):
    documents, _, ids = stored
    seen, cursor, pages = [], None, 0
    while True:
        page = candidates(documents, ANALYSIS_HASH, limit=2, cursor=cursor)
        assert page["count"] <= 2
        seen += [r["detection_id"] for r in page["candidates"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids["real"] and pages == -(-len(ids["real"]) // 2)
    # each page reads at most limit + 1 documents
    documents.reads = 0
    candidates(documents, ANALYSIS_HASH, limit=2)
    assert documents.reads == 3


def test_a_cursor_of_another_listing_or_a_bad_one_is_refused(stored):
    documents, _, _ = stored
    with pytest.raises(InvalidQuery, match="cursor"):
        candidates(documents, ANALYSIS_HASH, cursor="not-a-cursor")


@pytest.mark.parametrize(
    ("arguments", "word"),
    [
        ({"kind": "planet"}, "kind"),
        ({"limit": 0}, "limit"),
        ({"limit": MAX_CANDIDATES + 1}, "limit"),
        ({"picid": PICID, "kind": "flare"}, "kind"),
        ({"injected": "yes"}, "injected"),
    ],
)
def test_bad_candidate_queries_are_refused_naming_the_parameter(stored, arguments, word):
    documents, _, _ = stored
    with pytest.raises(InvalidQuery) as raised:
        candidates(documents, ANALYSIS_HASH, **arguments)
    assert raised.value.parameter == word


def test_a_stars_detections_real_only_most_significant_first_with_frames(stored):
    documents, _, ids = stored
    found = star_detections(documents, PICID, ANALYSIS_HASH)
    assert [r["detection_id"] for r in found] == _expected(injected=False, picid=PICID)
    assert documents.reads == len(found)  # one query, no more read than shown
    transit = next(r for r in found if r["detection_id"] == TRANSIT_ID)
    assert transit["frames"] == ids["frames"] and transit["num_frames"] == len(ids["frames"])
    assert star_detections(documents, PICID, OLD_HASH)[0]["analysis_hash"] == OLD_HASH
    assert star_detections(documents, 123, ANALYSIS_HASH) == []
    assert len(star_detections(documents, PICID, ANALYSIS_HASH, limit=1)) == 1
    # the candidates query by star gives the same, and the injected ones apart
    by_star = candidates(documents, ANALYSIS_HASH, picid=PICID)["candidates"]
    assert [r["detection_id"] for r in by_star] == [r["detection_id"] for r in found]
    injected = candidates(documents, ANALYSIS_HASH, picid=PICID, injected=True)["candidates"]
    assert [r["detection_id"] for r in injected] == _expected(injected=True, picid=PICID)


def test_the_star_page_lists_its_detections_and_its_stitching(stored):
    documents, read_data, _ = stored
    documents.merge(STARS, str(PICID), {"analysis": "x", "stitching": stitching(degenerate=True)})
    plain = star(documents, PICID, read_data=read_data)
    assert plain["detections"] == []
    answer = star(documents, PICID, read_data=read_data, analysis_hash=ANALYSIS_HASH)
    assert schema_errors(answer, "StarDetail") == []
    assert [d["detection_id"] for d in answer["detections"]] == _expected(
        injected=False, picid=PICID
    )
    assert answer["documents_read"] == plain["documents_read"] + len(answer["detections"])
    stitched = answer["analysis"]["stitching"]
    assert stitched["degenerate"] is True and "PAN006 never overlaps" in stitched["reason"]
    assert [o["unit"] for o in stitched["offsets"]] == ["PAN001", "PAN006", "PAN012"]
    assert stitched["offsets"][2]["offset_mag"] == pytest.approx(0.0132)
    # the reference unit first, then the others by id
    documents.merge(
        STARS,
        str(PICID),
        {"stitching": {**stitching(degenerate=False), "reference_unit": "PAN012"}},
    )
    stitched = star(documents, PICID, read_data=read_data)["analysis"]["stitching"]
    assert [o["unit"] for o in stitched["offsets"]] == ["PAN012", "PAN001", "PAN006"]
    assert stitched["degenerate"] is False


def test_a_detection_row_reads_any_field_tolerantly():
    doc_id, doc = detection_doc(PICID, "flare", 1.7e9, 2.0, injected=True)
    row = detection_row(doc_id, doc)
    assert row["kind"] == "flare" and row["amplitude"] == 0.01 and row["depth"] is None
    assert (row["significance"], row["snr"], row["statistic"]) == (2.0, 16.0, 18.0)
    assert row["time"] == "2023-11-14T22:13:20+00:00" and row["injection"]["kind"] == "flare"
    assert schema_errors(row, "Detection") == []
    empty = detection_row("x", {"time": "garbage", "frames": "no", "snr": float("nan")})
    assert empty["time"] is None and empty["num_frames"] == 0 and empty["snr"] is None
    assert schema_errors(empty, "Detection") == []


@pytest.mark.parametrize(
    "detection_id",
    [
        "nope",
        f"{ANALYSIS_HASH}_{PICID}_box_1709265615",
        f"{ANALYSIS_HASH[:-1]}_{PICID}_flare_1709265615",
        f"{ANALYSIS_HASH}_{PICID}_flare_1709265615_fake",
        f"{ANALYSIS_HASH}_{PICID}_flare_",
        f"../{ANALYSIS_HASH}_{PICID}_flare_1",
    ],
)
def test_a_malformed_detection_id_is_refused_naming_it(detection_id):
    with pytest.raises(InvalidQuery) as raised:
        check_detection_id(detection_id)
    assert raised.value.parameter == "detection_id"
    with pytest.raises(InvalidQuery):
        candidate(MemoryDocuments(), detection_id)


def test_an_unknown_detection_is_not_found():
    with pytest.raises(NotFound):
        candidate(MemoryDocuments(), f"{ANALYSIS_HASH}_{PICID}_flare_1709265615")


def test_a_candidate_with_its_light_curve_rows_and_frames(stored):
    documents, read_data, ids = stored
    found = candidate(documents, TRANSIT_ID, read_data=read_data, analysis_hash=ANALYSIS_HASH)
    assert schema_errors(found, "CandidateDetail") == []
    assert found["current_analysis"] is True and found["kind"] == "transit"
    first, gone = found["segments"]
    series = star_series(FILE_RUN)
    np.testing.assert_array_equal(first["points"]["time_s"], series["time"])
    np.testing.assert_allclose(first["points"]["flux"], series["flux_g"])
    assert first["colour"] == "g" and first["points"]["outlier"] == series["outlier_g"].tolist()
    assert gone["points"] is None and "could not be read" in gone["note"]
    assert [f["image_id"] for f in found["frames"]] == ids["frames"]
    assert [f["recorded"] for f in found["frames"]] == [True, True] + [False] * (
        len(ids["frames"]) - 2
    )
    assert found["frames"][0]["preview_url"].endswith(f"{ids['frames'][0]}.jpg")
    assert found["documents_read"] == documents.reads == 1 + len(ids["frames"])
    window = found["window"]
    assert window["end_s"] - window["start_s"] == found["duration_s"] == 300.0
    assert window["start_s"] < found["time_s"] < window["end_s"]
    # without a reader no file is read, and the page says so
    unread = candidate(documents, TRANSIT_ID)["segments"][0]
    assert unread["points"] is None and unread["note"] == "points not read for this page"


def test_a_candidates_light_curve_is_green_where_the_run_has_every_colour(stored):
    documents, read_data, _ = stored
    run = next(i for i, r in enumerate(RUNS) if "r" in r[4] and "g" in r[4])
    entry = {**documents.get(DETECTIONS, TRANSIT_ID)["rows"][0]}
    entry.update(data_path=data_path_of(run), run_id=run_id_of(run), row_count=RUNS[run][3])
    documents.merge(DETECTIONS, TRANSIT_ID, {"rows": [entry]})
    (segment,) = candidate(documents, TRANSIT_ID, read_data=read_data)["segments"]
    assert segment["colour"] == "g"
    np.testing.assert_allclose(segment["points"]["flux"], star_series(run)["flux_g"])


def test_a_candidate_reads_at_most_its_bound_of_data_files(stored):
    documents, read_data, _ = stored
    doc = documents.get(DETECTIONS, TRANSIT_ID)
    reads: list[str] = []

    def counting(path: str) -> bytes:
        reads.append(path)
        return read_data(path)

    documents.merge(DETECTIONS, TRANSIT_ID, {"rows": doc["rows"][:1] * (MAX_ROW_READS + 3)})
    found = candidate(documents, TRANSIT_ID, read_data=counting)
    assert len(reads) == MAX_ROW_READS == len(found["segments"])
    assert found["rows_unread"] == 3


def test_the_event_window_of_a_transit_and_of_a_flare():
    transit = event_window({"kind": "transit", "time_s": 1000.0, "duration_s": 600.0})
    assert (transit["start_s"], transit["end_s"]) == (700.0, 1300.0)
    flare = event_window({"kind": "flare", "time_s": 1000.0, "duration_s": 600.0})
    assert (flare["start_s"], flare["end_s"]) == (1000.0, 1600.0)
    assert event_window({"kind": "flare", "time_s": None, "duration_s": 600.0}) is None


def test_candidate_url_parameters_strictly():
    assert candidates_arguments({"kind": "flare", "injected": "true", "limit": "7"}) == {
        "kind": "flare",
        "injected": True,
        "limit": 7,
    }
    assert candidates_arguments({"picid": "261136679", "cursor": "abc"}) == {
        "picid": 261136679,
        "cursor": "abc",
    }
    assert candidates_arguments({"kind": "", "injected": ""}) == {}
    for args, word in [
        ({"kind": "dip"}, "kind"),
        ({"injected": "yes"}, "injected"),
        ({"picid": "-3"}, "picid"),
        ({"limit": "201"}, "limit"),
        ({"order": "time"}, "order"),
        ({"kind": ["flare", "transit"]}, "kind"),
    ]:
        with pytest.raises(InvalidQuery) as raised:
            candidates_arguments(args)
        assert raised.value.parameter == word, args


def test_the_declared_indexes_are_those_of_the_contract():
    fields = [[(f["fieldPath"], f["order"]) for f in i["fields"]] for i in DETECTION_INDEXES]
    assert fields == [
        [("analysis_hash", "ASCENDING"), ("injected", "ASCENDING"), ("significance", "DESCENDING")],
        [
            ("analysis_hash", "ASCENDING"),
            ("injected", "ASCENDING"),
            ("kind", "ASCENDING"),
            ("significance", "DESCENDING"),
        ],
        [
            ("picid", "ASCENDING"),
            ("analysis_hash", "ASCENDING"),
            ("injected", "ASCENDING"),
            ("significance", "DESCENDING"),
        ],
    ]
