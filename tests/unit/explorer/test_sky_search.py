"""The observations list's sky search on the in-memory store.

The reference is brute force with astropy: an observation should be listed when the angle
between the search's centre and its indexed pointing (``SkyCoord.separation``) is at most
the search's radius plus its field's radius. The documents are made as record-image and
plate-solve make them (``sky_fields``, and the listing of each observation under its cells
in the sky cells key index), at pointings all over the sky, poles and RA 0/360 included.
"""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime, timedelta, timezone

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from panoptes_network.catalog.target_names import bundled_target_names
from panoptes_network.explorer import InvalidQuery, observations
from panoptes_network.explorer.params import observations_arguments
from panoptes_network.explorer.sky import (
    DEFAULT_RADIUS_DEG,
    MAX_RADIUS_DEG,
    SkyTarget,
    offline_resolver,
)
from panoptes_network.frames.sky_index import (
    FIELD_RADIUS_DEG,
    MOUNT_FIELD_RADIUS_DEG,
    SkySource,
    sky_fields,
)
from panoptes_network.pipeline.key_index import move_id
from panoptes_network.pipeline.schema import OBSERVATIONS, SKY_CELLS
from tests.unit.explorer.network import SOLVED_SEQUENCE, build_network
from tests.unit.explorer.openapi_check import schema_errors
from tests.unit.fakes import CountingDocuments

UTC = timezone.utc
T0 = datetime(2021, 3, 1, tzinfo=UTC)
#: Pointings that stress the index: the poles, RA 0/360, the polar caps' edges.
HARD = [(0.5, 89.5), (200.0, -89.0), (359.8, 10.0), (0.2, -10.0), (45.0, 41.9), (300.0, -42.0)]


def index_sky(documents, doc_id, fields):
    """Write an observation's sky index and move it in the sky cells key index.

    The network's writers (record-image, plate-solve, bin/key-index) do both in one batch.
    """
    held = (documents.get(OBSERVATIONS, doc_id) or {}).get("sky_cells") or []
    documents.merge(OBSERVATIONS, doc_id, fields)
    documents.commit(move_id(SKY_CELLS, doc_id, held, fields["sky_cells"]))


