"""build-lightcurve with in-memory ports on synthetic per-image tables with a known transit."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.analysis.incremental import analyse_run
from panoptes_network.frames.bucket_path import format_timestamp
from panoptes_network.lightcurves.barycentric import bjd_tdb, site_of
from panoptes_network.lightcurves.build_lightcurve import build_lightcurve, data_name
from panoptes_network.lightcurves.products import (
    MAX_BRIGHTEST,
    brightest_lightcurves,
    lightcurve_writes,
    read_lightcurve_rows,
)
from panoptes_network.photometry.sources_table import write_sources_table
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.key_index import IDS
from panoptes_network.pipeline.ports import MAX_BATCH_BYTES, MAX_BATCH_WRITES, approximate_size
from panoptes_network.pipeline.schema import (
    ANALYSIS_COMPLETENESS,
    DETECTIONS,
    LIGHTCURVES,
    OBSERVATION_RUNS,
    PROCESSED_OBSERVATIONS,
    STAR_LIGHTCURVES,
)
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.synthetic_photometry import synthetic_observation
from tests.unit.fakes import MemoryDocuments, MemoryStore

S = Settings()
SEQ = "PAN001_14d3bd_20260101T040000"
PREFIX = "PAN001/14d3bd/20260101T040000/"
RUN_AT = datetime(2026, 11, 21, 10, 30, 0, tzinfo=timezone.utc)
DEPTH = 0.02


def written_docs(ctx):
    """Documents other than the camera registry the context starts with."""
    return {key: doc for key, doc in ctx.documents.docs.items() if key[0] != "cameras"}


@pytest.fixture(scope="module")
def observation():
    return synthetic_observation(
        n_frames=70,
        n_stars=300,
        seed=3,
        cloudy=(5,),
        transit_depth=DEPTH,
        transit_duration_min=40.0,
    )


def sources_bytes(observation) -> dict[str, bytes]:
    """The observation's tables as the sources bucket holds them, by object name."""
    out = {}
    for table in observation.tables:
        meta = {**table.meta, "aperture_radius": 6.0, "software_version": "test"}
        image_start = meta["image_id"].rsplit("_", 1)[1]
        out[f"{PREFIX}{image_start}.parquet"] = write_sources_table(table, meta)
    return out


@pytest.fixture(scope="module")
def sources_ctx(make_ctx):
    """Return ``(objects, clock=None, documents=None) -> ChainContext``.

    The context's sources bucket holds ``objects`` (by name) and its clock reads ``RUN_AT``
    unless ``clock`` is given.
    """

    def make(objects: dict[str, bytes], clock=None, documents=None) -> ChainContext:
        store = MemoryStore()
        for name, data in objects.items():
            store.put(S.sources_bucket, name, data)
        return make_ctx(store=store, documents=documents, now=clock or (lambda: RUN_AT))

    return make


@pytest.fixture(scope="module")
def tables(observation):
    return sources_bytes(observation)


