"""Deploy services to Google Cloud: ``bin/deploy SERVICE... | --all [--project P] [--dry-run]``.

Everything about a service comes from its ``services/<name>/service.yaml`` (see
:mod:`infra.spec`): nothing is hard-coded here. Each service is staged as a bundle
(:mod:`infra.bundle`: its folder, the ``panoptes_network`` source and the slice of
``requirements.lock`` it needs, every line pinned and hashed), then deployed:

- ``kind: function`` as a Cloud Functions (gen 2) HTTP function, followed by
  ``gcloud run services update --set-custom-audiences`` on the Cloud Run service beneath it;
- ``kind: run`` as a Cloud Run service built from the folder's ``Dockerfile``.

Each runs as its own service account, with the memory, CPU, timeout, concurrency, instance
limit and environment of its file. Private services refuse unauthenticated calls (Cloud Run
IAM) and accept ID tokens whose audience is ``panoptes-network/<service>``, which the code
checks as well. ``--all`` deploys every service in dependency order: a service is deployed
after the services its messages go to (:func:`infra.spec.deploy_order`).

``--dry-run`` stages each bundle, proves it installs from its hashed requirements and imports
in a clean virtual environment, and prints the commands without running them. The project's
service accounts, buckets, topics, push subscriptions and IAM come from
``python -m infra.apply --project P`` (run it before and after the first deployment).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from infra.bundle import BundleError, check_bundle, stage
from infra.spec import Resources, Service, deploy_order, load
from panoptes_network.pipeline.settings import Settings

__all__ = ["deploy_commands", "env_flag", "resolve_project", "build_parser", "main"]

ROOT = Path(__file__).resolve().parent.parent
STAGING = ROOT / ".dev" / "deploy"
#: Project id printed in dry runs when none is given or configured.
PLACEHOLDER_PROJECT = "PROJECT_ID"


def env_flag(env: dict[str, str]) -> str:
    """Return ``--set-env-vars`` for ``env``, escaping the delimiter when a value has a comma.

    Parameters
    ----------
    env : dict
        Variable name to value.

    Returns
    -------
    str
        ``--set-env-vars=K=V,K2=V2`` (or gcloud's ``^;^`` alternate-delimiter form).
    """
    pairs = [f"{key}={value}" for key, value in sorted(env.items())]
    if any("," in pair for pair in pairs):
        if any(";" in pair for pair in pairs):
            raise ValueError("environment values may not contain both ',' and ';'")
        return "--set-env-vars=^;^" + ";".join(pairs)
    return "--set-env-vars=" + ",".join(pairs)


def deploy_commands(service: Service, source: Path, project: str, region: str) -> list[list[str]]:
    """Return the ``gcloud`` commands that deploy a staged service.

    Parameters
    ----------
    service : Service
        The service, as its ``service.yaml`` declares it.
    source : Path
        Its staged bundle.
    project, region : str
        Where to deploy.

    Returns
    -------
    list of list of str
        For a function: ``gcloud functions deploy`` then ``gcloud run services update``
        (custom audience). For Cloud Run: one ``gcloud run deploy``.
    """
    audience = Settings(project_id=project).audience(service.name)
    common = [
        f"--project={project}",
        f"--region={region}",
        f"--source={source}",
        f"--memory={service.memory}",
        f"--timeout={service.timeout_seconds}s",
        f"--concurrency={service.concurrency}",
        f"--service-account={service.account_email(project)}",
        "--allow-unauthenticated" if service.public else "--no-allow-unauthenticated",
        env_flag({"GOOGLE_CLOUD_PROJECT": project, **service.env}),
    ]
    if service.cpu:
        common.append(f"--cpu={service.cpu}")
    if service.max_instances:
        common.append(f"--max-instances={service.max_instances}")
    if service.kind == "run":
        return [
            ["gcloud", "run", "deploy", service.name, *common, f"--set-custom-audiences={audience}"]
        ]
    function = [
        "gcloud",
        "functions",
        "deploy",
        service.name,
        "--gen2",
        f"--runtime={service.runtime}",
        f"--entry-point={service.entry_point}",
        "--trigger-http",
        *common,
    ]
    audiences = [
        "gcloud",
        "run",
        "services",
        "update",
        service.name,
        f"--project={project}",
        f"--region={region}",
        f"--set-custom-audiences={audience}",
    ]
    return [function, audiences]


def resolve_project(given: str | None, *, dry_run: bool) -> str | None:
    """Return the project to deploy to: ``--project``, the environment, or gcloud's setting.

    Parameters
    ----------
    given : str, optional
        The ``--project`` argument.
    dry_run : bool
        Fall back to :data:`PLACEHOLDER_PROJECT` when nothing is configured.

    Returns
    -------
    str or None
        The project id, or None when none is known and this is not a dry run.
    """
    if given:
        return given
    if os.environ.get("GOOGLE_CLOUD_PROJECT"):
        return os.environ["GOOGLE_CLOUD_PROJECT"]
    if shutil.which("gcloud"):
        found = subprocess.run(
            ["gcloud", "config", "get-value", "project"], capture_output=True, text=True
        ).stdout.strip()
        if found and found != "(unset)":
            return found
    return PLACEHOLDER_PROJECT if dry_run else None


def build_parser(resources: Resources | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/deploy``.

    Parameters
    ----------
    resources : Resources, optional
        The declared resources, whose services are the choices (loaded by default).

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    resources = resources or load()
    names = sorted(resources.services)
    parser = argparse.ArgumentParser(
        prog="bin/deploy",
        description="Deploy services to Google Cloud as their services/<name>/service.yaml "
        "declares.",
        epilog="First deployment of a project: python -m infra.apply --project P; bin/deploy "
        "--all --project P; python -m infra.apply --project P (README: Google Cloud).",
    )
    parser.add_argument(
        "services",
        nargs="*",
        metavar="SERVICE",
        help=f"services to deploy, of: {', '.join(names)}",
    )
    parser.add_argument(
        "--all", action="store_true", help="every service, in dependency order (consumers first)"
    )
    parser.add_argument(
        "--project",
        help="Google Cloud project id (default: $GOOGLE_CLOUD_PROJECT, then gcloud's project)",
    )
    parser.add_argument(
        "--region", default="us-central1", help="region to deploy to (default %(default)s)"
    )
    parser.add_argument(
        "--bucket-prefix",
        default=os.environ.get("PANOPTES_BUCKET_PREFIX", ""),
        help="prefix of every bucket name, as given to infra.apply; the services' "
        "environment then names each bucket (default: $PANOPTES_BUCKET_PREFIX, else none)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="stage each bundle, check it installs and imports in a clean virtual environment, "
        "print the commands; run nothing on Google Cloud",
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="with --dry-run: skip the clean-environment install check",
    )
    return parser


def _chosen(resources: Resources, args: argparse.Namespace) -> list[str] | str:
    """Return the services to deploy in order, or a message saying what is wrong."""
    if args.all == bool(args.services):
        return "name one or more services, or --all"
    unknown = sorted(set(args.services) - set(resources.services))
    if unknown:
        return f"unknown services {unknown}; known: {', '.join(sorted(resources.services))}"
    wanted = set(resources.services) if args.all else set(args.services)
    return [name for name in deploy_order(resources.services) if name in wanted]


def main(argv: list[str] | None = None, *, run: Callable[..., int] = subprocess.call) -> int:
    """Command line of ``bin/deploy``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).
    run : callable
        Runs one command line and returns its exit status (``subprocess.call``).

    Returns
    -------
    int
        0 on success, 1 when a deployment or bundle check failed, 2 for bad arguments.
    """
    resources = load()
    parser = build_parser(resources)
    args = parser.parse_args(argv)
    try:
        resources = resources.renamed(args.bucket_prefix)
    except ValueError as exc:
        parser.error(str(exc))
    chosen = _chosen(resources, args)
    if isinstance(chosen, str):
        parser.error(chosen)
    project = resolve_project(args.project, dry_run=args.dry_run)
    if project is None:
        parser.error("no project: give --project, set GOOGLE_CLOUD_PROJECT or gcloud's project")
    if not args.dry_run and shutil.which("gcloud") is None:
        print(
            "deploy: gcloud is not installed (https://cloud.google.com/sdk/docs/install)",
            file=sys.stderr,
        )
        return 2
    for number, name in enumerate(chosen, 1):
        service = resources.services[name]
        print(f"deploy: [{number}/{len(chosen)}] {name} ({service.kind})", file=sys.stderr)
        source = stage(name, service.extras, STAGING)
        if args.dry_run and not args.no_check:
            try:
                check_bundle(
                    source, service.entry_point, say=lambda line: print(line, file=sys.stderr)
                )
            except BundleError as exc:
                print(f"deploy: {name}: {exc}", file=sys.stderr)
                return 1
        for command in deploy_commands(service, source, project, args.region):
            print(shlex.join(command))
            if args.dry_run:
                continue
            status = run(command)
            if status != 0:
                print(
                    f"deploy: {name}: {command[1]} {command[2]} failed (exit {status}); "
                    f"the services before it in the order are deployed",
                    file=sys.stderr,
                )
                return 1
    if args.dry_run:
        print(f"deploy: dry run: {len(chosen)} service(s) staged in {STAGING}", file=sys.stderr)
    else:
        print(
            f"deploy: {len(chosen)} service(s) deployed; now wire them: "
            f"python -m infra.apply --project {project} --region {args.region}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
