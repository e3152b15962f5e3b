"""Deploy one service to Google Cloud: ``bin/deploy <service> --project P [--dry-run]``.

The service folder is staged with a copy of the shared package beside it (its
``requirements.txt`` installs ``./shared[cloud]``), then deployed with the memory and timeout
of ``infra/resources.yaml``: a ``kind: function`` as a Cloud Functions (gen 2) HTTP function,
a ``kind: run`` (plate-solve, which needs astrometry.net) as a Cloud Run service built from
its Dockerfile. Pub/Sub services are
fed by the push subscriptions that ``python -m infra.apply --project P`` creates (with an
OIDC token), so they are deployed without public access; public services (get-fits-header)
allow unauthenticated calls. ``--dry-run`` stages and prints the command without running it.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from infra.spec import Resources, Service, load

__all__ = ["stage", "deploy_command", "build_parser", "main"]

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = "python311"


def stage(service: Service, into: Path) -> Path:
    """Copy a service and the shared package into a clean build folder.

    Parameters
    ----------
    service : Service
        The service to stage.
    into : Path
        Parent folder; ``<into>/<service>`` is replaced.

    Returns
    -------
    Path
        The staged source folder.
    """
    source = ROOT / "services" / service.name
    target = into / service.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shared = target / "shared"
    shared.mkdir()
    shutil.copy2(ROOT / "shared" / "pyproject.toml", shared / "pyproject.toml")
    shutil.copytree(
        ROOT / "shared" / "panoptes_network",
        shared / "panoptes_network",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return target


def deploy_command(service: Service, source: Path, project: str, region: str) -> list[str]:
    """Return the ``gcloud`` command that deploys a staged service.

    Parameters
    ----------
    service : Service
        The service.
    source : Path
        Its staged folder.
    project, region : str
        Where to deploy.

    Returns
    -------
    list of str
        The command line: ``gcloud run deploy`` (built from the service's Dockerfile) for
        Cloud Run services, ``gcloud functions deploy`` for functions.
    """
    access = "--allow-unauthenticated" if service.public else "--no-allow-unauthenticated"
    if service.kind == "run":
        command = [
            "gcloud",
            "run",
            "deploy",
            service.name,
            f"--project={project}",
            f"--region={region}",
            f"--source={source}",
            f"--memory={service.memory}",
            f"--timeout={service.timeout_seconds}s",
            access,
            f"--set-env-vars=GOOGLE_CLOUD_PROJECT={project}",
        ]
        if service.concurrency:
            command.append(f"--concurrency={service.concurrency}")
        return command
    return [
        "gcloud",
        "functions",
        "deploy",
        service.name,
        "--gen2",
        f"--runtime={RUNTIME}",
        f"--project={project}",
        f"--region={region}",
        f"--source={source}",
        f"--entry-point={service.entry_point}",
        "--trigger-http",
        f"--memory={service.memory}",
        f"--timeout={service.timeout_seconds}s",
        access,
        f"--set-env-vars=GOOGLE_CLOUD_PROJECT={project}",
    ]


def build_parser(resources: Resources | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/deploy``.

    Parameters
    ----------
    resources : Resources, optional
        The declared resources, whose services are the choices (``infra/resources.yaml`` by
        default).

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    resources = resources or load()
    parser = argparse.ArgumentParser(
        prog="bin/deploy",
        description="Deploy one service to Google Cloud, with the memory and timeout of "
        "infra/resources.yaml.",
        epilog="Apply infra first (once per change): python -m infra.apply --project P",
    )
    parser.add_argument(
        "service",
        choices=sorted(resources.services),
        metavar="SERVICE",
        help=f"the service to deploy, one of: {', '.join(sorted(resources.services))}",
    )
    parser.add_argument("--project", required=True, help="the Google Cloud project id")
    parser.add_argument(
        "--region", default="us-central1", help="the region to deploy to (default %(default)s)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="stage and print the command, do not run it"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/deploy``."""
    resources = load()
    args = build_parser(resources).parse_args(argv)
    service = resources.services[args.service]
    source = stage(service, ROOT / ".dev" / "deploy")
    command = deploy_command(service, source, args.project, args.region)
    print(shlex.join(command))
    if args.dry_run:
        return 0
    if shutil.which("gcloud") is None:
        print(
            "deploy: gcloud is not installed (https://cloud.google.com/sdk/docs/install)",
            file=sys.stderr,
        )
        return 2
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main())
