"""The local stack's own signer: an RSA key, its JWKS, and Google-style ID tokens made with it.

On Google Cloud, Pub/Sub push and Cloud Scheduler attach ID tokens that Google signs, and
the services verify them against Google's JWKS. The emulators cannot sign anything, so the
local stack signs its own pushes (through ``emulator/push_relay.py``) and scheduler calls with
a key made once per stack in ``.dev/identity/``, and the services verify them against that
key's JWKS, served by the relay at ``/jwks``. The check is the same code as on Google Cloud
(:func:`panoptes_network.adapters.identity.verify_caller`); only the keys differ.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["KEY_ID", "LocalSigner", "ensure_key"]

#: The ``kid`` of the local key.
KEY_ID = "panoptes-local-1"
ISSUER = "https://accounts.google.com"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def ensure_key(folder: Path) -> Path:
    """Make the local key and its JWKS in ``folder`` unless they exist; return the key file.

    Parameters
    ----------
    folder : Path
        ``.dev/identity`` of the stack.

    Returns
    -------
    Path
        ``key.pem`` (private, mode 600); ``jwks.json`` sits beside it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    key_file, jwks_file = folder / "key.pem", folder / "jwks.json"
    if key_file.is_file() and jwks_file.is_file():
        return key_file
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_file.write_bytes(pem)
    key_file.chmod(0o600)
    numbers = key.public_key().public_numbers()
    jwks = {
        "keys": [
            {
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": KEY_ID,
                "n": _b64(numbers.n),
                "e": _b64(numbers.e),
            }
        ]
    }
    jwks_file.write_text(json.dumps(jwks, indent=2))
    return key_file


class LocalSigner:
    """Mint ID tokens with the local key, shaped like Google's.

    Parameters
    ----------
    key_file : Path
        The private key (:func:`ensure_key`).
    """

    def __init__(self, key_file: Path):
        from google.auth import crypt

        self._signer = crypt.RSASigner.from_string(key_file.read_bytes(), key_id=KEY_ID)

    def token(
        self,
        email: str,
        audience: str,
        *,
        lifetime: float = 3600.0,
        issuer: str = ISSUER,
        issued_at: float | None = None,
        verified: bool = True,
    ) -> str:
        """Return a signed ID token.

        Parameters
        ----------
        email : str
            The service account it speaks for.
        audience : str
            Its ``aud``.
        lifetime : float
            Seconds until it expires.
        issuer : str
            Its ``iss``.
        issued_at : float, optional
            Its ``iat``, POSIX seconds (default now).
        verified : bool
            Its ``email_verified``.

        Returns
        -------
        str
            The JWT.
        """
        from google.auth import jwt

        now = time.time() if issued_at is None else issued_at
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": email,
            "email": email,
            "email_verified": verified,
            "iat": int(now),
            "exp": int(now + lifetime),
        }
        return jwt.encode(self._signer, claims).decode("ascii")
