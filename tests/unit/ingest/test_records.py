"""Unit tests for panoptes_network.ingest.records, checked against astropy and the real seed
records."""

from __future__ import annotations

import io
import json
import math
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import FitsHeader, HeaderCard, read_header_from_bytes
from panoptes_network.frames.header_values import header_value, parse_date_obs
from panoptes_network.ingest.records import FrameRecords, build_frame_records
from panoptes_network.pipeline.ports import GeoPoint
from panoptes_network.pipeline.schema import ImageStatus, ObservationStatus

UTC = timezone.utc
# tiny.fits: SEQID PAN001_XXXXXX_20160909T081152, FILENAME 20160909T081314.cr2 (the path's
# image start); DATE-OBS 2016-09-09T08:12:26 differs from it on purpose.
OBJECT = "PAN001/14d3bd/20160909T081152/20160909T081314.fits.fz"
PUBLIC_URL = f"https://storage.googleapis.com/panoptes-images/{OBJECT}"
RECEIVED = datetime(2020, 1, 8, 6, 0, 0, 123000, tzinfo=UTC)

IMAGE_CORE = {
    "ha_mnt",
    "ra_mnt",
    "dec_mnt",
    "ra_image",
    "dec_image",
    "exptime",
    "moonfrac",
    "moonsep",
    "airmass",
    "bucket_path",
    "sequence_id",
    "status",
    "time",
    "public_url",
    "solved",
}
OBSERVATION_CORE = {
    "unit_id",
    "camera_id",
    "software_version",
    "ra",
    "dec",
    "exptime",
    "status",
    "time",
    "received_time",
}
UNIT_CORE = {"name", "elevation", "location", "status"}


def header_of(cards: dict) -> FitsHeader:
    return FitsHeader([HeaderCard(k, v) for k, v in cards.items()])


def build(path: ImagePath, header: FitsHeader) -> FrameRecords:
    return build_frame_records(
        path, header, bucket_path=path.object_name, public_url=PUBLIC_URL, received_time=RECEIVED
    )


@pytest.fixture(scope="module")
def tiny(panoptes_data):
    raw = (panoptes_data / "tiny.fits").read_bytes()
    with fits.open(io.BytesIO(raw)) as hdul:
        reference = hdul[0].header.copy()
    return raw, read_header_from_bytes(raw), reference


@pytest.fixture(scope="module")
def records(tiny) -> FrameRecords:
    _, header, _ = tiny
    return build(ImagePath.parse(OBJECT), header)


@pytest.fixture(scope="module")
def seed(panoptes_data) -> dict:
    return json.loads((panoptes_data / "firestore-seed.json").read_text())


def assert_utc(moment) -> None:
    assert isinstance(moment, datetime)
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)


# --------------------------------------------------------------------------------------
# header_value
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        # absent / undefined / empty strings
        (None, None, None),
        (None, float, None),
        ("", None, None),
        ("", str, None),
        ("   ", None, None),
        ("   ", str, None),
        ("\t ", float, None),
        # strings are stripped
        ("  RGGB  ", None, "RGGB"),
        ("  RGGB  ", str, "RGGB"),
        # numbers
        (120.4, float, 120.4),
        (120, float, 120.0),
        (100, int, 100),
        (100.0, int, 100),
        (100.5, int, None),
        (-3, float, -3.0),
        (0, float, 0.0),
        # numeric strings convert; others do not
        ("1.5", float, 1.5),
        (" 2.5e3 ", float, 2500.0),
        ("100", int, 100),
        ("100.5", int, None),
        ("11 C", float, None),
        ("abc", int, None),
        # a bool is not a number
        (True, float, None),
        (False, int, None),
        (True, None, True),
        # str of a number
        (100, str, "100"),
        (2.5, str, "2.5"),
        # complex is not a real number
        (complex(1, 2), float, None),
    ],
)
def test_header_value(value, kind, expected):
    header = header_of({"KEY": value})
    got = header_value(header, "KEY", kind)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity"])
