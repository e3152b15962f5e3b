"""A frame's camera constants from its header and the ``cameras`` registry, for the steps.

The steps that need a camera's electronics (record-image checks them, plate-solve subtracts the
bias, measure-sources turns ADU into electrons) resolve them here, each with the same rule
(:func:`~panoptes_network.frames.camera_constants.resolve_camera_constants`): the header
first, then a measurement, then the ``cameras/{camera_id}`` document. The measurement is the
camera's valid ``calibrations`` record of ``kind: "constants"`` (:data:`MEASURED_KIND`,
written by :mod:`panoptes_network.calibration.measured_constants` from a night's darks and
flats) nearest the frame's ``DATE-OBS``. A constant found nowhere fails the frame with
``status: "calibration_error"`` and a reason naming it (:func:`calibration_error_fields`,
which also says which step to resume); the file stays where it is, and the frame is sent
again when its camera gets the constant (:mod:`panoptes_network.ingest.calibration_redrive`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from panoptes_network.frames.camera_constants import (
    CONSTANTS,
    CameraConstants,
    ConstantSource,
    MissingCameraConstant,
    Resolved,
    checked_constant,
    resolve_camera_constants,
)
from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.frames.header_values import header_value, parse_date_obs
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import CALIBRATIONS, CAMERAS, ImageStatus, MasterStatus

__all__ = [
    "MEASURED_KIND",
    "PIXEL_SCALE_FIELD",
    "calibration_error_fields",
    "camera_constants_for",
    "camera_pixel_scale",
    "constants_fields",
    "measured_constants",
    "measured_records",
    "pixel_scale_fields",
]

#: ``kind`` of a ``calibrations`` record holding a camera's measured constants.
MEASURED_KIND = "constants"
#: The registry field of a camera's pixel scale at the frame's centre (arcsec per pixel: its
#: lens and sensor), with ``pixel_scale_arcsec_source`` beside it. Optional: a camera without
#: one is plate solved over a wide range of scales, and its first solution fills it in.
PIXEL_SCALE_FIELD = "pixel_scale_arcsec"


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            return _moment(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def measured_records(documents: DocumentStore, camera_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Return the camera's valid measured-constants records, each with its time.

    Parameters
    ----------
    documents : DocumentStore
        Where the ``calibrations`` records live.
    camera_id : str
        The camera.

    Returns
    -------
    list of (str, dict)
        ``(record id, fields)``; each fields dict has its ``time`` as an aware datetime.
    """
    rows = documents.query(
        CALIBRATIONS, [("camera_id", "==", camera_id), ("kind", "==", MEASURED_KIND)]
    )
    return [
        (doc_id, {**fields, "time": moment})
        for doc_id, fields in rows
        if fields.get("status") == MasterStatus.VALID
        and (moment := _moment(fields.get("time"))) is not None
    ]


def measured_constants(
    documents: DocumentStore,
    camera_id: str,
    when: datetime | None,
    *,
    records: list[tuple[str, dict[str, Any]]] | None = None,
) -> dict[str, Resolved]:
    """Return the camera's measured constants from its valid record nearest a time.

    Parameters
    ----------
    documents : DocumentStore
        Where the ``calibrations`` records live.
    camera_id : str
        The camera.
    when : datetime or None
        The frame's time (aware UTC); None takes the latest measurement.
    records : list, optional
        :func:`measured_records` already read (to choose among them for many frames).

    Returns
    -------
    dict
        :class:`~panoptes_network.frames.camera_constants.Resolved` (source ``measured``,
        detail ``calibrations/<id> (<how it was measured>)``) per constant the record holds;
        empty without a valid record.
    """
    rows = measured_records(documents, camera_id) if records is None else records
    if not rows:
        return {}
    if when is None:
        doc_id, record = max(rows, key=lambda row: (row[1]["time"], row[0]))
    else:
        doc_id, record = min(rows, key=lambda row: (abs(row[1]["time"] - when), row[0]))
    found: dict[str, Resolved] = {}
    for name in CONSTANTS:
        value = checked_constant(name, record.get(name))
        if value is not None:
            how = record.get(f"{name}_source")
            detail = f"{CALIBRATIONS}/{doc_id}" + (f" ({how})" if isinstance(how, str) else "")
            found[name] = Resolved(value, ConstantSource.MEASURED, detail)
    return found


