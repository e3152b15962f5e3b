"""``bin/reconcile``: re-queue every upload and image that stopped short of a final state.

    bin/reconcile [--limit 500]

Runs the reconciler once, as its five-minute schedule does, and prints what it found: due
uploads and images, what it re-queued to which topic, what it gave up on, and the documents it
read. Against the local stack when it runs (``bin/reconcile`` exports its environment), else
the Google Cloud project of your credentials.
"""

from __future__ import annotations

import argparse
import json
import sys

from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message
from panoptes_network.ingest.reconcile import reconcile

__all__ = ["build_parser", "main"]

_PROG = "reconcile"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/reconcile``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/reconcile",
        description=summary(__doc__),
        epilog="Against the local stack when it runs, else the Google Cloud project of your "
        "credentials. Settings: PANOPTES_RECONCILE_AFTER_MINUTES (15), "
        "PANOPTES_STUCK_AFTER_MINUTES (30), PANOPTES_RECONCILE_MAX_ATTEMPTS (5).",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="most due uploads and most due images to read (default "
        "PANOPTES_RECONCILE_BATCH, else 500)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _summary(report: dict) -> str:
    requeued = ", ".join(f"{n} to {topic}" for topic, n in report["requeued"].items()) or "none"
    lines = [
        f"due: {report['uploads_due']} upload(s), {report['images_due']} image(s); "
        f"re-queued: {requeued}",
        f"gave up on: {len(report['failed'])} upload(s), {len(report['stuck'])} image(s); "
        f"documents read: {report['documents_read']}",
    ]
    lines += [f"  failed upload {uid}" for uid in report["failed"]]
    lines += [f"  stuck image {image_id}" for image_id in report["stuck"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/reconcile``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 done, 1 when neither the local stack nor Google Cloud answers, 2 for a
        bad limit.
    """
    args = build_parser().parse_args(argv)
    if args.limit is not None and not 1 <= args.limit <= 5000:
        print(f"{_PROG}: --limit must be 1 to 5000", file=sys.stderr)
        return 2
    from panoptes_network.adapters.runtime import chain_context

    try:
        report = reconcile(chain_context("bin/reconcile", documents=True), limit=args.limit)
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(_PROG, exc), file=sys.stderr)
        return 1
    answer = report.to_dict()
    print(json.dumps(answer) if args.json else _summary(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
