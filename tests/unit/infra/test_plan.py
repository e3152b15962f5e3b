"""infra.apply on a Google Cloud project: the plan, least IAM, drift, and idempotence.

The project is :class:`FakeProject`, which runs the gcloud command lines the plan emits; a
separate test checks those same command lines against ``gcloud ... --help`` on this machine.
"""

from __future__ import annotations

import pytest

from infra.deploy import deploy_commands
from infra.plan import execute, firestore_files, plan
from infra.project_state import read_state
from infra.spec import load
from panoptes_network.pipeline.settings import Settings
from tests.unit.infra.fake_project import FakeProject
from tests.unit.infra.gcloud_help import needs_gcloud, problems

REGION = "r1"


def _plan(project: FakeProject, resources=None):
    resources = resources or load()
    state = read_state(project, resources, project.project, REGION, rules=lambda: project.rules)
    return plan(resources, state, REGION, release_rules=project.release_rules)


def _apply(project: FakeProject, resources=None):
    steps = _plan(project, resources)
    execute(steps, project, say=lambda line: None)
    return steps


def _changes(steps):
    return [(s.action, s.what) for s in steps if s.changes]


@pytest.fixture
def deployed():
    """A project set up from nothing: apply, deploy every service, apply again."""
    project = FakeProject()
    _apply(project)
    for name in load().services:
        project.deploy(name)
    _apply(project)
    return project


def test_a_new_project_waits_for_its_services_then_applying_again_changes_nothing():
    project = FakeProject()
    first = _apply(project)
    actions = {(s.action, s.what) for s in first}
    assert {
        ("create", "bucket panoptes-images-archive"),
        ("update", "bucket panoptes-images-archive"),  # versioning and retention
        ("create", "topic plate-solve"),
        ("create", "Firestore database (default)"),
        ("create", "Firestore rules (infra/firestore.rules)"),
    } <= actions
    waiting = {s.what for s in first if s.action == "wait"}
    assert {"subscription plate-solve", "scheduler job reconcile"} <= waiting
    assert "subscription dead-letter" not in waiting  # a pull subscription needs no service

    for name in load().services:
        project.deploy(name)
    second = _apply(project)
    assert not [s for s in second if s.action == "wait"]
    assert ("create", "subscription plate-solve") in _changes(second)

    third = _plan(project)
    assert _changes(third) == [], "applying twice changed something"
    assert {s.action for s in third} == {"leave"}


def test_push_goes_to_each_services_real_url_with_its_audience(deployed):
    settings = Settings(project_id=deployed.project)
    for name in ("plate-solve", "record-image", "make-rgb-fits"):
        sub = deployed.subscriptions[name]
        assert sub["pushConfig"]["pushEndpoint"] == deployed.services[name]
        assert sub["pushConfig"]["pushEndpoint"].endswith(".run.app")
        token = sub["pushConfig"]["oidcToken"]
        assert token["serviceAccountEmail"] == settings.account_email("push")
        assert token["audience"] == settings.audience(name)
        assert sub["deadLetterPolicy"]["deadLetterTopic"].endswith("/topics/dead-letter")
    job = deployed.jobs["reconcile"]["httpTarget"]
    assert job["uri"] == deployed.services["reconcile"] + "/sweep"
    assert job["oidcToken"]["serviceAccountEmail"] == settings.account_email("scheduler")


