"""lookup-field over HTTP on the local stack, against the same lookup run in process.

The service reads the default local catalog (``PANOPTES_CATALOG`` or the Tycho-2 file built
by ``bin/setup``); the tests skip when this machine has none.
"""

from __future__ import annotations

import pytest
import requests

from panoptes_network.catalog.field_lookup import lookup_field
from panoptes_network.catalog.local_file import default_catalog_path, open_catalog
from panoptes_network.catalog.target_names import bundled_target_names

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def url(stack) -> str:
    if not default_catalog_path().is_file():
        pytest.skip(f"no local catalog at {default_catalog_path()}: the service answers 503")
    return stack.url("lookup-field")


@pytest.fixture(scope="module")
def in_process():
    with open_catalog() as catalog:
        names = bundled_target_names()
        yield lambda request: lookup_field(request, catalog, names)


def test_get_a_name_matches_the_in_process_answer(url, in_process):
    response = requests.get(
        url, params={"search_string": "HD 189733", "radius_deg": "0.5"}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["resolved_as"]["name"] == "HD 189733"
    assert body == in_process({"search_string": "HD 189733", "radius_deg": 0.5})[1]
    assert body["count"] > 5 and not body["truncated"]


def test_post_coordinates_then_a_picid_from_that_answer(url, in_process):
    request = {"search_string": "20:06:15.45 +44:27:24.8", "radius_deg": 0.3, "vmag_max": 11}
    response = requests.post(url, json=request, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["resolved_as"] == {"type": "coordinates", "form": "sexagesimal"}
    assert (body["ra"], body["dec"]) == pytest.approx((301.564375, 44.4568889), abs=1e-6)
    assert body == in_process(request)[1]
    star = body["sources"][0]  # the brightest star of the field
    again = requests.post(url, json={"search_string": f"PICID {star['picid']}"}, timeout=30)
    assert again.status_code == 200
    answer = again.json()
    assert answer["resolved_as"]["picid"] == star["picid"]
    assert (answer["ra"], answer["dec"]) == (star["ra"], star["dec"])
    assert star in answer["sources"]
    bare = requests.get(url, params={"search_string": str(star["picid"])}, timeout=30)
    assert bare.status_code == 200
    assert bare.json() == {**answer, "search_string": str(star["picid"])}


def test_names_in_any_spelling(url):
    for text in ("m 42", "Messier 42", "wasp-33", "alpha Ori", "Tabby's Star"):
        response = requests.get(url, params={"search_string": text}, timeout=30)
        assert response.status_code == 200, text
        assert response.json()["resolved_as"]["type"] == "name"


@pytest.mark.parametrize(
    ("method", "kwargs", "status", "words"),
    [
        ("GET", {"params": {"search_string": "Unobtainium Prime"}}, 404, "no target named"),
        ("GET", {"params": {"search_string": "PICID 5"}}, 404, "no star with PICID 5"),
        ("GET", {"params": {"search_string": "400 10"}}, 400, "below 360"),
        ("GET", {"params": {"search_string": "M 42", "radius_deg": "20"}}, 400, "radius_deg"),
        (
            "GET",
            {"params": {"search_string": "M42", "vmag_min": "12", "vmag_max": "8"}},
            400,
            "above",
        ),
        ("GET", {}, 400, "search_string is required"),
        ("POST", {"data": b"{nope"}, 400, "not JSON"),
        ("POST", {"json": {"search_string": "M 42", "radius": 1}}, 400, "unknown field"),
        ("POST", {"json": {"search_string": "x" * 10_000}}, 413, "over"),
        ("PUT", {"json": {"search_string": "M 42"}}, 405, "use GET"),
        ("DELETE", {}, 405, "use GET"),
    ],
)
def test_errors_are_json_with_cors(url, method, kwargs, status, words):
    response = requests.request(method, url, timeout=30, **kwargs)
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Content-Type"].startswith("application/json")
    assert words in response.json()["error"]


def test_preflight(url):
    response = requests.options(
        url,
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