@pytest.fixture(scope="module")
def sky():
    """400 observations at random pointings (mount or solved), with ties in time."""
    rng = random.Random(7)
    documents = CountingDocuments()
    docs = {}
    pointings = [
        (rng.uniform(0, 360), math.degrees(math.asin(rng.uniform(-1, 1)))) for _ in range(394)
    ] + HARD
    for n, (ra, dec) in enumerate(pointings):
        unit_id = ("PAN001", "PAN006", "PAN012")[n % 3]
        source = SkySource.SOLVED if n % 2 else SkySource.MOUNT
        doc = {
            "unit_id": unit_id,
            "camera_id": f"{n % 5:06x}",
            "time": T0 + timedelta(hours=3 * (n // 3)),  # three share a start
            "status": "receiving_files",
            "num_images": rng.randint(1, 60),
            "ra": ra if source == SkySource.SOLVED else None,
            "dec": dec if source == SkySource.SOLVED else None,
            **sky_fields(ra, dec, source),
        }
        doc_id = f"{unit_id}_{n % 5:06x}_{doc['time']:%Y%m%dT%H%M%S}"
        assert doc_id not in docs
        docs[doc_id] = doc
        index_sky(documents, doc_id, doc)
    unindexed = {"unit_id": "PAN001", "time": T0, "num_images": 3, "ra": None, "dec": None}
    documents.merge(OBSERVATIONS, "PAN001_aaaaaa_20210301T000000", unindexed)
    return documents, docs


def within(docs, ra, dec, radius):
    """Brute force: every observation whose field meets the cone, with its distance."""
    centre = SkyCoord(ra * u.deg, dec * u.deg)
    out = {}
    for doc_id, doc in docs.items():
        separation = centre.separation(SkyCoord(doc["sky_ra"] * u.deg, doc["sky_dec"] * u.deg))
        if separation.deg <= radius + doc["sky_radius"]:
            out[doc_id] = separation.deg
    return out


def every_page(documents, limit, answers=None, **query):
    """Page through a search; return the rows, the most documents one page read, the last page.

    Each page's answer is appended to ``answers`` when given; a sky search in time order
    says how many documents it read, as the store counted them.
    """
    rows, cursor, most = [], None, 0
    for pages in itertools.count(1):
        before = documents.reads
        page = observations(documents, limit=limit, cursor=cursor, **query)
        most = max(most, documents.reads - before)
        if page["cone"] and page["order"] == "time":  # read by key, each read counted
            assert page["documents_read"] == documents.reads - before
        assert schema_errors(page, "ObservationPage") == []
        if answers is not None:
            answers.append(page)
        rows += page["observations"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows, most, page
        assert pages < 500


CONES = [
    (83.82, -5.39, 0.1),
    (10.0, 20.0, 2.0),
    (0.1, 0.0, 5.0),  # across RA 0/360
    (359.95, 60.0, 1.0),
    (180.0, 89.9, 3.0),  # the north pole
    (17.0, -88.0, MAX_RADIUS_DEG),  # the south pole, the largest cone
    (250.0, 30.0, 0.0),
]


@pytest.mark.parametrize(("ra", "dec", "radius"), CONES, ids=lambda v: f"{v}")
def test_a_cone_finds_exactly_the_fields_that_meet_it_in_bounded_reads(sky, ra, dec, radius):
    documents, docs = sky
    expected = within(docs, ra, dec, radius)
    assert expected, "the cone should meet some fields"
    answers = []
    rows, most, last = every_page(documents, 20, answers, ra=ra, dec=dec, radius=radius)
    cells = last["cone"]["cells"]
    assert {r["sequence_id"] for r in rows} == set(expected)  # none missed, none extra
    assert len(rows) == len(expected)  # each once
    times = [(r["time"], r["sequence_id"]) for r in rows]
    assert times == sorted(times, reverse=True)  # newest first, as without a cone
    for row in rows:
        assert row["distance_deg"] == pytest.approx(expected[row["sequence_id"]], abs=1e-6)
        assert row["pointing_source"] in ("mount", "solved")
    assert most <= cells + 20  # the cells' index documents, then one page by key
    # only the cells' candidates are read: far fewer than the collection holds
    assert sum(a["documents_read"] - cells for a in answers) < len(docs) / 2
    assert last["cone"]["ra"] == pytest.approx(ra % 360) and last["cone"]["radius"] == radius
    assert 1 <= last["cone"]["cells"] <= 30 and last["cone"]["resolved_as"] is None
    assert last["filters"]["ra"] == ra and last["filters"]["radius"] == radius
    assert "cone" in last["after_read"] and last["filtered_after_read"]


def test_a_cone_inside_a_field_far_from_its_centre_finds_it(sky):
    documents, docs = sky
    doc_id, doc = next((i, d) for i, d in docs.items() if d["sky_source"] == "solved")
    # 7 degrees off the centre, in the long direction of a 15 x 10 degree frame
    point = SkyCoord(doc["sky_ra"] * u.deg, doc["sky_dec"] * u.deg).directional_offset_by(
        90 * u.deg, 7 * u.deg
    )
    rows, _, _ = every_page(
        documents, 50, ra=float(point.ra.deg), dec=float(point.dec.deg), radius=0.1
    )
    found = {r["sequence_id"]: r for r in rows}
    assert doc_id in found and found[doc_id]["distance_deg"] == pytest.approx(7, abs=1e-6)


def test_mount_fields_reach_further_than_solved_ones(sky):
    documents, docs = sky
    # a cone just beyond a solved field's reach but within a mount field's
    for wanted in (SkySource.MOUNT, SkySource.SOLVED):
        doc_id, doc = next((i, d) for i, d in docs.items() if d["sky_source"] == wanted)
        distance = FIELD_RADIUS_DEG + 1.0 + 1.0  # radius 1, one degree more than a solved field
        point = SkyCoord(doc["sky_ra"] * u.deg, doc["sky_dec"] * u.deg).directional_offset_by(
            0 * u.deg, distance * u.deg
        )
        rows, _, _ = every_page(
            documents, 50, ra=float(point.ra.deg), dec=float(point.dec.deg), radius=1.0
        )
        listed = doc_id in {r["sequence_id"] for r in rows}
        assert listed is (distance <= 1.0 + MOUNT_FIELD_RADIUS_DEG and wanted == "mount")


@pytest.mark.parametrize(
    "extra",
    [
        {"unit": "PAN006"},
        {"unit": "PAN001", "camera": "000002"},
        {"since": T0 + timedelta(days=4), "until": T0 + timedelta(days=11)},
        {"min_images": 30},
        {"order": "num_images", "min_images": 30, "descending": False},
        {"order": "num_images", "unit": "PAN012", "since": T0 + timedelta(days=10)},
    ],
    ids=lambda e: ",".join(e),
)
def test_a_cone_combines_with_the_other_filters_and_still_pages(sky, extra):
    documents, docs = sky
    ra, dec, radius = 30.0, 40.0, 8.0
    fields = {"unit": "unit_id", "camera": "camera_id"}
    expected = {
        doc_id
        for doc_id in within(docs, ra, dec, radius)
        if all(docs[doc_id][fields[k]] == v for k, v in extra.items() if k in fields)
        and ("since" not in extra or docs[doc_id]["time"] >= extra["since"])
        and ("until" not in extra or docs[doc_id]["time"] < extra["until"])
        and docs[doc_id]["num_images"] >= extra.get("min_images", 0)
    }
    assert expected
    rows, most, last = every_page(documents, 7, ra=ra, dec=dec, radius=radius, **extra)
    assert [r["sequence_id"] for r in rows if r["sequence_id"] in expected] == [
        r["sequence_id"] for r in rows
    ]
    assert {r["sequence_id"] for r in rows} == expected and len(rows) == len(expected)
    order = extra.get("order", "time")
    keys = [(docs[r["sequence_id"]][order], r["sequence_id"]) for r in rows]
    assert keys == sorted(keys, reverse=extra.get("descending", True))
    assert most <= (7 + 1 if order == "num_images" else last["cone"]["cells"] + 7)
    equality = {"unit", "camera"} & set(extra)
    assert equality <= set(last["after_read"])  # the cells are the one filter pushed


def test_a_name_search_on_records_made_by_the_network(network):
    documents, _ = network
    # plate-solve's fields of the solved observation, as it writes them
    index_sky(documents, SOLVED_SEQUENCE, sky_fields(40.62, 37.41, SkySource.SOLVED))
    page = observations(documents, name="wasp 33")
    wasp33 = bundled_target_names().resolve("WASP-33")
    assert page["cone"]["resolved_as"] == {
        "type": "name",
        "name": "WASP-33",
        "kind": wasp33.kind,
        "source": wasp33.source,
    }
    assert (page["cone"]["ra"], page["cone"]["dec"]) == (wasp33.ra, wasp33.dec)
    assert page["cone"]["radius"] == DEFAULT_RADIUS_DEG and page["filters"]["name"] == "wasp 33"
    assert page["filters"]["ra"] is None  # given by name
    # the four observations point 3 degrees from WASP-33 (the frames' RA-MNT 40.5, DEC-MNT 37.5)
    rows = {r["sequence_id"]: r for r in page["observations"]}
    assert len(rows) == 4 and page["count"] == 4
    assert rows[SOLVED_SEQUENCE]["pointing_source"] == "solved"
    target = SkyCoord(wasp33.ra * u.deg, wasp33.dec * u.deg)
    for sequence_id, row in rows.items():
        pointing = (40.62, 37.41) if sequence_id == SOLVED_SEQUENCE else (40.5, 37.5)
        reference = target.separation(SkyCoord(pointing[0] * u.deg, pointing[1] * u.deg)).deg
        assert row["distance_deg"] == pytest.approx(reference, abs=1e-6)
        assert row["pointing_source"] in ("mount", "solved")
    assert schema_errors(page, "ObservationPage") == []
    # far away: nothing, and only the cells' index documents are read
    counting = CountingDocuments()
    build_network(counting)
    counting.reads = 0
    empty = observations(counting, name="Acrux")
    assert empty["observations"] == [] and counting.reads == empty["cone"]["cells"]
    assert empty["documents_read"] == counting.reads


def test_coordinates_typed_as_a_name():
    page = observations(CountingDocuments(), name="02:26:51.06 +37:33:01.7", radius=1)
    assert page["cone"]["resolved_as"] == {"type": "coordinates", "form": "sexagesimal"}
    assert page["cone"]["ra"] == pytest.approx(36.71275, abs=1e-5)
    assert page["cone"]["dec"] == pytest.approx(37.55047, abs=1e-5)


def test_the_resolver_is_passed_in():
    asked = []

    def resolver(text):
        asked.append(text)
        return SkyTarget(12.0, -30.0, {"type": "name", "name": "Sculptor field"})

    page = observations(CountingDocuments(), name=" my field ", resolver=resolver)
    assert asked == ["my field"]
    assert (page["cone"]["ra"], page["cone"]["dec"]) == (12.0, -30.0)


def test_without_a_cone_nothing_changes(sky):
    documents, _ = sky
    page = observations(documents, limit=5)
    assert page["cone"] is None and "cone" not in page["after_read"]
    assert all(r["distance_deg"] is None for r in page["observations"])
    assert page["filters"]["name"] is None and page["filters"]["radius"] is None


@pytest.mark.parametrize(
    ("query", "parameter", "words"),
    [
        ({"name": "Planet Nine"}, "name", "no target named 'Planet Nine'"),
        ({"name": "TIC 25155310"}, "name", "PICID"),
        ({"name": "25:00:00 +10:00:00"}, "name", "cannot be read"),
        ({"name": "   "}, "name", "1 to 100"),
        ({"name": "x" * 101}, "name", "1 to 100"),
        ({"name": "Vega", "ra": 10.0, "dec": 10.0}, "name", "not both"),
        ({"ra": 10.0}, "dec", "needed"),
        ({"dec": 10.0}, "ra", "needed"),
        ({"radius": 1.0}, "radius", "centre"),
        ({"ra": 10.0, "dec": 10.0, "radius": 10.5}, "radius", "0 to 10"),
        ({"ra": 10.0, "dec": 10.0, "radius": -1.0}, "radius", "0 to 10"),
        ({"ra": 361.0, "dec": 10.0}, "ra", "0 to 360"),
        ({"ra": 10.0, "dec": -90.5}, "dec", "-90 to 90"),
        ({"ra": float("nan"), "dec": 1.0}, "ra", "degrees"),
        ({"ra": True, "dec": 1.0}, "ra", "degrees"),
        ({"ra": "10", "dec": 1.0}, "ra", "degrees"),
    ],
)
def test_bad_sky_parameters_are_refused_naming_them(query, parameter, words):
    documents = CountingDocuments()
    with pytest.raises(InvalidQuery) as err:
        observations(documents, **query)
    assert err.value.parameter == parameter
    assert words in str(err.value)
    assert documents.reads == 0


def test_the_offline_resolver_reads_names_and_coordinates_only():
    resolve = offline_resolver()
    assert resolve("M42").resolved_as["name"] == "M 42"
    assert resolve("303.21 46.02").ra == pytest.approx(303.21)
    assert resolve("No Such Star 123x") is None
    with pytest.raises(ValueError, match="PICID"):
        resolve("PICID 42")


# --- URL parameters ---------------------------------------------------------------------


def test_sky_url_parameters():
    args = observations_arguments(
        {"name": "M 42", "radius": "0.5", "ra": "", "dec": "", "limit": "10"}
    )
    assert args == {"name": "M 42", "radius": 0.5, "limit": 10}
    args = observations_arguments({"ra": "359.5", "dec": "-89.25", "radius": "10"})
    assert args == {"ra": 359.5, "dec": -89.25, "radius": 10.0}
    assert observations_arguments({"ra": "+12", "dec": "-.5"}) == {"ra": 12.0, "dec": -0.5}


@pytest.mark.parametrize(
    ("args", "parameter"),
    [
        ({"ra": "ten"}, "ra"),
        ({"ra": "1e2"}, "ra"),
        ({"ra": "360.5"}, "ra"),
        ({"dec": "91"}, "dec"),
        ({"dec": "nan"}, "dec"),
        ({"radius": "11"}, "radius"),
        ({"radius": "-0.1"}, "radius"),
        ({"name": ["Vega", "M 42"]}, "name"),
    ],
)
def test_bad_sky_url_parameters(args, parameter):
    with pytest.raises(InvalidQuery) as err:
        observations_arguments(args)
    assert err.value.parameter == parameter
