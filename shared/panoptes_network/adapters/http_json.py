"""JSON answers with CORS headers, for the HTTP services."""

from __future__ import annotations

from typing import Any

import flask

__all__ = ["json_answer"]


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
