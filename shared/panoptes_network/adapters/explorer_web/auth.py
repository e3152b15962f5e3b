"""Sign-in for the Data Explorer: Firebase Authentication, verified with firebase-admin.

A browser signs in with Firebase's REST API (the sign-in page's small script; locally the
Auth emulator of the Firebase CLI, ``FIREBASE_AUTH_EMULATOR_HOST``), then posts the ID token
to ``/session``; the explorer verifies it and answers with a session cookie
(:data:`SESSION_COOKIE`, HttpOnly, made by Firebase, :data:`SESSION_DAYS` days). API clients
send ``Authorization: Bearer <ID token>`` instead. Every write checks one or the other with
firebase-admin (:class:`FirebaseVerifier`): signature, expiry, audience (the project) and
issuer; locally the emulator's tokens are unsigned and firebase-admin checks the rest.

Forms and scripts that use the session cookie also carry a CSRF token: a random value in the
:data:`CSRF_COOKIE` cookie that the request must repeat in the ``csrf_token`` form field or
the ``X-CSRF-Token`` header (double submit; the cookie is ``SameSite=Strict``), and a
request whose ``Origin`` is another site is refused. A bearer token is not ambient, so it
needs neither.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import flask

from panoptes_network.explorer.flags import User

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "SESSION_DAYS",
    "AuthConfig",
    "AuthRefused",
    "FirebaseVerifier",
    "Verifier",
    "csrf_problem",
    "csrf_token",
    "request_user",
]

#: The session cookie (Firebase session cookies are named freely; ``__session`` is the one
#: name Firebase Hosting forwards to Cloud Run).
SESSION_COOKIE = "__session"
#: The CSRF cookie.
CSRF_COOKIE = "panoptes_csrf"
#: How long a session lasts (days).
SESSION_DAYS = 5
#: Clock skew allowed when checking a token's times (s).
_SKEW_S = 5
#: An ID token older than this cannot start a session (s): sign in again.
MAX_SIGN_IN_AGE_S = 300


class AuthRefused(Exception):
    """A request whose credentials are missing or wrong.

    Parameters
    ----------
    status : int
        401 (no or bad credentials) or 403 (valid, not allowed).
    reason : str
        What is wrong, for the answer.
    """

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Verifier(Protocol):
    """Checks Firebase credentials (:class:`FirebaseVerifier`; a fake in unit tests)."""

    def user_of_id_token(self, token: str, *, strict: bool = True) -> tuple[User, float]:
        """Return the token's user and its sign-in time (POSIX s); raise AuthRefused."""

    def user_of_session(self, cookie: str, *, strict: bool = False) -> User:
        """Return the session cookie's user; raise AuthRefused."""

    def make_session(self, token: str, days: int) -> str:
        """Return a session cookie for a verified ID token."""


@dataclass(frozen=True)
class AuthConfig:
    """Where the sign-in page signs in.

    Attributes
    ----------
    project_id : str
        The Firebase (Google Cloud) project: tokens must be issued for it.
    api_key : str or None
        The project's Web API key (``PANOPTES_FIREBASE_API_KEY``); None disables sign-in
        (the page says so). The Auth emulator takes any key.
    auth_origin : str
        Where the browser signs in: ``https://identitytoolkit.googleapis.com``, or the
        emulator's ``http://<FIREBASE_AUTH_EMULATOR_HOST>/identitytoolkit.googleapis.com``.
    secure_cookies : bool
        Cookies only over HTTPS (false only with the emulator, on plain http locally).
    """

    project_id: str
    api_key: str | None
    auth_origin: str
    secure_cookies: bool

    @classmethod
    def from_env(cls, project_id: str) -> AuthConfig:
        """Return the configuration of the environment (the emulator when its host is set)."""
        emulator = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST", "").strip()
        key = os.environ.get("PANOPTES_FIREBASE_API_KEY", "").strip() or None
        if emulator:
            return cls(
                project_id,
                key or "local-emulator",
                f"http://{emulator}/identitytoolkit.googleapis.com",
                False,
            )
        return cls(project_id, key, "https://identitytoolkit.googleapis.com", True)

    @property
    def connect_origin(self) -> str:
        """The origin the sign-in script talks to (for the Content-Security-Policy)."""
        scheme, _, rest = self.auth_origin.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


def _user(claims: dict) -> User:
    uid = claims.get("uid") or claims.get("sub")
    if not isinstance(uid, str) or not uid:
        raise AuthRefused(401, "the token names no user")
    email = claims.get("email")
    return User(
        uid=uid,
        email=email if isinstance(email, str) else None,
        email_verified=claims.get("email_verified") is True,
        admin=claims.get("admin") is True,
    )


