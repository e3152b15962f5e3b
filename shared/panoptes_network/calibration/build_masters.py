"""Building a camera's calibration masters from its recorded darks, biases and flats.

First the camera's constants are measured for each night that has both darks and flats
(:mod:`.measured_constants`): the masters, and every frame of that camera whose header lacks
a constant, use them.

record-image records calibration frames (``status: "calibration_frame"``, ``frame_type``
``dark``, ``bias`` or ``flat``, with ``camera_temperature_c`` and ``night``:
:mod:`.calibration_frame`). :func:`build_camera_masters` plans a camera's masters from those
documents alone, then reads each group's frames and builds its master with
:mod:`.masters`:

- **darks and biases**: per night, temperature bin (:data:`.master_record.TEMPERATURE_BIN_C`
  degrees, from ``CAMTEMP``) and exposure time (frames within
  :data:`.master_record.EXPTIME_TOLERANCE` of each other share a master; at most
  :data:`.frame_kind.BIAS_MAX_EXPTIME_S` makes a bias master). A dark without ``CAMTEMP`` or
  ``EXPTIME`` is left out, with the reason;
- **flats**: per night (the evening's and the morning's flats of one night together) or per
  ISO week of nights (``flat_period="week"``), the three colours in one master. The nearest
  valid bias master is subtracted from each flat (else the nearest dark of the flats'
  temperature bin, scaled to their exposure), so darks and biases are built first.

Each master is stored (:mod:`.master_store`): its FITS file in the calibrations bucket and its
record in ``calibrations``, valid or refused with the reason (a light leak, saturated or too
dark flats, too few frames). Refused frames, rejection statistics and the quality figure are
in the record.

Re-running is harmless: a group whose frames (and build parameters) are those of a stored
record is skipped (``unchanged``); a group that gained frames is built again under the same
master id when its first frame is the same, else the older record is marked ``superseded``.

Memory: frames are read one at a time and kept as memory-mapped files in a scratch directory
(36 MB each for a full frame); the masters combine them :data:`._combine.CHUNK_ROWS` rows at a
time, so a group of 30 full frames needs about 1 GB of disk and a few hundred MB of memory.
"""

from __future__ import annotations

import math
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from astropy.io import fits

from panoptes_network import __version__
from panoptes_network.calibration.apply import select_master
from panoptes_network.calibration.calibration_frame import site_longitude_deg
from panoptes_network.calibration.frame_kind import BIAS_MAX_EXPTIME_S, FrameType
from panoptes_network.calibration.master_record import (
    EXPTIME_TOLERANCE,
    FLAT_PERIODS,
    Master,
    aware_utc,
    master_fits_bytes,
    temperature_bin,
    week_of,
)
from panoptes_network.calibration.master_store import (
    camera_masters,
    input_key,
    master_object_name,
    read_master,
    stored_fields,
)
from panoptes_network.calibration.masters import build_dark_master, build_flat_master
from panoptes_network.calibration.measured_constants import (
    ConstantsOutcome,
    measure_nightly_constants,
)
from panoptes_network.frames.camera_constants import CameraConstants, MissingCameraConstant
from panoptes_network.frames.camera_registry import camera_constants_for
from panoptes_network.frames.stored_frame import UnreadableFrame, read_stored_frame
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.errors import ObjectNotFoundError
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import (
    CALIBRATIONS,
    FITS_CONTENT_TYPE,
    IMAGES,
    OBSERVATIONS,
    ImageStatus,
    MasterStatus,
)
from panoptes_network.pipeline.storage import md5_base64, write_verified

__all__ = [
    "CALIBRATION_TYPES",
    "CalibrationFrameDoc",
    "FrameGroup",
    "MasterBuildReport",
    "MasterOutcome",
    "SkippedFrame",
    "build_camera_masters",
    "calibration_frame_docs",
    "cameras_with_calibration_frames",
    "plan_groups",
]