class _RecordingDocs(MemoryDocuments):
    """Documents that keep every atomic batch committed."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[list] = []

    def commit(self, writes) -> None:
        super().commit(writes)
        self.commits.append(list(writes))


def _listed(documents, collection: str) -> dict[str, list[str]]:
    """Every index document of ``collection``: its owner and the ids it lists."""
    return {k[1]: v[IDS] for k, v in documents.docs.items() if k[0] == collection}


@pytest.fixture(scope="module")
def run(tables, sources_ctx):
    """One run over the observation plus a corrupt table and a stray non-table object."""
    objects = {
        **tables,
        f"{PREFIX}20260101T070000.parquet": b"not parquet",
        f"{PREFIX}notes.txt": b"ignored",
    }
    ctx = sources_ctx(objects, documents=_RecordingDocs())
    result = build_lightcurve(ctx, {"sequence_id": SEQ, "options": {"min_stars": 30}})
    return ctx, result


def test_processed_observation_has_counts_rejections_and_precision(run, observation):
    ctx, result = run
    run_id = f"{SEQ}_{format_timestamp(RUN_AT)}"
    assert result.action == "processed" and result.detail["run_id"] == run_id
    doc = ctx.documents.get("processed_observations", run_id)
    assert doc["status"] == "done" and doc["sequence_id"] == SEQ
    assert doc["options"]["min_stars"] == 30 and doc["options"]["colours"] == ["r", "g", "b"]
    assert doc["num_frames_found"] == 71
    assert doc["num_frames"] == 69 == len(doc["frames_used"])
    rejected = {r["image_id"]: r["reasons"] for r in doc["frames_rejected"]}
    cloudy_id = observation.tables[5].meta["image_id"]
    assert set(rejected) == {cloudy_id, "PAN001_14d3bd_20260101T070000"}
    assert rejected[cloudy_id][0].startswith("clouds")
    assert rejected["PAN001_14d3bd_20260101T070000"][0].startswith("unreadable")
    assert cloudy_id not in doc["frames_used"]
    assert doc["num_stars"] == 300
    assert doc["software_version"].startswith("panoptes-network")
    assert doc["run_time"] == RUN_AT and doc["run_seconds"] >= 0
    for colour in "rgb":
        bins = doc["precision"][colour]
        assert [b["vmag_min"] for b in bins] == [7.0, 8.0, 9.0, 10.0, 11.0]
        assert sum(b["num_stars"] for b in bins) <= 300
        for b in bins:
            # differential light curves reach the photon noise within a small factor
            assert 0.9 < b["median_rms_mag"] / b["theoretical_rms_mag"] < 1.6, (colour, b)
        rms = [b["median_rms_mag"] for b in bins]
        assert rms == sorted(rms)  # fainter stars are noisier
    observation_doc = ctx.documents.get("observations", SEQ)
    assert observation_doc["last_processed"] == {"run_id": run_id, "time": RUN_AT}


def test_one_lightcurve_doc_per_star_linked_to_its_rows(run, observation):
    ctx, result = run
    run_id = result.detail["run_id"]
    docs = {k[1]: v for k, v in ctx.documents.docs.items() if k[0] == "lightcurves"}
    assert set(docs) == {f"{p}_{run_id}" for p in observation.picid}
    name = data_name(SEQ, run_id)
    assert ctx.store.names(S.lightcurves_bucket) == [name]
    data = ctx.store.read(S.lightcurves_bucket, name)
    picid = int(observation.picid[17])
    doc = docs[f"{picid}_{run_id}"]
    assert doc["picid"] == picid and doc["sequence_id"] == SEQ
    assert doc["processed_observation"] == run_id
    assert doc["data_path"] == name and doc["data_url"] == S.public_url(S.lightcurves_bucket, name)
    assert doc["vmag"] == pytest.approx(observation.vmag[17])
    assert 60 <= doc["num_points"] <= 69 and doc["num_points_g"] <= doc["num_points"]
    assert doc["median_mag_g"] == pytest.approx(
        -2.5 * np.log10(32_000 * 10 ** (-0.4 * (observation.vmag[17] - 10))), abs=0.3
    )
    assert 0 < doc["rms_mag_g"] < 0.05
    rows = read_lightcurve_rows(data, doc["data_row_start"], doc["data_row_count"])
    assert len(rows) == 69 and set(rows["picid"]) == {picid}
    assert rows.meta["run_id"] == run_id
    for column in ("time", "airmass", "x", "y", "flux_g", "flux_err_g", "outlier_g", "flux_raw_b"):
        assert column in rows.colnames
    assert np.all(np.diff(rows["time"]) > 0)
    # 69 frames x 3 colours is small: the points ride along in the doc
    assert doc["points_embedded"] is True
    assert doc["points"]["time"] == pytest.approx(list(rows["time"]))
    assert doc["points"]["g"] == pytest.approx(list(rows["flux_g"]), nan_ok=True)
    assert len(doc["points"]["b_err"]) == 69


def test_the_run_and_every_light_curve_are_listed_in_their_key_indexes(run, observation):
    ctx, result = run
    run_id = result.detail["run_id"]
    assert _listed(ctx.documents, OBSERVATION_RUNS) == {SEQ: [run_id]}
    assert _listed(ctx.documents, STAR_LIGHTCURVES) == {
        str(p): [f"{p}_{run_id}"] for p in observation.picid
    }
    # the run's doc was created in the batch that lists it
    reserve = ctx.documents.commits[0]
    assert [(w.collection, w.doc_id) for w in reserve] == [
        (PROCESSED_OBSERVATIONS, run_id),
        (OBSERVATION_RUNS, SEQ),
    ]
    assert reserve[0].must_not_exist


def test_each_light_curve_is_written_in_the_batch_that_lists_it(run, observation):
    ctx, _ = run
    batches = [b for b in ctx.documents.commits if any(w.collection == LIGHTCURVES for w in b)]
    # 300 stars, two writes each: 250 stars in the first batch of 500 writes, 50 in the next
    assert [len(b) for b in batches] == [MAX_BATCH_WRITES, 100]
    for batch in batches:
        written = {w.doc_id for w in batch if w.collection == LIGHTCURVES}
        listed = {i for w in batch if w.collection == STAR_LIGHTCURVES for i in w.array_union[IDS]}
        assert written == listed
        for w in batch:
            if w.collection == LIGHTCURVES:  # set with merge, as merge_many writes
                assert not (w.must_exist or w.must_not_exist or w.increments)


def test_the_run_records_its_brightest_light_curves(run, observation):
    ctx, result = run
    run_id = result.detail["run_id"]
    listed = ctx.documents.get(PROCESSED_OBSERVATIONS, run_id)["brightest_lightcurves"]
    order = np.lexsort((observation.picid.astype(str), observation.vmag))
    assert listed == [f"{observation.picid[j]}_{run_id}" for j in order[:MAX_BRIGHTEST]]
    vmags = [ctx.documents.get(LIGHTCURVES, lcid)["vmag"] for lcid in listed]
    assert vmags == sorted(vmags) and len(listed) == MAX_BRIGHTEST


def test_the_run_page_lists_by_key_what_the_query_lists(run):
    from panoptes_network.explorer.stars import run_stars

    ctx, result = run
    run_id = result.detail["run_id"]
    by_key = run_stars(ctx.documents, run_id)
    doc = ctx.documents.docs[(PROCESSED_OBSERVATIONS, run_id)]
    saved = doc.pop("brightest_lightcurves")
    try:
        by_query = run_stars(ctx.documents, run_id)
    finally:
        doc["brightest_lightcurves"] = saved
    assert by_key == by_query and len(by_key) == MAX_BRIGHTEST


def test_light_curve_batches_respect_the_byte_limit():
    docs = [(f"{p}_run", {"picid": p, "vmag": 9.0, "s": "x" * 1000}) for p in range(10)]
    pair = approximate_size(docs[0][1]) + approximate_size({IDS: [docs[0][0]]})
    batches = lightcurve_writes(docs, max_bytes=3 * pair)
    assert [len(b) for b in batches] == [6, 6, 6, 2]
    assert [w.doc_id for b in batches for w in b if w.collection == LIGHTCURVES] == [
        lcid for lcid, _ in docs
    ]
    assert [len(b) for b in lightcurve_writes(docs, max_writes=5)] == [4, 4, 4, 4, 4]
    huge = [("1_run", {"picid": 1, "s": "x" * 100}), ("2_run", {"picid": 2})]
    assert [len(b) for b in lightcurve_writes(huge, max_bytes=10)] == [2, 2]  # alone, still
    with pytest.raises(ValueError, match="max_writes"):
        lightcurve_writes(docs, max_writes=1)


def test_the_brightest_leave_out_stars_without_a_magnitude():
    docs = [
        ("3_r", {"vmag": 8.0}),
        ("1_r", {"vmag": None}),
        ("2_r", {"vmag": 8.0}),
        ("4_r", {"vmag": 7.5}),
        ("5_r", {}),
    ]
    assert brightest_lightcurves(docs) == ["4_r", "2_r", "3_r"]
    assert brightest_lightcurves(docs, 2) == ["4_r", "2_r"]


def test_the_transit_star_shows_its_dip(run, observation):
    ctx, result = run
    star = observation.transit_star
    doc = ctx.documents.get("lightcurves", f"{observation.picid[star]}_{result.detail['run_id']}")
    data = ctx.store.read(S.lightcurves_bucket, doc["data_path"])
    rows = read_lightcurve_rows(data, doc["data_row_start"], doc["data_row_count"])
    inside = np.abs(rows["time"] - observation.transit_mid) < observation.transit_duration / 2
    assert 10 < inside.sum() < 30

    def dip(column: str) -> float:
        flux = np.asarray(rows[column])
        return float(np.nanmedian(flux[~inside]) - np.nanmedian(flux[inside]))

    assert dip("flux_raw_g") == pytest.approx(DEPTH, abs=0.005)
    # the airmass and drift detrend may absorb part of a transit (documented), not all of it
    assert DEPTH / 2 < dip("flux_g") < DEPTH + 0.005
    # a quiet star of similar brightness shows none
    quiet = int(
        np.argmin(
            np.abs(observation.vmag - observation.vmag[star])
            + (np.isin(np.arange(observation.vmag.size), [*observation.variables, star]) * 99)
        )
    )
    other = ctx.documents.get(
        "lightcurves", f"{observation.picid[quiet]}_{result.detail['run_id']}"
    )
    flux = np.asarray(read_lightcurve_rows(data, other["data_row_start"], 69)["flux_g"])
    assert abs(np.nanmedian(flux[~inside]) - np.nanmedian(flux[inside])) < 0.006


def test_a_second_run_is_a_new_run_and_keeps_the_first(tables, sources_ctx):
    times = iter([RUN_AT, RUN_AT, RUN_AT + timedelta(hours=1)])  # one reading per run
    ctx = sources_ctx(tables, clock=lambda: next(times))
    first = build_lightcurve(ctx, {"sequence_id": SEQ, "options": {"colours": ["g"]}})
    second = build_lightcurve(ctx, {"sequence_id": SEQ, "options": {"colours": ["g"]}})
    third = build_lightcurve(ctx, {"sequence_id": SEQ})
    ids = [r.detail["run_id"] for r in (first, second, third)]
    runtime = format_timestamp(RUN_AT)
    assert ids == [
        f"{SEQ}_{runtime}",
        f"{SEQ}_{runtime}-2",
        f"{SEQ}_{format_timestamp(RUN_AT + timedelta(hours=1))}",
    ]
    for run_id in ids:
        assert ctx.documents.get("processed_observations", run_id)["status"] == "done"
        assert ctx.store.stat(S.lightcurves_bucket, data_name(SEQ, run_id)) is not None
    lightcurves = [k for k in ctx.documents.docs if k[0] == "lightcurves"]
    assert len(lightcurves) == 3 * 300
    assert _listed(ctx.documents, OBSERVATION_RUNS) == {SEQ: ids}
    stars = _listed(ctx.documents, STAR_LIGHTCURVES)
    assert len(stars) == 300
    assert all(lcids == [f"{picid}_{run_id}" for run_id in ids] for picid, lcids in stars.items())
    assert ctx.documents.get("processed_observations", ids[0])["options"]["colours"] == ["g"]
    assert ctx.documents.get("observations", SEQ)["last_processed"]["run_id"] == ids[2]


class _FailingDocs(MemoryDocuments):
    """Documents whose second light-curve batch fails once, as a transient fault half-way
    through a run (the first batch's light curves are written and listed)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches_left = 1

    def commit(self, writes) -> None:
        if any(w.collection == LIGHTCURVES for w in writes):
            if self.batches_left == 0:
                self.batches_left = -1
                raise ConnectionError("firestore unavailable")
            self.batches_left -= 1
        super().commit(writes)


def test_a_redelivery_resumes_its_interrupted_run_under_the_same_id(tables, sources_ctx):
    times = iter([RUN_AT, RUN_AT + timedelta(minutes=3)])
    ctx = sources_ctx(tables, clock=lambda: next(times), documents=_FailingDocs())
    request = {"sequence_id": SEQ, "options": {"colours": ["g"]}}
    with pytest.raises(ConnectionError):
        build_lightcurve(ctx, request, delivery_id="msg-1")
    run_id = f"{SEQ}_{format_timestamp(RUN_AT)}"
    assert ctx.documents.get("processed_observations", run_id)["status"] == "running"
    half = _listed(ctx.documents, STAR_LIGHTCURVES)
    assert len(half) == 250  # the first batch: its light curves written and listed
    assert all(ctx.documents.get(LIGHTCURVES, lcids[0]) for lcids in half.values())

    resumed = build_lightcurve(ctx, request, delivery_id="msg-1")
    assert resumed.action == "processed"
    assert resumed.detail["run_id"] == run_id
    runs = [k for k in ctx.documents.docs if k[0] == "processed_observations"]
    assert runs == [("processed_observations", run_id)]
    doc = ctx.documents.get("processed_observations", run_id)
    assert doc["status"] == "done"
    assert doc["run_time"] == RUN_AT
    assert doc["resumed_time"] == RUN_AT + timedelta(minutes=3)
    lcs = [k for k in ctx.documents.docs if k[0] == "lightcurves"]
    assert len(lcs) == 300 and all(k[1].endswith(run_id) for k in lcs)
    # the resumed run lists nothing twice
    assert _listed(ctx.documents, OBSERVATION_RUNS) == {SEQ: [run_id]}
    stars = _listed(ctx.documents, STAR_LIGHTCURVES)
    assert sorted(lcid for lcids in stars.values() for lcid in lcids) == sorted(k[1] for k in lcs)
    assert all(lcids == [f"{picid}_{run_id}"] for picid, lcids in stars.items())


def test_a_resumed_run_reserved_before_the_key_index_is_listed(tables, sources_ctx):
    times = iter([RUN_AT, RUN_AT + timedelta(minutes=3)])
    ctx = sources_ctx(tables, clock=lambda: next(times), documents=_FailingDocs())
    request = {"sequence_id": SEQ, "options": {"colours": ["g"]}}
    with pytest.raises(ConnectionError):
        build_lightcurve(ctx, request, delivery_id="msg-1")
    del ctx.documents.docs[(OBSERVATION_RUNS, SEQ)]  # as an older version reserved it
    resumed = build_lightcurve(ctx, request, delivery_id="msg-1")
    assert _listed(ctx.documents, OBSERVATION_RUNS) == {SEQ: [resumed.detail["run_id"]]}


def test_a_redelivery_after_the_run_finished_makes_no_second_run(tables, sources_ctx):
    ctx = sources_ctx(tables)
    request = {"sequence_id": SEQ, "options": {"colours": ["g"]}}
    first = build_lightcurve(ctx, request, delivery_id="msg-7")
    again = build_lightcurve(ctx, request, delivery_id="msg-7")
    assert again.action == "skipped" and again.detail["run_id"] == first.detail["run_id"]
    other = build_lightcurve(ctx, request, delivery_id="msg-8")
    assert other.action == "processed" and other.detail["run_id"] != first.detail["run_id"]
    runs = sorted(k[1] for k in ctx.documents.docs if k[0] == "processed_observations")
    assert runs == sorted([first.detail["run_id"], other.detail["run_id"]])


def test_points_are_not_embedded_when_the_light_curves_are_long(sources_ctx):
    long = synthetic_observation(n_frames=201, n_stars=80, seed=4, n_outliers=2, n_flagged=2)
    ctx = sources_ctx(sources_bytes(long))
    options = {"min_stars": 20, "n_comparisons": 10}
    result = build_lightcurve(ctx, {"sequence_id": SEQ, "options": options})
    docs = [v for k, v in ctx.documents.docs.items() if k[0] == "lightcurves"]
    assert len(docs) == 80
    assert all(doc["points_embedded"] is False and "points" not in doc for doc in docs)
    assert all(doc["data_row_count"] == 201 for doc in docs)
    # with one colour the same frames fit (201 values)
    ctx.documents.docs.clear()
    build_lightcurve(ctx, {"sequence_id": SEQ, "options": {**options, "colours": ["g"]}})
    docs = [v for k, v in ctx.documents.docs.items() if k[0] == "lightcurves"]
    assert docs and all(len(doc["points"]["g"]) == 201 for doc in docs)
    assert result.detail["stars"] == 80


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        ({"options": {}}, "sequence_id"),
        ({"sequence_id": "PAN001_14d3bd"}, "sequence_id"),
        ({"sequence_id": "PAN001/14d3bd/20260101T040000"}, "sequence_id"),
        ({"sequence_id": "PAN001_14d3bd_20261340T000000"}, "invalid start time"),
        ({"sequence_id": 42}, "sequence_id"),
        ({"sequence_id": SEQ, "extra": 1}, "unknown fields"),
        ({"sequence_id": SEQ, "options": []}, "options must be"),
        ({"sequence_id": SEQ, "options": {"min_star": 5}}, "unknown options ['min_star']"),
        ({"sequence_id": SEQ, "options": {"min_stars": "50"}}, "min_stars must be a number"),
        ({"sequence_id": SEQ, "options": {"min_stars": True}}, "min_stars must be a number"),
        ({"sequence_id": SEQ, "options": {"min_stars": 2.5}}, "whole number"),
        ({"sequence_id": SEQ, "options": {"min_stars": 0}}, "min_stars = 0 is outside"),
        ({"sequence_id": SEQ, "options": {"cloud_threshold": 1.5}}, "cloud_threshold"),
        ({"sequence_id": SEQ, "options": {"cloud_threshold": 0}}, "cloud_threshold"),
        ({"sequence_id": SEQ, "options": {"n_comparisons": 0}}, "n_comparisons"),
        ({"sequence_id": SEQ, "options": {"colours": ["x"]}}, "unknown colours ['x']"),
        ({"sequence_id": SEQ, "options": {"colours": "g"}}, "colours must be"),
        ({"sequence_id": SEQ, "options": {"colours": []}}, "colours must be"),
        ({"sequence_id": SEQ, "options": {"colours": ["g", "g"]}}, "repeats"),
        ({"sequence_id": SEQ, "options": {"detrend": "yes"}}, "detrend must be"),
        ("PAN001_14d3bd_20260101T040000", "JSON object"),
    ],
)
def test_bad_requests_fail_permanently_and_write_nothing(tables, request_, says, sources_ctx):
    ctx = sources_ctx(tables)
    with pytest.raises(PermanentFailure) as failure:
        build_lightcurve(ctx, request_)
    assert says in failure.value.reason
    assert written_docs(ctx) == {} and ctx.store.names(S.lightcurves_bucket) == []


