"""Nothing lost, on the real stack: re-uploads, forged messages, bad pixels, redrive, outages.

Every test uses its own unit and camera, so counters are its own. The outage test stops
three services with SIGKILL through the stack's supervisor, keeps them down for
``OUTAGE_SECONDS`` and lets the supervisor bring them back; then it runs the reconciler once,
as its schedule would within five minutes, with the clock of that run set past every due time
(the services write due times 15 and 30 minutes ahead; a test cannot wait that long).
"""

from __future__ import annotations

import io
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from emulator.stack import start_service, stop_service
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

SEQ = "20160909T081152"
#: How long the outage test keeps its services down, in seconds (the issue's two minutes).
OUTAGE_SECONDS = 120
OUTAGE_SERVICES = ("compress-fits", "record-image", "plate-solve")


def _frame(panoptes_data: Path, **cards) -> bytes:
    with fits.open(panoptes_data / "tiny.fits") as hdus:
        for key, value in cards.items():
            hdus[0].header[key] = value
        out = io.BytesIO()
        hdus.writeto(out)
    return out.getvalue()


def _fz(panoptes_data: Path) -> bytes:
    with fits.open(panoptes_data / "tiny.fits") as hdus:
        out = io.BytesIO()
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(hdus[0].data, hdus[0].header)]).writeto(
            out, checksum=True
        )  # DATASUM and CHECKSUM, as fpack writes them
    return out.getvalue()


def _logged(stack, service: str, text: str) -> bool:
    log = stack.config.state_dir / "logs" / f"{service}.log"
    return log.is_file() and text in log.read_text(errors="replace")


def test_three_uploads_of_one_name_keep_three_versions_and_the_last_is_recorded(
    stack, unit_ids, panoptes_data
):
    unit, camera = unit_ids
    name = f"{unit}/{camera}/{SEQ}/20160909T081226.fits"
    versions = [_frame(panoptes_data, EXPTIME=float(t)) for t in (30, 60, 90)]
    for data in versions:  # straight after each other, as the report that lost ten did
        stack.upload(name, data)
    records = wait_for("three final ledger records", lambda: stack.settled(name, 3), 120)
    archived = stack.versions(stack.settings.archive_bucket, name)
    assert sorted(b.download_as_bytes() for b in archived) == sorted(versions)
    assert {b.name for b in archived} == {f"{name}@{r['generation']}" for r in records}
    last = max(records, key=lambda r: r["generation"])
    assert last["state"] == "recorded"
    assert {r["state"] for r in records} <= {"recorded", "superseded"}
    image_id = f"{unit}_{camera}_20160909T081226"
    image = wait_for("the image doc of the last upload", lambda: stack.doc("images", image_id))
    wait_for("the last upload's exposure", lambda: stack.doc("images", image_id)["exptime"] == 90)
    stored = stack.blob(stack.settings.images_bucket, name + ".fz")
    assert stored.metadata["upload_generation"] == str(last["generation"])
    assert stack.doc("units", unit)["num_images"] == 1
    assert image["bucket_path"] == name + ".fz"


def test_forged_messages_naming_the_archive_change_nothing(stack, unit_ids, panoptes_data):
    unit, camera = unit_ids
    name = f"{unit}/{camera}/{SEQ}/20160909T081226.fits"
    stack.upload(name, _frame(panoptes_data))
    (record,) = wait_for("the upload to be recorded", lambda: stack.settled(name), 60)
    image_id = f"{unit}_{camera}_20160909T081226"
    final = ("measured", "measure_error", "solve_error")  # nothing more will write the doc
    wait_for(
        "the image to reach a final status",
        lambda: stack.doc("images", image_id).get("status") in final,
        180,
    )
    (archived,) = stack.versions(stack.settings.archive_bucket, name)
    watched = [
        ("images", image_id),
        ("observations", f"{unit}_{camera}_{SEQ}"),
        ("units", unit),
        ("uploads", record["id"]),
    ]
    docs_before = {key: stack.doc(*key) for key in watched}
    blobs_before = {
        (b, n): (blob.generation, blob.md5_hash)
        for b, n in [
            (stack.settings.archive_bucket, archived.name),
            (stack.settings.images_bucket, name + ".fz"),
        ]
        if (blob := stack.blob(b, n)) is not None
    }
    forged = json.dumps(
        {
            "bucket": stack.settings.archive_bucket,
            "name": archived.name,
            "object_name": name,
            "upload_id": "forged",
            "upload_generation": "99999999999999999",
            "image_id": image_id,
        }
    ).encode()
    topics = (
        "raw-file-uploaded",
        "compress-fits",
        "record-image",
        "make-rgb-fits",
        "plate-solve",
        "measure-sources",
    )
    for topic in topics:
        stack.publish(topic, forged)
    uri = f"gs://{stack.settings.archive_bucket}/{archived.name}"
    for service in topics:
        wait_for(
            f"{service} to answer the forged message", lambda s=service: _logged(stack, s, uri), 60
        )
    time.sleep(2)  # anything a step might have queued has time to land
    after = {
        key: (blob.generation, blob.md5_hash)
        for key in blobs_before
        if (blob := stack.blob(*key)) is not None
    }
    assert after == blobs_before
    docs_after = {key: stack.doc(*key) for key in watched}
    for key in watched:
        before, now = docs_before[key] or {}, docs_after[key] or {}
        changed = {
            k: (before.get(k), now.get(k))
            for k in set(before) | set(now)
            if before.get(k) != now.get(k)
        }
        assert not changed, (key, changed)
    assert stack.services_answer()


