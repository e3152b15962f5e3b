"""Who is calling: verify the Google-signed OIDC ID token of a request to a private service.

Pub/Sub push subscriptions and Cloud Scheduler jobs attach an ID token of their service
account (``Authorization: Bearer <JWT>``). Cloud Run's IAM checks it before a request
arrives; the services check it again in code, so a misconfigured IAM binding or a local run
cannot open a door:

- the signature, against the signer's published keys (Google's JWKS on Google Cloud; the
  local stack's own JWKS on the emulators, see ``emulator/identity.py``);
- the audience: the service's own (``<audience_prefix>/<service>``, which ``bin/deploy``
  sets as the Cloud Run custom audience and ``infra.apply`` gives pushes and jobs);
- the issuer: ``https://accounts.google.com``;
- the expiry (with 30 s of clock skew);
- the caller: a verified e-mail among the service accounts the service accepts
  (``callers`` in ``infra/resources.yaml``: the push account, the scheduler's).

A request without a usable token is refused with 401, one from another account with 403;
the answer says why in one line and never holds a stack trace.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GOOGLE_CERTS_URL",
    "ISSUERS",
    "Caller",
    "CallerPolicy",
    "Forbidden",
    "Unauthenticated",
    "bearer_token",
    "verify_caller",
]

#: Google's signing keys for ID tokens (a JWKS).
GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"
#: Issuers of Google-signed ID tokens.
ISSUERS = ("https://accounts.google.com", "accounts.google.com")
#: Seconds of clock difference tolerated on ``iat`` and ``exp``.
CLOCK_SKEW_SECONDS = 30


class Unauthenticated(Exception):
    """No credentials, or credentials that do not verify (HTTP 401).

    Parameters
    ----------
    reason : str
        What is wrong, in one line (never the token itself).
    """

    status = 401

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class Forbidden(Unauthenticated):
    """A valid token of an identity this service does not accept (HTTP 403)."""

    status = 403


@dataclass(frozen=True)
class Caller:
    """The verified identity of a request.

    Attributes
    ----------
    email : str
        The service account (or user) the token was issued to.
    claims : dict
        Every verified claim of the token.
    """

    email: str
    claims: Mapping[str, Any]


@dataclass(frozen=True)
class CallerPolicy:
    """What a private service accepts.

    Attributes
    ----------
    audience : str
        The audience the token must name.
    allowed : frozenset of str
        Service-account e-mails allowed to call.
    certs_url : str
        Where the signer's keys are (a JWKS, or Google's ``{kid: PEM}`` format).
    issuers : tuple of str
        Accepted ``iss`` values.
    """

    audience: str
    allowed: frozenset[str]
    certs_url: str = GOOGLE_CERTS_URL
    issuers: tuple[str, ...] = ISSUERS


def bearer_token(headers: Mapping[str, str]) -> str:
    """Return the token of an ``Authorization: Bearer`` header.

    Parameters
    ----------
    headers : Mapping
        The request's headers.

    Returns
    -------
    str
        The token.

    Raises
    ------
    Unauthenticated
        When the header is missing or not a bearer token.
    """
    value = headers.get("Authorization") or headers.get("authorization") or ""
    scheme, _, token = value.partition(" ")
    if not value:
        raise Unauthenticated("no credentials: this service needs an OIDC ID token")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header is not 'Bearer <ID token>'")
    return token.strip()


class _Certs:
    """The signer's keys, fetched once and kept for ten minutes (per certs URL)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}
        self._http: Any = None

    def _transport(self) -> Any:
        """One google-auth HTTP transport (and its connection pool) per process."""
        with self._lock:
            if self._http is None:
                from google.auth.transport import requests as auth_requests

                self._http = auth_requests.Request()
            return self._http

    def verify(self, token: str, policy: CallerPolicy) -> Mapping[str, Any]:
        from google.oauth2 import id_token

        request = _CachingRequest(self._transport(), self, policy.certs_url)
        return id_token.verify_token(
            token,
            request,
            audience=policy.audience,
            certs_url=policy.certs_url,
            clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
        )

    def get(self, url: str) -> Any | None:
        with self._lock:
            entry = self._cache.get(url)
            if entry is not None and time.monotonic() - entry[0] < 600:
                return entry[1]
            return None

    def put(self, url: str, response: Any) -> None:
        with self._lock:
            self._cache[url] = (time.monotonic(), response)


class _CachingRequest:
    """A google-auth transport that answers repeated fetches of the certs URL from memory."""

    def __init__(self, inner: Any, cache: _Certs, url: str):
        self._inner, self._cache, self._url = inner, cache, url

    def __call__(self, url: str, method: str = "GET", **kwargs: Any) -> Any:
        if url == self._url and method == "GET":
            cached = self._cache.get(url)
            if cached is not None:
                return cached
            response = self._inner(url, method=method, **kwargs)
            if response.status == 200:
                self._cache.put(url, response)
            return response
        return self._inner(url, method=method, **kwargs)


_CERTS = _Certs()


def verify_caller(headers: Mapping[str, str], policy: CallerPolicy) -> Caller:
    """Verify a request's ID token against a service's policy.

    Parameters
    ----------
    headers : Mapping
        The request's headers.
    policy : CallerPolicy
        Audience, allowed callers and where the keys are.

    Returns
    -------
    Caller
        The verified caller.

    Raises
    ------
    Unauthenticated
        No token, a malformed or tampered one, expired, another audience or issuer (401).
    Forbidden
        A valid token of an account the service does not accept (403).
    """
    import jwt as pyjwt

    token = bearer_token(headers)
    try:
        claims = _CERTS.verify(token, policy)
    except (ValueError, pyjwt.PyJWTError) as exc:  # every failed check: signature, aud, exp
        raise Unauthenticated(f"the ID token does not verify: {_short(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - the keys could not be fetched
        raise Unauthenticated(
            f"the ID token cannot be checked now ({type(exc).__name__}); try again"
        ) from None
    if claims.get("iss") not in policy.issuers:
        raise Unauthenticated(f"the ID token's issuer {claims.get('iss')!r} is not Google")
    email = claims.get("email")
    if not isinstance(email, str) or not claims.get("email_verified", False):
        raise Forbidden("the ID token names no verified e-mail")
    if email not in policy.allowed:
        raise Forbidden(f"{email} may not call this service")
    return Caller(email, dict(claims))


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160]
