"""The client's analysis tables over HTTP, against the real explorer app on known documents.

The explorer serves :mod:`tests.unit.explorer.analysis_records` (detections, the runs'
coverage and completeness) and :mod:`tests.unit.explorer.star_records`' analysed stars; the
expected rows come from those definitions, not from the API's answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.client import (
    ANALYSED_STAR_COLUMNS,
    COMPLETENESS_COLUMNS,
    COVERAGE_COLUMNS,
    DETECTION_COLUMNS,
    Client,
    ExplorerError,
)
from panoptes_network.client import explorer as module
from tests.unit.client.conftest import RequestLog
from tests.unit.client.servers import recorded, serve_wsgi
from tests.unit.explorer.analysis_records import (
    ANALYSIS_HASH,
    COMPLETENESS_EDGES,
    TRANSIT_ID,
    build_analysis_runs,
    build_detections,
    completeness_bins,
    coverage_bins,
)
from tests.unit.explorer.network import SETTINGS
from tests.unit.explorer.star_records import PICID, RUNS, build_star
from tests.unit.explorer.test_analysed_stars import _star
from tests.unit.fakes import MemoryDocuments, MemoryStore

UTC = timezone.utc
TYPES = {
    "text": "str",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "time": "datetime64[us, UTC]",
}


class Served:
    def __init__(self, url: str, client: Client, asked: RequestLog, ids: dict):
        self.url, self.client, self.asked, self.ids = url, client, asked, ids


@pytest.fixture
def served() -> Iterator[Served]:
    documents, store = MemoryDocuments(), MemoryStore()
    build_star(documents, store)
    ids = build_detections(documents)
    build_analysis_runs(documents)
    for picid, sigma, ra in [(11, 0.004, 300.0), (12, 0.02, 300.5), (13, 0.008, 310.0)]:
        _star(documents, picid, n=600, sigma=sigma, ra=ra, dec=40.0)
    asked: RequestLog = []
    app = create_app(documents=documents, settings=SETTINGS, objects=store)
    # The process's first search near a position builds the finest star cells (order 7) in
    # the explorer: about 16 s on an idle core, past the client's 30 s on a busy machine.
    with serve_wsgi(recorded(app, asked)) as url, Client(url, backoff=0, timeout=120) as made:
        yield Served(url, made, asked, ids)


def _dtypes(frame: pd.DataFrame, columns) -> None:
    assert list(frame.columns[: len(columns)]) == list(columns)
    for name, kind in columns.items():
        assert str(frame[name].dtype) in (TYPES[kind], "object" if kind == "text" else ""), name


def test_detections_most_significant_first_typed_and_real_only(served: Served):
    found = served.client.get_detections()
    assert list(found["detection_id"]) == served.ids["real"]
    _dtypes(found, DETECTION_COLUMNS)
    assert list(found.columns[len(DETECTION_COLUMNS) :]) == ["sequence_ids", "run_ids", "unit_ids"]
    assert found["significance"].is_monotonic_decreasing
    assert not found["injected"].any() and found["injection_depth"].isna().all()
    transit = found.set_index("detection_id").loc[TRANSIT_ID]
    expected_time = datetime.fromtimestamp(transit["time_s"], tz=UTC)
    assert transit["time"] == pd.Timestamp(expected_time)
    assert transit["kind"] == "transit" and transit["depth"] == pytest.approx(0.01)
    assert transit["unit_ids"] == [RUNS[1][0]]
    assert found.attrs["analysis_hash"] == ANALYSIS_HASH and found.attrs["truncated"] is False


def test_injected_detections_carry_their_truth(served: Served):
    found = served.client.get_detections(injected=True)
    assert list(found["detection_id"]) == served.ids["injected"]
    assert found["injected"].all()
    assert found["injection_snr"].eq(9.0).all()
    assert (found["injection_time"] - found["time"]).dt.total_seconds().eq(30.0).all()
    flares = served.client.get_detections(kind="flare", injected=True)
    assert set(flares["kind"]) == {"flare"} and flares["injection_amplitude"].notna().all()


def test_detections_page_by_cursor_up_to_the_limit(served: Served):
    client = Client(served.url, backoff=0, page_size=2)
    found = client.get_detections(limit=5)
    assert list(found["detection_id"]) == served.ids["real"][:5]
    assert found.attrs["truncated"] is True and found.attrs["pages"] == 3
    every = client.get_detections()
    assert list(every["detection_id"]) == served.ids["real"] and every.attrs["truncated"] is False
    asked = [q for path, q in served.asked if path == "/api/v1/analysis/candidates"]
    assert asked[0] == {"injected": "false", "limit": "2"}
    assert all(q["limit"] == "2" for q in asked)


def test_a_stars_detections(served: Served):
    found = served.client.get_star_detections(PICID)
    assert TRANSIT_ID in list(found["detection_id"]) and set(found["picid"]) == {PICID}
    assert found["significance"].is_monotonic_decreasing and not found["injected"].any()
    injected = served.client.get_star_detections(str(PICID), injected=True)
    assert injected["injected"].all() and len(injected) == 1
    nothing = served.client.get_star_detections(12345)
    assert len(nothing) == 0 and list(nothing.columns[: len(DETECTION_COLUMNS)]) == list(
        DETECTION_COLUMNS
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.get_detections(kind="planet"), "kind"),
        (lambda c: c.get_detections(injected="yes"), "injected"),
        (lambda c: c.get_detections(limit=0), "limit"),
        (lambda c: c.get_star_detections("abc"), "picid"),
        (lambda c: c.get_coverage("seeing"), "dimension"),
        (lambda c: c.get_analysed_stars(ra=1.0), "together"),
        (lambda c: c.get_analysed_stars(limit="many"), "limit"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(served: Served, call, message):
    with pytest.raises(ValueError, match=message):
        call(served.client)
    assert served.asked == []


def test_the_apis_refusal_is_an_explorer_error_naming_the_parameter(served: Served):
    with pytest.raises(ExplorerError, match="min_points") as raised:
        served.client.get_analysed_stars(min_points=7)
    assert raised.value.status == 400


def test_analysed_stars_most_variable_and_near(served: Served):
    variable = served.client.get_analysed_stars(order="chi2_red")
    _dtypes(variable, ANALYSED_STAR_COLUMNS)
    assert list(variable["picid"]) == [12, 13, 11] and variable.attrs["mode"] == "variable"
    assert variable["distance"].isna().all()
    near = served.client.get_analysed_stars(ra=300.2, dec=40.0, radius=1.0)
    assert list(near["picid"]) == [11, 12] and near.attrs["mode"] == "near"
    assert near["distance"].is_monotonic_increasing and near["distance"].notna().all()
    assert served.asked[-1][1] == {"ra": "300.2", "dec": "40", "radius": "1", "limit": "100"}


@pytest.mark.parametrize("dimension", ["quality", "airmass", "moon", "unit"])
def test_coverage_by_each_dimension(served: Served, dimension):
    frame = served.client.get_coverage(dimension)
    columns = {**COVERAGE_COLUMNS, **({"bin": "text"} if dimension == "unit" else {})}
    _dtypes(frame, columns)
    sums: Counter = Counter()
    for run in range(len(RUNS)):
        for b in coverage_bins(run):
            sums[b[dimension]] += b["points"]
    assert dict(zip(frame["bin"], frame["points"], strict=True)) == dict(sums)
    assert frame["hours"].sum() == pytest.approx(sum(sums.values()) * 60 / 3600)
    assert frame.attrs["runs"] == len(RUNS) and frame.attrs["points"] == sum(sums.values())


def test_completeness_bins_with_their_edges_add_up(served: Served):
    frame = served.client.get_completeness()
    _dtypes(frame, COMPLETENESS_COLUMNS)
    bins = [b for run in range(len(RUNS)) for b in completeness_bins(run)]
    assert frame["injected"].sum() == sum(b["injected"] for b in bins) == frame.attrs["injected"]
    assert frame.attrs["runs"] == len(RUNS)
    row = frame[
        (frame.kind == "transit") & (frame.depth_bin == 2) & (frame.duration_bin == 1)
        & (frame.snr_bin == 6)
    ].iloc[0]  # fmt: skip
    assert (row.depth_low, row.depth_high) == (0.005, 0.01)
    assert (row.duration_low_min, row.duration_high_min) == (30.0, 60.0)
    assert row.snr_low == COMPLETENESS_EDGES["snr"][6] and np.isnan(row.snr_high)  # open bin
    assert row.completeness == pytest.approx(row.recovered / row.injected)
    unknown = frame[frame.snr_bin == -1].iloc[0]
    assert np.isnan(unknown.snr_low) and unknown.injected == 2 * len(RUNS)
    # what a scientist does with it: completeness per SNR bin by adding counts
    by_snr = frame[frame.kind == "transit"].groupby("snr_bin")[["injected", "recovered"]].sum()
    fraction = by_snr.recovered / by_snr.injected
    assert fraction.loc[0] == 0.0 and fraction.loc[6] == 1.0


def test_nothing_analysed_gives_empty_tables_with_their_columns():
    app = create_app(documents=MemoryDocuments(), settings=SETTINGS)
    with serve_wsgi(app) as url, Client(url, backoff=0) as client:
        assert len(client.get_completeness()) == 0
        assert list(client.get_coverage("unit").columns) == list(COVERAGE_COLUMNS)
        assert len(client.get_detections()) == 0


def test_the_module_functions_use_the_default_client(served: Served, monkeypatch):
    monkeypatch.setattr(module, "_DEFAULT", served.client)
    assert list(module.get_detections(kind="transit")["kind"].unique()) == ["transit"]
    assert len(module.get_star_detections(PICID)) >= 1
    assert len(module.get_analysed_stars(limit=2)) == 2
    assert len(module.get_coverage("moon")) > 0 and len(module.get_completeness()) > 0
