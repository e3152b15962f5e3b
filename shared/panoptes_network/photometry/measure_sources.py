"""The measure-sources step: per-colour photometry of every catalog star on a solved frame.

For a plate-solved frame (the ``.fits.fz`` in the solved bucket, WCS in its header) it takes
the catalog stars in the footprint (V 6 to 13 by default, plus fainter neighbours for the
contamination flag), measures them with :func:`.frame_photometry.measure_frame`, writes one
parquet table per image (:mod:`.sources_table`) to the sources bucket as
``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.parquet``, and sets the image's ``status`` to
``measured`` with the table's path and row count, ``measured_time`` and ``measure_seconds``
(the step's own time, read to record).

The camera's bias, saturation, gain, read noise and Bayer pattern are resolved for each frame
(header, then the ``cameras`` registry: :mod:`panoptes_network.frames.camera_registry`), used
to measure it, and recorded with their sources on the image document (``camera_constants``)
and in the table's metadata (``camera``). A frame whose camera lacks one is recorded as
``calibration_error`` with a reason naming it; nothing is measured with a guessed value.

Each colour's photometric zero point (and colour term where it helps) is fitted against the
catalog (:mod:`.zero_point`) and stored on the image document (``zero_points``) and in the
table's metadata; a colour that cannot be fitted (too few good stars, e.g. under clouds) is
recorded in ``zero_point_errors`` with the reason, and the frame is still measured.

The frame is calibrated first with its camera's nearest valid masters, a dark (or bias) and a
flat (:mod:`.frame_calibration`); which were applied, or why none was, and the note when the
nearest master was refused and an older one used, is recorded on the image document and in
the table's metadata (``calibration``). A frame without a master is measured raw and says so.

Redelivery is harmless: a measured image whose table exists is skipped. A frame without a
celestial WCS is recorded as ``measure_error`` and acknowledged. A calibration frame (dark,
bias or flat, by its image document's ``frame_type``) is skipped: it is never measured as
science.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from panoptes_network import __version__
from panoptes_network.calibration.frame_kind import FrameType
from panoptes_network.catalog.star_catalog import DEFAULT_VMAG_RANGE, Catalog
from panoptes_network.frames.bucket_path import ImagePath, InvalidPathError
from panoptes_network.frames.camera_constants import CameraConstants, MissingCameraConstant
from panoptes_network.frames.camera_registry import (
    calibration_error_fields,
    camera_constants_for,
    constants_fields,
)
from panoptes_network.frames.header_values import header_value, parse_date_obs
from panoptes_network.frames.stored_frame import UnreadableFrame, read_stored_frame
from panoptes_network.photometry.frame_calibration import (
    FrameCalibration,
    MasterLibrary,
    calibrate_for_measurement,
    library_for,
)
from panoptes_network.photometry.frame_photometry import measure_frame
from panoptes_network.photometry.sources_table import write_sources_table
from panoptes_network.photometry.zero_point import ZeroPointError, fit_zero_point
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.errors import ObjectNotFoundError, PermanentFailure
from panoptes_network.pipeline.inputs import refuse_foreign_bucket
from panoptes_network.pipeline.schema import IMAGES, PARQUET_CONTENT_TYPE, ImageStatus
from panoptes_network.pipeline.storage import quarantine, write_verified

__all__ = [
    "DEFAULT_ANNULUS_ARCSEC",
    "DEFAULT_APERTURE_ARCSEC",
    "MeasureOptions",
    "measure_sources",
    "sources_name",
]


#: Default aperture radius on the sky (arcsec): 5 pixels of the units' 10.3 arcsec pixels,
#: more than 99.9 % of a star of FWHM 2.5 pixels.
DEFAULT_APERTURE_ARCSEC: float = 51.5
#: Default background annulus on the sky (arcsec): 9 to 14 pixels of 10.3 arcsec.
DEFAULT_ANNULUS_ARCSEC: tuple[float, float] = (92.7, 144.2)


@dataclass(frozen=True)
class MeasureOptions:
    """How frames are measured.

    Attributes
    ----------
    vmag_range : (float, float)
        V magnitudes of the stars measured (bright, faint).
    neighbour_depth : float
        Stars up to this many magnitudes fainter than ``vmag_range[1]`` are looked up too, so
        that the contamination flag sees them; they are not measured.
    aperture_arcsec : float
        Aperture radius on the sky, in arcsec; in pixels through each frame's own WCS.
    annulus_arcsec : (float, float)
        Background annulus radii on the sky, in arcsec.
    centroid_box_arcsec : float
        Side of the square box the centroid is measured in, on the sky, in arcsec; a whole odd
        number of superpixels on each frame (:meth:`windows_in_pixels`). Default 103 arcsec:
        10 pixels of the units' 10.3 arcsec pixels, a 5 x 5-superpixel box.
    max_centroid_shift_arcsec : float
        Largest accepted distance of the centroid from the WCS position, on the sky, in arcsec.
        Default 15.45 arcsec: 1.5 pixels of 10.3 arcsec.
    width_window_arcsec : float
        Half-size of the window the star width (FWHM) is measured in, from the star to the
        window's edge, on the sky, in arcsec. Default 103 arcsec: 10 pixels of 10.3 arcsec.
    """

    vmag_range: tuple[float, float] = DEFAULT_VMAG_RANGE
    neighbour_depth: float = 2.5
    aperture_arcsec: float = DEFAULT_APERTURE_ARCSEC
    annulus_arcsec: tuple[float, float] = DEFAULT_ANNULUS_ARCSEC
    centroid_box_arcsec: float = 103.0
    max_centroid_shift_arcsec: float = 15.45
    width_window_arcsec: float = 103.0

    def in_pixels(self, pixel_scale: float) -> tuple[float, tuple[float, float]]:
        """Return the aperture and annulus radii in pixels of a frame.

        Parameters
        ----------
        pixel_scale : float
            The frame's pixel scale, in arcsec per pixel (from its WCS).

        Returns
        -------
        (float, (float, float))
            Aperture radius and annulus radii, in full-frame pixels.
        """
        inner, outer = self.annulus_arcsec
        return self.aperture_arcsec / pixel_scale, (inner / pixel_scale, outer / pixel_scale)

    def windows_in_pixels(self, pixel_scale: float) -> tuple[int, float, int]:
        """Return the centroid box, the largest centroid shift and the width window of a frame.

        The centroid box is a whole odd number ``2 h + 1`` of superpixels (``4 h + 2`` frame
        pixels) a side: the one nearest ``centroid_box_arcsec``, the larger on a tie, at least
        3 x 3 superpixels (``h >= 1``). The width window is rounded to whole frame pixels (at
        least 1); the shift to a micro-pixel, so that a default given in arcsec gives the
        pixels it was written from (15.45 arcsec at 10.3 arcsec per pixel is 1.5 pixels).

        Parameters
        ----------
        pixel_scale : float
            The frame's pixel scale, in arcsec per pixel (from its WCS).

        Returns
        -------
        (int, float, int)
            Centroid box half-size ``h`` (superpixels either side of the star's superpixel),
            largest centroid shift (full-frame pixels) and width window half-size
            (full-frame pixels): ``centroid_half_box``, ``max_centroid_shift`` and
            ``width_window`` of :func:`.frame_photometry.measure_frame`.
        """
        box = self.centroid_box_arcsec / pixel_scale  # frame pixels a side
        half_box = max(1, int(np.floor(box / 4.0 + 1e-9)))  # nearest 4 h + 2, ties up
        max_shift = round(self.max_centroid_shift_arcsec / pixel_scale, 6)
        window = max(1, int(np.floor(self.width_window_arcsec / pixel_scale + 0.5)))
        return half_box, max_shift, window


def sources_name(path: ImagePath) -> str:
    """Return the object name of an image's sources table.

    Parameters
    ----------
    path : ImagePath
        The image.

    Returns
    -------
    str
        ``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.parquet``.
    """
    return f"{path.unit_id}/{path.camera_id}/{path.sequence_start}/{path.image_start}.parquet"


def _metadata(
    path: ImagePath,
    header: Any,
    options: MeasureOptions,
    constants: CameraConstants,
    calibration: FrameCalibration,
    pixel_scale: float,
) -> dict[str, Any]:
    aperture, annulus = options.in_pixels(pixel_scale)
    half_box, max_shift, window = options.windows_in_pixels(pixel_scale)
    exptime = header_value(header, "EXPTIME", float) or 0.0
    start = parse_date_obs(header.get("DATE-OBS")) or path.image_time
    return {
        "image_id": path.image_id,
        "sequence_id": path.sequence_id,
        "mid_exposure_time": (start + timedelta(seconds=exptime / 2)).isoformat(),
        "exptime": exptime,
        "airmass": header_value(header, "AIRMASS", float),
        "site": {
            "latitude": header_value(header, "LAT-OBS", float),
            "longitude": header_value(header, "LONG-OBS", float),
            "elevation": header_value(header, "ELEV-OBS", float),
        },
        "aperture_radius": round(aperture, 4),
        "annulus": [round(r, 4) for r in annulus],
        "aperture_arcsec": options.aperture_arcsec,
        "annulus_arcsec": list(options.annulus_arcsec),
        "centroid_box": 4 * half_box + 2,  # frame pixels a side, 2 half_box + 1 superpixels
        "centroid_box_arcsec": options.centroid_box_arcsec,
        "max_centroid_shift": round(max_shift, 4),
        "max_centroid_shift_arcsec": options.max_centroid_shift_arcsec,
        "width_window": window,
        "width_window_arcsec": options.width_window_arcsec,
        "pixel_scale_arcsec": round(pixel_scale, 5),
        "camera": {"camera_id": path.camera_id, **constants.summary()},
        "calibration": calibration.to_record(),
        "software_version": f"panoptes-network {__version__}",
    }


def _zero_points(table: Any, metadata: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Fit each colour's zero point; return the records and, per failed colour, the reason."""
    records: dict[str, Any] = {}
    errors: dict[str, str] = {}
    exptime = metadata["exptime"]
    if not exptime or exptime <= 0:
        reason = f"image {metadata['image_id']}: no exposure time (EXPTIME) to fit against"
        return records, {c: reason for c in ("r", "g", "b")}
    for colour in ("r", "g", "b"):
        try:
            zero_point = fit_zero_point(
                table,
                colour,
                exptime=exptime,
                airmass=metadata["airmass"],
                image_id=metadata["image_id"],
            )
        except ZeroPointError as exc:
            errors[colour] = str(exc)
        else:
            records[colour] = zero_point.to_record()
    return records, errors


def measure_sources(
    ctx: ChainContext,
    obj: StoredObject,
    catalog: Catalog,
    options: MeasureOptions | None = None,
    masters: MasterLibrary | None = None,
) -> StepResult:
    """Measure the catalog stars of one solved frame and store the table.

    Parameters
    ----------
    ctx : ChainContext
        The chain; ``documents`` must be set.
    obj : StoredObject
        The solved ``.fits.fz`` (WCS in its header).
    catalog : Catalog
        Where the stars come from.
    options : MeasureOptions, optional
        Magnitude range, aperture and annulus.
    masters : MasterLibrary, optional
        The calibration masters' cache; by default the process's one for ``ctx.documents``
        (:func:`.frame_calibration.library_for`).

    Returns
    -------
    StepResult
        ``measured`` (rows, flagged rows, table path, ``calibration`` status), ``skipped``,
        ``measure_error``, ``calibration_error`` or ``quarantined``.
    """
    if ctx.documents is None:
        raise ValueError("measure_sources needs a document store")
    started = time.perf_counter()
    refused = refuse_foreign_bucket(ctx, obj, "measure-sources")
    if refused is not None:
        return refused
    options = options or MeasureOptions()
    try:
        path = ImagePath.parse(obj.name)
    except InvalidPathError as exc:
        return quarantine(ctx, obj, exc.reason)
    target = StoredObject(ctx.settings.sources_bucket, sources_name(path))
    image = ctx.documents.get(IMAGES, path.image_id)
    if image is None:
        return StepResult("skipped", {"object": obj.uri, "why": "no images document"})
    if image.get("status") == ImageStatus.MEASURED and ctx.store.stat(target.bucket, target.name):
        return StepResult("skipped", {"object": obj.uri, "why": "already measured"})
    if image.get("frame_type", FrameType.SCIENCE.value) != FrameType.SCIENCE.value:
        why = f"a {image['frame_type']} frame is a calibration frame, not measured as science"
        ctx.documents.merge(IMAGES, path.image_id, {"due_time": None})  # nothing to re-queue
        return StepResult("skipped", {"object": obj.uri, "why": why})
    try:
        frame = read_stored_frame(ctx.store.read(obj.bucket, obj.name), obj.uri)
    except ObjectNotFoundError:
        raise PermanentFailure(f"{obj.uri} does not exist") from None
    except UnreadableFrame as exc:
        ctx.documents.merge(
            IMAGES,
            path.image_id,
            {
                "status": ImageStatus.MEASURE_ERROR,
                "measure_error_reason": exc.reason,
                "due_time": None,
            },
        )
        return quarantine(ctx, obj, exc.reason)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)  # e.g. MJD-OBS derived from DATE-OBS
        wcs = WCS(frame.header, relax=True).celestial
    if not wcs.has_celestial or not np.isfinite(wcs.wcs.crval).all():
        reason = f"{obj.uri} has no celestial WCS: plate solve it first"
        ctx.documents.merge(
            IMAGES,
            path.image_id,
            {
                "status": ImageStatus.MEASURE_ERROR,
                "measure_error_reason": reason,
                "due_time": None,
            },
        )
        return StepResult(ImageStatus.MEASURE_ERROR, {"object": obj.uri, "reason": reason})
    try:
        constants = camera_constants_for(ctx.documents, path.camera_id, frame.header)
    except MissingCameraConstant as exc:
        ctx.documents.merge(IMAGES, path.image_id, calibration_error_fields(exc))
        return StepResult(ImageStatus.CALIBRATION_ERROR, {"object": obj.uri, "reason": str(exc)})
    calibrated = calibrate_for_measurement(
        ctx,
        masters if masters is not None else library_for(ctx.documents),
        path.camera_id,
        frame.header,
        frame.pixels,
        constants,
        parse_date_obs(frame.header.get("DATE-OBS")) or path.image_time,
    )
    pixel_scale = float(np.mean(proj_plane_pixel_scales(wcs))) * 3600.0
    aperture, annulus = options.in_pixels(pixel_scale)
    half_box, max_shift, window = options.windows_in_pixels(pixel_scale)
    bright, faint = options.vmag_range
    rows = catalog.footprint_search(
        wcs,
        frame.pixels.shape,
        margin=annulus[1] + 2,
        vmag_range=(bright, faint + options.neighbour_depth),
    )
    table = measure_frame(
        calibrated.pixels,
        wcs,
        rows,
        gain=float(constants["gain_e_per_adu"]),
        read_noise=float(constants["read_noise_e"]),
        bias=float(constants["bias_adu"]),
        saturation=calibrated.saturation_adu,
        bayer_pattern=str(constants["bayer_pattern"]),
        flat=calibrated.flat,
        aperture_radius=aperture,
        annulus=annulus,
        centroid_half_box=half_box,
        max_centroid_shift=max_shift,
        width_window=window,
    )
    vmag = np.asarray(table["vmag"], dtype=float)
    table = table[(vmag >= bright) & (vmag <= faint)]
    metadata = _metadata(
        path, frame.header, options, constants, calibrated.calibration, pixel_scale
    )
    zero_points, zero_point_errors = _zero_points(table, metadata)
    metadata.update(zero_points=zero_points, zero_point_errors=zero_point_errors)
    data = write_sources_table(table, metadata)
    calibration = calibrated.calibration
    del frame, calibrated
    write_verified(
        ctx,
        target,
        data,
        content_type=PARQUET_CONTENT_TYPE,
        metadata={"source": obj.uri, "rows": str(len(table))},
    )
    flagged = int(np.count_nonzero(np.asarray(table["flags"]) != 0))
    now = ctx.now()
    ctx.documents.merge(
        IMAGES,
        path.image_id,
        {
            "status": ImageStatus.MEASURED,
            "due_time": None,
            "sources_path": target.name,
            "sources_url": ctx.settings.public_url(target.bucket, target.name),
            "num_sources": len(table),
            "num_sources_flagged": flagged,
            **constants_fields(constants),
            "zero_points": zero_points,
            "zero_point_errors": zero_point_errors,
            "calibration": calibration.to_record(),
            "measured_time": now,
            "measure_seconds": round(time.perf_counter() - started, 3),
            "updated_time": now,
        },
    )
    return StepResult(
        "measured",
        {
            "object": obj.uri,
            "to": target.uri,
            "rows": len(table),
            "flagged": flagged,
            "calibration": calibration.status,
        },
    )
