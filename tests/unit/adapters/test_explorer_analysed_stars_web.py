"""The analysed stars page and its JSON twin through the Flask app (Flask's test client)."""

from __future__ import annotations

import pytest

from panoptes_network.adapters.explorer_web import create_app
from tests.unit.explorer.network import SETTINGS
from tests.unit.explorer.openapi_check import response_errors
from tests.unit.explorer.test_analysed_stars import _star
from tests.unit.fakes import MemoryDocuments, MemoryStore


@pytest.fixture
def client():
    documents = MemoryDocuments()
    for picid, sigma, ra in [(1, 0.004, 300.0), (2, 0.02, 300.5), (3, 0.008, 310.0)]:
        _star(documents, picid, n=600, sigma=sigma, ra=ra, dec=40.0)
    return create_app(documents=documents, settings=SETTINGS, objects=MemoryStore()).test_client()


def test_the_api_answers_the_documented_variable_and_nearby_stars(client):
    variable = client.get("/api/v1/analysis/stars?min_points=500&order=chi2_red")
    assert variable.status_code == 200
    body = variable.get_json()
    assert response_errors(body, "/api/v1/analysis/stars", 200) == []
    assert [s["picid"] for s in body["stars"]] == [2, 3, 1] and body["mode"] == "variable"
    near = client.get("/api/v1/analysis/stars?ra=300.2&dec=40&radius=1").get_json()
    assert response_errors(near, "/api/v1/analysis/stars", 200) == []
    assert [s["picid"] for s in near["stars"]] == [1, 2] and near["mode"] == "near"


def test_the_page_lists_the_stars_with_links_and_bad_queries_are_400(client):
    page = client.get("/analysis/stars")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'href="/stars/2#analysis"' in text and "Most variable with at least 500" in text
    for query, word in [
        ("min_points=7", "min_points"),
        ("order=vmag", "order"),
        ("ra=300&dec=40", "ra"),
        ("radius=45&ra=1&dec=1", "radius"),
        ("colour=g", "colour"),
    ]:
        answer = client.get(f"/api/v1/analysis/stars?{query}")
        assert answer.status_code == 400 and word in answer.get_json()["error"], query
