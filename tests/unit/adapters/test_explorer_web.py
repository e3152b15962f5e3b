"""The Data Explorer's Flask app (Flask's test client, the in-memory store, no emulator).

Every page and its JSON twin answer on the small network of real records and on every record
of the 2020 seed; every JSON answer validates against the OpenAPI document; unknown ids are
404, bad parameters 400; removing any field of a document never makes a page fail.
"""

from __future__ import annotations

import copy
import html
import importlib.util
import re
from urllib.parse import parse_qs, urlsplit

import flask
import pytest
from google.api_core import exceptions as google_errors

from panoptes_network.adapters.explorer_web import app as web
from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.explorer import openapi_document
from panoptes_network.pipeline.schema import IMAGES, OBSERVATIONS, UNITS
from tests.conftest import ROOT
from tests.unit.explorer.network import (
    SETTINGS,
    SOLVED_SEQUENCE,
    build_network,
    seed_records,
    seeded,
)
from tests.unit.explorer.openapi_check import response_errors, schema_errors
from tests.unit.fakes import MemoryDocuments

SOLVED_IMAGE = "PAN001_14d3bd_20180216T110653"


def make_client(documents) -> flask.testing.FlaskClient:
    return create_app(documents=documents, settings=SETTINGS).test_client()


@pytest.fixture
def client():
    documents = MemoryDocuments()
    build_network(documents)
    return make_client(documents)


def api_template(path: str) -> str:
    """The OpenAPI path of a concrete API path."""
    documented = openapi_document()["paths"]
    route = urlsplit(path).path
    for template in documented:
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, route):
            return template
    raise AssertionError(f"{route} is not in the OpenAPI document")


def get_api(client, path: str, status: int = 200):
    response = client.get(path)
    assert response.status_code == status, (path, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert response_errors(body, api_template(path), status) == [], path
    return body


def get_page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.get_data(as_text=True)[:300])
    assert response.mimetype == "text/html"
    # scripts only from the explorer itself, never inline, never evaluated
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe" not in policy
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    return text


def twin_of(page: str) -> str:
    route, _, query = page.partition("?")
    api = "/api/v1" + (route if route != "/" else "/home")
    return f"{api}?{query}" if query else api


def links(text: str) -> list[str]:
    """The targets of the page's anchors (``<a href>``, not ``<link>``)."""
    return [html.unescape(h) for h in re.findall(r'<a\s[^>]*href="([^"]+)"', text)]


# --- every page on the network of real records ------------------------------------------

PAGES = [
    ("/", ["PANOPTES Data Explorer", "PAN001_14d3bd_20180217T104500", "Exposure (hours)"]),
    ("/units", ["PAN001", "PAN012", "19.540"]),
    ("/units/PAN001", ["Unit PAN001", "PAN001_ee04d1_20180216T110623", "3,400 m"]),
    ("/observations", ["<h1>Observations</h1>", "PAN012_95cdbc_20191025T075751"]),
    ("/observations?unit=PAN001&order=num_images&direction=asc&limit=2", ["PAN001_"]),
    (f"/observations/{SOLVED_SEQUENCE}", [SOLVED_SEQUENCE, SOLVED_IMAGE, "cotrend"]),
    (f"/images/{SOLVED_IMAGE}", [SOLVED_IMAGE, "EXPTIME", "get-fits-header", "318"]),
]


@pytest.mark.parametrize(("page", "texts"), PAGES, ids=[p for p, _ in PAGES])
def test_every_page_and_its_twin(client, page, texts):
    text = get_page(client, page)
    for expected in texts:
        assert expected in text
    twin = twin_of(page)
    assert twin in links(text)  # a visible link to the JSON twin ...
    assert f'<link rel="alternate" type="application/json" href="{html.escape(twin)}">' in text
    get_api(client, twin)  # ... which answers, valid against the OpenAPI document


