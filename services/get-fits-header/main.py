"""get-fits-header: the typed header of a FITS file in Cloud Storage, read with ranged reads.

HTTP POST JSON ``{"bucket_path": ..., "bucket_name": optional, "hdu": optional}``; answers
JSON. See README.md beside this file.
"""

from __future__ import annotations

import flask
import functions_framework

from panoptes_network.adapters.http_json import (
    RequestRefused,
    json_answer,
    read_json,
    screen_request,
)
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.frames.header_lookup import MAX_REQUEST_BYTES, lookup_header
from panoptes_network.pipeline.log import log

SERVICE = "get-fits-header"
RUNTIME = ServiceRuntime(SERVICE)


def _answer(status: int, body: dict) -> flask.Response:
    return json_answer(status, body, "POST, OPTIONS")


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Answer one header request."""
    refused = screen_request(
        request, ("POST",), MAX_REQUEST_BYTES, 'use POST with a JSON body {"bucket_path": ...}'
    )
    if refused is not None:
        return refused
    try:
        body = read_json(request, MAX_REQUEST_BYTES)
    except RequestRefused as exc:
        return _answer(exc.status, {"error": exc.reason})
    if body is None:
        return _answer(400, {"error": "request body is empty: send JSON"})
    status, answer = lookup_header(body, RUNTIME.context.store, RUNTIME.settings)
    if status != 200:
        log("WARNING", f"{SERVICE}: {answer['error']}", service=SERVICE, status=status)
    return _answer(status, answer)
