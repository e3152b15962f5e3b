"""A person's visit to the Data Explorer in a real Chromium, signed in with the Auth emulator.

On the local stack (gunicorn explorer, Firestore emulator, Firebase Auth emulator): a unit of
its own is recorded through the real record path, its observation put near M 42 in the sky
index, and a star given one light curve in the observation's run. In headless Chromium the
visitor loads every page, searches by name and by coordinates, opens the observation, a
frame and the star's plots, signs in with email and password (the page's own script, the
emulator's REST API, the explorer's session cookie), selects points in the plot, flags them,
sees them flagged, and signs out. Each page is saved under ``.dev/screenshots/``. Flagging
through the API without a token, or with an expired or another project's token, is refused
and writes nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from panoptes_network.adapters.firestore import FirestoreDocuments
from panoptes_network.frames.sky_index import SkySource, sky_fields
from panoptes_network.ingest.counters import record_frame
from panoptes_network.pipeline.key_index import move_id
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import (
    FLAGS,
    IMAGES,
    LIGHTCURVES,
    OBSERVATIONS,
    PROCESSED_OBSERVATIONS,
    SKY_CELLS,
    ImageStatus,
)
from tests.integration.browser import browser_page, screenshot
from tests.unit.explorer.network import frame_records

pytestmark = pytest.mark.integration

M42 = (83.822, -5.391)
FRAMES = 4
POINTS = 12
PASSWORD = "correct horse battery staple"


def _auth(stack, path: str, body: dict, owner: bool = False) -> dict:
    base = f"http://127.0.0.1:{stack.config.auth_port}/identitytoolkit.googleapis.com/v1"
    url = f"{base}/projects/{stack.config.project}/{path}" if owner else f"{base}/{path}?key=local"
    headers = {"Authorization": "Bearer owner"} if owner else {}
    answer = requests.post(url, json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()


@pytest.fixture(scope="module")
def visit(stack) -> dict[str, Any]:
    """A unit, its observation near M 42, a solved frame, a star with one light curve, a user."""
    if stack.config.auth_port is None:
        pytest.skip("the stack runs without the Auth emulator (no Node / Firebase CLI)")
    unit, camera = f"PAN9{secrets.randbelow(100):02d}", secrets.token_hex(3)
    night = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=0)
    seq = f"{night - timedelta(days=1):%Y%m%dT%H%M%S}"
    documents = FirestoreDocuments(stack.firestore)
    images = []
    for index in range(FRAMES):
        records = frame_records(unit, camera, seq, index, 120.0)
        record_frame(documents, records)
        images.append(records.image_id)
    sequence = f"{unit}_{camera}_{seq}"
    mount_cells = documents.get(OBSERVATIONS, sequence).get("sky_cells") or []
    solved = sky_fields(*M42, SkySource.SOLVED)
    documents.commit(  # as plate-solve does: the solved sky index, and its cells list it
        [
            DocWrite(OBSERVATIONS, sequence, {"ra": M42[0], "dec": M42[1], **solved}),
            *move_id(SKY_CELLS, sequence, mount_cells, solved["sky_cells"]),
        ]
    )
    documents.merge(
        IMAGES,
        images[0],
        {"status": ImageStatus.SOLVED, "solved": True, "ra_image": M42[0], "dec_image": M42[1]},
    )
    run_id = f"{sequence}_{datetime.now(UTC):%Y%m%dT%H%M%S}"
    documents.merge(
        PROCESSED_OBSERVATIONS,
        run_id,
        {
            "sequence_id": sequence,
            "unit_id": unit,
            "camera_id": camera,
            "status": "done",
            "run_time": datetime.now(UTC),
            "num_frames": POINTS,
            "num_stars": 1,
        },
    )
    picid = 700_000_000 + secrets.randbelow(10_000_000)
    start = (night - timedelta(days=1)).timestamp() + 60
    times = [start + 150.0 * k for k in range(POINTS)]
    points: dict[str, list] = {"time": times}
    for c, level in (("r", 1.0), ("g", 1.002), ("b", 0.998)):
        points[c] = [level + 0.003 * ((k * 7) % 5 - 2) / 2 for k in range(POINTS)]
        points[f"{c}_err"] = [0.002] * POINTS
        points[f"{c}_outlier"] = [False] * POINTS
    documents.merge(
        LIGHTCURVES,
        f"{picid}_{run_id}",
        {
            "sequence_id": sequence,
            "unit_id": unit,
            "camera_id": camera,
            "processed_observation": run_id,
            "run_time": datetime.now(UTC),
            "picid": picid,
            "ra": M42[0] + 0.1,
            "dec": M42[1] - 0.1,
            "vmag": 8.7,
            "num_points": POINTS,
            "variable": False,
            "points_embedded": True,
            "points": points,
            **{f"num_points_{c}": POINTS for c in "rgb"},
            **{f"rms_mag_{c}": 0.003 for c in "rgb"},
        },
    )
    email = f"observer-{secrets.token_hex(3)}@example.org"
    user = _auth(
        stack, "accounts:signUp", {"email": email, "password": PASSWORD, "returnSecureToken": True}
    )
    _auth(stack, "accounts:update", {"localId": user["localId"], "emailVerified": True}, owner=True)
    return {
        "url": stack.url("data-explorer").rstrip("/"),
        "unit": unit,
        "sequence": sequence,
        "images": images,
        "picid": picid,
        "run_id": run_id,
        "times": times,
        "email": email,
        "documents": documents,
    }


def _flags_of(visit: dict[str, Any]) -> list[dict]:
    return [f for _, f in visit["documents"].query(FLAGS, [("picid", "==", visit["picid"])])]


def _select_middle(page, plot: str) -> None:
    """Drag a box over the middle third of a plot's points (plotly's box select)."""
    area = page.locator(f"{plot} .nsewdrag").first
    area.scroll_into_view_if_needed()  # the mouse drags within the viewport only
    box = area.bounding_box()
    assert box is not None
    x0, x1 = box["x"] + box["width"] * 0.36, box["x"] + box["width"] * 0.64
    page.mouse.move(x0, box["y"] + 3)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.move(x1, box["y"] + box["height"] - 3, steps=5)
    page.mouse.up()


def test_a_visit_signs_in_flags_points_and_signs_out(visit):
    base, sequence, picid = visit["url"], visit["sequence"], visit["picid"]
    errors: list[str] = []
    with browser_page() as page:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: errors.append(msg.text) if msg.type == "error" else None,
        )
        for name, path, text in (
            ("explorer-home", "/", visit["unit"]),
            ("explorer-units", "/units", visit["unit"]),
            ("explorer-unit", f"/units/{visit['unit']}", sequence),
            ("explorer-observations", f"/observations?unit={visit['unit']}", sequence),
            ("explorer-observation", f"/observations/{sequence}", visit["images"][0]),
            ("explorer-image", f"/images/{visit['images'][0]}", "83.82"),
            ("explorer-signin", "/signin", "Password"),
        ):
            answer = page.goto(base + path)
            assert answer is not None and answer.status == 200, path
            assert text in page.content(), (path, text)
            screenshot(page, name)
        # search by name, through the form
        page.goto(base + "/observations")
        page.fill("input[name=name]", "M 42")
        page.fill("input[name=radius]", "1")
        page.click("form.filters button[type=submit]")
        page.wait_for_load_state()
        assert sequence in page.content()
        screenshot(page, "explorer-search-by-name")
        # and by coordinates
        page.goto(base + f"/observations?ra={M42[0] + 0.5}&dec={M42[1]}&radius=1")
        assert sequence in page.content()
        # the star's plots, from the header's PICID box
        page.goto(base + "/")
        page.fill("form.find-star input[name=picid]", str(picid))
        page.click("form.find-star button")
        page.wait_for_selector("#plot-g .main-svg")
        assert page.locator("#plot-g .point").count() >= POINTS
        screenshot(page, "explorer-star")
        # sign in with the page's own form, back to the star
        page.click("a.signin-link")
        page.fill("input[name=email]", visit["email"])
        page.fill("input[name=password]", PASSWORD)
        page.click("form#signin button[type=submit]")
        page.wait_for_url(f"**/stars/{picid}")
        page.wait_for_selector("#plot-g .main-svg")
        assert visit["email"] in page.content()
        # select points in the green plot and flag them
        _select_middle(page, "#plot-g")
        screenshot(page, "explorer-star-selecting")
        # a locator wait: a string predicate (wait_for_function) is evaluated with eval in the
        # page when it must poll, which the explorer's Content Security Policy rightly refuses
        page.locator("#flag-selection", has_text="selected").wait_for(timeout=10_000)
        note = page.locator("#flag-selection").inner_text()
        assert "point(s) of run" in note, note
        selected = int(note.split()[0])
        assert 0 < selected < POINTS
        page.fill("#flag-points input[name=reason]", "a satellite crossed the star")
        page.click("#flag-points button[type=submit]")
        page.wait_for_url(f"**/stars/{picid}")
        page.wait_for_selector("#plot-g .main-svg")
        assert "a satellite crossed the star" in page.content()
        screenshot(page, "explorer-star-flagged")
        star = requests.get(f"{base}/api/v1/stars/{picid}", timeout=30).json()
        flagged = star["lightcurves"][0]["points"]["flagged"]
        assert sum(flagged) == selected
        # the flag in Firestore: who, what, why
        flags = _flags_of(visit)
        assert len(flags) == 1
        assert flags[0]["user_email"] == visit["email"] and flags[0]["run_id"] == visit["run_id"]
        assert set(flags[0]["times"]) <= set(visit["times"]) and len(flags[0]["times"]) == selected
        # sign out
        page.click("form.signout button")
        page.wait_for_load_state()
        assert page.locator("a.signin-link").count() == 1
        assert visit["email"] not in page.content()
    assert errors == []


def _unsigned(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize("kind", ["none", "expired", "wrong-project", "tampered", "garbage"])
def test_flagging_without_a_good_token_is_refused_and_writes_nothing(stack, visit, kind):
    now = int(time.time())
    project = stack.config.project
    claims = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "sub": "intruder",
        "user_id": "intruder",
        "email": "intruder@example.org",
        "email_verified": True,
        "iat": now - 60,
        "auth_time": now - 60,
        "exp": now + 3600,
        "firebase": {"sign_in_provider": "password"},
    }
    headers = {
        "none": {},
        "expired": {"Authorization": f"Bearer {_unsigned({**claims, 'exp': now - 10})}"},
        "wrong-project": {
            "Authorization": "Bearer "
            + _unsigned(
                {
                    **claims,
                    "aud": "someone-else",
                    "iss": "https://securetoken.google.com/someone-else",
                }
            )
        },
        # the emulator's tokens are unsigned: one made by hand, for a user Firebase does not
        # know, with good times and project (signatures are checked in the unit tests)
        "tampered": {"Authorization": f"Bearer {_unsigned(claims)}"},
        "garbage": {"Authorization": "Bearer not.a.token"},
    }[kind]
    before = len(_flags_of(visit))
    answer = requests.post(
        f"{visit['url']}/api/v1/flags",
        json={"target": "observation", "sequence_id": visit["sequence"], "reason": "intrusion"},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code in (401, 403), answer.text[:300]
    assert "error" in answer.json()
    assert len(_flags_of(visit)) == before
    flags = visit["documents"].query(FLAGS, [("sequence_id", "==", visit["sequence"])])
    assert all(f.get("reason") != "intrusion" for _, f in flags)


def test_a_token_whose_claims_were_changed_makes_no_admin(stack, visit):
    """The user's own token with ``admin: true`` written in: removal still needs Firebase's word."""
    signed = _auth(
        stack,
        "accounts:signInWithPassword",
        {"email": visit["email"], "password": PASSWORD, "returnSecureToken": True},
    )
    head, body, _ = signed["idToken"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = _unsigned({**claims, "admin": True})
    headers = {"Authorization": f"Bearer {forged}"}
    created = requests.post(
        f"{visit['url']}/api/v1/flags",
        json={"target": "observation", "sequence_id": visit["sequence"], "reason": "dew"},
        headers={"Authorization": f"Bearer {signed['idToken']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text[:300]
    flag_id = created.json()["flag_id"]
    refused = requests.post(
        f"{visit['url']}/api/v1/flags/{flag_id}/remove", headers=headers, timeout=30
    )
    assert refused.status_code == 403, refused.text[:300]
    assert visit["documents"].get(FLAGS, flag_id)["removed"] is False
