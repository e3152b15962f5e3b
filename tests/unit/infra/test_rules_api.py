"""infra.rules_api: read and release Firestore rules over HTTP, as the Firebase Rules API takes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from infra.rules_api import FirebaseRules


class RulesServer(BaseHTTPRequestHandler):
    """The four calls of the Firebase Rules API that FirebaseRules makes, kept in memory."""

    rulesets: dict[str, str] = {}
    releases: dict[str, str] = {}
    seen: list[tuple[str, str, str]] = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def _authorised(self) -> bool:
        self.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        if self.headers.get("Authorization") != "Bearer t0k":
            self._send(401, {"error": "no token"})
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        path = self.path.removeprefix("/v1/")
        if path in self.releases:
            return self._send(200, {"name": path, "rulesetName": self.releases[path]})
        if path in self.rulesets:
            files = [{"name": "firestore.rules", "content": self.rulesets[path]}]
            return self._send(200, {"name": path, "source": {"files": files}})
        self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        body, path = self._body(), self.path.removeprefix("/v1/")
        if path.endswith("/rulesets"):
            name = f"{path}/r{len(self.rulesets)}"
            self.rulesets[name] = body["source"]["files"][0]["content"]
            return self._send(200, {"name": name})
        if path.endswith("/releases"):
            if body["name"] in self.releases:
                return self._send(409, {"error": "exists"})
            self.releases[body["name"]] = body["rulesetName"]
            return self._send(200, body)
        self._send(404, {"error": "not found"})

    def do_PATCH(self) -> None:
        if not self._authorised():
            return
        release = self._body()["release"]
        if release["name"] != self.path.removeprefix("/v1/"):
            return self._send(400, {"error": "name"})
        self.releases[release["name"]] = release["rulesetName"]
        self._send(200, release)


@pytest.fixture
def api():
    RulesServer.rulesets, RulesServer.releases, RulesServer.seen = {}, {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), RulesServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_release_creates_then_replaces_the_firestore_release(api):
    rules = FirebaseRules("proj", api=api, token=lambda: "t0k")
    assert rules.current() is None
    rules.release("rules_version = '2'; // one")
    assert rules.current() == "rules_version = '2'; // one"
    rules.release("rules_version = '2'; // two")
    assert rules.current() == "rules_version = '2'; // two"
    assert len(RulesServer.rulesets) == 2
    assert list(RulesServer.releases) == ["projects/proj/releases/cloud.firestore"]
    assert {method for method, _, _ in RulesServer.seen} == {"GET", "POST", "PATCH"}


def test_a_refused_token_is_an_error_not_an_empty_project(api):
    rules = FirebaseRules("proj", api=api, token=lambda: "wrong")
    with pytest.raises(requests.HTTPError):
        rules.current()