def test_openapi_document_is_served_and_covers_every_api_route(client):
    document = get_api(client, "/api/v1/openapi.json")
    assert document == openapi_document()
    app = create_app(documents=MemoryDocuments(), settings=SETTINGS)
    routes = {
        re.sub(r"<([^>]+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
    }
    assert routes == set(document["paths"])
    pages = {page.rule for page in web.PAGES}
    assert {
        re.sub(r"<([^>]+)>", r"{\1}", web.API_PREFIX + (p if p != "/" else "/home")) for p in pages
    } <= routes


def test_observation_page_links_to_frames_units_and_next_pages(client):
    text = get_page(client, "/observations?limit=2")
    hrefs = links(text)
    nexts = [h for h in hrefs if "cursor=" in h]
    assert len(nexts) == 1
    query = parse_qs(urlsplit(nexts[0]).query)
    assert query["limit"] == ["2"]
    second = get_page(client, nexts[0])
    first_rows = set(re.findall(r"/observations/(PAN\w+)", text))
    second_rows = set(re.findall(r"/observations/(PAN\w+)", second))
    assert len(first_rows) == len(second_rows) == 2 and first_rows.isdisjoint(second_rows)
    # the sortable headers keep the filters, drop the cursor and flip the direction
    sort = [h for h in links(second) if "order=time" in h]
    assert sort and all("cursor" not in h and "direction=asc" in h for h in sort)


def test_frames_are_paged_on_the_observation_page(client):
    def frames(text: str) -> set[str]:
        return set(re.findall(r"/images/(PAN001_14d3bd_20180216T\d+)", text))

    text = get_page(client, f"/observations/{SOLVED_SEQUENCE}?limit=2")
    assert len(frames(text)) == 2
    (nxt,) = [h for h in links(text) if "cursor=" in h]
    rest = get_page(client, nxt)
    assert frames(rest) == {"PAN001_14d3bd_20180216T111153"}
    assert frames(text).isdisjoint(frames(rest))
    body = get_api(client, twin_of(nxt))
    assert [f["image_id"] for f in body["frames"]] == ["PAN001_14d3bd_20180216T111153"]


# --- the real 2020 records --------------------------------------------------------------


@pytest.fixture(scope="module", params=[False, True], ids=["strings", "timestamps"])
def seed_client(request):
    records = seed_records()
    return make_client(seeded(records, timestamps=request.param)), records


def test_every_seed_record_renders(seed_client):
    client, records = seed_client
    paths = ["/", "/units", "/observations", "/observations?order=num_images"]
    paths += [f"/units/{u}" for u in records["units"]]
    paths += [f"/observations/{s}" for s in records["observations"]]
    paths += [f"/images/{i}" for i in records["images"]]
    for path in paths:
        text = get_page(client, path)
        get_api(client, twin_of(path))
        if path.startswith(("/units/", "/observations/", "/images/")):
            assert path.rsplit("/", 1)[1] in text


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/units/PAN999", "/observations/PAN001_14d3bd_20000101T000000", "/images/nope"],
)
def test_unknown_ids_are_404(client, path):
    body = get_api(client, twin_of(path), 404)
    assert path.rsplit("/", 1)[1] in body["error"]
    assert path.rsplit("/", 1)[1] in get_page(client, path, 404)


def test_unknown_paths_and_methods(client):
    missing = client.get("/api/v1/nothing")
    assert missing.status_code == 404 and missing.get_json() == {"error": "404 Not Found"}
    assert schema_errors(missing.get_json(), "Error") == []
    get_page(client, "/nothing", 404)
    response = client.post("/api/v1/observations")
    assert response.status_code == 405 and response.get_json()["error"]
    assert client.options("/api/v1/units").headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("since=yesterday", "since"),
        ("until=2020-13-01", "until"),
        ("min_images=-1", "min_images"),
        ("limit=-5", "limit"),
        ("limit=201", "limit"),
        ("order=exptime", "order"),
        ("direction=sideways", "direction"),
        ("unit=PAN001&unit=PAN012", "unit"),
        ("colour=g", "colour"),
        ("cursor=garbage", "cursor"),
        ("since=2020-02-01&until=2020-01-01", "until"),
    ],
)
def test_bad_parameters_are_400(client, query, parameter):
    body = get_api(client, f"/api/v1/observations?{query}", 400)
    assert body["error"].startswith(f"{parameter}: ")
    assert html.escape(f"{parameter}: ") in get_page(client, f"/observations?{query}", 400)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/home?latest=0",
        "/api/v1/units?limit=3",
        "/api/v1/units/PAN001?limit=500",
        f"/api/v1/observations/{SOLVED_SEQUENCE}?cursor=x",
        f"/api/v1/images/{SOLVED_IMAGE}?full=1",
    ],
)
def test_bad_parameters_of_other_pages_are_400(client, path):
    get_api(client, path, 400)


