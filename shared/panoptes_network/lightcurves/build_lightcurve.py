"""The build-lightcurve step: differential light curves of every star of one observation.

For a request ``{"sequence_id": "<UNIT>_<CAMERA>_<SEQSTART>", "options": {...}}`` (:mod:`.request`)
it lists the observation's per-image tables in the sources bucket
(``<UNIT>/<CAMERA>/<SEQSTART>/*.parquet``), reads them
(:mod:`panoptes_network.photometry.sources_table`), leaves out what people flagged as bad
(:mod:`.flags`: flagged frames, then flagged points of the kept frames), rejects bad frames
(:func:`.frame_quality.assess_frames`), builds the light curves
(:func:`.ensemble.differential_lightcurves`) and stores a new processing run:

- ``processed_observations/{run_id}`` with ``run_id = <sequence_id>_<RUNTIME>`` (RUNTIME the
  UTC ``YYYYMMDDTHHMMSS`` of the run; ``-2``, ``-3`` ... appended when that id is taken). The
  doc is created (``status: "running"``) before anything else is written, so two runs never
  share an id, and set to ``status: "done"`` last, with ``brightest_lightcurves``: the lcids
  of the run's :data:`.products.MAX_BRIGHTEST` brightest stars (by ``vmag``), which the Data
  Explorer reads by key. Earlier runs are kept.
- ``observation_runs/{sequence_id}`` (a key index, :mod:`panoptes_network.pipeline.key_index`)
  lists the run id, added in the same atomic batch that creates the run's doc;
- the data file ``gs://<lightcurves_bucket>/<sequence_id>/<run_id>/lightcurves.parquet``
  (layout in :mod:`.products`);
- ``lightcurves/{lcid}`` per star, ``lcid = <PICID>_<run_id>``, each in the same atomic batch
  as the write that lists it in ``star_lightcurves/{picid}`` (the star's key index), in
  batches of at most 500 writes (:func:`.products.lightcurve_writes`);
- ``observations/{sequence_id}.last_processed = {run_id, time}`` (merged).

Bad requests, an observation flagged as a whole, one with more flags than a run reads
(:data:`.flags.MAX_FLAGS`), an observation without tables, too few usable frames or no star with
a light curve raise :class:`~panoptes_network.pipeline.errors.PermanentFailure` (nothing is
written). Any other fault is transient and the message is redelivered. Each run records the
Pub/Sub message that asked for it (``delivery_id``): a redelivery of that message resumes its run
under the same id (the data file and docs are rewritten whole, so nothing partial survives; the
key indexes add with ``ArrayUnion``, so nothing is listed twice) and a
redelivery after the run finished is skipped, so at-least-once delivery never makes two runs of
one request. A new request (a new message) always makes a new run.

People's flags (:mod:`.flags`) are read when the run starts (again when a redelivery resumes
it) and the run records what it honoured: ``flags`` (ids honoured, removed, malformed),
flagged frames in ``frames_rejected`` (reason ``flagged: <reason> (flag <id>)``, ``flag_ids``),
``points_rejected`` (the first :data:`.flags.MAX_LISTED` points left out) and
``num_points_rejected``; the data file's metadata holds ``flags_honoured``. A flag made or
removed later changes no run: a new run must be requested (lightcurve-requests) to apply it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from astropy.table import Table

from panoptes_network import __version__
from panoptes_network.frames.bucket_path import format_timestamp
from panoptes_network.lightcurves.calibrated_run import calibrate_run
from panoptes_network.lightcurves.ensemble import differential_lightcurves
from panoptes_network.lightcurves.flags import (
    MAX_LISTED,
    leave_out_flagged_frames,
    leave_out_flagged_points,
    read_flags,
)
from panoptes_network.lightcurves.frame_quality import assess_frames
from panoptes_network.lightcurves.products import (
    DATA_NAME,
    brightest_lightcurves,
    encode_lightcurve_data,
    lightcurve_docs,
    lightcurve_writes,
    precision_statistics,
)
from panoptes_network.lightcurves.request import LightcurveRequest, parse_request
from panoptes_network.lightcurves.stacking import (
    TIME_KEY,
    MissingFrameMetadata,
    frame_time_seconds,
    read_noise_of,
)
from panoptes_network.photometry.sources_table import read_sources_table
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.key_index import add_ids
from panoptes_network.pipeline.ports import DocWrite, WriteConflict
from panoptes_network.pipeline.schema import (
    OBSERVATION_RUNS,
    OBSERVATIONS,
    PARQUET_CONTENT_TYPE,
    PROCESSED_OBSERVATIONS,
    RunStatus,
)
from panoptes_network.pipeline.storage import write_verified
from panoptes_network.pipeline.timing import StageTimer

__all__ = [
    "build_lightcurve",
    "data_name",
    "read_observation_tables",
]

_MAX_RUN_ID_TRIES = 50


def data_name(sequence_id: str, run_id: str) -> str:
    """Return the object name of a run's data file.

    Parameters
    ----------
    sequence_id, run_id : str
        The observation and the run.

    Returns
    -------
    str
        ``<sequence_id>/<run_id>/lightcurves.parquet``.
    """
    return f"{sequence_id}/{run_id}/{DATA_NAME}"


def read_observation_tables(
    ctx: ChainContext, req: LightcurveRequest
) -> tuple[list[Table], list[dict[str, Any]]]:
    """Read every per-image table of an observation from the sources bucket.

    Parameters
    ----------
    ctx : ChainContext
        The chain.
    req : LightcurveRequest
        The observation.

    Returns
    -------
    (list of astropy.table.Table, list of dict)
        The tables, image metadata merged into ``table.meta``, and the unreadable ones as
        ``{"image_id", "reasons"}``.

    Raises
    ------
    PermanentFailure
        When the observation has no tables.
    """
    bucket, prefix = ctx.settings.sources_bucket, req.sources_prefix
    names = [info.name for info in ctx.store.list(bucket, prefix) if info.name.endswith(".parquet")]
    if not names:
        raise PermanentFailure(
            f"observation {req.sequence_id} has no sources tables under gs://{bucket}/{prefix}: "
            "measure its frames first (measure-sources)"
        )
    tables, unreadable = [], []
    for name in names:
        stem = name[len(prefix) : -len(".parquet")]
        try:
            table, metadata = read_sources_table(ctx.store.read(bucket, name))
        except (ValueError, OSError) as exc:  # corrupt Parquet or missing columns
            image_id = f"{req.sequence_id[: -len(req.sequence_start)]}{stem}"
            unreadable.append({"image_id": image_id, "reasons": [f"unreadable: {exc}"]})
            continue
        table.meta.update(metadata)
        try:
            read_noise_of(table.meta)
        except MissingFrameMetadata as exc:
            unreadable.append({"image_id": str(metadata.get("image_id")), "reasons": [str(exc)]})
            continue
        tables.append(table)
    return tables, unreadable


def find_delivered_run(
    ctx: ChainContext, sequence_id: str, delivery_id: str
) -> tuple[str, dict[str, Any]] | None:
    """Return ``(run_id, fields)`` of the run made for one Pub/Sub message, if any.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    sequence_id : str
        The observation.
    delivery_id : str
        The Pub/Sub message id the run recorded.

    Returns
    -------
    tuple or None
        The run's id and fields, or None when that message made no run yet.
    """
    assert ctx.documents is not None
    found = ctx.documents.find(PROCESSED_OBSERVATIONS, "delivery_id", "==", delivery_id)
    runs = sorted((r for r in found if r[1].get("sequence_id") == sequence_id), key=lambda r: r[0])
    return runs[0] if runs else None


def _reserve_run(
    ctx: ChainContext, sequence_id: str, run_time: datetime, fields: dict[str, Any]
) -> str:
    """Create the run's doc under a fresh id, listed under its observation; return the id."""
    assert ctx.documents is not None
    base = f"{sequence_id}_{format_timestamp(run_time)}"
    for n in range(1, _MAX_RUN_ID_TRIES + 1):
        run_id = base if n == 1 else f"{base}-{n}"
        try:
            ctx.documents.commit(
                [
                    DocWrite(PROCESSED_OBSERVATIONS, run_id, fields, must_not_exist=True),
                    add_ids(OBSERVATION_RUNS, sequence_id, [run_id]),
                ]
            )
        except WriteConflict:
            continue
        return run_id
    raise RuntimeError(f"no free run id after {base}-{_MAX_RUN_ID_TRIES}; will retry")


