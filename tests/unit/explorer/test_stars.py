"""A star's page and downloads: every light curve across runs and units, bounded reads.

The light curves of :mod:`star_records` hold known, distinct values; each test checks that
what the read model answers is those values (from the documents or from the run's data
file), in the right run, with the flagged points and only those marked. The light curves
are read by key through the star's key index; a star without one (older data) by query, and
both answers are the same.
"""

from __future__ import annotations

import io
import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.plots import lightcurve_png
from panoptes_network.explorer.stars import (
    MAX_FILE_READS,
    MAX_FLAGS,
    MAX_RUN_STARS,
    POINT_COLUMNS,
    lightcurve,
    run_stars,
    star,
    star_points,
)
from panoptes_network.lightcurves.flags import POINT_TIME_TOLERANCE_S
from panoptes_network.pipeline.key_index import IDS, add_ids
from panoptes_network.pipeline.schema import (
    LIGHTCURVES,
    PROCESSED_OBSERVATIONS,
    STAR_LIGHTCURVES,
)
from tests.unit.explorer.network import SETTINGS
from tests.unit.explorer.openapi_check import schema_errors
from tests.unit.explorer.star_records import (
    FLAGGED_FRAMES,
    FLAGGED_RUN,
    OTHER_PICID,
    PICID,
    RUNS,
    build_star,
    run_id_of,
    star_series,
)
from tests.unit.fakes import CountingDocuments, MemoryStore


class QueryLog(CountingDocuments):
    """Counting documents that also record the collection of every query."""

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def query(self, collection, *args, **kwargs):
        self.queries.append(collection)
        return super().query(collection, *args, **kwargs)


class Reader:
    """Reads data files from the fake bucket, counting the reads."""

    def __init__(self, store: MemoryStore):
        self.store = store
        self.reads: list[str] = []

    def __call__(self, name: str) -> bytes:
        self.reads.append(name)
        return self.store.read(SETTINGS.lightcurves_bucket, name)


@pytest.fixture
def network():
    documents, store = QueryLog(), MemoryStore()
    built = build_star(documents, store)
    documents.reads = 0
    return documents, Reader(store), built


def _unindexed(documents) -> None:
    """Delete every star's key index document: the data as stored before the index."""
    for key in [k for k in documents.docs if k[0] == STAR_LIGHTCURVES]:
        del documents.docs[key]


def _without_reads(answer):
    return {k: v for k, v in answer.items() if k != "documents_read"}


def _by_unit(answer):
    return {lc["unit_id"]: lc for lc in answer["lightcurves"]}


def test_a_star_shows_every_run_newest_first_with_its_points(network):
    documents, reader, _ = network
    answer = star(documents, str(PICID), read_data=reader)
    assert schema_errors(answer, "StarDetail") == []
    assert [lc["unit_id"] for lc in answer["lightcurves"]] == ["PAN006", "PAN012", "PAN001"]
    assert answer["units"] == ["PAN006", "PAN012", "PAN001"]
    assert answer["colours"] == ["r", "g", "b"]
    assert answer["catalog"] == {"ra": 83.8221, "dec": -5.3911, "vmag": 8.4}
    for run, (unit, *_rest) in enumerate(RUNS):
        points = _by_unit(answer)[unit]["points"]
        truth = star_series(run)
        assert points["time_s"] == pytest.approx(list(truth["time"]))
        assert points["time"][0].endswith("+00:00")
        assert points["g"] == pytest.approx(list(truth["flux_g"]))
        assert points["g_outlier"] == list(truth["outlier_g"])
    # the run without embedded points was read from its data file, once
    assert reader.reads == [
        f"{_by_unit(answer)['PAN012']['sequence_id']}/"
        f"{_by_unit(answer)['PAN012']['run_id']}/lightcurves.parquet"
    ]
    assert "r" not in _by_unit(answer)["PAN012"]["points"]
    # a missing r point stays missing (null), never zero
    assert _by_unit(answer)["PAN001"]["points"]["r"][1] is None


