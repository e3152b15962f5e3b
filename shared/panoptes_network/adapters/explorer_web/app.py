"""The Data Explorer's Flask application: server-rendered pages and their JSON twins.

Every page has a twin under ``/api/v1`` that answers the same read model as JSON (described
by ``/api/v1/openapi.json``), and links to it. Pages are plain HTML with one stylesheet and
no script. The read models (:mod:`panoptes_network.explorer`) do the work; this module only
turns a request into their arguments and their answers into HTML or JSON:

- 400 for a bad query parameter, 404 for an unknown id or path, 405 for a method other than
  GET, HEAD and OPTIONS, 503 when Firestore does not answer: JSON ``{"error": ...}`` under
  ``/api/``, a small HTML page elsewhere;
- anything unexpected is logged and answered 500 with one line, never a stack trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import flask
from google.api_core import exceptions as google_errors
from werkzeug.exceptions import HTTPException

from panoptes_network.adapters.explorer_web.accounts import (
    Accounts,
    page_csrf_token,
    register_accounts,
    set_csrf_cookie,
)
from panoptes_network.adapters.explorer_web.analysis_files import (
    SummaryCache,
    register_analysis_files,
)
from panoptes_network.adapters.explorer_web.answers import API_PREFIX, error_answer, is_api
from panoptes_network.adapters.explorer_web.auth import AuthConfig, FirebaseVerifier, Verifier
from panoptes_network.adapters.explorer_web.documents import LazyDocuments, LazyObjects
from panoptes_network.adapters.explorer_web.downloads import register_downloads
from panoptes_network.adapters.explorer_web.plotly_assets import preempted_style_ids
from panoptes_network.adapters.http_json import json_answer
from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.explorer import (
    home,
    image,
    observation,
    observations,
    openapi_document,
    unit,
    units,
)
from panoptes_network.explorer.analysed_stars import analysed_stars
from panoptes_network.explorer.candidate import candidate
from panoptes_network.explorer.detections import candidates
from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.params import (
    analysed_stars_arguments,
    candidates_arguments,
    home_arguments,
    observations_arguments,
    page_arguments,
)
from panoptes_network.explorer.stars import DataReader, star
from panoptes_network.pipeline.log import log
from panoptes_network.pipeline.ports import DocumentStore, ObjectStore
from panoptes_network.pipeline.settings import Settings

__all__ = ["API_PREFIX", "PAGES", "create_app"]

#: Methods every endpoint answers.
_METHODS = "GET, HEAD, OPTIONS"
#: Name of the app's state in ``app.extensions``.
_STATE = "panoptes_explorer"
#: Firestore faults that pass: the answer is 503, try again.
_UNAVAILABLE = (
    google_errors.ServiceUnavailable,
    google_errors.DeadlineExceeded,
    google_errors.TooManyRequests,
)


@dataclass(frozen=True)
class _State:
    settings: Settings
    documents: Callable[[], DocumentStore]
    read_data: DataReader
    accounts: Accounts
    analysis: SummaryCache

    @property
    def analysis_hash(self) -> str:
        """The analysis the pages show (``DEFAULT_ANALYSIS``'s hash unless told)."""
        return self.analysis.analysis_hash


def _state() -> _State:
    return flask.current_app.extensions[_STATE]


def _no_parameters(args: Mapping[str, Any]) -> None:
    if args:
        name = sorted(args)[0][:40]
        raise InvalidQuery(name, "is not a parameter here: this page takes none")


def _home(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    return home(state.documents(), **home_arguments(args))


def _units(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    _no_parameters(args)
    return units(state.documents())


def _unit(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    return unit(state.documents(), path["unit_id"], **page_arguments(args))


def _observations(
    state: _State, args: Mapping[str, Any], path: Mapping[str, str]
) -> dict[str, Any]:
    return observations(state.documents(), **observations_arguments(args))


def _observation(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    return observation(
        state.documents(), path["sequence_id"], settings=state.settings, **page_arguments(args)
    )


def _image(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    _no_parameters(args)
    return image(state.documents(), path["image_id"], settings=state.settings)


def _star(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    _no_parameters(args)
    return star(
        state.documents(),
        path["picid"],
        read_data=state.read_data,
        analysis_hash=state.analysis_hash,
    )


def _analysed_stars(
    state: _State, args: Mapping[str, Any], path: Mapping[str, str]
) -> dict[str, Any]:
    return analysed_stars(state.documents(), **analysed_stars_arguments(args))


def _candidates(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    return candidates(state.documents(), state.analysis_hash, **candidates_arguments(args))


def _candidate(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    _no_parameters(args)
    return candidate(
        state.documents(),
        path["detection_id"],
        read_data=state.read_data,
        analysis_hash=state.analysis_hash,
    )


def _analysis(state: _State, args: Mapping[str, Any], path: Mapping[str, str]) -> dict[str, Any]:
    _no_parameters(args)
    return state.analysis.get()


def _find_star() -> flask.Response:
    """Answer the header's star form: redirect ``/stars?picid=N`` to the star's page."""
    picid = flask.request.args.get("picid", "").strip()
    if not picid.isascii() or not picid.isdigit() or len(picid) > 16:
        return _error(400, "picid: give the star's PICID, a whole number (e.g. 261136679)")
    return flask.redirect(flask.url_for("explorer.star", picid=int(picid)), code=303)


@dataclass(frozen=True)
class Page:
    """One page and its JSON twin.

    Attributes
    ----------
    name : str
        Endpoint name: ``<name>`` for the page, ``api_<name>`` for the twin.
    rule : str
        The page's URL rule; the twin's is ``/api/v1`` + the rule (``/api/v1/home`` for
        ``/``).
    template : str
        The page's Jinja template.
    model : callable
        ``(state, args, path) -> dict``: the read model's answer.
    """

    name: str
    rule: str
    template: str
    model: Callable[[_State, Mapping[str, Any], Mapping[str, str]], dict[str, Any]]

    @property
    def api_rule(self) -> str:
        """The twin's URL rule."""
        return API_PREFIX + (self.rule if self.rule != "/" else "/home")


#: Every page, each with its twin.
PAGES: tuple[Page, ...] = (
    Page("home", "/", "home.html", _home),
    Page("units", "/units", "units.html", _units),
    Page("unit", "/units/<unit_id>", "unit.html", _unit),
    Page("observations", "/observations", "observations.html", _observations),
    Page("observation", "/observations/<sequence_id>", "observation.html", _observation),
    Page("image", "/images/<image_id>", "image.html", _image),
    Page("star", "/stars/<picid>", "star.html", _star),
    Page("analysed_stars", "/analysis/stars", "analysed_stars.html", _analysed_stars),
    Page("candidates", "/analysis/candidates", "candidates.html", _candidates),
    Page("candidate", "/analysis/candidates/<detection_id>", "candidate.html", _candidate),
    Page("analysis", "/analysis", "analysis.html", _analysis),
)


def _error(status: int, message: str) -> flask.Response:
    """Answer an error: JSON under ``/api/``, an HTML page elsewhere."""
    return error_answer(status, message, _METHODS)


def _page_view(page: Page, api: bool) -> Callable[..., flask.Response]:
    def view(**path: str) -> flask.Response:
        state = _state()
        args = flask.request.args.to_dict(flat=False)
        try:
            data = page.model(state, args, path)
        except NotFound as exc:
            return _error(404, exc.reason)
        except InvalidQuery as exc:
            return _error(400, exc.reason)
        if api:
            return json_answer(200, data, _METHODS)
        api_url = flask.url_for(f"explorer.api_{page.name}", **path, **_flat(args))
        html = flask.render_template(page.template, data=data, api_url=api_url, path=path)
        return flask.Response(html, status=200, mimetype="text/html")

    view.__name__ = f"{'api_' if api else ''}{page.name}"
    return view


def _flat(args: Mapping[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in args.items() if v and v[0] != ""}


def page_url(**changes: Any) -> str:
    """Return this page's URL with some query parameters changed (None removes one)."""
    args = _flat(flask.request.args.to_dict(flat=False))
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = str(value)
    return flask.url_for(
        flask.request.endpoint or "explorer.home", **flask.request.view_args or {}, **args
    )


def _dash(value: Any) -> Any:
    return "—" if value is None or value == "" else value


def _num(value: Any, digits: int = 2) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}" if math.isfinite(value) else "—"


def _percent(value: Any, digits: int = 2) -> str:
    """Return a fraction as a percentage (``0.0123`` -> ``1.23``), or a dash."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{100 * value:,.{digits}f}"


def _minutes(value: Any, digits: int = 0) -> str:
    """Return seconds as minutes, or a dash."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{value / 60:,.{digits}f}"


def _significant(value: Any, digits: int = 3) -> str:
    """Return a number to ``digits`` significant digits (a probability), or a dash."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{value:.{digits}g}"


def _when(value: Any) -> str:
    if not isinstance(value, str) or "T" not in value:
        return "—"
    day, _, rest = value.partition("T")
    clock = rest[:8]
    zone = " UTC" if rest.endswith("+00:00") else ""
    return f"{day} {clock}{zone}"


def _web_url(value: Any) -> str | None:
    """Return a stored URL only if it is http(s): a link never runs a ``javascript:`` URL."""
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return value
    return None


def _security_headers(response: flask.Response) -> flask.Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        accounts = _state().accounts
        set_csrf_cookie(response, accounts.config)
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; "
            "img-src 'self' https: http: data:; "
            f"connect-src 'self' {accounts.config.connect_origin}; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        )
    if is_api():
        response.headers.setdefault("Access-Control-Allow-Origin", "*")
        response.headers.setdefault("Access-Control-Allow-Methods", _METHODS)
    return response


def _register_errors(app: flask.Flask) -> None:
    def http_error(error: HTTPException) -> flask.Response:
        code = error.code or 500
        return _error(code, f"{code} {error.name}")

    def unavailable(error: Exception) -> flask.Response:
        log("WARNING", f"data-explorer: Firestore did not answer: {type(error).__name__}")
        return _error(503, "the document store did not answer; try again shortly")

    def crash(error: Exception) -> flask.Response:
        log("ERROR", f"data-explorer: unhandled {type(error).__name__}", error=str(error)[:300])
        return _error(500, "500 Internal Server Error; see the service log")

    app.register_error_handler(HTTPException, http_error)
    for kind in _UNAVAILABLE:
        app.register_error_handler(kind, unavailable)
    app.register_error_handler(Exception, crash)


def create_app(
    *,
    documents: DocumentStore | None = None,
    settings: Settings | None = None,
    objects: ObjectStore | None = None,
    verifier: Verifier | None = None,
    analysis_hash: str | None = None,
) -> flask.Flask:
    """Return the Data Explorer application.

    Parameters
    ----------
    documents : DocumentStore, optional
        Where to read; by default Firestore of ``settings.project_id`` (the emulator when
        ``FIRESTORE_EMULATOR_HOST`` is set), made at the first request.
    settings : Settings, optional
        ``Settings.from_env()`` by default.
    objects : ObjectStore, optional
        Where the runs' data files are read (``settings.lightcurves_bucket``); by default
        Cloud Storage (fake-gcs-server when ``STORAGE_EMULATOR_HOST`` is set), made at the
        first read.
    verifier : Verifier, optional
        Checks sign-in tokens and sessions: firebase-admin for ``settings.project_id`` by
        default (the Auth emulator when ``FIREBASE_AUTH_EMULATOR_HOST`` is set).
    analysis_hash : str, optional
        The analysis whose detections, coverage and completeness the pages show:
        ``DEFAULT_ANALYSIS.config_hash()`` by default.

    Returns
    -------
    flask.Flask
        A WSGI application (``gunicorn main:app``).
    """
    settings = settings if settings is not None else Settings.from_env()
    if documents is not None:
        store = documents

        def read() -> DocumentStore:
            return store

    else:
        read = LazyDocuments(settings).get
    app = flask.Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    accounts = Accounts(
        read,
        verifier if verifier is not None else FirebaseVerifier(settings.project_id),
        AuthConfig.from_env(settings.project_id),
    )
    app.extensions[_STATE] = _State(
        settings,
        read,
        LazyObjects(settings, objects).read_data,
        accounts,
        SummaryCache(read, analysis_hash or DEFAULT_ANALYSIS.config_hash()),
    )
    blueprint = flask.Blueprint(
        "explorer",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    for page in PAGES:
        blueprint.add_url_rule(page.rule, page.name, _page_view(page, api=False))
        blueprint.add_url_rule(page.api_rule, f"api_{page.name}", _page_view(page, api=True))
    blueprint.add_url_rule("/stars", "find_star", _find_star)
    blueprint.add_url_rule(
        f"{API_PREFIX}/openapi.json",
        "api_openapi",
        lambda: json_answer(200, openapi_document(), _METHODS),
    )
    register_downloads(
        blueprint, API_PREFIX, _METHODS, lambda: (_state().documents(), _state().read_data)
    )
    register_analysis_files(
        blueprint,
        API_PREFIX,
        _METHODS,
        lambda: (_state().documents(), _state().read_data, _state().analysis),
    )
    register_accounts(blueprint, API_PREFIX, lambda: _state().accounts)
    app.register_blueprint(blueprint)
    app.add_template_global(page_url, "page_url")
    app.add_template_global(page_csrf_token, "csrf_token")
    app.add_template_global(preempted_style_ids, "plotly_preempted_ids")
    app.add_template_global(lambda: _state().accounts.current_user(), "current_user")
    app.add_template_filter(_dash, "dash")
    app.add_template_filter(_num, "num")
    app.add_template_filter(_when, "when")
    app.add_template_filter(_percent, "percent")
    app.add_template_filter(_minutes, "minutes")
    app.add_template_filter(_significant, "significant")
    app.add_template_filter(_web_url, "web_url")
    app.after_request(_security_headers)
    _register_errors(app)
    return app
