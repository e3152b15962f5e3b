"""Frame previews in the read models: the URL and source of each frame's JPEG, or why not.

The network's solved frame carries the fields plate-solve writes for a rendered preview
(``preview_path``, ``preview_url``, ``preview_source: "fits"``); the others have none yet.
"""

from __future__ import annotations

from panoptes_network.explorer import image, observation
from panoptes_network.pipeline.schema import IMAGES
from tests.unit.explorer.network import SETTINGS, SOLVED_SEQUENCE
from tests.unit.explorer.openapi_check import schema_errors

PREVIEW_URL = "https://storage.googleapis.com/panoptes-images-preview/x.jpg"


def test_each_frame_of_an_observation_carries_its_preview_or_none(network):
    documents, ids = network
    answer = observation(documents, SOLVED_SEQUENCE, settings=SETTINGS)
    by_id = {f["image_id"]: f for f in answer["frames"]}
    solved = by_id.pop(ids["solved"])
    assert (solved["preview_url"], solved["preview_source"]) == (PREVIEW_URL, "fits")
    assert by_id and all(
        (f["preview_url"], f["preview_source"]) == (None, None) for f in by_id.values()
    )
    assert schema_errors(answer, "ObservationDetail") == []


def test_a_raw_preview_says_so_and_an_odd_source_is_not_passed_on(network):
    documents, ids = network
    documents.merge(IMAGES, ids["solved"], {"preview_source": "raw"})
    answer = observation(documents, SOLVED_SEQUENCE, settings=SETTINGS)
    assert answer["frames"][0]["preview_source"] == "raw"
    documents.merge(IMAGES, ids["solved"], {"preview_source": "javascript:x"})
    answer = observation(documents, SOLVED_SEQUENCE, settings=SETTINGS)
    assert answer["frames"][0]["preview_source"] is None
    assert answer["frames"][0]["preview_url"] == PREVIEW_URL
    assert schema_errors(answer, "ObservationDetail") == []


def test_the_image_answer_has_its_preview(network):
    documents, ids = network
    answer = image(documents, ids["solved"], settings=SETTINGS)
    assert answer["preview"] == {"url": PREVIEW_URL, "source": "fits", "error_reason": None}
    assert answer["files"]["preview_url"] == PREVIEW_URL
    assert schema_errors(answer, "ImageDetail") == []


def test_an_image_whose_preview_failed_says_why(network):
    documents, ids = network
    other = next(i for i in ids["images"] if i != ids["solved"])
    reason = "gs://panoptes-images/x.fits.fz: the frame holds no image data (an empty HDU)"
    documents.merge(IMAGES, other, {"preview_error_reason": reason})
    answer = image(documents, other, settings=SETTINGS)
    assert answer["preview"] == {"url": None, "source": None, "error_reason": reason}
    assert answer["errors"] == {}  # the frame itself is fine
    assert schema_errors(answer, "ImageDetail") == []


def test_the_schemas_refuse_a_preview_source_they_do_not_know():
    frame = {
        "image_id": "PAN001_14d3bd_20180216T110653",
        "time": None,
        "status": None,
        "solved": None,
        "exptime": None,
        "airmass": None,
        "ra_image": None,
        "dec_image": None,
        "public_url": None,
        "preview_url": None,
        "preview_source": "fits",
        "header": None,
    }
    assert schema_errors(frame, "Frame") == []
    assert schema_errors({**frame, "preview_source": "jpeg"}, "Frame")
    without = {k: v for k, v in frame.items() if k != "preview_source"}
    assert schema_errors(without, "Frame")
