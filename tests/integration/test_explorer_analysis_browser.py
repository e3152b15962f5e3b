"""The analysis pages in a real headless Chromium: Candidates, a candidate, Analysis, a star.

The real explorer app (the Flask app gunicorn serves) runs in a thread on the in-memory
document and object stores, seeded with a realistic analysed archive
(:mod:`tests.integration.analysis_showcase`); the frames' previews come from a file server.
Chromium loads each page with the policy the explorer sends (no inline script or style),
follows the links a person would, and every page, plot and thumbnail must load without a
console error. Each page is saved under ``.dev/screenshots/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from panoptes_network.adapters.explorer_web import create_app
from tests.integration.analysis_showcase import build_showcase, preview_jpeg
from tests.integration.browser import browser_page, screenshot
from tests.unit.client.servers import FileServer, serve_wsgi
from tests.unit.explorer.network import SETTINGS
from tests.unit.fakes import MemoryDocuments, MemoryStore

pytestmark = pytest.mark.integration


@dataclass
class Site:
    url: str
    empty_url: str
    ids: dict[str, Any]
    previews: FileServer


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    documents, store = MemoryDocuments(), MemoryStore()
    with FileServer() as previews:

        def preview_url(image_id: str) -> str:
            path = f"/previews/{image_id}.jpg"
            previews.files[path] = preview_jpeg(sum(map(ord, image_id)))
            return previews.url(path)

        ids = build_showcase(documents, store, SETTINGS, preview_url)
        app = create_app(documents=documents, settings=SETTINGS, objects=store)
        empty = create_app(documents=MemoryDocuments(), settings=SETTINGS)
        with serve_wsgi(app) as url, serve_wsgi(empty) as empty_url:
            yield Site(url, empty_url, ids, previews)


def _watch(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    return errors


def _images_loaded(page: Any, selector: str) -> int:
    """How many of the matching images loaded (their natural width is known)."""
    return page.eval_on_selector_all(
        selector, "images => images.filter(i => i.complete && i.naturalWidth > 0).length"
    )


def test_candidates_page_and_a_candidate_in_chromium(site: Site):
    with browser_page(width=1400, height=900) as page:
        errors = _watch(page)
        answer = page.goto(site.url + "/")
        assert answer is not None and answer.status == 200
        page.click("header nav >> text=Candidates")
        page.wait_for_url("**/analysis/candidates")
        rows = page.locator("table.detections tbody tr")
        assert rows.count() == 21 and page.locator("tr.injected").count() == 0
        significances = [float(t) for t in rows.locator("td:nth-child(1)").all_inner_texts()]
        assert significances == sorted(significances, reverse=True)
        screenshot(page, "analysis-candidates")
        # only flares, through the form
        page.select_option("form.search select[name=kind]", "flare")
        page.click("form.search button")
        page.wait_for_url("**kind=flare**")
        kinds = page.locator("table.detections tbody td:nth-child(5)").all_inner_texts()
        assert kinds and all(k.startswith("flare") for k in kinds)
        # the injected events, marked
        page.goto(site.url + "/analysis/candidates?injected=true")
        assert page.locator("p.banner.injected").is_visible()
        assert page.locator("tr.injected").count() == len(site.ids["injected"])
        assert page.locator("span.badge.injected").count() == len(site.ids["injected"])
        screenshot(page, "analysis-candidates-injected")
        # the transit, from the list
        page.goto(site.url + "/analysis/candidates")
        page.click(f"a[href='/analysis/candidates/{site.ids['transit']}']")
        page.wait_for_url(f"**/analysis/candidates/{site.ids['transit']}")
        page.wait_for_load_state("networkidle")
        assert "Transit candidate of PICID" in page.inner_text("h1")
        assert _images_loaded(page, "figure.plot-png img") == 1
        thumbs = page.locator("ul.frames li.frame")
        assert thumbs.count() == len(site.ids["frames"])
        with_preview = page.locator("ul.frames img").count()
        assert 0 < with_preview < thumbs.count()  # some frames have no preview yet
        for thumbnail in page.locator("ul.frames img").all():  # lazy: load each, as a reader
            thumbnail.scroll_into_view_if_needed()
        page.wait_for_load_state("networkidle")
        assert _images_loaded(page, "ul.frames img") == with_preview
        screenshot(page, "analysis-candidate")
        # a frame's thumbnail leads to its image page (the stores hold no image of it: 200 or
        # the explorer's own page, never a broken link)
        first = page.locator("ul.frames a.frame-id").first
        href = first.get_attribute("href")
        assert href == f"/images/{site.ids['frames'][0]}"
    assert errors == [], errors


def test_the_analysis_page_and_the_stars_detections_in_chromium(site: Site):
    with browser_page(width=1400, height=900) as page:
        errors = _watch(page)
        page.goto(site.url + "/")
        page.click("header nav >> text=Analysis")
        page.wait_for_url("**/analysis")
        page.wait_for_load_state("networkidle")
        assert _images_loaded(page, "figure.plot-png img") == 3
        totals = page.locator("dl.totals dd").all_inner_texts()
        assert totals[0].startswith("36")
        assert page.locator("table.completeness tbody tr").count() == 7  # the SNR bins
        assert page.locator("table.histogram").count() == 4
        screenshot(page, "analysis")
        # the star with the transit: its detections and its stitching
        star = site.ids["star"]
        page.goto(f"{site.url}/stars/{star}")
        page.wait_for_selector("#plot-g .main-svg")
        assert page.locator("p.banner.warning").is_visible()
        assert "PAN006 never overlaps" in page.inner_text("p.banner.warning")
        detections = page.locator("#detections + p + .table-scroll table.detections tbody tr")
        assert detections.count() == 3
        page.locator("#detections").scroll_into_view_if_needed()
        screenshot(page, "analysis-star-detections")
        page.click(f"table.detections a[href='/analysis/candidates/{site.ids['transit']}']")
        page.wait_for_url(f"**/analysis/candidates/{site.ids['transit']}")
    assert errors == [], errors


def test_nothing_analysed_yet_in_chromium(site: Site):
    with browser_page() as page:
        errors = _watch(page)
        answer = page.goto(site.empty_url + "/analysis")
        assert answer is not None and answer.status == 200
        assert "Nothing analysed yet" in page.inner_text("main")
        screenshot(page, "analysis-empty")
        page.goto(site.empty_url + "/analysis/candidates")
        assert "No detections in this analysis yet" in page.inner_text("main")
    assert errors == [], errors
