"""What a build-lightcurve run stores: its data file, its precision statistics, its docs.

Data file (one per run, not one per star: thousands of small objects would take minutes to
upload and list), ``gs://<lightcurves_bucket>/<sequence_id>/<run_id>/lightcurves.parquet``,
long format, one row per (star, frame), the stars one after the other in PICID order and each
star's rows contiguous and in time order. A ``lightcurves/{lcid}`` doc names its rows with
``data_row_start`` and ``data_row_count`` (:func:`read_lightcurve_rows` reads them).
Columns (:data:`DATA_COLUMNS` for colours ``c`` processed):

===============  =======  ===============================================================
column           type     meaning
===============  =======  ===============================================================
picid            int64    the star
time             float64  mid-exposure, POSIX seconds (s, UTC)
bjd_tdb          float64  mid-exposure as the star's Barycentric Julian Date, TDB (days;
                          :mod:`.barycentric`); NaN when the frames name no site
airmass          float64  of the frame
image_id         string   the frame (``<UNIT>_<CAMERA>_<YYYYMMDDTHHMMSS>``)
x, y             float64  measured position (pixels, 0-based); NaN where not measured
flux_c           float64  normalised differential flux (median 1; cotrended where applied)
flux_err_c       float64  1-sigma error of ``flux_c`` (same units)
outlier_c        bool     clipped point
flux_raw_c       float64  ``flux_c`` before the correction
mag_c            float64  calibrated magnitude (mag, catalog V scale): the star over its
                          comparison ensemble, scaled by the ensemble's catalog brightness,
                          not normalised to the star's median (:mod:`.calibrated_scale`)
mag_err_c        float64  1-sigma error of ``mag_c`` from the photometric noise (mag)
===============  =======  ===============================================================

Key-value metadata (JSON-encoded): ``sequence_id``, ``run_id``, ``colours``, ``corrections``
(the correction applied per colour: ``"cotrend"`` or ``"none"``), ``calibration`` (per colour
the colour term of the calibrated magnitudes, :mod:`.calibrated_run`), ``lightcurves_schema``
(:data:`SCHEMA_VERSION`).

Documents: :func:`lightcurve_writes` plans the writes of a run's ``lightcurves/{lcid}`` docs,
each in the same atomic batch as the write that lists its lcid in the star's key index
``star_lightcurves/{picid}`` (:mod:`panoptes_network.pipeline.key_index`), so a star page
reads its light curves by key. :func:`brightest_lightcurves` picks the lcids a run's page
lists first (the :data:`MAX_BRIGHTEST` brightest stars).

Embedded points: a doc carries its points (``points: {"time": [...], "g": [...], "g_err":
[...], "g_outlier": [...]}``, NaN as null) only when the observation has at most
:data:`MAX_EMBEDDED_VALUES` flux values per star (frames x colours: 200 frames in three
colours), which keeps a doc far below Firestore's 1 MiB limit (about 25 bytes per value).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from astropy.table import Table

from panoptes_network.lightcurves.barycentric import bjd_tdb
from panoptes_network.lightcurves.calibrated_run import CalibratedRun
from panoptes_network.lightcurves.ensemble import Lightcurves
from panoptes_network.photometry.noise import theoretical_mag_error
from panoptes_network.pipeline.key_index import add_ids
from panoptes_network.pipeline.ports import (
    MAX_BATCH_BYTES,
    MAX_BATCH_WRITES,
    DocWrite,
    approximate_size,
    split_batches,
)
from panoptes_network.pipeline.schema import LIGHTCURVES, STAR_LIGHTCURVES

__all__ = [
    "DATA_NAME",
    "MAX_BRIGHTEST",
    "MAX_EMBEDDED_VALUES",
    "SCHEMA_VERSION",
    "V_BIN_EDGES",
    "brightest_lightcurves",
    "data_columns",
    "encode_lightcurve_data",
    "lightcurve_docs",
    "lightcurve_writes",
    "precision_statistics",
    "read_lightcurve_rows",
]

#: Version of the data file's layout, under the ``lightcurves_schema`` metadata key.
SCHEMA_VERSION = "2"
#: Name of a run's data file inside ``<sequence_id>/<run_id>/``.
DATA_NAME = "lightcurves.parquet"
#: Most flux values (frames x colours) of a star embedded in its doc.
MAX_EMBEDDED_VALUES = 600
#: Stars of a run whose lcids its run document lists, brightest first (``brightest_lightcurves``:
#: the stars the run's page shows).
MAX_BRIGHTEST = 20
#: Edges of the V bins of the precision statistics (mag).
V_BIN_EDGES: tuple[float, ...] = (6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0)
_SUMMARY_MAGS = ("median_mag", "rms_mag", "robust_rms_mag", "expected_rms_mag")


def _clean(value: float) -> float | None:
    """Return a float, or None for NaN and infinities (Firestore and JSON friendly)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _clean_list(values: np.ndarray) -> list[float | None]:
    return [_clean(v) for v in np.asarray(values, dtype=float)]


