"""Flags through the Flask app: who may write, CSRF, validation, and that refusals write nothing.

The verifier here is a fake that knows a few tokens (the real one, firebase-admin, is tested
in test_explorer_auth.py with real signatures, and against the Auth emulator in the
integration tests); everything else is the app's own code on the in-memory store.
"""

from __future__ import annotations

import re

import pytest

from panoptes_network.adapters.explorer_web import create_app
from panoptes_network.adapters.explorer_web.accounts import MAX_BODY_BYTES
from panoptes_network.adapters.explorer_web.auth import CSRF_COOKIE, SESSION_COOKIE, AuthRefused
from panoptes_network.explorer.flags import User
from panoptes_network.pipeline.schema import FLAGS
from tests.unit.explorer.network import SETTINGS, SOLVED_SEQUENCE, build_network
from tests.unit.explorer.openapi_check import response_errors
from tests.unit.explorer.star_records import FLAGGED_RUN, PICID, build_star, star_series
from tests.unit.fakes import MemoryDocuments, MemoryStore

USERS = {
    "alice": User("alice", "alice@example.org", True, False),
    "bob": User("bob", "bob@example.org", False, False),
    "root": User("root", "root@example.org", True, True),
}


class FakeVerifier:
    """Tokens ``id:<name>`` and session cookies ``session:<name>`` of :data:`USERS`."""

    def user_of_id_token(self, token, *, strict=True):
        name = token.removeprefix("id:")
        if not token.startswith("id:") or name not in USERS:
            raise AuthRefused(401, "the ID token was refused: bad token")
        return USERS[name], 1e12  # signed in "now"

    def user_of_session(self, cookie, *, strict=False):
        name = cookie.removeprefix("session:")
        if not cookie.startswith("session:") or name not in USERS:
            raise AuthRefused(401, "the session was refused")
        return USERS[name]

    def make_session(self, token, days):
        return "session:" + token.removeprefix("id:")


@pytest.fixture
def app_and_store(monkeypatch):
    # plain-http cookies and a sign-in page, as with the local Auth emulator
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    documents, store = MemoryDocuments(), MemoryStore()
    built = build_network(documents)
    build_star(documents, store)
    app = create_app(documents=documents, settings=SETTINGS, objects=store, verifier=FakeVerifier())
    return app, documents, built


def flags(documents):
    return documents.query(FLAGS, [("removed", "==", False)])


def signed_in(app, name, csrf="t" * 43):
    client = app.test_client()
    client.set_cookie(SESSION_COOKIE, f"session:{name}")
    client.set_cookie(CSRF_COOKIE, csrf)
    return client


def run_id(documents):
    lcid = next(i for i, _ in documents.query("lightcurves", [("picid", "==", PICID)]))
    return lcid.split("_", 1)[1]


