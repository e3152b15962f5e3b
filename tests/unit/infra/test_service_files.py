"""services/<name>/service.yaml: one small file per service, checked when it is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.spec import SERVICE_KEYS, load
from tests.conftest import ROOT

GOOD = """\
kind: function
runtime: python311
entry_point: handle
signature: cloudevent
trigger: topic t
access: private
callers: [push]
service_account: panoptes-step
reads: [b]
writes: [b]
publishes: [t]
local_port: 9001
"""

RESOURCES = """\
buckets: [{name: b}]
topics: [t]
subscriptions: [{name: t, topic: t, push_to: step}]
"""


def _load(tmp_path: Path, text: str, *, dockerfile: bool = False, resources: str = RESOURCES):
    (tmp_path / "services" / "step").mkdir(parents=True)
    (tmp_path / "services" / "step" / "service.yaml").write_text(text)
    if dockerfile:
        (tmp_path / "services" / "step" / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "resources.yaml").write_text(resources)
    return load(tmp_path / "resources.yaml", tmp_path / "services")


def test_a_good_file_loads_with_its_settings(tmp_path):
    service = _load(tmp_path, GOOD).services["step"]
    assert (service.kind, service.topic, service.callers, service.concurrency) == (
        "function",
        "t",
        ("push",),
        1,
    )
    assert service.account_email("p") == "panoptes-step@p.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("kind: function", "kind: lambda"), "kind must be function or run"),
        (("kind: function", "kind: run"), "needs a Dockerfile"),
        (("runtime: python311\n", ""), "needs a runtime"),
        (("service_account: panoptes-step", "service_account: Bad_Name"), "not an account id"),
        (("access: private\ncallers: [push]", "access: public"), "push account calls"),
        (("callers: [push]", "callers: [push, anyone]"), "unknown callers"),
        (("trigger: topic t", "trigger: http"), "cloudevent service has trigger"),
        (("reads: [b]", "reads: [elsewhere]"), "undeclared buckets"),
        (("publishes: [t]", "publishes: [nowhere]"), "undeclared topics"),
        (("local_port: 9001", "local_port: 9001\nmemroy: 1Gi"), "unknown keys"),
        (("entry_point: handle\n", ""), "entry_point is required"),
        (("reads: [b]", "reads: []\ninputs: [b]"), "input bucket is also in reads"),
    ],
)
def test_a_wrong_file_is_refused_naming_it_and_the_reason(tmp_path, change, says):
    old, new = change
    assert old in GOOD
    with pytest.raises(ValueError, match=says) as refused:
        _load(tmp_path, GOOD.replace(old, new))
    assert "step/service.yaml" in str(refused.value)


def test_a_topic_trigger_needs_the_subscription_that_pushes_to_it(tmp_path):
    lonely = RESOURCES.replace("push_to: step", "")
    with pytest.raises(ValueError, match="exactly one push subscription"):
        _load(tmp_path, GOOD, resources=lonely)


def test_the_resources_file_no_longer_declares_services(tmp_path):
    with pytest.raises(ValueError, match="service.yaml"):
        _load(tmp_path, GOOD, resources=RESOURCES + "services: {}\n")


def test_every_service_folder_has_a_file_using_only_known_keys():
    folders = {p.parent.name for p in (ROOT / "services").glob("*/main.py")}
    files = {p.parent.name for p in (ROOT / "services").glob("*/service.yaml")}
    assert folders == files
    services = load().services
    assert set(services) == folders
    for service in services.values():
        assert service.kind != "run" or (ROOT / "services" / service.name / "Dockerfile").exists()
    assert SERVICE_KEYS >= {"kind", "memory", "timeout_seconds", "concurrency", "env"}


def test_a_wsgi_app_is_a_cloud_run_service_served_by_gunicorn_locally(tmp_path):
    from emulator.stack import _service_argv

    http = GOOD.replace("signature: cloudevent", "signature: wsgi")
    http = http.replace("trigger: topic t", "trigger: http").replace("callers: [push]", "")
    http = http.replace("access: private", "access: public").replace(
        "entry_point: handle", "entry_point: app"
    )
    plain = RESOURCES.replace("push_to: step", "")
    with pytest.raises(ValueError, match="kind run"):
        _load(tmp_path / "a", http, resources=plain)
    service = _load(
        tmp_path / "b",
        http.replace("kind: function", "kind: run"),
        dockerfile=True,
        resources=plain,
    ).services["step"]
    argv = _service_argv(service, "127.0.0.1")
    assert argv[1:3] == ("-m", "gunicorn") and argv[-1] == "main:app"
    assert "127.0.0.1:9001" in argv
    function = _service_argv(load().services["record-image"], "127.0.0.1")
    assert function[1:3] == ("-m", "functions_framework")
