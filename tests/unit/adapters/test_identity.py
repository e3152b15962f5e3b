"""ID tokens: every way a token can be wrong gets its status, with the real google-auth check.

Tokens are minted with a local RSA key (``emulator/identity.py``), and its JWKS is served over
HTTP from this process, as the local stack's push relay serves it: the same code path as
Google's keys on Google Cloud.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from emulator.identity import LocalSigner, ensure_key
from panoptes_network.adapters.identity import (
    CallerPolicy,
    Forbidden,
    Unauthenticated,
    bearer_token,
    verify_caller,
)

PUSH = "panoptes-push@demo-panoptes.iam.gserviceaccount.com"
AUDIENCE = "panoptes-network/record-image"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[LocalSigner, str, LocalSigner]:
    """A signer, the URL of its JWKS, and a signer with another key under the same kid."""
    folder = tmp_path_factory.mktemp("identity")
    signer = LocalSigner(ensure_key(folder))
    other = LocalSigner(ensure_key(tmp_path_factory.mktemp("other")))
    jwks = (folder / "jwks.json").read_bytes()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield signer, f"http://127.0.0.1:{server.server_address[1]}/jwks", other
    server.shutdown()


def policy(url: str) -> CallerPolicy:
    return CallerPolicy(AUDIENCE, frozenset({PUSH}), url)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_valid_token_of_an_allowed_account_passes(keys):
    signer, url, _ = keys
    caller = verify_caller(bearer(signer.token(PUSH, AUDIENCE)), policy(url))
    assert caller.email == PUSH and caller.claims["aud"] == AUDIENCE


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "no credentials"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "not 'Bearer"),
        ({"Authorization": "Bearer "}, "not 'Bearer"),
        ({"Authorization": "Bearer not.a.jwt"}, "does not verify"),
    ],
)
def test_missing_or_malformed_credentials_are_401(keys, headers, says):
    with pytest.raises(Unauthenticated, match=says) as caught:
        verify_caller(headers, policy(keys[1]))
    assert caught.value.status == 401 and not isinstance(caught.value, Forbidden)


def test_an_expired_token_is_401(keys):
    signer, url, _ = keys
    token = signer.token(PUSH, AUDIENCE, issued_at=time.time() - 7200, lifetime=3600)
    with pytest.raises(Unauthenticated, match="does not verify") as caught:
        verify_caller(bearer(token), policy(url))
    assert caught.value.status == 401


def test_another_audience_is_401(keys):
    signer, url, _ = keys
    token = signer.token(PUSH, "panoptes-network/compress-fits")
    with pytest.raises(Unauthenticated, match="does not verify") as caught:
        verify_caller(bearer(token), policy(url))
    assert caught.value.status == 401


def test_another_issuer_is_401(keys):
    signer, url, _ = keys
    token = signer.token(PUSH, AUDIENCE, issuer="https://evil.example")
    with pytest.raises(Unauthenticated, match="issuer") as caught:
        verify_caller(bearer(token), policy(url))
    assert caught.value.status == 401


def test_a_tampered_signature_is_401(keys):
    signer, url, _ = keys
    head, body, signature = signer.token(PUSH, AUDIENCE).split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    with pytest.raises(Unauthenticated, match="does not verify"):
        verify_caller(bearer(f"{head}.{body}.{flipped}"), policy(url))


def test_a_token_signed_by_another_key_is_401(keys):
    _, url, other = keys
    with pytest.raises(Unauthenticated, match="does not verify") as caught:
        verify_caller(bearer(other.token(PUSH, AUDIENCE)), policy(url))
    assert caught.value.status == 401


def test_another_service_account_is_403(keys):
    signer, url, _ = keys
    token = signer.token("intruder@demo-panoptes.iam.gserviceaccount.com", AUDIENCE)
    with pytest.raises(Forbidden, match="may not call") as caught:
        verify_caller(bearer(token), policy(url))
    assert caught.value.status == 403


def test_an_unverified_email_is_403(keys):
    signer, url, _ = keys
    with pytest.raises(Forbidden, match="verified"):
        verify_caller(bearer(signer.token(PUSH, AUDIENCE, verified=False)), policy(url))


def test_keys_that_cannot_be_fetched_are_401_not_a_crash(keys):
    signer, _, _ = keys
    with pytest.raises(Unauthenticated, match="cannot be checked now|does not verify"):
        verify_caller(bearer(signer.token(PUSH, AUDIENCE)), policy("http://127.0.0.1:9/jwks"))


def test_bearer_token_reads_either_case_of_the_header():
    assert bearer_token({"authorization": "bearer abc"}) == "abc"


def test_the_local_key_is_made_once(tmp_path: Path):
    first = ensure_key(tmp_path).read_bytes()
    assert ensure_key(tmp_path).read_bytes() == first
    assert oct(ensure_key(tmp_path).stat().st_mode)[-3:] == "600"
