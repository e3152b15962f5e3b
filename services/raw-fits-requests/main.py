"""raw-fits-requests: send raw-converted FITS frames into the chain, on request or by the sweep.

HTTP ``POST /`` with JSON ``{"image_id": ...}`` or ``{"bucket_path": ...}`` releases one
image's converted FITS now; ``POST /sweep`` (optional JSON ``{"wait_minutes": ...}``; the
``raw-fits-sweep`` scheduler job calls it) releases every one whose unit FITS did not arrive
within the wait. Answers JSON. See README.md beside this file.
"""

from __future__ import annotations

from typing import Any

import flask
import functions_framework

from panoptes_network.adapters.http_json import request_or_sweep
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.raw.fits_release import release_raw_fits, sweep_raw_fits

SERVICE = "raw-fits-requests"
RUNTIME = ServiceRuntime(SERVICE, documents=True)
MAX_REQUEST_BYTES = 16 * 1024


def _sweep(body: dict[str, Any]) -> dict[str, Any]:
    wait = body.get("wait_minutes")
    if wait is not None and (isinstance(wait, bool) or not isinstance(wait, (int, float))):
        raise PermanentFailure("wait_minutes must be a number of minutes")
    return sweep_raw_fits(RUNTIME.context, wait)


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Release one image's converted FITS (``/``) or sweep (``/sweep``)."""
    refused = RUNTIME.refusal(request.headers)  # a private service: the scheduler's ID token
    if refused is not None:
        return refused
    return request_or_sweep(
        request,
        service=SERVICE,
        usage='use POST with JSON {"image_id": ...} or {"bucket_path": ...}, or POST /sweep',
        max_bytes=MAX_REQUEST_BYTES,
        explicit=lambda body: release_raw_fits(RUNTIME.context, body),
        sweep=_sweep,
        accepted=lambda answer: bool(answer.get("released")),
    )
