"""The read models on the in-memory store, over records made by the network's own code."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from panoptes_network.explorer import (
    InvalidQuery,
    NotFound,
    home,
    image,
    observation,
    observations,
    unit,
    units,
)
from panoptes_network.explorer.units import MAX_UNITS
from panoptes_network.pipeline.key_index import add_ids
from panoptes_network.pipeline.schema import (
    IMAGES,
    OBSERVATION_FRAMES,
    OBSERVATION_RUNS,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
    UNITS,
)
from tests.unit.explorer.network import (
    RUN_ID,
    SETTINGS,
    SOLVED_SEQUENCE,
    build_network,
)
from tests.unit.explorer.openapi_check import schema_errors
from tests.unit.fakes import CountingDocuments

UTC = timezone.utc


# --- home -------------------------------------------------------------------------------


def test_home_totals_are_the_sums_of_the_units_counters(network):
    documents, _ = network
    unit_docs = [documents.get(UNITS, u) for u in ("PAN001", "PAN012")]
    answer = home(documents)
    totals = answer["totals"]
    assert totals["units"]["value"] == 2
    assert totals["observations"]["value"] == sum(d["num_observations"] for d in unit_docs) == 4
    assert totals["images"]["value"] == sum(d["num_images"] for d in unit_docs) == 11
    minutes = sum(d["total_minutes_exptime"] for d in unit_docs)
    assert totals["exposure_hours"]["value"] == pytest.approx(minutes / 60) == pytest.approx(0.3)
    assert all(t["complete"] and not t["units_without_counter"] for t in totals.values())
    assert schema_errors(answer, "Home") == []


def test_home_never_counts_documents(network):
    documents, _ = network
    before = home(documents)["totals"]
    # a document record-image did not count (no counter moved) changes no total
    documents.merge(IMAGES, "PAN001_14d3bd_20180216T999999", {"sequence_id": SOLVED_SEQUENCE})
    documents.merge(OBSERVATIONS, "PAN012_95cdbc_20200101T000000", {"unit_id": "PAN012"})
    assert home(documents)["totals"] == before


def test_home_says_which_unit_has_no_counter_yet(network):
    documents, _ = network
    documents.merge(UNITS, "PAN006", {"name": "PAN006", "num_images": 5, "num_observations": 1})
    totals = home(documents)["totals"]
    assert totals["images"]["value"] == 16 and totals["images"]["complete"]
    exposure = totals["exposure_hours"]
    assert not exposure["complete"] and exposure["units_without_counter"] == ["PAN006"]
    assert exposure["value"] == pytest.approx(0.3) and "PAN006" not in exposure["note"]
    assert "1 of 3 units" in exposure["note"]


def test_home_lists_the_latest_observations_newest_first_within_bounded_reads(network):
    documents, _ = network
    counting = CountingDocuments()
    build_network(counting)
    counting.reads = 0
    answer = home(counting, latest=2)
    assert [o["sequence_id"] for o in answer["latest"]] == [
        "PAN012_95cdbc_20191025T075751",
        "PAN001_14d3bd_20180217T104500",
    ]
    assert counting.reads <= 2 + (2 + 1)  # the units, then latest + 1
    with pytest.raises(InvalidQuery):
        home(documents, latest=51)


def test_the_weekly_chart_comes_from_the_exact_weekly_statistics_in_bounded_reads():
    counting = CountingDocuments()
    build_network(counting)
    for _ in range(2):  # redelivered frames move nothing
        build_network(counting)
    counting.reads = 0
    weekly = home(counting, latest=1, now=datetime(2018, 2, 21, 12, tzinfo=UTC))["weekly"]
    assert weekly["weeks"][-1] == "2018-W08" and len(weekly["weeks"]) == 12
    assert weekly["week_starts"][-1] == "2018-02-19T00:00:00+00:00"
    (pan001,) = weekly["units"]  # PAN012 observed in 2019: outside these weeks
    assert pan001["unit_id"] == "PAN001"
    w07 = weekly["weeks"].index("2018-W07")
    assert pan001["num_images"][w07] == 3 + 2 + 4 and sum(pan001["num_images"]) == 9
    assert pan001["num_observations"][w07] == 3
    assert pan001["exposure_hours"][w07] == pytest.approx((5 * 120 + 4 * 90) / 3600)
    assert weekly["truncated"] is False
    assert counting.reads <= 2 + 2 + 1  # units, latest + 1, one weekly document


# --- units ------------------------------------------------------------------------------


def test_units_in_id_order_with_location_and_counters(network):
    documents, _ = network
    answer = units(documents)
    assert [u_["unit_id"] for u_ in answer["units"]] == ["PAN001", "PAN012"]
    first = answer["units"][0]
    assert first["location"] == {"latitude": 19.54, "longitude": -155.58}
    assert (first["num_observations"], first["num_images"]) == (3, 9)
    assert first["exposure_hours"] == pytest.approx(16 / 60)
    assert not answer["truncated"] and answer["count"] == 2
    assert schema_errors(answer, "UnitList") == []


def test_units_are_bounded():
    documents = CountingDocuments()
    for n in range(MAX_UNITS + 3):
        documents.merge(UNITS, f"PAN{n:03d}", {"name": f"PAN{n:03d}"})
    answer = units(documents)
    assert answer["truncated"] and answer["count"] == MAX_UNITS
    assert documents.reads == MAX_UNITS + 1


def test_unit_with_its_observations_paged(network):
    documents, _ = network
    first = unit(documents, "PAN001", limit=2)
    assert first["unit"]["name"] == "PAN001"
    page = first["observations"]
    assert [o["sequence_id"] for o in page["observations"]] == [
        "PAN001_14d3bd_20180217T104500",
        "PAN001_ee04d1_20180216T110623",  # the tie of the two cameras: ids descending
    ]
    second = unit(documents, "PAN001", limit=2, cursor=page["next_cursor"])
    rest = second["observations"]
    assert [o["sequence_id"] for o in rest["observations"]] == ["PAN001_14d3bd_20180216T110623"]
    assert rest["next_cursor"] is None
    assert first["document"]["location"] == {"latitude": 19.54, "longitude": -155.58}
    assert schema_errors(first, "UnitDetail") == []


@pytest.mark.parametrize("unit_id", ["PAN999", "", "a/b", "..", "x" * 300])
def test_unknown_unit(network, unit_id):
    documents, _ = network
    with pytest.raises(NotFound) as err:
        unit(documents, unit_id)
    assert (err.value.kind, err.value.requested) == ("unit", unit_id)


# --- observations -----------------------------------------------------------------------

T0 = datetime(2020, 1, 1, tzinfo=UTC)
FILTERS = {
    "unit": ("unit_id", "PAN001"),
    "camera": ("camera_id", "14d3bd"),
    "status": ("status", "receiving_files"),
}


@pytest.fixture(scope="module")
def many():
    """90 observations with ties in time and in frame count; a few lack a field."""
    rng = random.Random(14)
    documents = CountingDocuments()
    docs = {}
    for n in range(90):
        unit_id = ("PAN001", "PAN006", "PAN012")[n % 3]
        camera = ("14d3bd", "ee04d1")[(n // 3) % 2] if unit_id == "PAN001" else f"{n % 7:06x}"
        start = T0 + timedelta(hours=6 * (n // 4))  # four at a time share a start
        doc = {
            "unit_id": unit_id,
            "camera_id": camera,
            "time": start,
            "status": ("receiving_files", "metadata_received")[rng.random() < 0.3],
            "num_images": rng.randint(0, 6),
        }
        if n % 17 == 0:
            del doc["num_images"]  # no counter: never listed in frame order
        if n % 29 == 0:
            del doc["time"]  # no start: never listed in time order
        doc_id = f"{unit_id}_{camera}_{start:%Y%m%dT%H%M%S}_{n:02d}"
        docs[doc_id] = doc
        documents.merge(OBSERVATIONS, doc_id, doc)
    return documents, docs


def expected_ids(docs, *, order, descending, since=None, until=None, min_images=None, **eq):
    """Brute force: Firestore's semantics written out over the plain documents."""
    rows = []
    for doc_id, doc in docs.items():
        if order not in doc:
            continue
        if any(doc.get(FILTERS[name][0]) != value for name, value in eq.items()):
            continue
        if (since or until) and not isinstance(doc.get("time"), datetime):
            continue
        if since and doc["time"] < since or until and doc["time"] >= until:
            continue
        if min_images is not None and doc.get("num_images", -1) < min_images:
            continue
        rows.append((doc[order], doc_id))
    return [doc_id for _, doc_id in sorted(rows, reverse=descending)]