def test_a_verified_user_flags_an_observation_with_a_form(app_and_store):
    app, documents, _ = app_and_store
    before = {i for i, _ in flags(documents)}
    client = signed_in(app, "alice")
    answer = client.post(
        "/flags",
        data={
            "target": "observation",
            "sequence_id": SOLVED_SEQUENCE,
            "reason": "clouds all night",
            "csrf_token": "t" * 43,
            "next": f"/observations/{SOLVED_SEQUENCE}",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/observations/{SOLVED_SEQUENCE}"
    new = [f for i, f in flags(documents) if i not in before]
    assert len(new) == 1
    assert new[0]["target"] == "observation" and new[0]["user_email"] == "alice@example.org"
    assert new[0]["reason"] == "clouds all night" and new[0]["sequence_id"] == SOLVED_SEQUENCE


def test_points_by_bearer_token_need_no_csrf(app_and_store):
    app, documents, _ = app_and_store
    times = [float(t) for t in star_series(FLAGGED_RUN)["time"][:2]]
    answer = app.test_client().post(
        "/api/v1/flags",
        json={
            "target": "points",
            "picid": PICID,
            "run_id": run_id(documents),
            "times": times,
            "reason": "cosmic ray",
        },
        headers={"Authorization": "Bearer id:alice"},
    )
    assert answer.status_code == 201, answer.get_json()
    assert response_errors(answer.get_json(), "/api/v1/flags", 201, "post") == []
    flag_id = answer.get_json()["flag_id"]
    stored = documents.get(FLAGS, flag_id)
    assert stored["times"] == times and stored["picid"] == PICID
    assert re.fullmatch(r"[0-9a-f]{32}", flag_id)


@pytest.mark.parametrize(
    "headers, cookies, status",
    [
        ({}, {}, 401),  # no credentials
        ({"Authorization": "Bearer id:mallory"}, {}, 401),  # a token that does not verify
        ({"Authorization": "Basic abc"}, {}, 401),
        ({"Authorization": "Bearer id:bob"}, {}, 403),  # address not verified
        ({}, {SESSION_COOKIE: "session:alice"}, 403),  # session without the CSRF token
        ({}, {SESSION_COOKIE: "session:alice", CSRF_COOKIE: "a" * 43}, 403),  # wrong token
        ({}, {SESSION_COOKIE: "forged"}, 401),
    ],
)
def test_refused_writes_write_nothing(app_and_store, headers, cookies, status):
    app, documents, _ = app_and_store
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    before = len(documents.query(FLAGS))
    body = {"target": "observation", "sequence_id": SOLVED_SEQUENCE, "reason": "bad data"}
    answer = client.post("/api/v1/flags", json=body, headers={**headers, "X-CSRF-Token": "b" * 43})
    assert answer.status_code == status, answer.get_json()
    assert response_errors(answer.get_json(), "/api/v1/flags", status, "post") == []
    assert len(documents.query(FLAGS)) == before


def test_a_form_of_another_site_is_refused(app_and_store):
    app, documents, _ = app_and_store
    before = len(documents.query(FLAGS))
    client = signed_in(app, "alice")
    answer = client.post(
        "/flags",
        data={
            "target": "observation",
            "sequence_id": SOLVED_SEQUENCE,
            "reason": "x" * 10,
            "csrf_token": "t" * 43,
        },
        headers={"Origin": "https://evil.example"},
    )
    assert answer.status_code == 403 and len(documents.query(FLAGS)) == before


@pytest.mark.parametrize(
    "body, status, named",
    [
        ({"target": "planet", "reason": "bad"}, 400, "target"),
        ({"target": "observation", "sequence_id": SOLVED_SEQUENCE, "reason": "x"}, 400, "reason"),
        (
            {"target": "observation", "sequence_id": "PAN999_x_y", "reason": "bad data"},
            404,
            "PAN999",
        ),
        ({"target": "image", "image_id": "a/b", "reason": "bad data"}, 400, "image_id"),
        (
            {
                "target": "points",
                "picid": PICID,
                "run_id": "nope",
                "times": [1.0e9],
                "reason": "bad data",
            },
            404,
            "nope",
        ),
        (
            {"target": "points", "picid": PICID, "run_id": "r", "times": [], "reason": "bad"},
            400,
            "times",
        ),
        (
            {
                "target": "observation",
                "sequence_id": SOLVED_SEQUENCE,
                "reason": "ok reason",
                "user_uid": "someone else",
            },
            400,
            "user_uid",
        ),
        (["not", "an", "object"], 400, "body"),
    ],
)
def test_bad_flags_are_refused_with_the_field_named(app_and_store, body, status, named):
    app, documents, _ = app_and_store
    before = len(documents.query(FLAGS))
    answer = app.test_client().post(
        "/api/v1/flags", json=body, headers={"Authorization": "Bearer id:alice"}
    )
    assert answer.status_code == status
    assert named in answer.get_json()["error"]
    assert len(documents.query(FLAGS)) == before


def test_a_huge_body_is_refused(app_and_store):
    app, documents, _ = app_and_store
    answer = app.test_client().post(
        "/api/v1/flags",
        data=b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}",
        headers={"Authorization": "Bearer id:alice", "Content-Type": "application/json"},
    )
    assert answer.status_code == 413


def test_only_an_admin_removes_a_flag_and_it_is_kept(app_and_store):
    app, documents, _ = app_and_store
    created = app.test_client().post(
        "/api/v1/flags",
        json={"target": "observation", "sequence_id": SOLVED_SEQUENCE, "reason": "clouds"},
        headers={"Authorization": "Bearer id:alice"},
    )
    flag_id = created.get_json()["flag_id"]
    refused = app.test_client().post(
        f"/api/v1/flags/{flag_id}/remove", headers={"Authorization": "Bearer id:alice"}
    )
    assert refused.status_code == 403 and documents.get(FLAGS, flag_id)["removed"] is False
    done = app.test_client().post(
        f"/api/v1/flags/{flag_id}/remove", headers={"Authorization": "Bearer id:root"}
    )
    assert done.status_code == 200 and done.get_json()["removed"] is True
    assert response_errors(done.get_json(), "/api/v1/flags/{flag_id}/remove", 200, "post") == []
    kept = documents.get(FLAGS, flag_id)
    assert kept["removed"] is True and kept["removed_by"] == "root@example.org"
    assert kept["reason"] == "clouds"
    missing = app.test_client().post(
        "/api/v1/flags/nope/remove", headers={"Authorization": "Bearer id:root"}
    )
    assert missing.status_code == 404


def test_sign_in_sets_an_httponly_session_and_pages_show_the_user(app_and_store):
    app, _, _ = app_and_store
    client = app.test_client()
    page = client.get("/signin")
    assert page.status_code == 200
    token = re.search(r'data-csrf="([^"]+)"', page.get_data(as_text=True)).group(1)
    cookie = page.headers.get_all("Set-Cookie")
    assert any(c.startswith(f"{CSRF_COOKIE}={token}") and "HttpOnly" in c for c in cookie)
    refused = client.post("/session", json={"id_token": "id:alice"})
    assert refused.status_code == 403  # no CSRF header
    assert "CSRF" in refused.get_json()["error"]  # JSON: the sign-in script reads it
    answer = client.post("/session", json={"id_token": "id:alice"}, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200 and answer.get_json()["email"] == "alice@example.org"
    session = [c for c in answer.headers.get_all("Set-Cookie") if c.startswith(SESSION_COOKIE)]
    assert session and "HttpOnly" in session[0] and "SameSite=Lax" in session[0]
    me = client.get("/api/v1/me").get_json()
    assert me["user"]["uid"] == "alice" and response_errors(me, "/api/v1/me", 200) == []
    home = client.get("/").get_data(as_text=True)
    assert "alice@example.org" in home and "Sign out" in home
    star = client.get(f"/stars/{PICID}").get_data(as_text=True)
    assert 'id="flag-points"' in star
    out = client.post("/signout", data={"csrf_token": token, "next": "/units"})
    assert out.status_code == 303 and out.headers["Location"] == "/units"
    assert client.get("/api/v1/me").get_json() == {"signed_in": False, "user": None}


def test_an_unverified_user_sees_no_flag_form(app_and_store):
    app, _, _ = app_and_store
    client = signed_in(app, "bob")
    star = client.get(f"/stars/{PICID}").get_data(as_text=True)
    assert 'id="flag-points"' not in star and "Verify your email" in star
    anonymous = app.test_client().get(f"/stars/{PICID}").get_data(as_text=True)
    assert 'id="flag-points"' not in anonymous and "Sign in</a> to flag" in anonymous


def test_observation_and_frame_pages_show_their_flags_and_the_forms(app_and_store):
    app, documents, built = app_and_store
    bearer = {"Authorization": "Bearer id:alice"}
    solved = built["solved"]
    for body in (
        {"target": "observation", "sequence_id": SOLVED_SEQUENCE, "reason": "dew on the lens"},
        {"target": "image", "image_id": solved, "reason": "satellite trail"},
    ):
        assert app.test_client().post("/api/v1/flags", json=body, headers=bearer).status_code == 201
    anonymous = app.test_client()
    page = anonymous.get(f"/observations/{SOLVED_SEQUENCE}").get_data(as_text=True)
    assert "dew on the lens" in page and "satellite trail" in page  # the frame's flag too
    assert "a…@example.org" in page and "alice@example.org" not in page
    assert "Sign in</a> to flag" in page and "Remove" not in page
    frame = signed_in(app, "alice").get(f"/images/{solved}").get_data(as_text=True)
    assert "satellite trail" in frame and "dew on the lens" not in frame
    assert 'name="target" value="image"' in frame and "Remove</button>" not in frame
    admin = signed_in(app, "root").get(f"/images/{solved}").get_data(as_text=True)
    assert "Remove</button>" in admin
    answer = anonymous.get(f"/api/v1/images/{solved}").get_json()
    assert [f["reason"] for f in answer["flags"]] == ["satellite trail"]
    assert response_errors(answer, "/api/v1/images/{image_id}", 200) == []