def test_header_value_non_finite_strings_are_not_numbers(text):
    assert header_value(header_of({"KEY": text}), "KEY", float) is None


def test_header_value_absent_and_case():
    header = header_of({"EXPTIME": 120.4})
    assert header_value(header, "NOPE") is None
    assert header_value(header, "NOPE", float) is None
    assert header_value(header, "exptime", float) == 120.4


def test_header_value_on_tiny(tiny):
    _, header, reference = tiny
    assert header_value(header, "WBRGGB") is None  # WBRGGB = '' in tiny.fits
    assert reference["WBRGGB"] == ""
    assert header_value(header, "CAMTEMP", float) is None  # '11 C' is not a number
    assert header_value(header, "CAMTEMP", str) == reference["CAMTEMP"].strip()
    assert header_value(header, "EXPTIME", float) == reference["EXPTIME"]
    assert header_value(header, "ISO", int) == reference["ISO"]


# --------------------------------------------------------------------------------------
# parse_date_obs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2016-09-09T08:12:26",
        "2016-09-09T08:12:26.5",
        "2016-09-09T08:12:26.123",
        "2016-09-09T08:12:26.123456",
        "2016-09-09T08:12:26Z",
        "  2016-09-09T08:12:26  ",
        "2020-02-29T23:59:59",
    ],
)
def test_parse_date_obs_against_astropy_time(text):
    moment = parse_date_obs(text)
    assert_utc(moment)
    reference = Time(text.strip().rstrip("Z"), format="isot", scale="utc").to_datetime(timezone=UTC)
    assert abs((moment - reference).total_seconds()) < 1e-6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-09-09T10:12:26+02:00", datetime(2016, 9, 9, 8, 12, 26, tzinfo=UTC)),
        ("2016-09-08T22:12:26-10:00", datetime(2016, 9, 9, 8, 12, 26, tzinfo=UTC)),
        ("2016-09-09", datetime(2016, 9, 9, tzinfo=UTC)),
    ],
)
def test_parse_date_obs_offsets_and_dates(text, expected):
    moment = parse_date_obs(text)
    assert_utc(moment)
    assert moment == expected


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "yesterday", "09/09/16", "2016-13-01T00:00:00", 2016, 20160909.5, True],
)
def test_parse_date_obs_rejects(value):
    assert parse_date_obs(value) is None


# --------------------------------------------------------------------------------------
# build_frame_records from tiny.fits
# --------------------------------------------------------------------------------------


def test_ids(records):
    assert records.unit_id == "PAN001"
    assert records.sequence_id == "PAN001_14d3bd_20160909T081152"
    assert records.image_id == "PAN001_14d3bd_20160909T081314"


def test_unit_fields(records, tiny):
    _, _, reference = tiny
    unit = records.unit
    assert UNIT_CORE <= set(unit)
    assert unit["name"] == "PAN001"
    assert unit["status"] == "active"
    assert type(unit["elevation"]) is float
    assert unit["elevation"] == float(reference["ELEV-OBS"])
    location = unit["location"]
    assert isinstance(location, GeoPoint)
    assert type(location.latitude) is float and type(location.longitude) is float
    assert location.latitude == pytest.approx(reference["LAT-OBS"], abs=1e-12)
    assert location.longitude == pytest.approx(reference["LONG-OBS"], abs=1e-12)
    assert -90 <= location.latitude <= 90 and -180 <= location.longitude <= 180


def test_observation_fields(records, tiny):
    _, _, reference = tiny
    obs = records.observation
    assert OBSERVATION_CORE <= set(obs)
    assert obs["unit_id"] == "PAN001"
    assert obs["camera_id"] == "14d3bd"
    assert obs["sequence_id"] == records.sequence_id
    assert_utc(obs["time"])
    assert obs["time"] == datetime(2016, 9, 9, 8, 11, 52, tzinfo=UTC)
    assert obs["received_time"] == RECEIVED
    assert_utc(obs["received_time"])
    assert obs["status"] == "receiving_files" == ObservationStatus.RECEIVING_FILES
    assert type(obs["exptime"]) is float and obs["exptime"] == reference["EXPTIME"]
    assert obs["ra"] is None and obs["dec"] is None
    assert obs["software_version"] == reference["CREATOR"]
    assert obs["field_name"] == reference["FIELD"]
    assert obs["camera_filter"] == reference["FILTER"].strip()
    assert type(obs["iso"]) is int and obs["iso"] == reference["ISO"]


