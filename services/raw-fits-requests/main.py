"""raw-fits-requests: send raw-converted FITS frames into the chain, on request or by the sweep.

HTTP ``POST /`` with JSON ``{"image_id": ...}`` or ``{"bucket_path": ...}`` releases one
image's converted FITS now; ``POST /sweep`` (optional JSON ``{"wait_minutes": ...}``; the
``raw-fits-sweep`` scheduler job calls it) releases every one whose unit FITS did not arrive
within the wait. Answers JSON. See README.md beside this file.
"""

from __future__ import annotations

import flask
import functions_framework

from panoptes_network.adapters.http_json import json_answer, screen_request
from panoptes_network.adapters.push import log
from panoptes_network.adapters.runtime import chain_context
from panoptes_network.errors import PermanentFailure
from panoptes_network.raw_fits_release import release_raw_fits, sweep_raw_fits

SERVICE = "raw-fits-requests"
CONTEXT = chain_context(SERVICE, documents=True)
MAX_REQUEST_BYTES = 16 * 1024


def _answer(status: int, body: dict) -> flask.Response:
    return json_answer(status, body, "POST, OPTIONS")


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Release one image's converted FITS (``/``) or sweep (``/sweep``)."""
    usage = 'use POST with JSON {"image_id": ...} or {"bucket_path": ...}, or POST /sweep'
    refused = screen_request(request, ("POST",), MAX_REQUEST_BYTES, usage)
    if refused is not None:
        return refused
    body = request.get_json(force=True, silent=True)
    try:
        if request.path.rstrip("/").endswith("/sweep"):
            wait = (body or {}).get("wait_minutes")
            if wait is not None and (isinstance(wait, bool) or not isinstance(wait, (int, float))):
                raise PermanentFailure("wait_minutes must be a number of minutes")
            answer = sweep_raw_fits(CONTEXT, wait)
        else:
            if body is None:
                raise PermanentFailure("request body is not JSON")
            answer = release_raw_fits(CONTEXT, body)
    except PermanentFailure as exc:
        status = 404 if "does not exist" in exc.reason else 400
        log("WARNING", f"{SERVICE}: {exc.reason}", service=SERVICE, status=status)
        return _answer(status, {"error": exc.reason})
    log("INFO", f"{SERVICE}: released", service=SERVICE, **answer)
    return _answer(202 if answer.get("released") else 200, answer)
