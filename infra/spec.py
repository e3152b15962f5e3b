"""Read ``infra/resources.yaml`` into typed records."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from croniter import croniter

from panoptes_network.pipeline.settings import Settings

__all__ = [
    "RESOURCES",
    "Bucket",
    "Subscription",
    "Notification",
    "Service",
    "Schedule",
    "Resources",
    "load",
    "load_services",
    "deploy_order",
]

RESOURCES = Path(__file__).with_name("resources.yaml")
SERVICES = Path(__file__).resolve().parent.parent / "services"


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


#: Keys a service's ``service.yaml`` may have.
SERVICE_KEYS = frozenset(
    {
        "kind", "entry_point", "signature", "trigger", "access", "callers", "runtime", "memory",
        "cpu", "timeout_seconds", "concurrency", "max_instances", "service_account", "env",
        "extras", "inputs", "reads", "writes", "publishes", "firestore", "local_port",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Service:
    """A deployable service, from ``services/<name>/service.yaml``.

    Attributes
    ----------
    name : str
        The service (its folder under ``services/``).
    kind : str
        ``function`` (Cloud Functions gen 2, HTTP) or ``run`` (Cloud Run, from the folder's
        ``Dockerfile``).
    entry_point : str
        The function in ``main.py`` that handles a request.
    signature : str
        ``cloudevent`` (a Pub/Sub push), ``http`` (a functions-framework HTTP function) or
        ``wsgi`` (a WSGI application, e.g. Flask, served by gunicorn: ``entry_point`` names
        the application object in ``main.py``).
    local_port : int
        Port of the service in the local stack.
    trigger : str
        ``http``, or the topic whose push subscription calls the service.
    access : str
        ``public`` (anyone may call it) or ``private`` (only ``callers``).
    callers : tuple of str
        Who may call a private service: ``push`` and/or ``scheduler``.
    runtime : str, optional
        Cloud Functions runtime (``python311``); None for Cloud Run, whose image sets it.
    memory : str
        Memory limit, e.g. ``512Mi``.
    cpu : str, optional
        CPUs per instance (the platform's default for the memory when None).
    timeout_seconds : int
        Request timeout (s).
    concurrency : int
        Requests one instance handles at a time.
    max_instances : int, optional
        Upper bound of instances (a cost ceiling).
    service_account : str
        Account id of the identity the service runs as (``<id>@<project>.iam...``).
    env : dict
        Environment variables besides ``GOOGLE_CLOUD_PROJECT``.
    extras : tuple of str
        Extras of ``shared/pyproject.toml`` the bundle installs besides ``cloud``.
    inputs : tuple of str
        Buckets its messages may name (the code's ``STEP_INPUTS``).
    reads, writes : tuple of str
        Buckets it reads objects from, and writes (creates, replaces or deletes) objects in.
    publishes : tuple of str
        Topics it publishes to.
    firestore : str
        ``none``, ``read`` or ``write``.
    """

    name: str
    kind: str
    entry_point: str
    signature: str
    local_port: int
    trigger: str = "http"
    access: str = "private"
    callers: tuple[str, ...] = ()
    runtime: str | None = None
    memory: str = "512Mi"
    cpu: str | None = None
    timeout_seconds: int = 60
    concurrency: int = 1
    max_instances: int | None = None
    service_account: str = ""
    env: dict[str, str] = field(default_factory=dict)
    extras: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    publishes: tuple[str, ...] = ()
    firestore: str = "none"

    @property
    def public(self) -> bool:
        """True if anyone may call the service."""
        return self.access == "public"

    @property
    def topic(self) -> str | None:
        """The topic whose push subscription calls the service, or None for HTTP services."""
        return None if self.trigger == "http" else self.trigger.removeprefix("topic ").strip()

    def account_email(self, project: str) -> str:
        """Return the e-mail of the account the service runs as in ``project``.

        Parameters
        ----------
        project : str
            Project id.

        Returns
        -------
        str
            ``<service_account>@<project>.iam.gserviceaccount.com``.
        """
        return f"{self.service_account}@{project}.iam.gserviceaccount.com"


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

    def renamed(self, prefix: str) -> Resources:
        """Return these resources with every bucket name prefixed, and the services told so.

        Bucket names are global in Cloud Storage: a project other than the network's own
        gives its buckets a prefix (``infra.apply --bucket-prefix``, ``bin/deploy
        --bucket-prefix``). Each service's environment then names every bucket
        (``PANOPTES_<FIELD>_BUCKET``, read by :class:`~panoptes_network.pipeline.settings.Settings`)
        and ``gs://`` URIs in its environment point at the renamed buckets.

        Parameters
        ----------
        prefix : str
            Prefix of every bucket name, e.g. ``my-project-`` (empty: unchanged).

        Returns
        -------
        Resources
            The renamed resources.

        Raises
        ------
        ValueError
            If the prefixed names are not valid bucket names.
        """
        if not prefix:
            return self
        names = {b.name: prefix + b.name for b in self.buckets}
        bad = [n for n in names.values() if not _BUCKET_NAME.match(n)]
        if bad:
            raise ValueError(f"bucket prefix {prefix!r} makes invalid bucket names: {bad}")
        defaults = Settings()
        bucket_env = {
            f"PANOPTES_{f.name.upper()}": names[getattr(defaults, f.name)]
            for f in dataclasses.fields(defaults)
            if f.name.endswith("_bucket") and getattr(defaults, f.name) in names
        }

        def rename(buckets: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(names[b] for b in buckets)

        def env(values: dict[str, str]) -> dict[str, str]:
            out = dict(values)
            for key, value in values.items():
                if value.startswith("gs://"):
                    bucket, _, rest = value.removeprefix("gs://").partition("/")
                    out[key] = f"gs://{names.get(bucket, bucket)}/{rest}"
            return {**bucket_env, **out}

        return dataclasses.replace(
            self,
            buckets=tuple(dataclasses.replace(b, name=names[b.name]) for b in self.buckets),
            notifications=tuple(
                dataclasses.replace(n, bucket=names[n.bucket]) for n in self.notifications
            ),
            services={
                name: dataclasses.replace(
                    s,
                    inputs=rename(s.inputs),
                    reads=rename(s.reads),
                    writes=rename(s.writes),
                    env=env(s.env),
                )
                for name, s in self.services.items()
            },
        )

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


#: Cloud Storage bucket names: 3-63 lower-case letters, digits, dots, hyphens, underscores.
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
_ACCOUNT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_LIMITS = {"function": 3600, "run": 3600}


def _service(path: Path) -> Service:
    """Read and check one ``service.yaml`` on its own (its names are checked by :func:`load`)."""
    name = path.parent.name
    raw = yaml.safe_load(path.read_text()) or {}
    unknown = set(raw) - SERVICE_KEYS
    if unknown:
        raise ValueError(
            f"{path}: unknown keys {sorted(unknown)} (allowed: {sorted(SERVICE_KEYS)})"
        )
    for key in ("kind", "entry_point", "signature", "local_port", "service_account"):
        if key not in raw:
            raise ValueError(f"{path}: {key} is required")
    tuples = ("callers", "extras", "inputs", "reads", "writes", "publishes")
    service = Service(
        name=name,
        **{key: tuple(value or ()) if key in tuples else value for key, value in raw.items()},
    )
    problems = []
    if service.kind not in _LIMITS:
        problems.append(f"kind must be function or run, not {service.kind!r}")
    elif service.kind == "run" and not (path.parent / "Dockerfile").exists():
        problems.append("kind run needs a Dockerfile beside it")
    elif service.kind == "function" and not service.runtime:
        problems.append("a function needs a runtime (e.g. python311)")
    elif not 1 <= service.timeout_seconds <= _LIMITS[service.kind]:
        problems.append(f"timeout_seconds must be 1..{_LIMITS[service.kind]}")
    if service.signature not in ("cloudevent", "http", "wsgi"):
        problems.append(f"signature must be cloudevent, http or wsgi, not {service.signature!r}")
    elif service.signature == "wsgi" and service.kind != "run":
        problems.append("a wsgi app (served by gunicorn) is a Cloud Run service: kind run")
    if (service.signature == "cloudevent") != (service.topic is not None):
        problems.append("a cloudevent service has trigger 'topic <name>', an http one 'http'")
    if service.access not in ("public", "private"):
        problems.append(f"access must be public or private, not {service.access!r}")
    elif service.public == bool(service.callers):
        problems.append("a private service names its callers, a public one none")
    if set(service.callers) - {"push", "scheduler"}:
        problems.append(f"unknown callers {sorted(set(service.callers) - {'push', 'scheduler'})}")
    if (service.topic is not None) != ("push" in service.callers):
        problems.append("the push account calls exactly the topic-triggered services")
    if not _ACCOUNT_ID.match(service.service_account):
        problems.append(
            f"service_account {service.service_account!r} is not an account id "
            "(6-30 lower-case letters, digits and hyphens)"
        )
    if service.firestore not in ("none", "read", "write"):
        problems.append(f"firestore must be none, read or write, not {service.firestore!r}")
    if not set(service.inputs) <= set(service.reads):
        problems.append("every input bucket is also in reads")
    if service.concurrency < 1:
        problems.append("concurrency must be at least 1")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return service


def load_services(folder: Path = SERVICES) -> dict[str, Service]:
    """Read every ``<folder>/<name>/service.yaml``.

    Parameters
    ----------
    folder : Path
        The services folder.

    Returns
    -------
    dict
        Service name to :class:`Service`, sorted by name.

    Raises
    ------
    ValueError
        If a file is malformed (the message names it).
    """
    return {path.parent.name: _service(path) for path in sorted(folder.glob("*/service.yaml"))}


def deploy_order(services: dict[str, Service]) -> list[str]:
    """Return the services in the order to deploy them: every consumer before its producers.

    A service that publishes to a topic is deployed after the service that topic triggers,
    so no message is ever published to a service that does not exist yet. Ties are broken
    by name.

    Parameters
    ----------
    services : dict
        The services.

    Returns
    -------
    list of str
        Service names.

    Raises
    ------
    ValueError
        If the services publish to each other in a cycle.
    """
    consumers = {s.topic: name for name, s in services.items() if s.topic}
    after = {
        name: {consumers[t] for t in s.publishes if consumers.get(t, name) != name}
        for name, s in services.items()
    }
    order: list[str] = []
    while len(order) < len(services):
        ready = sorted(n for n in services if n not in order and after[n] <= set(order))
        if not ready:
            raise ValueError(
                f"services publish to each other in a cycle: {sorted(set(services) - set(order))}"
            )
        order.append(ready[0])
    return order


def load(path: Path = RESOURCES, services: Path = SERVICES) -> Resources:
    """Load and check the resources file and the services' files.

    Parameters
    ----------
    path : Path
        The YAML file of buckets, topics, subscriptions, notifications and schedules.
    services : Path
        The folder whose ``*/service.yaml`` declare the services.

    Returns
    -------
    Resources
        The typed resources.

    Raises
    ------
    ValueError
        If a subscription names an unknown topic or service, a notification an unknown
        bucket or topic, a schedule an unknown or non-HTTP service or a bad cron expression,
        or a service an undeclared bucket or topic, a trigger no subscription serves, or a
        port another service uses.
    """
    raw = yaml.safe_load(path.read_text())
    if "services" in raw:
        raise ValueError(f"{path}: services are declared in services/<name>/service.yaml")
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
    declared = load_services(services)
    bucket_names = {b.name for b in buckets}
    for service in declared.values():
        where = services / service.name / "service.yaml"
        unknown = set(service.reads + service.writes) - bucket_names
        if unknown:
            raise ValueError(f"{where}: names undeclared buckets {sorted(unknown)}")
        stray = set(service.publishes) - set(topics)
        if stray:
            raise ValueError(f"{where}: publishes undeclared topics {sorted(stray)}")
        pushing = [s.name for s in subs if s.push_to == service.name]
        if service.topic and [s.topic for s in subs if s.push_to == service.name] != [
            service.topic
        ]:
            raise ValueError(
                f"{where}: trigger topic {service.topic} needs exactly one push subscription "
                f"of that topic to {service.name} (found {pushing})"
            )
        if not service.topic and pushing:
            raise ValueError(f"{where}: an http service is pushed to by {pushing}")
    ports = [s.local_port for s in declared.values()]
    if len(set(ports)) != len(ports):
        raise ValueError(f"{services}: two services share a local_port")
    for sub in subs:
        if sub.topic not in topics or (
            sub.dead_letter_topic and sub.dead_letter_topic not in topics
        ):
            raise ValueError(f"{path}: subscription {sub.name} names an unknown topic")
        if sub.push_to and sub.push_to not in declared:
            raise ValueError(
                f"{path}: subscription {sub.name} pushes to unknown service {sub.push_to}"
            )
    for note in notes:
        if note.bucket not in bucket_names or note.topic not in topics:
            raise ValueError(f"{path}: notification {note.bucket} -> {note.topic} is not declared")
    schedules = tuple(Schedule(**job) for job in raw.get("schedules", []))
    for job in schedules:
        target = declared.get(job.call)
        if target is None or target.signature != "http":
            raise ValueError(f"{path}: schedule {job.name} calls {job.call}, not an HTTP service")
        if not croniter.is_valid(job.cron):
            raise ValueError(f"{path}: schedule {job.name} has a bad cron expression {job.cron!r}")
        if not job.path.startswith("/"):
            raise ValueError(f"{path}: schedule {job.name}: path must start with '/'")
    deploy_order(declared)
    relay = int((raw.get("local") or {}).get("push_relay_port", 8110))
    return Resources(buckets, topics, subs, notes, declared, schedules, relay)
