"""Summaries of stored documents: the fields a page shows, each of one JSON type or None.

Every function takes a document as read (any fields, any types) and never raises: a missing
or ill-typed field gives None. Field names are those record-image, plate-solve,
measure-sources and build-lightcurve write (see ``ingest/records.py``), with the older
names of the 2020 records (``latitude``/``longitude``, ``moon_fraction``) read too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from panoptes_network.explorer._values import (
    angle_between,
    boolean,
    integer,
    json_value,
    location,
    number,
    text,
    time_value,
)
from panoptes_network.frames.camera_constants import CONSTANTS
from panoptes_network.pipeline.schema import PreviewSource
from panoptes_network.pipeline.settings import Settings

__all__ = [
    "HEADER_FIELDS",
    "calibration_summary",
    "frame_summary",
    "header_fields",
    "header_request",
    "observation_summary",
    "photometry_summary",
    "pointing_summary",
    "preview_summary",
    "run_summary",
    "unit_summary",
]

#: The header cards record-image copies onto an image document: ``(keyword, field, older
#: field name or None, unit or None)``.
HEADER_FIELDS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("DATE-OBS", "time", None, "UTC"),
    ("EXPTIME", "exptime", None, "s"),
    ("RA-MNT", "ra_mnt", None, "deg"),
    ("DEC-MNT", "dec_mnt", None, "deg"),
    ("HA-MNT", "ha_mnt", None, "h"),
    ("AIRMASS", "airmass", None, None),
    ("MOONFRAC", "moonfrac", "moon_fraction", None),
    ("MOONSEP", "moonsep", "moon_separation", "deg"),
    ("RAWFILE", "raw_file", None, None),
    ("RAWCONV", "converted_from_raw", None, None),
)


def _minutes_to_hours(value: Any) -> float | None:
    minutes = number(value)
    return None if minutes is None else minutes / 60.0


def unit_summary(unit_id: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a page shows of a unit.

    Parameters
    ----------
    unit_id : str
        The document id.
    doc : Mapping
        The unit document.

    Returns
    -------
    dict
        ``unit_id``, ``name``, ``status``, ``elevation`` (m), ``location`` (degrees, see
        :func:`~._values.location`), the counters ``num_observations`` and ``num_images``,
        and ``exposure_hours`` (``total_minutes_exptime`` / 60, h).
    """
    return {
        "unit_id": unit_id,
        "name": text(doc.get("name")),
        "status": text(doc.get("status")),
        "elevation": number(doc.get("elevation")),
        "location": location(doc),
        "num_observations": integer(doc.get("num_observations")),
        "num_images": integer(doc.get("num_images")),
        "exposure_hours": _minutes_to_hours(doc.get("total_minutes_exptime")),
    }


