"""JSON answers with CORS headers, for the HTTP services."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import flask

from panoptes_network.pipeline.errors import NotFound, PermanentFailure
from panoptes_network.pipeline.log import log

__all__ = [
    "MAX_NUMBER",
    "RequestRefused",
    "json_answer",
    "read_json",
    "request_or_sweep",
    "screen_request",
]

#: Largest magnitude of a number in a request: larger ones, and NaN or Infinity, are refused.
MAX_NUMBER = 1e12


class RequestRefused(Exception):
    """A request body the service will not read (too large, not JSON, bad numbers).

    Parameters
    ----------
    status : int
        400 or 413.
    reason : str
        What is wrong, in one line.
    """

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(reason)


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise RequestRefused(400, f"the number {text[:40]} is out of range (|x| <= 1e12)")
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > 13:
        raise RequestRefused(400, f"the number {text[:40]}... is out of range (|x| <= 1e12)")
    return int(text)


def _constant(name: str) -> Any:
    raise RequestRefused(400, f"{name} is not a number a request may hold")


def read_json(request: flask.Request, max_bytes: int) -> Any:
    """Read a request's JSON body, bounded and strict.

    The body is read from the stream up to ``max_bytes + 1`` bytes, so a chunked body is
    bounded like one with a ``Content-Length``. ``NaN``, ``Infinity`` and numbers beyond
    :data:`MAX_NUMBER` are refused.

    Parameters
    ----------
    request : flask.Request
        The request.
    max_bytes : int
        Largest body accepted, in bytes.

    Returns
    -------
    object
        The decoded JSON, or None for an empty body.

    Raises
    ------
    RequestRefused
        413 for a body over ``max_bytes``; 400 for a body that is not UTF-8 JSON or holds a
        refused number.
    """
    if (request.content_length or 0) > max_bytes:
        raise RequestRefused(413, f"request body is over {max_bytes} bytes")
    data = request.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RequestRefused(413, f"request body is over {max_bytes} bytes")
    if not data.strip():
        return None
    try:
        return json.loads(
            data.decode("utf-8"),
            parse_float=_number,
            parse_int=_integer,
            parse_constant=_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RequestRefused(400, f"request body is not JSON: {exc}"[:200]) from None


def quiet_error_pages(app: flask.Flask) -> None:
    """Answer every HTTP error and crash as one line of JSON that echoes nothing of the request.

    Flask's and functions-framework's default pages are HTML, and functions-framework's page
    for a body that is neither a CloudEvent nor a push quotes the request's headers and body.

    Parameters
    ----------
    app : flask.Flask
        The application (functions-framework's).
    """
    from werkzeug.exceptions import HTTPException

    def http_error(error: HTTPException) -> flask.Response:
        if error.response is not None:  # an answer a service made itself (401, 403 ...)
            return error.response
        return json_answer(error.code or 500, {"error": f"{error.code} {error.name}"}, "POST")

    def crash(error: Exception) -> flask.Response:
        log("ERROR", f"unhandled {type(error).__name__}", error=str(error)[:300])
        return json_answer(500, {"error": "500 Internal Server Error; see the service log"}, "POST")

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, crash)


def json_answer(status: int, body: dict[str, Any], methods: str) -> flask.Response:
    """Return ``body`` as JSON with ``status`` and open CORS headers.

    Parameters
    ----------
    status : int
        HTTP status code.
    body : dict
        The JSON body.
    methods : str
        Methods the service answers, e.g. ``"GET, POST, OPTIONS"``.

    Returns
    -------
    flask.Response
        The response.
    """
    response = flask.jsonify(body)
    response.status_code = status
    response.headers.update(
        {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": methods,
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "3600",
        }
    )
    return response


def screen_request(
    request: flask.Request, methods: tuple[str, ...], max_bytes: int, usage: str
) -> flask.Response | None:
    """Answer what no service handles itself: CORS preflight, other methods, huge bodies.

    Parameters
    ----------
    request : flask.Request
        The request.
    methods : tuple of str
        Methods the service answers (besides ``OPTIONS``).
    max_bytes : int
        Largest body accepted, in bytes.
    usage : str
        How to call the service, for the 405 message.

    Returns
    -------
    flask.Response or None
        204 for ``OPTIONS``, 405 for another method, 413 for a body over ``max_bytes``; None
        when the service should answer the request itself.
    """
    allowed = ", ".join((*methods, "OPTIONS"))
    if request.method == "OPTIONS":
        return json_answer(204, {}, allowed)
    if request.method not in methods:
        return json_answer(405, {"error": usage}, allowed)
    if (request.content_length or 0) > max_bytes:
        return json_answer(413, {"error": f"request body is over {max_bytes} bytes"}, allowed)
    return None


def request_or_sweep(
    request: flask.Request,
    *,
    service: str,
    usage: str,
    max_bytes: int,
    explicit: Callable[[Any], dict[str, Any]],
    sweep: Callable[[dict[str, Any]], dict[str, Any]],
    accepted: Callable[[dict[str, Any]], bool] = lambda answer: True,
) -> flask.Response:
    """Answer a POST-only request service: ``POST /`` for one item, ``POST /sweep`` for all due.

    Parameters
    ----------
    request : flask.Request
        The request.
    service : str
        Name of the service, for the log.
    usage : str
        How to call it, for refused requests.
    max_bytes : int
        Largest body accepted, in bytes.
    explicit : callable
        Handles the JSON body of ``POST /``; raises :class:`~..errors.PermanentFailure` for a
        bad request: 404 when it is a
        :class:`~panoptes_network.pipeline.errors.NotFound`, else 400.
    sweep : callable
        Handles the (possibly empty) JSON object of ``POST /sweep``.
    accepted : callable
        Whether an answer queued work (202) or not (200).

    Returns
    -------
    flask.Response
        JSON, with CORS headers.
    """
    refused = screen_request(request, ("POST",), max_bytes, usage)
    if refused is not None:
        return refused
    try:
        body = read_json(request, max_bytes)
    except RequestRefused as exc:
        log("WARNING", f"{service}: {exc.reason}", service=service, status=exc.status)
        return json_answer(exc.status, {"error": exc.reason}, "POST, OPTIONS")
    try:
        if request.path.rstrip("/").endswith("/sweep"):
            if body is not None and not isinstance(body, dict):
                raise PermanentFailure("the sweep's body must be a JSON object")
            answer = sweep(body or {})
        else:
            if body is None:
                raise PermanentFailure("request body is not JSON")
            answer = explicit(body)
    except PermanentFailure as exc:
        status = 404 if isinstance(exc, NotFound) else 400
        log("WARNING", f"{service}: {exc.reason}", service=service, status=status)
        return json_answer(status, {"error": exc.reason}, "POST, OPTIONS")
    log("INFO", f"{service}: answered", service=service, **answer)
    return json_answer(202 if accepted(answer) else 200, answer, "POST, OPTIONS")
