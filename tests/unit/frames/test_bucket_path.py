"""Unit tests for panoptes_network.frames.bucket_path (the bucket path grammar)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

from panoptes_network.frames.bucket_path import (
    EXTENSIONS,
    ImagePath,
    InvalidPathError,
    format_timestamp,
    parse_timestamp,
    split_id,
)

UTC = timezone.utc
SEQ = "20180216T110623"
IMG = "20180216T112430"
GOOD = f"PAN001/14d3bd/{SEQ}/{IMG}.fits.fz"


# --------------------------------------------------------------------------------------
# Valid paths
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "unit", "camera", "seq", "img", "ext", "field"),
    [
        (GOOD, "PAN001", "14d3bd", SEQ, IMG, ".fits.fz", None),
        (f"PAN001/14d3bd/{SEQ}/{IMG}.fits", "PAN001", "14d3bd", SEQ, IMG, ".fits", None),
        (f"PAN012/0a9f3c/{SEQ}/{IMG}.cr2", "PAN012", "0a9f3c", SEQ, IMG, ".cr2", None),
        (f"PAN999/ffffff/{SEQ}/{IMG}.jpg", "PAN999", "ffffff", SEQ, IMG, ".jpg", None),
        (f"PAN000/000000/{SEQ}/{IMG}.mp4", "PAN000", "000000", SEQ, IMG, ".mp4", None),
        # the image may start at the very moment its sequence starts
        (f"PAN001/14d3bd/{SEQ}/{SEQ}.fits", "PAN001", "14d3bd", SEQ, SEQ, ".fits", None),
        # legacy 5-part form: field name after the unit
        (
            f"PAN001/Wasp33/14d3bd/{SEQ}/{IMG}.fits",
            "PAN001",
            "14d3bd",
            SEQ,
            IMG,
            ".fits",
            "Wasp33",
        ),
        (
            f"PAN012/Tess_Sec17_Cam02/95cdbc/{SEQ}/{IMG}.cr2",
            "PAN012",
            "95cdbc",
            SEQ,
            IMG,
            ".cr2",
            "Tess_Sec17_Cam02",
        ),
        (
            f"PAN006/KIC-8462852+b.v2/7bab97/{SEQ}/{IMG}.fits.fz",
            "PAN006",
            "7bab97",
            SEQ,
            IMG,
            ".fits.fz",
            "KIC-8462852+b.v2",
        ),
        # a field name may look like anything that matches its own grammar
        (
            f"PAN001/{'F' * 64}/14d3bd/{SEQ}/{IMG}.fits",
            "PAN001",
            "14d3bd",
            SEQ,
            IMG,
            ".fits",
            "F" * 64,
        ),
        # calendar edge: leap day, end of the year, midnight
        (
            "PAN001/14d3bd/20200229T000000/20200229T235959.fits",
            "PAN001",
            "14d3bd",
            "20200229T000000",
            "20200229T235959",
            ".fits",
            None,
        ),
        (
            "PAN001/14d3bd/20191231T235959/20200101T000001.fits",
            "PAN001",
            "14d3bd",
            "20191231T235959",
            "20200101T000001",
            ".fits",
            None,
        ),
    ],
)
def test_parse_valid(name, unit, camera, seq, img, ext, field):
    path = ImagePath.parse(name)
    assert path.unit_id == unit
    assert path.camera_id == camera
    assert path.sequence_start == seq
    assert path.image_start == img
    assert path.extension == ext
    assert path.field_name == field
    assert path.sequence_id == f"{unit}_{camera}_{seq}"
    assert path.image_id == f"{unit}_{camera}_{img}"
    # always normalised to the 4-part form
    assert path.object_name == f"{unit}/{camera}/{seq}/{img}{ext}"
    assert path.object_name.count("/") == 3
    # the normalised name parses back to the same path (minus the legacy field name)
    again = ImagePath.parse(path.object_name)
    assert again == dataclasses.replace(path, field_name=None)


def test_legacy_five_part_normalises_to_the_four_part_form():
    legacy = ImagePath.parse(f"PAN001/Wasp33/14d3bd/{SEQ}/{IMG}.fits")
    modern = ImagePath.parse(f"PAN001/14d3bd/{SEQ}/{IMG}.fits")
    assert legacy.object_name == modern.object_name == f"PAN001/14d3bd/{SEQ}/{IMG}.fits"
    assert legacy.sequence_id == modern.sequence_id
    assert legacy.image_id == modern.image_id
    assert legacy.field_name == "Wasp33"
    assert modern.field_name is None
    assert "Wasp33" not in legacy.object_name


def test_example_from_the_architecture():
    path = ImagePath.parse("PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz")
    assert path.sequence_id == "PAN001_14d3bd_20180216T110623"
    assert path.image_id == "PAN001_14d3bd_20180216T112430"


def test_times_are_aware_utc():
    path = ImagePath.parse(GOOD)
    assert path.sequence_time == datetime(2018, 2, 16, 11, 6, 23, tzinfo=UTC)
    assert path.image_time == datetime(2018, 2, 16, 11, 24, 30, tzinfo=UTC)
    for moment in (path.sequence_time, path.image_time):
        assert moment.tzinfo is not None
        assert moment.utcoffset() == timedelta(0)
    assert path.image_time - path.sequence_time == timedelta(minutes=18, seconds=7)


def test_extension_wins_longest_first():
    # ``.fits.fz`` must not be read as ``.fits`` with ``.fz`` glued to the image start
    path = ImagePath.parse(GOOD)
    assert path.extension == ".fits.fz"
    assert path.image_start == IMG
    assert EXTENSIONS.index(".fits.fz") < EXTENSIONS.index(".fits")


@pytest.mark.parametrize("ext", [".FITS", ".Fits.Fz", ".CR2", ".JPG"])
def test_extension_case_is_normalised_to_lower_case(ext):
    path = ImagePath.parse(f"PAN001/14d3bd/{SEQ}/{IMG}{ext}")
    assert path.extension == ext.lower()
    assert path.extension in EXTENSIONS
    assert path.object_name.endswith(ext.lower())


def test_imagepath_is_frozen_and_hashable():
    path = ImagePath.parse(GOOD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        path.unit_id = "PAN002"  # type: ignore[misc]
    assert {path, ImagePath.parse(GOOD)} == {path}


# --------------------------------------------------------------------------------------
# with_extension
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_with_extension(ext):
    legacy = ImagePath.parse(f"PAN001/Wasp33/14d3bd/{SEQ}/{IMG}.fits")
    changed = legacy.with_extension(ext)
    assert changed.extension == ext
    assert changed.object_name == f"PAN001/14d3bd/{SEQ}/{IMG}{ext}"
    assert changed.field_name == "Wasp33"
    assert (changed.unit_id, changed.camera_id, changed.sequence_start, changed.image_start) == (
        legacy.unit_id,
        legacy.camera_id,
        legacy.sequence_start,
        legacy.image_start,
    )
    assert changed.image_id == legacy.image_id
    # the original is untouched
    assert legacy.extension == ".fits"


@pytest.mark.parametrize("ext", [".txt", "fits", ".fz", ".FITS", ".fits.gz", "", ".fits.fz "])
def test_with_extension_rejects_unknown(ext):
    with pytest.raises(ValueError, match="unknown extension"):
        ImagePath.parse(GOOD).with_extension(ext)


# --------------------------------------------------------------------------------------
# Invalid paths
# --------------------------------------------------------------------------------------

INVALID = [
    # (object name, fragment expected in the reason)
    # wrong part count
    (f"14d3bd/{SEQ}/{IMG}.fits", "found 3 parts"),
    (f"{IMG}.fits", "found 1 parts"),
    (f"PAN001/Wasp33/extra/14d3bd/{SEQ}/{IMG}.fits", "found 6 parts"),
    (f"PAN001/a/b/c/14d3bd/{SEQ}/{IMG}.fits", "found 7 parts"),
    # bad unit id
    (f"PAN01/14d3bd/{SEQ}/{IMG}.fits", "unit id"),
    (f"PAN0001/14d3bd/{SEQ}/{IMG}.fits", "unit id"),
    (f"pan001/14d3bd/{SEQ}/{IMG}.fits", "unit id"),
    (f"PANX01/14d3bd/{SEQ}/{IMG}.fits", "unit id"),
    (f"XYZ001/14d3bd/{SEQ}/{IMG}.fits", "unit id"),
    (f" PAN001/14d3bd/{SEQ}/{IMG}.fits", "unit id"),
    # bad camera id
    (f"PAN001/14D3BD/{SEQ}/{IMG}.fits", "camera id"),
    (f"PAN001/14d3bD/{SEQ}/{IMG}.fits", "camera id"),
    (f"PAN001/14d3b/{SEQ}/{IMG}.fits", "camera id"),
    (f"PAN001/14d3bd0/{SEQ}/{IMG}.fits", "camera id"),
    (f"PAN001/14d3bg/{SEQ}/{IMG}.fits", "camera id"),
    (f"PAN001/XXXXXX/{SEQ}/{IMG}.fits", "camera id"),
    # invalid sequence / image times
    (f"PAN001/14d3bd/20181316T110623/{IMG}.fits", "sequence start"),
    ("PAN001/14d3bd/20180230T110623/20180301T000000.fits", "sequence start"),
    ("PAN001/14d3bd/20190229T000000/20190301T000000.fits", "sequence start"),
    (f"PAN001/14d3bd/20180216T250000/{IMG}.fits", "sequence start"),
    (f"PAN001/14d3bd/20180216T116023/{IMG}.fits", "sequence start"),
    (f"PAN001/14d3bd/20180216-110623/{IMG}.fits", "sequence start"),
    (f"PAN001/14d3bd/20180216t110623/{IMG}.fits", "sequence start"),
    (f"PAN001/14d3bd/2018216T110623/{IMG}.fits", "sequence start"),
    (f"PAN001/14d3bd/20180216T1106230/{IMG}.fits", "sequence start"),
    (f"PAN001/14d3bd/{SEQ}/20181316T110623.fits", "image start"),
    (f"PAN001/14d3bd/{SEQ}/20180216T112460.fits", "image start"),
    (f"PAN001/14d3bd/{SEQ}/20180216T112461.fits", "image start"),
    (f"PAN001/14d3bd/{SEQ}/20180216T240000.fits", "image start"),
    (f"PAN001/14d3bd/{SEQ}/pointing00.cr2", "image start"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}_1.fits", "image start"),
    (f"PAN001/14d3bd/{SEQ}/.fits", "image start"),
    # image before sequence
    (f"PAN001/14d3bd/{IMG}/{SEQ}.fits", "before its sequence"),
    (f"PAN001/14d3bd/{SEQ}/20180216T110622.fits", "before its sequence"),
    ("PAN001/14d3bd/20190101T000000/20181231T235959.fits", "before its sequence"),
    # '.', '..', empty segments
    (f"PAN001/../14d3bd/{SEQ}/{IMG}.fits", "segments"),
    (f"PAN001/14d3bd/../{IMG}.fits", "segments"),
    (f"PAN001/./14d3bd/{SEQ}/{IMG}.fits", "segments"),
    (f"PAN001/14d3bd/./{IMG}.fits", "segments"),
    (f"PAN001//14d3bd/{SEQ}/{IMG}.fits", "segments"),
    (f"/PAN001/14d3bd/{SEQ}/{IMG}.fits", "segments"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fits/", "segments"),
    (f"PAN001/14d3bd/{SEQ}//{IMG}.fits", "segments"),
    ("/", "segments"),
    # backslash and control characters
    (f"PAN001\\14d3bd\\{SEQ}\\{IMG}.fits", "backslash or control"),
    (f"PAN001/14d3bd/{SEQ}\\{IMG}.fits", "backslash or control"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fits\x00", "backslash or control"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fits\n", "backslash or control"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}\r.fits", "backslash or control"),
    (f"PAN001/14d3bd\t/{SEQ}/{IMG}.fits", "backslash or control"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}\x1b.fits", "backslash or control"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}\x1f.fits", "backslash or control"),
    # DEL is a control character too; rejected here by the time grammar
    (f"PAN001/14d3bd/{SEQ}/{IMG}\x7f.fits", "image start"),
    # unknown extensions
    (f"PAN001/14d3bd/{SEQ}/{IMG}.txt", "unknown extension"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fits.gz", "unknown extension"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fz", "unknown extension"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fit", "unknown extension"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fits.bz2", "unknown extension"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}", "unknown extension"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fits.fz.tmp", "unknown extension"),
    (f"PAN001/14d3bd/{SEQ}/{IMG}.fits ", "unknown extension"),
    # invalid legacy field names
    (f"PAN001/Wasp 33/14d3bd/{SEQ}/{IMG}.fits", "legacy field name"),
    (f"PAN001/{'F' * 65}/14d3bd/{SEQ}/{IMG}.fits", "legacy field name"),
    (f"PAN001/Wasp#33/14d3bd/{SEQ}/{IMG}.fits", "legacy field name"),
    (f"PAN001/Wäsp33/14d3bd/{SEQ}/{IMG}.fits", "legacy field name"),
    # the field name must sit after the unit: a 5-part path that is something else fails
    (f"PAN001/14d3bd/{SEQ}/{IMG}/extra.fits", "camera id"),
    # empty name
    ("", "empty"),
]


@pytest.mark.parametrize(("name", "fragment"), INVALID)
def test_parse_invalid(name, fragment):
    with pytest.raises(InvalidPathError) as info:
        ImagePath.parse(name)
    err = info.value
    assert fragment in err.reason
    assert fragment in str(err)
    assert err.name == name
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("length", [513, 600, 5000, 100_000])
def test_very_long_names_are_rejected_and_the_message_stays_short(length):
    name = f"PAN001/14d3bd/{SEQ}/" + "2" * (length - len(f"PAN001/14d3bd/{SEQ}/") - 5) + ".fits"
    assert len(name) == length
    with pytest.raises(InvalidPathError, match="over 512 characters") as info:
        ImagePath.parse(name)
    assert len(str(info.value)) < 200
    assert len(info.value.name) < 100


def test_long_names_at_the_limit_go_through_the_normal_checks():
    name = f"PAN001/{'F' * 64}/14d3bd/{SEQ}/{IMG}.fits"
    assert len(name) <= 512
    assert ImagePath.parse(name).field_name == "F" * 64


@pytest.mark.parametrize("name", [None, b"PAN001/14d3bd/20180216T110623/20180216T112430.fits", 42])
def test_non_string_names_are_rejected(name):
    with pytest.raises(InvalidPathError, match="empty"):
        ImagePath.parse(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "unit",
    ["PAN\u0661\u0662\u0663", "PAN\uff10\uff10\uff11", "PAN\u09e6\u09e6\u09e7"],
    ids=["arabic-indic", "fullwidth", "bengali"],
)
def test_unit_id_accepts_only_ascii_digits(unit):
    with pytest.raises(InvalidPathError, match="unit id"):
        ImagePath.parse(f"{unit}/14d3bd/{SEQ}/{IMG}.fits")


@pytest.mark.parametrize(
    "text",
    ["\u0662\u0660\u0661\u0668\u0660\u0662\u0661\u0666T110623", "２０１８０２１６T110623"],
    ids=["arabic-indic", "fullwidth"],
)
def test_times_with_non_ascii_digits_are_rejected(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)
    with pytest.raises(InvalidPathError, match="sequence start"):
        ImagePath.parse(f"PAN001/14d3bd/{text}/{IMG}.fits")


# --------------------------------------------------------------------------------------
# parse_timestamp / format_timestamp
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20180216T110623", datetime(2018, 2, 16, 11, 6, 23, tzinfo=UTC)),
        ("20000101T000000", datetime(2000, 1, 1, tzinfo=UTC)),
        ("20200229T235959", datetime(2020, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("19991231T235959", datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("20991231T120000", datetime(2099, 12, 31, 12, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text, expected):
    moment = parse_timestamp(text)
    assert moment == expected
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)
    assert format_timestamp(moment) == text


@pytest.mark.parametrize(
    "text",
    [
        "20181316T110623",
        "20180230T110623",
        "20180216T246023",
        "20180216T116023",
        "20180216T110660",
        "20180216 110623",
        "20180216T11:06:23",
        "2018-02-16T11:06:23",
        "20180216T110623Z",
        "20180216t110623",
        "",
        " 20180216T110623",
        "20180216T110623\n",
    ],
)
def test_parse_timestamp_rejects(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_round_trip_over_a_span_of_moments():
    start = datetime(2015, 12, 31, 23, 59, 59, tzinfo=UTC)
    step = timedelta(days=37, hours=5, minutes=17, seconds=13)
    for i in range(200):
        moment = start + i * step
        text = format_timestamp(moment)
        assert len(text) == 15 and text[8] == "T"
        assert parse_timestamp(text) == moment
        assert format_timestamp(parse_timestamp(text)) == text


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # aware, non-UTC zones are converted to UTC
        (datetime(2018, 2, 16, 12, 6, 23, tzinfo=timezone(timedelta(hours=1))), SEQ),
        (datetime(2018, 2, 16, 1, 6, 23, tzinfo=timezone(timedelta(hours=-10))), SEQ),
        (datetime(2018, 2, 17, 0, 36, 23, tzinfo=timezone(timedelta(hours=13, minutes=30))), SEQ),
        # a naive datetime is taken as UTC
        (datetime(2018, 2, 16, 11, 6, 23), SEQ),
        # sub-second parts are dropped, not rounded
        (datetime(2018, 2, 16, 11, 6, 23, 999_999, tzinfo=UTC), SEQ),
    ],
)
def test_format_timestamp(moment, expected):
    assert format_timestamp(moment) == expected


def test_format_then_parse_gives_the_same_instant_for_any_zone():
    zone = timezone(timedelta(hours=-7))
    moment = datetime(2019, 10, 21, 11, 18, 16, tzinfo=zone)
    back = parse_timestamp(format_timestamp(moment))
    assert back == moment
    assert back.tzinfo is not None and back.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------------------
# Real bucket paths from the network's records
# --------------------------------------------------------------------------------------


def test_real_bucket_paths_from_the_seed(panoptes_data):
    seed = json.loads((panoptes_data / "firestore-seed.json").read_text())
    checked = 0
    for doc_id, image in seed["images"].items():
        name = image.get("bucket_path") or image.get("file_path")
        assert name, doc_id
        stem = name.rsplit("/", 1)[-1].split(".", 1)[0]
        if stem.startswith("pointing"):
            # pointing frames (``pointing00.cr2``) are not named by time: outside the grammar
            with pytest.raises(InvalidPathError, match="image start"):
                ImagePath.parse(name)
            continue
        path = ImagePath.parse(name)
        checked += 1
        assert path.image_id == doc_id
        assert path.sequence_id == image["sequence_id"]
        assert path.object_name.count("/") == 3
        assert path.extension in EXTENSIONS
        if name.count("/") == 4:
            assert path.field_name == name.split("/")[1]
            assert path.object_name == name.replace(f"/{path.field_name}/", "/", 1)
        else:
            assert path.object_name == name
        observation = seed["observations"].get(path.sequence_id)
        if observation is not None and "time" in observation:
            seed_time = datetime.fromisoformat(observation["time"]).replace(tzinfo=UTC)
            assert path.sequence_time == seed_time
    assert checked >= 100


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("PAN001_14d3bd_20180216T110623", ("PAN001", "14d3bd", "20180216T110623")),
        ("PAN001_14d3bd_20181340T110623", ("PAN001", "14d3bd", "20181340T110623")),  # shape only
        ("PAN001_14D3BD_20180216T110623", None),
        ("PAN01_14d3bd_20180216T110623", None),
        ("PAN001_14d3bd_20180216", None),
        ("PAN001_14d3bd_20180216T110623_x", None),
        ("", None),
        (None, None),
    ],
)
def test_split_id_checks_the_shape_of_observation_and_image_ids(text, parts):
    assert split_id(text) == parts
