"""The analysis pages through the Flask app (Flask's test client, the in-memory store).

Candidates, a candidate and the Analysis page, each with its JSON twin (validated against the
OpenAPI document) and its PNGs; the star page's detections and stitching; the nav links; an
unknown detection 404 and a malformed one 400 naming it, on the page, the twin and the PNG.
"""

from __future__ import annotations

import html
import io

import pytest
from PIL import Image

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.adapters.explorer_web.analysis_files import SummaryCache
from panoptes_network.pipeline.schema import STARS
from tests.unit.adapters.test_explorer_web import get_api, get_page, links, twin_of
from tests.unit.explorer.analysis_records import (
    ANALYSIS_HASH,
    TRANSIT_ID,
    build_analysis_runs,
    build_detections,
    stitching,
)
from tests.unit.explorer.network import SETTINGS
from tests.unit.explorer.star_records import PICID, build_star
from tests.unit.fakes import CountingDocuments, MemoryDocuments, MemoryStore

UNKNOWN_ID = f"{ANALYSIS_HASH}_{PICID}_flare_1234567890"


@pytest.fixture
def seeded():
    documents, store = CountingDocuments(), MemoryStore()
    build_star(documents, store)
    ids = build_detections(documents)
    build_analysis_runs(documents)
    documents.merge(STARS, str(PICID), {"analysis": "default", "n_units": 3})
    documents.merge(STARS, str(PICID), {"stitching": stitching(degenerate=True)})
    client = create_app(documents=documents, settings=SETTINGS, objects=store).test_client()
    return client, documents, ids


@pytest.fixture
def empty():
    return create_app(documents=MemoryDocuments(), settings=SETTINGS).test_client()


def _png(client, path: str) -> tuple[int, int]:
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.get_data(as_text=True)[:300])
    assert answer.mimetype == "image/png"
    return Image.open(io.BytesIO(answer.data)).size


@pytest.mark.parametrize(
    "page",
    [
        "/analysis/candidates",
        "/analysis/candidates?kind=flare&injected=true&limit=2",
        f"/analysis/candidates?picid={PICID}",
        f"/analysis/candidates/{TRANSIT_ID}",
        "/analysis",
    ],
)
def test_each_analysis_page_links_to_its_documented_twin(seeded, page):
    client, _, _ = seeded
    text = get_page(client, page)
    twin = twin_of(page)
    assert twin in links(text)
    assert f'<link rel="alternate" type="application/json" href="{html.escape(twin)}">' in text
    get_api(client, twin)


def test_every_page_has_the_candidates_and_analysis_links_beside_stars(seeded):
    client, _, _ = seeded
    for page in ("/", "/analysis/stars", f"/stars/{PICID}", "/analysis"):
        text = get_page(client, page)
        stars = text.index('href="/analysis/stars">Stars</a>')
        assert stars < text.index('href="/analysis/candidates">Candidates</a>')
        assert text.index('href="/analysis/candidates">Candidates</a>') < text.index(
            'href="/analysis">Analysis</a>'
        )


def test_the_candidates_page_lists_real_detections_and_links_each(seeded):
    client, _, ids = seeded
    text = get_page(client, "/analysis/candidates")
    hrefs = links(text)
    for detection_id in ids["real"]:
        assert f"/analysis/candidates/{detection_id}" in hrefs
    for detection_id in ids["injected"] + ids["old"]:
        assert detection_id not in text
    assert 'class="injected"' not in text and "Injected events, not real ones" not in text
    assert [text.index(i) for i in ids["real"]] == sorted(text.index(i) for i in ids["real"])
    body = get_api(client, "/api/v1/analysis/candidates")
    assert [r["detection_id"] for r in body["candidates"]] == ids["real"]


def test_injected_candidates_are_shown_only_when_asked_and_marked(seeded):
    client, _, ids = seeded
    text = get_page(client, "/analysis/candidates?injected=true")
    assert "Injected events, not real ones" in text
    assert text.count('<tr class="injected">') == len(ids["injected"])
    assert text.count('<span class="badge injected"') == len(ids["injected"])
    assert "truth" in text
    for detection_id in ids["real"]:
        assert detection_id not in text
    body = get_api(client, "/api/v1/analysis/candidates?injected=true")
    assert [r["detection_id"] for r in body["candidates"]] == ids["injected"]


def test_candidates_page_by_cursor_to_the_end(seeded):
    client, _, ids = seeded
    seen, path = [], "/api/v1/analysis/candidates?limit=2"
    while path:
        body = get_api(client, path)
        seen += [r["detection_id"] for r in body["candidates"]]
        path = (
            f"/api/v1/analysis/candidates?limit=2&cursor={body['next_cursor']}"
            if body["next_cursor"]
            else None
        )
    assert seen == ids["real"]
    text = get_page(client, "/analysis/candidates?limit=2")
    nexts = [h for h in links(text) if "cursor=" in h]
    assert len(nexts) == 1 and "limit=2" in nexts[0]
    assert ids["real"][2] in get_page(client, nexts[0])


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("kind=planet", "kind"),
        ("injected=maybe", "injected"),
        ("limit=500", "limit"),
        ("cursor=xyz", "cursor"),
        (f"picid={PICID}&kind=flare", "kind"),
        ("order=snr", "order"),
    ],
)
def test_bad_candidate_queries_answer_400_naming_the_parameter(seeded, query, word):
    client, _, _ = seeded
    body = get_api(client, f"/api/v1/analysis/candidates?{query}", 400)
    assert body["error"].startswith(word)
    assert word in get_page(client, f"/analysis/candidates?{query}", 400)