class FirebaseVerifier:
    """Verifies ID tokens and session cookies with firebase-admin, for one project.

    The firebase-admin app is made at first use (named, so it never clashes with another
    app in the process). With ``FIREBASE_AUTH_EMULATOR_HOST`` set, firebase-admin talks to
    the emulator.

    Parameters
    ----------
    project_id : str
        Tokens must be issued for this project.
    credential : firebase_admin.credentials.Base, optional
        The app's credential: Application Default Credentials by default (Cloud Run's
        service account). Verifying a token needs none beyond the project id; making a
        session cookie calls Firebase with it.
    """

    def __init__(self, project_id: str, credential: object | None = None):
        self._project_id = project_id
        self._credential = credential
        self._app = None
        self._lock = threading.Lock()

    def _auth(self):
        import firebase_admin
        from firebase_admin import auth

        with self._lock:
            if self._app is None:
                name = f"panoptes-explorer-{self._project_id}"
                try:
                    self._app = firebase_admin.get_app(name)
                except ValueError:
                    self._app = firebase_admin.initialize_app(
                        self._credential, options={"projectId": self._project_id}, name=name
                    )
        return auth, self._app

    def user_of_id_token(self, token: str, *, strict: bool = True) -> tuple[User, float]:
        """Verify an ID token; return its user and sign-in time (POSIX s).

        ``strict`` (for writes): the token must not be revoked, and the user is read from
        Firebase (:meth:`_current_user`) rather than from the token's claims.
        """
        auth, app = self._auth()
        try:
            claims = auth.verify_id_token(
                token, app=app, check_revoked=strict, clock_skew_seconds=_SKEW_S
            )
            _check_times(claims)
            user = self._current_user(claims) if strict else _user(claims)
        except (
            ValueError,
            auth.InvalidIdTokenError,
            auth.ExpiredIdTokenError,
            auth.RevokedIdTokenError,
            auth.UserDisabledError,
            auth.UserNotFoundError,
        ) as exc:
            raise AuthRefused(401, f"the ID token was refused: {_short(exc)}") from None
        except auth.CertificateFetchError as exc:
            raise AuthRefused(503, f"the token keys could not be fetched: {_short(exc)}") from None
        return user, float(claims.get("auth_time") or 0)

    def user_of_session(self, cookie: str, *, strict: bool = False) -> User:
        """Verify a session cookie; return its user (``strict``: as for an ID token)."""
        auth, app = self._auth()
        try:
            claims = auth.verify_session_cookie(
                cookie, app=app, check_revoked=strict, clock_skew_seconds=_SKEW_S
            )
            _check_times(claims)
            return self._current_user(claims) if strict else _user(claims)
        except (
            ValueError,
            auth.InvalidSessionCookieError,
            auth.ExpiredSessionCookieError,
            auth.RevokedSessionCookieError,
            auth.UserDisabledError,
            auth.UserNotFoundError,
        ) as exc:
            raise AuthRefused(401, f"the session was refused: {_short(exc)}") from None
        except auth.CertificateFetchError as exc:
            raise AuthRefused(
                503, f"the session keys could not be fetched: {_short(exc)}"
            ) from None

    def _current_user(self, claims: dict) -> User:
        """Return the token's user as Firebase holds it now (address, verification, claims).

        A write trusts what Firebase says, not what the token says: a user disabled, a
        verification or an admin claim withdrawn since the token was issued counts at once
        (and with the Auth emulator, whose tokens are unsigned, a token whose claims were
        changed by hand does not make anyone verified or an admin).
        """
        auth, app = self._auth()
        uid = _user(claims).uid
        record = auth.get_user(uid, app=app)
        if record.disabled:
            raise ValueError(f"user {uid} is disabled")
        custom = record.custom_claims or {}
        return User(
            uid=uid,
            email=record.email,
            email_verified=bool(record.email_verified),
            admin=custom.get("admin") is True,
        )

    def make_session(self, token: str, days: int) -> str:
        """Return a session cookie for an ID token (firebase-admin asks Firebase for it)."""
        auth, app = self._auth()
        try:
            return auth.create_session_cookie(token, timedelta(days=days), app=app)
        except (ValueError, auth.InvalidIdTokenError) as exc:
            raise AuthRefused(401, f"no session for that token: {_short(exc)}") from None


def _check_times(claims: dict) -> None:
    """Refuse a token or cookie that has expired or is issued in the future.

    firebase-admin checks this with the signature; with the Auth emulator it checks no
    signature and so no times either: this check holds in both.
    """
    now = time.time()
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, (int, float)) or expires < now - _SKEW_S:
        raise ValueError("the token has expired")
    if not isinstance(issued, (int, float)) or issued > now + _SKEW_S:
        raise ValueError("the token is issued in the future")


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def request_user(
    verifier: Verifier, request: flask.Request, *, strict: bool = False
) -> tuple[User | None, bool]:
    """Return who sends a request, and whether by bearer token (no CSRF check needed).

    Parameters
    ----------
    verifier : Verifier
        Checks the credentials.
    request : flask.Request
        The request: ``Authorization: Bearer <ID token>``, else the session cookie.
    strict : bool
        For a write: credentials not revoked, and the user as Firebase holds it now.

    Returns
    -------
    (User or None, bool)
        The user (None when the request carries no credentials), and True for a bearer
        token.

    Raises
    ------
    AuthRefused
        Credentials that do not verify (401).
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthRefused(401, "Authorization must be 'Bearer <Firebase ID token>'")
        user, _ = verifier.user_of_id_token(token.strip(), strict=strict)
        return user, True
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return verifier.user_of_session(cookie, strict=strict), False
    return None, False


def csrf_token(request: flask.Request) -> str:
    """Return the request's CSRF token (its cookie's), or a new one to set."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if len(current) == 43 and current.replace("-", "").replace("_", "").isalnum():
        return current
    return secrets.token_urlsafe(32)


def csrf_problem(request: flask.Request) -> str | None:
    """Return why a cookie-authenticated write fails the CSRF check, or None when it passes.

    Parameters
    ----------
    request : flask.Request
        A POST carrying the session cookie.

    Returns
    -------
    str or None
        The reason (the answer is 403), or None.
    """
    origin = request.headers.get("Origin")
    if origin and origin != request.host_url.rstrip("/"):
        return f"a form of another site ({origin[:80]}) cannot write here"
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        return "the CSRF token is missing or wrong: reload the page and try again"
    return None
