"""The Firestore documents of a recorded frame: units, observations and images.

Field names and types follow the network's real records (see ARCHITECTURE.md): times are aware
datetimes (Firestore timestamps), a unit's location is a
:class:`~panoptes_network.pipeline.ports.GeoPoint`, ra/dec are None until a plate solve, and
empty-string header values become None.

Every image says what kind of frame it is (``frame_type``: science, dark, bias or flat, with
``frame_type_source`` and ``frame_type_reason``:
:mod:`panoptes_network.calibration.calibration_frame`), and so does the observation its first
frame creates. A dark, bias or flat is recorded with
``status: "calibration_frame"``.

The observation carries the sky index of its field (:mod:`panoptes_network.frames.sky_index`:
``sky_cells``, ``sky_ra``, ``sky_dec``, ``sky_radius``, ``sky_source``) from the frame's mount
position (``RA-MNT``, ``DEC-MNT``) when the header has one: the fields are written when the
first frame creates the observation, and plate-solve replaces them with the solved centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from panoptes_network.calibration.calibration_frame import frame_kind_fields
from panoptes_network.calibration.frame_kind import FrameKind, frame_kind
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.frames.header_values import header_value, parse_date_obs
from panoptes_network.frames.sky_index import SkySource, sky_fields, sky_position
from panoptes_network.pipeline.ports import GeoPoint
from panoptes_network.pipeline.schema import ImageStatus, ObservationStatus

__all__ = ["FrameRecords", "build_frame_records"]


@dataclass(frozen=True)
class FrameRecords:
    """The three documents one frame contributes to.

    Attributes
    ----------
    unit_id, sequence_id, image_id : str
        Document ids.
    unit, observation, image : dict
        Descriptive fields (no counters) of each document.
    minutes_exptime : float
        The frame's exposure time in minutes, for the counters.
    """

    unit_id: str
    sequence_id: str
    image_id: str
    unit: dict[str, Any]
    observation: dict[str, Any]
    image: dict[str, Any]
    minutes_exptime: float


def _location(header: FitsHeader) -> GeoPoint | None:
    lat = header_value(header, "LAT-OBS", float)
    lon = header_value(header, "LONG-OBS", float)
    if lat is None or lon is None or not (-90 <= lat <= 90) or not (-180 <= lon <= 360):
        return None
    return GeoPoint(lat, lon - 360 if lon > 180 else lon)


def _mount_sky_index(ra_mnt: float | None, dec_mnt: float | None) -> dict[str, Any]:
    """Return the sky index fields of the mount position, or none when it is unknown."""
    position = sky_position(ra_mnt, dec_mnt)
    return sky_fields(*position, SkySource.MOUNT) if position is not None else {}


def build_frame_records(
    path: ImagePath,
    header: FitsHeader,
    *,
    bucket_path: str,
    public_url: str,
    received_time: datetime,
    kind: FrameKind | None = None,
) -> FrameRecords:
    """Build the unit, observation and image documents of one frame.

    Parameters
    ----------
    path : ImagePath
        The frame's normalised bucket path.
    header : FitsHeader
        Its image header (already checked by :func:`.frame_check.check_frame_header`).
    bucket_path : str
        Object name of the stored ``.fits.fz`` frame.
    public_url : str
        Public URL of that object.
    received_time : datetime
        When the network received the frame (aware, UTC). The image's ``updated_time`` and
        ``recorded_time`` are set to it too: a later recording of the same image keeps
        ``received_time`` and moves both (later steps move ``updated_time`` only).
    kind : FrameKind, optional
        What the frame is; by default told from the header and ``bucket_path``
        (:func:`~panoptes_network.calibration.frame_kind.frame_kind`).

    Returns
    -------
    FrameRecords
        Documents without counters; :mod:`.counters` adds those. The observation holds the
        sky index of the mount position when ``RA-MNT`` and ``DEC-MNT`` are valid (degrees).
    """
    exptime = header_value(header, "EXPTIME", float)
    image_time = parse_date_obs(header.get("DATE-OBS")) or path.image_time
    kind = kind or frame_kind(header, bucket_path)
    ra_mnt = header_value(header, "RA-MNT", float)
    dec_mnt = header_value(header, "DEC-MNT", float)
    unit = {
        "name": path.unit_id,
        "location": _location(header),
        "elevation": header_value(header, "ELEV-OBS", float),
        "status": "active",
    }
    observation = {
        "unit_id": path.unit_id,
        "camera_id": path.camera_id,
        "sequence_id": path.sequence_id,
        "time": path.sequence_time,
        "received_time": received_time,
        "status": ObservationStatus.RECEIVING_FILES,
        "exptime": exptime,
        "field_name": header_value(header, "FIELD", str) or path.field_name,
        "camera_filter": header_value(header, "FILTER", str),
        "iso": header_value(header, "ISO", int),
        "software_version": header_value(header, "CREATOR", str),
        "frame_type": kind.type.value,
        "ra": None,
        "dec": None,
        **_mount_sky_index(ra_mnt, dec_mnt),
    }
    image = {
        "unit_id": path.unit_id,
        "camera_id": path.camera_id,
        "sequence_id": path.sequence_id,
        "time": image_time,
        "received_time": received_time,
        "updated_time": received_time,
        "recorded_time": received_time,
        "status": ImageStatus.CALIBRATION_FRAME if kind.is_calibration else ImageStatus.UPLOADED,
        "solved": False,
        "exptime": exptime,
        "ra_mnt": ra_mnt,
        "dec_mnt": dec_mnt,
        "ha_mnt": header_value(header, "HA-MNT", float),
        "ra_image": None,
        "dec_image": None,
        "airmass": header_value(header, "AIRMASS", float),
        "moonfrac": header_value(header, "MOONFRAC", float),
        "moonsep": header_value(header, "MOONSEP", float),
        "bucket_path": bucket_path,
        "public_url": public_url,
        "converted_from_raw": header.get("RAWCONV") is True,
        **frame_kind_fields(kind, header, image_time),
    }
    raw_file = header_value(header, "RAWFILE", str)
    if raw_file:
        image["raw_file"] = raw_file
    return FrameRecords(
        unit_id=path.unit_id,
        sequence_id=path.sequence_id,
        image_id=path.image_id,
        unit=unit,
        observation=observation,
        image=image,
        minutes_exptime=(exptime or 0.0) / 60.0,
    )
