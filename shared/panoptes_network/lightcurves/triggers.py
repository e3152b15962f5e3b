"""What asks for a build-lightcurve run: an explicit request, or the sweep of quiet observations.

- An explicit request (HTTP ``POST`` to lightcurve-requests, or ``bin/lightcurve``) is checked
  with :func:`.request.parse_request`, the observation must exist, and the request
  is published to topic ``build-lightcurve``.
- The sweep (``POST /sweep``, called by Cloud Scheduler every few minutes) finds observations
  whose last frame arrived more than ``quiet_minutes`` ago and that have not been processed
  since, and publishes one request for each.

Neither looks at people's flags (:mod:`.flags`): a run honours the flags there are when it
runs, and a flag made or removed later needs a new run, asked for explicitly; making or
removing a flag queues nothing (services/build-lightcurve/README.md says why).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from panoptes_network.lightcurves.request import parse_request
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.errors import NotFound, PermanentFailure
from panoptes_network.pipeline.schema import OBSERVATIONS

__all__ = ["observations_due", "request_lightcurve", "sweep"]

_MAX_PER_SWEEP = 500


def _processed_time(observation: dict[str, Any]) -> datetime | None:
    last = observation.get("last_processed") or {}
    return last.get("time") if isinstance(last, dict) else None


def observations_due(
    observations: list[tuple[str, dict[str, Any]]], now: datetime, quiet_minutes: float
) -> list[str]:
    """Return the ids of the observations that need a (new) processing run.

    Parameters
    ----------
    observations : list of (str, dict)
        Candidate observations (id and fields).
    now : datetime
        The current time (aware UTC).
    quiet_minutes : float
        Minutes without a new frame after which an observation is done.

    Returns
    -------
    list of str
        Sorted ids: quiet observations never processed, or whose last frame arrived after
        their last processing run.
    """
    cutoff = now - timedelta(minutes=quiet_minutes)
    due = []
    for doc_id, fields in observations:
        last_frame = fields.get("last_image_received_time") or fields.get("received_time")
        if not isinstance(last_frame, datetime) or last_frame > cutoff:
            continue
        processed = _processed_time(fields)
        if processed is None or processed < last_frame:
            due.append(doc_id)
    return sorted(due)


def request_lightcurve(ctx: ChainContext, request: Any) -> dict[str, Any]:
    """Check an explicit request and queue it.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    request : Any
        ``{"sequence_id": ..., "options": {...}}``.

    Returns
    -------
    dict
        ``{"queued": sequence_id, "options": {...}, "message_id": ...}``.

    Raises
    ------
    PermanentFailure
        If the request is malformed or the observation does not exist.
    """
    parsed = parse_request(request)
    assert ctx.documents is not None
    if ctx.documents.get(OBSERVATIONS, parsed.sequence_id) is None:
        raise NotFound(f"observation {parsed.sequence_id} does not exist")
    payload = {"sequence_id": parsed.sequence_id, "options": dict(request.get("options") or {})}
    message_id = ctx.bus.publish(ctx.settings.lightcurve_topic, payload)
    return {"queued": parsed.sequence_id, "options": payload["options"], "message_id": message_id}


def sweep(ctx: ChainContext, quiet_minutes: float | None = None) -> dict[str, Any]:
    """Queue a build-lightcurve run for every quiet, unprocessed observation.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    quiet_minutes : float, optional
        Minutes without a new frame after which an observation is done
        (``ctx.settings.lightcurve_quiet_minutes`` by default).

    Returns
    -------
    dict
        ``{"queued": [sequence ids], "quiet_minutes": ...}`` (at most 500 per sweep; the
        next sweep takes the rest).
    """
    if quiet_minutes is None:
        quiet_minutes = ctx.settings.lightcurve_quiet_minutes
    if not quiet_minutes > 0:
        raise PermanentFailure("quiet_minutes must be a positive number of minutes")
    assert ctx.documents is not None
    now = ctx.now()
    cutoff = now - timedelta(minutes=quiet_minutes)
    # Only observations with a frame since their last run carry lightcurve_pending: the
    # sweep's reads grow with what arrived, not with the archive.
    candidates = ctx.documents.query(
        OBSERVATIONS,
        [("lightcurve_pending", "==", True), ("last_image_received_time", "<=", cutoff)],
        limit=_MAX_PER_SWEEP * 4,
    )
    due = observations_due(candidates, now, quiet_minutes)
    done = [doc_id for doc_id, _ in candidates if doc_id not in set(due)]
    if done:  # processed since their last frame: no longer pending
        ctx.documents.merge_many([(OBSERVATIONS, d, {"lightcurve_pending": False}) for d in done])
    due = due[:_MAX_PER_SWEEP]
    for sequence_id in due:
        ctx.bus.publish(ctx.settings.lightcurve_topic, {"sequence_id": sequence_id, "options": {}})
    return {"queued": due, "quiet_minutes": quiet_minutes}