def test_an_observation_without_tables_fails_clearly(tables, sources_ctx):
    ctx = sources_ctx(tables)
    with pytest.raises(PermanentFailure) as failure:
        build_lightcurve(ctx, {"sequence_id": "PAN001_14d3bd_20260102T040000"})
    assert "has no sources tables under gs://panoptes-sources/PAN001/14d3bd/20260102T040000/" in (
        failure.value.reason
    )
    assert written_docs(ctx) == {}


def test_too_few_usable_frames_fail_clearly_with_the_reasons(tables, sources_ctx):
    few = dict(list(tables.items())[:12])
    ctx = sources_ctx(few)
    with pytest.raises(PermanentFailure) as failure:
        build_lightcurve(ctx, {"sequence_id": SEQ, "options": {"min_frames": 12}})
    assert "only 11 of 12 frames are usable (min_frames 12)" in failure.value.reason
    assert "clouds" in failure.value.reason
    assert written_docs(ctx) == {} and ctx.store.names(S.lightcurves_bucket) == []


def test_firestore_merge_many_commits_in_batches_of_500():
    from panoptes_network.adapters.firestore import FirestoreDocuments

    class Batch:
        def __init__(self, log):
            self.log, self.sets = log, 0

        def set(self, ref, fields, merge):
            assert merge is True
            self.sets += 1

        def commit(self):
            self.log.append(self.sets)

    class Client:
        def __init__(self):
            self.log: list[int] = []

        def batch(self):
            return Batch(self.log)

        def collection(self, name):
            return self

        def document(self, doc_id):
            return doc_id

    client = Client()
    FirestoreDocuments(client).merge_many([("c", str(i), {"i": i}) for i in range(1001)])
    assert client.log == [500, 500, 1]
    client = Client()  # 1.2 MB documents: two per commit of at most MAX_BATCH_BYTES
    text = "x" * 1_200_000
    assert 2 * approximate_size({"s": text}) < MAX_BATCH_BYTES < 3 * approximate_size({"s": text})
    FirestoreDocuments(client).merge_many([("c", str(i), {"s": text}) for i in range(5)])
    assert client.log == [2, 2, 1]