def test_flagged_points_are_marked_and_only_those(network):
    documents, reader, built = network
    answer = star(documents, PICID, read_data=reader)
    flagged_unit = RUNS[FLAGGED_RUN][0]
    for unit, lc in _by_unit(answer).items():
        marked = [i for i, f in enumerate(lc["points"]["flagged"]) if f]
        assert marked == (list(FLAGGED_FRAMES) if unit == flagged_unit else [])
    # the removed flag (frame 0) is not listed, the active one is
    assert [f["flag_id"] for f in answer["flags"]] == ["flag-points"]
    assert answer["flags"][0]["reason"] == "satellite trail"
    assert answer["flags"][0]["user"] == "o…@example.org"  # never the whole address
    assert answer["flags"][0]["sequence_id"] == built["flagged_sequence"]


def test_reads_are_bounded_by_the_light_curves_and_flags(network):
    documents, reader, _ = network
    answer = star(documents, PICID, read_data=reader)
    # the star's key index, its three light curves by key, the flags of the star and its
    # analysis document: the neighbour's light curves are never read, and no light curve is
    # asked for by query
    assert documents.reads == 1 + 3 + 2 + 1
    assert documents.queries == ["flags"]
    assert answer["documents_read"] == documents.reads  # the removed flag was read too
    assert answer["num_lightcurves"] == 3 and answer["truncated"] is False
    documents.reads = 0
    limited = star(documents, PICID, read_data=reader, limit=2)
    assert limited["num_lightcurves"] == 2 and limited["truncated"] is True
    # the two newest, and the one more that says there are more
    assert documents.reads == limited["documents_read"] == 1 + (2 + 1) + 2 + 1


def test_a_star_without_a_key_index_is_read_by_query(network):
    documents, reader, _ = network
    _unindexed(documents)
    documents.reads = 0
    answer = star(documents, PICID, read_data=reader)
    assert [lc["unit_id"] for lc in answer["lightcurves"]] == ["PAN006", "PAN012", "PAN001"]
    # the index looked for, three light curves by query, the flags, the analysis
    assert documents.queries == ["lightcurves", "flags"]
    assert answer["documents_read"] == documents.reads == 1 + 3 + 2 + 1


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_the_key_index_and_the_query_give_the_same_star(network, limit):
    documents, reader, _ = network
    indexed = star(documents, PICID, read_data=reader, limit=limit)
    indexed_points = star_points(documents, PICID, read_data=reader)
    _unindexed(documents)
    queried = star(documents, PICID, read_data=reader, limit=limit)
    assert _without_reads(indexed) == _without_reads(queried)
    assert indexed["num_lightcurves"] == min(limit, 3)
    queried_points = star_points(documents, PICID, read_data=reader)
    assert queried_points.schema.equals(indexed_points.schema, check_metadata=True)
    for name in indexed_points.column_names:  # NaN where a run lacks a colour, in both
        np.testing.assert_array_equal(
            queried_points.column(name).to_numpy(zero_copy_only=False),
            indexed_points.column(name).to_numpy(zero_copy_only=False),
        )


def _other_stars(documents, n: int) -> None:
    """Store ``n`` light curves of other stars, each listed in its star's key index."""
    template = documents.get(LIGHTCURVES, f"{OTHER_PICID}_{run_id_of(0)}")
    for k in range(n):
        picid = 300_000_000 + k // 3
        lcid = f"{picid}_{run_id_of(k % 3)}"
        documents.merge(LIGHTCURVES, lcid, {**template, "picid": picid})
        documents.commit([add_ids(STAR_LIGHTCURVES, str(picid), [lcid])])


@pytest.mark.parametrize("others", [100, 2_000])
def test_a_star_page_reads_the_same_however_many_other_light_curves(network, others):
    documents, reader, _ = network
    before = star(documents, PICID, read_data=reader)
    _other_stars(documents, others)
    documents.reads = 0
    documents.queries.clear()
    answer = star(documents, PICID, read_data=reader)
    assert answer == before
    assert documents.reads == answer["documents_read"] == 1 + 3 + 2 + 1
    assert "lightcurves" not in documents.queries