def test_image_fields(records, tiny):
    _, _, reference = tiny
    image = records.image
    assert IMAGE_CORE <= set(image)
    assert image["unit_id"] == "PAN001"
    assert image["camera_id"] == "14d3bd"
    assert image["sequence_id"] == records.sequence_id
    assert image["bucket_path"] == OBJECT
    assert image["public_url"] == PUBLIC_URL
    assert image["status"] == "uploaded" == ImageStatus.UPLOADED
    assert image["solved"] is False
    assert image["ra_image"] is None and image["dec_image"] is None
    assert image["received_time"] == RECEIVED
    # the exposure's time comes from DATE-OBS (not from the path's image start)
    assert_utc(image["time"])
    expected = Time(reference["DATE-OBS"], format="isot", scale="utc").to_datetime(timezone=UTC)
    assert image["time"] == expected
    assert image["time"] != ImagePath.parse(OBJECT).image_time
    for field, card in [
        ("exptime", "EXPTIME"),
        ("ra_mnt", "RA-MNT"),
        ("dec_mnt", "DEC-MNT"),
        ("ha_mnt", "HA-MNT"),
        ("airmass", "AIRMASS"),
        ("moonfrac", "MOONFRAC"),
        ("moonsep", "MOONSEP"),
    ]:
        assert type(image[field]) is float, field
        assert image[field] == reference[card], field


def test_minutes_exptime(records, tiny):
    _, _, reference = tiny
    assert type(records.minutes_exptime) is float
    assert records.minutes_exptime == pytest.approx(reference["EXPTIME"] / 60, rel=1e-12)


ALLOWED_TYPES = (type(None), bool, int, float, str, datetime, GeoPoint)


def test_every_field_is_a_plain_storable_value(records):
    for name, doc in (("unit", records.unit), ("observation", records.observation)):
        for key, value in doc.items():
            if key == "sky_cells":  # the sky index: a list of plain ints
                assert value and all(type(cell) is int for cell in value), value
                continue
            assert type(value) in ALLOWED_TYPES, (name, key, type(value))
    for key, value in records.image.items():
        assert type(value) in ALLOWED_TYPES, ("image", key, type(value))
        # no numpy scalars, no NaN sneaking in from the header
        if isinstance(value, float):
            assert math.isfinite(value), key
        if isinstance(value, datetime):
            assert_utc(value)
        assert not isinstance(value, date) or isinstance(value, datetime)
    for doc in (records.unit, records.observation, records.image):
        for value in doc.values():
            if isinstance(value, datetime):
                assert_utc(value)


def test_records_do_not_share_mutable_state(tiny):
    _, header, _ = tiny
    a = build(ImagePath.parse(OBJECT), header)
    b = build(ImagePath.parse(OBJECT), header)
    a.image["status"] = "changed"
    assert b.image["status"] == "uploaded"


# --------------------------------------------------------------------------------------
# Empty and unusual header values
# --------------------------------------------------------------------------------------


def _rewritten_tiny(tiny, **cards) -> FitsHeader:
    raw, _, reference = tiny
    with fits.open(io.BytesIO(raw)) as hdul:
        header = hdul[0].header.copy()
        data = hdul[0].data.copy()
    for key, value in cards.items():
        header[key] = value
    out = io.BytesIO()
    fits.PrimaryHDU(data, header=header).writeto(out)
    return read_header_from_bytes(out.getvalue())


def test_empty_string_header_values_become_none(tiny):
    header = _rewritten_tiny(tiny, FIELD="", CREATOR="   ", FILTER="")
    assert header["FIELD"] == "" and header["CREATOR"] == ""
    recs = build(ImagePath.parse(OBJECT), header)
    assert recs.observation["field_name"] is None
    assert recs.observation["software_version"] is None
    assert recs.observation["camera_filter"] is None


