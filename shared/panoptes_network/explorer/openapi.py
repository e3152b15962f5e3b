"""The OpenAPI 3.1 document of the explorer's JSON API (``/api/v1``), package data.

``openapi.json`` beside this module describes every endpoint, its parameters and the schema
of each answer; the tests validate every answer against it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["openapi_document"]


@lru_cache(maxsize=1)
def _text() -> str:
    return (resources.files(__package__) / "openapi.json").read_text(encoding="utf-8")


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document (a fresh copy each call).

    Returns
    -------
    dict
        OpenAPI 3.1: ``paths`` under ``/api/v1`` and ``components.schemas``.
    """
    return json.loads(_text())
