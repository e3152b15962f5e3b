"""The ingest chain end to end on the emulators: upload, notification, push, documents."""

from __future__ import annotations

import dataclasses
import io
import json
import secrets
import socket
from datetime import datetime

import numpy as np
import pytest
import requests
from astropy.io import fits
from google.cloud.firestore import GeoPoint

from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration


def images_of(stack, sequence_id: str) -> list:
    from google.cloud.firestore_v1.base_query import FieldFilter

    query = stack.firestore.collection("images").where(
        filter=FieldFilter("sequence_id", "==", sequence_id)
    )
    return list(query.stream())


def test_fixture_frames_become_documents(stack, unit_ids, panoptes_data):
    unit, camera = unit_ids
    seq = "20160909T081152"
    uploads = {
        "20160909T081226.fits": panoptes_data / "tiny.fits",
        "20160909T081300.fits": panoptes_data / "unsolved.fits",
        "20160909T081434.fits.fz": panoptes_data / "solved.fits.fz",
    }
    for filename, source in uploads.items():
        stack.upload(f"{unit}/{camera}/{seq}/{filename}", source.read_bytes())
    sequence_id = f"{unit}_{camera}_{seq}"
    docs = wait_for(
        "3 image docs",
        lambda: len(images_of(stack, sequence_id)) == 3 and images_of(stack, sequence_id),
    )
    exptimes = []
    for snap in docs:
        image = snap.to_dict()
        start = snap.id.rsplit("_", 1)[1]
        source = next(p for f, p in uploads.items() if f.startswith(start))
        with fits.open(source) as hdus:
            header = hdus[1].header if source.name.endswith(".fz") else hdus[0].header
            pixels = hdus[1].data if source.name.endswith(".fz") else hdus[0].data
        exptimes.append(header["EXPTIME"])
        # plate-solve runs right after record-image and may already have finished.
        assert image["status"] in ("uploaded", "solved", "solve_error")
        assert image["solved"] is (image["status"] == "solved")
        assert isinstance(image["time"], datetime) and image["time"].tzinfo is not None
        assert image["time"].strftime("%Y-%m-%dT%H:%M:%S") == header["DATE-OBS"]
        assert isinstance(image["received_time"], datetime)
        for field, card in [
            ("airmass", "AIRMASS"),
            ("ra_mnt", "RA-MNT"),
            ("dec_mnt", "DEC-MNT"),
            ("ha_mnt", "HA-MNT"),
            ("moonfrac", "MOONFRAC"),
            ("moonsep", "MOONSEP"),
            ("exptime", "EXPTIME"),
        ]:
            assert image[field] == pytest.approx(header[card])
        name = f"{unit}/{camera}/{seq}/{start}.fits.fz"
        assert image["bucket_path"] == name
        public = requests.get(image["public_url"], timeout=10)
        assert public.status_code == 200
        with fits.open(io.BytesIO(public.content)) as stored:
            np.testing.assert_array_equal(stored[1].data, pixels)
            assert stored[1].header["FIELD"] == header["FIELD"]
    observation = stack.doc("observations", sequence_id)
    assert observation["num_images"] == 3
    assert observation["total_minutes_exptime"] == pytest.approx(sum(exptimes) / 60)
    # Null until plate-solve (running in the stack) solves the first frame; then its centre.
    if observation["ra"] is not None:
        assert observation["ra"] == pytest.approx(303.21, abs=1.0)
        assert observation["dec"] == pytest.approx(46.02, abs=1.0)
    assert observation["field_name"] == "KIC 8462852"
    assert observation["camera_filter"] == "RGGB" and observation["iso"] == 100
    assert isinstance(observation["time"], datetime)
    unit_doc = stack.doc("units", unit)
    assert unit_doc["num_images"] == 3 and unit_doc["num_observations"] == 1
    assert isinstance(unit_doc["location"], GeoPoint)
    assert unit_doc["location"].latitude == pytest.approx(19.54)
    assert unit_doc["elevation"] == pytest.approx(3400.0)
    # Every upload was archived untouched, once, and left the incoming bucket; its ledger
    # record followed it to "recorded".
    for filename, source in uploads.items():
        name = f"{unit}/{camera}/{seq}/{filename}"
        (record,) = wait_for(f"{name} to settle", lambda n=name: stack.settled(n))
        assert record["state"] == "recorded", record
        (archived,) = stack.versions(stack.settings.archive_bucket, name)
        assert archived.name == f"{name}@{record['generation']}"
        assert archived.download_as_bytes() == source.read_bytes()
        assert stack.blob(stack.settings.incoming_bucket, name) is None
    # Every frame gets a JPEG preview from plate-solve, rendered from its FITS (no raw file
    # came), under its image id's name in the preview bucket.
    for filename in uploads:
        start = filename.split(".", 1)[0]
        image_id = f"{unit}_{camera}_{start}"

        def previewed(i=image_id):
            doc = stack.doc("images", i)
            done = doc and (doc.get("preview_url") or doc.get("preview_error_reason"))
            return doc if done else None

        doc = wait_for(f"the preview of {image_id}", previewed, 120)
        assert doc["preview_source"] == "fits" and doc.get("preview_error_reason") is None
        assert doc["preview_path"] == f"{unit}/{camera}/{seq}/{start}.jpg"
        blob = stack.blob(stack.settings.preview_bucket, doc["preview_path"])
        assert blob is not None and blob.metadata["preview_source"] == "fits"
        answer = requests.get(doc["preview_url"], timeout=10)
        assert answer.status_code == 200 and answer.content[:2] == b"\xff\xd8"  # a JPEG


