r"""Make a project's buckets, topics, subscriptions, notifications and jobs match resources.yaml.

Idempotent: it creates what is missing, updates subscriptions whose settings differ, and
never deletes anything. The same file serves the local emulators and a real project::

    python -m infra.apply --emulator                 # uses the *_EMULATOR_HOST variables
    python -m infra.apply --project my-project --region us-central1 \\
        --push-service-account pusher@my-project.iam.gserviceaccount.com

On the emulators, a push subscription goes to ``http://127.0.0.1:<local_port>/`` of its
service, and bucket notifications are not created here: fake-gcs-server has no notification
API, so ``emulator/stack.py`` passes the notification to it as start-up flags. On Google
Cloud, push goes to the service's URL (``--endpoint-template``) with an OIDC token, and the
Pub/Sub service agent needs the publisher role on the dead-letter topic and the subscriber
role on the subscriptions (granted once; see README). Scheduler jobs are created or updated
with ``gcloud scheduler jobs`` (POST with the same OIDC service account); locally
``emulator/scheduler.py`` runs them instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1, storage
from google.protobuf import duration_pb2, field_mask_pb2

from infra.spec import Bucket, Resources, Schedule, Subscription, load
from panoptes_network.cli import summary
from panoptes_network.pipeline.settings import Settings

__all__ = ["apply", "build_parser", "scheduler_job_command"]

DEFAULT_ENDPOINT = "https://{region}-{project}.cloudfunctions.net/{service}"


def _subscription_request(
    sub: Subscription, project: str, endpoint: Callable[[str], str], service_account: str | None
) -> dict:
    request: dict = {
        "name": f"projects/{project}/subscriptions/{sub.name}",
        "topic": f"projects/{project}/topics/{sub.topic}",
        "ack_deadline_seconds": sub.ack_deadline_seconds,
    }
    if sub.push_to:
        push: dict = {"push_endpoint": endpoint(sub.push_to)}
        if service_account:
            push["oidc_token"] = {
                "service_account_email": service_account,
                "audience": Settings(project_id=project).audience(sub.push_to),
            }
        request["push_config"] = push
    if sub.minimum_backoff_seconds is not None:
        request["retry_policy"] = {
            "minimum_backoff": duration_pb2.Duration(seconds=sub.minimum_backoff_seconds),
            "maximum_backoff": duration_pb2.Duration(seconds=sub.maximum_backoff_seconds or 600),
        }
    if sub.dead_letter_topic:
        request["dead_letter_policy"] = {
            "dead_letter_topic": f"projects/{project}/topics/{sub.dead_letter_topic}",
            "max_delivery_attempts": sub.max_delivery_attempts or 5,
        }
    return request


def _differs(current: pubsub_v1.types.Subscription, wanted: dict) -> list[str]:
    paths = []
    if current.ack_deadline_seconds != wanted["ack_deadline_seconds"]:
        paths.append("ack_deadline_seconds")
    if current.push_config.push_endpoint != wanted.get("push_config", {}).get("push_endpoint", ""):
        paths.append("push_config")
    if "retry_policy" in wanted:
        want = wanted["retry_policy"]
        if (
            current.retry_policy.minimum_backoff.seconds != want["minimum_backoff"].seconds
            or current.retry_policy.maximum_backoff.seconds != want["maximum_backoff"].seconds
        ):
            paths.append("retry_policy")
    if "dead_letter_policy" in wanted:
        want = wanted["dead_letter_policy"]
        if (
            current.dead_letter_policy.dead_letter_topic != want["dead_letter_topic"]
            or current.dead_letter_policy.max_delivery_attempts != want["max_delivery_attempts"]
        ):
            paths.append("dead_letter_policy")
    return paths


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
        f"--message-body={json.dumps(job.body, sort_keys=True)}",
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


def _apply_schedules(
    resources: Resources,
    project: str,
    region: str,
    endpoint: Callable[[str], str],
    service_account: str | None,
    did: Callable[[str], None],
) -> None:
    for job in resources.schedules:
        url = endpoint(job.call).rstrip("/") + job.path
        described = subprocess.run(
            [
                "gcloud",
                "scheduler",
                "jobs",
                "describe",
                job.name,
                f"--project={project}",
                f"--location={region}",
                "--format=json",
            ],
            capture_output=True,
            text=True,
        )
        exists = described.returncode == 0
        argv = scheduler_job_command(job, project, region, url, service_account, exists=exists)
        subprocess.run(argv, check=True)
        did(f"{'updated' if exists else 'created'} scheduler job {job.name} -> {url}")


def _keep_rules(bucket: storage.Bucket, spec: Bucket) -> None:
    """Set a bucket's lifecycle rules and retention policy from its spec (Google Cloud)."""
    bucket.clear_lifecycle_rules()
    if spec.lifecycle_delete_age_days:
        bucket.add_lifecycle_delete_rule(age=spec.lifecycle_delete_age_days)
    if spec.noncurrent_delete_days:
        bucket.add_lifecycle_delete_rule(
            days_since_noncurrent_time=spec.noncurrent_delete_days, is_live=False
        )
    bucket.retention_period = spec.retention_days * 86400 if spec.retention_days else None


def _retention_differs(bucket: storage.Bucket, spec: Bucket) -> bool:
    wanted = spec.retention_days * 86400 if spec.retention_days else None
    return (int(bucket.retention_period) if bucket.retention_period else None) != wanted


