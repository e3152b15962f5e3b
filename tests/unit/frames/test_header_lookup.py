"""get-fits-header's answers for every kind of request."""

from __future__ import annotations

import io

import pytest
from astropy.io import fits

from panoptes_network.frames.compression import compress_frame
from panoptes_network.frames.header_lookup import lookup_header
from panoptes_network.pipeline.settings import Settings
from tests.unit.fakes import MemoryStore
from tests.unit.frame_files import unit_frame

S = Settings()
NAME = "PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz"


@pytest.fixture
def store() -> MemoryStore:
    memory = MemoryStore()
    big = unit_frame(shape=(1200, 1600))
    memory.put(S.images_bucket, NAME, compress_frame(big).data)
    memory.put(S.solved_bucket, "plain.fits", unit_frame())
    for private in (S.archive_bucket, S.quarantine_bucket, S.incoming_bucket):
        memory.put(private, NAME, compress_frame(big).data)
    memory.put(S.images_bucket, "notes.txt", b"hello" * 1000)
    return memory


def test_fz_header_is_the_image_header_read_with_few_bytes(store):
    status, body = lookup_header({"bucket_path": NAME}, store, S)
    assert status == 200
    header = body["header"]
    assert header["NAXIS1"] == 1600 and header["NAXIS2"] == 1200
    assert header["EXPTIME"] == 120.0 and isinstance(header["ISO"], int)
    assert header["FIELD"] == "Wasp 33"
    assert "ZIMAGE" not in header and "TTYPE1" not in header
    assert body["hdu"] == 1
    size = store.stat(S.images_bucket, NAME).size
    assert store.range_bytes == body["bytes_read"] < size / 20


def test_bucket_name_and_gs_uri_are_honoured(store):
    status, body = lookup_header(
        {"bucket_path": "plain.fits", "bucket_name": S.solved_bucket}, store, S
    )
    assert status == 200 and body["hdu"] == 0
    status, again = lookup_header({"bucket_path": f"gs://{S.solved_bucket}/plain.fits"}, store, S)
    assert status == 200 and again["header"] == body["header"]
    with fits.open(io.BytesIO(store.read(S.solved_bucket, "plain.fits"))) as hdus:
        assert body["header"]["MOONSEP"] == hdus[0].header["MOONSEP"]


@pytest.mark.parametrize(
    ("request_body", "status", "words"),
    [
        ([], 400, "JSON object"),
        ({}, 400, "bucket_path is required"),
        ({"bucket_path": 42}, 400, "bucket_path is required"),
        ({"bucket_path": "a/../b.fits"}, 400, "'..'"),
        ({"bucket_path": "x" * 2000}, 400, "1024"),
        ({"bucket_path": NAME, "bucket_name": "Bad Bucket!"}, 400, "not a valid bucket"),
        ({"bucket_path": NAME, "hdu": "1"}, 400, "hdu"),
        ({"bucket_path": "PAN001/missing.fits"}, 404, "does not exist"),
        ({"bucket_path": "notes.txt"}, 422, "not a readable FITS"),
        ({"bucket_path": NAME, "hdu": 5}, 422, "HDU 5 does not exist"),
        ({"bucket_path": "/etc/passwd"}, 400, "starts with /"),
        ({"bucket_path": "PAN001/a\x00b.fits"}, 400, "control character"),
        ({"bucket_path": "PAN001/a\nb.fits"}, 400, "control character"),
        ({"bucket_path": "PAN001\\..\\b.fits"}, 400, "backslash"),
    ],
)
def test_errors_answer_with_status_and_message(store, request_body, status, words):
    got, body = lookup_header(request_body, store, S)
    assert got == status
    assert words in body["error"]


@pytest.mark.parametrize("private", ["archive_bucket", "quarantine_bucket", "incoming_bucket"])
def test_private_buckets_are_never_read_and_say_nothing_of_what_exists(store, private):
    bucket = getattr(S, private)
    before = store.range_bytes
    there = lookup_header({"bucket_path": NAME, "bucket_name": bucket}, store, S)
    absent = lookup_header({"bucket_path": "PAN001/none.fits", "bucket_name": bucket}, store, S)
    assert there[0] == absent[0] == 403
    assert there[1]["error"].replace(NAME, "") == absent[1]["error"].replace("PAN001/none.fits", "")
    uri = lookup_header({"bucket_path": f"gs://{bucket}/{NAME}"}, store, S)
    assert uri[0] == 403 and store.range_bytes == before