def test_a_crash_is_one_line_never_a_stack_trace(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret detail of the crash")

    monkeypatch.setattr(web, "units", broken)
    body = get_api(client, "/api/v1/units", 500)
    assert body == {"error": "500 Internal Server Error; see the service log"}
    text = get_page(client, "/units", 500)
    assert "secret" not in text


def test_firestore_unavailable_is_503(client, monkeypatch):
    def unavailable(*args, **kwargs):
        raise google_errors.ServiceUnavailable("down")

    monkeypatch.setattr(web, "home", unavailable)
    assert "try again" in get_api(client, "/api/v1/home", 503)["error"]


def test_stored_urls_become_links_only_when_they_are_web_urls():
    documents = MemoryDocuments()
    build_network(documents)
    documents.merge(IMAGES, SOLVED_IMAGE, {"public_url": "javascript:alert(1)"})
    client = make_client(documents)
    for path in (f"/images/{SOLVED_IMAGE}", f"/observations/{SOLVED_SEQUENCE}"):
        assert "javascript:" not in " ".join(links(get_page(client, path)))


def test_stylesheet_is_served(client):
    response = client.get("/static/explorer.css")
    assert response.status_code == 200 and response.mimetype == "text/css"


# --- no page fails on a record that lacks a field ---------------------------------------


def _network() -> MemoryDocuments:
    """A fresh copy of the network (built once: recording frames is the slow part)."""
    if not _NETWORK.docs:
        build_network(_NETWORK)
    documents = MemoryDocuments()
    documents.docs = copy.deepcopy(_NETWORK.docs)
    documents.versions = dict(_NETWORK.versions)
    return documents


_NETWORK = MemoryDocuments()


def _fields(collection: str, doc_id: str) -> list[str]:
    return sorted(_network().get(collection, doc_id))


DROPS = (
    [(OBSERVATIONS, SOLVED_SEQUENCE, f) for f in _fields(OBSERVATIONS, SOLVED_SEQUENCE)]
    + [(IMAGES, SOLVED_IMAGE, f) for f in _fields(IMAGES, SOLVED_IMAGE)]
    + [(UNITS, "PAN001", f) for f in _fields(UNITS, "PAN001")]
)
VISITS = [
    "/",
    "/units",
    "/units/PAN001",
    "/observations",
    "/observations?order=num_images",
    "/observations?unit=PAN001&min_images=1",
    f"/observations/{SOLVED_SEQUENCE}",
    f"/images/{SOLVED_IMAGE}",
]


@pytest.mark.parametrize("damage", ["missing", "wrong type"])
@pytest.mark.parametrize(
    ("collection", "doc_id", "field"), DROPS, ids=[f"{c}.{f}" for c, _, f in DROPS]
)
def test_no_page_fails_when_a_field_is_missing_or_odd(collection, doc_id, field, damage):
    documents = _network()
    doc = documents.get(collection, doc_id)
    assert field in doc  # the setup removes a field that is there
    if damage == "missing":
        del doc[field]
    else:
        doc[field] = {"unexpected": ["shape"]}
    documents.docs[(collection, doc_id)] = doc
    client = make_client(documents)
    for path in VISITS:
        text = get_page(client, path)
        get_api(client, twin_of(path))
        if path.startswith(("/units/", "/observations/", "/images/")):
            assert path.rsplit("/", 1)[1] in text


# --- the service's entry point ----------------------------------------------------------


def test_main_makes_the_app_without_touching_firestore(monkeypatch):
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    made = []
    monkeypatch.setattr(
        "panoptes_network.adapters.explorer_web.documents.firestore_documents",
        lambda settings: made.append(settings) or MemoryDocuments(),
    )
    path = ROOT / "services" / "data-explorer" / "main.py"
    spec = importlib.util.spec_from_file_location("data_explorer_main", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.app, flask.Flask) and not made
    client = module.app.test_client()
    assert client.get("/static/explorer.css").status_code == 200 and not made
    assert client.get("/api/v1/units").get_json() == {"units": [], "count": 0, "truncated": False}
    assert len(made) == 1
    client.get("/api/v1/units")
    assert len(made) == 1  # one store per process


# --- frame previews ---------------------------------------------------------------------

PREVIEW_URL = "https://storage.googleapis.com/panoptes-images-preview/x.jpg"


def images_of(text: str) -> list[dict[str, str]]:
    """The attributes of every frame preview ``<img>`` of a page (not the explorer's plots)."""
    found = [
        {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}
        for tag in re.findall(r"<img\s[^>]*>", text)
    ]
    return [attrs for attrs in found if not attrs.get("src", "").startswith("/api/")]


def test_the_observation_page_shows_each_frame_as_a_thumbnail_or_a_placeholder(client):
    body = get_api(client, f"/api/v1/observations/{SOLVED_SEQUENCE}")
    frames = body["frames"]
    with_preview = [f for f in frames if f["preview_url"]]
    assert [f["image_id"] for f in with_preview] == [SOLVED_IMAGE] and len(frames) == 3
    text = get_page(client, f"/observations/{SOLVED_SEQUENCE}")
    (thumb,) = images_of(text)
    assert thumb["src"] == PREVIEW_URL and thumb["loading"] == "lazy"
    assert (thumb["width"], thumb["height"]) == ("240", "160")  # fixed: the page never jumps
    assert thumb["alt"] == f"Preview of {SOLVED_IMAGE}"
    assert text.count('class="no-preview"') == len(frames) - 1
    for frame in frames:  # each frame still links to its page, with status and position
        assert f"/images/{frame['image_id']}" in links(text)
    assert "RA 40.6200°, Dec 37.4100°" in text and "measured" in text


def test_the_image_page_shows_the_preview_and_what_it_was_made_from(client):
    text = get_page(client, f"/images/{SOLVED_IMAGE}")
    (preview,) = images_of(text)
    assert preview["src"] == PREVIEW_URL and PREVIEW_URL in links(text)
    assert "rendered from the FITS frame" in text
    assert get_api(client, f"/api/v1/images/{SOLVED_IMAGE}")["preview"]["source"] == "fits"


def test_an_image_without_a_preview_shows_a_placeholder_and_why():
    documents = MemoryDocuments()
    ids = build_network(documents)
    other = next(i for i in ids["images"] if i != ids["solved"])
    client = make_client(documents)
    text = get_page(client, f"/images/{other}")
    assert images_of(text) == [] and 'class="no-preview"' in text and "No preview yet" in text
    documents.merge(IMAGES, other, {"preview_error_reason": "the frame holds no image data"})
    text = get_page(client, f"/images/{other}")
    assert images_of(text) == [] and "No preview could be made: the frame holds no image" in text


def test_a_preview_url_that_is_not_a_web_url_is_never_loaded_or_linked():
    documents = MemoryDocuments()
    build_network(documents)
    documents.merge(IMAGES, SOLVED_IMAGE, {"preview_url": "javascript:alert(1)"})
    client = make_client(documents)
    for path in (f"/images/{SOLVED_IMAGE}", f"/observations/{SOLVED_SEQUENCE}"):
        text = get_page(client, path)
        assert images_of(text) == [] and 'class="no-preview"' in text
        assert "javascript:" not in " ".join(links(text))
