"""The explorer's writes: sign-in, sign-out and flags, each checked (see :mod:`.auth`).

Routes:

- ``GET /signin``: the sign-in page; ``POST /session`` (JSON ``{"id_token"}``, CSRF; its
  answers, refusals too, are JSON: the sign-in script reads them): verifies the ID token
  (signed in within :data:`~.auth.MAX_SIGN_IN_AGE_S`) and sets the session cookie;
  ``POST /signout`` (form, CSRF) clears it; ``GET /api/v1/me``: who the request is signed
  in as.
- ``POST /api/v1/flags`` (JSON) and ``POST /flags`` (form): a new flag. Needs a signed-in
  user with a verified address (401 without credentials or with credentials that do not
  verify; 403 for an unverified address or a failed CSRF check); the JSON answer is 201
  ``{"flag_id", "flag"}``, the form redirects back to the page it came from.
- ``POST /api/v1/flags/<flag_id>/remove`` and ``POST /flags/<flag_id>/remove``: an admin
  (custom claim ``admin``) marks a flag removed.

Nothing is written unless every check passes. Bodies over :data:`MAX_BODY_BYTES` are
refused (413).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import flask

from panoptes_network.adapters.explorer_web.answers import error_answer, is_api
from panoptes_network.adapters.explorer_web.auth import (
    CSRF_COOKIE,
    MAX_SIGN_IN_AGE_S,
    SESSION_COOKIE,
    SESSION_DAYS,
    AuthConfig,
    AuthRefused,
    Verifier,
    csrf_problem,
    csrf_token,
    request_user,
)
from panoptes_network.adapters.http_json import json_answer
from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.flags import User, new_flag, remove_flag, write_flag
from panoptes_network.pipeline.log import log
from panoptes_network.pipeline.ports import DocumentStore

__all__ = ["MAX_BODY_BYTES", "Accounts", "register_accounts"]

#: Largest body of a write (B): a points flag of 2,000 times is about 40 kB.
MAX_BODY_BYTES = 64 * 1024
_WRITE = "POST, OPTIONS"


class Accounts:
    """What the account and flag views need: the store, the verifier, the configuration.

    Parameters
    ----------
    documents : callable
        ``() -> DocumentStore``.
    verifier : Verifier
        Checks tokens and sessions.
    config : AuthConfig
        Where the sign-in page signs in; whether cookies are Secure.
    """

    def __init__(
        self, documents: Callable[[], DocumentStore], verifier: Verifier, config: AuthConfig
    ):
        self.documents = documents
        self.verifier = verifier
        self.config = config

    def current_user(self) -> User | None:
        """Return the page request's signed-in user, or None (a bad session is no user)."""
        if "panoptes_user" not in flask.g:
            try:
                flask.g.panoptes_user = request_user(self.verifier, flask.request)[0]
            except AuthRefused:
                flask.g.panoptes_user = None
        return flask.g.panoptes_user


def _refuse(status: int, reason: str, *, as_json: bool = False) -> flask.Response:
    return error_answer(status, reason, _WRITE, as_json=as_json)


def _back(default: str) -> str:
    """Return the form's ``next`` path when it is a path of this site, else ``default``."""
    target = flask.request.form.get("next", "")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def _writer(accounts: Accounts, *, admin: bool = False) -> User:
    """Return the user allowed to write, or raise AuthRefused (nothing written)."""
    if (flask.request.content_length or 0) > MAX_BODY_BYTES:
        raise AuthRefused(413, f"the request body is over {MAX_BODY_BYTES // 1024} KiB")
    user, bearer = request_user(accounts.verifier, flask.request, strict=True)
    if user is None:
        raise AuthRefused(401, "sign in first (a session cookie or a Bearer ID token)")
    if not bearer:
        problem = csrf_problem(flask.request)
        if problem:
            raise AuthRefused(403, problem)
    if not user.email_verified:
        raise AuthRefused(403, "flagging needs a verified email address")
    if admin and not user.admin:
        raise AuthRefused(403, "removing a flag needs an admin")
    return user


def _form_flag() -> dict[str, Any]:
    form = flask.request.form
    request: dict[str, Any] = {
        k: form[k] for k in ("target", "sequence_id", "image_id", "run_id", "reason") if form.get(k)
    }
    if form.get("picid"):
        request["picid"] = form["picid"]
    if form.get("times"):
        try:
            request["times"] = [float(t) for t in form["times"].split(",") if t.strip()]
        except ValueError:
            raise InvalidQuery("times", "must be POSIX seconds separated by commas") from None
    return request