def _runs_of_one_star(documents, times: list[datetime]) -> list[str]:
    """Store one light curve of a new star per run time (run ids as build-lightcurve makes
    them: a second taken twice gets ``-2``); list them all. Return the lcids."""
    picid, lcids, taken = 400_000_001, [], set()
    for k, moment in enumerate(times):
        sequence = f"PAN{k % 4:03d}_14d3bd_{moment - timedelta(hours=3):%Y%m%dT%H%M%S}"
        run_id = f"{sequence}_{moment:%Y%m%dT%H%M%S}"
        n = 1
        while f"{run_id}-{n}" in taken or (n == 1 and run_id in taken):
            n += 1
        run_id = run_id if n == 1 else f"{run_id}-{n}"
        taken.add(run_id)
        lcid = f"{picid}_{run_id}"
        documents.merge(
            LIGHTCURVES,
            lcid,
            {
                "picid": picid,
                "sequence_id": sequence,
                "processed_observation": run_id,
                "unit_id": sequence[:6],
                "run_time": moment,
                "vmag": 9.0,
            },
        )
        lcids.append(lcid)
    documents.commit([add_ids(STAR_LIGHTCURVES, str(picid), lcids)])
    return lcids


def test_many_runs_read_by_key_are_the_newest_as_the_query_orders_them():
    documents = QueryLog()
    rng = random.Random(7)
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    # runs within a few seconds of each other: many share the second of their run id
    times = [base + timedelta(seconds=rng.randrange(12), microseconds=rng.randrange(10**6))]
    times += [base + timedelta(seconds=rng.randrange(12), microseconds=k) for k in range(39)]
    lcids = _runs_of_one_star(documents, times)
    del documents.docs[(LIGHTCURVES, lcids[5])]  # listed, but gone
    picid = int(lcids[0].split("_")[0])
    for limit in (1, 4, 10, 38, 39, 100):
        documents.reads = 0
        indexed = star(documents, picid, limit=limit)
        assert indexed["documents_read"] == documents.reads
        saved = documents.docs.pop((STAR_LIGHTCURVES, str(picid)))
        queried = star(documents, picid, limit=limit)
        documents.docs[(STAR_LIGHTCURVES, str(picid))] = saved
        assert _without_reads(indexed) == _without_reads(queried), limit
        assert indexed["truncated"] is (limit < 39)
        times_shown = [lc["run_time"] for lc in indexed["lightcurves"]]
        assert times_shown == sorted(times_shown, reverse=True)
    documents.reads = 0
    star(documents, picid, limit=4)
    # the index, then the five newest by the second of their ids and every run of that
    # second (12 seconds for 40 runs): far fewer than the 39 light curves of the star
    assert documents.reads < 1 + 5 + 12


def test_at_most_a_few_data_files_are_read_for_one_page(network):
    documents, reader, _ = network
    doc = documents.get(
        LIGHTCURVES, _by_unit(star(documents, PICID, read_data=reader))["PAN012"]["lcid"]
    )
    for k in range(MAX_FILE_READS + 3):
        lcid = f"{PICID}_copy{k:02d}"
        documents.merge(LIGHTCURVES, lcid, {**doc, "processed_observation": f"copy{k:02d}"})
        documents.commit([add_ids(STAR_LIGHTCURVES, str(PICID), [lcid])])
    reader.reads.clear()
    answer = star(documents, PICID, read_data=reader)
    assert len(reader.reads) == MAX_FILE_READS
    without = [lc for lc in answer["lightcurves"] if lc["points"] is None]
    assert len(without) == 4  # 14 runs in files, 10 read
    assert all("download" in lc["points_note"] for lc in without)
    assert schema_errors(answer, "StarDetail") == []


