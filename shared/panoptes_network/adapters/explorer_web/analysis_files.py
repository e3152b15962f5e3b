"""The analysis pages' PNGs, and the analysis summary kept for a minute.

Under ``/api/v1`` (described by the OpenAPI document):

- ``/analysis/completeness.png``: completeness against SNR per kind
  (:func:`~panoptes_network.explorer.analysis_plots.completeness_png`);
- ``/analysis/depth-duration.png``: the transits' completeness per depth and duration;
- ``/analysis/coverage.png``: points and hours per quality, airmass, Moon and unit bin;
- ``/analysis/candidates/<detection_id>/lightcurve.png``: a detection's light curve around
  its event.

The Analysis page and its three PNGs come from one summary of every run's documents
(:func:`~panoptes_network.explorer.analysis_summary.analysis_summary`): :class:`SummaryCache`
keeps it for :data:`SummaryCache.SECONDS`, so one visit reads the run documents once. A
malformed detection id answers 400, an unknown one 404, both JSON.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import flask

from panoptes_network.adapters.http_json import json_answer
from panoptes_network.explorer.analysis_plots import (
    candidate_png,
    completeness_png,
    coverage_png,
    depth_duration_png,
)
from panoptes_network.explorer.analysis_summary import analysis_summary
from panoptes_network.explorer.candidate import candidate
from panoptes_network.explorer.errors import InvalidQuery, NotFound
from panoptes_network.explorer.stars import DataReader
from panoptes_network.pipeline.ports import DocumentStore

__all__ = ["SummaryCache", "register_analysis_files"]

#: How long browsers may keep an analysis PNG (s).
_MAX_AGE = 60


class SummaryCache:
    """The analysis summary of one analysis, read again when older than :data:`SECONDS`.

    Parameters
    ----------
    documents : callable
        ``() -> DocumentStore`` of the running app.
    analysis_hash : str
        The analysis shown.
    clock : callable
        Monotonic seconds (``time.monotonic``; a test's own).
    """

    #: Age (s) after which the summary is read again.
    SECONDS = 60.0

    def __init__(
        self,
        documents: Callable[[], DocumentStore],
        analysis_hash: str,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._documents = documents
        self.analysis_hash = analysis_hash
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: tuple[float, dict[str, Any]] | None = None

    def get(self) -> dict[str, Any]:
        """Return the summary, read now unless one younger than :data:`SECONDS` is kept."""
        with self._lock:
            now = self._clock()
            if self._kept is not None and now - self._kept[0] < self.SECONDS:
                return self._kept[1]
        summary = analysis_summary(self._documents(), self.analysis_hash)
        with self._lock:
            self._kept = (now, summary)
        return summary


def _png(data: bytes) -> flask.Response:
    response = flask.Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = f"public, max-age={_MAX_AGE}"
    return response


def register_analysis_files(
    blueprint: flask.Blueprint,
    api_prefix: str,
    methods: str,
    sources: Callable[[], tuple[DocumentStore, DataReader, SummaryCache]],
) -> None:
    """Add the analysis PNG endpoints to the explorer's blueprint.

    Parameters
    ----------
    blueprint : flask.Blueprint
        The explorer's.
    api_prefix : str
        ``/api/v1``.
    methods : str
        The ``Allow`` header of errors.
    sources : callable
        ``() -> (documents, read_data, summary cache)`` of the running app.
    """

    def completeness() -> flask.Response:
        return _png(completeness_png(sources()[2].get()["completeness"]))

    def depth_duration() -> flask.Response:
        return _png(depth_duration_png(sources()[2].get()["completeness"]))

    def coverage() -> flask.Response:
        return _png(coverage_png(sources()[2].get()["coverage"]))

    def lightcurve(detection_id: str) -> flask.Response:
        documents, read_data, cache = sources()
        try:
            found = candidate(
                documents, detection_id, read_data=read_data, analysis_hash=cache.analysis_hash
            )
        except InvalidQuery as exc:
            return json_answer(400, {"error": exc.reason}, methods)
        except NotFound as exc:
            return json_answer(404, {"error": exc.reason}, methods)
        return _png(candidate_png(found))

    prefix = f"{api_prefix}/analysis"
    blueprint.add_url_rule(f"{prefix}/completeness.png", "api_completeness_png", completeness)
    blueprint.add_url_rule(f"{prefix}/depth-duration.png", "api_depth_duration_png", depth_duration)
    blueprint.add_url_rule(f"{prefix}/coverage.png", "api_coverage_png", coverage)
    blueprint.add_url_rule(
        f"{prefix}/candidates/<detection_id>/lightcurve.png", "api_candidate_png", lightcurve
    )
