"""Where calibration masters are kept: a record in ``calibrations``, a FITS file in a bucket.

Each master, valid or refused, has a document in the ``calibrations`` collection (id: its
master id; fields: :meth:`.master_record.Master.to_record` and :func:`stored_fields`). A
valid master's image is the FITS file :func:`.master_record.master_fits_bytes` writes, in the
calibrations bucket as ``<CAMERA>/<KIND>/<MASTER_ID>.fits`` (:func:`master_object_name`). A
master rebuilt from more frames of the same group replaces the older one's record (same id)
or, when its first frame changed, marks it ``superseded``; :func:`camera_masters` leaves
superseded records out, so they are never applied nor a reason to fall back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from panoptes_network.calibration.master_record import Master, read_master_fits
from panoptes_network.frames.camera_registry import MEASURED_KIND
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import CALIBRATIONS, MasterStatus

__all__ = [
    "camera_masters",
    "input_key",
    "master_object_name",
    "read_master",
    "stored_fields",
]


def master_object_name(master: Master) -> str:
    """Return the object name of a master's FITS file: ``<CAMERA>/<KIND>/<MASTER_ID>.fits``."""
    return f"{master.camera_id}/{master.kind.value}/{master.master_id}.fits"


def input_key(frame_ids: Iterable[str], *parameters: str) -> str:
    """Return a digest of the frames a master is built from and how (order does not matter).

    Parameters
    ----------
    frame_ids : iterable of str
        Image ids of the frames.
    *parameters : str
        Build parameters that change the master (e.g. the flat period).

    Returns
    -------
    str
        A hex SHA-256 digest: the same frames and parameters give the same key.
    """
    text = "\n".join([*sorted(set(frame_ids)), "--", *parameters])
    return hashlib.sha256(text.encode()).hexdigest()


def stored_fields(
    *,
    fits_path: str | None,
    fits_md5: str | None,
    input_frames: Sequence[str],
    key: str,
    group_key: str,
    built_time: Any,
    software_version: str,
) -> dict[str, Any]:
    """Return the fields a ``calibrations`` record adds to :meth:`.Master.to_record`.

    Parameters
    ----------
    fits_path : str or None
        Object name of the FITS file in the calibrations bucket (None when refused).
    fits_md5 : str or None
        Its base64 MD5, as Cloud Storage reports it: what a cache of masters keys on.
    input_frames : sequence of str
        Image ids of every frame of the group, used or refused.
    key : str
        :func:`input_key` of those frames.
    group_key : str
        The group of frames the master serves (camera, bin, night or week).
    built_time : datetime
        When it was built (aware UTC).
    software_version : str
        What built it.

    Returns
    -------
    dict
        ``fits_path``, ``fits_md5``, ``input_frames``, ``n_input_frames``, ``input_key``,
        ``group_key``, ``built_time``, ``software_version``, ``superseded_by`` (None).
    """
    return {
        "fits_path": fits_path,
        "fits_md5": fits_md5,
        "input_frames": sorted(input_frames),
        "n_input_frames": len(input_frames),
        "input_key": key,
        "group_key": group_key,
        "built_time": built_time,
        "software_version": software_version,
        "superseded_by": None,
    }


def camera_masters(
    documents: DocumentStore, camera_id: str, *, include_superseded: bool = False
) -> list[dict[str, Any]]:
    """Return the ``calibrations`` records of a camera, valid and refused.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    camera_id : str
        The camera.
    include_superseded : bool
        Whether to keep records replaced by a later build.

    Returns
    -------
    list of dict
        The records, oldest first (by ``time``); each has its ``master_id``. The camera's
        measured constants (``kind: "constants"``, also in ``calibrations``) are not masters
        and are left out.
    """
    rows = documents.query(CALIBRATIONS, [("camera_id", "==", camera_id)])
    records = [
        {**fields, "master_id": fields.get("master_id", doc_id)}
        for doc_id, fields in rows
        if (include_superseded or fields.get("status") != MasterStatus.SUPERSEDED)
        and fields.get("kind") != MEASURED_KIND
    ]
    return sorted(records, key=lambda r: str(r.get("time") or ""))


def read_master(ctx: ChainContext, record: dict[str, Any]) -> Master:
    """Read a valid master's image from the calibrations bucket.

    Parameters
    ----------
    ctx : ChainContext
        The chain (its store and the calibrations bucket's name).
    record : dict
        The master's ``calibrations`` record (``fits_path``).

    Returns
    -------
    Master
        The master with its float32 image.

    Raises
    ------
    ValueError
        If the record names no file (a refused master) or the file is not a master.
    panoptes_network.pipeline.errors.ObjectNotFoundError
        If the file is missing.
    """
    path = record.get("fits_path")
    if not path:
        raise ValueError(f"master {record.get('master_id')} has no FITS file (it was refused)")
    return read_master_fits(ctx.store.read(ctx.settings.calibrations_bucket, str(path)))
