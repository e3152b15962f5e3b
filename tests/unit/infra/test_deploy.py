"""bin/deploy stages a service that installs on its own."""

from __future__ import annotations

import tomllib

from infra.deploy import deploy_command, stage
from infra.spec import load


def test_staged_service_holds_shared_package_and_installable_requirements(tmp_path):
    service = load().services["record-image"]
    source = stage(service, tmp_path)
    assert (source / "main.py").exists()
    assert (source / "shared" / "panoptes_network" / "ingest" / "record.py").exists()
    assert "./shared[cloud]" in (source / "requirements.txt").read_text()
    project = tomllib.loads((source / "shared" / "pyproject.toml").read_text())["project"]
    assert project["name"] == "panoptes-network"
    cloud = " ".join(project["optional-dependencies"]["cloud"])
    for client in ("google-cloud-storage", "google-cloud-firestore", "google-cloud-pubsub"):
        assert client in cloud
    assert not list(source.rglob("__pycache__"))


def test_deploy_command_uses_the_infra_settings(tmp_path):
    service = load().services["compress-fits"]
    command = deploy_command(service, tmp_path, "proj", "europe-west1")
    assert command[:4] == ["gcloud", "functions", "deploy", "compress-fits"]
    assert f"--memory={service.memory}" in command
    assert f"--timeout={service.timeout_seconds}s" in command
    assert "--no-allow-unauthenticated" in command
    assert "--allow-unauthenticated" in deploy_command(
        load().services["get-fits-header"], tmp_path, "p", "r"
    )


def test_cloud_run_services_deploy_from_their_dockerfile(tmp_path):
    service = load().services["plate-solve"]
    assert service.kind == "run"
    command = deploy_command(service, tmp_path, "proj", "us-central1")
    assert command[:4] == ["gcloud", "run", "deploy", "plate-solve"]
    assert f"--concurrency={service.concurrency}" in command
    assert f"--memory={service.memory}" in command