def test_a_candidate_page_shows_its_fields_plot_and_frames(seeded):
    client, _, ids = seeded
    text = get_page(client, f"/analysis/candidates/{TRANSIT_ID}")
    hrefs = links(text)
    assert f"/stars/{PICID}" in hrefs
    for image_id in ids["frames"]:
        assert f"/images/{image_id}" in hrefs
    assert f'src="/api/v1/analysis/candidates/{TRANSIT_ID}/lightcurve.png"' in text
    assert text.count('<img src="https://storage.example.org/previews/') == 2
    assert text.count("No preview</span>") == len(ids["frames"]) - 2
    assert "could not be read" in text  # the entry naming a missing file
    body = get_api(client, f"/api/v1/analysis/candidates/{TRANSIT_ID}")
    assert body["detection_id"] == TRANSIT_ID and body["segments"][0]["points"]["flux"]
    assert _png(client, f"/api/v1/analysis/candidates/{TRANSIT_ID}/lightcurve.png") == (1000, 420)


def test_an_injected_candidate_page_says_so(seeded):
    client, _, ids = seeded
    text = get_page(client, f"/analysis/candidates/{ids['injected'][0]}")
    assert "An injected event, not a real one" in text and 'class="badge injected"' in text


def test_an_unknown_candidate_is_404_and_a_malformed_one_400_naming_it(seeded):
    client, _, _ = seeded
    for path in (f"/api/v1/analysis/candidates/{UNKNOWN_ID}",):
        assert "no detection" in get_api(client, path, 404)["error"]
    assert client.get(f"/api/v1/analysis/candidates/{UNKNOWN_ID}/lightcurve.png").status_code == 404
    assert "no detection" in get_page(client, f"/analysis/candidates/{UNKNOWN_ID}", 404)
    for bad in ("nope", f"{ANALYSIS_HASH}_{PICID}_box_1"):
        body = get_api(client, f"/api/v1/analysis/candidates/{bad}", 400)
        assert body["error"].startswith("detection_id:") and repr(bad) in body["error"]
        png = client.get(f"/api/v1/analysis/candidates/{bad}/lightcurve.png")
        assert png.status_code == 400 and png.get_json()["error"].startswith("detection_id")
        assert "detection_id" in get_page(client, f"/analysis/candidates/{bad}", 400)
    get_api(client, f"/api/v1/analysis/candidates/{TRANSIT_ID}?x=1", 400)


def test_the_analysis_page_shows_totals_tables_plots_and_what_each_histogram_means(seeded):
    client, _, _ = seeded
    text = get_page(client, "/analysis")
    body = get_api(client, "/api/v1/analysis")
    assert body["empty"] is False and body["runs"] == 3
    assert f"<dd>{body['points']:,}</dd>" in text
    for png in ("completeness.png", "depth-duration.png", "coverage.png"):
        assert f'src="/api/v1/analysis/{png}"' in text
    assert _png(client, "/api/v1/analysis/completeness.png") == (750, 420)
    assert _png(client, "/api/v1/analysis/depth-duration.png") == (750, 460)
    assert _png(client, "/api/v1/analysis/coverage.png") == (1200, 560)
    for words in ("<strong>Quality</strong>", "<strong>Airmass</strong>", "<strong>Moon</strong>",
                  "<strong>Unit</strong>", "dashed line", "≥ 30", "120–180°"):  # fmt: skip
        assert words in text, words
    assert get_api(client, "/api/v1/analysis?x=1", 400)["error"].startswith("x")


def test_nothing_analysed_is_a_friendly_page_not_an_error(empty):
    text = get_page(empty, "/analysis")
    assert "Nothing analysed yet" in text and "<img" not in text
    assert get_api(empty, "/api/v1/analysis")["empty"] is True
    for png in ("completeness.png", "depth-duration.png", "coverage.png"):
        assert _png(empty, f"/api/v1/analysis/{png}")[0] > 500
    assert "No detections in this analysis yet" in get_page(empty, "/analysis/candidates")


def test_the_star_page_shows_its_detections_and_the_degenerate_stitching(seeded):
    client, _, ids = seeded
    text = get_page(client, f"/stars/{PICID}")
    hrefs = links(text)
    assert f"/analysis/candidates/{TRANSIT_ID}" in hrefs
    assert f"/images/{ids['frames'][0]}" in hrefs  # the frames of a detection, on the star page
    assert f"/analysis/candidates?picid={PICID}" in hrefs
    for detection_id in ids["injected"]:
        assert detection_id not in text
    assert "Stitching is degenerate" in text and "PAN006 never overlaps" in text
    assert "(reference)" in text and "0.0132 ± 0.0021" in text
    body = get_api(client, f"/api/v1/stars/{PICID}")
    assert body["analysis"]["stitching"]["reference_unit"] == "PAN001"
    assert TRANSIT_ID in [d["detection_id"] for d in body["detections"]]


def test_a_sound_stitching_shows_no_warning(seeded):
    client, documents, _ = seeded
    documents.merge(STARS, str(PICID), {"stitching": stitching(degenerate=False)})
    text = get_page(client, f"/stars/{PICID}")
    assert "Units on one scale" in text and "Stitching is degenerate" not in text


def test_one_visit_reads_the_run_documents_once():
    documents = CountingDocuments()
    build_analysis_runs(documents)
    now = [1000.0]
    cache = SummaryCache(lambda: documents, ANALYSIS_HASH, clock=lambda: now[0])
    documents.reads = 0
    first = cache.get()
    read = documents.reads
    assert read == 6 and cache.get() is first and documents.reads == read
    now[0] += SummaryCache.SECONDS
    assert cache.get() is not first and documents.reads == 2 * read
