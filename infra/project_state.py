"""What a Google Cloud project holds now, read with ``gcloud`` (the other half of the plan).

Everything :mod:`infra.plan` compares is read into one :class:`ProjectState`: enabled APIs,
service accounts, IAM policies (project, accounts, buckets, topics, subscriptions, services),
the Firestore database, its composite indexes and rules, buckets and their keeping, topics,
subscriptions, bucket notifications, deployed services and their URLs, and scheduler jobs.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.gcloud import Gcloud, read_json
from infra.spec import Resources
from panoptes_network.pipeline.settings import Settings

__all__ = ["Policy", "ProjectState", "read_state", "rules_source", "normalise_lifecycle"]

#: IAM policy: role -> members.
Policy = dict[str, set[str]]
#: What one policy belongs to: (kind, name), kind one of project, account, bucket, topic,
#: subscription, service.
PolicyKey = tuple[str, str]


@dataclass
class ProjectState:
    """A project's resources as the plan compares them.

    Attributes
    ----------
    project : str
        Project id.
    number : str, optional
        Project number (names the Google-managed service agents).
    apis : set of str
        Enabled APIs, e.g. ``run.googleapis.com``.
    accounts : set of str
        Service account e-mails.
    policies : dict
        IAM policy of each read resource, keyed by (kind, name).
    firestore : bool
        True if the ``(default)`` Firestore database exists.
    indexes : set of tuple
        Composite indexes: (collection group, query scope, ((field, order), ...)).
    rules : str, optional
        Source of the released Firestore rules (None when none is released).
    buckets : dict
        Bucket name to ``{"versioning", "lifecycle", "retention_seconds", "uniform"}``.
    topics : set of str
        Topic names.
    subscriptions : dict
        Subscription name to its normalised settings (see :func:`_subscription`).
    notifications : dict
        Bucket name to the topics its notifications publish to.
    services : dict
        Deployed service name to its URL.
    jobs : dict
        Scheduler job name to its normalised settings.
    """

    project: str
    number: str | None = None
    apis: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    policies: dict[PolicyKey, Policy] = field(default_factory=dict)
    firestore: bool = False
    indexes: set[tuple[str, str, tuple[tuple[str, str], ...]]] = field(default_factory=set)
    rules: str | None = None
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    topics: set[str] = field(default_factory=set)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: dict[str, set[str]] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)


def normalise_lifecycle(rules: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Return lifecycle rules in one comparable form: sorted Delete conditions.

    Parameters
    ----------
    rules : list of dict, optional
        Rules as the JSON API writes them (``{"action": {"type"}, "condition": {...}}``).

    Returns
    -------
    list of dict
        The rules, conditions with sorted keys, sorted.
    """
    out = [
        {"action": {"type": r["action"]["type"]}, "condition": dict(sorted(r["condition"].items()))}
        for r in rules or []
    ]
    return sorted(out, key=lambda r: repr(r))


def _policy(raw: dict[str, Any] | None) -> Policy:
    policy: Policy = {}
    for binding in (raw or {}).get("bindings", []):
        if binding.get("condition"):
            continue  # conditional bindings are someone else's: never compared or touched
        policy.setdefault(binding["role"], set()).update(binding.get("members", []))
    return policy


def _seconds(duration: str | None) -> int | None:
    return None if duration is None else int(float(str(duration).rstrip("s")))


def _subscription(raw: dict[str, Any]) -> dict[str, Any]:
    """Normalise a subscription as gcloud lists it."""
    push = raw.get("pushConfig") or {}
    oidc = push.get("oidcToken") or {}
    retry = raw.get("retryPolicy") or {}
    dead = raw.get("deadLetterPolicy") or {}
    return {
        "topic": raw.get("topic", "").rsplit("/", 1)[-1],
        "ack_deadline_seconds": int(raw.get("ackDeadlineSeconds", 10)),
        "endpoint": push.get("pushEndpoint") or None,
        "oidc_account": oidc.get("serviceAccountEmail") or None,
        "audience": oidc.get("audience") or None,
        "minimum_backoff": _seconds(retry.get("minimumBackoff")),
        "maximum_backoff": _seconds(retry.get("maximumBackoff")),
        "dead_letter_topic": (dead.get("deadLetterTopic") or "").rsplit("/", 1)[-1] or None,
        "max_delivery_attempts": dead.get("maxDeliveryAttempts"),
    }


def _job(raw: dict[str, Any]) -> dict[str, Any]:
    """Normalise a Cloud Scheduler job as gcloud lists it."""
    target = raw.get("httpTarget") or {}
    oidc = target.get("oidcToken") or {}
    body = target.get("body")
    return {
        "schedule": raw.get("schedule"),
        "time_zone": raw.get("timeZone", "Etc/UTC"),
        "uri": target.get("uri"),
        "method": target.get("httpMethod", "POST"),
        "body": base64.b64decode(body).decode() if body else "",
        "oidc_account": oidc.get("serviceAccountEmail"),
        "audience": oidc.get("audience"),
    }


def rules_source(raw: dict[str, Any] | None) -> str | None:
    """Return the source of a Firebase Rules ruleset (its first file), or None."""
    files = ((raw or {}).get("source") or {}).get("files") or []
    return files[0].get("content") if files else None


