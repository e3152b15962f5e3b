"""Simulated calibration frames put where record-image leaves them, for the masters' tests."""

from __future__ import annotations

from collections.abc import Iterable

from panoptes_network.frames.compression import compress_frame
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.simulation.calibration_sequences import (
    CalibrationFrame,
    calibration_fits_bytes,
)

__all__ = ["record_calibration_frames"]


def record_calibration_frames(ctx: ChainContext, frames: Iterable[CalibrationFrame]) -> None:
    """Store each frame compressed in the images bucket and run record-image on it.

    Asserts that record-image took each one for a calibration frame (not sent to solve).
    """
    for frame in frames:
        name = frame.path.with_extension(".fits.fz").object_name
        ctx.store.put(
            ctx.settings.images_bucket, name, compress_frame(calibration_fits_bytes(frame)).data
        )
        result = record_image(ctx, StoredObject(ctx.settings.images_bucket, name))
        assert result.action == "recorded" and result.detail["sent_to_solve"] is False, result
