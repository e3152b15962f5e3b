"""An image's page says which camera constants it was measured with, and its zero points."""

from __future__ import annotations

from panoptes_network.explorer.images import image
from tests.unit.explorer.openapi_check import schema_errors
from tests.unit.fakes import MemoryDocuments

IMAGE_ID = "PAN001_14d3bd_20260101T040000"
MEASURED = {
    "sequence_id": "PAN001_14d3bd_20260101T035900",
    "status": "measured",
    "frame_type": "science",
    "camera_constants": {
        "bias_adu": {"value": 2063.0, "source": "registry", "detail": "cameras/14d3bd (lab)"},
        "saturation_adu": {"value": 11878.0, "source": "header", "detail": "WHTLVLN"},
        "gain_e_per_adu": {"value": 1.54, "source": "registry", "detail": "cameras/14d3bd"},
        "read_noise_e": {"value": 11.9, "source": "registry", "detail": "cameras/14d3bd"},
        "bayer_pattern": {"value": "RGGB", "source": "header", "detail": "FILTER"},
    },
    "camera_warnings": ["saturation_adu: the header's WHTLVLN says 11878 ..."],
    "calibration": {"status": "calibrated", "summary": "dark and flat", "flat_master_id": "f1"},
    "zero_points": {
        "g": {
            "colour": "g",
            "zero_point": 15.8,
            "zero_point_err": 0.001,
            "colour_term": None,
            "n_stars": 4000,
            "rms": 0.05,
        },
    },  # fmt: skip
    "zero_point_errors": {"r": "too few stars"},
}


def test_the_page_lists_the_constants_with_their_sources_and_the_zero_points():
    documents = MemoryDocuments()
    documents.merge("images", IMAGE_ID, MEASURED)
    page = image(documents, IMAGE_ID)
    assert schema_errors(page, "ImageDetail") == []
    calibration = page["calibration"]
    assert [c["name"] for c in calibration["constants"]] == [
        "bias_adu",
        "saturation_adu",
        "gain_e_per_adu",
        "read_noise_e",
        "bayer_pattern",
    ]
    assert calibration["constants"][1] == {
        "name": "saturation_adu",
        "value": 11878.0,
        "source": "header",
        "detail": "WHTLVLN",
    }
    assert calibration["warnings"] and calibration["flat_master_id"] == "f1"
    assert calibration["zero_points"][0]["zero_point"] == 15.8
    assert calibration["zero_point_errors"] == {"r": "too few stars"}


def test_a_calibration_error_is_among_the_reasons_and_older_images_have_no_summary():
    documents = MemoryDocuments()
    documents.merge(
        "images", IMAGE_ID, {"status": "calibration_error", "calibration_error_reason": "no gain"}
    )
    page = image(documents, IMAGE_ID)
    assert schema_errors(page, "ImageDetail") == []
    assert page["errors"]["calibration_error_reason"] == "no gain"
    assert page["calibration"]["calibration_error_reason"] == "no gain"
    documents.merge("images", "PAN001_14d3bd_20260101T040200", {"status": "measured"})
    assert image(documents, "PAN001_14d3bd_20260101T040200")["calibration"] is None