#: ``frame_type`` values of calibration frames.
CALIBRATION_TYPES: tuple[str, ...] = (
    FrameType.DARK.value,
    FrameType.BIAS.value,
    FrameType.FLAT.value,
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CalibrationFrameDoc:
    """What a calibration frame's images document says, as the planning needs it.

    Attributes
    ----------
    image_id : str
        The image id.
    bucket_path : str
        Its ``.fits.fz`` in the images bucket.
    frame_type : str
        ``dark``, ``bias`` or ``flat``.
    time : datetime
        Start of the exposure (aware UTC).
    exptime : float or None
        Exposure time, in seconds.
    temperature_c : float or None
        Sensor temperature, in degrees Celsius.
    night : str or None
        The night, ``YYYY-MM-DD``.
    """

    image_id: str
    bucket_path: str
    frame_type: str
    time: datetime
    exptime: float | None
    temperature_c: float | None
    night: str | None

    @classmethod
    def from_document(cls, image_id: str, doc: Mapping[str, Any]) -> CalibrationFrameDoc:
        """Read the fields of an images document (its ``time`` a datetime; unknowns None)."""

        def number(name: str) -> float | None:
            value = doc.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            return float(value) if math.isfinite(value) else None

        return cls(
            image_id=image_id,
            bucket_path=str(doc.get("bucket_path") or ""),
            frame_type=str(doc.get("frame_type")),
            time=aware_utc(doc["time"]),
            exptime=number("exptime"),
            temperature_c=number("camera_temperature_c"),
            night=doc.get("night") if isinstance(doc.get("night"), str) else None,
        )


@dataclass(frozen=True)
class SkippedFrame:
    """A calibration frame left out of every master, and why."""

    image_id: str
    reason: str


@dataclass(frozen=True)
class FrameGroup:
    """The frames of one master to build.

    Attributes
    ----------
    group_key : str
        Camera, kind, night (or week), and for darks the exposure time and temperature bin,
        e.g. ``14d3bd_dark_2016-09-08_120s_10C`` or ``14d3bd_flat_night_2016-09-08``.
    kind : FrameType
        ``DARK``, ``BIAS`` or ``FLAT``.
    frames : tuple of CalibrationFrameDoc
        The frames, by time.
    exptime_s : float or None
        A dark's or bias's exposure time, in seconds.
    period : str or None
        A flat's period, ``night`` or ``week``.
    """

    group_key: str
    kind: FrameType
    frames: tuple[CalibrationFrameDoc, ...]
    exptime_s: float | None = None
    period: str | None = None

    @property
    def frame_ids(self) -> list[str]:
        """The image ids of the frames."""
        return [f.image_id for f in self.frames]

    @property
    def input_key(self) -> str:
        """Digest of the frames and build parameters (:func:`.master_store.input_key`)."""
        return input_key(self.frame_ids, self.kind.value, self.period or "", f"{self.exptime_s}")


@dataclass(frozen=True)
class MasterOutcome:
    """What became of one group.

    Attributes
    ----------
    group_key : str
        The group.
    master_id : str or None
        The master's id (None when nothing was built).
    kind : str
        ``dark``, ``bias`` or ``flat``.
    status : str
        ``valid``, ``refused``, ``unchanged`` (already built from the same frames) or
        ``skipped`` (nothing built: no frame could be read, or no camera constants).
    reason : str or None
        Why it was refused or skipped.
    frames_used : int
        Frames combined.
    frames_in_group : int
        Frames of the group.
    quality_figure : float or None
        The master's quality figure (lower is better).
    """

    group_key: str
    master_id: str | None
    kind: str
    status: str
    reason: str | None
    frames_used: int
    frames_in_group: int
    quality_figure: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as a JSON-able dict."""
        return dict(self.__dict__)


@dataclass
class MasterBuildReport:
    """What a build of one camera's masters did, so far.

    Attributes
    ----------
    camera_id : str
        The camera.
    frames_found : int
        Calibration frames recorded for it.
    frames_read : int
        Frames read from the images bucket.
    groups : int
        Masters planned.
    outcomes : list of MasterOutcome
        One per group done, in order.
    skipped_frames : list of SkippedFrame
        Frames left out, with the reasons.
    constants : list of ConstantsOutcome
        The camera's constants measured per night (:mod:`.measured_constants`).
    """

    camera_id: str
    frames_found: int = 0
    frames_read: int = 0
    groups: int = 0
    outcomes: list[MasterOutcome] = field(default_factory=list)
    skipped_frames: list[SkippedFrame] = field(default_factory=list)
    constants: list[ConstantsOutcome] = field(default_factory=list)

    def with_status(self, status: str) -> list[MasterOutcome]:
        """Return the outcomes of one status (``valid``, ``refused``, ``unchanged``...)."""
        return [o for o in self.outcomes if o.status == status]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-able dict."""
        return {
            "camera_id": self.camera_id,
            "frames_found": self.frames_found,
            "frames_read": self.frames_read,
            "groups": self.groups,
            "outcomes": [o.to_dict() for o in self.outcomes],
            "skipped_frames": [s.__dict__ for s in self.skipped_frames],
            "constants": [c.to_dict() for c in self.constants],
        }


# --------------------------------------------------------------------------------------------
# Planning, from the documents alone


def cameras_with_calibration_frames(documents: DocumentStore) -> list[str]:
    """Return the cameras with calibration observations (their ``frame_type``), sorted.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.

    Returns
    -------
    list of str
        Camera ids.
    """
    cameras: set[str] = set()
    for kind in CALIBRATION_TYPES:
        for _, doc in documents.query(OBSERVATIONS, [("frame_type", "==", kind)]):
            if isinstance(doc.get("camera_id"), str):
                cameras.add(doc["camera_id"])
    return sorted(cameras)


def calibration_frame_docs(
    documents: DocumentStore, camera_id: str
) -> tuple[list[CalibrationFrameDoc], list[SkippedFrame]]:
    """Return a camera's recorded calibration frames, and those that cannot be used.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    camera_id : str
        The camera.

    Returns
    -------
    frames : list of CalibrationFrameDoc
        Frames with ``status: "calibration_frame"``, or ``calibration_error`` (their camera's
        constants are missing: the nightly measurement needs none, and a master built while
        they are still missing is skipped with the reason), by time.
    skipped : list of SkippedFrame
        The others (e.g. ``error``: unreadable), with the reasons.
    """
    frames: list[CalibrationFrameDoc] = []
    skipped: list[SkippedFrame] = []
    for kind in CALIBRATION_TYPES:
        rows = documents.query(IMAGES, [("camera_id", "==", camera_id), ("frame_type", "==", kind)])
        for image_id, doc in rows:
            status = doc.get("status")
            if status not in (ImageStatus.CALIBRATION_FRAME, ImageStatus.CALIBRATION_ERROR):
                why = doc.get("calibration_error_reason") or doc.get("error_reason") or ""
                skipped.append(
                    SkippedFrame(image_id, f"status {status!r}{': ' + why if why else ''}")
                )
            elif not doc.get("bucket_path"):
                skipped.append(SkippedFrame(image_id, "no bucket_path: the frame is not stored"))
            elif not isinstance(doc.get("time"), datetime):
                skipped.append(SkippedFrame(image_id, "no time: record the frame again"))
            else:
                frames.append(CalibrationFrameDoc.from_document(image_id, doc))
    frames.sort(key=lambda f: (f.time, f.image_id))
    return frames, skipped


def _label(value: float) -> str:
    return f"{value:g}"


def _exptime_clusters(frames: Sequence[CalibrationFrameDoc]) -> list[list[CalibrationFrameDoc]]:
    """Split frames into runs of exposure times within the tolerance of the run's shortest."""
    clusters: list[list[CalibrationFrameDoc]] = []
    for frame in sorted(frames, key=lambda f: (f.exptime or 0.0, f.time)):
        exptime = frame.exptime or 0.0
        if clusters:
            first = clusters[-1][0].exptime or 0.0
            if exptime - first <= max(0.01, EXPTIME_TOLERANCE * first):
                clusters[-1].append(frame)
                continue
        clusters.append([frame])
    return clusters


def plan_groups(
    camera_id: str, frames: Sequence[CalibrationFrameDoc], flat_period: str = "night"
) -> tuple[list[FrameGroup], list[SkippedFrame]]:
    """Group a camera's calibration frames into the masters to build (module docstring).

    Parameters
    ----------
    camera_id : str
        The camera.
    frames : sequence of CalibrationFrameDoc
        Its calibration frames.
    flat_period : str
        ``"night"`` or ``"week"``.

    Returns
    -------
    groups : list of FrameGroup
        Darks and biases first, then flats, each by time.
    skipped : list of SkippedFrame
        Frames that fit no group (no exposure time, temperature or night), with the reason.

    Raises
    ------
    ValueError
        For an unknown flat period.
    """
    if flat_period not in FLAT_PERIODS:
        raise ValueError(f"flat period {flat_period!r} is not one of {FLAT_PERIODS}")
    skipped: list[SkippedFrame] = []
    darks: dict[tuple[str, float], list[CalibrationFrameDoc]] = defaultdict(list)
    flats: dict[str, list[CalibrationFrameDoc]] = defaultdict(list)
    for frame in frames:
        if frame.night is None:
            skipped.append(SkippedFrame(frame.image_id, "no night recorded: record it again"))
        elif frame.frame_type == FrameType.FLAT.value:
            label = frame.night
            if flat_period == "week":
                label = week_of(date.fromisoformat(frame.night))
            flats[label].append(frame)
        elif frame.exptime is None:
            skipped.append(SkippedFrame(frame.image_id, "no exposure time (EXPTIME)"))
        elif frame.temperature_c is None:
            skipped.append(
                SkippedFrame(
                    frame.image_id,
                    "no sensor temperature (CAMTEMP): the dark's temperature bin is unknown",
                )
            )
        else:
            darks[(frame.night, temperature_bin(frame.temperature_c))].append(frame)
    dark_groups: list[FrameGroup] = []
    for (night, tbin), members in darks.items():
        for cluster in _exptime_clusters(members):
            exptime = float(f"{median(f.exptime or 0.0 for f in cluster):.4g}")
            bias = exptime <= BIAS_MAX_EXPTIME_S
            key = (
                f"{camera_id}_bias_{night}_{_label(tbin)}C"
                if bias
                else f"{camera_id}_dark_{night}_{_label(exptime)}s_{_label(tbin)}C"
            )
            dark_groups.append(
                FrameGroup(
                    key,
                    FrameType.BIAS if bias else FrameType.DARK,
                    tuple(sorted(cluster, key=lambda f: (f.time, f.image_id))),
                    exptime_s=exptime,
                )
            )
    flat_groups = [
        FrameGroup(
            f"{camera_id}_flat_{flat_period}_{label}",
            FrameType.FLAT,
            tuple(members),
            period=flat_period,
        )
        for label, members in flats.items()
    ]

    def first(group: FrameGroup) -> tuple[datetime, str]:
        return group.frames[0].time, group.group_key

    return sorted(dark_groups, key=first) + sorted(flat_groups, key=first), skipped


# --------------------------------------------------------------------------------------------
# Reading frames


@contextmanager
def _scratch(directory: Path | None) -> Iterator[Callable[[np.ndarray], np.ndarray]]:
    """Yield a function that stores an image in a scratch file and returns it memory-mapped."""
    with tempfile.TemporaryDirectory(prefix="panoptes-masters-", dir=directory) as root:
        count = 0

        def keep(image: np.ndarray) -> np.ndarray:
            nonlocal count
            path = Path(root) / f"frame{count:05d}.npy"
            count += 1
            np.save(path, np.ascontiguousarray(image))
            return np.load(path, mmap_mode="r")

        yield keep


@dataclass
class _ReadGroup:
    docs: list[CalibrationFrameDoc]
    pixels: list[np.ndarray]
    header: fits.Header | None


def _read_group(
    ctx: ChainContext,
    group: FrameGroup,
    keep: Callable[[np.ndarray], np.ndarray],
    report: MasterBuildReport,
    progress: Progress,
) -> _ReadGroup:
    read = _ReadGroup([], [], None)
    for k, frame in enumerate(group.frames, start=1):
        uri = f"gs://{ctx.settings.images_bucket}/{frame.bucket_path}"
        try:
            data = ctx.store.read(ctx.settings.images_bucket, frame.bucket_path)
            stored = read_stored_frame(data, uri)
            header, image = stored.header, stored.pixels
        except ObjectNotFoundError:
            report.skipped_frames.append(SkippedFrame(frame.image_id, f"{uri} does not exist"))
            continue
        except UnreadableFrame as exc:
            report.skipped_frames.append(SkippedFrame(frame.image_id, exc.reason))
            continue
        del data
        read.docs.append(frame)
        read.pixels.append(keep(image))
        read.header = read.header if read.header is not None else header
        report.frames_read += 1
        if k % 10 == 0 or k == len(group.frames):
            progress(f"{group.group_key}: read {k} of {len(group.frames)} frames")
    return read


# --------------------------------------------------------------------------------------------
# Building and storing


def _dark_for_flats(
    ctx: ChainContext,
    records: Sequence[Mapping[str, Any]],
    camera_id: str,
    read: _ReadGroup,
    shape: tuple[int, int],
) -> tuple[Master | None, str | None]:
    """Return the valid bias (else dark) master nearest the flats, and a note on the choice."""
    when = read.docs[len(read.docs) // 2].time
    fitting = [r for r in records if list(r.get("shape") or ()) == list(shape)]
    choice = select_master(fitting, when, kind=FrameType.BIAS.value, camera_id=camera_id)
    temperatures = [f.temperature_c for f in read.docs if f.temperature_c is not None]
    if choice.record is None:
        choice = select_master(
            fitting,
            when,
            kind=FrameType.DARK.value,
            camera_id=camera_id,
            temperature_c=median(temperatures) if temperatures else None,
        )
    if choice.record is None:
        return None, f"no dark or bias master subtracted ({choice.note})"
    try:
        master = read_master(ctx, dict(choice.record))
    except (ObjectNotFoundError, ValueError) as exc:
        return None, f"no dark or bias master subtracted: {choice.master_id} unreadable: {exc}"
    return master, choice.note


def _build(
    ctx: ChainContext,
    group: FrameGroup,
    read: _ReadGroup,
    constants: CameraConstants,
    records: Sequence[Mapping[str, Any]],
    camera_id: str,
) -> tuple[Master, str | None]:
    common = {
        "camera_id": camera_id,
        "bias_adu": float(constants["bias_adu"]),
        "saturation_adu": float(constants["saturation_adu"]),
        "gain": float(constants["gain_e_per_adu"]),
        "read_noise_e": float(constants["read_noise_e"]),
        "times": [f.time for f in read.docs],
        "frame_ids": [f.image_id for f in read.docs],
    }
    exptimes = [f.exptime for f in read.docs]
    if group.kind is not FrameType.FLAT:
        master = build_dark_master(
            read.pixels,
            exptime=float(group.exptime_s or 0.0),
            temperature_c=[float(f.temperature_c or 0.0) for f in read.docs],
            exptimes=[float(e or 0.0) for e in exptimes],
            **common,
        )
        return master, None
    shape = (int(read.pixels[0].shape[0]), int(read.pixels[0].shape[1]))
    known_exptimes = None if any(e is None for e in exptimes) else [float(e or 0) for e in exptimes]
    dark, note = (
        _dark_for_flats(ctx, records, camera_id, read, shape)
        if known_exptimes is not None
        else (None, "no dark or bias master subtracted: a flat has no EXPTIME")
    )
    temperatures = [f.temperature_c for f in read.docs]
    master = build_flat_master(
        read.pixels,
        bayer_pattern=str(constants["bayer_pattern"]),
        longitude_deg=site_longitude_deg(read.header) if read.header is not None else 0.0,
        dark=dark,
        exptimes=known_exptimes,
        temperature_c=None
        if any(t is None for t in temperatures)
        else [float(t or 0.0) for t in temperatures],
        period=group.period or "night",
        **common,
    )
    return master, note


def _store(
    ctx: ChainContext,
    group: FrameGroup,
    master: Master,
    note: str | None,
    records: list[dict[str, Any]],
) -> None:
    """Write the master's file and record; mark older masters of the group superseded."""
    assert ctx.documents is not None
    fits_path = fits_md5 = None
    if master.valid:
        data = master_fits_bytes(master)
        fits_path = master_object_name(master)
        fits_md5 = md5_base64(data)
        write_verified(
            ctx,
            StoredObject(ctx.settings.calibrations_bucket, fits_path),
            data,
            content_type=FITS_CONTENT_TYPE,
            metadata={"master_id": master.master_id, "input_key": group.input_key},
        )
    now = ctx.now()
    record = {
        **master.to_record(),
        **stored_fields(
            fits_path=fits_path,
            fits_md5=fits_md5,
            input_frames=group.frame_ids,
            key=group.input_key,
            group_key=group.group_key,
            built_time=now,
            software_version=f"panoptes-network {__version__}",
        ),
        "dark_note": note,
    }
    ctx.documents.merge(CALIBRATIONS, master.master_id, record)
    for older in [r for r in records if r.get("group_key") == group.group_key]:
        if older["master_id"] != master.master_id:
            ctx.documents.merge(
                CALIBRATIONS,
                older["master_id"],
                {
                    "status": MasterStatus.SUPERSEDED,
                    "superseded_by": master.master_id,
                    "superseded_time": now,
                },
            )
    records[:] = [r for r in records if r.get("group_key") != group.group_key]
    records.append(record)


def _build_group(
    ctx: ChainContext,
    group: FrameGroup,
    records: list[dict[str, Any]],
    report: MasterBuildReport,
    progress: Progress,
    scratch_dir: Path | None,
) -> MasterOutcome:
    assert ctx.documents is not None
    n = len(group.frames)
    done = next(
        (
            r
            for r in records
            if r.get("group_key") == group.group_key and r.get("input_key") == group.input_key
        ),
        None,
    )
    if done is not None:
        return MasterOutcome(
            group.group_key,
            done["master_id"],
            group.kind.value,
            "unchanged",
            done.get("reason"),
            int(done.get("n_frames_used") or 0),
            n,
            done.get("quality_figure"),
        )
    with _scratch(scratch_dir) as keep:
        read = _read_group(ctx, group, keep, report, progress)
        if not read.pixels:
            why = "none of its frames could be read"
            return MasterOutcome(group.group_key, None, group.kind.value, "skipped", why, 0, n)
        try:
            constants = camera_constants_for(ctx.documents, report.camera_id, read.header)
        except MissingCameraConstant as exc:
            return MasterOutcome(group.group_key, None, group.kind.value, "skipped", str(exc), 0, n)
        master, note = _build(ctx, group, read, constants, records, report.camera_id)
        _store(ctx, group, master, note, records)
    return MasterOutcome(
        group.group_key,
        master.master_id,
        master.kind.value,
        master.status,
        master.reason,
        len(master.frames_used),
        n,
        master.quality_figure,
    )


def build_camera_masters(
    ctx: ChainContext,
    camera_id: str,
    *,
    flat_period: str = "night",
    progress: Progress | None = None,
    scratch_dir: Path | None = None,
) -> MasterBuildReport:
    """Build (or bring up to date) every calibration master of one camera.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set. Frames are read from the images bucket,
        masters written to the calibrations bucket and the ``calibrations`` collection.
    camera_id : str
        The camera.
    flat_period : str
        ``"night"`` or ``"week"``: what a flat master covers.
    progress : callable, optional
        Called with a line of text as the work goes (planning, frames read, each master).
    scratch_dir : Path, optional
        Where frames wait, memory-mapped, while their master is built (a temporary
        directory under it; the system's temporary directory by default).

    Returns
    -------
    MasterBuildReport
        Frames found, read and skipped; one outcome per group (valid, refused, unchanged,
        skipped).

    Raises
    ------
    ValueError
        Without a document store, or for an unknown flat period.
    """
    if ctx.documents is None:
        raise ValueError("build_camera_masters needs a document store")
    say = progress or (lambda _line: None)
    report = MasterBuildReport(camera_id)
    frames, skipped = calibration_frame_docs(ctx.documents, camera_id)
    groups, unplanned = plan_groups(camera_id, frames, flat_period)
    report.frames_found = len(frames) + len(skipped)
    report.skipped_frames.extend([*skipped, *unplanned])
    report.groups = len(groups)
    say(
        f"{camera_id}: {report.frames_found} calibration frames, {len(groups)} masters to "
        f"build or check, {len(report.skipped_frames)} frames left out"
    )
    # The constants first: the masters are built with them (the bias a dark master is
    # measured above, the gain of its noise model).
    report.constants = measure_nightly_constants(ctx, camera_id, frames, progress=say)
    records = camera_masters(ctx.documents, camera_id)
    for k, group in enumerate(groups, start=1):
        outcome = _build_group(ctx, group, records, report, say, scratch_dir)
        report.outcomes.append(outcome)
        quality = (
            f", quality {outcome.quality_figure:.3g}" if outcome.quality_figure is not None else ""
        )
        why = f": {outcome.reason}" if outcome.reason and outcome.status != "valid" else ""
        say(
            f"{camera_id}: [{k}/{len(groups)}] {outcome.master_id or group.group_key} "
            f"{outcome.status} ({outcome.frames_used} of {outcome.frames_in_group} frames"
            f"{quality}){why}"
        )
    return report