def test_blank_values_become_none_even_if_not_rstripped():
    # a header object holding untrimmed blanks (as another reader might give)
    header = header_of(
        {"NAXIS": 2, "EXPTIME": 60.0, "FIELD": "", "CREATOR": "   ", "FILTER": " ", "ISO": ""}
    )
    recs = build(ImagePath.parse(OBJECT), header)
    for key in ("field_name", "software_version", "camera_filter", "iso"):
        assert recs.observation[key] is None, key


def test_legacy_field_name_fills_an_empty_field(tiny):
    header = _rewritten_tiny(tiny, FIELD="")
    path = ImagePath.parse("PAN001/Wasp33/14d3bd/20160909T081152/20160909T081314.fits")
    recs = build(path, header)
    assert recs.observation["field_name"] == "Wasp33"
    # but the header's FIELD wins when it has one
    full = build(path, _rewritten_tiny(tiny))
    assert full.observation["field_name"] == "KIC 8462852"


def test_missing_and_unreadable_values(tiny):
    header = _rewritten_tiny(
        tiny, AIRMASS="", MOONSEP="n/a", **{"DATE-OBS": "not a date", "LAT-OBS": ""}
    )
    recs = build(ImagePath.parse(OBJECT), header)
    assert recs.image["airmass"] is None
    assert recs.image["moonsep"] is None
    # no DATE-OBS: the exposure time falls back to the path's image start
    assert recs.image["time"] == datetime(2016, 9, 9, 8, 13, 14, tzinfo=UTC)
    assert_utc(recs.image["time"])
    assert recs.unit["location"] is None


def test_minimal_header():
    recs = build(ImagePath.parse(OBJECT), header_of({"NAXIS": 2, "EXPTIME": 30}))
    assert recs.observation["exptime"] == 30.0 and type(recs.observation["exptime"]) is float
    assert recs.minutes_exptime == pytest.approx(0.5)
    assert recs.unit["location"] is None and recs.unit["elevation"] is None
    for key in ("ra_mnt", "dec_mnt", "ha_mnt", "airmass", "moonfrac", "moonsep"):
        assert recs.image[key] is None
    assert recs.image["time"] == ImagePath.parse(OBJECT).image_time


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (19.54, -155.58, (19.54, -155.58)),
        (19.54, 204.42, (19.54, 204.42 - 360)),  # east longitude beyond 180 wraps
        (-33.0, 180.0, (-33.0, 180.0)),
        (90.0, 0.0, (90.0, 0.0)),
        (91.0, 0.0, None),
        (-91.0, 0.0, None),
        (10.0, -181.0, None),
        (10.0, 361.0, None),
        ("19.54", "-155.58", (19.54, -155.58)),
        ("", -155.58, None),
        (19.54, None, None),
    ],
)
def test_location(lat, lon, expected):
    cards = {"NAXIS": 2, "EXPTIME": 30.0}
    if lat is not None:
        cards["LAT-OBS"] = lat
    if lon is not None:
        cards["LONG-OBS"] = lon
    location = build(ImagePath.parse(OBJECT), header_of(cards)).unit["location"]
    if expected is None:
        assert location is None
    else:
        assert isinstance(location, GeoPoint)
        assert (location.latitude, location.longitude) == pytest.approx(expected, abs=1e-9)


def test_synthetic_unit_frame_end_to_end():
    header = fits.Header()
    header["EXPTIME"] = 90
    header["DATE-OBS"] = "2018-02-16T11:24:30.500"
    header["FIELD"] = "Wasp 33"
    header["ISO"] = 100
    header["RA-MNT"] = 40.5
    out = io.BytesIO()
    fits.PrimaryHDU(np.zeros((4, 4), dtype=np.uint16), header=header).writeto(out)
    parsed = read_header_from_bytes(out.getvalue())
    path = ImagePath.parse("PAN001/14d3bd/20180216T110623/20180216T112430.fits")
    recs = build(path, parsed)
    assert recs.image["exptime"] == 90.0 and type(recs.image["exptime"]) is float
    assert recs.image["time"] == datetime(2018, 2, 16, 11, 24, 30, 500000, tzinfo=UTC)
    assert recs.observation["field_name"] == "Wasp 33"
    assert recs.image["ra_mnt"] == 40.5
    assert recs.minutes_exptime == pytest.approx(1.5)


