"""How the explorer answers an error: JSON under ``/api/v1``, a small HTML page elsewhere."""

from __future__ import annotations

import flask

from panoptes_network.adapters.http_json import json_answer

__all__ = ["API_PREFIX", "error_answer", "is_api"]

#: Where the JSON twins and the API's writes are.
API_PREFIX = "/api/v1"


def is_api() -> bool:
    """Whether the current request is one of the JSON API's."""
    path = flask.request.path
    return path.startswith(API_PREFIX + "/") or path == API_PREFIX


def error_answer(
    status: int, message: str, methods: str, *, as_json: bool = False
) -> flask.Response:
    """Answer an error: ``{"error": message}`` for the API (or ``as_json``), else HTML.

    Parameters
    ----------
    status : int
        The HTTP status.
    message : str
        What is wrong, one line.
    methods : str
        The ``Allow`` header of the JSON answer.
    as_json : bool
        Answer JSON outside ``/api/v1`` too (an endpoint that scripts call).

    Returns
    -------
    flask.Response
        The answer.
    """
    if as_json or is_api():
        return json_answer(status, {"error": message}, methods)
    html = flask.render_template("error.html", status=status, message=message)
    return flask.Response(html, status=status, mimetype="text/html")