def test_every_account_gets_only_what_its_service_declares(deployed):
    p, resources = deployed.project, load()
    settings = Settings(project_id=p)

    def sa(name):
        return f"serviceAccount:{resources.services[name].account_email(p)}"

    archive = deployed.policies[("bucket", "panoptes-images-archive")]
    assert archive["roles/storage.objectViewer"] == {
        sa("raw-file-uploaded"),
        sa("compress-fits"),
        sa("make-rgb-fits"),
    }
    assert archive["roles/storage.objectUser"] == {sa("raw-file-uploaded")}
    lookup_buckets = {
        name for (kind, name), policy in deployed.policies.items()
        if kind == "bucket" and sa("lookup-field") in set().union(*policy.values())
    }  # fmt: skip
    assert lookup_buckets == {"panoptes-catalog"}  # its catalog file, nothing else
    assert "allUsers" not in set().union(*archive.values())
    assert (
        "allUsers" in deployed.policies[("bucket", "panoptes-images")]["roles/storage.objectViewer"]
    )
    assert deployed.policies[("topic", "plate-solve")]["roles/pubsub.publisher"] == {
        sa("record-image"),
        sa("reconcile"),
    }
    invokers = {
        name: deployed.policies[("service", name)].get("roles/run.invoker", set())
        for name in resources.services
    }
    assert invokers["plate-solve"] == {f"serviceAccount:{settings.account_email('push')}"}
    assert invokers["reconcile"] == {f"serviceAccount:{settings.account_email('scheduler')}"}
    assert invokers["get-fits-header"] == {"allUsers"}
    agent = f"serviceAccount:service-{deployed.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    assert agent in deployed.policies[("topic", "dead-letter")]["roles/pubsub.publisher"]
    push = settings.account_email("push")
    assert deployed.policies[("account", push)]["roles/iam.serviceAccountTokenCreator"] == {agent}
    project_roles = deployed.policies[("project", p)]
    assert sa("record-image") in project_roles["roles/datastore.user"]
    assert sa("get-fits-header") not in set().union(*project_roles.values())


def test_drift_is_corrected_and_other_peoples_grants_are_left(deployed):
    p = deployed.project
    record = f"serviceAccount:{load().services['record-image'].account_email(p)}"
    deployed.policies[("bucket", "panoptes-images-archive")]["roles/storage.objectViewer"] |= {
        "allUsers",
        "user:alice@example.org",
    }
    deployed.policies[("project", p)]["roles/editor"] = {record, "user:alice@example.org"}
    deployed.policies[("service", "record-image")]["roles/run.invoker"].add("allUsers")
    deployed.buckets["panoptes-images-incoming"]["lifecycle_config"] = {"rule": []}
    deployed.buckets["panoptes-images-archive"].pop("retention_policy")
    deployed.subscriptions["plate-solve"]["pushConfig"]["pushEndpoint"] = "https://elsewhere"
    deployed.rules = "rules_version = '2'; // opened by hand"

    steps = _plan(deployed)
    changes = {what: action for action, what in _changes(steps)}
    assert changes == {
        "IAM of bucket panoptes-images-archive: roles/storage.objectViewer for allUsers": "remove",
        f"IAM of project {p}: roles/editor for {record}": "remove",
        "IAM of service record-image: roles/run.invoker for allUsers": "remove",
        "bucket panoptes-images-incoming": "update",
        "bucket panoptes-images-archive": "update",
        "subscription plate-solve": "update",
        "Firestore rules (infra/firestore.rules)": "update",
    }
    execute(steps, deployed, say=lambda line: None)
    assert _changes(_plan(deployed)) == []
    assert "user:alice@example.org" in deployed.policies[("project", p)]["roles/editor"]
    assert deployed.rules == firestore_files()[0].read_text()
    retention = deployed.buckets["panoptes-images-archive"]["retention_policy"]
    assert retention == {"retentionPeriod": str(36500 * 86400)}


def test_every_command_of_apply_and_deploy_is_one_gcloud_knows(deployed, tmp_path):
    needs_gcloud()
    fresh = FakeProject()
    commands = [s.command for s in _plan(fresh) if s.command]
    deployed.policies[("service", "record-image")]["roles/run.invoker"].add("allUsers")
    deployed.policies[("project", deployed.project)]["roles/editor"] = {
        f"serviceAccount:{load().services['record-image'].account_email(deployed.project)}"
    }
    deployed.buckets["panoptes-images-archive"].pop("retention_policy")
    deployed.buckets["panoptes-images-archive"]["versioning_enabled"] = False
    deployed.subscriptions["plate-solve"]["ackDeadlineSeconds"] = 10
    deployed.jobs["reconcile"]["schedule"] = "0 * * * *"
    commands += [s.command for s in _plan(deployed) if s.command]
    for service in load().services.values():
        commands += deploy_commands(service, tmp_path, "proj", "us-central1")
    kinds = {tuple(c[:4]) for c in commands}
    assert len(kinds) >= 20, sorted(kinds)
    found = [problem for command in commands for problem in problems(list(command))]
    assert found == []


