"""lightcurve-requests: ask for build-lightcurve runs, explicitly or by the sweep.

HTTP ``POST /`` with JSON ``{"sequence_id": ..., "options": {...}}`` queues one run;
``POST /sweep`` (optional JSON ``{"quiet_minutes": ...}``; Cloud Scheduler calls it) queues a run
for every quiet, unprocessed observation. Answers JSON. See README.md beside this file.
"""

from __future__ import annotations

from typing import Any

import flask
import functions_framework

from panoptes_network.adapters.http_json import request_or_sweep
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.lightcurves.triggers import request_lightcurve, sweep
from panoptes_network.pipeline.errors import PermanentFailure

SERVICE = "lightcurve-requests"
RUNTIME = ServiceRuntime(SERVICE, documents=True)
MAX_REQUEST_BYTES = 16 * 1024


def _sweep(body: dict[str, Any]) -> dict[str, Any]:
    quiet = body.get("quiet_minutes", RUNTIME.settings.lightcurve_quiet_minutes)
    if isinstance(quiet, bool) or not isinstance(quiet, (int, float)):
        raise PermanentFailure("quiet_minutes must be a number of minutes")
    return sweep(RUNTIME.context, float(quiet))


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Queue one run (``/``) or sweep (``/sweep``)."""
    refused = RUNTIME.refusal(request.headers)  # a private service: the scheduler's ID token
    if refused is not None:
        return refused
    return request_or_sweep(
        request,
        service=SERVICE,
        usage='use POST with JSON {"sequence_id": ...} or POST /sweep',
        max_bytes=MAX_REQUEST_BYTES,
        explicit=lambda body: request_lightcurve(RUNTIME.context, body),
        sweep=_sweep,
    )