# --------------------------------------------------------------------------------------
# Field names and types against the real records in firestore-seed.json
# --------------------------------------------------------------------------------------


def _is_iso_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return "T" in text


def _seed_types(docs: dict) -> dict[str, set[str]]:
    """Field -> the kinds of value the seed holds: time, number, str, bool, null."""
    kinds: dict[str, set[str]] = {}
    for doc in docs.values():
        for key, value in doc.items():
            if value is None:
                kind = "null"
            elif isinstance(value, bool):
                kind = "bool"
            elif isinstance(value, (int, float)):
                kind = "number"
            elif isinstance(value, str):
                kind = "time" if _is_iso_time(value) else "str"
            else:
                kind = type(value).__name__
            kinds.setdefault(key, set()).add(kind)
    return kinds


def _kind_of_built(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, datetime):
        assert_utc(value)
        return "time"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


@pytest.mark.parametrize(
    ("collection", "attribute"),
    [("units", "unit"), ("observations", "observation"), ("images", "image")],
)
def test_types_match_the_seed(records, seed, collection, attribute):
    seed_kinds = _seed_types(seed[collection])
    built = getattr(records, attribute)
    shared = set(built) & set(seed_kinds)
    assert shared, f"no field in common with the seed's {collection}"
    for key in sorted(shared):
        kind = _kind_of_built(built[key])
        assert kind in seed_kinds[key], (collection, key, kind, seed_kinds[key])
        # a number the seed ever stores as a float must be written as a float
        if kind == "number" and any(
            isinstance(doc.get(key), float) for doc in seed[collection].values()
        ):
            assert type(built[key]) is float, (collection, key)


def test_seed_core_fields_are_written(records, seed):
    # the fields named here are real: the seed holds them (guards against typos above)
    seed_image_fields = set().union(*(d.keys() for d in seed["images"].values()))
    seed_obs_fields = set().union(*(d.keys() for d in seed["observations"].values()))
    seed_unit_fields = set().union(*(d.keys() for d in seed["units"].values()))
    assert IMAGE_CORE - {"public_url", "solved"} <= seed_image_fields
    assert OBSERVATION_CORE - {"received_time"} <= seed_obs_fields
    assert UNIT_CORE - {"location"} <= seed_unit_fields
    assert IMAGE_CORE <= set(records.image)
    assert OBSERVATION_CORE <= set(records.observation)
    assert UNIT_CORE <= set(records.unit)


def test_status_values_exist_in_the_seed(records, seed):
    def values(collection):
        return {d.get("status") for d in seed[collection].values()}

    assert records.image["status"] in values("images")
    assert records.observation["status"] in values("observations")
    assert records.unit["status"] in values("units")


def test_unit_matches_the_seed_record_of_the_same_unit(records, seed):
    # tiny.fits is a PAN001 frame; the seed's PAN001 unit has the same site
    real = seed["units"]["PAN001"]
    unit = records.unit
    assert unit["name"] == real["name"]
    assert unit["elevation"] == pytest.approx(real["elevation"], abs=1e-6)
    assert unit["location"].latitude == pytest.approx(real["latitude"], abs=1e-6)
    assert unit["location"].longitude == pytest.approx(real["longitude"], abs=1e-6)


def test_seed_ids_follow_the_same_shape(records, seed):
    # doc ids in the seed have the shape the builder produces
    some_image_id = next(iter(seed["images"]))
    some_sequence_id = next(iter(seed["observations"]))
    for built, real in ((records.image_id, some_image_id), (records.sequence_id, some_sequence_id)):
        assert [len(p) for p in built.split("_")] == [len(p) for p in real.split("_")]
