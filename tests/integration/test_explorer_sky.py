"""The explorer's sky search on the local stack: Firestore's array-contains-any, gunicorn.

A unit of its own records three observations through the real record path (``record_frame``
on the Firestore adapter), their first frames carrying mount positions: two near M 42 and
one across the sky; one of them is then solved (the fields plate-solve writes). The cone and
name searches run through the explorer service (Flask under gunicorn) against the emulator:
the cells query, its cursors and the distance test. The unit filter keeps other tests'
observations out of the assertions (they are applied after the read, so every page is
followed to the end).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord

from panoptes_network.adapters.firestore import FirestoreDocuments
from panoptes_network.catalog.target_names import bundled_target_names
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import read_header_from_bytes
from panoptes_network.frames.sky_index import SkySource, sky_fields
from panoptes_network.ingest.counters import record_frame
from panoptes_network.ingest.records import build_frame_records
from panoptes_network.pipeline.key_index import move_id
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import OBSERVATIONS, SKY_CELLS
from tests.integration.browser import browser_page, screenshot
from tests.unit.explorer.openapi_check import response_errors
from tests.unit.frame_files import unit_frame

pytestmark = pytest.mark.integration

PATH = "/api/v1/observations"
M42 = bundled_target_names().resolve("M 42")
_NIGHT = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=0)


def _offset(ra: float, dec: float, angle: float, distance: float) -> tuple[float, float]:
    point = SkyCoord(ra * u.deg, dec * u.deg).directional_offset_by(angle * u.deg, distance * u.deg)
    return float(point.ra.deg), float(point.dec.deg)


#: (camera, start, mount RA, mount Dec): 3 and 7 degrees from M 42, and 90 degrees away.
POINTINGS = (
    ("5c0001", _NIGHT - timedelta(days=3), *_offset(M42.ra, M42.dec, 30.0, 3.0)),
    ("5c0002", _NIGHT - timedelta(days=2), *_offset(M42.ra, M42.dec, 200.0, 7.0)),
    ("5c0003", _NIGHT - timedelta(days=1), (M42.ra + 90.0) % 360.0, -20.0),
)


def _record(documents, unit: str, camera: str, start: datetime, ra: float, dec: float) -> str:
    seq = f"{start:%Y%m%dT%H%M%S}"
    for index in range(2):
        moment = start + timedelta(minutes=2 * index + 1)
        path = ImagePath.parse(f"{unit}/{camera}/{seq}/{moment:%Y%m%dT%H%M%S}.fits.fz")
        header = read_header_from_bytes(
            unit_frame(
                **{
                    "DATE-OBS": f"{moment:%Y-%m-%dT%H:%M:%S}",
                    "INSTRUME": camera,
                    "OBSERVER": unit,
                    "RA-MNT": ra,
                    "DEC-MNT": dec,
                }
            )
        )
        record_frame(
            documents,
            build_frame_records(
                path,
                header,
                bucket_path=path.object_name,
                public_url=f"https://example.invalid/{path.object_name}",
                received_time=datetime.now(UTC),
            ),
        )
    return f"{unit}_{camera}_{seq}"


@pytest.fixture(scope="module")
def sky(stack) -> dict[str, Any]:
    """Three observations of a fresh unit, the nearest to M 42 solved; the explorer's URL."""
    unit = next(
        unit
        for unit in (f"PAN9{secrets.randbelow(100):02d}" for _ in range(200))
        if stack.doc("units", unit) is None
    )
    documents = FirestoreDocuments(stack.firestore)
    sequences = [_record(documents, unit, *pointing) for pointing in POINTINGS]
    solved_ra, solved_dec = _offset(M42.ra, M42.dec, 35.0, 2.9)
    mount_cells = documents.get(OBSERVATIONS, sequences[0])["sky_cells"]
    solved = sky_fields(solved_ra, solved_dec, SkySource.SOLVED)
    documents.commit(  # what plate-solve writes: the observation's sky index, and its cells
        [
            DocWrite(OBSERVATIONS, sequences[0], {"ra": solved_ra, "dec": solved_dec, **solved}),
            *move_id(SKY_CELLS, sequences[0], mount_cells, solved["sky_cells"]),
        ]
    )
    url = stack.url("data-explorer").rstrip("/")
    return {"unit": unit, "sequences": sequences, "url": url, "solved": (solved_ra, solved_dec)}


def _pages(sky: dict[str, Any], **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every row of the search for the unit, page after page; and the first page."""
    rows, cursor, first = [], None, None
    for _ in range(500):
        query = {
            "unit": sky["unit"],
            "limit": 2,
            **params,
            **({"cursor": cursor} if cursor else {}),
        }
        answer = requests.get(f"{sky['url']}{PATH}", params=query, timeout=30)
        assert answer.status_code == 200, answer.text[:500]
        body = answer.json()
        assert response_errors(body, PATH, 200) == []
        first = first or body
        rows += body["observations"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, first
    pytest.fail("the search did not end in 500 pages")


def test_the_records_carry_the_sky_index(sky, stack):
    mount = stack.doc(OBSERVATIONS, sky["sequences"][1])
    assert mount["sky_source"] == "mount" and mount["num_images"] == 2
    assert (mount["sky_ra"], mount["sky_dec"]) == pytest.approx(POINTINGS[1][2:], abs=1e-9)
    assert stack.doc(OBSERVATIONS, sky["sequences"][0])["sky_source"] == "solved"


def test_a_cone_search_on_firestore(sky):
    rows, first = _pages(sky, ra=f"{M42.ra:.6f}", dec=f"{M42.dec:.6f}", radius="0.5")
    found = {r["sequence_id"]: r for r in rows}
    assert set(found) == set(sky["sequences"][:2])  # the far one is not listed
    assert found[sky["sequences"][0]]["pointing_source"] == "solved"
    centre = SkyCoord(M42.ra * u.deg, M42.dec * u.deg)
    solved = SkyCoord(sky["solved"][0] * u.deg, sky["solved"][1] * u.deg)
    assert found[sky["sequences"][0]]["distance_deg"] == pytest.approx(
        centre.separation(solved).deg, abs=1e-6
    )
    assert found[sky["sequences"][1]]["distance_deg"] == pytest.approx(7.0, abs=1e-6)
    assert first["cone"]["cells"] <= 30 and "cone" in first["after_read"]
    # newest first, across pages
    assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)


def test_a_name_search_on_firestore(sky):
    rows, first = _pages(sky, name="m42", radius="0")
    assert first["cone"]["resolved_as"]["name"] == "M 42"
    assert {r["sequence_id"] for r in rows} == set(sky["sequences"][:2])
    far_ra, far_dec = POINTINGS[2][2:]
    rows, _ = _pages(sky, ra=f"{far_ra:.6f}", dec=f"{far_dec:.6f}", radius="1")
    assert [r["sequence_id"] for r in rows] == [sky["sequences"][2]]


def test_an_unknown_name_is_a_400_naming_it(sky):
    answer = requests.get(f"{sky['url']}{PATH}", params={"name": "Planet Nine"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("name: no target named 'Planet Nine'")


def test_the_search_page_in_chromium(sky):
    with browser_page() as page:
        answer = page.goto(f"{sky['url']}/observations?name=M%2042&unit={sky['unit']}")
        assert answer is not None and answer.status == 200
        content = page.content()
        assert "Distance (°)" in content and sky["sequences"][0] in content
        screenshot(page, "explorer-sky-search")