def test_an_unreadable_data_file_is_said_not_fatal(network):
    documents, _, _ = network

    def broken(name: str) -> bytes:
        return b"not parquet"

    answer = star(documents, PICID, read_data=broken)
    assert _by_unit(answer)["PAN012"]["points"] is None
    assert "could not be read" in _by_unit(answer)["PAN012"]["points_note"]
    assert _by_unit(answer)["PAN001"]["points"] is not None


@pytest.mark.parametrize("bad", ["0", "-5", "abc", "1e5", "12345678901234567", "", " 7", 3.5, True])
def test_an_impossible_picid_is_not_found(network, bad):
    documents, reader, _ = network
    with pytest.raises(NotFound):
        star(documents, bad, read_data=reader)
    assert documents.reads == 0


def test_an_unknown_star_is_not_found_and_a_bad_limit_refused(network):
    documents, reader, _ = network
    with pytest.raises(NotFound, match="999"):
        star(documents, 999, read_data=reader)
    with pytest.raises(InvalidQuery, match="limit"):
        star(documents, PICID, read_data=reader, limit=0)


def test_the_download_has_every_point_with_its_run_and_unit(network):
    documents, reader, _ = network
    table = star_points(documents, PICID, read_data=reader)
    assert table.column_names[: len(POINT_COLUMNS)] == list(POINT_COLUMNS)
    assert table.num_rows == sum(run[3] for run in RUNS)
    rows = table.to_pylist()
    assert all(row["picid"] == PICID for row in rows)
    for run, (unit, camera, *_rest) in enumerate(RUNS):
        mine = [row for row in rows if row["unit_id"] == unit]
        truth = star_series(run)
        assert {row["camera_id"] for row in mine} == {camera}
        assert len({row["run_id"] for row in mine}) == 1
        assert [row["time"] for row in mine] == pytest.approx(list(truth["time"]))
        # the airmass comes from the data file, for every run (files are read first)
        assert [row["airmass"] for row in mine] == pytest.approx(list(truth["airmass"]))
        assert [row["flux_g"] for row in mine] == pytest.approx(list(truth["flux_g"]))
        if "flux_b" not in truth:  # a colour the run lacks is NaN, not zero
            assert all(np.isnan(row["flux_b"]) for row in mine)
        flagged = [i for i, row in enumerate(mine) if row["flagged"]]
        assert flagged == (list(FLAGGED_FRAMES) if run == FLAGGED_RUN else [])
    assert rows[0]["time_utc"].endswith("+00:00")


def test_the_flag_tolerance_is_what_it_says(network):
    documents, reader, _ = network
    # the records put the flagged times 0.4 s after the points: inside the tolerance
    assert 0.4 < POINT_TIME_TOLERANCE_S < 60.0
    table = star_points(documents, OTHER_PICID, read_data=reader)
    assert not any(table.column("flagged").to_pylist())  # the flag names PICID only
    assert MAX_FLAGS >= 1


def test_a_light_curve_png_is_a_plot_of_its_points(network):
    documents, reader, built = network
    found = lightcurve(documents, built["lcids"][1], read_data=reader)  # from the data file
    assert found["columns"]["flux_g"] == pytest.approx(star_series(1)["flux_g"])
    png = lightcurve_png(found)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size[0] == 1000
    three = Image.open(io.BytesIO(lightcurve_png(lightcurve(documents, built["lcids"][0]))))
    assert three.size[1] > image.size[1]  # a panel per colour: three panels are taller
    with pytest.raises(NotFound):
        lightcurve(documents, "no_such_lightcurve", read_data=reader)
    with pytest.raises(NotFound):
        lightcurve(documents, "../x", read_data=reader)


def test_a_run_lists_its_brightest_stars(network):
    documents, _, built = network
    run_id = run_id_of(0)
    documents.reads = 0
    stars = run_stars(documents, run_id)
    assert [s["picid"] for s in stars] == [OTHER_PICID, PICID]  # brightest first
    assert stars[1]["vmag"] == 8.4 and set(stars[1]["rms_mag"]) == {"r", "g", "b"}
    # by key: the run's document and the two light curves it lists
    assert documents.reads == 1 + 2 and documents.queries == []
    assert run_stars(documents, "no-such-run") == []