def camera_constants_for(
    documents: DocumentStore,
    camera_id: str,
    header: FitsHeader | None,
    *,
    measured: Mapping[str, Resolved] | None = None,
    registry: Mapping[str, Any] | None = None,
) -> CameraConstants:
    """Resolve a frame's camera constants, reading the camera's registry document.

    Parameters
    ----------
    documents : DocumentStore
        Where ``cameras/{camera_id}`` lives.
    camera_id : str
        The frame's camera.
    header : FitsHeader or None
        The frame's header.
    measured : mapping, optional
        Measurements of this camera, by constant name; by default those of
        :func:`measured_constants` nearest the header's ``DATE-OBS``.
    registry : mapping, optional
        The camera's ``cameras/{camera_id}`` fields when the caller has read them already
        (an empty mapping for a camera without an entry); by default they are read here.

    Returns
    -------
    CameraConstants
        Each constant with its source.

    Raises
    ------
    MissingCameraConstant
        When a constant is found nowhere.
    """
    if measured is None:
        when = parse_date_obs(header_value(header, "DATE-OBS")) if header is not None else None
        measured = measured_constants(documents, camera_id, when)
    if registry is None:
        registry = documents.get(CAMERAS, camera_id) or {}
    return resolve_camera_constants(camera_id, header, measured=measured, registry=registry)


def constants_fields(constants: CameraConstants) -> dict[str, Any]:
    """Return the image document fields recording the constants used and any warnings.

    Parameters
    ----------
    constants : CameraConstants
        The resolved constants.

    Returns
    -------
    dict
        ``camera_constants`` (value, source and detail per constant) and
        ``camera_warnings`` (the header's contradictions of the registry; empty when none).
    """
    return {
        "camera_constants": constants.to_record(),
        "camera_warnings": list(constants.warnings),
    }


def calibration_error_fields(error: MissingCameraConstant) -> dict[str, Any]:
    """Return the image document fields of a frame whose camera constants are missing.

    Parameters
    ----------
    error : MissingCameraConstant
        What is missing.

    Returns
    -------
    dict
        ``status: "calibration_error"``, ``calibration_error_reason`` (names the constant and
        the camera), ``missing_camera_constant`` and ``due_time: None``.
    """
    return {
        "status": ImageStatus.CALIBRATION_ERROR,
        "calibration_error_reason": str(error),
        "missing_camera_constant": error.name,
        "due_time": None,
    }


def camera_pixel_scale(entry: Mapping[str, Any], camera_id: str) -> tuple[float | None, str]:
    """Return a camera's pixel scale from its registry entry, and where it came from.

    Parameters
    ----------
    entry : Mapping
        The camera's ``cameras/{camera_id}`` fields (empty when it has no entry).
    camera_id : str
        The camera, for the source's wording.

    Returns
    -------
    (float or None, str)
        The scale (arcsec per pixel), None when the entry has no usable one; and its source
        (``registry: cameras/<id> (...)``, or why there is none).
    """
    value = entry.get(PIXEL_SCALE_FIELD)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return None, f"cameras/{camera_id} has no {PIXEL_SCALE_FIELD}"
    how = entry.get(f"{PIXEL_SCALE_FIELD}_source")
    detail = f" ({how})" if isinstance(how, str) and how else ""
    return float(value), f"registry: cameras/{camera_id}{detail}"


def pixel_scale_fields(scale: float, image_id: str) -> dict[str, Any]:
    """Return the registry fields of a pixel scale measured from a frame's plate solution.

    Parameters
    ----------
    scale : float
        The solution's pixel scale at the frame's centre, arcsec per pixel.
    image_id : str
        The solved frame.

    Returns
    -------
    dict
        ``pixel_scale_arcsec`` (rounded to 0.0001) and its ``_source``.
    """
    return {
        PIXEL_SCALE_FIELD: round(float(scale), 4),
        f"{PIXEL_SCALE_FIELD}_source": f"measured: the plate solution of {image_id}",
    }
