"""The explorer's token check is firebase-admin's, with real RS256 signatures.

Firebase signs ID tokens with keys it publishes at a certificate URL. Here a key pair made
for the test signs the tokens and a local HTTP server publishes its certificate; the only
change to firebase-admin is where it fetches the certificates from. A good token passes; a
tampered, expired, wrong-project, wrongly signed or unsigned one is refused (401).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from firebase_admin import _token_gen, credentials
from google.auth.credentials import AnonymousCredentials

from panoptes_network.adapters.explorer_web.auth import AuthRefused, FirebaseVerifier

PROJECT = "panoptes-auth-test"


def _key_and_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken-test")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def keys():
    good_key, good_cert = _key_and_cert()
    other_key, _ = _key_and_cert()
    body = json.dumps({"kid-1": good_cert}).encode()

    class Certs(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=3600")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Certs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"good": good_key, "other": other_key, "url": f"http://127.0.0.1:{server.server_port}/"}
    server.shutdown()


@pytest.fixture
def verifier(keys, monkeypatch):
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(_token_gen, "ID_TOKEN_CERT_URI", keys["url"])
    return FirebaseVerifier(PROJECT, credential=NoCredential())


class NoCredential(credentials.Base):
    """No Google credential: verifying a token needs none."""

    def get_credential(self):
        return AnonymousCredentials()


def token(keys, *, key="good", project=PROJECT, age=10, lifetime=3600, **claims):
    now = int(time.time())
    payload = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "sub": "uid-1",
        "iat": now - age,
        "exp": now - age + lifetime,
        "auth_time": now - age,
        "email": "alice@example.org",
        "email_verified": True,
        **claims,
    }
    return jwt.encode(payload, keys[key], algorithm="RS256", headers={"kid": "kid-1"})


def test_a_good_token_names_its_user(keys, verifier):
    # not strict: a strict check reads the user from Firebase, which is not here
    user, signed_in = verifier.user_of_id_token(token(keys, admin=True), strict=False)
    assert user.uid == "uid-1" and user.email == "alice@example.org"
    assert user.email_verified is True and user.admin is True
    assert abs(signed_in - (time.time() - 10)) < 5


def _tampered(keys) -> str:
    head, body, signature = token(keys, email_verified=False).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["email_verified"] = True
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


def _unsigned(keys) -> str:
    now = int(time.time())
    return jwt.encode(
        {
            "iss": f"https://securetoken.google.com/{PROJECT}",
            "aud": PROJECT,
            "sub": "u",
            "iat": now,
            "exp": now + 600,
            "auth_time": now,
        },
        None,
        algorithm="none",
    )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_tampered, id="tampered"),
        pytest.param(lambda k: token(k, age=7200, lifetime=3600), id="expired"),
        pytest.param(lambda k: token(k, project="someone-elses-project"), id="wrong-project"),
        pytest.param(lambda k: token(k, key="other"), id="wrong-key"),
        pytest.param(_unsigned, id="unsigned"),
        pytest.param(lambda k: "not-a-token", id="garbage"),
    ],
)
def test_bad_tokens_are_refused(keys, verifier, make):
    with pytest.raises(AuthRefused) as refused:
        verifier.user_of_id_token(make(keys), strict=False)
    assert refused.value.status == 401


@pytest.mark.parametrize(
    "times, refused",
    [
        ({"exp": -10}, True),  # expired: the emulator mode of firebase-admin does not check
        ({"iat": 600, "auth_time": 600, "exp": 4000}, True),  # issued in the future
        ({}, False),
    ],
)
def test_with_the_emulator_times_are_still_checked(monkeypatch, times, refused):
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}-emulated",
        "aud": f"{PROJECT}-emulated",
        "sub": "u1",
        "iat": now - 60,
        "auth_time": now - 60,
        "exp": now + 3600,
    }
    claims.update({k: now + v for k, v in times.items()})
    unsigned = jwt.encode(claims, None, algorithm="none")
    verifier = FirebaseVerifier(f"{PROJECT}-emulated", credential=NoCredential())
    if refused:
        with pytest.raises(AuthRefused):
            verifier.user_of_id_token(unsigned, strict=False)
    else:
        user, _ = verifier.user_of_id_token(unsigned, strict=False)
        assert user.uid == "u1"
