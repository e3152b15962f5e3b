"""Build calibration masters when a camera's darks and flats have arrived, on a schedule.

record-image marks the observation of every dark, bias or flat it records
``calibration_pending`` (:mod:`.counters`). :func:`sweep_calibrations` (the
``build-calibrations`` service's ``POST /sweep``, called by Cloud Scheduler) takes the
observations pending and quiet for ``quiet_minutes`` (a sequence is done when no frame came
for that long), and for each of their cameras:

1. measures the camera's constants per night and builds (or brings up to date) its masters
   (:func:`~panoptes_network.calibration.build_masters.build_camera_masters`);
2. sends the camera's frames that waited with ``calibration_error`` on, when a night's
   measurement gave them their constant (:mod:`.calibration_redrive`);
3. clears ``calibration_pending`` on those observations, unless a frame came meanwhile (then
   the next sweep builds again: building is idempotent).

A sweep builds at most :data:`MAX_CAMERAS_PER_SWEEP` cameras; the next takes the rest.
:func:`build_calibrations` builds one camera on request (``POST /``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from panoptes_network.calibration.build_masters import build_camera_masters
from panoptes_network.calibration.master_record import FLAT_PERIODS
from panoptes_network.ingest.calibration_redrive import redrive_waiting_frames
from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.schema import OBSERVATIONS

__all__ = ["MAX_CAMERAS_PER_SWEEP", "build_calibrations", "sweep_calibrations"]

#: Most cameras one sweep builds (each reads its new calibration frames).
MAX_CAMERAS_PER_SWEEP = 5
_CAMERA_ID_LENGTH = 6


def _camera_id(value: Any) -> str:
    if (
        not isinstance(value, str)
        or len(value) != _CAMERA_ID_LENGTH
        or any(c not in "0123456789abcdef" for c in value)
    ):
        raise PermanentFailure(
            f"camera_id must be 6 lower-case hex characters (e.g. 14d3bd), not {value!r}"
        )
    return value


def _flat_period(value: Any) -> str:
    if value not in FLAT_PERIODS:
        raise PermanentFailure(f"flat_period must be one of {list(FLAT_PERIODS)}, not {value!r}")
    return str(value)


def build_calibrations(ctx: ChainContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """Build one camera's constants and masters, and send its waiting frames on.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    body : mapping
        ``{"camera_id": "14d3bd", "flat_period": "night"}`` (``flat_period`` optional,
        ``night`` or ``week``).

    Returns
    -------
    dict
        The build report (masters, constants, frames left out) and ``redrive``: what was
        sent on and what still waits.

    Raises
    ------
    PermanentFailure
        For a bad camera id or flat period.
    """
    if not isinstance(body, Mapping):
        raise PermanentFailure('send a JSON object {"camera_id": ...}')
    unknown = sorted(set(body) - {"camera_id", "flat_period"})
    if unknown:
        raise PermanentFailure(f"unknown field(s) {unknown}: expected camera_id, flat_period")
    camera_id = _camera_id(body.get("camera_id"))
    period = _flat_period(body.get("flat_period", "night"))
    report = build_camera_masters(ctx, camera_id, flat_period=period)
    redrive = redrive_waiting_frames(ctx, camera_id)
    return {
        **report.to_dict(),
        "redrive": {
            "resent": redrive.resent,
            "waiting": [list(item) for item in redrive.waiting],
        },
    }


def _clear_pending(ctx: ChainContext, sequence_id: str, built_from: Any) -> bool:
    """Clear ``calibration_pending`` unless a frame arrived after ``built_from``."""
    assert ctx.documents is not None
    documents = ctx.documents

    def plan() -> tuple[list[DocWrite], bool]:
        snapshot = documents.read([(OBSERVATIONS, sequence_id)])[(OBSERVATIONS, sequence_id)]
        doc = snapshot.fields
        if doc is None or doc.get("last_image_received_time") != built_from:
            return [], False
        update = {"calibration_pending": False, "calibration_built_time": ctx.now()}
        return [
            DocWrite(
                OBSERVATIONS,
                sequence_id,
                update,
                must_exist=True,
                expected_version=snapshot.version,
            )
        ], True

    return commit_with_retry(documents, plan, what=f"{OBSERVATIONS}/{sequence_id}")


def sweep_calibrations(
    ctx: ChainContext, quiet_minutes: float, *, flat_period: str = "night"
) -> dict[str, Any]:
    """Build the cameras whose calibration sequences are pending and quiet.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    quiet_minutes : float
        Minutes without a new frame after which a calibration sequence is done.
    flat_period : str, optional
        ``night`` or ``week``: what a flat master covers.

    Returns
    -------
    dict
        ``cameras``: per camera built, the masters by status, the constants measured and the
        frames sent on; ``cleared``: observations no longer pending; ``left``: cameras left
        for the next sweep.

    Raises
    ------
    PermanentFailure
        For a quiet time that is not a positive number or a bad flat period.
    """
    if isinstance(quiet_minutes, bool) or not quiet_minutes > 0:
        raise PermanentFailure("quiet_minutes must be a positive number of minutes")
    period = _flat_period(flat_period)
    assert ctx.documents is not None
    cutoff = ctx.now() - timedelta(minutes=float(quiet_minutes))
    candidates = ctx.documents.query(
        OBSERVATIONS,
        [("calibration_pending", "==", True), ("last_image_received_time", "<=", cutoff)],
        limit=500,
    )
    by_camera: dict[str, list[tuple[str, Any]]] = {}
    for sequence_id, doc in candidates:
        camera = doc.get("camera_id")
        if isinstance(camera, str):
            by_camera.setdefault(camera, []).append((sequence_id, doc["last_image_received_time"]))
    cameras = sorted(by_camera)
    answer: dict[str, Any] = {"cameras": {}, "cleared": [], "left": []}
    for camera_id in cameras[:MAX_CAMERAS_PER_SWEEP]:
        report = build_camera_masters(ctx, camera_id, flat_period=period)
        redrive = redrive_waiting_frames(ctx, camera_id)
        answer["cameras"][camera_id] = {
            "masters": {
                status: len(report.with_status(status))
                for status in ("valid", "refused", "unchanged", "skipped")
            },
            "constants": [c.to_dict() for c in report.constants],
            "frames_left_out": len(report.skipped_frames),
            "resent": redrive.resent,
            "waiting": len(redrive.waiting),
        }
        for sequence_id, received in by_camera[camera_id]:
            if _clear_pending(ctx, sequence_id, received):
                answer["cleared"].append(sequence_id)
    answer["left"] = cameras[MAX_CAMERAS_PER_SWEEP:]
    return answer
