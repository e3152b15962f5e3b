"""Telling science frames from darks, biases and flats by POCS's cards and paths."""

from __future__ import annotations

import pytest

from panoptes_network.calibration.frame_kind import FrameType, calibration_name, frame_kind
from panoptes_network.frames.fits_header import read_header_from_bytes
from tests.unit.frame_files import unit_frame

SCIENCE = {"FIELD": "KIC 8462852", "EXPTIME": 120.4, "FILTER": "RGGB"}


@pytest.mark.parametrize(
    ("cards", "path", "expected", "source"),
    [
        ({**SCIENCE, "IMAGETYP": "Light Frame"}, None, FrameType.SCIENCE, "IMAGETYP"),
        (
            {"IMAGETYP": "Dark Frame", "FIELD": "Dark", "EXPTIME": 120.0},
            None,
            FrameType.DARK,
            "IMAGETYP",
        ),
        (
            {"IMAGETYP": "Dark Frame", "FIELD": "Bias", "EXPTIME": 0.00025},
            None,
            FrameType.BIAS,
            "IMAGETYP",
        ),
        ({"IMAGETYP": "Dark Frame", "EXPTIME": 0.0}, None, FrameType.BIAS, "IMAGETYP"),
        ({"IMAGETYP": "Bias Frame"}, None, FrameType.BIAS, "IMAGETYP"),
        ({"IMAGETYP": "FLAT"}, None, FrameType.FLAT, "IMAGETYP"),
        (
            {"IMAGETYP": "Light Frame", "FIELD": "EveningFlat", "EXPTIME": 2.5},
            None,
            FrameType.FLAT,
            "FIELD",
        ),
        ({"FIELD": "MorningFlat", "EXPTIME": 2.5}, None, FrameType.FLAT, "FIELD"),
        ({"FIELD": "Flat Field"}, None, FrameType.FLAT, "FIELD"),
        ({"FIELD": "dark", "EXPTIME": 60.0}, None, FrameType.DARK, "FIELD"),
        ({"FIELD": "Dark", "EXPTIME": 0.0}, None, FrameType.BIAS, "FIELD"),
        (
            {"EXPTIME": 60.0},
            "PAN001/Dark/14d3bd/20180216T110623/20180216T110623.fits",
            FrameType.DARK,
            "path",
        ),
        (
            {"EXPTIME": 3.0},
            "/var/panoptes/images/EveningFlat/14d3bd/20180216T040000/20180216T040012.fits",
            FrameType.FLAT,
            "path",
        ),
        (
            {"EXPTIME": 0.0},
            "images/bias/14d3bd/20180216T040000/20180216T040012.fits",
            FrameType.BIAS,
            "path",
        ),
        (
            SCIENCE,
            "PAN001/14d3bd/20180216T110623/20180216T112430.fits",
            FrameType.SCIENCE,
            "default",
        ),
        ({"FIELD": "Darkstar", "EXPTIME": 120.0}, None, FrameType.SCIENCE, "default"),
        (
            {"FIELD": "Flatiron"},
            "PAN001/Flatiron/14d3bd/20180216T110623/20180216T112430.fits",
            FrameType.SCIENCE,
            "default",
        ),
    ],
)
def test_frame_kind_follows_the_convention(cards, path, expected, source):
    kind = frame_kind(cards, path)
    assert kind.type is expected, kind.reason
    assert kind.source == source
    assert kind.is_calibration == (expected is not FrameType.SCIENCE)
    assert kind.reason


def test_imagetyp_wins_over_the_field_name_and_says_so():
    kind = frame_kind({"IMAGETYP": "Light Frame", "FIELD": "Dark", "EXPTIME": 120.0})
    assert kind.type is FrameType.SCIENCE
    assert "FIELD = 'Dark'" in kind.reason and "shutter card wins" in kind.reason
    kind = frame_kind({"IMAGETYP": "Dark Frame", "FIELD": "EveningFlat", "EXPTIME": 2.0})
    assert kind.type is FrameType.DARK


def test_an_unknown_imagetyp_falls_back_to_the_field_and_is_named():
    kind = frame_kind({"IMAGETYP": "Focus", "FIELD": "Dark", "EXPTIME": 30.0})
    assert kind.type is FrameType.DARK
    assert kind.source == "FIELD"
    assert "'Focus' is not a known frame type" in kind.reason


def test_it_reads_a_real_header_layout():
    header = read_header_from_bytes(unit_frame(IMAGETYP="Dark Frame", FIELD="Dark", EXPTIME=60.0))
    assert frame_kind(header).type is FrameType.DARK
    blank = read_header_from_bytes(unit_frame(IMAGETYP=""))
    assert frame_kind(blank).type is FrameType.SCIENCE


def test_calibration_names():
    assert calibration_name("Twilight_Flats") is FrameType.FLAT
    assert calibration_name("Biases") is FrameType.BIAS
    assert calibration_name("HD 189733") is None
    assert calibration_name(None) is None
