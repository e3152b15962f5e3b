"""Settings agree with infra/resources.yaml, and the file is consistent."""

from __future__ import annotations

import json
from dataclasses import fields

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
        if isinstance(v, dict)
    ]
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
