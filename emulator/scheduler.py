"""The local stand-in for Cloud Scheduler: run the ``schedules`` of ``infra/resources.yaml``.

``bin/dev up`` starts ``python -m emulator.scheduler`` beside the services. It POSTs each job's
JSON body to its service's local endpoint whenever the job's cron expression comes due, as
Cloud Scheduler does in the cloud, and logs one JSON line per call (``.dev/logs/scheduler.log``).
``python -m emulator.scheduler --run-now NAME`` calls one job once and prints the answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter

from infra.spec import Resources, Schedule, load
from panoptes_network.cli import summary

__all__ = ["job_url", "next_run", "call_job", "run_forever", "build_parser", "main"]


def job_url(resources: Resources, job: Schedule, host: str = "127.0.0.1") -> str:
    """Return the local URL a job calls.

    Parameters
    ----------
    resources : Resources
        The declared resources.
    job : Schedule
        The job.
    host : str
        Address of the local stack.

    Returns
    -------
    str
        ``http://<host>:<port><path>``.
    """
    return resources.local_endpoint(job.call, host).rstrip("/") + job.path


def next_run(job: Schedule, after: datetime) -> datetime:
    """Return the first time strictly after ``after`` at which the job comes due.

    Parameters
    ----------
    job : Schedule
        The job; its cron expression is read in its time zone.
    after : datetime
        A time zone aware instant.

    Returns
    -------
    datetime
        The next due instant, in UTC.
    """
    local = after.astimezone(ZoneInfo(job.time_zone))
    due = croniter(job.cron, local).get_next(datetime)
    return due.astimezone(timezone.utc)


def signed_headers(job: Schedule, identity: Path | None) -> dict[str, str]:
    """Return the headers of a job's call: JSON, and the scheduler account's ID token.

    Cloud Scheduler attaches an OIDC token of its service account; locally the token is made
    with the stack's key (``emulator/identity.py``), for the audience of the called service.

    Parameters
    ----------
    job : Schedule
        The job.
    identity : Path or None
        The stack's identity folder; None sends no token.

    Returns
    -------
    dict
        Request headers.
    """
    headers = {"Content-Type": "application/json"}
    if identity is not None:
        from emulator.identity import LocalSigner, ensure_key
        from panoptes_network.pipeline.settings import Settings

        settings = Settings.from_env()
        signer = LocalSigner(ensure_key(identity))
        token = signer.token(settings.account_email("scheduler"), settings.audience(job.call))
        headers["Authorization"] = f"Bearer {token}"
    return headers


def call_job(
    url: str, body: dict, timeout: float = 60.0, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """POST a job's JSON body and return the status and the start of the answer.

    Parameters
    ----------
    url : str
        Where to POST.
    body : dict
        The JSON body.
    timeout : float
        Seconds to wait for the answer.
    headers : dict, optional
        Request headers (default: JSON, no token).

    Returns
    -------
    tuple of (int, str)
        HTTP status (0 when the service did not answer) and up to 500 characters of the body.
    """
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers=headers or {"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read(500).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, f"no answer: {exc}"


def run_forever(
    resources: Resources,
    host: str = "127.0.0.1",
    *,
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    sleep: Callable[[float], None] = time.sleep,
    rounds: int | None = None,
    identity: Path | None = None,
) -> None:
    """Call every job when it comes due, forever (or for ``rounds`` calls, for tests).

    Parameters
    ----------
    resources : Resources
        The declared resources; their ``schedules`` are run.
    host : str
        Address of the local stack.
    now, sleep : callable
        The clock and the wait.
    rounds : int, optional
        Stop after this many calls.
    identity : Path, optional
        The stack's identity folder: calls carry the scheduler account's ID token.
    """
    if not resources.schedules:
        return
    due = {job.name: next_run(job, now()) for job in resources.schedules}
    jobs = {job.name: job for job in resources.schedules}
    done = 0
    while rounds is None or done < rounds:
        name = min(due, key=lambda n: due[n])
        wait = (due[name] - now()).total_seconds()
        if wait > 0:
            sleep(min(wait, 60.0))
            continue
        job = jobs[name]
        url = job_url(resources, job, host)
        status, text = call_job(url, job.body, headers=signed_headers(job, identity))
        print(
            json.dumps(
                {
                    "time": now().isoformat(),
                    "job": name,
                    "url": url,
                    "status": status,
                    "answer": text,
                }
            ),
            flush=True,
        )
        due[name] = next_run(job, now())
        done += 1


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m emulator.scheduler``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="python -m emulator.scheduler",
        description=summary(__doc__),
        epilog="bin/dev up starts it beside the services; it logs one JSON line per call.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address of the local stack (default %(default)s)"
    )
    parser.add_argument("--run-now", metavar="NAME", help="call one job once and print the answer")
    parser.add_argument(
        "--identity",
        type=Path,
        default=Path(__file__).resolve().parent.parent / ".dev" / "identity",
        help="the stack's identity folder: calls carry its scheduler ID token "
        "(default .dev/identity)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: run the schedules, or one job now."""
    args = build_parser().parse_args(argv)
    resources = load()
    if args.run_now:
        jobs = {job.name: job for job in resources.schedules}
        if args.run_now not in jobs:
            print(f"scheduler: no job {args.run_now!r}; jobs: {', '.join(jobs)}", file=sys.stderr)
            return 2
        job = jobs[args.run_now]
        status, text = call_job(
            job_url(resources, job, args.host),
            job.body,
            headers=signed_headers(job, args.identity),
        )
        print(f"{status} {text}")
        return 0 if 200 <= status < 300 else 1
    run_forever(resources, args.host, identity=args.identity)
    return 0


if __name__ == "__main__":
    sys.exit(main())
