"""The Firestore security rules (``infra/firestore.rules``), enforced by the emulator.

The stack starts the Firestore emulator with the rules firebase.json names. Here REST calls
are made as a client would: without a token, with a signed-in user's token (the emulator
takes unsigned Firebase ID tokens), and as the services do (``Bearer owner``, which the
emulator treats like a service account: rules do not apply). Every collection is tried.
"""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest
import requests

pytestmark = pytest.mark.integration

PUBLIC = (
    "units",
    "observations",
    "images",
    "processed_observations",
    "lightcurves",
    "weekly_stats",
)
PRIVATE = ("uploads", "stars_private", "anything_else")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def user_token(project: str, uid: str) -> str:
    """An unsigned Firebase ID token for ``uid``: the emulator reads it without checking."""
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "sub": uid,
        "user_id": uid,
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "firebase": {"sign_in_provider": "password", "identities": {}},
    }
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


class Rest:
    def __init__(self, stack):
        config = stack.config
        self.project = config.project
        self.base = (
            f"http://{config.host}:{config.firestore_port}/v1/projects/{config.project}"
            "/databases/(default)/documents"
        )

    def headers(self, who: str | None) -> dict[str, str]:
        if who is None:
            return {}
        if who == "service":
            return {"Authorization": "Bearer owner"}
        return {"Authorization": f"Bearer {user_token(self.project, who)}"}

    def read(self, path: str, who: str | None = None) -> int:
        return requests.get(
            f"{self.base}/{path}", headers=self.headers(who), timeout=10
        ).status_code

    def create(self, collection: str, doc_id: str, fields: dict, who: str | None = None) -> int:
        body = {"fields": {k: {"stringValue": v} for k, v in fields.items()}}
        return requests.post(
            f"{self.base}/{collection}?documentId={doc_id}",
            json=body,
            headers=self.headers(who),
            timeout=10,
        ).status_code

    def update(self, path: str, fields: dict, who: str | None = None) -> int:
        body = {"fields": {k: {"stringValue": v} for k, v in fields.items()}}
        return requests.patch(
            f"{self.base}/{path}", json=body, headers=self.headers(who), timeout=10
        ).status_code

    def delete(self, path: str, who: str | None = None) -> int:
        return requests.delete(
            f"{self.base}/{path}", headers=self.headers(who), timeout=10
        ).status_code


@pytest.fixture
def rest(stack):
    return Rest(stack)


@pytest.mark.parametrize("collection", PUBLIC)
def test_public_collections_are_readable_by_anyone_and_writable_by_no_client(rest, collection):
    doc = f"rules-{secrets.token_hex(4)}"
    assert rest.create(collection, doc, {"name": "seed"}, who="service") == 200
    assert rest.read(f"{collection}/{doc}") == 200
    assert rest.read(f"{collection}/{doc}", who="alice") == 200
    assert rest.create(collection, f"{doc}-x", {"name": "forged"}) == 403
    assert rest.create(collection, f"{doc}-y", {"name": "forged"}, who="alice") == 403
    assert rest.update(f"{collection}/{doc}", {"name": "changed"}, who="alice") == 403
    assert rest.delete(f"{collection}/{doc}", who="alice") == 403


@pytest.mark.parametrize("collection", PRIVATE)
def test_other_collections_are_closed_to_clients(rest, collection):
    doc = f"rules-{secrets.token_hex(4)}"
    assert rest.create(collection, doc, {"state": "recorded"}, who="service") == 200
    assert rest.read(f"{collection}/{doc}") == 403
    assert rest.read(f"{collection}/{doc}", who="alice") == 403
    assert rest.create(collection, f"{doc}-x", {"state": "forged"}, who="alice") == 403


def test_flags_are_neither_read_nor_written_by_clients(rest):
    # the Data Explorer writes flags after checking the user; they hold addresses
    mine = f"flag-{secrets.token_hex(4)}"
    flag = {"user_uid": "alice", "target": "image", "image_id": "PAN001_14d3bd_20180216T112430"}
    assert rest.create("flags", mine, flag) == 403  # no token
    assert rest.create("flags", mine, flag, who="alice") == 403  # signed in: still no
    assert rest.read(f"flags/{mine}") == 403
    assert rest.read(f"flags/{mine}", who="alice") == 403