def test_redelivery_and_second_upload_keep_counters_exact(stack, unit_ids, panoptes_data):
    unit, camera = unit_ids
    seq = "20160909T081152"
    name = f"{unit}/{camera}/{seq}/20160909T081226.fits"
    data = (panoptes_data / "tiny.fits").read_bytes()
    stack.upload(name, data)
    image_id = f"{unit}_{camera}_20160909T081226"
    wait_for("the image doc", lambda: stack.doc("images", image_id))
    observation_id = f"{unit}_{camera}_{seq}"
    before = (stack.doc("observations", observation_id), stack.doc("units", unit))

    def recorded_time():
        return stack.doc("images", image_id)["recorded_time"]  # set by record-image only

    def refreshed_after(moment):
        return lambda: recorded_time() > moment

    # The same record-image message, delivered twice.
    message = json.dumps({"bucket": stack.settings.images_bucket, "name": name + ".fz"}).encode()
    moment = recorded_time()
    stack.publish("record-image", message)
    stack.publish("record-image", message)
    wait_for("the redelivered message to be handled", refreshed_after(moment))
    # The same file, uploaded twice more.
    for _ in range(2):
        moment = recorded_time()
        stack.upload(name, data)
        wait_for("the re-upload to be recorded", refreshed_after(moment))
    records = wait_for("the last deliveries to settle", lambda: stack.settled(name, 3))
    assert len(stack.versions(stack.settings.archive_bucket, name)) == 3
    assert {r["state"] for r in records} <= {"recorded", "superseded"}
    after = (stack.doc("observations", observation_id), stack.doc("units", unit))
    for doc_before, doc_after in zip(before, after, strict=True):
        for counter in ("num_images", "num_observations", "total_minutes_exptime"):
            assert doc_after.get(counter) == doc_before.get(counter), counter
    assert after[0]["num_images"] == 1 and after[1]["num_images"] == 1


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


BAD_INPUTS = [
    ("noheader", "{u}/{c}/20160909T081152/20160909T081226.fits", "noheader.fits", "EXPTIME"),
    ("zero bytes", "{u}/{c}/20160909T081152/20160909T081227.fits", b"", "empty"),
    (
        "truncated",
        "{u}/{c}/20160909T081152/20160909T081228.fits",
        ("tiny.fits", _truncated),
        "truncated",
    ),
    (
        "text as fits",
        "{u}/{c}/20160909T081152/20160909T081229.fits",
        b"just some words\n" * 300,
        "not a readable FITS",
    ),
    ("invalid path", "{u}/{c}/20160909T081230.fits", "tiny.fits", "4 parts"),
    ("dot dot", "{u}/{c}/../20160909T081152/20160909T081231.fits", "tiny.fits", "'..'"),
    (
        "unknown extension",
        "{u}/{c}/20160909T081152/20160909T081232.fits.gz",
        "tiny.fits",
        "unknown extension",
    ),
]


