"""The star page, its JSON twin and its files through the Flask app (Flask's test client).

The JSON answers validate against the OpenAPI document; the CSV and Parquet downloads hold
the same rows as the read model; the page embeds its data for the plots and loads plotly.js
from the explorer itself (never a CDN); an unknown star is 404 on every route.
"""

from __future__ import annotations

import html
import io
import json
import re

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from PIL import Image

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.explorer.stars import POINT_COLUMNS
from tests.unit.explorer.network import SETTINGS
from tests.unit.explorer.openapi_check import response_errors
from tests.unit.explorer.star_records import PICID, RUNS, build_star
from tests.unit.fakes import MemoryDocuments, MemoryStore


@pytest.fixture
def built():
    documents, store = MemoryDocuments(), MemoryStore()
    records = build_star(documents, store)
    client = create_app(documents=documents, settings=SETTINGS, objects=store).test_client()
    return client, records


def test_the_star_api_answers_the_documented_star(built):
    client, _ = built
    answer = client.get(f"/api/v1/stars/{PICID}")
    assert answer.status_code == 200
    body = answer.get_json()
    assert response_errors(body, "/api/v1/stars/{picid}", 200) == []
    assert body["num_lightcurves"] == len(RUNS)
    assert all(lc["points"] is not None for lc in body["lightcurves"])


def test_the_star_page_embeds_its_data_and_loads_plotly_from_the_explorer(built):
    client, records = built
    page = client.get(f"/stars/{PICID}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    embedded = re.search(
        r'<script type="application/json" id="star-data">(.*?)</script>', text, re.S
    )
    assert embedded is not None
    assert json.loads(html.unescape(embedded.group(1)))["picid"] == PICID
    assert client.get(f"/api/v1/stars/{PICID}").get_json() == json.loads(embedded.group(1))
    scripts = re.findall(r'<script src="([^"]+)"', text)
    assert scripts == ["/static/plotly.min.js", "/static/star.js"]
    for lcid in records["lcids"]:
        assert f"/api/v1/lightcurves/{lcid}.png" in text
    for colour in ("r", "g", "b"):
        assert f'id="plot-{colour}"' in text
    assert "satellite trail" in text  # the flag is shown
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp


def test_plotly_is_served_by_the_explorer(built):
    client, _ = built
    script = client.get("/static/plotly.min.js")
    assert script.status_code == 200
    assert script.mimetype == "text/javascript"
    assert b"plotly" in script.data[:2000].lower() and len(script.data) > 1_000_000
    assert "max-age" in script.headers["Cache-Control"]
    assert client.get("/static/star.js").status_code == 200


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_the_downloads_hold_every_point_with_run_and_unit(built, kind):
    client, _ = built
    answer = client.get(f"/api/v1/stars/{PICID}/points.{kind}")
    assert answer.status_code == 200
    assert f'filename="picid_{PICID}_points.{kind}"' in answer.headers["Content-Disposition"]
    if kind == "csv":
        table = pa_csv.read_csv(io.BytesIO(answer.data))
    else:
        table = pq.read_table(io.BytesIO(answer.data))
    assert table.column_names[: len(POINT_COLUMNS)] == list(POINT_COLUMNS)
    assert table.num_rows == sum(run[3] for run in RUNS)
    assert set(table.column("unit_id").to_pylist()) == {run[0] for run in RUNS}
    assert None not in table.column("run_id").to_pylist()
    assert sum(table.column("flagged").to_pylist()) == 2


def test_a_light_curve_png(built):
    client, records = built
    answer = client.get(f"/api/v1/lightcurves/{records['lcids'][0]}.png")
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    assert Image.open(io.BytesIO(answer.data)).size[0] == 1000


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/stars/12345",
        "/api/v1/stars/abc",
        "/api/v1/stars/12345/points.csv",
        "/api/v1/stars/12345/points.parquet",
        "/api/v1/lightcurves/12345_nope.png",
    ],
)
def test_an_unknown_star_or_light_curve_is_404_json(built, path):
    client, _ = built
    answer = client.get(path)
    assert answer.status_code == 404
    assert "error" in answer.get_json()


def test_an_unknown_star_page_is_404_html(built):
    client, _ = built
    page = client.get("/stars/12345")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert client.get(f"/stars/{PICID}?limit=3").status_code == 400


def test_the_header_form_finds_a_star(built):
    client, _ = built
    found = client.get(f"/stars?picid={PICID}")
    assert found.status_code == 303 and found.headers["Location"].endswith(f"/stars/{PICID}")
    assert client.get("/stars?picid=abc").status_code == 400
    assert client.get("/stars").status_code == 400
    assert 'action="/stars"' in client.get(f"/stars/{PICID}").get_data(as_text=True)


def test_a_run_precision_plot_is_on_the_observation_page():
    from tests.unit.explorer.network import RUN_ID, SOLVED_SEQUENCE, build_network

    documents = MemoryDocuments()
    build_network(documents)
    client = create_app(documents=documents, settings=SETTINGS).test_client()
    page = client.get(f"/observations/{SOLVED_SEQUENCE}").get_data(as_text=True)
    assert f"/api/v1/runs/{RUN_ID}/precision.png" in page
    png = client.get(f"/api/v1/runs/{RUN_ID}/precision.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert Image.open(io.BytesIO(png.data)).size == (700, 420)
    assert client.get("/api/v1/runs/nope/precision.png").status_code == 404
    documents.merge("processed_observations", "bare", {"sequence_id": SOLVED_SEQUENCE})
    bare = client.get("/api/v1/runs/bare/precision.png")
    assert bare.status_code == 404 and "no precision" in bare.get_json()["error"]
