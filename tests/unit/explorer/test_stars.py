"""A star's page and downloads: every light curve across runs and units, bounded reads.

The light curves of :mod:`star_records` hold known, distinct values; each test checks that
what the read model answers is those values (from the documents or from the run's data
file), in the right run, with the flagged points and only those marked.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.plots import lightcurve_png
from panoptes_network.explorer.stars import (
    MAX_FILE_READS,
    MAX_FLAGS,
    POINT_COLUMNS,
    lightcurve,
    star,
    star_points,
)
from panoptes_network.lightcurves.flags import POINT_TIME_TOLERANCE_S
from panoptes_network.pipeline.schema import LIGHTCURVES
from tests.unit.explorer.network import SETTINGS
from tests.unit.explorer.openapi_check import schema_errors
from tests.unit.explorer.star_records import (
    FLAGGED_FRAMES,
    FLAGGED_RUN,
    OTHER_PICID,
    PICID,
    RUNS,
    build_star,
    star_series,
)
from tests.unit.fakes import CountingDocuments, MemoryStore


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
    documents, store = CountingDocuments(), MemoryStore()
    built = build_star(documents, store)
    documents.reads = 0
    return documents, Reader(store), built


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
    # three light curves (and the one more asked for to know about truncation: none) and
    # the flags of the star: the neighbour's light curves are never read
    assert documents.reads == 3 + 2
    assert answer["documents_read"] == documents.reads  # the removed flag was read too
    assert answer["num_lightcurves"] == 3 and answer["truncated"] is False
    limited = star(documents, PICID, read_data=reader, limit=2)
    assert limited["num_lightcurves"] == 2 and limited["truncated"] is True


def test_at_most_a_few_data_files_are_read_for_one_page(network):
    documents, reader, _ = network
    doc = documents.get(
        LIGHTCURVES, _by_unit(star(documents, PICID, read_data=reader))["PAN012"]["lcid"]
    )
    for k in range(MAX_FILE_READS + 3):
        documents.merge(
            LIGHTCURVES, f"{PICID}_copy{k:02d}", {**doc, "processed_observation": f"copy{k:02d}"}
        )
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
    from panoptes_network.explorer.stars import run_stars

    documents, _, built = network
    run_id = built["lcids"][0].split("_", 1)[1]
    documents.merge(LIGHTCURVES, f"{OTHER_PICID}_{run_id}", {"vmag": 6.1})
    stars = run_stars(documents, run_id)
    assert [s["picid"] for s in stars] == [OTHER_PICID, PICID]  # brightest first
    assert stars[1]["vmag"] == 8.4 and set(stars[1]["rms_mag"]) == {"r", "g", "b"}
    assert run_stars(documents, "no-such-run") == []