def test_the_help_check_catches_a_wrong_flag_and_a_wrong_command():
    needs_gcloud()
    assert problems(["gcloud", "pubsub", "topics", "create", "t", "--project=p"]) == []
    assert problems(["gcloud", "pubsub", "topics", "create", "t", "--push-endpoint=x"])
    assert problems(["gcloud", "run", "deploy", "s", "--trigger-http"])


def test_a_bucket_prefix_renames_every_bucket_and_tells_the_services(tmp_path):
    resources = load().renamed("demo-")
    project = FakeProject()
    _apply(project, resources)
    for name in resources.services:
        project.deploy(name)
    _apply(project, resources)
    assert _changes(_plan(project, resources)) == []
    assert set(project.buckets) == {"demo-" + b.name for b in load().buckets}
    assert project.notifications["demo-panoptes-images-incoming"] == [
        f"projects/{project.project}/topics/raw-file-uploaded"
    ]
    reader = f"serviceAccount:{resources.services['compress-fits'].account_email(project.project)}"
    archive = project.policies[("bucket", "demo-panoptes-images-archive")]
    assert reader in archive["roles/storage.objectViewer"]
    function = deploy_commands(resources.services["measure-sources"], tmp_path, "p", "r")[0]
    env = next(arg for arg in function if arg.startswith("--set-env-vars="))
    assert "PANOPTES_SOLVED_BUCKET=demo-panoptes-images-solved" in env
    assert "PANOPTES_CATALOG=gs://demo-panoptes-catalog/tycho2.parquet" in env
    settings = Settings.from_env(
        dict(pair.split("=", 1) for pair in env.split("=", 1)[1].split(","))
    )
    assert settings.header_buckets() == {
        "demo-panoptes-images",
        "demo-panoptes-images-solved",
        "demo-panoptes-images-rgb",
    }


def test_a_prefix_that_makes_bad_bucket_names_is_refused():
    with pytest.raises(ValueError, match="invalid bucket names"):
        load().renamed("Demo_")
    assert load().renamed("") == load()


class _Rules:
    def __init__(self, project: FakeProject) -> None:
        self.project = project

    def current(self) -> str | None:
        return self.project.rules

    def release(self, source: str) -> None:
        self.project.release_rules(source)


def _main(monkeypatch, project: FakeProject, *argv: str) -> int:
    from infra import apply

    monkeypatch.setattr(apply, "Shell", lambda: project)
    monkeypatch.setattr(apply, "FirebaseRules", lambda name: _Rules(project))
    return apply.main(["--project", project.project, "--region", REGION, *argv])


def test_the_command_line_plans_applies_and_then_has_nothing_to_do(monkeypatch, capsys):
    project = FakeProject()
    assert _main(monkeypatch, project, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "create  bucket panoptes-images-archive" in out
    assert "$ gcloud storage buckets create gs://panoptes-images-archive" in out
    assert not project.buckets, "a dry run changed the project"
    assert _main(monkeypatch, project) == 0
    assert "wait for services to be deployed" in capsys.readouterr().err
    for name in load().services:
        project.deploy(name)
    assert _main(monkeypatch, project) == 0
    capsys.readouterr()
    assert _main(monkeypatch, project, "--dry-run") == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("plan: 0 to create, 0 to update, 0 to remove,") and "0 waiting" in last


def test_an_unreadable_project_is_planned_as_empty_but_never_applied(monkeypatch, capsys):
    class Locked(FakeProject):
        def __call__(self, argv):
            from infra.gcloud import Outcome

            return Outcome(1, "", "ERROR: (gcloud) You do not currently have an active account")

    assert _main(monkeypatch, Locked(), "--dry-run") == 0
    captured = capsys.readouterr()
    assert "assumes an empty project" in captured.err and "active account" in captured.err
    assert "create  topic plate-solve" in captured.out
    assert _main(monkeypatch, Locked()) == 2
    assert "cannot read project" in capsys.readouterr().err
