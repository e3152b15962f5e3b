"""Settings agree with infra/resources.yaml, and the file is consistent."""

from __future__ import annotations

import json
from dataclasses import fields

from emulator.stack import STORAGE_PORT
from infra.spec import load
from panoptes_network.pipeline.settings import Settings
from tests.conftest import ROOT


def test_default_names_exist_in_the_infra_file():
    resources = load()
    buckets = {b.name for b in resources.buckets}
    s = Settings()
    bucket_fields = [f.name for f in fields(s) if f.name.endswith("_bucket")]
    topic_fields = [f.name for f in fields(s) if f.name.endswith("_topic")]
    assert len(bucket_fields) >= 12 and len(topic_fields) >= 6
    for name in bucket_fields:
        assert getattr(s, name) in buckets, name
    for name in topic_fields:
        assert getattr(s, name) in resources.topics, name
    assert any(n.bucket == s.incoming_bucket for n in resources.notifications)


def test_every_service_folder_is_declared_with_a_unique_port():
    resources = load()
    folders = {p.name for p in (ROOT / "services").iterdir() if (p / "main.py").exists()}
    assert folders == set(resources.services)
    ports = [s.local_port for s in resources.services.values()]
    emulator_ports = [
        v["port"]
        for v in json.loads((ROOT / "firebase.json").read_text())["emulators"].values()
        if isinstance(v, dict) and "port" in v
    ]
    emulator_ports.append(STORAGE_PORT)  # fake-gcs-server: not a Firebase emulator
    assert len(set(ports + emulator_ports)) == len(ports) + len(emulator_ports)


def test_push_subscriptions_have_dead_letter_and_retry():
    for sub in load().subscriptions:
        if sub.push_to:
            assert sub.dead_letter_topic and sub.max_delivery_attempts
            assert sub.minimum_backoff_seconds is not None


def test_env_overrides_and_emulator_public_url():
    s = Settings.from_env(
        {
            "PANOPTES_IMAGES_BUCKET": "x-images",
            "GOOGLE_CLOUD_PROJECT": "p",
            "STORAGE_EMULATOR_HOST": "http://127.0.0.1:9199",
            "PANOPTES_MAX_HEADER_BYTES": "5760",
        }
    )
    assert (s.images_bucket, s.project_id, s.max_header_bytes) == ("x-images", "p", 5760)
    assert s.public_url("b", "a/c.fits") == "http://127.0.0.1:9199/b/a/c.fits"
    assert Settings.from_env({}).public_url("b", "n") == "https://storage.googleapis.com/b/n"


def test_each_step_reads_exactly_the_buckets_infra_declares():
    """The code's STEP_INPUTS and the services' `inputs` in infra/resources.yaml agree."""
    from panoptes_network.pipeline.settings import STEP_INPUTS

    resources, s = load(), Settings()
    declared = {name: set(svc.inputs) for name, svc in resources.services.items() if svc.inputs}
    assert declared == {name: s.input_buckets(name) for name in STEP_INPUTS}
    archive = s.archive_bucket
    assert all(
        archive not in buckets
        for name, buckets in declared.items()
        if name not in ("raw-file-uploaded", "compress-fits", "make-rgb-fits")
    )


def test_the_archive_keeps_everything_and_incoming_keeps_replaced_uploads():
    buckets = {b.name: b for b in load().buckets}
    archive, incoming = buckets[Settings().archive_bucket], buckets[Settings().incoming_bucket]
    assert archive.versioning and archive.retention_days >= 3650
    assert archive.lifecycle_delete_age_days is None and archive.noncurrent_delete_days is None
    assert incoming.versioning and incoming.noncurrent_delete_days


def test_apply_turns_the_declared_keeping_into_bucket_settings():
    """What infra.apply asks Google Cloud for the archive and the incoming bucket."""
    from infra.plan import _bucket_settings

    buckets = {b.name: b for b in load().buckets}
    archive = _bucket_settings(buckets[Settings().archive_bucket])
    assert archive["retention_seconds"] == 36500 * 86400
    assert archive["lifecycle"] == [] and archive["versioning"]
    incoming = _bucket_settings(buckets[Settings().incoming_bucket])
    rules = [rule["condition"] for rule in incoming["lifecycle"]]
    assert {"age": 30} in rules
    assert {"daysSinceNoncurrentTime": 7, "isLive": False} in rules
    assert incoming["retention_seconds"] is None


def test_private_services_accept_exactly_the_callers_infra_declares():
    from panoptes_network.pipeline.settings import SERVICE_CALLERS

    services = load().services
    declared = {name: svc.callers for name, svc in services.items() if svc.callers}
    assert declared == SERVICE_CALLERS
    for name, svc in services.items():
        assert svc.public != bool(svc.callers), f"{name} is neither public nor private"
    push_targets = {sub.push_to for sub in load().subscriptions if sub.push_to}
    assert all(SERVICE_CALLERS[name] == ("push",) for name in push_targets)
    assert all(SERVICE_CALLERS[job.call] == ("scheduler",) for job in load().schedules)


def test_get_fits_header_reads_only_public_buckets():
    public = {b.name for b in load().buckets if b.public}
    s = Settings()
    assert s.header_buckets() <= public
    assert not {s.archive_bucket, s.quarantine_bucket, s.incoming_bucket} & s.header_buckets()
