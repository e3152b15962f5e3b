r"""Make a project match infra/resources.yaml and the services' service.yaml files.

Safe to run again: what already matches is left as it is. The same declarations serve the
local emulators and a real project::

    python -m infra.apply --emulator                       # uses the *_EMULATOR_HOST variables
    python -m infra.apply --project my-project --dry-run   # print the plan, change nothing
    python -m infra.apply --project my-project             # carry it out

On the emulators it creates the buckets, topics and subscriptions (a push subscription goes
to the push relay, which signs each push and forwards it to the service); fake-gcs-server's
notification comes from start-up flags (``emulator/stack.py``). On Google Cloud it reads the
project with ``gcloud`` (:mod:`infra.project_state`), compares it with the declarations
(:mod:`infra.plan`) and runs the steps: APIs, service accounts, the Firestore database, its
indexes and rules (the files ``firebase.json`` names), buckets with their versioning,
lifecycle and retention, topics, least-privilege IAM (drift removed), push subscriptions to
each service's real URL with an OIDC token of ``panoptes-push``, bucket notifications and
Cloud Scheduler jobs with the token of ``panoptes-scheduler``. Steps that need a service
not deployed yet wait: run it again after ``bin/deploy --all``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from collections.abc import Callable

import requests
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1, storage
from google.protobuf import duration_pb2, field_mask_pb2

from infra.gcloud import GcloudError, Shell
from infra.plan import Step, execute, plan, summarise
from infra.project_state import ProjectState, read_state
from infra.rules_api import FirebaseRules
from infra.spec import Resources, Subscription, load
from panoptes_network.cli import summary

__all__ = ["apply", "build_parser", "print_plan", "main"]


def _subscription_request(sub: Subscription, project: str, endpoint: Callable[[str], str]) -> dict:
    """Return the emulator's subscription request (the push relay signs pushes, not Pub/Sub)."""
    request: dict = {
        "name": f"projects/{project}/subscriptions/{sub.name}",
        "topic": f"projects/{project}/topics/{sub.topic}",
        "ack_deadline_seconds": sub.ack_deadline_seconds,
    }
    if sub.push_to:
        request["push_config"] = {"push_endpoint": endpoint(sub.push_to)}
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


def apply(
    resources: Resources,
    project: str,
    *,
    endpoint: Callable[[str], str],
    say: Callable[[str], None] = print,
) -> list[str]:
    """Apply ``resources`` to the local emulators (``*_EMULATOR_HOST`` in the environment).

    Parameters
    ----------
    resources : Resources
        What should exist.
    project : str
        Project id of the emulators.
    endpoint : callable
        Maps a service name to its push endpoint URL (the push relay's).
    say : callable
        Receives one line per change.

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
            bucket = gcs.create_bucket(bucket)
            did(f"created bucket {spec.name}")
        if bool(bucket.versioning_enabled) != spec.versioning:
            bucket.versioning_enabled = spec.versioning
            bucket.patch()
            did(f"updated versioning of bucket {spec.name}")

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
        wanted = _subscription_request(sub, project, endpoint)
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
        epilog="Safe to run again: what already matches is left as it is. On Google Cloud "
        "it removes only IAM grants to the network's own accounts (or to the public) that "
        "nothing declares; it never deletes a bucket, topic or subscription.",
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
        "--location",
        default="US",
        help="location of new buckets on Google Cloud (default %(default)s)",
    )
    parser.add_argument(
        "--bucket-prefix",
        default=os.environ.get("PANOPTES_BUCKET_PREFIX", ""),
        help="Google Cloud: prefix of every bucket name, for a project other than the "
        "network's own (bucket names are global); give bin/deploy the same "
        "(default: $PANOPTES_BUCKET_PREFIX, else none)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Google Cloud: print the plan (what it would create, update, remove or leave) "
        "with the commands, and change nothing",
    )
    return parser


def print_plan(steps: list[Step], say: Callable[[str], None] = print) -> None:
    """Print a plan: one line per step, with the command of each change.

    Parameters
    ----------
    steps : list of Step
        The plan.
    say : callable
        Receives the lines.
    """
    for step in steps:
        why = f" ({step.why})" if step.why else ""
        say(f"{step.action:<7} {step.what}{why}")
        if step.command:
            say(f"        $ {shlex.join(step.command)}")
        elif step.changes:
            say("        (Firebase Rules API: create a ruleset and release it to cloud.firestore)")
    say(f"plan: {summarise(steps)}")


def _cloud(args: argparse.Namespace, resources: Resources) -> int:
    """Plan, and unless ``--dry-run`` carry out, the changes to a real project."""
    gcloud = Shell()
    rules = FirebaseRules(args.project)

    def progress(line: str) -> None:
        print(f"apply: {line}", file=sys.stderr)

    try:
        state = read_state(
            gcloud, resources, args.project, args.region, rules=rules.current, say=progress
        )
    except (GcloudError, OSError, subprocess.SubprocessError, requests.RequestException) as exc:
        if not args.dry_run:
            print(f"apply: cannot read project {args.project}: {exc}", file=sys.stderr)
            return 2
        print(
            f"apply: cannot read project {args.project} ({exc}); "
            "the plan below assumes an empty project",
            file=sys.stderr,
        )
        state = ProjectState(args.project)
    steps = plan(resources, state, args.region, location=args.location, release_rules=rules.release)
    print_plan(steps)
    if args.dry_run:
        return 0
    try:
        execute(steps, gcloud, say=progress)
    except (GcloudError, requests.RequestException) as exc:
        print(f"apply: stopped: {exc}", file=sys.stderr)
        return 1
    waiting = [s for s in steps if s.action == "wait"]
    if waiting:
        print(
            f"apply: {len(waiting)} step(s) wait for services to be deployed: bin/deploy --all "
            f"--project {args.project}, then run this again",
            file=sys.stderr,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: apply the declarations to the emulators or a project."""
    args = build_parser().parse_args(argv)
    resources = load()
    if not args.emulator:
        try:
            resources = resources.renamed(args.bucket_prefix)
        except ValueError as exc:
            print(f"apply: {exc}", file=sys.stderr)
            return 2
        return _cloud(args, resources)
    if args.dry_run:
        print("apply: --dry-run plans a Google Cloud project (--project P)", file=sys.stderr)
        return 2
    missing = [
        v for v in ("STORAGE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST") if not os.environ.get(v)
    ]
    if missing:
        print(f'apply: {", ".join(missing)} not set; run: eval "$(bin/dev env)"', file=sys.stderr)
        return 2
    project = os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-panoptes")
    changes = apply(resources, project, endpoint=resources.local_push_endpoint)
    if not changes:
        print("apply: everything already matches the declarations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
