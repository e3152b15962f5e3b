"""One image (frame): its document, stored header cards, pointing and photometry."""

from __future__ import annotations

from typing import Any

from panoptes_network.explorer._records import (
    calibration_summary,
    header_fields,
    header_request,
    photometry_summary,
    pointing_summary,
    preview_summary,
)
from panoptes_network.explorer._values import (
    boolean,
    is_document_id,
    json_value,
    text,
    time_value,
)
from panoptes_network.explorer.errors import NotFound
from panoptes_network.explorer.flags import flags_of
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import IMAGES
from panoptes_network.pipeline.settings import Settings

__all__ = ["image"]

#: Reasons a step recorded for giving up on an image.
_ERROR_FIELDS = (
    "error_reason",
    "solve_error_reason",
    "measure_error_reason",
    "calibration_error_reason",
)
#: Stored files of an image, by the field that holds their public URL.
_FILE_FIELDS = ("public_url", "solved_url", "rgb_url", "preview_url", "sources_url")


def image(
    documents: DocumentStore, image_id: str, *, settings: Settings | None = None
) -> dict[str, Any]:
    """Return one image.

    Reads 1 document and at most 50 flags.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    image_id : str
        The image (``<UNIT>_<CAMERA>_<IMGSTART>``).
    settings : Settings, optional
        The images bucket and get-fits-header's URL, for the header link
        (``Settings()`` by default).

    Returns
    -------
    dict
        ``image_id``, ``sequence_id``, ``unit_id``, ``camera_id``, ``time`` (ISO 8601 UTC),
        ``status``, ``solved``; ``files`` (public URLs of the stored frame, the solved
        frame, the RGB cube, the JPEG preview and the sources table, each None when
        absent); ``preview`` (the JPEG preview's URL, its source and why there is none,
        see :func:`~._records.preview_summary`); ``header_fields`` (the cards record-image
        stored, see :func:`~._records.header_fields`); ``pointing``
        (:func:`~._records.pointing_summary`); ``photometry``
        (:func:`~._records.photometry_summary`, None before measure-sources);
        ``calibration`` (:func:`~._records.calibration_summary`: camera constants with their
        sources, masters applied, zero points; None for an image recorded before them);
        ``errors`` (the reasons steps recorded, by field); ``header`` (how to ask
        get-fits-header for the full header, see :func:`~._records.header_request`);
        ``document`` (every field, as JSON); and ``flags`` (its active flags, see
        :func:`~.flags.flags_of`).

    Raises
    ------
    NotFound
        When there is no such image.
    """
    settings = settings or Settings()
    if not is_document_id(image_id):
        raise NotFound("image", str(image_id))
    doc = documents.get(IMAGES, image_id)
    if doc is None:
        raise NotFound("image", image_id)
    return {
        "image_id": image_id,
        "sequence_id": text(doc.get("sequence_id")),
        "unit_id": text(doc.get("unit_id")),
        "camera_id": text(doc.get("camera_id")),
        "time": time_value(doc.get("time")),
        "status": text(doc.get("status")),
        "solved": boolean(doc.get("solved")),
        "files": {name: text(doc.get(name)) for name in _FILE_FIELDS},
        "preview": preview_summary(doc),
        "header_fields": header_fields(doc),
        "pointing": pointing_summary(doc),
        "photometry": photometry_summary(doc),
        "calibration": calibration_summary(doc),
        "errors": {name: doc[name] for name in _ERROR_FIELDS if isinstance(doc.get(name), str)},
        "header": header_request(doc, settings),
        "document": json_value(doc),
        "flags": flags_of(documents, "image_id", image_id),
    }
