"""The observations page's sky search through the Flask app (test client, in-memory store).

The JSON answers validate against the OpenAPI document; the page shows the search's fields
filled in, the distance column and what the name was resolved to; a bad search is a 400
naming the parameter.
"""

from __future__ import annotations

import html
import re

import pytest

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.frames.sky_index import SkySource, sky_fields
from panoptes_network.pipeline.key_index import move_id
from panoptes_network.pipeline.schema import OBSERVATIONS, SKY_CELLS
from tests.unit.explorer.network import SETTINGS, SOLVED_SEQUENCE, build_network
from tests.unit.explorer.openapi_check import response_errors
from tests.unit.fakes import MemoryDocuments

PATH = "/api/v1/observations"


@pytest.fixture
def client():
    documents = MemoryDocuments()
    build_network(documents)
    mount = documents.get(OBSERVATIONS, SOLVED_SEQUENCE)["sky_cells"]
    solved = sky_fields(40.62, 37.41, SkySource.SOLVED)
    documents.merge(OBSERVATIONS, SOLVED_SEQUENCE, solved)  # as plate-solve writes it
    documents.commit(move_id(SKY_CELLS, SOLVED_SEQUENCE, mount, solved["sky_cells"]))
    return create_app(documents=documents, settings=SETTINGS).test_client()


def test_a_name_search_as_json(client):
    response = client.get(f"{PATH}?name=WASP-33&radius=1.5&unit=PAN001")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert response_errors(body, PATH, 200) == []
    assert body["cone"]["resolved_as"]["name"] == "WASP-33" and body["cone"]["radius"] == 1.5
    assert {o["unit_id"] for o in body["observations"]} == {"PAN001"}
    assert body["count"] == 3 and all(o["distance_deg"] < 4 for o in body["observations"])
    assert set(body["after_read"]) == {"cone", "unit"}


def test_a_cone_by_coordinates_as_json(client):
    body = client.get(f"{PATH}?ra=40.5&dec=37.5&radius=0").get_json()
    assert response_errors(body, PATH, 200) == []
    assert body["count"] == 4 and body["filters"]["ra"] == 40.5
    far = client.get(f"{PATH}?ra=220.5&dec=-37.5&radius=10").get_json()
    assert far["count"] == 0 and far["documents_read"] == far["cone"]["cells"]  # the cells only


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("name=Planet%20Nine", "name: no target named 'Planet Nine'"),
        ("ra=10", "dec: is needed with ra"),
        ("ra=10&dec=10&radius=11", "radius: must be a decimal number of degrees from 0 to 10"),
        ("name=Vega&ra=1&dec=2", "name: give a name, or ra and dec, not both"),
        ("radius=3", "radius: needs a centre"),
    ],
)
def test_bad_searches_are_400_naming_the_parameter(client, query, words):
    response = client.get(f"{PATH}?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert response_errors(body, PATH, 400) == []
    assert body["error"].startswith(words), body
    page = client.get(f"/observations?{query}")
    assert page.status_code == 400 and words.split(":")[0] in page.get_data(as_text=True)


def test_the_page_shows_the_search(client):
    response = client.get("/observations?name=WASP-33&ra=&dec=&radius=")
    assert response.status_code == 200
    text = html.unescape(response.get_data(as_text=True))
    assert re.search(r'<input name="name" value="WASP-33"', text)
    assert re.search(r'<input name="radius"[^>]*value="2\.0"', text)
    assert "Distance (°)" in text and "within 2.00° of\nWASP-33" in text
    # the table has the distance column: one more cell than the headings without it
    rows = re.findall(r"<tr>\s*<td><a href=\"/observations/[^\"]+\">.*?</tr>", text, re.S)
    assert len(rows) == 4 and all(row.count("<td") == 9 for row in rows)
    plain = html.unescape(client.get("/observations").get_data(as_text=True))
    assert "Distance (°)" not in plain and '<input name="name" value=""' in plain