def test_gcs_list_returns_infos_sorted_by_name():
    from types import SimpleNamespace

    from panoptes_network.adapters.gcs import GcsObjectStore

    def blob(name):
        return SimpleNamespace(
            bucket=SimpleNamespace(name="b"), name=name, size=3, md5_hash="x", generation=1,
            metadata=None,
        )  # fmt: skip

    class Client:
        def list_blobs(self, bucket, prefix=None):
            self.asked = (bucket, prefix)
            return [blob("p/2.parquet"), blob("p/1.parquet")]

    client = Client()
    infos = GcsObjectStore(client).list("b", "p/")
    assert client.asked == ("b", "p/")
    assert [i.name for i in infos] == ["p/1.parquet", "p/2.parquet"] and infos[0].size == 3


def test_points_carry_the_stars_bjd_tdb_from_the_site_the_frames_name(observation, sources_ctx):
    site = {"latitude": 19.54, "longitude": -155.58, "elevation": 3400.0}
    objects = {}
    for table in observation.tables:
        meta = {**table.meta, "aperture_radius": 6.0, "software_version": "t", "site": site}
        objects[f"{PREFIX}{meta['image_id'].rsplit('_', 1)[1]}.parquet"] = write_sources_table(
            table, meta
        )
    ctx = sources_ctx(objects, documents=_RecordingDocs())
    result = build_lightcurve(ctx, {"sequence_id": SEQ, "options": {"min_stars": 30}})
    data = ctx.store.read(S.lightcurves_bucket, data_name(SEQ, result.detail["run_id"]))
    rows = read_lightcurve_rows(data)
    star = rows[rows["picid"] == rows["picid"][0]]
    first = observation.tables[0]
    which = np.asarray(first["picid"]) == star["picid"][0]
    ra, dec = float(first["ra"][which][0]), float(first["dec"][which][0])
    expected = bjd_tdb(np.asarray(star["time"]), np.array([ra]), np.array([dec]), site_of(site))
    assert np.asarray(star["bjd_tdb"]) == pytest.approx(expected[:, 0], abs=1e-3 / 86400)
    # about 2440587.5 + time / 86400, within the 8.3 minutes of the light travel time
    offset_s = (np.asarray(star["bjd_tdb"]) - 2440587.5 - np.asarray(star["time"]) / 86400) * 86400
    assert np.all(np.abs(offset_s) < 8.4 * 60 + 70)  # + TDB - UTC (69.2 s in 2024)