def build_lightcurve(
    ctx: ChainContext, request: Any, *, delivery_id: str | None = None
) -> StepResult:
    """Build and store the light curves of one observation as a new processing run.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    request : Mapping
        ``{"sequence_id": str, "options": dict}`` (:func:`.request.parse_request`).
    delivery_id : str, optional
        The Pub/Sub message id. When given, a redelivery resumes the run that message started
        (same run id) or, when that run is done, is skipped.

    Returns
    -------
    StepResult
        ``processed``, with the run id, frames used and rejected, stars and the data object;
        ``skipped`` when this delivery's run is already done.

    Raises
    ------
    PermanentFailure
        Bad request, the observation flagged as a whole (the reason names the flags: ``flagged:
        <reason> (flag <id>)``) or with more than :data:`.flags.MAX_FLAGS` flags, no tables,
        fewer than ``min_frames`` usable frames (flagged frames are not usable), or no star
        with a light curve.
    """
    if ctx.documents is None:
        raise ValueError("build_lightcurve needs a document store")
    req = parse_request(request)
    opts = req.options
    earlier = find_delivered_run(ctx, req.sequence_id, delivery_id) if delivery_id else None
    if earlier is not None and earlier[1].get("status") == RunStatus.DONE:
        return StepResult(
            "skipped",
            {"sequence_id": req.sequence_id, "run_id": earlier[0], "why": "run already done"},
        )
    timer = StageTimer()
    run_time = ctx.now()
    flags = read_flags(ctx.documents, req.sequence_id)
    flagged_whole = flags.observation_reason()
    if flagged_whole is not None:
        raise PermanentFailure(
            f"observation {req.sequence_id}: every frame is left out, {flagged_whole}. An "
            "admin can remove the flag in the Data Explorer; then request a new run"
        )
    tables, unreadable = read_observation_tables(ctx, req)
    found = len(tables) + len(unreadable)
    frames = leave_out_flagged_frames(tables, flags, unreadable=unreadable)
    rejected = frames.rejected
    quality = assess_frames(
        frames.kept,
        min_stars=opts.min_stars,
        cloud_threshold=opts.cloud_threshold,
        focus_threshold=opts.focus_threshold,
        colour="g" if "g" in opts.colours else opts.colours[0],
    )
    rejected += [
        {"image_id": r.image_id, "reasons": list(r.reasons), "flag_ids": []}
        for r in quality.rejected
    ]
    rejected.sort(key=lambda r: r["image_id"])
    if len(quality.kept) < opts.min_frames:
        raise PermanentFailure(
            f"observation {req.sequence_id}: only {len(quality.kept)} of {found} frames are "
            f"usable (min_frames {opts.min_frames}); rejected: "
            + "; ".join(f"{r['image_id']} ({', '.join(r['reasons'])})" for r in rejected[:10])
        )
    points = leave_out_flagged_points(
        quality.kept,
        flags,
        frame_times=[frame_time_seconds(t.meta[TIME_KEY]) for t in tables],
    )
    lightcurves = differential_lightcurves(
        points.tables,
        colours=opts.colours,
        n_comparisons=opts.n_comparisons,
        min_coverage=opts.min_coverage,
        clip_sigma=opts.clip_sigma,
        detrend=opts.detrend,
    )
    n_frames, n_stars = lightcurves.stack.shape
    if n_stars == 0:
        raise PermanentFailure(
            f"observation {req.sequence_id}: no star is measured in {opts.min_coverage:.0%} "
            f"of the {n_frames} usable frames"
        )
    calibrated = calibrate_run(lightcurves, points.tables)

    software = f"panoptes-network {__version__}"
    run_fields: dict[str, Any] = {
        "sequence_id": req.sequence_id,
        "status": RunStatus.RUNNING,
        "run_time": run_time,
        "options": opts.as_record(),
        "software_version": software,
        "delivery_id": delivery_id,
        "flags": flags.record(),
    }
    if earlier is not None:
        run_id = earlier[0]
        run_fields["run_time"] = earlier[1].get("run_time", run_time)
        run_fields["resumed_time"] = run_time
        ctx.documents.commit(  # listed again: a run reserved before the index is listed now
            [
                DocWrite(PROCESSED_OBSERVATIONS, run_id, run_fields),
                add_ids(OBSERVATION_RUNS, req.sequence_id, [run_id]),
            ]
        )
    else:
        run_id = _reserve_run(ctx, req.sequence_id, run_time, run_fields)
    run_time = run_fields["run_time"]
    bucket, name = ctx.settings.lightcurves_bucket, data_name(req.sequence_id, run_id)
    data = encode_lightcurve_data(
        lightcurves,
        calibrated,
        {
            "sequence_id": req.sequence_id,
            "run_id": run_id,
            "software": software,
            "flags_honoured": flags.honoured,
        },
    )
    write_verified(
        ctx,
        StoredObject(bucket, name),
        data,
        content_type=PARQUET_CONTENT_TYPE,
        metadata={"sequence_id": req.sequence_id, "run_id": run_id, "stars": str(n_stars)},
    )
    data_url = ctx.settings.public_url(bucket, name)

    common = {
        "sequence_id": req.sequence_id,
        "unit_id": req.unit_id,
        "camera_id": req.camera_id,
        "processed_observation": run_id,
        "run_time": run_time,
        "data_path": name,
        "data_url": data_url,
    }
    docs = lightcurve_docs(lightcurves, calibrated, common, run_id)
    for batch in lightcurve_writes(docs):
        ctx.documents.commit(batch)

    frames_used = [str(i) for i in np.sort(lightcurves.stack.image_ids)]
    ctx.documents.merge(
        PROCESSED_OBSERVATIONS,
        run_id,
        {
            "unit_id": req.unit_id,
            "camera_id": req.camera_id,
            "frames_used": frames_used,
            "frames_rejected": rejected,
            "num_frames_found": found,
            "num_frames": n_frames,
            "num_frames_rejected": len(rejected),
            "points_rejected": points.left_out[:MAX_LISTED],
            "num_points_rejected": len(points.left_out),
            "num_stars": n_stars,
            "num_variable_stars": int(sum(doc["variable"] for _, doc in docs)),
            "corrections": {c: v.correction for c, v in lightcurves.colours.items()},
            "calibration": calibrated.record,
            "precision": precision_statistics(lightcurves),
            "notes": [
                *quality.notes,
                *flags.notes(),
                *frames.notes,
                *points.notes,
                *calibrated.notes,
            ],
            "data_path": name,
            "data_url": data_url,
            "brightest_lightcurves": brightest_lightcurves(docs),
            "run_seconds": round(timer.total(), 3),
            "status": RunStatus.DONE,
        },
    )
    ctx.documents.merge(
        OBSERVATIONS,
        req.sequence_id,
        {"last_processed": {"run_id": run_id, "time": run_time}},
    )
    # The analysis updates this run's stars (analyse-run); a redelivery adds nothing there.
    ctx.bus.publish(ctx.settings.analysis_topic, {"sequence_id": req.sequence_id, "run_id": run_id})
    return StepResult(
        "processed",
        {
            "sequence_id": req.sequence_id,
            "run_id": run_id,
            "frames": n_frames,
            "rejected": len(rejected),
            "points_rejected": len(points.left_out),
            "flags": len(flags.honoured),
            "stars": n_stars,
            "to": f"gs://{bucket}/{name}",
        },
    )
