"""build-calibrations: measure cameras and build their calibration masters from darks and flats.

HTTP ``POST /`` with JSON ``{"camera_id": "14d3bd", "flat_period": "night"}`` builds one
camera; ``POST /sweep`` (optional JSON ``{"quiet_minutes": 60, "flat_period": "night"}``;
Cloud Scheduler calls it every hour) builds every camera whose calibration sequences are
pending and quiet. Answers JSON. See README.md beside this file.
"""

from __future__ import annotations

from typing import Any

import flask
import functions_framework

from panoptes_network.adapters.http_json import request_or_sweep
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.ingest.calibration_sweep import build_calibrations, sweep_calibrations
from panoptes_network.pipeline.errors import PermanentFailure

SERVICE = "build-calibrations"
RUNTIME = ServiceRuntime(SERVICE, documents=True)
MAX_REQUEST_BYTES = 1024
#: Minutes without a new calibration frame after which a sequence is done.
DEFAULT_QUIET_MINUTES = 60.0


def _sweep(body: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - {"quiet_minutes", "flat_period"})
    if unknown:
        raise PermanentFailure(f"unknown field(s) {unknown}: expected quiet_minutes, flat_period")
    quiet = body.get("quiet_minutes", DEFAULT_QUIET_MINUTES)
    if isinstance(quiet, bool) or not isinstance(quiet, (int, float)):
        raise PermanentFailure("quiet_minutes must be a number of minutes")
    return sweep_calibrations(
        RUNTIME.context, float(quiet), flat_period=body.get("flat_period", "night")
    )


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Build one camera (``/``) or every camera with quiet, pending sequences (``/sweep``)."""
    refused = RUNTIME.refusal(request.headers)  # a private service: the scheduler's ID token
    if refused is not None:
        return refused
    return request_or_sweep(
        request,
        service=SERVICE,
        usage='use POST with JSON {"camera_id": ...} or POST /sweep',
        max_bytes=MAX_REQUEST_BYTES,
        explicit=lambda body: build_calibrations(RUNTIME.context, body),
        sweep=_sweep,
        accepted=lambda answer: bool(answer.get("cameras", True)),
    )
