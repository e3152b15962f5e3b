"""JSON answers with CORS headers, for the HTTP services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask

from panoptes_network.pipeline.errors import NotFound, PermanentFailure
from panoptes_network.pipeline.log import log

__all__ = ["json_answer", "screen_request", "request_or_sweep"]


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
    body = request.get_json(force=True, silent=True)
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
