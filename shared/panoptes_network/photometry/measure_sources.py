"""The measure-sources step: per-colour photometry of every catalog star on a solved frame.

For a plate-solved frame (the ``.fits.fz`` in the solved bucket, WCS in its header) it takes
the catalog stars in the footprint (V 6 to 13 by default, plus fainter neighbours for the
contamination flag), measures them with :func:`.frame_photometry.measure_frame`, writes one
parquet table per image (:mod:`.sources_table`) to the sources bucket as
``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.parquet``, and sets the image's ``status`` to
``measured`` with the table's path and row count.

Redelivery is harmless: a measured image whose table exists is skipped. A frame without a
celestial WCS is recorded as ``measure_error`` and acknowledged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from astropy.wcs import WCS, FITSFixedWarning

from panoptes_network import __version__
from panoptes_network.astrometry.solved_frame import UnreadableFrame, read_stored_frame
from panoptes_network.catalog.star_catalog import DEFAULT_VMAG_RANGE, Catalog
from panoptes_network.frames.bucket_path import ImagePath, InvalidPathError
from panoptes_network.frames.header_values import header_value, parse_date_obs
from panoptes_network.photometry.frame_photometry import (
    DEFAULT_ANNULUS,
    DEFAULT_APERTURE_RADIUS,
    measure_frame,
)
from panoptes_network.photometry.sources_table import write_sources_table
from panoptes_network.pipeline.context import ChainContext, StepResult, StoredObject
from panoptes_network.pipeline.errors import ObjectNotFoundError, PermanentFailure
from panoptes_network.pipeline.inputs import refuse_foreign_bucket
from panoptes_network.pipeline.schema import IMAGES, PARQUET_CONTENT_TYPE, ImageStatus
from panoptes_network.pipeline.storage import quarantine, write_verified

__all__ = ["MeasureOptions", "sources_name", "measure_sources"]


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
    aperture_radius : float
        Aperture radius, in full-frame pixels.
    annulus : (float, float)
        Background annulus radii, in full-frame pixels.
    """

    vmag_range: tuple[float, float] = DEFAULT_VMAG_RANGE
    neighbour_depth: float = 2.5
    aperture_radius: float = DEFAULT_APERTURE_RADIUS
    annulus: tuple[float, float] = DEFAULT_ANNULUS


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


def _metadata(path: ImagePath, header: Any, options: MeasureOptions) -> dict[str, Any]:
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
        "aperture_radius": options.aperture_radius,
        "annulus": list(options.annulus),
        "software_version": f"panoptes-network {__version__}",
    }


def measure_sources(
    ctx: ChainContext,
    obj: StoredObject,
    catalog: Catalog,
    options: MeasureOptions | None = None,
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

    Returns
    -------
    StepResult
        ``measured`` (rows, flagged rows, table path), ``skipped``, ``measure_error`` or
        ``quarantined``.
    """
    if ctx.documents is None:
        raise ValueError("measure_sources needs a document store")
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
    bright, faint = options.vmag_range
    rows = catalog.footprint_search(
        wcs,
        frame.pixels.shape,
        margin=options.annulus[1] + 2,
        vmag_range=(bright, faint + options.neighbour_depth),
    )
    table = measure_frame(
        frame.pixels,
        wcs,
        rows,
        aperture_radius=options.aperture_radius,
        annulus=options.annulus,
    )
    vmag = np.asarray(table["vmag"], dtype=float)
    table = table[(vmag >= bright) & (vmag <= faint)]
    data = write_sources_table(table, _metadata(path, frame.header, options))
    del frame
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
            "measured_time": now,
            "updated_time": now,
        },
    )
    return StepResult(
        "measured",
        {"object": obj.uri, "to": target.uri, "rows": len(table), "flagged": flagged},
    )
