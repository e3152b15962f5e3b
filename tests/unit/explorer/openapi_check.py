"""Validate answers against the schemas of the explorer's OpenAPI document (jsonschema)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from panoptes_network.explorer import openapi_document

URN = "urn:panoptes:explorer-openapi"


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resource = Resource.from_contents(openapi_document(), default_specification=DRAFT202012)
    return Registry().with_resource(URN, resource)


@lru_cache(maxsize=64)
def _validator(pointer: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{URN}#{pointer}"},
        registry=_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def schema_errors(answer: Any, schema: str) -> list[str]:
    """Return the errors of ``answer`` against ``components.schemas[schema]`` (none: valid)."""
    validator = _validator(f"/components/schemas/{schema}")
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(answer)
    ]


def response_errors(answer: Any, path: str, status: int, method: str = "get") -> list[str]:
    """Return the errors of an answer against its path's response schema for ``status``."""
    responses = openapi_document()["paths"][path][method]["responses"]
    response = responses.get(str(status), responses.get("default"))
    assert response is not None, f"{path} documents no {status} answer"
    ref = response["content"]["application/json"]["schema"].get("$ref")
    pointer = (
        ref.removeprefix("#")
        if ref
        else f"/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}/responses/"
        f"{status}/content/application~1json/schema"
    )
    validator = _validator(pointer)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(answer)
    ]