def observation_summary(sequence_id: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a table row shows of an observation.

    Parameters
    ----------
    sequence_id : str
        The document id (``<UNIT>_<CAMERA>_<SEQSTART>``).
    doc : Mapping
        The observation document.

    Returns
    -------
    dict
        ``sequence_id``, ``unit_id``, ``camera_id``, ``time`` (start, ISO 8601 UTC),
        ``status``, ``field_name``, ``exptime`` (s, per frame), ``num_images``,
        ``exposure_minutes`` (``total_minutes_exptime``, min), ``ra`` and ``dec`` (deg,
        from the plate solve; None until solved), ``software_version``, ``received_time``
        and ``last_image_received_time`` (ISO 8601 UTC).
    """
    return {
        "sequence_id": sequence_id,
        "unit_id": text(doc.get("unit_id")),
        "camera_id": text(doc.get("camera_id")),
        "time": time_value(doc.get("time")),
        "status": text(doc.get("status")),
        "field_name": text(doc.get("field_name")),
        "exptime": number(doc.get("exptime")),
        "num_images": integer(doc.get("num_images")),
        "exposure_minutes": number(doc.get("total_minutes_exptime")),
        "ra": number(doc.get("ra")),
        "dec": number(doc.get("dec")),
        "software_version": text(doc.get("software_version")),
        "received_time": time_value(doc.get("received_time")),
        "last_image_received_time": time_value(doc.get("last_image_received_time")),
    }


def header_request(doc: Mapping[str, Any], settings: Settings) -> dict[str, Any] | None:
    """Return how to ask get-fits-header for a frame's full header, or None.

    Parameters
    ----------
    doc : Mapping
        An image document; its ``bucket_path`` names the frame in the images bucket.
    settings : Settings
        The images bucket and ``header_service_url``.

    Returns
    -------
    dict or None
        ``{"service": "get-fits-header", "url": str or None, "method": "POST", "body":
        {"bucket_path", "bucket_name"}}``; None when the document has no ``bucket_path``.
    """
    path = text(doc.get("bucket_path"))
    if not path:
        return None
    return {
        "service": "get-fits-header",
        "url": settings.header_service_url or None,
        "method": "POST",
        "body": {"bucket_path": path, "bucket_name": settings.images_bucket},
    }


def frame_summary(image_id: str, doc: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Return what the frames table of an observation shows of one image.

    Parameters
    ----------
    image_id : str
        The document id.
    doc : Mapping
        The image document.
    settings : Settings
        For :func:`header_request`.

    Returns
    -------
    dict
        ``image_id``, ``time`` (ISO 8601 UTC), ``status``, ``solved``, ``exptime`` (s),
        ``airmass``, ``ra_image`` and ``dec_image`` (deg, the solved centre; None until
        solved), ``public_url`` (of the stored frame), ``preview_url`` (its JPEG preview,
        1200 pixels wide; None until one is made), ``preview_source`` (``"raw"``: from the
        camera raw file, ``"fits"``: rendered from the frame; None when unknown) and
        ``header`` (see :func:`header_request`).
    """
    return {
        "image_id": image_id,
        "time": time_value(doc.get("time")),
        "status": text(doc.get("status")),
        "solved": boolean(doc.get("solved")),
        "exptime": number(doc.get("exptime")),
        "airmass": number(doc.get("airmass")),
        "ra_image": number(doc.get("ra_image")),
        "dec_image": number(doc.get("dec_image")),
        "public_url": text(doc.get("public_url")),
        "preview_url": text(doc.get("preview_url")),
        "preview_source": _preview_source(doc),
        "header": header_request(doc, settings),
    }


def _preview_source(doc: Mapping[str, Any]) -> str | None:
    source = doc.get("preview_source")
    return source if source in (PreviewSource.RAW, PreviewSource.FITS) else None


def preview_summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return an image's JPEG preview: where it is, what it was made from, or why it is not.

    Parameters
    ----------
    doc : Mapping
        The image document.

    Returns
    -------
    dict
        ``url`` (public URL of the JPEG, 1200 pixels wide; None when there is none),
        ``source`` (``"raw"``: made from the camera raw file; ``"fits"``: rendered from the
        frame's pixels by plate-solve; None when unknown) and ``error_reason`` (why
        plate-solve could not render one; None otherwise).
    """
    return {
        "url": text(doc.get("preview_url")),
        "source": _preview_source(doc),
        "error_reason": text(doc.get("preview_error_reason")),
    }


def run_summary(run_id: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return the summary of one build-lightcurve run (a ``processed_observations`` doc).

    Parameters
    ----------
    run_id : str
        The document id (``<sequence_id>_<RUNTIME>``).
    doc : Mapping
        The run document.

    Returns
    -------
    dict
        ``run_id``, ``status`` (``running`` or ``done``), ``run_time`` (ISO 8601 UTC),
        ``num_frames`` (used), ``num_frames_found``, ``num_frames_rejected``, ``num_stars``,
        ``num_variable_stars``, ``corrections`` (per colour), ``notes``, ``precision`` (per
        colour, the V bins of ``lightcurves.products.precision_statistics``; mag),
        ``data_url`` (the run's Parquet file), ``software_version``, ``run_seconds`` (s),
        ``num_points_rejected`` (light-curve points left out because people flagged them)
        and ``flags_honoured`` (how many flags the run applied; None for older runs).
    """
    corrections = doc.get("corrections")
    notes = doc.get("notes")
    precision = doc.get("precision")
    return {
        "run_id": run_id,
        "status": text(doc.get("status")),
        "run_time": time_value(doc.get("run_time")),
        "num_frames": integer(doc.get("num_frames")),
        "num_frames_found": integer(doc.get("num_frames_found")),
        "num_frames_rejected": integer(doc.get("num_frames_rejected")),
        "num_stars": integer(doc.get("num_stars")),
        "num_variable_stars": integer(doc.get("num_variable_stars")),
        "corrections": (
            {str(k): text(v) for k, v in corrections.items()}
            if isinstance(corrections, Mapping)
            else None
        ),
        "notes": [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else None,
        "precision": json_value(precision) if isinstance(precision, Mapping) else None,
        "data_url": text(doc.get("data_url")),
        "software_version": text(doc.get("software_version")),
        "run_seconds": number(doc.get("run_seconds")),
        "num_points_rejected": integer(doc.get("num_points_rejected")),
        "flags_honoured": _flags_honoured(doc.get("flags")),
    }


def _flags_honoured(flags: Any) -> int | None:
    """Return how many people's flags a run honoured (None for runs before flags)."""
    if not isinstance(flags, Mapping) or not isinstance(flags.get("honoured"), list):
        return None
    return len(flags["honoured"])


def pointing_summary(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return where an image points: the mount's position and the plate solution.

    Parameters
    ----------
    doc : Mapping
        The image document.

    Returns
    -------
    dict
        ``ra_mnt``, ``dec_mnt`` (deg) and ``ha_mnt`` (h) from the header; ``solved``;
        ``ra_image``, ``dec_image`` (deg, the solved centre); ``offset_deg``, the angle
        between the two (deg; None unless both are known); ``pixel_scale`` (arcsec per
        pixel), ``rotation`` (deg east of north), ``solve_index``, ``solve_matched_stars``,
        ``sources_detected``, ``solve_blind``, ``solve_method`` (``tracked``,
        ``solve-field`` or ``blind``), ``solve_tracked_from`` (the image tracked from),
        ``solve_not_tracked_reason``, ``solve_rms_px`` (the tracked fit's rms, pixels),
        ``solved_time`` (ISO 8601 UTC), ``solved_url`` (the frame with its WCS) and
        ``solve_error_reason``.
    """
    return {
        "ra_mnt": number(doc.get("ra_mnt")),
        "dec_mnt": number(doc.get("dec_mnt")),
        "ha_mnt": number(doc.get("ha_mnt")),
        "solved": boolean(doc.get("solved")),
        "ra_image": number(doc.get("ra_image")),
        "dec_image": number(doc.get("dec_image")),
        "offset_deg": angle_between(
            doc.get("ra_mnt"), doc.get("dec_mnt"), doc.get("ra_image"), doc.get("dec_image")
        ),
        "pixel_scale": number(doc.get("pixel_scale")),
        "rotation": number(doc.get("rotation")),
        "solve_index": json_value(doc.get("solve_index")),
        "solve_matched_stars": integer(doc.get("solve_matched_stars")),
        "sources_detected": integer(doc.get("sources_detected")),
        "solve_blind": boolean(doc.get("solve_blind")),
        "solve_method": text(doc.get("solve_method")),
        "solve_tracked_from": text(doc.get("solve_tracked_from")),
        "solve_not_tracked_reason": text(doc.get("solve_not_tracked_reason")),
        "solve_rms_px": number(doc.get("solve_rms_px")),
        "solved_time": time_value(doc.get("solved_time")),
        "solved_url": text(doc.get("solved_url")),
        "solve_error_reason": text(doc.get("solve_error_reason")),
    }


#: Fields measure-sources writes; an image with none of them has no photometry summary.
_PHOTOMETRY_FIELDS = (
    "num_sources",
    "num_sources_flagged",
    "sources_url",
    "measured_time",
    "measure_error_reason",
)


def photometry_summary(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return what measure-sources recorded of an image, or None when it recorded nothing.

    Parameters
    ----------
    doc : Mapping
        The image document.

    Returns
    -------
    dict or None
        ``num_sources`` (catalog stars measured), ``num_sources_flagged``, ``sources_url``
        (the Parquet table), ``measured_time`` (ISO 8601 UTC) and ``measure_error_reason``.
    """
    if not any(doc.get(name) is not None for name in _PHOTOMETRY_FIELDS):
        return None
    return {
        "num_sources": integer(doc.get("num_sources")),
        "num_sources_flagged": integer(doc.get("num_sources_flagged")),
        "sources_url": text(doc.get("sources_url")),
        "measured_time": time_value(doc.get("measured_time")),
        "measure_error_reason": text(doc.get("measure_error_reason")),
    }


def header_fields(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the header cards record-image stored on an image document.

    Parameters
    ----------
    doc : Mapping
        The image document.

    Returns
    -------
    list of dict
        One ``{"keyword", "field", "value", "unit"}`` per card of :data:`HEADER_FIELDS`
        whose field (or its older name) the document holds; times as ISO 8601 UTC.
    """
    out = []
    for keyword, field, older, unit in HEADER_FIELDS:
        name = field if field in doc or older is None or older not in doc else older
        if name not in doc:
            continue
        raw = doc.get(name)
        value = time_value(raw) if field == "time" else json_value(raw)
        if isinstance(value, (dict, list)):
            value = None
        out.append({"keyword": keyword, "field": name, "value": value, "unit": unit})
    return out


#: Fields of an image document about its camera and calibration; an image with none of them
#: has no calibration summary.
_CALIBRATION_FIELDS = (
    "frame_type",
    "camera_constants",
    "camera_warnings",
    "calibration",
    "zero_points",
    "zero_point_errors",
    "calibration_error_reason",
)


def _constants(record: Any) -> list[dict[str, Any]]:
    if not isinstance(record, Mapping):
        return []
    rows = []
    for name in CONSTANTS:
        entry = record.get(name)
        if isinstance(entry, Mapping):
            value = entry.get("value")
            rows.append(
                {
                    "name": name,
                    "value": value if isinstance(value, str) else number(value),
                    "source": text(entry.get("source")),
                    "detail": text(entry.get("detail")),
                }
            )
    return rows


def _zero_points(record: Any) -> list[dict[str, Any]]:
    if not isinstance(record, Mapping):
        return []
    rows = []
    for colour in ("r", "g", "b"):
        entry = record.get(colour)
        if isinstance(entry, Mapping):
            rows.append(
                {
                    "colour": colour,
                    "zero_point": number(entry.get("zero_point")),
                    "zero_point_err": number(entry.get("zero_point_err")),
                    "colour_term": number(entry.get("colour_term")),
                    "n_stars": integer(entry.get("n_stars")),
                    "rms": number(entry.get("rms")),
                }
            )
    return rows


def calibration_summary(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return an image's camera constants, masters applied and zero points, or None.

    Parameters
    ----------
    doc : Mapping
        The image document.

    Returns
    -------
    dict or None
        ``frame_type``; ``constants`` (per constant its value, source and detail, as
        resolved for the frame); ``warnings`` (the header's contradictions of the registry);
        ``status`` and ``summary`` of the masters applied, ``dark_master_id``,
        ``flat_master_id`` and their notes; ``zero_points`` (per colour, mag);
        ``zero_point_errors`` (by colour); ``calibration_error_reason``.
    """
    if not any(doc.get(name) is not None for name in _CALIBRATION_FIELDS):
        return None
    applied = doc.get("calibration") if isinstance(doc.get("calibration"), Mapping) else {}
    warnings = doc.get("camera_warnings")
    errors = doc.get("zero_point_errors")
    return {
        "frame_type": text(doc.get("frame_type")),
        "constants": _constants(doc.get("camera_constants")),
        "warnings": [w for w in warnings if isinstance(w, str)]
        if isinstance(warnings, list)
        else [],
        "status": text(applied.get("status")),
        "summary": text(applied.get("summary")),
        "dark_master_id": text(applied.get("dark_master_id")),
        "dark_note": text(applied.get("dark_note")),
        "flat_master_id": text(applied.get("flat_master_id")),
        "flat_note": text(applied.get("flat_note")),
        "zero_points": _zero_points(doc.get("zero_points")),
        "zero_point_errors": {str(k): v for k, v in errors.items() if isinstance(v, str)}
        if isinstance(errors, Mapping)
        else {},
        "calibration_error_reason": text(doc.get("calibration_error_reason")),
    }
