"""A camera's constants measured each night from its own calibration frames.

The second place a frame's camera constants come from, after its header and before the
``cameras/{camera_id}`` registry
(:func:`~panoptes_network.frames.camera_constants.resolve_camera_constants`), is a
measurement. :func:`measure_nightly_constants` makes one per camera and night that has both
bias (or dark) frames and flats: bias and read noise from the two shortest of the night's
darks, gain by photon transfer from its consecutive flats taken alike, the white level from
an over-exposed flat when there is one, and the Bayer pattern from ``FILTER``
(:func:`~panoptes_network.calibration.camera_measurement.measure_camera`).

Each is a ``calibrations/{camera_id}_constants_{night}`` record (``kind: "constants"``)
holding the values with their sources (fields named as
:data:`~panoptes_network.frames.camera_constants.CONSTANTS`, ``<name>_source`` beside each),
the frames used, the notes, and ``status`` ``valid``, or ``refused`` with the ``reason`` (too
few darks, no flat pair, flats without signal). A frame's steps use the valid record nearest
its time (:func:`~panoptes_network.frames.camera_registry.camera_constants_for`). A night
whose frames are those of its record is not measured again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from panoptes_network import __version__
from panoptes_network.calibration.camera_measurement import (
    CalibrationFrameFile,
    measure_camera,
)
from panoptes_network.calibration.frame_kind import FrameType
from panoptes_network.calibration.master_store import input_key
from panoptes_network.frames.camera_constants import CONSTANTS
from panoptes_network.frames.camera_registry import MEASURED_KIND
from panoptes_network.frames.stored_frame import UnreadableFrame, read_stored_frame
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.errors import ObjectNotFoundError
from panoptes_network.pipeline.schema import CALIBRATIONS, MasterStatus

__all__ = [
    "MAX_FLATS",
    "ConstantsOutcome",
    "constants_record_id",
    "measure_nightly_constants",
]

#: Most flats of a night read for photon transfer (the first, by time): six pairs measure the
#: gain to well under 1 %, and each full frame holds 36 MB.
MAX_FLATS: int = 12


class _FrameDoc(Protocol):
    """What a calibration frame's images document gives (``build_masters.CalibrationFrameDoc``)."""

    image_id: str
    bucket_path: str
    frame_type: str
    time: datetime
    exptime: float | None
    night: str | None