def register_accounts(
    blueprint: flask.Blueprint, api_prefix: str, accounts: Callable[[], Accounts]
) -> None:
    """Add the sign-in and flag routes to the explorer's blueprint.

    Parameters
    ----------
    blueprint : flask.Blueprint
        The explorer's.
    api_prefix : str
        ``/api/v1``.
    accounts : callable
        ``() -> Accounts`` of the running app.
    """

    def signin() -> flask.Response:
        config = accounts().config
        html = flask.render_template("signin.html", config=config, data={})
        return flask.Response(html, mimetype="text/html")

    def session() -> flask.Response:
        state = accounts()
        problem = csrf_problem(flask.request)
        if problem:
            return _refuse(403, problem, as_json=True)
        body = flask.request.get_json(silent=True)
        token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not 0 < len(token) <= 8192:
            return _refuse(400, 'send JSON {"id_token": "<Firebase ID token>"}', as_json=True)
        try:
            user, signed_in = state.verifier.user_of_id_token(token)
            if time.time() - signed_in > MAX_SIGN_IN_AGE_S:
                raise AuthRefused(401, "the sign-in is too old to start a session: sign in again")
            cookie = state.verifier.make_session(token, SESSION_DAYS)
        except AuthRefused as exc:
            return _refuse(exc.status, exc.reason, as_json=True)
        answer = json_answer(200, _user_json(user), _WRITE)
        answer.set_cookie(
            SESSION_COOKIE,
            cookie,
            max_age=SESSION_DAYS * 86400,
            httponly=True,
            secure=state.config.secure_cookies,
            samesite="Lax",
        )
        return answer

    def signout() -> flask.Response:
        problem = csrf_problem(flask.request)
        if problem:
            return _refuse(403, problem)
        answer = flask.redirect(_back(flask.url_for("explorer.home")), code=303)
        answer.delete_cookie(SESSION_COOKIE)
        return answer

    def me() -> flask.Response:
        user = accounts().current_user()
        body = {"signed_in": user is not None, "user": _user_json(user) if user else None}
        return json_answer(200, body, "GET, HEAD, OPTIONS")

    def add_flag() -> flask.Response:
        state = accounts()
        try:
            user = _writer(state)
            request = flask.request.get_json(silent=True) if is_api() else _form_flag()
            flag = new_flag(state.documents(), request, user, datetime.now(timezone.utc))
            flag_id = write_flag(state.documents(), flag)
        except AuthRefused as exc:
            return _refuse(exc.status, exc.reason)
        except InvalidQuery as exc:
            return _refuse(400, exc.reason)
        except NotFound as exc:
            return _refuse(404, exc.reason)
        log(
            "INFO",
            "data-explorer: flag written",
            flag_id=flag_id,
            target=flag["target"],
            user=user.uid,
        )
        if is_api():
            return json_answer(201, {"flag_id": flag_id, "flag": _flag_json(flag)}, _WRITE)
        return flask.redirect(_back(flask.url_for("explorer.home")), code=303)

    def drop_flag(flag_id: str) -> flask.Response:
        state = accounts()
        try:
            user = _writer(state, admin=True)
            removed = remove_flag(state.documents(), flag_id, user, datetime.now(timezone.utc))
        except AuthRefused as exc:
            return _refuse(exc.status, exc.reason)
        except NotFound as exc:
            return _refuse(404, exc.reason)
        log("INFO", "data-explorer: flag removed", flag_id=flag_id, user=user.uid)
        if is_api():
            return json_answer(200, removed, _WRITE)
        return flask.redirect(_back(flask.url_for("explorer.home")), code=303)

    blueprint.add_url_rule("/signin", "signin", signin)
    blueprint.add_url_rule("/session", "session", session, methods=["POST"])
    blueprint.add_url_rule("/signout", "signout", signout, methods=["POST"])
    blueprint.add_url_rule(f"{api_prefix}/me", "api_me", me)
    blueprint.add_url_rule("/flags", "flag", add_flag, methods=["POST"])
    blueprint.add_url_rule(f"{api_prefix}/flags", "api_flag", add_flag, methods=["POST"])
    blueprint.add_url_rule("/flags/<flag_id>/remove", "remove_flag", drop_flag, methods=["POST"])
    blueprint.add_url_rule(
        f"{api_prefix}/flags/<flag_id>/remove", "api_remove_flag", drop_flag, methods=["POST"]
    )


def _user_json(user: User) -> dict[str, Any]:
    return {
        "uid": user.uid,
        "email": user.email,
        "email_verified": user.email_verified,
        "admin": user.admin,
    }


def _flag_json(flag: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in flag.items()
        if k != "user_uid"
    }


def set_csrf_cookie(response: flask.Response, config: AuthConfig) -> flask.Response:
    """Set the CSRF cookie on an HTML answer whose page used a new token."""
    token = flask.g.get("panoptes_new_csrf")
    if token:
        response.set_cookie(
            CSRF_COOKIE, token, httponly=True, secure=config.secure_cookies, samesite="Strict"
        )
    return response


def page_csrf_token() -> str:
    """Return the CSRF token for this page's forms (a template global)."""
    if "panoptes_csrf" not in flask.g:
        token = csrf_token(flask.request)
        flask.g.panoptes_csrf = token
        if token != flask.request.cookies.get(CSRF_COOKIE):
            flask.g.panoptes_new_csrf = token
    return flask.g.panoptes_csrf
