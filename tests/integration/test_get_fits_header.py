"""get-fits-header over HTTP on the local stack, against astropy on the same files."""

from __future__ import annotations

import pytest
import requests
from astropy.io import fits

pytestmark = pytest.mark.integration

FZ = "PAN000/0f0f0f/20160909T081152/20160909T081434.fits.fz"
PLAIN = "PAN000/0f0f0f/20160909T081152/20160909T081226.fits"


@pytest.fixture(scope="module")
def stored(stack, panoptes_data):
    images = stack.settings.images_bucket
    stack.upload(FZ, (panoptes_data / "solved.fits.fz").read_bytes(), bucket=images)
    stack.upload(PLAIN, (panoptes_data / "tiny.fits").read_bytes(), bucket=images)
    stack.upload("PAN000/notes.fits", b"these are words, not FITS\n" * 200, bucket=images)
    return stack


def post(stack, body, **kwargs):
    return requests.post(stack.url("get-fits-header"), json=body, timeout=30, **kwargs)


@pytest.mark.parametrize(
    ("name", "fixture", "hdu"), [(FZ, "solved.fits.fz", 1), (PLAIN, "tiny.fits", 0)]
)
def test_header_matches_astropy_and_reads_little(stored, panoptes_data, name, fixture, hdu):
    response = post(stored, {"bucket_path": name})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.json()
    with fits.open(panoptes_data / fixture) as hdus:
        reference = hdus[hdu].header
        for key in reference:
            if key in ("COMMENT", "HISTORY", ""):
                continue
            assert body["header"][key] == reference[key], key
            assert type(body["header"][key]) is type(reference[key]), key
    assert body["hdu"] == hdu
    # A few header blocks (the .fz header has 363 cards), never the pixels.
    assert body["bytes_read"] <= (16 if hdu else 4) * 2880
    assert body["bytes_read"] < (panoptes_data / fixture).stat().st_size / 5


def test_bucket_name_is_honoured(stored):
    response = post(stored, {"bucket_path": PLAIN, "bucket_name": stored.settings.images_bucket})
    assert response.status_code == 200 and response.json()["header"]["FIELD"] == "KIC 8462852"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"bucket_path": ""}, 400),
        ({"bucket_path": "a/../b.fits"}, 400),
        ({"bucket_path": PLAIN, "bucket_name": "UPPER case"}, 400),
        ({"bucket_path": "PAN000/none.fits"}, 404),
        ({"bucket_path": "PAN000/notes.fits"}, 422),
    ],
)
def test_errors_are_json_with_a_message(stored, body, status):
    response = post(stored, body)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]


def test_bad_methods_bodies_and_huge_requests(stored):
    url = stored.url("get-fits-header")
    assert requests.get(url, timeout=10).status_code == 405
    not_json = requests.post(
        url, data=b"{nope", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert not_json.status_code == 400 and "JSON" in not_json.json()["error"]
    huge = requests.post(url, json={"bucket_path": "x" * 100_000}, timeout=10)
    assert huge.status_code == 413 and huge.json()["error"]
    assert requests.options(url, timeout=10).status_code == 204
    # ... and it still answers.
    assert post(stored, {"bucket_path": PLAIN}).status_code == 200
