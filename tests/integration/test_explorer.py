"""The Data Explorer on the local stack: gunicorn, the Firestore emulator, a real Chromium.

A unit of its own (a random ``PAN9xx``) is recorded through the real record path
(``record_frame`` on the Firestore adapter), so the explorer's queries, cursors and counters
run against the emulator. Every JSON answer is checked against the OpenAPI document; the
pages are loaded in headless Chromium and each is saved under ``.dev/screenshots/``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from panoptes_network.adapters.firestore import FirestoreDocuments
from panoptes_network.ingest.counters import record_frame
from panoptes_network.ingest.sky_backfill import backfill_sky_index
from panoptes_network.pipeline.key_index import (
    add_ids,
    move_id,
    read_ids,
    read_ids_of,
    remove_ids,
)
from panoptes_network.pipeline.key_index_backfill import backfill_key_indexes
from panoptes_network.pipeline.schema import (
    IMAGES,
    OBSERVATION_FRAMES,
    OBSERVATION_RUNS,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
    SKY_CELLS,
    ImageStatus,
)
from tests.integration.browser import browser_page, screenshot
from tests.unit.explorer.network import frame_records
from tests.unit.explorer.openapi_check import response_errors

pytestmark = pytest.mark.integration

#: Two observations of the last days (so the home page's weekly chart shows them).
_NIGHT = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0)
SEQUENCES = (
    ("c0ffee", f"{_NIGHT - timedelta(days=9):%Y%m%dT%H%M%S}", 3),
    ("beef01", f"{_NIGHT - timedelta(days=2):%Y%m%dT%H%M%S}", 2),
)


def _record(documents: FirestoreDocuments, unit: str, camera: str, seq: str, index: int) -> str:
    records = frame_records(unit, camera, seq, index, 120.0)
    record_frame(documents, records)
    return records.image_id


@pytest.fixture(scope="module")
def explorer(stack) -> dict[str, Any]:
    """A unit with two observations and five frames, one solved, one run; the explorer's URL."""
    unit = f"PAN9{secrets.randbelow(100):02d}"
    documents = FirestoreDocuments(stack.firestore)
    images = [
        _record(documents, unit, camera, seq, i)
        for camera, seq, frames in SEQUENCES
        for i in range(frames)
    ]
    solved, sequence = images[0], f"{unit}_{SEQUENCES[0][0]}_{SEQUENCES[0][1]}"
    documents.merge(
        IMAGES,
        solved,
        {"status": ImageStatus.SOLVED, "solved": True, "ra_image": 40.62, "dec_image": 37.41},
    )
    documents.merge(
        PROCESSED_OBSERVATIONS,
        f"{sequence}_run",
        {"sequence_id": sequence, "unit_id": unit, "status": "done", "run_time": datetime.now(UTC)},
    )
    documents.commit([add_ids(OBSERVATION_RUNS, sequence, [f"{sequence}_run"])])
    url = stack.url("data-explorer").rstrip("/")
    return {"unit": unit, "sequence": sequence, "solved": solved, "images": images, "url": url}


def test_key_indexes_on_firestore_list_each_id_once_and_move_it(explorer, stack):
    documents = FirestoreDocuments(stack.firestore)
    sequence = explorer["sequence"]
    listed = read_ids(documents, OBSERVATION_FRAMES, sequence)
    assert sorted(listed) == sorted(i for i in explorer["images"] if i.startswith(sequence[:14]))
    documents.commit([add_ids(OBSERVATION_FRAMES, sequence, listed[:1])])  # a redelivery
    assert read_ids(documents, OBSERVATION_FRAMES, sequence) == listed
    cells = [f"{explorer['unit']}-cell-{k}" for k in range(3)]
    documents.commit(move_id(SKY_CELLS, sequence, [], cells[:2]))
    documents.commit(move_id(SKY_CELLS, sequence, cells[:2], cells[1:]))
    assert read_ids_of(documents, SKY_CELLS, cells) == {
        cells[0]: [],
        cells[1]: [sequence],
        cells[2]: [sequence],
    }