def data_columns(colours: Sequence[str]) -> tuple[str, ...]:
    """Return the data file's columns for ``colours``, in order.

    Parameters
    ----------
    colours : sequence of str
        The colours processed.

    Returns
    -------
    tuple of str
        ``picid, time, bjd_tdb, airmass, image_id, x, y`` then per colour ``flux_c,
        flux_err_c, outlier_c, flux_raw_c, mag_c, mag_err_c``.
    """
    per_colour = ("flux", "flux_err", "outlier", "flux_raw", "mag", "mag_err")
    colour_columns = (f"{k}_{c}" for c in colours for k in per_colour)
    return ("picid", "time", "bjd_tdb", "airmass", "image_id", "x", "y", *colour_columns)


def encode_lightcurve_data(
    lightcurves: Lightcurves, calibrated: CalibratedRun, metadata: Mapping[str, Any]
) -> bytes:
    """Encode every star's light curves as one Parquet file (layout in the module docstring).

    Parameters
    ----------
    lightcurves : Lightcurves
        The run's light curves.
    calibrated : CalibratedRun
        The same light curves on the calibrated magnitude scale.
    metadata : mapping
        Key-value metadata (JSON-serialisable values), e.g. sequence_id and run_id.

    Returns
    -------
    bytes
        The Parquet file; star ``j`` (stack order) has rows ``j * n_frames`` to
        ``(j + 1) * n_frames - 1``.
    """
    stack = lightcurves.stack
    n_frames, n_stars = stack.shape
    columns: dict[str, np.ndarray] = {
        "picid": np.repeat(stack.picid.astype(np.int64), n_frames),
        "time": np.tile(stack.times.astype(float), n_stars),
        "bjd_tdb": bjd_tdb(stack.times, stack.ra, stack.dec, stack.site).T.ravel(),
        "airmass": np.tile(stack.airmass.astype(float), n_stars),
        "image_id": np.tile(stack.image_ids.astype(str), n_stars),
        "x": stack.x.T.ravel(),
        "y": stack.y.T.ravel(),
    }
    for c, curves in lightcurves.colours.items():
        columns[f"flux_{c}"] = curves.flux.T.ravel()
        columns[f"flux_err_{c}"] = curves.flux_err.T.ravel()
        columns[f"outlier_{c}"] = curves.outlier.T.ravel().astype(bool)
        columns[f"flux_raw_{c}"] = curves.flux_raw.T.ravel()
        columns[f"mag_{c}"] = calibrated.colours[c].mag.T.ravel()
        columns[f"mag_err_{c}"] = calibrated.colours[c].mag_err.T.ravel()
    encoded = {str(k): json.dumps(v) for k, v in metadata.items()}
    encoded["calibration"] = json.dumps(calibrated.record)
    encoded["colours"] = json.dumps(list(lightcurves.colours))
    encoded["corrections"] = json.dumps({c: v.correction for c, v in lightcurves.colours.items()})
    encoded["lightcurves_schema"] = json.dumps(SCHEMA_VERSION)
    table = pa.table({k: pa.array(v) for k, v in columns.items()}).replace_schema_metadata(encoded)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def read_lightcurve_rows(data: bytes, row_start: int = 0, row_count: int | None = None) -> Table:
    """Read rows of a run's data file (one star's: its doc's ``data_row_start/count``).

    Parameters
    ----------
    data : bytes
        The Parquet file.
    row_start : int
        First row.
    row_count : int or None
        Rows to read; all the rest when None.

    Returns
    -------
    astropy.table.Table
        The rows, with the file's metadata (JSON-decoded) in ``meta``.
    """
    arrow = pq.read_table(io.BytesIO(data))
    part = arrow.slice(row_start, row_count)
    table = Table(
        {name: part.column(name).to_numpy(zero_copy_only=False) for name in part.column_names}
    )
    raw = arrow.schema.metadata or {}
    table.meta.update(
        {k.decode(): json.loads(v.decode()) for k, v in raw.items() if not k.startswith(b"ARROW:")}
    )
    return table


