"""Read ``infra/resources.yaml`` into typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

__all__ = [
    "RESOURCES",
    "Bucket",
    "Subscription",
    "Notification",
    "Service",
    "Schedule",
    "Resources",
    "load",
]

RESOURCES = Path(__file__).with_name("resources.yaml")


@dataclass(frozen=True)
class Bucket:
    """A bucket and how long it keeps what it holds.

    ``lifecycle_delete_age_days`` is None for keep-forever buckets. ``versioning`` keeps
    replaced and deleted objects as noncurrent versions (deleted after
    ``noncurrent_delete_days``, when set). ``retention_days`` is a retention policy: no
    object can be deleted or replaced before that age.
    """

    name: str
    purpose: str = ""
    public: bool = False
    lifecycle_delete_age_days: int | None = None
    versioning: bool = False
    noncurrent_delete_days: int | None = None
    retention_days: int | None = None


@dataclass(frozen=True)
class Subscription:
    """A subscription; ``push_to`` names a service, or None for a pull subscription."""

    name: str
    topic: str
    push_to: str | None = None
    ack_deadline_seconds: int = 60
    minimum_backoff_seconds: int | None = None
    maximum_backoff_seconds: int | None = None
    dead_letter_topic: str | None = None
    max_delivery_attempts: int | None = None


@dataclass(frozen=True)
class Notification:
    """A bucket notification to a topic."""

    bucket: str
    topic: str
    events: tuple[str, ...] = ("OBJECT_FINALIZE",)
    payload_format: str = "JSON_API_V1"


@dataclass(frozen=True)
class Service:
    """A deployable service and how it runs locally."""

    name: str
    kind: str
    entry_point: str
    signature: str
    local_port: int
    memory: str = "512Mi"
    timeout_seconds: int = 60
    public: bool = False
    concurrency: int | None = None
    inputs: tuple[str, ...] = ()
    callers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """A job that calls an HTTP service on a cron schedule (Cloud Scheduler).

    Attributes
    ----------
    name : str
        Job name.
    cron : str
        Five-field cron expression, evaluated in ``time_zone``.
    call : str
        The HTTP service it calls (a name in ``services``).
    path : str
        Path on that service, e.g. ``/sweep``.
    body : dict
        JSON body of the POST.
    time_zone : str
        Time zone of ``cron`` (Cloud Scheduler's tz database name).
    description : str
        What the job is for.
    """

    name: str
    cron: str
    call: str
    path: str = "/"
    body: dict[str, Any] = field(default_factory=dict)
    time_zone: str = "Etc/UTC"
    description: str = ""


@dataclass(frozen=True)
class Resources:
    """Everything in the file."""

    buckets: tuple[Bucket, ...]
    topics: tuple[str, ...]
    subscriptions: tuple[Subscription, ...]
    notifications: tuple[Notification, ...]
    services: dict[str, Service] = field(default_factory=dict)
    schedules: tuple[Schedule, ...] = ()
    push_relay_port: int = 8110

    def local_push_endpoint(self, service: str, host: str = "127.0.0.1") -> str:
        """Return where the local stack's push subscriptions deliver to a service.

        The push relay (``emulator/push_relay.py``) signs each push with the stack's key and
        forwards it to the service, as Google's push does with its own.

        Parameters
        ----------
        service : str
            Service name.
        host : str
            Address of the stack.

        Returns
        -------
        str
            ``http://<host>:<push_relay_port>/<service>``.
        """
        return f"http://{host}:{self.push_relay_port}/{service}"

    def local_endpoint(self, service: str, host: str = "127.0.0.1") -> str:
        """Return the URL a service listens on in the local stack.

        Parameters
        ----------
        service : str
            Service name.
        host : str
            Address of the stack.

        Returns
        -------
        str
            ``http://<host>:<local_port>/``.
        """
        return f"http://{host}:{self.services[service].local_port}/"


def _subscription(raw: dict[str, Any]) -> Subscription:
    retry = raw.get("retry") or {}
    dead = raw.get("dead_letter") or {}
    return Subscription(
        name=raw["name"],
        topic=raw["topic"],
        push_to=raw.get("push_to"),
        ack_deadline_seconds=int(raw.get("ack_deadline_seconds", 60)),
        minimum_backoff_seconds=retry.get("minimum_backoff_seconds"),
        maximum_backoff_seconds=retry.get("maximum_backoff_seconds"),
        dead_letter_topic=dead.get("topic"),
        max_delivery_attempts=dead.get("max_delivery_attempts"),
    )


def load(path: Path = RESOURCES) -> Resources:
    """Load and check the resources file.

    Parameters
    ----------
    path : Path
        The YAML file.

    Returns
    -------
    Resources
        The typed resources.

    Raises
    ------
    ValueError
        If a subscription names an unknown topic or service, a notification an unknown
        bucket or topic, or a schedule an unknown or non-HTTP service or a bad cron expression.
    """
    raw = yaml.safe_load(path.read_text())
    buckets = tuple(Bucket(**b) for b in raw.get("buckets", []))
    topics = tuple(raw.get("topics", []))
    subs = tuple(_subscription(s) for s in raw.get("subscriptions", []))
    notes = tuple(
        Notification(
            n["bucket"],
            n["topic"],
            tuple(n.get("events", ["OBJECT_FINALIZE"])),
            n.get("payload_format", "JSON_API_V1"),
        )
        for n in raw.get("notifications", [])
    )
    services = {
        name: Service(
            name=name,
            **{
                **spec,
                "inputs": tuple(spec.get("inputs", ())),
                "callers": tuple(spec.get("callers", ())),
            },
        )
        for name, spec in raw.get("services", {}).items()
    }
    bucket_names = {b.name for b in buckets}
    for service in services.values():
        unknown = set(service.inputs) - bucket_names
        if unknown:
            raise ValueError(f"{path}: service {service.name} reads undeclared {sorted(unknown)}")
    for sub in subs:
        if sub.topic not in topics or (
            sub.dead_letter_topic and sub.dead_letter_topic not in topics
        ):
            raise ValueError(f"{path}: subscription {sub.name} names an unknown topic")
        if sub.push_to and sub.push_to not in services:
            raise ValueError(
                f"{path}: subscription {sub.name} pushes to unknown service {sub.push_to}"
            )
    for note in notes:
        if note.bucket not in bucket_names or note.topic not in topics:
            raise ValueError(f"{path}: notification {note.bucket} -> {note.topic} is not declared")
    schedules = tuple(Schedule(**job) for job in raw.get("schedules", []))
    for job in schedules:
        target = services.get(job.call)
        if target is None or target.signature != "http":
            raise ValueError(f"{path}: schedule {job.name} calls {job.call}, not an HTTP service")
        if not croniter.is_valid(job.cron):
            raise ValueError(f"{path}: schedule {job.name} has a bad cron expression {job.cron!r}")
        if not job.path.startswith("/"):
            raise ValueError(f"{path}: schedule {job.name}: path must start with '/'")
    for service in services.values():
        callers = set(service.callers) - {"push", "scheduler"}
        if callers:
            raise ValueError(f"{path}: service {service.name} names unknown callers {callers}")
    relay = int((raw.get("local") or {}).get("push_relay_port", 8110))
    return Resources(buckets, topics, subs, notes, services, schedules, relay)