def read_state(
    gcloud: Gcloud,
    resources: Resources,
    project: str,
    region: str,
    *,
    rules: Callable[[], str | None] = lambda: None,
    say: Callable[[str], None] = lambda line: None,
) -> ProjectState:
    """Read what ``project`` holds of what ``resources`` declares.

    Parameters
    ----------
    gcloud : Gcloud
        Runs gcloud (:class:`infra.gcloud.Shell`, or a fake project in tests).
    resources : Resources
        The declared resources: which buckets, topics and services to read policies of.
    project, region : str
        The project, and the region of its services and scheduler jobs.
    rules : callable
        Returns the released Firestore rules source (Firebase Rules API), or None.
    say : callable
        Receives progress lines.

    Returns
    -------
    ProjectState
        The project as it is.

    Raises
    ------
    infra.gcloud.GcloudError
        If gcloud cannot read the project (no access, not logged in): the message says why.
    """
    p = f"--project={project}"
    state = ProjectState(project)
    described = read_json(gcloud, ["gcloud", "projects", "describe", project])
    state.number = str(described.get("projectNumber")) if described else None
    say("reading enabled APIs, accounts and the project's IAM policy")
    state.apis = {
        s["config"]["name"]
        for s in read_json(gcloud, ["gcloud", "services", "list", "--enabled", p]) or []
    }
    state.accounts = {
        a["email"]
        for a in read_json(gcloud, ["gcloud", "iam", "service-accounts", "list", p]) or []
    }
    state.policies[("project", project)] = _policy(
        read_json(gcloud, ["gcloud", "projects", "get-iam-policy", project])
    )
    push = Settings(project_id=project).account_email("push")
    if push in state.accounts:
        state.policies[("account", push)] = _policy(
            read_json(gcloud, ["gcloud", "iam", "service-accounts", "get-iam-policy", push, p])
        )
    on = state.apis.__contains__
    say("reading Firestore")
    state.firestore = on("firestore.googleapis.com") and (
        read_json(
            gcloud,
            ["gcloud", "firestore", "databases", "describe", "--database=(default)", p],
            missing_ok=True,
        )
        is not None
    )
    if state.firestore:
        for index in (
            read_json(gcloud, ["gcloud", "firestore", "indexes", "composite", "list", p]) or []
        ):
            group = index["name"].split("/collectionGroups/")[1].split("/")[0]
            fields = tuple(
                (f["fieldPath"], f.get("order") or f.get("arrayConfig", ""))
                for f in index.get("fields", [])
                if f["fieldPath"] != "__name__"
            )
            state.indexes.add((group, index.get("queryScope", "COLLECTION"), fields))
        state.rules = rules()
    say("reading buckets and their policies")
    for raw in read_json(gcloud, ["gcloud", "storage", "buckets", "list", p]) or []:  # always on
        name = raw["name"]
        retention = (raw.get("retention_policy") or {}).get("retentionPeriod")
        state.buckets[name] = {
            "versioning": bool(raw.get("versioning_enabled")),
            "lifecycle": normalise_lifecycle((raw.get("lifecycle_config") or {}).get("rule")),
            "retention_seconds": int(retention) if retention else None,
            "uniform": bool(raw.get("uniform_bucket_level_access")),
        }
    for bucket in resources.buckets:
        if bucket.name in state.buckets:
            state.policies[("bucket", bucket.name)] = _policy(
                read_json(
                    gcloud,
                    ["gcloud", "storage", "buckets", "get-iam-policy", f"gs://{bucket.name}"],
                )
            )
            state.notifications[bucket.name] = {
                n["topic"].rsplit("/", 1)[-1]
                for n in read_json(
                    gcloud,
                    [
                        "gcloud",
                        "storage",
                        "buckets",
                        "notifications",
                        "list",
                        f"gs://{bucket.name}",
                    ],
                )
                or []
            }
    say("reading topics, subscriptions and their policies")
    if on("pubsub.googleapis.com"):
        state.topics = {
            t["name"].rsplit("/", 1)[-1]
            for t in read_json(gcloud, ["gcloud", "pubsub", "topics", "list", p]) or []
        }
        for topic in resources.topics:
            if topic in state.topics:
                state.policies[("topic", topic)] = _policy(
                    read_json(gcloud, ["gcloud", "pubsub", "topics", "get-iam-policy", topic, p])
                )
        for raw in read_json(gcloud, ["gcloud", "pubsub", "subscriptions", "list", p]) or []:
            state.subscriptions[raw["name"].rsplit("/", 1)[-1]] = _subscription(raw)
        for sub in resources.subscriptions:
            if sub.name in state.subscriptions:
                state.policies[("subscription", sub.name)] = _policy(
                    read_json(
                        gcloud, ["gcloud", "pubsub", "subscriptions", "get-iam-policy", sub.name, p]
                    )
                )
    say("reading deployed services and scheduler jobs")
    r = f"--region={region}"
    services = (
        read_json(gcloud, ["gcloud", "run", "services", "list", p, r])
        if on("run.googleapis.com")
        else []
    )
    for raw in services or []:
        state.services[raw["metadata"]["name"]] = (raw.get("status") or {}).get("url", "")
    for name in resources.services:
        if name in state.services:
            state.policies[("service", name)] = _policy(
                read_json(gcloud, ["gcloud", "run", "services", "get-iam-policy", name, p, r])
            )
    jobs = ["gcloud", "scheduler", "jobs", "list", p, f"--location={region}"]
    for raw in (read_json(gcloud, jobs) if on("cloudscheduler.googleapis.com") else None) or []:
        state.jobs[raw["name"].rsplit("/", 1)[-1]] = _job(raw)
    return state
