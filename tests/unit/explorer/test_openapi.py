"""The OpenAPI document: valid schemas, resolvable references, the parameters the code takes."""

from __future__ import annotations

import json
import re

from jsonschema import Draft202012Validator

from panoptes_network.explorer import openapi_document
from panoptes_network.explorer.params import (
    ANALYSED_STARS_PARAMETERS,
    CANDIDATES_PARAMETERS,
    OBSERVATIONS_PARAMETERS,
    PAGE_PARAMETERS,
)
from tests.unit.explorer.openapi_check import schema_errors


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document, ref):
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_document_is_openapi_3_1_with_valid_schemas():
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    for name, schema in document["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
        assert "description" in schema, name
    for ref in set(_refs(document)):
        _resolve(document, ref)
    json.dumps(document)  # plain JSON


def _parameters(document, path):
    out = []
    (operation,) = document["paths"][path].values()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = _resolve(document, parameter["$ref"])
        out.append(parameter)
    return out


def test_documented_parameters_are_the_ones_the_code_takes():
    document = openapi_document()
    query = {
        path: {p["name"] for p in _parameters(document, path) if p["in"] == "query"}
        for path in document["paths"]
    }
    assert query["/api/v1/observations"] == set(OBSERVATIONS_PARAMETERS)
    assert query["/api/v1/units/{unit_id}"] == set(PAGE_PARAMETERS)
    assert query["/api/v1/observations/{sequence_id}"] == set(PAGE_PARAMETERS)
    assert query["/api/v1/home"] == {"latest"}
    assert query["/api/v1/units"] == query["/api/v1/images/{image_id}"] == set()
    assert query["/api/v1/stars/{picid}"] == set()
    assert query["/api/v1/analysis/stars"] == set(ANALYSED_STARS_PARAMETERS)
    assert query["/api/v1/analysis/candidates"] == set(CANDIDATES_PARAMETERS)
    assert query["/api/v1/analysis"] == query["/api/v1/analysis/candidates/{detection_id}"] == set()
    for path in document["paths"]:
        names = {p["name"] for p in _parameters(document, path) if p["in"] == "path"}
        assert names == set(re.findall(r"\{([^}]+)\}", path))


def test_a_schema_can_fail():
    # the checker sees a missing key, a wrong type, an undocumented field and a local time
    row = {"sequence_id": "x", "time": "2020-01-08T05:17:17"}
    errors = schema_errors(row, "ObservationSummary")
    assert any("'unit_id' is a required property" in e for e in errors)
    assert any(e.startswith("time:") for e in errors)
    assert schema_errors({"error": 1}, "Error") and schema_errors(
        {"error": "x", "more": 1}, "Error"
    )