@dataclass(frozen=True)
class ConstantsOutcome:
    """What became of one night's measurement.

    Attributes
    ----------
    record_id : str
        ``{camera_id}_constants_{night}``.
    night : str
        The night, ``YYYY-MM-DD``.
    status : str
        ``valid``, ``refused``, ``unchanged`` (measured before from the same frames) or
        ``skipped`` (fewer than two frames could be read).
    reason : str or None
        Why it was refused or skipped.
    values : dict
        The constants measured (name to value).
    """

    record_id: str
    night: str
    status: str
    reason: str | None
    values: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as a JSON-able dict."""
        return dict(self.__dict__)


def constants_record_id(camera_id: str, night: str) -> str:
    """Return the ``calibrations`` id of a night's measured constants.

    Parameters
    ----------
    camera_id : str
        The camera.
    night : str
        The night, ``YYYY-MM-DD``.

    Returns
    -------
    str
        ``{camera_id}_constants_{night}``.
    """
    return f"{camera_id}_constants_{night}"


def _nights(frames: Sequence[_FrameDoc]) -> dict[str, tuple[list[_FrameDoc], list[_FrameDoc]]]:
    """Darks (biases first, then by exposure time) and flats (by time) of each night with both."""
    darks: dict[str, list[_FrameDoc]] = defaultdict(list)
    flats: dict[str, list[_FrameDoc]] = defaultdict(list)
    for frame in frames:
        if frame.night is None:
            continue
        if frame.frame_type in (FrameType.BIAS.value, FrameType.DARK.value):
            darks[frame.night].append(frame)
        elif frame.frame_type == FrameType.FLAT.value:
            flats[frame.night].append(frame)
    return {
        night: (
            sorted(darks[night], key=lambda f: (f.exptime or 0.0, f.time))[:2],
            sorted(flats[night], key=lambda f: f.time)[:MAX_FLATS],
        )
        for night in sorted(set(darks) & set(flats))
    }


def _read(
    ctx: ChainContext, frames: Sequence[_FrameDoc]
) -> tuple[list[CalibrationFrameFile], list[str]]:
    files: list[CalibrationFrameFile] = []
    unread: list[str] = []
    for frame in frames:
        uri = f"gs://{ctx.settings.images_bucket}/{frame.bucket_path}"
        try:
            stored = read_stored_frame(
                ctx.store.read(ctx.settings.images_bucket, frame.bucket_path), uri
            )
        except ObjectNotFoundError:
            unread.append(f"{frame.image_id}: {uri} does not exist")
            continue
        except UnreadableFrame as exc:
            unread.append(f"{frame.image_id}: {exc.reason}")
            continue
        files.append(CalibrationFrameFile(frame.image_id, stored.header, stored.pixels))
    return files, unread


def _measure_night(
    ctx: ChainContext,
    camera_id: str,
    night: str,
    darks: Sequence[_FrameDoc],
    flats: Sequence[_FrameDoc],
    key: str,
) -> ConstantsOutcome:
    assert ctx.documents is not None
    record_id = constants_record_id(camera_id, night)
    frames = [*darks, *flats]
    files, unread = _read(ctx, frames)
    if len(files) < 2:
        why = "fewer than two of its frames could be read: " + "; ".join(unread)
        return ConstantsOutcome(record_id, night, "skipped", why, {})
    times = sorted(f.time for f in frames)
    record: dict[str, Any] = {
        "kind": MEASURED_KIND,
        "camera_id": camera_id,
        "night": night,
        "time": times[len(times) // 2].isoformat(),
        "start": times[0].isoformat(),
        "end": times[-1].isoformat(),
        "input_frames": [f.image_id for f in frames],
        "input_key": key,
        "built_time": ctx.now(),
        "software_version": f"panoptes-network {__version__}",
        "superseded_by": None,
    }
    try:
        measured = measure_camera(files, camera_id, pattern_required=False)
    except ValueError as exc:
        reason = str(exc) + (f" (unreadable: {'; '.join(unread)})" if unread else "")
        record.update(dict.fromkeys(CONSTANTS), status=MasterStatus.REFUSED, reason=reason)
        ctx.documents.merge(CALIBRATIONS, record_id, record)
        return ConstantsOutcome(record_id, night, MasterStatus.REFUSED, reason, {})
    values = {k: v for k, v in measured.entry.items() if k in CONSTANTS}
    record.update(
        {k: v for k, v in measured.entry.items() if k != "camera_id"},
        status=MasterStatus.VALID,
        reason=None,
        biases=measured.biases,
        flat_pairs=[{"first": a, "second": b} for a, b in measured.flat_pairs],
        gain_scatter=round(measured.gain_scatter, 5),
        green_diagonal=measured.green_diagonal,
        notes=[*measured.notes, *unread],
    )
    ctx.documents.merge(CALIBRATIONS, record_id, record)
    return ConstantsOutcome(record_id, night, MasterStatus.VALID, None, values)


def measure_nightly_constants(
    ctx: ChainContext,
    camera_id: str,
    frames: Sequence[_FrameDoc],
    *,
    progress: Callable[[str], None] | None = None,
) -> list[ConstantsOutcome]:
    """Measure a camera's constants for every night with darks and flats, and record them.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set. Frames are read from the images bucket.
    camera_id : str
        The camera.
    frames : sequence
        Its calibration frames' documents
        (:class:`~panoptes_network.calibration.build_masters.CalibrationFrameDoc`).
    progress : callable, optional
        Called with a line of text per night.

    Returns
    -------
    list of ConstantsOutcome
        One per night with both darks and flats, oldest first.

    Raises
    ------
    ValueError
        Without a document store.
    """
    if ctx.documents is None:
        raise ValueError("measure_nightly_constants needs a document store")
    say = progress or (lambda _line: None)
    done: Mapping[str, dict[str, Any]] = dict(
        ctx.documents.query(
            CALIBRATIONS, [("camera_id", "==", camera_id), ("kind", "==", MEASURED_KIND)]
        )
    )
    outcomes = []
    for night, (darks, flats) in _nights(frames).items():
        record_id = constants_record_id(camera_id, night)
        key = input_key([f.image_id for f in [*darks, *flats]], MEASURED_KIND)
        previous = done.get(record_id)
        if previous is not None and previous.get("input_key") == key:
            values = {k: previous[k] for k in CONSTANTS if k in previous}
            outcome = ConstantsOutcome(
                record_id, night, "unchanged", previous.get("reason"), values
            )
        else:
            outcome = _measure_night(ctx, camera_id, night, darks, flats, key)
        shown = ", ".join(f"{k} {v}" for k, v in outcome.values.items())
        shown = f" ({shown})" if shown else ""
        why = f": {outcome.reason}" if outcome.reason else ""
        say(f"{camera_id}: constants of {night} {outcome.status}{shown}{why}")
        outcomes.append(outcome)
    return outcomes
