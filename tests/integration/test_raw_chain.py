"""Camera raw files on the emulators: upload a DNG, get the products, release its frame."""

from __future__ import annotations

import shutil

import pytest
import requests

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.raw.make_rgb_fits import product_names
from tests.integration.conftest import wait_for
from tests.unit.dng_files import EXIF_TAGS, dng_bytes

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("exiftool") is None,
        reason="exiftool is missing (Debian: apt-get install libimage-exiftool-perl)",
    ),
]


def test_a_raw_upload_gets_products_then_its_frame_enters_the_chain(stack, unit_ids):
    unit, camera = unit_ids
    name = f"{unit}/{camera}/20260301T040000/20260301T040230.dng"
    path = ImagePath.parse(name)
    stack.upload(name, dng_bytes(480, 640, exif=EXIF_TAGS))

    def products_recorded():
        doc = stack.doc("images", path.image_id)
        return doc if doc and doc.get("preview_url") else None

    doc = wait_for("the raw file's products on its image doc", products_recorded, 120)
    assert doc["status"] == "raw_received" and doc["raw_fits_pending"] is True
    names = product_names(path)
    s = stack.settings
    for bucket, key in (
        (s.rgb_bucket, "rgb"),
        (s.preview_bucket, "preview"),
        (s.raw_fits_bucket, "bayer"),
    ):
        assert stack.blob(bucket, names[key]) is not None, f"gs://{bucket}/{names[key]}"
    assert requests.get(doc["preview_url"], timeout=10).content[:2] == b"\xff\xd8"  # a JPEG
    (archived,) = stack.versions(s.archive_bucket, name)
    (record,) = wait_for("the raw upload's ledger record", lambda: stack.settled(name), 60)
    assert record["state"] == "recorded" and archived.name == f"{name}@{record['generation']}"
    assert stack.doc("units", unit) is None  # a placeholder moves no counter

    answer = requests.post(
        stack.url("raw-fits-requests"),
        json={"bucket_path": name},
        headers=stack.as_caller("raw-fits-requests"),
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    assert [r["image_id"] for r in answer.json()["released"]] == [path.image_id]

    def recorded():
        doc = stack.doc("images", path.image_id)
        return doc if doc and doc.get("status") not in ("raw_received", None) else None

    doc = wait_for("the converted frame recorded", recorded, 120)
    assert doc["converted_from_raw"] is True

    def past_plate_solve():
        doc = stack.doc("images", path.image_id)
        after = ("solved", "solve_error", "measured", "measure_error")
        return doc if doc and doc.get("status") in after else None

    # plate-solve reads the converted frame too, and leaves the raw file's preview alone.
    doc = wait_for("plate-solve to act on the converted frame", past_plate_solve, 120)
    assert doc["preview_source"] == "raw" and doc["preview_path"] == names["preview"]
    assert stack.blob(s.preview_bucket, names["preview"]).metadata["preview_source"] != "fits"
    assert doc["raw_file"].endswith(archived.name)
    assert doc["rgb_url"] and doc["preview_url"]
    assert stack.blob(s.images_bucket, path.with_extension(".fits.fz").object_name) is not None
    assert stack.doc("units", unit)["num_images"] == 1
    again = requests.post(
        stack.url("raw-fits-requests"),
        json={"image_id": path.image_id},
        headers=stack.as_caller("raw-fits-requests"),
        timeout=30,
    )
    assert again.status_code == 200 and again.json()["released"] == []


def test_a_corrupt_raw_upload_is_quarantined_and_kept(stack, unit_ids):
    unit, camera = unit_ids
    name = f"{unit}/{camera}/20260301T040000/20260301T040500.cr2"
    stack.upload(name, b"II*\x00" + b"\x00" * 4000)
    s = stack.settings
    (record,) = wait_for("the corrupt raw file to settle", lambda: stack.settled(name), 120)
    assert record["state"] == "quarantined"
    (kept,) = stack.versions(s.quarantine_bucket, name)
    assert "cr2" in kept.metadata["reason"] or name in kept.metadata["reason"]
    assert kept.metadata["reason"] == record["reason"]
    (archived,) = stack.versions(s.archive_bucket, name)
    assert archived.download_as_bytes() == b"II*\x00" + b"\x00" * 4000
    assert stack.doc("images", ImagePath.parse(name).image_id) is None


def test_raw_fits_requests_answers_json_errors(stack):
    url = stack.url("raw-fits-requests")
    auth = stack.as_caller("raw-fits-requests")
    assert (
        requests.post(
            url, json={"image_id": "PAN999_abcdef_20260101T000000"}, headers=auth, timeout=10
        ).status_code
        == 404
    )
    assert (
        requests.post(url, json={"image_id": "nonsense"}, headers=auth, timeout=10).status_code
        == 400
    )
    assert requests.get(url, headers=auth, timeout=10).status_code == 405
    assert requests.post(url, json={"image_id": "nonsense"}, timeout=10).status_code == 401
    sweep = requests.post(url + "sweep", json={"wait_minutes": 30}, headers=auth, timeout=30)
    assert sweep.status_code in (200, 202) and "waiting" in sweep.json()
