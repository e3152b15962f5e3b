"""``bin/key-index``: list frames, runs and light curves written before the key indexes existed.

    bin/key-index [--dry-run] [--page-size 300] [--json]

The Data Explorer reads an observation's frames and runs and a star's light curves by key,
through the key indexes the chain writes with each document
(:mod:`panoptes_network.pipeline.key_index`). This walks the images, processing runs and
light curves page by page (one page in memory), lists those their index lacks and prints
its progress after every page; a second run writes nothing. ``bin/sky-index`` does the same
for the sky cells. Against the local stack when it runs (``bin/key-index`` exports its
environment), else the Google Cloud project of your credentials.
"""

from __future__ import annotations

import argparse
import json
import sys

from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message
from panoptes_network.pipeline.key_index_backfill import (
    DEFAULT_PAGE_SIZE,
    KeyIndexReport,
    backfill_key_indexes,
)
from panoptes_network.pipeline.ports import MAX_BATCH_WRITES

__all__ = ["build_parser", "main"]

_PROG = "key-index"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/key-index``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/key-index",
        description=summary(__doc__),
        epilog="Against the local stack when it runs, else the Google Cloud project of your "
        "credentials. Safe beside the running chain: it only adds ids (ArrayUnion).",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be listed, write nothing"
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        help=f"documents read per page, 1 to {MAX_BATCH_WRITES} (default {DEFAULT_PAGE_SIZE})",
    )
    parser.add_argument("--json", action="store_true", help="print the final report as JSON")
    return parser


def _line(report: KeyIndexReport) -> str:
    read = ", ".join(f"{n} {c}" for c, n in report.read.items()) or "nothing"
    listed = ", ".join(f"{n} in {i}" for i, n in report.listed.items()) or "nothing"
    orphans = sum(report.without_owner.values())
    verb = "would list" if report.dry_run else "listed"
    return (
        f"{_PROG}: read {read} in {report.pages} page(s); {verb}: {listed}; "
        f"without an owner field: {orphans}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/key-index``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 done, 1 when neither the local stack nor Google Cloud answers, 2 for a
        bad page size.
    """
    args = build_parser().parse_args(argv)
    if not 1 <= args.page_size <= MAX_BATCH_WRITES:
        print(f"{_PROG}: --page-size must be 1 to {MAX_BATCH_WRITES}", file=sys.stderr)
        return 2
    from google.cloud import firestore

    from panoptes_network.adapters.firestore import FirestoreDocuments
    from panoptes_network.pipeline.settings import Settings

    settings = Settings.from_env()
    try:
        documents = FirestoreDocuments(firestore.Client(project=settings.project_id))
        report = backfill_key_indexes(
            documents,
            page_size=args.page_size,
            dry_run=args.dry_run,
            progress=lambda so_far: print(_line(so_far), file=sys.stderr, flush=True),
        )
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(_PROG, exc), file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict()) if args.json else _line(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
