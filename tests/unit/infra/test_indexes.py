"""Every Firestore query the code makes on more than one field has its composite index.

The queries are recorded from the code paths that make them (the light-curve sweep, the
reconciler, every query shape of the Data Explorer's read models), on the in-memory store,
and checked against ``infra/firestore.indexes.json`` (the file firebase.json names and
``infra.apply`` deploys). Single-field queries need no composite index. The explorer's
indexes are checked with their directions against its own list, ``COMPOSITE_INDEXES``.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone

from panoptes_network.explorer import home, image, observation, observations, unit, units
from panoptes_network.explorer.analysed_stars import ORDER_FIGURES, stars_near, variable_stars
from panoptes_network.explorer.analysis_summary import analysis_summary
from panoptes_network.explorer.detections import KINDS, candidates
from panoptes_network.explorer.observations import COMPOSITE_INDEXES, ORDER_FIELDS
from panoptes_network.explorer.stars import star, star_points
from panoptes_network.ingest.calibration_sweep import sweep_calibrations
from panoptes_network.ingest.reconcile import reconcile
from panoptes_network.lightcurves.triggers import sweep
from panoptes_network.pipeline.schema import OBSERVATION_FRAMES, OBSERVATION_RUNS
from tests.conftest import ROOT
from tests.unit.explorer.analysis_records import ANALYSIS_HASH, build_detections
from tests.unit.explorer.network import SOLVED_SEQUENCE, build_network
from tests.unit.explorer.star_records import PICID, build_star
from tests.unit.fakes import MemoryDocuments, MemoryStore

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
#: Queries of equality filters only: Firestore serves them by merging single-field indexes.
EQUALITY_ONLY = {("calibrations", ("camera_id", "kind")), ("images", ("camera_id", "status"))}


class RecordingDocuments(MemoryDocuments):
    def __init__(self) -> None:
        super().__init__()
        self.shapes: set[tuple[str, tuple[str, ...]]] = set()
        # with directions, as an index lists them: equality fields ascending, then the order
        self.indexed: set[tuple[str, tuple[tuple[str, str], ...]]] = set()

    def query(self, collection, filters=(), *, order_by=None, descending=False, **options):
        fields = [f for f, _, _ in filters]
        if order_by is not None and order_by not in fields:
            fields.append(order_by)
        self.shapes.add((collection, tuple(fields)))
        equal = [(f, "ASCENDING") for f, op, _ in filters if op == "=="]
        # an array-contains-any filter is served by an array (CONTAINS) field of the index
        contains = [(f, "CONTAINS") for f, op, _ in filters if op == "array-contains-any"]
        ranged = {f for f, op, _ in filters if op not in ("==", "array-contains-any")}
        # Firestore: a range filter on one field only, the field ordered by (when ordered)
        assert len(ranged) <= 1 and (order_by is None or ranged <= {order_by}), filters
        last = order_by or next(iter(ranged), None)
        direction = "DESCENDING" if descending and order_by else "ASCENDING"
        tail = [(last, direction)] if last else []
        self.indexed.add((collection, (*equal, *contains, *tail)))
        return super().query(
            collection, filters, order_by=order_by, descending=descending, **options
        )


def _index_file() -> list[dict]:
    rules = json.loads((ROOT / "firebase.json").read_text())["firestore"]["indexes"]
    return json.loads((ROOT / rules).read_text())["indexes"]


def _indexes() -> set[tuple[str, tuple[str, ...]]]:
    return {
        (index["collectionGroup"], tuple(f["fieldPath"] for f in index["fields"]))
        for index in _index_file()
    }


def _with_directions(indexes) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (
            i["collectionGroup"],
            tuple((f["fieldPath"], f.get("order") or f["arrayConfig"]) for f in i["fields"]),
        )
        for i in indexes
    }


def test_composite_queries_have_indexes(make_ctx):
    documents = RecordingDocuments()
    ctx = make_ctx(documents=documents, now=lambda: NOW)
    sweep(ctx, 30)
    reconcile(ctx)
    sweep_calibrations(ctx, 60.0)
    for figure in ORDER_FIGURES:
        variable_stars(documents, min_points=500, order=figure)
    stars_near(documents, 300.0, 40.0, 2.0)
    composite = {
        (c, fields)
        for c, fields in documents.shapes
        if len(set(fields)) > 1 and (c, fields) not in EQUALITY_ONLY
    }
    assert ("observations", ("lightcurve_pending", "last_image_received_time")) in composite
    assert ("observations", ("calibration_pending", "last_image_received_time")) in composite
    assert ("stars", ("points_at_least", "rms_over_floor")) in composite
    assert composite <= _indexes(), composite - _indexes()
    with_directions = _with_directions(_index_file())
    for figure in ORDER_FIGURES:
        needed = ("stars", (("points_at_least", "CONTAINS"), (figure, "DESCENDING")))
        assert needed in documents.indexed and needed in with_directions


def _explorer_queries() -> RecordingDocuments:
    """Run every query shape the explorer's read models issue, on a store that records them."""
    documents = RecordingDocuments()
    build_network(documents)
    since, until = (
        datetime(2018, 1, 1, tzinfo=timezone.utc),
        datetime(2019, 1, 1, tzinfo=timezone.utc),
    )
    values = {"unit": "PAN001", "camera": "14d3bd", "status": "receiving_files"}
    ranges = [{}, {"since": since}, {"since": since, "until": until}, {"min_images": 1}]
    cones = [{}, {"ra": 40.5, "dec": 37.5, "radius": 1.0}, {"name": "WASP-33"}]
    for n in range(len(values) + 1):
        for names in itertools.combinations(values, n):
            for extra in [{**r, **c} for r in ranges for c in cones]:
                for order in ORDER_FIELDS:
                    for descending in (True, False):
                        page = observations(
                            documents,
                            **{k: values[k] for k in names},
                            **extra,
                            order=order,
                            descending=descending,
                            limit=1,
                        )
                        if page["next_cursor"]:
                            observations(
                                documents,
                                **{k: values[k] for k in names},
                                **extra,
                                order=order,
                                descending=descending,
                                limit=1,
                                cursor=page["next_cursor"],
                            )
    home(documents)
    units(documents)
    unit(documents, "PAN001", limit=1)
    page = observation(documents, SOLVED_SEQUENCE, limit=1)
    observation(documents, SOLVED_SEQUENCE, limit=1, cursor=page["frames_next_cursor"])
    for collection in (OBSERVATION_FRAMES, OBSERVATION_RUNS):  # written before key indexes
        del documents.docs[(collection, SOLVED_SEQUENCE)]
    page = observation(documents, SOLVED_SEQUENCE, limit=1)
    observation(documents, SOLVED_SEQUENCE, limit=1, cursor=page["frames_next_cursor"])
    image(documents, build_network(MemoryDocuments())["solved"])
    build_star(documents, MemoryStore(), indexed=False)  # stars read by query: no key index
    star(documents, PICID)
    star_points(documents, PICID)
    # the analysis: candidates of every kind and of each, real and injected, paged; a star's
    build_detections(documents)
    for kind in (None, *KINDS):
        for injected in (False, True):
            page = candidates(documents, ANALYSIS_HASH, kind=kind, injected=injected, limit=1)
            assert page["next_cursor"], (kind, injected)
            candidates(
                documents, ANALYSIS_HASH, kind=kind, injected=injected, cursor=page["next_cursor"]
            )
    candidates(documents, ANALYSIS_HASH, picid=PICID, injected=True)
    star(documents, PICID, analysis_hash=ANALYSIS_HASH)
    analysis_summary(documents, ANALYSIS_HASH)  # one equality filter each: no composite index
    return documents