def precision_statistics(
    lightcurves: Lightcurves,
    edges: Sequence[float] = V_BIN_EDGES,
) -> dict[str, list[dict[str, Any]]]:
    """Return the light curves' precision per colour and V bin, with the theoretical noise.

    Stars flagged variable are left out. The theoretical noise of a star is the median over its
    frames of :func:`panoptes_network.photometry.noise.theoretical_mag_error` (its flux, sky and
    aperture area, the read noise of the camera that took each frame, background known
    perfectly).

    Parameters
    ----------
    lightcurves : Lightcurves
        The run's light curves.
    edges : sequence of float
        V bin edges (mag); bins without stars are left out.

    Returns
    -------
    dict
        Per colour, a list of ``{vmag_min, vmag_max, num_stars, median_rms_mag,
        median_robust_rms_mag, theoretical_rms_mag}`` (mag), bright to faint.
    """
    stack = lightcurves.stack
    out: dict[str, list[dict[str, Any]]] = {}
    for c, curves in lightcurves.colours.items():
        flux = stack.flux[c]
        measured = np.isfinite(flux) & (flux > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            theory = theoretical_mag_error(
                np.where(measured, flux, 1.0), stack.bkg[c], stack.npix[c], stack.frame_read_noise
            )
        theory = np.where(measured, theory, np.nan)
        counted = measured.any(axis=0)
        per_star = np.full(stack.picid.size, np.nan)
        if counted.any():
            per_star[counted] = np.nanmedian(theory[:, counted], axis=0)
        rms = np.asarray(curves.summary["rms_mag"], dtype=float)
        robust = np.asarray(curves.summary["robust_rms_mag"], dtype=float)
        quiet = ~np.asarray(curves.variable, dtype=bool) & np.isfinite(rms)
        bins = []
        for low, high in zip(edges[:-1], edges[1:], strict=True):
            inside = quiet & (stack.vmag >= low) & (stack.vmag < high)
            if not inside.any():
                continue
            bins.append(
                {
                    "vmag_min": float(low),
                    "vmag_max": float(high),
                    "num_stars": int(inside.sum()),
                    "median_rms_mag": _clean(np.median(rms[inside])),
                    "median_robust_rms_mag": _clean(np.nanmedian(robust[inside])),
                    "theoretical_rms_mag": _clean(np.nanmedian(per_star[inside])),
                }
            )
        out[c] = bins
    return out


def lightcurve_docs(
    lightcurves: Lightcurves,
    calibrated: CalibratedRun,
    common: Mapping[str, Any],
    lcid_suffix: str,
) -> list[tuple[str, dict[str, Any]]]:
    """Return the ``lightcurves`` docs of a run, one per star.

    Parameters
    ----------
    lightcurves : Lightcurves
        The run's light curves.
    calibrated : CalibratedRun
        The same on the calibrated magnitude scale.
    common : mapping
        Fields every doc carries (sequence_id, processed_observation, data_path, data_url,
        run_time ...).
    lcid_suffix : str
        The doc id is ``<PICID>_<lcid_suffix>``.

    Returns
    -------
    list of (str, dict)
        ``(lcid, fields)``: picid, ra, dec (deg), vmag (mag), num_points (frames with an
        inlier point in some colour), per colour ``num_points_c``, ``median_mag_c``
        (instrumental), ``rms_mag_c``, ``robust_rms_mag_c``, ``expected_rms_mag_c`` (mag),
        ``detrended_c`` and ``correction_c`` (``"cotrend"`` or ``"none"``), ``mag_c`` (median
        calibrated magnitude, mag) and ``scale_err_c`` (its error common to all points, mag);
        ``variable``;
        ``data_row_start`` and ``data_row_count``; ``points`` when small enough
        (:data:`MAX_EMBEDDED_VALUES`), else ``points_embedded`` false.
    """
    stack = lightcurves.stack
    n_frames, n_stars = stack.shape
    colours = list(lightcurves.colours)
    embed = n_frames * len(colours) <= MAX_EMBEDDED_VALUES
    inlier = np.zeros((n_frames, n_stars), dtype=bool)
    variable = np.zeros(n_stars, dtype=bool)
    for curves in lightcurves.colours.values():
        inlier |= np.isfinite(curves.flux) & ~curves.outlier
        variable |= np.asarray(curves.variable, dtype=bool)
    times = _clean_list(stack.times)
    summaries = {
        c: {name: np.asarray(curves.summary[name]) for name in curves.summary.colnames}
        for c, curves in lightcurves.colours.items()
    }
    with np.errstate(all="ignore"):
        median_mag = {
            c: np.nanmedian(np.where(curves.outlier, np.nan, calibrated.colours[c].mag), axis=0)
            if np.isfinite(calibrated.colours[c].mag).any()
            else np.full(n_stars, np.nan)
            for c, curves in lightcurves.colours.items()
        }
    docs = []
    for j in range(n_stars):
        picid = int(stack.picid[j])
        doc: dict[str, Any] = {
            **common,
            "picid": picid,
            "ra": _clean(stack.ra[j]),
            "dec": _clean(stack.dec[j]),
            "vmag": _clean(stack.vmag[j]),
            "num_points": int(inlier[:, j].sum()),
            "variable": bool(variable[j]),
            "data_row_start": j * n_frames,
            "data_row_count": n_frames,
            "points_embedded": embed,
        }
        for c, columns in summaries.items():
            doc[f"num_points_{c}"] = int(columns["n_points"][j])
            for name in _SUMMARY_MAGS:
                doc[f"{name}_{c}"] = _clean(columns[name][j])
            doc[f"detrended_{c}"] = bool(columns["detrended"][j])
            doc[f"correction_{c}"] = lightcurves.colours[c].correction
            doc[f"mag_{c}"] = _clean(median_mag[c][j])
            doc[f"scale_err_{c}"] = _clean(calibrated.colours[c].scale_err[j])
        if embed:
            points: dict[str, list[Any]] = {"time": times}
            for c, curves in lightcurves.colours.items():
                points[c] = _clean_list(curves.flux[:, j])
                points[f"{c}_err"] = _clean_list(curves.flux_err[:, j])
                points[f"{c}_outlier"] = [bool(v) for v in curves.outlier[:, j]]
            doc["points"] = points
        docs.append((f"{picid}_{lcid_suffix}", doc))
    return docs


def lightcurve_writes(
    docs: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    max_writes: int = MAX_BATCH_WRITES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[list[DocWrite]]:
    """Return the atomic batches that write a run's light-curve docs and list them by star.

    Each doc is merged into ``lightcurves/{lcid}`` (set with merge, as ``merge_many``) and
    its lcid added to ``star_lightcurves/{picid}`` (``ArrayUnion``: listed once however
    often it is written), both in the same batch. A batch holds at most ``max_writes``
    writes and about ``max_bytes`` bytes (a single larger pair still gets a batch).

    Parameters
    ----------
    docs : sequence of (str, mapping)
        ``(lcid, fields)`` as :func:`lightcurve_docs` returns them (``fields["picid"]``
        names the star).
    max_writes : int
        Most writes per batch (Firestore's 500).
    max_bytes : int
        Most bytes per batch, by :func:`approximate_size` (bytes).

    Returns
    -------
    list of list of DocWrite
        The batches, in the order of ``docs``; commit each with ``DocumentStore.commit``.
    """
    if max_writes < 2:
        raise ValueError(f"max_writes must be at least 2 (a doc and its index), not {max_writes}")
    pairs = []
    for lcid, fields in docs:
        listing = add_ids(STAR_LIGHTCURVES, str(fields["picid"]), [lcid])
        size = approximate_size(fields) + approximate_size(dict(listing.array_union))
        pairs.append(([DocWrite(LIGHTCURVES, lcid, dict(fields)), listing], size))
    return list(split_batches(pairs, max_writes=max_writes, max_bytes=max_bytes))


def brightest_lightcurves(
    docs: Sequence[tuple[str, Mapping[str, Any]]], n: int = MAX_BRIGHTEST
) -> list[str]:
    """Return the lcids of a run's ``n`` brightest stars, brightest first.

    Parameters
    ----------
    docs : sequence of (str, mapping)
        ``(lcid, fields)`` as :func:`lightcurve_docs` returns them.
    n : int
        How many.

    Returns
    -------
    list of str
        By ``vmag`` (mag) ascending, equal magnitudes by lcid (the order of a Firestore
        query ordered by ``vmag``); stars without a catalog magnitude are left out.
    """
    known = [
        (float(fields["vmag"]), lcid)
        for lcid, fields in docs
        if isinstance(fields.get("vmag"), (int, float))
        and not isinstance(fields.get("vmag"), bool)
        and math.isfinite(fields["vmag"])
    ]
    return [lcid for _, lcid in sorted(known)[:n]]