FILTER_SETS = [
    {},
    {"unit": "PAN001"},
    {"camera": "14d3bd"},
    {"status": "receiving_files"},
    {"unit": "PAN001", "status": "receiving_files"},
    {"unit": "PAN001", "camera": "14d3bd", "status": "receiving_files"},
    {"since": T0 + timedelta(days=3), "until": T0 + timedelta(days=12)},
    {"min_images": 3},
    {"unit": "PAN012", "since": T0 + timedelta(days=5), "min_images": 2},
]


@pytest.mark.parametrize("filters", FILTER_SETS, ids=lambda f: ",".join(f) or "none")
@pytest.mark.parametrize("order", ["time", "num_images"])
@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
def test_paging_reaches_every_match_once_in_order(many, filters, order, descending):
    documents, docs = many
    expected = expected_ids(docs, order=order, descending=descending, **filters)
    limit = 7
    seen, cursor, pages = [], None, 0
    for pages in itertools.count(1):  # noqa: B007
        before = documents.reads
        page = observations(
            documents, order=order, descending=descending, limit=limit, cursor=cursor, **filters
        )
        assert documents.reads - before <= limit + 1
        assert page["documents_read"] <= limit and page["count"] <= limit
        assert schema_errors(page, "ObservationPage") == []
        seen += [o["sequence_id"] for o in page["observations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert pages < 100
    assert seen == expected
    equality = [name for name in ("camera", "unit", "status") if name in filters]
    later = set(equality[1:])
    if order == "time" and "min_images" in filters:
        later.add("min_images")
    if order == "num_images":
        later |= {"since", "until"} & set(filters)
    assert page["filtered_after_read"] is bool(later)
    assert set(page["after_read"]) == later


def test_filters_are_echoed_and_bad_ones_refused(many):
    documents, _ = many
    page = observations(documents, unit="PAN001", since=datetime(2020, 1, 2), limit=3)
    assert page["filters"]["since"] == "2020-01-02T00:00:00+00:00"  # naive: UTC
    for bad in [
        {"limit": 0},
        {"limit": 201},
        {"limit": True},
        {"min_images": -1},
        {"order": "exptime"},
        {"descending": "yes"},
        {"since": "2020-01-01"},
        {"since": T0 + timedelta(days=2), "until": T0 + timedelta(days=1)},
        {"unit": "x" * 101},
        {"cursor": "garbage"},
    ]:
        with pytest.raises(InvalidQuery):
            observations(documents, **bad)


def test_a_cursor_of_one_order_is_refused_by_another(many):
    documents, _ = many
    cursor = observations(documents, limit=2)["next_cursor"]
    with pytest.raises(InvalidQuery, match="another order"):
        observations(documents, limit=2, order="num_images", cursor=cursor)


# --- one observation --------------------------------------------------------------------


def test_observation_with_its_frames_and_runs(network):
    documents, ids = network
    answer = observation(documents, SOLVED_SEQUENCE, settings=SETTINGS)
    assert answer["observation"]["num_images"] == 3
    assert (answer["observation"]["ra"], answer["observation"]["dec"]) == (40.62, 37.41)
    frames = answer["frames"]
    assert [f["image_id"] for f in frames] == sorted(
        i for i in ids["images"] if i.startswith(SOLVED_SEQUENCE[:-16] + "_20180216")
    )
    assert [f["time"] for f in frames] == sorted(f["time"] for f in frames)
    solved = frames[0]
    assert solved["image_id"] == ids["solved"]
    assert (solved["status"], solved["solved"]) == ("measured", True)
    assert (solved["ra_image"], solved["dec_image"]) == (40.62, 37.41)
    assert solved["public_url"] == (
        "https://storage.googleapis.com/panoptes-images/PAN001/14d3bd/20180216T110623/"
        "20180216T110653.fits.fz"
    )
    assert solved["header"] == {
        "service": "get-fits-header",
        "url": "http://127.0.0.1:8094/",
        "method": "POST",
        "body": {
            "bucket_path": "PAN001/14d3bd/20180216T110623/20180216T110653.fits.fz",
            "bucket_name": "panoptes-images",
        },
    }
    assert frames[1]["ra_image"] is None and frames[1]["solved"] is False
    (run,) = answer["runs"]
    assert run["run_id"] == RUN_ID and run["status"] == "done" and run["num_stars"] == 250
    assert run["corrections"] == {"g": "cotrend", "r": "none"}
    assert run["run_time"] == "2026-11-29T13:00:00+00:00"
    assert not answer["runs_truncated"] and answer["frames_next_cursor"] is None
    assert answer["document"]["time"] == "2018-02-16T11:06:23+00:00"
    assert schema_errors(answer, "ObservationDetail") == []


def test_observation_frames_are_paged_and_runs_bounded(network):
    documents, _ = network
    counting = CountingDocuments()
    build_network(counting)
    for n in range(12):
        run_id = f"{SOLVED_SEQUENCE}_2027010{n // 10}T0000{n % 10:02d}"
        counting.merge(
            PROCESSED_OBSERVATIONS,
            run_id,
            {"sequence_id": SOLVED_SEQUENCE, "run_time": datetime(2027, 1, 1, 0, 0, n, tzinfo=UTC)},
        )
        counting.commit([add_ids(OBSERVATION_RUNS, SOLVED_SEQUENCE, [run_id])])
    counting.reads = 0
    first = observation(counting, SOLVED_SEQUENCE, limit=2)
    # the observation, its two key indexes, a page of frames, the newest runs (by key)
    assert counting.reads <= 3 + (2 + 1) + (10 + 1)
    assert len(first["frames"]) == 2 and first["frames_next_cursor"]
    assert len(first["runs"]) == 10 and first["runs_truncated"]
    run_times = [r["run_time"] for r in first["runs"]]
    assert run_times == sorted(run_times, reverse=True)
    second = observation(counting, SOLVED_SEQUENCE, limit=2, cursor=first["frames_next_cursor"])
    assert len(second["frames"]) == 1 and second["frames_next_cursor"] is None
    assert {f["image_id"] for f in first["frames"]}.isdisjoint(
        f["image_id"] for f in second["frames"]
    )


def test_an_observation_without_key_indexes_is_read_by_queries_with_the_same_answer(network):
    documents, _ = network
    indexed = observation(documents, SOLVED_SEQUENCE, limit=2)
    assert documents.get(OBSERVATION_FRAMES, SOLVED_SEQUENCE) is not None
    assert documents.get(OBSERVATION_RUNS, SOLVED_SEQUENCE) is not None
    for collection in (OBSERVATION_FRAMES, OBSERVATION_RUNS):  # recorded before they existed
        del documents.docs[(collection, SOLVED_SEQUENCE)]
    queried = observation(documents, SOLVED_SEQUENCE, limit=2)
    assert queried == indexed
    rest = observation(documents, SOLVED_SEQUENCE, limit=2, cursor=indexed["frames_next_cursor"])
    assert [f["image_id"] for f in rest["frames"]] == [
        f["image_id"] for f in observation(documents, SOLVED_SEQUENCE, limit=3)["frames"][2:]
    ]


def test_a_listed_frame_whose_document_is_gone_is_left_out(network):
    documents, _ = network
    frames = [f["image_id"] for f in observation(documents, SOLVED_SEQUENCE)["frames"]]
    del documents.docs[(IMAGES, frames[1])]
    left = [f["image_id"] for f in observation(documents, SOLVED_SEQUENCE)["frames"]]
    assert left == [frames[0], *frames[2:]]


def test_unknown_observation(network):
    documents, _ = network
    with pytest.raises(NotFound) as err:
        observation(documents, "PAN001_14d3bd_20000101T000000")
    assert err.value.kind == "observation"
    assert "PAN001_14d3bd_20000101T000000" in err.value.reason


# --- one image --------------------------------------------------------------------------


def test_solved_and_measured_image(network):
    documents, ids = network
    answer = image(documents, ids["solved"], settings=SETTINGS)
    cards = {c["keyword"]: c for c in answer["header_fields"]}
    assert cards["EXPTIME"] == {
        "keyword": "EXPTIME",
        "field": "exptime",
        "value": 120.0,
        "unit": "s",
    }
    assert cards["RA-MNT"]["value"] == 40.5 and cards["DEC-MNT"]["value"] == 37.5
    assert cards["DATE-OBS"]["value"] == "2018-02-16T11:06:53+00:00"
    assert cards["RAWCONV"]["value"] is False
    pointing = answer["pointing"]
    reference = SkyCoord(40.5 * u.deg, 37.5 * u.deg).separation(
        SkyCoord(40.62 * u.deg, 37.41 * u.deg)
    )
    assert pointing["offset_deg"] == pytest.approx(reference.deg, abs=1e-9)
    assert (pointing["pixel_scale"], pointing["solve_matched_stars"]) == (10.3, 41)
    assert pointing["solve_method"] == "solve-field" and pointing["solve_tracked_from"] is None
    assert pointing["solve_not_tracked_reason"] == "no frame of this observation is solved yet"
    assert answer["photometry"] == {
        "num_sources": 318,
        "num_sources_flagged": 12,
        "sources_url": "https://storage.googleapis.com/panoptes-sources/x.parquet",
        "measured_time": "2026-11-29T12:06:00+00:00",
        "measure_error_reason": None,
    }
    assert answer["files"]["solved_url"].endswith("x.fits.fz")
    assert answer["header"]["url"] == "http://127.0.0.1:8094/"
    assert schema_errors(answer, "ImageDetail") == []


def test_unsolved_image_and_errors(network):
    documents, ids = network
    other = next(i for i in ids["images"] if i != ids["solved"])
    documents.merge(IMAGES, other, {"status": "solve_error", "solve_error_reason": "no stars"})
    answer = image(documents, other)
    assert answer["photometry"] is None and answer["pointing"]["offset_deg"] is None
    assert answer["errors"] == {"solve_error_reason": "no stars"}
    assert answer["header"]["url"] is None  # no get-fits-header URL in Settings()
    assert schema_errors(answer, "ImageDetail") == []


def test_unknown_image(network):
    documents, _ = network
    with pytest.raises(NotFound) as err:
        image(documents, "nope")
    assert (err.value.kind, err.value.requested) == ("image", "nope")
