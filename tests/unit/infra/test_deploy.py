"""bin/deploy: every setting from the service's file, dependency order, dry runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import deploy
from infra.deploy import deploy_commands, env_flag
from infra.spec import Service, deploy_order, load
from tests.conftest import ROOT


def test_a_function_deploys_with_every_setting_of_its_file_then_gets_its_audience(tmp_path):
    service = load().services["compress-fits"]
    function, audience = deploy_commands(service, tmp_path, "proj", "europe-west1")
    assert function[:4] == ["gcloud", "functions", "deploy", "compress-fits"]
    for flag in (
        "--gen2",
        "--trigger-http",
        f"--runtime={service.runtime}",
        f"--entry-point={service.entry_point}",
        f"--memory={service.memory}",
        f"--timeout={service.timeout_seconds}s",
        f"--concurrency={service.concurrency}",
        f"--max-instances={service.max_instances}",
        "--service-account=panoptes-compress-fits@proj.iam.gserviceaccount.com",
        "--no-allow-unauthenticated",
        f"--source={tmp_path}",
        "--region=europe-west1",
    ):
        assert flag in function, flag
    assert "--set-env-vars=GOOGLE_CLOUD_PROJECT=proj" in function
    assert audience[:5] == ["gcloud", "run", "services", "update", "compress-fits"]
    assert "--set-custom-audiences=panoptes-network/compress-fits" in audience


def test_cloud_run_services_deploy_from_their_dockerfile_with_their_audience(tmp_path):
    service = load().services["plate-solve"]
    assert service.kind == "run" and service.runtime is None
    [command] = deploy_commands(service, tmp_path, "proj", "us-central1")
    assert command[:4] == ["gcloud", "run", "deploy", "plate-solve"]
    assert f"--concurrency={service.concurrency}" in command
    assert "--set-custom-audiences=panoptes-network/plate-solve" in command
    assert "--service-account=panoptes-plate-solve@proj.iam.gserviceaccount.com" in command


def test_only_public_services_allow_unauthenticated_calls(tmp_path):
    for service in load().services.values():
        first = deploy_commands(service, tmp_path, "p", "r")[0]
        assert ("--allow-unauthenticated" in first) == service.public, service.name
        assert ("--no-allow-unauthenticated" in first) != service.public, service.name


def test_environment_values_with_commas_use_gcloud_alternate_delimiter():
    assert env_flag({"B": "2", "A": "1"}) == "--set-env-vars=A=1,B=2"
    assert env_flag({"A": "x,y", "B": "2"}) == "--set-env-vars=^;^A=x,y;B=2"
    with pytest.raises(ValueError):
        env_flag({"A": "x,y;z"})


def test_every_service_deploys_after_the_services_its_messages_go_to():
    services = load().services
    order = deploy_order(services)
    assert sorted(order) == sorted(services)
    consumer = {s.topic: name for name, s in services.items() if s.topic}
    for name, service in services.items():
        for topic in service.publishes:
            if topic in consumer and consumer[topic] != name:
                assert order.index(consumer[topic]) < order.index(name), (name, topic)
    assert order.index("build-lightcurve") < order.index("lightcurve-requests")
    assert order.index("compress-fits") < order.index("make-rgb-fits")
    assert order.index("make-rgb-fits") < order.index("raw-file-uploaded")


def test_services_that_publish_to_each_other_in_a_cycle_are_refused():
    def svc(name: str, publishes: tuple[str, ...]) -> Service:
        return Service(
            name,
            "function",
            "handle",
            "cloudevent",
            1,
            trigger=f"topic {name}",
            publishes=publishes,
        )

    with pytest.raises(ValueError, match="cycle"):
        deploy_order({"a": svc("a", ("b",)), "b": svc("b", ("a",))})


def test_nothing_about_a_service_is_written_in_the_deploy_tools():
    code = (ROOT / "infra" / "deploy.py").read_text() + (ROOT / "bin" / "deploy").read_text()
    for name in load().services:
        assert name not in code, f"{name} is named in the deploy tools"


def _run_main(argv, monkeypatch, tmp_path, *, fail_at: int | None = None):
    ran: list[list[str]] = []

    def run(command: list[str]) -> int:
        ran.append(command)
        return 1 if fail_at is not None and len(ran) == fail_at else 0

    monkeypatch.setattr(deploy, "STAGING", tmp_path / "staged")
    monkeypatch.setattr(deploy.shutil, "which", lambda name: f"/usr/bin/{name}")
    status = deploy.main(argv, run=run)
    return status, ran


def test_all_deploys_every_service_in_order_with_its_commands(monkeypatch, tmp_path, capsys):
    status, ran = _run_main(["--all", "--project", "proj"], monkeypatch, tmp_path)
    assert status == 0
    deployed = [command[3] for command in ran if command[2] == "deploy"]
    assert deployed == deploy_order(load().services)
    assert "python -m infra.apply --project proj" in capsys.readouterr().err
    staged = tmp_path / "staged" / "record-image"
    assert (staged / "main.py").exists() and (staged / "panoptes_network").is_dir()


def test_a_failed_deployment_stops_the_rest_and_says_which(monkeypatch, tmp_path, capsys):
    status, ran = _run_main(["--all", "--project", "proj"], monkeypatch, tmp_path, fail_at=2)
    assert status == 1 and len(ran) == 2
    first = deploy_order(load().services)[0]
    assert f"deploy: {first}:" in capsys.readouterr().err


def test_dry_run_prints_and_runs_nothing(monkeypatch, tmp_path, capsys):
    status, ran = _run_main(
        ["record-image", "get-fits-header", "--dry-run", "--no-check", "--project", "p"],
        monkeypatch,
        tmp_path,
    )
    assert status == 0 and ran == []
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("gcloud functions deploy get-fits-header")  # consumers first
    assert any(line.startswith("gcloud functions deploy record-image") for line in out)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--all", "record-image", "--project", "p"], "or --all"),
        ([], "or --all"),
        (["nowhere", "--project", "p"], "unknown services"),
    ],
)
def test_bad_arguments_are_refused_with_a_reason(argv, says, monkeypatch, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        _run_main(argv, monkeypatch, tmp_path)
    assert exited.value.code == 2
    assert says in capsys.readouterr().err


def test_no_project_is_refused_unless_dry_run(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    monkeypatch.setattr(deploy, "resolve_project", lambda given, dry_run: None)
    with pytest.raises(SystemExit):
        _run_main(["record-image"], monkeypatch, tmp_path)
    assert "no project" in capsys.readouterr().err


def test_the_staging_folder_is_under_the_ignored_dev_folder():
    assert Path(deploy.STAGING).is_relative_to(ROOT / ".dev")
