"""JSON answers with CORS headers, for the HTTP services."""

from __future__ import annotations

from typing import Any

import flask

__all__ = ["json_answer", "screen_request"]


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
