"""A frame's camera constants from its header and the ``cameras`` registry, for the steps.

The steps that need a camera's electronics (record-image checks them, plate-solve subtracts the
bias, measure-sources turns ADU into electrons) resolve them here, each with the same rule
(:func:`~panoptes_network.frames.camera_constants.resolve_camera_constants`): the header
first, then a measurement, then the ``cameras/{camera_id}`` document. A constant found nowhere
fails the frame with ``status: "calibration_error"`` and a reason naming it
(:func:`calibration_error_fields`); the file stays where it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from panoptes_network.frames.camera_constants import (
    CameraConstants,
    MissingCameraConstant,
    Resolved,
    resolve_camera_constants,
)
from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import CAMERAS, ImageStatus

__all__ = ["calibration_error_fields", "camera_constants_for", "constants_fields"]


def camera_constants_for(
    documents: DocumentStore,
    camera_id: str,
    header: FitsHeader | None,
    *,
    measured: Mapping[str, Resolved] | None = None,
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
        Measurements of this camera, by constant name.

    Returns
    -------
    CameraConstants
        Each constant with its source.

    Raises
    ------
    MissingCameraConstant
        When a constant is found nowhere.
    """
    registry = documents.get(CAMERAS, camera_id)
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
