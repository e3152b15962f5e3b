"""The plan that makes a Google Cloud project match the declared resources.

:func:`desired` turns ``infra/resources.yaml``, the services' ``service.yaml`` files and the
Firestore files ``firebase.json`` names into what the project should hold; :func:`plan`
compares that with a :class:`~infra.project_state.ProjectState` and returns one
:class:`Step` per resource: ``create``, ``update``, ``remove`` (an IAM grant to one of the
project's own accounts or to the public that nothing declares), ``leave`` (already right) or
``wait`` (needs a service that is not deployed yet). :func:`execute` runs the steps.

IAM is least privilege, derived from each service's ``reads``, ``writes``, ``publishes`` and
``firestore``:

- its own service account; ``roles/storage.objectViewer`` on buckets it reads,
  ``roles/storage.objectUser`` on buckets it writes, ``roles/pubsub.publisher`` on topics it
  publishes to, ``roles/datastore.user`` (or ``viewer``) on the project for Firestore;
- ``roles/run.invoker`` on each private service for exactly its callers (the push account
  ``panoptes-push``, the scheduler account ``panoptes-scheduler``), and for ``allUsers`` on
  public services only;
- the Pub/Sub service agent: token creator on the push account (to sign push tokens),
  publisher on dead-letter topics, subscriber on the subscriptions that dead-letter;
- the Cloud Storage service agent: publisher on the topics of bucket notifications;
- ``allUsers`` object viewer on public buckets only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.gcloud import Gcloud, GcloudError
from infra.project_state import Policy, PolicyKey, ProjectState, normalise_lifecycle
from infra.spec import Bucket, Resources, Schedule, Subscription
from panoptes_network.pipeline.settings import Settings

__all__ = [
    "APIS",
    "Desired",
    "Step",
    "desired",
    "execute",
    "firestore_files",
    "plan",
    "scheduler_job_command",
    "summarise",
]

ROOT = Path(__file__).resolve().parent.parent
#: APIs the network uses.
APIS = (
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firebaserules.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
)
#: Members that mean "anyone"; granted only where a resource is declared public.
PUBLIC = frozenset({"allUsers", "allAuthenticatedUsers"})
#: Firestore location of a new database (multi-region, United States).
FIRESTORE_LOCATION = "nam5"


@dataclass(frozen=True)
class Step:
    """One thing the plan does, or leaves.

    Attributes
    ----------
    action : str
        ``create``, ``update``, ``remove``, ``leave`` or ``wait``.
    what : str
        The resource, e.g. ``bucket panoptes-images``.
    command : tuple of str
        The gcloud command line that does it (empty for leave, wait and API calls).
    why : str
        What differs, or what it waits for.
    files : tuple of (str, str)
        Files (path, content) the command reads, written just before it runs.
    call : callable, optional
        Does the step through an API instead of gcloud (the Firestore rules).
    """

    action: str
    what: str
    command: tuple[str, ...] = ()
    why: str = ""
    files: tuple[tuple[str, str], ...] = ()
    call: Callable[[], None] | None = field(default=None, compare=False)

    @property
    def changes(self) -> bool:
        """True if running the step changes the project."""
        return self.action in ("create", "update", "remove")


@dataclass
class Desired:
    """What the project should hold (see the module docstring)."""

    accounts: dict[str, str]
    policies: dict[PolicyKey, Policy]
    managed: frozenset[str]
    agents: dict[str, str]
    indexes: set[tuple[str, str, tuple[tuple[str, str], ...]]]
    rules: str
    rules_path: str


def firestore_files(root: Path = ROOT) -> tuple[Path, Path]:
    """Return the Firestore rules and indexes files that ``firebase.json`` names.

    Parameters
    ----------
    root : Path
        The repository root.

    Returns
    -------
    tuple of Path
        (rules, indexes).
    """
    config = json.loads((root / "firebase.json").read_text())["firestore"]
    return root / config["rules"], root / config["indexes"]


def _indexes(path: Path) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    return {
        (
            index["collectionGroup"],
            index.get("queryScope", "COLLECTION"),
            tuple(
                (f["fieldPath"], f.get("order") or f.get("arrayConfig", ""))
                for f in index["fields"]
            ),
        )
        for index in json.loads(path.read_text()).get("indexes", [])
    }


def desired(resources: Resources, project: str, number: str | None, root: Path = ROOT) -> Desired:
    """Return what ``project`` should hold.

    Parameters
    ----------
    resources : Resources
        The declared resources and services.
    project : str
        Project id.
    number : str, optional
        Project number (names the service agents; a placeholder when unknown).
    root : Path
        The repository root (for firebase.json and the files it names).

    Returns
    -------
    Desired
        Accounts, IAM policies, the set of members the plan manages, the service agents,
        composite indexes and the rules source.
    """
    settings = Settings(project_id=project)
    number = number or "PROJECT_NUMBER"
    accounts = {
        settings.account_email("push"): "Pub/Sub pushes to the network's services",
        settings.account_email("scheduler"): "Cloud Scheduler calls of the network's sweeps",
    }
    for service in resources.services.values():
        accounts[service.account_email(project)] = f"runs the {service.name} service"
    agents = {
        "pubsub": f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com",
        "storage": f"serviceAccount:service-{number}@gs-project-accounts.iam.gserviceaccount.com",
    }
    policies: dict[PolicyKey, Policy] = {("project", project): {}}

    def grant(kind: str, name: str, role: str, member: str) -> None:
        policies.setdefault((kind, name), {}).setdefault(role, set()).add(member)

    for bucket in resources.buckets:
        policies.setdefault(("bucket", bucket.name), {})
        if bucket.public:
            grant("bucket", bucket.name, "roles/storage.objectViewer", "allUsers")
    for topic in resources.topics:
        policies.setdefault(("topic", topic), {})
    for sub in resources.subscriptions:
        policies.setdefault(("subscription", sub.name), {})
        if sub.dead_letter_topic:
            grant("topic", sub.dead_letter_topic, "roles/pubsub.publisher", agents["pubsub"])
            grant("subscription", sub.name, "roles/pubsub.subscriber", agents["pubsub"])
    for note in resources.notifications:
        grant("topic", note.topic, "roles/pubsub.publisher", agents["storage"])
    push = f"serviceAccount:{settings.account_email('push')}"
    scheduler = f"serviceAccount:{settings.account_email('scheduler')}"
    grant(
        "account",
        settings.account_email("push"),
        "roles/iam.serviceAccountTokenCreator",
        agents["pubsub"],
    )
    for service in resources.services.values():
        me = f"serviceAccount:{service.account_email(project)}"
        policies.setdefault(("service", service.name), {})
        for bucket in service.reads:
            grant("bucket", bucket, "roles/storage.objectViewer", me)
        for bucket in service.writes:
            grant("bucket", bucket, "roles/storage.objectUser", me)
        for topic in service.publishes:
            grant("topic", topic, "roles/pubsub.publisher", me)
        if service.firestore != "none":
            role = (
                "roles/datastore.user" if service.firestore == "write" else "roles/datastore.viewer"
            )
            grant("project", project, role, me)
        invokers = {"push": push, "scheduler": scheduler}
        for caller in service.callers:
            grant("service", service.name, "roles/run.invoker", invokers[caller])
        if service.public:
            grant("service", service.name, "roles/run.invoker", "allUsers")
    rules, indexes = firestore_files(root)
    managed = frozenset(
        {f"serviceAccount:{email}" for email in accounts} | PUBLIC | set(agents.values())
    )
    return Desired(
        accounts=accounts,
        policies=policies,
        managed=managed,
        agents=agents,
        indexes=_indexes(indexes),
        rules=rules.read_text(),
        rules_path=str(rules.relative_to(root)),
    )


def scheduler_job_command(
    job: Schedule,
    project: str,
    region: str,
    url: str,
    service_account: str | None,
    *,
    exists: bool,
) -> list[str]:
    """Return the ``gcloud`` command that creates (or updates) one Cloud Scheduler job.

    Parameters
    ----------
    job : Schedule
        The declared job.
    project, region : str
        Where it runs.
    url : str
        The full URL it POSTs to (service URL plus ``job.path``).
    service_account : str, optional
        Service account whose OIDC token the call carries (needed for private services).
    exists : bool
        Update an existing job instead of creating one.

    Returns
    -------
    list of str
        The argument vector.
    """
    argv = [
        "gcloud",
        "scheduler",
        "jobs",
        "update" if exists else "create",
        "http",
        job.name,
        f"--project={project}",
        f"--location={region}",
        f"--schedule={job.cron}",
        f"--time-zone={job.time_zone}",
        f"--uri={url}",
        "--http-method=POST",
        f"--message-body={_job_body(job)}",
        "--headers=Content-Type=application/json"
        if not exists
        else "--update-headers=Content-Type=application/json",
        f"--description={job.description or job.name}",
    ]
    if service_account:
        audience = Settings(project_id=project).audience(job.call)
        argv += [
            f"--oidc-service-account-email={service_account}",
            f"--oidc-token-audience={audience}",
        ]
    return argv


def _job_body(job: Schedule) -> str:
    return json.dumps(job.body, sort_keys=True)


def _bucket_settings(spec: Bucket) -> dict[str, Any]:
    rules = []
    if spec.lifecycle_delete_age_days:
        rules.append(
            {"action": {"type": "Delete"}, "condition": {"age": spec.lifecycle_delete_age_days}}
        )
    if spec.noncurrent_delete_days:
        rules.append(
            {
                "action": {"type": "Delete"},
                "condition": {
                    "daysSinceNoncurrentTime": spec.noncurrent_delete_days,
                    "isLive": False,
                },
            }
        )
    return {
        "versioning": spec.versioning,
        "lifecycle": normalise_lifecycle(rules),
        "retention_seconds": spec.retention_days * 86400 if spec.retention_days else None,
        "uniform": True,
    }


def _bucket_update(spec: Bucket, current: dict[str, Any], project: str) -> Step | None:
    want = _bucket_settings(spec)
    differs = [key for key in want if current.get(key) != want[key]]
    if not differs:
        return None
    argv = ["gcloud", "storage", "buckets", "update", f"gs://{spec.name}", f"--project={project}"]
    files: tuple[tuple[str, str], ...] = ()
    if "versioning" in differs:
        argv.append("--versioning" if spec.versioning else "--no-versioning")
    if "lifecycle" in differs:
        if want["lifecycle"]:
            path = str(ROOT / ".dev" / "infra" / f"lifecycle-{spec.name}.json")
            files = ((path, json.dumps({"rule": want["lifecycle"]}, indent=2)),)
            argv.append(f"--lifecycle-file={path}")
        else:
            argv.append("--clear-lifecycle")
    if "retention_seconds" in differs:
        seconds = want["retention_seconds"]
        argv.append(f"--retention-period={seconds}s" if seconds else "--clear-retention-period")
    if "uniform" in differs:
        argv.append("--uniform-bucket-level-access")
    return Step("update", f"bucket {spec.name}", tuple(argv), ", ".join(differs), files)


def _subscription_settings(
    sub: Subscription, project: str, url: str | None, push_account: str
) -> dict[str, Any]:
    return {
        "topic": sub.topic,
        "ack_deadline_seconds": sub.ack_deadline_seconds,
        "endpoint": url,
        "oidc_account": push_account if sub.push_to else None,
        "audience": Settings(project_id=project).audience(sub.push_to) if sub.push_to else None,
        "minimum_backoff": sub.minimum_backoff_seconds,
        "maximum_backoff": (sub.maximum_backoff_seconds or 600)
        if sub.minimum_backoff_seconds is not None
        else None,
        "dead_letter_topic": sub.dead_letter_topic,
        "max_delivery_attempts": (sub.max_delivery_attempts or 5)
        if sub.dead_letter_topic
        else None,
    }


def _subscription_flags(want: dict[str, Any], project: str) -> list[str]:
    flags = [f"--ack-deadline={want['ack_deadline_seconds']}"]
    if want["endpoint"]:
        flags += [
            f"--push-endpoint={want['endpoint']}",
            f"--push-auth-service-account={want['oidc_account']}",
            f"--push-auth-token-audience={want['audience']}",
        ]
    if want["minimum_backoff"] is not None:
        flags += [
            f"--min-retry-delay={want['minimum_backoff']}s",
            f"--max-retry-delay={want['maximum_backoff']}s",
        ]
    if want["dead_letter_topic"]:
        flags += [
            f"--dead-letter-topic=projects/{project}/topics/{want['dead_letter_topic']}",
            f"--max-delivery-attempts={want['max_delivery_attempts']}",
        ]
    return flags


def _binding_command(
    kind: str, name: str, verb: str, role: str, member: str, project: str, region: str
) -> tuple[str, ...]:
    tail = [f"--member={member}", f"--role={role}", "--quiet"]
    head = {
        "project": ["gcloud", "projects", f"{verb}-iam-policy-binding", name],
        "account": [
            "gcloud",
            "iam",
            "service-accounts",
            f"{verb}-iam-policy-binding",
            name,
            f"--project={project}",
        ],
        "bucket": ["gcloud", "storage", "buckets", f"{verb}-iam-policy-binding", f"gs://{name}"],
        "topic": [
            "gcloud",
            "pubsub",
            "topics",
            f"{verb}-iam-policy-binding",
            name,
            f"--project={project}",
        ],
        "subscription": [
            "gcloud",
            "pubsub",
            "subscriptions",
            f"{verb}-iam-policy-binding",
            name,
            f"--project={project}",
        ],
        "service": [
            "gcloud",
            "run",
            "services",
            f"{verb}-iam-policy-binding",
            name,
            f"--project={project}",
            f"--region={region}",
        ],
    }[kind]
    if kind == "project":
        tail.insert(2, "--condition=None")
    return (*head, *tail)


def _policy_steps(
    want: Desired,
    state: ProjectState,
    region: str,
    kinds: tuple[str, ...],
    missing: Callable[[str, str], str | None],
) -> list[Step]:
    """Return the IAM steps of the resources of ``kinds``.

    ``missing(kind, name)`` says why a resource does not exist yet (its IAM then waits), or
    None when it exists or is created earlier in the plan.
    """
    steps = []
    keys = sorted(k for k in want.policies if k[0] in kinds)
    for kind, name in keys:
        what = f"IAM of {kind} {name}"
        why = missing(kind, name)
        if why:
            if want.policies[(kind, name)]:
                steps.append(Step("wait", what, why=why))
            continue
        wanted = want.policies.get((kind, name), {})
        current = state.policies.get((kind, name), {})
        changed = False
        for role in sorted(set(wanted) | set(current)):
            for member in sorted(
                (wanted.get(role, set()) | current.get(role, set())) & want.managed
            ):
                has, should = member in current.get(role, set()), member in wanted.get(role, set())
                if has == should:
                    continue
                changed = True
                verb = "add" if should else "remove"
                steps.append(
                    Step(
                        "create" if should else "remove",
                        f"{what}: {role} for {member}",
                        _binding_command(kind, name, verb, role, member, state.project, region),
                        "declared" if should else "not declared (drift)",
                    )
                )
        if not changed:
            steps.append(Step("leave", what))
    return steps


def plan(
    resources: Resources,
    state: ProjectState,
    region: str,
    *,
    location: str = "US",
    release_rules: Callable[[str], None] | None = None,
    root: Path = ROOT,
) -> list[Step]:
    """Return the steps that make the project in ``state`` match the declarations.

    Parameters
    ----------
    resources : Resources
        The declared resources and services.
    state : ProjectState
        The project as it is (an empty one for a project never set up).
    region : str
        Region of the services and scheduler jobs.
    location : str
        Location of new buckets.
    release_rules : callable, optional
        Releases a Firestore rules source (the Firebase Rules API); without it the rules
        step only says what it would do.
    root : Path
        The repository root.

    Returns
    -------
    list of Step
        In the order to run them: APIs, accounts, Firestore, buckets, topics, IAM, push
        subscriptions, notifications, scheduler jobs.
    """
    project = state.project
    p = f"--project={project}"
    want = desired(resources, project, state.number, root)
    settings = Settings(project_id=project)
    steps: list[Step] = []

    missing = [api for api in APIS if api not in state.apis]
    steps.append(
        Step("create", f"APIs {', '.join(missing)}", ("gcloud", "services", "enable", *missing, p))
        if missing
        else Step("leave", "APIs")
    )
    for email, purpose in want.accounts.items():
        if email in state.accounts:
            steps.append(Step("leave", f"service account {email}"))
        else:
            account_id = email.split("@")[0]
            steps.append(
                Step(
                    "create",
                    f"service account {email}",
                    (
                        "gcloud",
                        "iam",
                        "service-accounts",
                        "create",
                        account_id,
                        p,
                        f"--display-name={purpose}",
                    ),
                )
            )
    if state.firestore:
        steps.append(Step("leave", "Firestore database (default)"))
    else:
        steps.append(
            Step(
                "create",
                "Firestore database (default)",
                (
                    "gcloud", "firestore", "databases", "create", "--database=(default)",
                    f"--location={FIRESTORE_LOCATION}", "--type=firestore-native", p,
                ),
            )
        )  # fmt: skip
    for group, scope, fields in sorted(want.indexes):
        what = f"Firestore index {group}({', '.join(f'{f} {o}' for f, o in fields)})"
        if (group, scope, fields) in state.indexes:
            steps.append(Step("leave", what))
            continue
        configs = [
            f"--field-config=field-path={f},"
            f"{'array-config' if o == 'CONTAINS' else 'order'}={o.lower()}"
            for f, o in fields
        ]
        steps.append(
            Step(
                "create",
                what,
                (
                    "gcloud", "firestore", "indexes", "composite", "create", p,
                    f"--collection-group={group}", f"--query-scope={scope}", *configs, "--async",
                ),
            )
        )  # fmt: skip
    if state.rules == want.rules:
        steps.append(Step("leave", f"Firestore rules ({want.rules_path})"))
    else:
        source = want.rules
        steps.append(
            Step(
                "update" if state.rules else "create",
                f"Firestore rules ({want.rules_path})",
                why="released rules differ" if state.rules else "no rules released",
                call=(lambda: release_rules(source)) if release_rules else None,
            )
        )
    for spec in resources.buckets:
        if spec.name not in state.buckets:
            steps.append(
                Step(
                    "create",
                    f"bucket {spec.name}",
                    (
                        "gcloud", "storage", "buckets", "create", f"gs://{spec.name}", p,
                        f"--location={location}", "--uniform-bucket-level-access",
                    ),
                )
            )  # fmt: skip
            current = {
                "versioning": False,
                "lifecycle": [],
                "retention_seconds": None,
                "uniform": True,
            }
        else:
            current = state.buckets[spec.name]
        update = _bucket_update(spec, current, project)
        steps.append(update or Step("leave", f"bucket {spec.name}"))
    for topic in resources.topics:
        steps.append(
            Step("leave", f"topic {topic}")
            if topic in state.topics
            else Step(
                "create", f"topic {topic}", ("gcloud", "pubsub", "topics", "create", topic, p)
            )
        )

    steps += _policy_steps(
        want, state, region, ("project", "account", "bucket", "topic"), lambda kind, name: None
    )
    push_account = settings.account_email("push")
    for sub in resources.subscriptions:
        url = state.services.get(sub.push_to) if sub.push_to else None
        what = f"subscription {sub.name}"
        if sub.push_to and not url:
            steps.append(
                Step("wait", what, why=f"{sub.push_to} is not deployed (bin/deploy {sub.push_to})")
            )
            continue
        wanted = _subscription_settings(sub, project, url, push_account)
        current = state.subscriptions.get(sub.name)
        if current is None:
            argv = (
                "gcloud",
                "pubsub",
                "subscriptions",
                "create",
                sub.name,
                p,
                f"--topic={sub.topic}",
            )
            steps.append(
                Step(
                    "create",
                    what,
                    (*argv, *_subscription_flags(wanted, project)),
                    f"-> {url or 'pull'}",
                )
            )
            continue
        differs = [key for key in wanted if current.get(key) != wanted[key]]
        if "topic" in differs:
            steps.append(
                Step(
                    "wait",
                    what,
                    why=f"exists on topic {current['topic']}: delete it by hand to move it",
                )
            )
        elif differs:
            argv = ("gcloud", "pubsub", "subscriptions", "update", sub.name, p)
            steps.append(
                Step(
                    "update",
                    what,
                    (*argv, *_subscription_flags(wanted, project)),
                    ", ".join(differs),
                )
            )
        else:
            steps.append(Step("leave", what))
    waiting = {s.what.removeprefix("subscription ") for s in steps if s.action == "wait"}

    def missing(kind: str, name: str) -> str | None:
        if kind == "service" and name not in state.services:
            return f"{name} is not deployed (bin/deploy {name})"
        if kind == "subscription" and name in waiting:
            return f"subscription {name} waits for its service"
        return None

    steps += _policy_steps(want, state, region, ("subscription", "service"), missing)
    for note in resources.notifications:
        what = f"notification {note.bucket} -> {note.topic}"
        if note.topic in state.notifications.get(note.bucket, set()):
            steps.append(Step("leave", what))
            continue
        payload = "json" if note.payload_format == "JSON_API_V1" else "none"
        steps.append(
            Step(
                "create",
                what,
                (
                    "gcloud", "storage", "buckets", "notifications", "create", f"gs://{note.bucket}",
                    f"--topic=projects/{project}/topics/{note.topic}",
                    f"--event-types={','.join(note.events)}", f"--payload-format={payload}",
                ),
            )
        )  # fmt: skip
    scheduler_account = settings.account_email("scheduler")
    for job in resources.schedules:
        what = f"scheduler job {job.name}"
        base = state.services.get(job.call)
        if not base:
            steps.append(
                Step("wait", what, why=f"{job.call} is not deployed (bin/deploy {job.call})")
            )
            continue
        url = base.rstrip("/") + job.path
        wanted = {
            "schedule": job.cron,
            "time_zone": job.time_zone,
            "uri": url,
            "method": "POST",
            "body": _job_body(job),
            "oidc_account": scheduler_account,
            "audience": settings.audience(job.call),
        }
        current = state.jobs.get(job.name)
        differs = [key for key in wanted if (current or {}).get(key) != wanted[key]]
        if current is not None and not differs:
            steps.append(Step("leave", what))
            continue
        argv = scheduler_job_command(
            job, project, region, url, scheduler_account, exists=current is not None
        )
        steps.append(Step("update" if current else "create", what, tuple(argv), ", ".join(differs)))
    return steps


def summarise(steps: list[Step]) -> str:
    """Return one line counting the steps by action.

    Parameters
    ----------
    steps : list of Step
        A plan.

    Returns
    -------
    str
        E.g. ``12 to create, 1 to update, 0 to remove, 40 as they are, 7 waiting``.
    """
    count = {
        a: sum(s.action == a for s in steps)
        for a in ("create", "update", "remove", "leave", "wait")
    }
    return (
        f"{count['create']} to create, {count['update']} to update, {count['remove']} to remove, "
        f"{count['leave']} as they are, {count['wait']} waiting for a deployment"
    )


def execute(steps: list[Step], gcloud: Gcloud, say: Callable[[str], None] = print) -> int:
    """Run the steps that change something, in order; stop at the first failure.

    Parameters
    ----------
    steps : list of Step
        A plan.
    gcloud : Gcloud
        Runs the commands.
    say : callable
        Receives one line per step run.

    Returns
    -------
    int
        The number of steps run.

    Raises
    ------
    GcloudError
        If a command fails; the message names the step and gcloud's last words.
    """
    done = 0
    for step in steps:
        if not step.changes:
            continue
        for path, content in step.files:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(content)
        if step.call is not None:
            step.call()
        elif step.command:
            outcome = gcloud(list(step.command))
            if outcome.status != 0:
                last = outcome.stderr.strip().splitlines()[-1:] or [f"exit {outcome.status}"]
                raise GcloudError(f"{step.action} {step.what}: {last[0]}")
        else:
            say(f"skipped {step.what}: no way to apply it in this run")
            continue
        done += 1
        say(f"{step.action}d {step.what}")
    return done
