"""Stars by their analysis: the most variable with enough points, and those near a position."""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.analysis.star_documents import star_document
from panoptes_network.analysis.star_sums import StarSums, run_star_sums
from panoptes_network.explorer.analysed_stars import stars_near, variable_stars
from panoptes_network.explorer.errors import InvalidQuery
from panoptes_network.frames.sky_index import STAR_INDEX_ORDERS, cone_cells
from tests.unit.fakes import MemoryDocuments


def _star(documents, picid, *, n, sigma, ra, dec):
    rng = np.random.default_rng(picid)
    time = 1.7e9 + 128.0 * np.arange(n)
    columns = {"mag_g": 10 + rng.normal(0, sigma, n), "mag_err_g": np.full(n, 0.004)}
    sums = run_star_sums(picid, "PAN001_14d3bd_1/run", time, columns, colours=("g",))
    doc = star_document(
        StarSums.merged(picid, [sums]), DEFAULT_ANALYSIS, {"ra": ra, "dec": dec, "vmag": 10.0}
    )
    documents.merge("stars", str(picid), doc)


@pytest.fixture
def stars():
    documents = MemoryDocuments()
    # (picid, points, scatter): 3 and 4 are the most variable but 4 has too few points
    for picid, n, sigma, ra in [(1, 600, 0.004, 300.0), (2, 600, 0.008, 300.5),
                                (3, 600, 0.02, 301.0), (4, 200, 0.05, 305.0)]:  # fmt: skip
        _star(documents, picid, n=n, sigma=sigma, ra=ra, dec=40.0)
    return documents


def test_the_most_variable_stars_with_enough_points_come_first(stars):
    answer = variable_stars(stars, min_points=500)
    assert [s["picid"] for s in answer["stars"]] == [3, 2, 1]
    assert answer["stars"][0]["rms_over_floor"] > 4
    assert [s["picid"] for s in variable_stars(stars, min_points=100, limit=2)["stars"]] == [4, 3]


def test_stars_near_a_position_nearest_first(stars):
    answer = stars_near(stars, 300.2, 40.0, 1.0)
    assert [s["picid"] for s in answer["stars"]] == [1, 2, 3]
    assert answer["stars"][0]["distance"] == pytest.approx(0.153, abs=0.01)
    assert stars_near(stars, 120.0, -40.0, 2.0)["stars"] == []


def test_bad_queries_are_refused_with_the_choices(stars):
    with pytest.raises(InvalidQuery, match="must be one of"):
        variable_stars(stars, min_points=501)
    with pytest.raises(InvalidQuery, match="must be one of"):
        variable_stars(stars, order="vmag")
    with pytest.raises(InvalidQuery, match="limit"):
        variable_stars(stars, limit=0)
    with pytest.raises(InvalidQuery, match="radius of 0 to 10"):
        stars_near(stars, 300.0, 40.0, 45.0)


def test_a_small_cone_in_a_crowded_field_asks_only_for_nearby_cells():
    documents = MemoryDocuments()
    rng = np.random.default_rng(7)
    positions = zip(rng.uniform(295, 305, 300), rng.uniform(35, 45, 300), strict=True)
    for picid, (ra, dec) in enumerate(positions, 1):
        _star(documents, picid, n=20, sigma=0.004, ra=float(ra), dec=float(dec))
    target = documents.get("stars", "17")
    answer = stars_near(documents, target["ra"], target["dec"], 0.2, limit=20)
    assert answer["truncated"] is False and answer["stars"][0]["picid"] == 17
    for radius in (0.2, 2.0, 9.0):  # the finest order with at most 30 cells, each size
        cone = cone_cells(target["ra"], target["dec"], radius, STAR_INDEX_ORDERS)
        assert set(cone.cells) & set(target["sky_cells"]), radius
