"""lightcurve-requests: ask for build-lightcurve runs, explicitly or by the sweep.

HTTP ``POST /`` with JSON ``{"sequence_id": ..., "options": {...}}`` queues one run;
``POST /sweep`` (optional JSON ``{"quiet_minutes": ...}``; Cloud Scheduler calls it) queues a run
for every quiet, unprocessed observation. Answers JSON. See README.md beside this file.
"""

from __future__ import annotations

import flask
import functions_framework

from panoptes_network.adapters.http_json import json_answer, screen_request
from panoptes_network.adapters.push import log
from panoptes_network.adapters.runtime import chain_context
from panoptes_network.errors import PermanentFailure
from panoptes_network.lightcurve_triggers import DEFAULT_QUIET_MINUTES, request_lightcurve, sweep

SERVICE = "lightcurve-requests"
CONTEXT = chain_context(SERVICE, documents=True)
MAX_REQUEST_BYTES = 16 * 1024


def _answer(status: int, body: dict) -> flask.Response:
    return json_answer(status, body, "POST, OPTIONS")


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Queue one run (``/``) or sweep (``/sweep``)."""
    usage = 'use POST with JSON {"sequence_id": ...} or POST /sweep'
    refused = screen_request(request, ("POST",), MAX_REQUEST_BYTES, usage)
    if refused is not None:
        return refused
    body = request.get_json(force=True, silent=True)
    try:
        if request.path.rstrip("/").endswith("/sweep"):
            quiet = (body or {}).get("quiet_minutes", DEFAULT_QUIET_MINUTES)
            if isinstance(quiet, bool) or not isinstance(quiet, (int, float)):
                raise PermanentFailure("quiet_minutes must be a number of minutes")
            answer = sweep(CONTEXT, float(quiet))
        else:
            if body is None:
                raise PermanentFailure("request body is not JSON")
            answer = request_lightcurve(CONTEXT, body)
    except PermanentFailure as exc:
        status = 404 if "does not exist" in exc.reason else 400
        log("WARNING", f"{SERVICE}: {exc.reason}", service=SERVICE, status=status)
        return _answer(status, {"error": exc.reason})
    log("INFO", f"{SERVICE}: queued", service=SERVICE, **answer)
    return _answer(202, answer)
