"""lookup-field: the catalog stars around a named target, coordinates or PICID.

HTTP GET (query parameters) or POST (JSON body) ``{"search_string": ..., "radius_deg",
"vmag_min", "vmag_max", "max_sources"}``; answers JSON. See README.md beside this file.
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
from panoptes_network.catalog.field_lookup import (
    MAX_REQUEST_BYTES,
    lookup_field,
    request_from_query,
)
from panoptes_network.catalog.sesame_resolver import SesameResolver
from panoptes_network.catalog.target_names import bundled_target_names
from panoptes_network.pipeline.log import log

SERVICE = "lookup-field"
RUNTIME = ServiceRuntime(SERVICE)
NAMES = bundled_target_names()
RESOLVER = SesameResolver() if RUNTIME.settings.lookup_online else None


def _answer(status: int, body: dict) -> flask.Response:
    return json_answer(status, body, "GET, POST, OPTIONS")


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Answer one field lookup."""
    usage = 'use GET ?search_string=... or POST JSON {"search_string": ...}'
    refused = screen_request(request, ("GET", "POST"), MAX_REQUEST_BYTES, usage)
    if refused is not None:
        return refused
    if request.method == "GET":
        query = request_from_query(request.args.to_dict())
    else:
        try:
            query = read_json(request, MAX_REQUEST_BYTES)
        except RequestRefused as exc:
            return _answer(exc.status, {"error": exc.reason})
        if query is None:
            return _answer(400, {"error": "request body is empty: send JSON"})
    try:
        catalog = RUNTIME.catalog()
    except FileNotFoundError as exc:
        log("ERROR", f"{SERVICE}: {exc}", service=SERVICE)
        return _answer(503, {"error": f"the star catalog is not available: {exc}"})
    status, answer = lookup_field(query, catalog, NAMES, RESOLVER)
    if status != 200:
        log("WARNING", f"{SERVICE}: {answer['error']}", service=SERVICE, status=status)
    return _answer(status, answer)