def test_without_a_site_the_points_bjd_tdb_is_nan(run):
    ctx, result = run
    data = ctx.store.read(S.lightcurves_bucket, data_name(SEQ, result.detail["run_id"]))
    assert np.isnan(np.asarray(read_lightcurve_rows(data)["bjd_tdb"])).all()


def test_the_finished_run_is_sent_to_the_analysis_which_reads_its_data_file(run):
    from panoptes_network.analysis.incremental import analyse_run

    ctx, result = run
    run_id = result.detail["run_id"]
    (message,) = ctx.bus.on(ctx.settings.analysis_topic)
    assert message == {"sequence_id": SEQ, "run_id": run_id}
    analysed = analyse_run(ctx, message)
    assert (
        analysed.detail["stars"] == ctx.documents.get("processed_observations", run_id)["num_stars"]
    )
    _, lightcurve = next((k[1], v) for k, v in ctx.documents.docs.items() if k[0] == "lightcurves")
    star = ctx.documents.get("stars", str(lightcurve["picid"]))
    assert star["n_runs"] == 1 and star["catalog"]["vmag"] == lightcurve["vmag"]
    assert star["colours"]["g"]["n"] > 0 and star["colours"]["g"]["rms"] > 0


def test_the_run_analysed_finds_its_transit_and_measures_its_completeness(run, observation):
    """analyse-run on the run: the transit detected, events injected into the photometry."""
    ctx, result = run
    answer = analyse_run(ctx, {"sequence_id": SEQ, "run_id": result.detail["run_id"]})
    assert answer.detail["injected"] == DEFAULT_ANALYSIS.injections_per_run, answer.detail
    assert 0 < answer.detail["recovered"] < answer.detail["injected"]
    hash_ = DEFAULT_ANALYSIS.config_hash()
    counts = ctx.documents.get(ANALYSIS_COMPLETENESS, f"{hash_}_{SEQ}_{result.detail['run_id']}")
    assert counts["injected"] == answer.detail["injected"] and "error" not in counts
    assert sum(b["injected"] for b in counts["bins"]) == counts["injected"]
    detections = [d for k, d in ctx.documents.docs.items() if k[0] == DETECTIONS]
    injected = [d for d in detections if d["injected"]]
    assert len(injected) == counts["recovered"]
    transit_star = int(observation.picid[observation.transit_star])
    (found,) = [
        d for d in detections if d["picid"] == transit_star and d["search"] == "single-event"
    ]
    assert not found["injected"]
    assert abs(found["time_s"] - observation.transit_mid) < observation.cadence
    # the box of the search's grid (30, 60, 120, 180 min) that fits best, the transit diluted
    # in it when the box is longer than the 40 minutes
    diluted = DEPTH * min(1.0, 40 * 60 / found["duration_s"])
    assert found["depth"] == pytest.approx(diluted, abs=3 * found["depth_err"] + 0.001)
    assert found["frames"] and found["rows"][0]["run_id"] == result.detail["run_id"]
