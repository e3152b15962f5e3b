"""The Data Explorer's read models: what its pages and ``/api/v1`` answers show.

Pure functions over a :class:`~panoptes_network.pipeline.ports.DocumentStore` (no web
framework: the Flask app is :mod:`panoptes_network.adapters.explorer_web`), each bounded in
the documents it reads, each returning plain JSON values (times as ISO 8601 UTC strings) and
tolerating any missing or ill-typed field:

- :mod:`.home`: :func:`home`, the totals from the units' exact counters and the latest
  observations.
- :mod:`.units`: :func:`units` and :func:`unit`.
- :mod:`.observations`: :func:`observations` (filtered, ordered, paged by cursor, with a
  sky search by name or coordinates; the composite indexes it needs in
  :data:`COMPOSITE_INDEXES`) and :func:`observation` (its frames and processing runs).
- :mod:`.sky`: the sky search's cone and the offline name resolution.
- :mod:`.images`: :func:`image`.
- :mod:`.stars` and :mod:`.analysed_stars`: a star (its light curves, its analysis, its
  detections) and the analysed stars.
- :mod:`.detections`: the analysis' candidates by significance, and a star's;
  :mod:`.candidate`: one detection with its light curve around the event and its frames;
  :mod:`.analysis_summary`: every run's coverage and completeness added;
  :mod:`.analysis_plots`: their PNGs.
- :mod:`.params`: URL query parameters to read-model arguments, strictly.
- :mod:`.openapi`: the OpenAPI document of ``/api/v1``.
- :mod:`.errors`: :class:`NotFound` (an unknown id) and :class:`InvalidQuery` (a bad
  parameter).
"""

from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.home import home
from panoptes_network.explorer.images import image
from panoptes_network.explorer.observations import COMPOSITE_INDEXES, observation, observations
from panoptes_network.explorer.openapi import openapi_document
from panoptes_network.explorer.units import unit, units

__all__ = [
    "COMPOSITE_INDEXES",
    "InvalidQuery",
    "NotFound",
    "home",
    "image",
    "observation",
    "observations",
    "openapi_document",
    "unit",
    "units",
]