def test_a_run_listing_its_brightest_stars_answers_as_the_query(network):
    documents, _, _ = network
    for run in range(len(RUNS)):
        run_id = run_id_of(run)
        listed = run_stars(documents, run_id)
        doc = documents.get(PROCESSED_OBSERVATIONS, run_id)
        assert run_stars(documents, run_id, run=doc) == listed  # the caller's copy: same
        del documents.docs[(PROCESSED_OBSERVATIONS, run_id)]["brightest_lightcurves"]
        documents.queries.clear()
        assert run_stars(documents, run_id) == listed
        assert documents.queries == ["lightcurves"]


def test_a_run_without_its_brightest_stars_is_read_by_query(network):
    documents, _, _ = network
    run_id = run_id_of(0)
    del documents.docs[(PROCESSED_OBSERVATIONS, run_id)]  # a run recorded before the list
    documents.merge(LIGHTCURVES, f"{OTHER_PICID}_{run_id}", {"vmag": 9.9})
    documents.reads = 0
    stars = run_stars(documents, run_id)
    assert [s["picid"] for s in stars] == [PICID, OTHER_PICID]  # by vmag, as stored now
    assert documents.queries == ["lightcurves"] and documents.reads == 1 + 2
    assert len(stars) <= MAX_RUN_STARS


def test_a_run_lists_at_most_its_brightest_and_skips_those_gone(network):
    documents, _, _ = network
    run_id = run_id_of(1)
    listed = [f"{300_000_000 + k}_{run_id}" for k in range(MAX_RUN_STARS + 5)]
    template = documents.get(LIGHTCURVES, f"{PICID}_{run_id}")
    for k, lcid in enumerate(listed):
        documents.merge(LIGHTCURVES, lcid, {**template, "picid": 300_000_000 + k})
    del documents.docs[(LIGHTCURVES, listed[2])]
    documents.merge(PROCESSED_OBSERVATIONS, run_id, {"brightest_lightcurves": listed})
    documents.reads = 0
    stars = run_stars(documents, run_id)
    assert [s["picid"] for s in stars] == [300_000_000 + k for k in range(MAX_RUN_STARS) if k != 2]
    assert documents.reads == 1 + MAX_RUN_STARS
    assert documents.get(STAR_LIGHTCURVES, str(PICID))[IDS]  # the stars' indexes untouched


def test_a_star_shows_its_analysis_across_the_network_once_analysed(network):
    from panoptes_network.analysis.config import DEFAULT_ANALYSIS
    from panoptes_network.analysis.star_documents import star_document
    from panoptes_network.analysis.star_sums import StarSums, run_star_sums

    documents, reader, _ = network
    assert star(documents, str(PICID), read_data=reader)["analysis"] is None
    time = 1.7e9 + 128.0 * np.arange(60)
    rng = np.random.default_rng(2)
    parts = []
    for k, unit in enumerate(("PAN001", "PAN006")):
        columns = {}
        for c in ("r", "g", "b"):
            columns[f"mag_{c}"] = 8.4 + rng.normal(0, 0.005, 60)
            columns[f"mag_err_{c}"] = np.full(60, 0.005)
        parts.append(run_star_sums(PICID, f"{unit}_14d3bd_2016{k}/run", time + 86400 * k, columns))
    documents.merge(
        "stars", str(PICID), star_document(StarSums.merged(PICID, parts), DEFAULT_ANALYSIS)
    )
    answer = star(documents, str(PICID), read_data=reader)
    assert schema_errors(answer, "StarDetail") == []
    analysis = answer["analysis"]
    assert analysis["n_observations"] == 2 and analysis["units"] == ["PAN001", "PAN006"]
    assert analysis["colours"]["g"]["n"] == 120
    assert analysis["colours"]["g"]["mean_mag"] == pytest.approx(8.4, abs=0.003)
    assert analysis["analysis_hash"] == DEFAULT_ANALYSIS.config_hash()