def test_explorer_queries_are_served_by_its_declared_indexes():
    documents = _explorer_queries()
    composite = {(c, fields) for c, fields in documents.indexed if len(fields) > 1}
    assert ("observations", (("unit_id", "ASCENDING"), ("time", "DESCENDING"))) in composite
    # a sky search in time order reads by key (the sky cells key index); by frames, it asks
    assert ("observations", (("sky_cells", "CONTAINS"), ("num_images", "DESCENDING"))) in composite
    assert (
        "processed_observations",
        (("sequence_id", "ASCENDING"), ("run_time", "DESCENDING")),
    ) in composite
    assert ("lightcurves", (("picid", "ASCENDING"), ("run_time", "DESCENDING"))) in composite
    assert (
        "detections",
        (
            ("picid", "ASCENDING"),
            ("analysis_hash", "ASCENDING"),
            ("injected", "ASCENDING"),
            ("significance", "DESCENDING"),
        ),
    ) in composite
    declared = _with_directions(COMPOSITE_INDEXES)
    assert composite <= declared, composite - declared
    assert declared <= composite, f"declared but never used: {declared - composite}"


def test_explorer_indexes_are_deployed():
    missing = _with_directions(COMPOSITE_INDEXES) - _with_directions(_index_file())
    assert not missing, missing
