"""People's flags on bad data, as build-lightcurve honours them.

A signed-in person flags an observation, an image or points of a light curve as bad in the
Data Explorer, with a reason: one document in the ``flags`` collection
(:data:`~panoptes_network.pipeline.schema.FLAGS`, whose comment gives the fields). These are
not the per-measurement bit masks of :mod:`panoptes_network.photometry.flags`.

A run of build-lightcurve (:mod:`.build_lightcurve`):

1. reads the observation's flags with one query, ``sequence_id == <the observation>``, of at
   most :data:`MAX_FLAGS` documents (:func:`read_flags`). Removed flags count, since their
   documents are kept. An observation with more flags than that is refused
   (:class:`~panoptes_network.pipeline.errors.PermanentFailure`): a run never honours some of
   an observation's flags and silently drops the others.
2. sorts them (:meth:`ObservationFlags.from_documents`): a removed flag (``removed`` true) no
   longer applies and is listed by id; a malformed flag (:func:`parse_flag`: unknown target, an
   image id of another unit or camera, a points flag without a whole PICID or finite times
   ...) is reported with its problem and never applied. A flag is applied only
   when it names its target clearly; a malformed one never makes a run fail or lose data.
3. applies the active ones:

   - an ``observation`` flag leaves out every frame: the run fails as a run without usable
     frames does, naming the flag (``flagged: <reason> (flag <id>)``);
   - an ``image`` flag leaves out that frame before the frame-quality tests and the
     photometry (:func:`leave_out_flagged_frames`); it is listed among the run's rejected
     frames with the reason ``flagged: <reason> (flag <id>)`` and the flag's id;
   - a ``points`` flag leaves out that star's measurements (every colour's flux and flux
     error set to NaN) in the frames whose mid-exposure time is within
     :data:`POINT_TIME_TOLERANCE_S` of a flagged time (:func:`leave_out_flagged_points`), on
     the kept frames before they are stacked: a flagged point of a comparison star never
     enters another star's comparison ensemble. The run lists the points left out (PICID,
     frame time, image id, flag ids, reasons ``flagged: ...``), the first :data:`MAX_LISTED`
     of them and their count.

   A flagged time whose frame is left out anyway (flagged or rejected) needs nothing more; a
   flagged time near no frame, or a frame in which the star is not measured, leaves a note.
   A star whose flagged points bring its coverage below the run's ``min_coverage`` gets no
   light curve, and below ``comparison_coverage`` is no comparison star
   (:func:`.ensemble.differential_lightcurves`).

The run records the ids of the flags it honoured and of the removed ones
(:meth:`ObservationFlags.record`). Runs are immutable: a flag made or removed later changes
no earlier run; a new run (lightcurve-requests, :func:`.triggers.request_lightcurve`) applies
the flags as they are when it runs. Making or removing a flag starts no run (flags come in
bursts, and a run takes minutes): someone asks for one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

from panoptes_network.frames.bucket_path import split_id
from panoptes_network.lightcurves.stacking import COLOURS, TIME_KEY, frame_time_seconds
from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import FLAGS, FlagTarget

__all__ = [
    "FLAGGED",
    "MAX_FLAGS",
    "MAX_LISTED",
    "MAX_REASON_CHARS",
    "POINT_TIME_TOLERANCE_S",
    "Flag",
    "FlaggedFrames",
    "FlaggedPoints",
    "MalformedFlag",
    "ObservationFlags",
    "leave_out_flagged_frames",
    "leave_out_flagged_points",
    "parse_flag",
    "read_flags",
]

#: The reason code of what a person flagged, first in every reason it gives.
FLAGGED = "flagged"
#: Most flag documents a run reads for one observation (removed ones included); more refuse
#: the run.
MAX_FLAGS = 2000
#: Most entries of a list a run stores on its document (points left out, malformed flags);
#: the count is stored beside it.
MAX_LISTED = 100
#: Longest reason a run copies from a flag (characters); longer ones are cut.
MAX_REASON_CHARS = 200
#: A flagged time matches the frame whose mid-exposure time is nearest and within this many
#: seconds of it. The light-curve rows' ``time`` is the frame's mid-exposure time itself, so
#: this only absorbs rounding (a time shown or sent to the second); it is far below any
#: exposure time, so a time never matches two frames of one camera.
POINT_TIME_TOLERANCE_S = 1.0
#: Most notes about flags a run adds to its ``notes``.
_MAX_NOTES = 20
_NO_REASON = "no reason given"


@dataclass(frozen=True)
class Flag:
    """One well-formed flag of an observation.

    Attributes
    ----------
    flag_id : str
        The ``flags`` document id.
    target : str
        :class:`~panoptes_network.pipeline.schema.FlagTarget`: observation, image or points.
    reason : str
        The person's reason, whitespace collapsed, at most :data:`MAX_REASON_CHARS`
        characters (``"no reason given"`` when there is none).
    removed : bool
        An admin removed it: it no longer applies (its target is then not checked).
    image_id : str or None
        The frame, for an image flag.
    picid : int or None
        The star, for a points flag.
    times : tuple of float
        The points' mid-exposure times (POSIX seconds), for a points flag; sorted, unique.
    """

    flag_id: str
    target: str
    reason: str
    removed: bool = False
    image_id: str | None = None
    picid: int | None = None
    times: tuple[float, ...] = ()

    @property
    def label(self) -> str:
        """The reason a run records for what this flag leaves out.

        Returns
        -------
        str
            ``"flagged: <reason> (flag <id>)"``.
        """
        return f"{FLAGGED}: {self.reason} (flag {self.flag_id})"


@dataclass(frozen=True)
class MalformedFlag:
    """A flag document that cannot be applied, and why.

    Attributes
    ----------
    flag_id : str
        The ``flags`` document id.
    problem : str
        What is wrong with it, naming the field.
    """

    flag_id: str
    problem: str


def _reason(value: Any) -> str:
    if value is None:
        return _NO_REASON
    if not isinstance(value, str):
        raise ValueError(f"reason must be text, not {type(value).__name__}")
    text = " ".join(value.split())
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3] + "..."
    return text or _NO_REASON


def _picid(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"picid must be a positive whole number, not {value!r}")
    return value


def _times(value: Any) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"times must be a non-empty list of POSIX seconds, not {value!r}")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ValueError(f"times must be POSIX seconds (numbers), not {item!r}")
        if not math.isfinite(item) or item <= 0:
            raise ValueError(f"times holds {item!r}, not a POSIX time in seconds")
        out.append(float(item))
    return tuple(sorted(set(out)))


def _image_id(value: Any, sequence_id: str) -> str:
    parts = split_id(value) if isinstance(value, str) else None
    if parts is None:
        raise ValueError(f"image_id {value!r} is not <UNIT>_<CAMERA>_<YYYYMMDDTHHMMSS>")
    observation = split_id(sequence_id)
    if observation is None or parts[:2] != observation[:2]:
        raise ValueError(f"image_id {value} is not a frame of observation {sequence_id}")
    return value


def parse_flag(flag_id: str, fields: Mapping[str, Any], sequence_id: str) -> Flag:
    """Check one flag document of an observation.

    Parameters
    ----------
    flag_id : str
        The document id.
    fields : Mapping
        The document (fields in :data:`~panoptes_network.pipeline.schema.FLAGS`).
    sequence_id : str
        The observation the run processes.

    Returns
    -------
    Flag
        The flag; a removed one (``removed`` true) is returned without checking its target.

    Raises
    ------
    ValueError
        When the document is not a flag of this observation that names its target clearly:
        ``sequence_id`` is another observation's, ``removed`` is not true or false,
        ``target`` is unknown, ``reason`` is not text, an image flag's ``image_id`` is not a
        frame id of the observation, a points flag's ``picid`` is not a positive whole number
        or its ``times`` not a non-empty list of positive finite POSIX seconds. The message
        says which.
    """
    if not isinstance(fields, Mapping):
        raise ValueError(f"the document is a {type(fields).__name__}, not a map of fields")
    if fields.get("sequence_id") != sequence_id:
        raise ValueError(f"sequence_id {fields.get('sequence_id')!r} is not {sequence_id}")
    removed = fields.get("removed")
    if removed is not None and not isinstance(removed, bool):
        raise ValueError(f"removed must be true or false, not {removed!r}")
    target = fields.get("target")
    if removed:
        return Flag(flag_id, str(target), _NO_REASON, removed=True)
    if target not in FlagTarget.ALL:
        raise ValueError(f"target {target!r} is not one of {', '.join(FlagTarget.ALL)}")
    reason = _reason(fields.get("reason"))
    if target == FlagTarget.IMAGE:
        return Flag(
            flag_id, target, reason, image_id=_image_id(fields.get("image_id"), sequence_id)
        )
    if target == FlagTarget.POINTS:
        return Flag(
            flag_id,
            target,
            reason,
            picid=_picid(fields.get("picid")),
            times=_times(fields.get("times")),
        )
    return Flag(flag_id, target, reason)


@dataclass(frozen=True)
class ObservationFlags:
    """An observation's flags, sorted into active, removed and malformed.

    Attributes
    ----------
    sequence_id : str
        The observation.
    active : tuple of Flag
        Well-formed flags not removed, by id: the ones a run honours.
    removed : tuple of str
        Ids of the removed flags, which no longer apply.
    malformed : tuple of MalformedFlag
        Flags that cannot be applied, with their problems.
    """

    sequence_id: str
    active: tuple[Flag, ...] = ()
    removed: tuple[str, ...] = ()
    malformed: tuple[MalformedFlag, ...] = ()

    @classmethod
    def from_documents(
        cls, sequence_id: str, documents: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> ObservationFlags:
        """Sort flag documents (:func:`parse_flag`); a malformed one is kept with its problem.

        Parameters
        ----------
        sequence_id : str
            The observation.
        documents : sequence of (str, Mapping)
            ``(flag id, fields)``.

        Returns
        -------
        ObservationFlags
            The sorted flags.
        """
        active, removed, malformed = [], [], []
        for flag_id, fields in sorted(documents, key=lambda row: row[0]):
            try:
                flag = parse_flag(flag_id, fields, sequence_id)
            except ValueError as exc:
                malformed.append(MalformedFlag(flag_id, str(exc)))
                continue
            (removed if flag.removed else active).append(flag)
        return cls(sequence_id, tuple(active), tuple(f.flag_id for f in removed), tuple(malformed))

    def targeting(self, target: str) -> list[Flag]:
        """Return the active flags of one target.

        Parameters
        ----------
        target : str
            observation, image or points.

        Returns
        -------
        list of Flag
            By id.
        """
        return [f for f in self.active if f.target == target]

    @property
    def honoured(self) -> list[str]:
        """The ids of the active flags: what a run applies, sorted."""
        return [f.flag_id for f in self.active]

    def observation_reason(self) -> str | None:
        """Return why the whole observation is left out, or None when it is not flagged.

        Returns
        -------
        str or None
            ``"flagged: <reason> (flag <id>)"`` per observation flag, joined by ``"; "``.
        """
        labels = [f.label for f in self.targeting(FlagTarget.OBSERVATION)]
        return "; ".join(labels) if labels else None

    def notes(self) -> list[str]:
        """Return notes for the run about the malformed flags.

        Returns
        -------
        list of str
            One per malformed flag (at most 20, then how many more).
        """
        return _bounded(
            [f"flag {m.flag_id} ignored as malformed: {m.problem}" for m in self.malformed],
            "malformed flags ignored (flags.malformed)",
        )

    def record(self) -> dict[str, Any]:
        """Return the ``flags`` field of the run's document.

        Returns
        -------
        dict
            ``read`` (flag documents of the observation read), ``honoured`` (ids of the flags
            applied), ``removed`` (ids of the removed flags, not applied), ``malformed`` (the
            first :data:`MAX_LISTED` as ``{"flag_id", "problem"}``, not applied) and
            ``num_malformed``.
        """
        return {
            "read": len(self.active) + len(self.removed) + len(self.malformed),
            "honoured": self.honoured,
            "removed": list(self.removed),
            "malformed": [
                {"flag_id": m.flag_id, "problem": m.problem} for m in self.malformed[:MAX_LISTED]
            ],
            "num_malformed": len(self.malformed),
        }


def read_flags(
    documents: DocumentStore, sequence_id: str, *, limit: int = MAX_FLAGS
) -> ObservationFlags:
    """Read and sort an observation's flags with one bounded query.

    Parameters
    ----------
    documents : DocumentStore
        The documents.
    sequence_id : str
        The observation.
    limit : int
        Most flag documents read (removed ones count).

    Returns
    -------
    ObservationFlags
        The observation's flags.

    Raises
    ------
    PermanentFailure
        When the observation has more than ``limit`` flags: a run honours all of an
        observation's flags or none.
    """
    rows = documents.query(FLAGS, [("sequence_id", "==", sequence_id)], limit=limit + 1)
    if len(rows) > limit:
        raise PermanentFailure(
            f"observation {sequence_id} has more than {limit} flags (the most a run reads, "
            "removed ones included): a run would honour only some of them, so none is made. "
            "Replace many image or points flags by fewer (one observation flag leaves out "
            f"every frame), or raise MAX_FLAGS in {__name__}"
        )
    return ObservationFlags.from_documents(sequence_id, rows)


def _bounded(notes: list[str], more: str) -> list[str]:
    if len(notes) <= _MAX_NOTES:
        return notes
    return [*notes[:_MAX_NOTES], f"... and {len(notes) - _MAX_NOTES} more {more}"]


@dataclass
class FlaggedFrames:
    """The frames of an observation with its image flags applied.

    Attributes
    ----------
    kept : list of astropy.table.Table
        The frames not flagged, in input order.
    left_out : list of astropy.table.Table
        The flagged frames.
    rejected : list of dict
        The frames left out so far, by image id: every unreadable frame given, its reasons
        followed by the flags' (``flagged: <reason> (flag <id>)``), and every flagged frame;
        ``{"image_id", "reasons", "flag_ids"}`` (``flag_ids`` empty for a frame only
        unreadable).
    notes : list of str
        Image flags that name no frame of the observation.
    """

    kept: list[Table]
    left_out: list[Table]
    rejected: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def leave_out_flagged_frames(
    tables: Sequence[Table],
    flags: ObservationFlags,
    *,
    unreadable: Sequence[Mapping[str, Any]] = (),
) -> FlaggedFrames:
    """Leave out the frames an image flag names.

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        The observation's readable frames (``meta["image_id"]`` names each).
    flags : ObservationFlags
        The observation's flags.
    unreadable : sequence of Mapping
        The frames that could not be read, ``{"image_id", "reasons"}``.

    Returns
    -------
    FlaggedFrames
        The frames kept, those left out and the rejected list, with the flags' reasons.
    """
    by_image: dict[str, list[Flag]] = {}
    for flag in flags.targeting(FlagTarget.IMAGE):
        by_image.setdefault(str(flag.image_id), []).append(flag)

    def entry(image_id: str, reasons: Sequence[str]) -> dict[str, Any]:
        hits = by_image.get(image_id, [])
        return {
            "image_id": image_id,
            "reasons": [*reasons, *(f.label for f in hits)],
            "flag_ids": [f.flag_id for f in hits],
        }

    kept, left_out = [], []
    rejected = [entry(str(u["image_id"]), list(u["reasons"])) for u in unreadable]
    for table in tables:
        image_id = str(table.meta.get("image_id", ""))
        if image_id in by_image:
            left_out.append(table)
            rejected.append(entry(image_id, []))
        else:
            kept.append(table)
    seen = {r["image_id"] for r in rejected} | {str(t.meta.get("image_id", "")) for t in kept}
    notes = [
        f"flag {f.flag_id}: image {f.image_id} is not among the observation's frames; "
        "nothing left out"
        for hits in by_image.values()
        for f in hits
        if f.image_id not in seen
    ]
    return FlaggedFrames(kept, left_out, rejected, _bounded(notes, "image flags matched nothing"))


@dataclass
class FlaggedPoints:
    """The kept frames with the points flags applied.

    Attributes
    ----------
    tables : list of astropy.table.Table
        The frames, in input order; a frame with a flagged point is a copy whose flagged
        rows have NaN fluxes and flux errors in every colour.
    left_out : list of dict
        Every point left out, sorted by PICID and time: ``{"picid", "time"`` (the frame's
        mid-exposure time, POSIX s), ``"image_id", "flag_ids", "reasons"}`` (``flagged:
        <reason> (flag <id>)`` per flag).
    notes : list of str
        Flagged times near no frame, and frames where the star is not measured.
    """

    tables: list[Table]
    left_out: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _nearest(times: np.ndarray, moment: float, tolerance: float) -> int | None:
    if times.size == 0:
        return None
    i = int(np.argmin(np.abs(times - moment)))
    return i if abs(times[i] - moment) <= tolerance else None


def leave_out_flagged_points(
    tables: Sequence[Table],
    flags: ObservationFlags,
    *,
    frame_times: Sequence[float] = (),
    tolerance: float = POINT_TIME_TOLERANCE_S,
) -> FlaggedPoints:
    """Leave out the measurements a points flag names, before the frames are stacked.

    Each flagged time matches the frame of ``tables`` whose mid-exposure time
    (``meta["mid_exposure_time"]``) is nearest, when within ``tolerance``; the star's row in
    that frame keeps its position but loses its fluxes (NaN in every colour), so it is in no
    light curve and no comparison ensemble.

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        The frames kept so far (after flagged and rejected frames are left out).
    flags : ObservationFlags
        The observation's flags.
    frame_times : sequence of float
        Mid-exposure times (POSIX s) of every frame of the observation read, kept or not: a
        flagged time of a frame left out anyway needs no note.
    tolerance : float
        Largest distance of a flagged time from its frame's mid-exposure time (s).

    Returns
    -------
    FlaggedPoints
        The frames, the points left out and notes.
    """
    points = flags.targeting(FlagTarget.POINTS)
    if not points or not tables:
        return FlaggedPoints(list(tables), [])
    times = np.array([frame_time_seconds(t.meta[TIME_KEY]) for t in tables])
    every_time = np.asarray(frame_times, dtype=float)
    picids = [np.asarray(t["picid"], dtype=np.int64) for t in tables]
    marks: dict[tuple[int, int], list[Flag]] = {}
    notes = []
    for flag in points:
        assert flag.picid is not None
        no_frame, not_measured = 0, 0
        for moment in flag.times:
            i = _nearest(times, moment, tolerance)
            if i is None:
                no_frame += _nearest(every_time, moment, tolerance) is None
                continue
            if not np.any(picids[i] == flag.picid):
                not_measured += 1
                continue
            hits = marks.setdefault((i, flag.picid), [])
            if flag not in hits:
                hits.append(flag)
        if no_frame:
            notes.append(
                f"flag {flag.flag_id}: {no_frame} of {len(flag.times)} times of star "
                f"{flag.picid} are not within {tolerance:g} s of a frame's mid-exposure time; "
                "nothing left out for them"
            )
        if not_measured:
            notes.append(
                f"flag {flag.flag_id}: star {flag.picid} is not measured in {not_measured} of "
                "the flagged frames"
            )

    out = list(tables)
    by_frame: dict[int, list[int]] = {}
    for i, picid in marks:
        by_frame.setdefault(i, []).append(picid)
    for i, stars in by_frame.items():
        rows = np.isin(picids[i], stars)
        table = Table(tables[i], copy=False)
        table.meta = dict(tables[i].meta)
        for c in COLOURS:
            for name in (f"flux_{c}", f"flux_err_{c}"):
                if name in table.colnames:
                    values = np.array(table[name], dtype=float)
                    values[rows] = np.nan
                    table.replace_column(name, values)
        out[i] = table
    left_out = [
        {
            "picid": picid,
            "time": float(times[i]),
            "image_id": str(tables[i].meta.get("image_id", "")),
            "flag_ids": [f.flag_id for f in hits],
            "reasons": [f.label for f in hits],
        }
        for (i, picid), hits in marks.items()
    ]
    left_out.sort(key=lambda p: (p["picid"], p["time"]))
    return FlaggedPoints(out, left_out, _bounded(notes, "notes on points flags"))