def test_corrupt_pixels_and_a_decompression_bomb_are_quarantined(stack, unit_ids, panoptes_data):
    unit, camera = unit_ids
    good = _fz(panoptes_data)
    corrupt = bytearray(good)
    with fits.open(io.BytesIO(good)) as hdus:
        middle = hdus.fileinfo(1)["datLoc"] + hdus.fileinfo(1)["datSpan"] // 2
    corrupt[middle : middle + 16] = bytes(16)
    header_at = good.index(b"ZNAXIS2 =")
    bomb = bytearray(good)
    bomb[header_at : header_at + 80] = f"{'ZNAXIS2':8s}= {16_000_000:20d}".ljust(80).encode()
    uploads = {
        f"{unit}/{camera}/{SEQ}/20160909T081226.fits.fz": (bytes(corrupt), "DATASUM"),
        f"{unit}/{camera}/{SEQ}/20160909T081227.fits.fz": (bytes(bomb), "not decompressed"),
    }
    for name, (data, _) in uploads.items():
        stack.upload(name, data)
    for name, (data, says) in uploads.items():
        (record,) = wait_for(f"{name} to settle", lambda n=name: stack.settled(n), 60)
        assert record["state"] == "quarantined" and says in record["reason"], record
        (kept,) = stack.versions(stack.settings.quarantine_bucket, name)
        assert kept.download_as_bytes() == data
        assert stack.blob(stack.settings.images_bucket, name) is None
    assert stack.doc("units", unit) is None  # nothing counted
    assert stack.services_answer()
    name = f"{unit}/{camera}/{SEQ}/20160909T081228.fits.fz"
    stack.upload(name, good)
    (record,) = wait_for("a good .fits.fz after the bad ones", lambda: stack.settled(name), 60)
    assert record["state"] == "recorded"


def test_a_dead_lettered_message_is_redriven_and_processed_once(stack, unit_ids, panoptes_data):
    from panoptes_network.adapters.dead_letters import list_dead_letters, redrive

    unit, camera = unit_ids
    name = f"{unit}/{camera}/{SEQ}/20160909T081226.fits"
    stop_service(stack.config, "record-image", hold_for=600)
    try:
        stack.upload(name, _frame(panoptes_data))

        def dead_letter():
            for letter in list_dead_letters(stack.subscriber, stack.config.project, limit=200):
                if letter.source_subscription == "record-image" and name.encode() in letter.data:
                    return letter
            return None

        letter = wait_for("record-image's message on the dead-letter topic", dead_letter, 180, 2)
    finally:
        start_service(stack.config, "record-image")
    summary = redrive(
        stack.subscriber, stack.publisher, stack.config.project, message_id=letter.message_id
    )
    assert summary.redriven == {"record-image": 1}, summary
    (record,) = wait_for("the redriven message to be recorded", lambda: stack.settled(name), 60)
    assert record["state"] == "recorded"
    assert stack.doc("observations", f"{unit}_{camera}_{SEQ}")["num_images"] == 1
    assert dead_letter() is None


def test_an_outage_of_three_services_loses_nothing(stack, unit_ids, panoptes_data):
    from panoptes_network.adapters.runtime import chain_context
    from panoptes_network.ingest.reconcile import reconcile

    unit, camera = unit_ids
    names = [f"{unit}/{camera}/{SEQ}/20160909T0813{k:02d}.fits" for k in range(20)]
    frames = [_frame(panoptes_data, EXPTIME=60.0, SEQNO=k) for k in range(20)]
    killed = time.monotonic()
    for k, (name, data) in enumerate(zip(names, frames, strict=True)):
        stack.upload(name, data)
        if k == 4:  # mid-burst: five uploads in flight
            killed = time.monotonic()
            for service in OUTAGE_SERVICES:
                stop_service(stack.config, service, hold_for=OUTAGE_SECONDS, signal_name="SIGKILL")
    wait_for(
        "the supervisor to bring the services back",
        lambda: time.monotonic() - killed > OUTAGE_SECONDS and stack.services_answer(),
        OUTAGE_SECONDS + 90,
        2,
    )
    ctx = chain_context("test-reconcile", documents=True)
    later = datetime.now(timezone.utc) + timedelta(minutes=31)
    report = reconcile(type(ctx)(**{**ctx.__dict__, "now": lambda: later}))
    records = wait_for(
        "all 20 uploads final",
        lambda: all(stack.settled(n) for n in names) and [stack.settled(n)[0] for n in names],
        180,
        2,
    )
    recovered = time.monotonic() - killed
    assert all(r["state"] == "recorded" for r in records), [r["state"] for r in records]
    observation = stack.doc("observations", f"{unit}_{camera}_{SEQ}")
    assert observation["num_images"] == 20
    assert observation["total_minutes_exptime"] == pytest.approx(20.0)
    assert stack.doc("units", unit)["num_images"] == 20
    for name, data in zip(names, frames, strict=True):
        (archived,) = stack.versions(stack.settings.archive_bucket, name)
        assert archived.download_as_bytes() == data
    image_ids = [f"{unit}_{camera}_20160909T0813{k:02d}" for k in range(20)]
    settled = wait_for(
        "plate-solve to have seen every frame",
        lambda: all(stack.doc("images", i)["status"] != "uploaded" for i in image_ids),
        180,
        2,
    )
    assert settled
    print(
        f"\noutage of {', '.join(OUTAGE_SERVICES)} for {OUTAGE_SECONDS} s: "
        f"all 20 recorded {recovered:.0f} s after the kill; reconciler: {report.to_dict()}"
    )
    assert np.sum([r.get("requeues", 0) for r in records]) >= 1  # the reconciler had work