def test_bad_input_is_quarantined_with_its_reason_and_kept(stack, unit_ids, panoptes_data):
    unit, camera = unit_ids
    expected = {}
    for _, pattern, content, reason in BAD_INPUTS:
        name = pattern.format(u=unit, c=camera)
        if isinstance(content, tuple):
            data = content[1]((panoptes_data / content[0]).read_bytes())
        elif isinstance(content, str):
            data = (panoptes_data / content).read_bytes()
        else:
            data = content
        stack.upload(name, data)
        expected[name] = (data, reason)
    quarantine = stack.settings.quarantine_bucket
    for name, (data, reason) in expected.items():
        (record,) = wait_for(f"{name} to settle", lambda n=name: stack.settled(n))
        assert record["state"] == "quarantined" and reason in record["reason"], record
        (blob,) = stack.versions(quarantine, name)
        assert reason in blob.metadata["reason"], (name, blob.metadata)
        assert blob.metadata["source"].endswith(f"{name}@{record['generation']}")
        assert blob.download_as_bytes() == data
        (archived,) = stack.versions(stack.settings.archive_bucket, name)
        assert archived.download_as_bytes() == data
    assert stack.doc("units", unit) is None, "a rejected upload must not move counters"
    assert stack.services_answer()
    # ... and the chain still works for good input.
    good = f"{unit}/{camera}/20160909T081152/20160909T081300.fits"
    stack.upload(good, (panoptes_data / "tiny.fits").read_bytes())
    wait_for(
        "a good upload after the bad ones",
        lambda: stack.doc("images", f"{unit}_{camera}_20160909T081300"),
    )


def test_undeliverable_message_ends_in_dead_letter(stack):
    """A subscription built by infra/apply.py from a push entry gives up after its limit."""
    from infra.apply import _subscription_request
    from infra.spec import load

    entry = next(s for s in load().subscriptions if s.name == "record-image")
    topic = "dead-letter-probe-" + secrets.token_hex(4)
    stack.publisher.create_topic(name=stack.publisher.topic_path(stack.config.project, topic))
    with socket.socket() as sock:  # a port where nothing listens: every push fails
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    probe = dataclasses.replace(entry, name=topic, topic=topic)
    request = _subscription_request(
        probe, stack.config.project, lambda service: f"http://127.0.0.1:{closed_port}/"
    )
    stack.subscriber.create_subscription(request=request)
    marker = secrets.token_hex(8)
    stack.publish(topic, json.dumps({"probe": marker}).encode())
    path = stack.subscriber.subscription_path(stack.config.project, "dead-letter")

    def arrived():
        response = stack.subscriber.pull(subscription=path, max_messages=50, timeout=5)
        found = None
        for received in response.received_messages:
            if marker.encode() in received.message.data:
                found = received
                stack.subscriber.acknowledge(subscription=path, ack_ids=[received.ack_id])
        return found

    received = wait_for("the message on the dead-letter topic", arrived, timeout=120, every=1)
    attributes = received.message.attributes
    assert attributes["CloudPubSubDeadLetterSourceSubscription"] == topic
    assert (
        int(attributes["CloudPubSubDeadLetterSourceDeliveryCount"]) == entry.max_delivery_attempts
    )
    stack.subscriber.delete_subscription(subscription=request["name"])


def test_a_frame_of_an_unregistered_camera_waits_until_bin_cameras_registers_it(
    stack, unit_ids, panoptes_data
):
    import subprocess
    import sys

    unit, camera = unit_ids
    stack.firestore.collection("cameras").document(camera).delete()  # a camera never seen
    image_id = f"{unit}_{camera}_20160909T081300"
    stack.upload(
        f"{unit}/{camera}/20160909T081152/20160909T081300.fits",
        (panoptes_data / "tiny.fits").read_bytes(),
    )

    def waiting():
        doc = stack.doc("images", image_id)
        return doc if doc and doc.get("status") == "calibration_error" else None

    doc = wait_for("the frame to wait for its camera", waiting)
    assert f"cameras/{camera}" in doc["calibration_error_reason"]
    assert doc["missing_camera_constant"] == "bias_adu" and doc["due_time"] is None
    assert stack.blob(stack.settings.images_bucket, doc["bucket_path"]) is not None  # kept

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "panoptes_network.cli.cameras",
            "set",
            camera,
            "--source",
            "integration test",
            "--bias",
            "2048",
            "--gain",
            "1.5",
            "--read-noise",
            "10.5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "sent on: 1 to record-image" in done.stdout, done.stdout

    def moved_on():
        doc = stack.doc("images", image_id)
        return doc if doc and doc.get("status") not in ("calibration_error", None) else None

    doc = wait_for("the frame to be recorded and sent on", moved_on, 120)
    assert doc["calibration_error_reason"] is None
    assert doc["camera_constants"]["bias_adu"]["source"] == "registry"
    assert doc["camera_constants"]["saturation_adu"]["source"] == "header"
