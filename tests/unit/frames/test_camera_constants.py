"""Camera constants: header, else measured, else registry, else a loud failure naming it."""

from __future__ import annotations

import pytest

from panoptes_network.frames.camera_constants import (
    CONSTANTS,
    ConstantSource,
    MissingCameraConstant,
    Resolved,
    resolve_camera_constants,
)
from panoptes_network.frames.fits_header import FitsHeader, HeaderCard, read_header_from_file

CAMERA = "14d3bd"
#: A registry entry as a camera's calibration would write it.
REGISTRY = {
    "bias_adu": 2047.5,
    "bias_adu_source": "dark master 2024-07-20",
    "saturation_adu": 11765,
    "gain_e_per_adu": 1.61,
    "read_noise_e": 9.8,
    "bayer_pattern": "RGGB",
}


def header(**cards) -> FitsHeader:
    return FitsHeader([HeaderCard(k, v) for k, v in cards.items()])


def test_the_header_wins_then_the_registry_and_each_value_says_where_it_came_from():
    constants = resolve_camera_constants(
        CAMERA, header(WHTLVLN=11892, FILTER="RGGB"), registry={**REGISTRY, "saturation_adu": 11892}
    )
    assert constants["saturation_adu"] == 11892.0
    assert constants.values["saturation_adu"] == Resolved(11892.0, "header", "WHTLVLN")
    assert constants.values["bayer_pattern"].source == ConstantSource.HEADER
    bias = constants.values["bias_adu"]
    assert (bias.value, bias.source) == (2047.5, "registry")
    assert bias.detail == "cameras/14d3bd (dark master 2024-07-20)"
    assert constants["gain_e_per_adu"] == 1.61 and constants["read_noise_e"] == 9.8
    assert set(constants.to_record()) == set(CONSTANTS)
    assert constants.warnings == ()


def test_a_measurement_beats_the_registry_but_not_the_header():
    measured = {
        "gain_e_per_adu": Resolved(1.55, "measured", "photon transfer, flats of 2024-07-20"),
        "saturation_adu": Resolved(11000.0, "measured", "pixel histogram"),
    }
    constants = resolve_camera_constants(
        CAMERA, header(WHTLVLN=11765), measured=measured, registry=REGISTRY
    )
    assert constants.values["gain_e_per_adu"].source == "measured"
    assert constants["gain_e_per_adu"] == 1.55
    assert constants.values["saturation_adu"].source == "header"


@pytest.mark.parametrize("missing", ["bias_adu", "gain_e_per_adu", "read_noise_e"])
def test_a_constant_found_nowhere_fails_loudly_and_names_itself(missing):
    entry = {k: v for k, v in REGISTRY.items() if not k.startswith(missing)}
    with pytest.raises(MissingCameraConstant) as err:
        resolve_camera_constants(CAMERA, header(WHTLVLN=11765, FILTER="RGGB"), registry=entry)
    assert err.value.name == missing and err.value.camera_id == CAMERA
    assert missing in str(err.value) and "cameras/14d3bd" in str(err.value)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("gain_e_per_adu", 0.0),
        ("read_noise_e", float("nan")),
        ("bias_adu", "2048"),
        ("saturation_adu", 70000),
        ("bayer_pattern", "RGBG"),
        ("gain_e_per_adu", True),
    ],
)
def test_an_unusable_registry_value_is_not_used(name, bad):
    with pytest.raises(MissingCameraConstant, match=name):
        resolve_camera_constants(CAMERA, None, registry={**REGISTRY, name: bad})


def test_an_unusable_header_card_falls_through_to_the_registry():
    constants = resolve_camera_constants(
        CAMERA, header(WHTLVLN="", FILTER="XYZW"), registry=REGISTRY
    )
    assert constants.values["saturation_adu"].source == "registry"
    assert constants.values["bayer_pattern"].source == "registry"


def test_a_saturation_not_above_the_bias_is_refused():
    with pytest.raises(MissingCameraConstant, match="not above the bias"):
        resolve_camera_constants(CAMERA, header(WHTLVLN=2000), registry=REGISTRY)


def test_a_header_that_contradicts_the_registry_is_used_and_reported():
    constants = resolve_camera_constants(
        CAMERA, header(WHTLVLN=12277, FILTER="BGGR"), registry=REGISTRY
    )
    assert constants["saturation_adu"] == 12277.0 and constants["bayer_pattern"] == "BGGR"
    assert len(constants.warnings) == 2
    assert "WHTLVLN says 12277" in constants.warnings[0]
    assert "11765" in constants.warnings[0]


def test_a_real_frame_gives_its_white_level_and_pattern_and_needs_the_rest(panoptes_data):
    real = read_header_from_file(panoptes_data / "solved.fits.fz")
    with pytest.raises(MissingCameraConstant) as err:
        resolve_camera_constants(CAMERA, real)
    assert err.value.name == "bias_adu"  # no PANOPTES header carries the black level
    constants = resolve_camera_constants(
        CAMERA, real, registry={k: v for k, v in REGISTRY.items() if "saturation" not in k}
    )
    assert constants.values["saturation_adu"] == Resolved(11765.0, "header", "WHTLVLN")
    assert constants.values["bayer_pattern"] == Resolved("RGGB", "header", "FILTER")