def apply(
    resources: Resources,
    project: str,
    *,
    emulator: bool,
    endpoint: Callable[[str], str],
    service_account: str | None = None,
    location: str = "US",
    region: str = "us-central1",
    say: Callable[[str], None] = print,
    scheduler_account: str | None = None,
) -> list[str]:
    """Apply ``resources`` to ``project``.

    Parameters
    ----------
    resources : Resources
        What should exist.
    project : str
        Project id.
    emulator : bool
        True for the local emulators (no IAM, lifecycle or notification calls).
    endpoint : callable
        Maps a service name to its push endpoint URL.
    service_account : str, optional
        Service account whose OIDC token push requests carry (Google Cloud only).
    location : str
        Location of new buckets.
    region : str
        Region of the scheduler jobs (Google Cloud only; locally ``emulator/scheduler.py``
        runs them).
    say : callable
        Receives one line per change.
    scheduler_account : str, optional
        Service account whose OIDC token scheduler jobs carry (default
        ``service_account``); the scheduled services accept only the scheduler's.

    Returns
    -------
    list of str
        The changes made; empty when everything already matched.
    """
    changes: list[str] = []

    def did(line: str) -> None:
        changes.append(line)
        say(line)

    gcs = storage.Client(project=project)
    for spec in resources.buckets:
        try:
            bucket = gcs.get_bucket(spec.name)
        except gexc.NotFound:
            bucket = gcs.bucket(spec.name)
            bucket.versioning_enabled = spec.versioning
            if not emulator:
                _keep_rules(bucket, spec)
            bucket = gcs.create_bucket(bucket, location=None if emulator else location)
            did(f"created bucket {spec.name}")
        if bool(bucket.versioning_enabled) != spec.versioning or (
            not emulator and _retention_differs(bucket, spec)
        ):
            bucket.versioning_enabled = spec.versioning
            if not emulator:
                _keep_rules(bucket, spec)
            bucket.patch()
            did(f"updated versioning and retention of bucket {spec.name}")
        if not emulator and spec.public:
            policy = bucket.get_iam_policy(requested_policy_version=3)
            binding = {"role": "roles/storage.objectViewer", "members": {"allUsers"}}
            if not any(
                b["role"] == binding["role"] and "allUsers" in b["members"] for b in policy.bindings
            ):
                policy.bindings.append(binding)
                bucket.set_iam_policy(policy)
                did(f"made bucket {spec.name} publicly readable")

    publisher = pubsub_v1.PublisherClient()
    for topic in resources.topics:
        path = publisher.topic_path(project, topic)
        try:
            publisher.get_topic(topic=path)
        except gexc.NotFound:
            publisher.create_topic(name=path)
            did(f"created topic {topic}")

    subscriber = pubsub_v1.SubscriberClient()
    for sub in resources.subscriptions:
        wanted = _subscription_request(sub, project, endpoint, service_account)
        try:
            current = subscriber.get_subscription(subscription=wanted["name"])
        except gexc.NotFound:
            subscriber.create_subscription(request=wanted)
            target = wanted.get("push_config", {}).get("push_endpoint", "pull")
            did(f"created subscription {sub.name} -> {target}")
            continue
        paths = _differs(current, wanted)
        if paths:
            subscriber.update_subscription(
                request={
                    "subscription": wanted,
                    "update_mask": field_mask_pb2.FieldMask(paths=paths),
                }
            )
            did(f"updated subscription {sub.name}: {', '.join(paths)}")

    if not emulator:
        for note in resources.notifications:
            bucket = gcs.bucket(note.bucket)
            existing = [n for n in bucket.list_notifications() if n.topic_name == note.topic]
            if not existing:
                bucket.notification(
                    topic_name=note.topic,
                    topic_project=project,
                    event_types=list(note.events),
                    payload_format=note.payload_format,
                ).create()
                did(f"created notification {note.bucket} -> {note.topic}")
        _apply_schedules(
            resources, project, region, endpoint, scheduler_account or service_account, did
        )
    return changes


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m infra.apply``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="python -m infra.apply",
        description=summary(__doc__),
        epilog="Idempotent: it creates what is missing, updates subscriptions whose settings "
        "differ, and never deletes anything.",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--emulator",
        action="store_true",
        help="the local emulator stack (uses the *_EMULATOR_HOST variables)",
    )
    where.add_argument("--project", help="a Google Cloud project id")
    parser.add_argument(
        "--region",
        default="us-central1",
        help="region of the services and scheduler jobs on Google Cloud (default %(default)s)",
    )
    parser.add_argument(
        "--endpoint-template",
        default=DEFAULT_ENDPOINT,
        help="push URL of a service on Google Cloud (default: %(default)s)",
    )
    parser.add_argument(
        "--push-service-account",
        help="service account whose ID token pushes carry "
        "(default panoptes-push@PROJECT.iam.gserviceaccount.com, what the services accept)",
    )
    parser.add_argument(
        "--scheduler-service-account",
        help="service account whose ID token scheduler jobs carry "
        "(default panoptes-scheduler@PROJECT.iam.gserviceaccount.com)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: apply resources.yaml to the emulators or a project."""
    args = build_parser().parse_args(argv)
    resources = load()
    if args.emulator:
        missing = [
            v for v in ("STORAGE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST") if not os.environ.get(v)
        ]
        if missing:
            print(
                f'apply: {", ".join(missing)} not set; run: eval "$(bin/dev env)"', file=sys.stderr
            )
            return 2
        project = os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-panoptes")

        def endpoint(service: str) -> str:
            return resources.local_push_endpoint(service)
    else:
        project = args.project

        def endpoint(service: str) -> str:
            return args.endpoint_template.format(
                region=args.region, project=project, service=service
            )

    accounts = Settings(project_id=project)
    changes = apply(
        resources,
        project,
        emulator=args.emulator,
        endpoint=endpoint,
        service_account=None
        if args.emulator
        else (args.push_service_account or accounts.account_email("push")),
        scheduler_account=args.scheduler_service_account or accounts.account_email("scheduler"),
        region=args.region,
    )
    if not changes:
        print("apply: everything already matches infra/resources.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
