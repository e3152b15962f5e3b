"""reconcile: re-queue every upload and image that stopped short of a final state.

HTTP ``POST /sweep`` (optional JSON ``{"limit": N}``; Cloud Scheduler calls it every five
minutes) runs the reconciler once and answers its report as JSON. See README.md beside this
file.
"""

from __future__ import annotations

from typing import Any

import flask
import functions_framework

from panoptes_network.adapters.http_json import request_or_sweep
from panoptes_network.adapters.runtime import ServiceRuntime
from panoptes_network.ingest.reconcile import reconcile
from panoptes_network.pipeline.errors import PermanentFailure

SERVICE = "reconcile"
RUNTIME = ServiceRuntime(SERVICE, documents=True)
MAX_REQUEST_BYTES = 1024


def _sweep(body: dict[str, Any]) -> dict[str, Any]:
    limit = body.get("limit", RUNTIME.settings.reconcile_batch)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 5000:
        raise PermanentFailure("limit must be a whole number from 1 to 5000")
    return reconcile(RUNTIME.context, limit=limit).to_dict()


def _explicit(body: Any) -> dict[str, Any]:
    raise PermanentFailure("use POST /sweep")


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Run the reconciler once (``POST /sweep``)."""
    refused = RUNTIME.refusal(request.headers)  # a private service: the scheduler's ID token
    if refused is not None:
        return refused
    return request_or_sweep(
        request,
        service=SERVICE,
        usage='use POST /sweep with an optional JSON {"limit": N}',
        max_bytes=MAX_REQUEST_BYTES,
        explicit=_explicit,
        sweep=_sweep,
        accepted=lambda answer: bool(answer["requeued"]),
    )
