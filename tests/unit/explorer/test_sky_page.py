"""The sky search in time order, read by key through the sky cells key index.

The reference is brute force with astropy over every observation of the in-memory store:
an observation matches when the angle between the search's centre and its indexed pointing
(``SkyCoord.separation``) is at most the search's radius plus its field's radius, and the
rows come in the order of their start time, then sequence id. The observations are written
as the network writes them: the sky index on the document, and the sequence id listed under
each of its cells (``move_id``).
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from panoptes_network.explorer import InvalidQuery, observations
from panoptes_network.explorer._cursor import encode_cursor
from panoptes_network.explorer.sky_page import sequence_start
from panoptes_network.frames.sky_index import SkySource, cone_cells, sky_fields
from panoptes_network.pipeline.key_index import add_ids, move_id
from panoptes_network.pipeline.schema import OBSERVATIONS, SKY_CELLS
from tests.unit.explorer.openapi_check import schema_errors
from tests.unit.fakes import CountingDocuments

UTC = timezone.utc
T0 = datetime(2022, 5, 1, tzinfo=UTC)
#: The poles, RA 0/360, the polar caps' edges.
HARD = [(0.5, 89.5), (200.0, -89.0), (359.8, 10.0), (0.2, -10.0), (45.0, 41.9), (300.0, -42.0)]
CONES = [
    (10.0, 20.0, 2.0),
    (0.1, 0.0, 5.0),  # across RA 0/360
    (359.9, -30.0, 0.5),
    (180.0, 89.9, 3.0),  # the north pole
    (17.0, -88.0, 10.0),  # the south pole, the largest cone
    (300.0, -42.0, 0.0),
]


class QueryCounting(CountingDocuments):
    """Counts the queries asked besides the documents read."""

    queries = 0

    def query(self, *args, **kwargs):
        self.queries += 1
        return super().query(*args, **kwargs)


def add_observation(documents, docs, n, ra, dec, start, rng):
    unit_id = ("PAN001", "PAN006", "PAN012")[n % 3]
    camera_id = f"{n % 4:06x}"
    source = SkySource.SOLVED if n % 2 else SkySource.MOUNT
    doc = {
        "unit_id": unit_id,
        "camera_id": camera_id,
        "time": start,
        "status": "receiving_files",
        "num_images": rng.randint(1, 60),
        **sky_fields(ra, dec, source),
    }
    doc_id = f"{unit_id}_{camera_id}_{start:%Y%m%dT%H%M%S}"
    assert doc_id not in docs
    docs[doc_id] = doc
    documents.merge(OBSERVATIONS, doc_id, doc)
    documents.commit(move_id(SKY_CELLS, doc_id, [], doc["sky_cells"]))


def random_pointing(rng, centre=None, spread=None):
    """A pointing uniform over the sky, or within ``spread`` degrees of ``centre``."""
    if centre is None:
        return rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))
    point = SkyCoord(centre[0] * u.deg, centre[1] * u.deg).directional_offset_by(
        rng.uniform(0, 360) * u.deg, spread * math.sqrt(rng.random()) * u.deg
    )
    return float(point.ra.deg), float(point.dec.deg)


def build(count, seed, centre=None, spread=None):
    """``count`` observations (pairs of units sharing a start: ties in time)."""
    rng = random.Random(seed)
    documents, docs = QueryCounting(), {}
    for n in range(count):
        ra, dec = random_pointing(rng, centre, spread)
        add_observation(documents, docs, n, ra, dec, T0 + timedelta(minutes=37 * (n // 2)), rng)
    return documents, docs


@pytest.fixture(scope="module")
def sky():
    documents, docs = build(600, seed=11)
    rng = random.Random(5)
    for n, (ra, dec) in enumerate(HARD, start=600):
        add_observation(documents, docs, n, ra, dec, T0 - timedelta(days=n), rng)
    return documents, docs


def matches(docs, ra, dec, radius, since=None, until=None, descending=True):
    """Brute force: the matching ids, in the page order (start time, then id)."""
    ids = list(docs)
    pointings = SkyCoord(
        np.array([docs[i]["sky_ra"] for i in ids]) * u.deg,
        np.array([docs[i]["sky_dec"] for i in ids]) * u.deg,
    )
    separation = SkyCoord(ra * u.deg, dec * u.deg).separation(pointings).deg
    found = [
        (docs[i]["time"], i)
        for i, angle in zip(ids, separation, strict=True)
        if angle <= radius + docs[i]["sky_radius"]
        and (since is None or docs[i]["time"] >= since)
        and (until is None or docs[i]["time"] < until)
    ]
    return [i for _, i in sorted(found, reverse=descending)]


def every_page(documents, limit, **query):
    """Page through a search; return the rows' ids and each page's answer."""
    ids, answers, cursor = [], [], None
    while True:
        before = documents.reads
        page = observations(documents, limit=limit, cursor=cursor, **query)
        assert page["documents_read"] == documents.reads - before
        assert schema_errors(page, "ObservationPage") == []
        answers.append(page)
        ids += [row["sequence_id"] for row in page["observations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids, answers
        assert len(answers) < 1000


@pytest.mark.parametrize("descending", [True, False], ids=["newest first", "oldest first"])
@pytest.mark.parametrize(("ra", "dec", "radius"), CONES, ids=lambda v: f"{v}")
def test_every_match_once_in_order_in_both_directions(sky, ra, dec, radius, descending):
    documents, docs = sky
    expected = matches(docs, ra, dec, radius, descending=descending)
    assert expected, "the cone should meet some fields"
    queries = documents.queries
    ids, answers = every_page(documents, 9, ra=ra, dec=dec, radius=radius, descending=descending)
    assert ids == expected  # none missed, none extra, each once, in order
    assert documents.queries == queries  # by key only
    cells = answers[0]["cone"]["cells"]
    assert all(a["documents_read"] <= cells + 9 for a in answers)
    assert all(a["after_read"] == ["cone"] for a in answers)


@pytest.mark.parametrize("limit", [1, 4, 200])
def test_any_page_size_reaches_the_same_rows(sky, limit):
    documents, docs = sky
    ids, answers = every_page(documents, limit, ra=30.0, dec=40.0, radius=8.0, descending=False)
    assert ids == matches(docs, 30.0, 40.0, 8.0, descending=False)
    assert all(len(a["observations"]) <= limit for a in answers)


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (T0 + timedelta(days=1), None),
        (None, T0 + timedelta(days=3)),
        (T0 + timedelta(days=2), T0 + timedelta(days=4, minutes=37)),  # a start on each edge
        (T0 - timedelta(days=700), T0),  # the hard pointings only
    ],
    ids=["since", "until", "both", "before T0"],
)
@pytest.mark.parametrize("descending", [True, False], ids=["newest first", "oldest first"])
def test_since_and_until_apply_to_the_candidates(sky, since, until, descending):
    documents, docs = sky
    query = {"ra": 0.1, "dec": 0.0, "radius": 10.0, "since": since, "until": until}
    expected = matches(docs, 0.1, 0.0, 10.0, since, until, descending)
    assert expected
    ids, answers = every_page(documents, 6, descending=descending, **query)
    assert ids == expected
    assert "since" not in answers[0]["after_read"] and "until" not in answers[0]["after_read"]


@pytest.mark.parametrize(
    "extra",
    [{"unit": "PAN006"}, {"unit": "PAN001", "camera": "000002"}, {"min_images": 40}],
    ids=lambda e: ",".join(e),
)
def test_the_other_filters_apply_after_the_read(sky, extra):
    documents, docs = sky
    fields = {"unit": "unit_id", "camera": "camera_id"}
    expected = [
        i
        for i in matches(docs, 120.0, -20.0, 10.0)
        if all(docs[i][fields[k]] == v for k, v in extra.items() if k in fields)
        and docs[i]["num_images"] >= extra.get("min_images", 0)
    ]
    assert expected
    ids, answers = every_page(documents, 5, ra=120.0, dec=-20.0, radius=10.0, **extra)
    assert ids == expected
    assert set(answers[0]["after_read"]) == {"cone", *extra}
    assert answers[0]["filtered_after_read"]


@pytest.mark.parametrize("descending", [True, False])
def test_reads_per_page_do_not_grow_with_the_archive(descending):
    centre, query = (120.0, 30.0), {"ra": 120.0, "dec": 30.0, "radius": 3.0}
    reads = {}
    for count in (100, 1000):
        documents, docs = build(count, seed=count, centre=centre, spread=20.0)
        expected = matches(docs, **query, descending=descending)
        assert len(expected) > 3 * 10
        first = observations(documents, limit=10, descending=descending, **query)
        cells = first["cone"]["cells"]
        assert first["documents_read"] == cells + 10 <= 30 + 10 + 1
        rows = [r["sequence_id"] for r in first["observations"]]
        assert rows == expected[: len(rows)]  # the matches among the first 10 candidates
        ids, answers = every_page(documents, 10, descending=descending, **query)
        assert ids == expected and documents.queries == 0
        assert max(a["documents_read"] for a in answers) == cells + 10
        reads[count] = first["documents_read"]
    assert reads[100] == reads[1000]


def test_ids_that_do_not_parse_and_documents_gone_are_skipped():
    documents, docs = build(40, seed=3, centre=(200.0, -10.0), spread=5.0)
    query = {"ra": 200.0, "dec": -10.0, "radius": 1.0}
    expected = matches(docs, **query)
    gone, kept = expected[0], expected[1:]
    # documents that would match, listed under every cell of the cone, with ids of no start
    strays = ["not-a-sequence", "PAN001_14d3bd_20221399T000000", "PAN001_x_y_20220501T000000"]
    for stray in strays:
        documents.merge(OBSERVATIONS, stray, dict(docs[gone]))
    missing = "PAN001_14d3bd_20220501T010203"  # listed, never written
    cells = [str(c) for c in cone_cells(200.0, -10.0, 1.0).cells]
    documents.commit([add_ids(SKY_CELLS, cell, [*strays, missing]) for cell in cells])
    del documents.docs[(OBSERVATIONS, gone)]  # listed, then gone
    ids, answers = every_page(documents, 7, **query)
    assert ids == kept
    # every candidate that parses is read once, the strays never
    read = sum(a["documents_read"] - len(cells) for a in answers)
    assert read == len(set().union(*(documents.get(SKY_CELLS, c)["ids"] for c in cells))) - 3


def test_an_observation_not_in_the_key_index_is_not_found():
    documents, docs = build(10, seed=4, centre=(50.0, 50.0), spread=1.0)
    unlisted = "PAN099_000000_20220501T000000"
    documents.merge(OBSERVATIONS, unlisted, {"time": T0, **sky_fields(50.0, 50.0, "solved")})
    ids, _ = every_page(documents, 50, ra=50.0, dec=50.0, radius=1.0)
    assert unlisted not in ids and set(ids) == set(docs)  # bin/key-index lists it


def test_ordered_by_frames_a_cone_still_asks_the_query(sky):
    documents, docs = sky
    queries = documents.queries
    page = observations(documents, ra=10.0, dec=20.0, radius=2.0, order="num_images", limit=200)
    assert documents.queries == queries + 1
    assert {r["sequence_id"] for r in page["observations"]} == set(matches(docs, 10.0, 20.0, 2.0))


def test_a_cursor_of_another_search_is_refused(sky):
    documents, _ = sky
    query = {"ra": 10.0, "dec": 20.0, "radius": 2.0}
    other = observations(documents, order="num_images", limit=1, **query)["next_cursor"]
    with pytest.raises(InvalidQuery) as err:
        observations(documents, cursor=other, **query)
    assert err.value.parameter == "cursor"
    as_text = encode_cursor("time", True, "2022-05-01T00:00:00", "PAN001_000000_20220501T000000")
    with pytest.raises(InvalidQuery, match="not a cursor of this sky search") as err:
        observations(documents, cursor=as_text, **query)
    assert err.value.parameter == "cursor"
    ascending = observations(documents, limit=1, descending=False, **query)["next_cursor"]
    with pytest.raises(InvalidQuery, match="another order"):
        observations(documents, cursor=ascending, **query)


@pytest.mark.parametrize(
    ("sequence_id", "start"),
    [
        ("PAN001_14d3bd_20180216T110623", datetime(2018, 2, 16, 11, 6, 23, tzinfo=UTC)),
        ("PAN012_95cdbc_20191025T075751", datetime(2019, 10, 25, 7, 57, 51, tzinfo=UTC)),
        ("PAN001_14d3bd_20180230T110623", None),  # no 30 February
        ("PAN001_14d3bd_20180216T110623_000", None),
        ("PAN001_14d3bd_2018021T110623", None),
        ("PAN001__20180216T110623", None),
        ("PAN001_14d3bd_２０180216T110623", None),  # digits, but not ASCII ones
        ("", None),
    ],
)
def test_the_start_time_of_a_sequence_id(sequence_id, start):
    assert sequence_start(sequence_id) == start