def test_the_backfill_lists_on_firestore_what_an_older_archive_lacks(explorer, stack):
    documents = FirestoreDocuments(stack.firestore)
    sequence = explorer["sequence"]
    frames = sorted(read_ids(documents, OBSERVATION_FRAMES, sequence))
    cells = documents.get(OBSERVATIONS, sequence)["sky_cells"]
    # as if written before the key indexes: no frames index, missing from one of its cells
    stack.firestore.collection(OBSERVATION_FRAMES).document(sequence).delete()
    documents.commit([remove_ids(SKY_CELLS, str(cells[0]), [sequence])])
    lists = backfill_key_indexes(documents, page_size=50)
    assert lists.listed[OBSERVATION_FRAMES] >= len(frames)
    assert sorted(read_ids(documents, OBSERVATION_FRAMES, sequence)) == frames
    sky = backfill_sky_index(documents, page_size=50)
    assert sky.listed >= 1
    assert sequence in read_ids(documents, SKY_CELLS, str(cells[0]))
    again = backfill_key_indexes(documents, page_size=50), backfill_sky_index(documents)
    assert sum(again[0].listed.values()) == 0 and again[1].listed == 0


def _api(explorer: dict[str, Any], path: str, template: str, **params: Any) -> dict[str, Any]:
    answer = requests.get(f"{explorer['url']}{path}", params=params, timeout=30)
    assert answer.status_code == 200, (path, answer.text[:500])
    body = answer.json()
    assert response_errors(body, template, 200) == [], path
    return body


def test_every_api_answer_on_the_emulator_follows_the_openapi_document(explorer):
    unit, sequence, solved = explorer["unit"], explorer["sequence"], explorer["solved"]
    home = _api(explorer, "/api/v1/home", "/api/v1/home")
    weekly = next(u for u in home["weekly"]["units"] if u["unit_id"] == unit)
    assert sum(weekly["num_images"]) == 5 and sum(weekly["num_observations"]) == 2
    units = _api(explorer, "/api/v1/units", "/api/v1/units")
    assert unit in str(units)
    page = _api(explorer, f"/api/v1/units/{unit}", "/api/v1/units/{unit_id}")
    assert page["unit"]["num_images"] == 5 and page["unit"]["num_observations"] == 2
    found = _api(explorer, "/api/v1/observations", "/api/v1/observations", unit=unit)
    assert sorted(o["sequence_id"] for o in found["observations"]) == sorted(
        f"{unit}_{camera}_{seq}" for camera, seq, _ in SEQUENCES
    )
    observation = _api(
        explorer, f"/api/v1/observations/{sequence}", "/api/v1/observations/{sequence_id}"
    )
    assert len(observation["frames"]) == 3 and len(observation["runs"]) == 1
    image = _api(explorer, f"/api/v1/images/{solved}", "/api/v1/images/{image_id}")
    assert image["pointing"]["ra_image"] == pytest.approx(40.62)
    assert requests.get(f"{explorer['url']}/api/v1/openapi.json", timeout=10).json()["openapi"]


def test_paging_by_cursor_on_firestore_gives_every_observation_once(explorer):
    seen, cursor = [], None
    for _ in range(5):
        params = {"unit": explorer["unit"], "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = _api(explorer, "/api/v1/observations", "/api/v1/observations", **params)
        seen += [o["sequence_id"] for o in page["observations"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == len(SEQUENCES) == len(set(seen))


def test_unknown_ids_and_bad_parameters_answer_404_and_400_as_json(explorer):
    missing = requests.get(f"{explorer['url']}/api/v1/observations/PAN000_nope_x", timeout=10)
    assert missing.status_code == 404 and "error" in missing.json()
    bad = requests.get(f"{explorer['url']}/api/v1/observations?limit=-3", timeout=10)
    assert bad.status_code == 400 and "limit" in bad.text


def test_every_page_renders_in_chromium_and_links_to_the_next(explorer):
    base, unit, sequence = explorer["url"], explorer["unit"], explorer["sequence"]
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for name, path, text in (
            ("explorer-home", "/", f"Frames per week of {unit}"),
            ("explorer-units", "/units", unit),
            ("explorer-unit", f"/units/{unit}", sequence),
            ("explorer-observations", f"/observations?unit={unit}", sequence),
        ):
            answer = page.goto(base + path)
            assert answer is not None and answer.status == 200, path
            assert text in page.content(), (path, text)
            screenshot(page, name)
        page.click(f"a[href$='/observations/{sequence}']")
        page.wait_for_load_state()
        assert sequence in page.content()
        screenshot(page, "explorer-observation")
        page.click(f"a[href$='/images/{explorer['solved']}']")
        page.wait_for_load_state()
        assert "40.62" in page.content()
        screenshot(page, "explorer-image")
    assert errors == []
