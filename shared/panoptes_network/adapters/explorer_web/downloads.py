"""The explorer's files: a star's points (CSV, Parquet), a light curve's PNG, plotly.js.

Under ``/api/v1`` (described by the OpenAPI document):

- ``/stars/<picid>/points.csv`` and ``/stars/<picid>/points.parquet``: every point of the
  star, with the run and the unit on every row (:func:`~panoptes_network.explorer.stars.
  star_points`);
- ``/lightcurves/<lcid>.png``: one light curve, drawn by matplotlib
  (:func:`~panoptes_network.explorer.plots.lightcurve_png`);
- ``/runs/<run_id>/precision.png``: a processing run's precision, rms against V with the
  theoretical noise (:func:`~panoptes_network.explorer.plots.precision_png`).

And ``/static/plotly.min.js`` with ``/static/plotly.css``: the plotly.js the plotly package
ships and its own rules (:mod:`.plotly_assets`), so the pages need no CDN, work offline and
need no inline style. An unknown star or light curve answers 404 JSON.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import flask
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from panoptes_network.adapters.explorer_web.plotly_assets import plotly_css, plotly_js
from panoptes_network.adapters.http_json import json_answer
from panoptes_network.explorer._records import run_summary
from panoptes_network.explorer._values import is_document_id
from panoptes_network.explorer.errors import NotFound
from panoptes_network.explorer.plots import lightcurve_png, precision_png
from panoptes_network.explorer.stars import DataReader, lightcurve, star_points
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import PROCESSED_OBSERVATIONS

__all__ = ["register_downloads"]

#: How long browsers may keep plotly.js (s): its URL carries the package's version.
_SCRIPT_MAX_AGE = 7 * 24 * 3600
#: How long a light curve's PNG or a star's points may be kept (s): runs never change, but
#: new runs and flags add to a star.
_DATA_MAX_AGE = 300


def _attachment(data: bytes, mimetype: str, filename: str) -> flask.Response:
    response = flask.Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = f"public, max-age={_DATA_MAX_AGE}"
    return response


def register_downloads(
    blueprint: flask.Blueprint,
    api_prefix: str,
    methods: str,
    sources: Callable[[], tuple[DocumentStore, DataReader]],
) -> None:
    """Add the file endpoints to the explorer's blueprint.

    Parameters
    ----------
    blueprint : flask.Blueprint
        The explorer's.
    api_prefix : str
        ``/api/v1``.
    methods : str
        The ``Allow`` header of errors.
    sources : callable
        ``() -> (documents, read_data)`` of the running app.
    """

    def not_found(exc: NotFound) -> flask.Response:
        return json_answer(404, {"error": exc.reason}, methods)

    def points(picid: str, kind: str) -> flask.Response:
        documents, read_data = sources()
        try:
            table = star_points(documents, picid, read_data=read_data)
        except NotFound as exc:
            return not_found(exc)
        out = io.BytesIO()
        if kind == "csv":
            pa_csv.write_csv(table, out)
            return _attachment(out.getvalue(), "text/csv", f"picid_{picid}_points.csv")
        pq.write_table(table, out, compression="zstd")
        return _attachment(
            out.getvalue(), "application/vnd.apache.parquet", f"picid_{picid}_points.parquet"
        )

    def points_csv(picid: str) -> flask.Response:
        return points(picid, "csv")

    def points_parquet(picid: str) -> flask.Response:
        return points(picid, "parquet")

    def png(lcid: str) -> flask.Response:
        documents, read_data = sources()
        try:
            found = lightcurve(documents, lcid, read_data=read_data)
        except NotFound as exc:
            return not_found(exc)
        response = flask.Response(lightcurve_png(found), mimetype="image/png")
        response.headers["Cache-Control"] = f"public, max-age={_DATA_MAX_AGE}"
        return response

    def precision(run_id: str) -> flask.Response:
        documents, _ = sources()
        doc = documents.get(PROCESSED_OBSERVATIONS, run_id) if is_document_id(run_id) else None
        if doc is None:
            return not_found(NotFound("processing run", run_id))
        try:
            data = precision_png(run_summary(run_id, doc))
        except ValueError as exc:
            return json_answer(404, {"error": str(exc)}, methods)
        response = flask.Response(data, mimetype="image/png")
        response.headers["Cache-Control"] = f"public, max-age={_DATA_MAX_AGE}"
        return response

    def plotly() -> flask.Response:
        response = flask.Response(plotly_js(), mimetype="text/javascript")
        response.headers["Cache-Control"] = f"public, max-age={_SCRIPT_MAX_AGE}"
        return response

    def plotly_style() -> flask.Response:
        response = flask.Response(plotly_css(), mimetype="text/css")
        response.headers["Cache-Control"] = f"public, max-age={_SCRIPT_MAX_AGE}"
        return response

    blueprint.add_url_rule(f"{api_prefix}/stars/<picid>/points.csv", "api_star_csv", points_csv)
    blueprint.add_url_rule(
        f"{api_prefix}/stars/<picid>/points.parquet", "api_star_parquet", points_parquet
    )
    blueprint.add_url_rule(f"{api_prefix}/lightcurves/<lcid>.png", "api_lightcurve_png", png)
    blueprint.add_url_rule(
        f"{api_prefix}/runs/<run_id>/precision.png", "api_run_precision_png", precision
    )
    blueprint.add_url_rule("/static/plotly.min.js", "plotly_js", plotly)
    blueprint.add_url_rule("/static/plotly.css", "plotly_css", plotly_style)
