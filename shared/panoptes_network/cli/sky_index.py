"""``bin/sky-index``: give older observations the sky index the explorer's sky search needs.

    bin/sky-index [--dry-run] [--page-size 200] [--limit N] [--json]

Walks the observations collection page by page (one page in memory) and writes each
document's sky index (HEALPix cells of its field, from its plate solution or its first
frame's mount position) when it is missing or outdated, and lists each indexed observation
under its cells in the sky cells key index where a listing is missing (observations
indexed before the key index existed); prints its progress after every page. A second run
writes nothing. Against the local stack when it runs (``bin/sky-index``
exports its environment), else the Google Cloud project of your credentials.
"""

from __future__ import annotations

import argparse
import json
import sys

from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message
from panoptes_network.ingest.sky_backfill import (
    DEFAULT_PAGE_SIZE,
    SkyBackfillReport,
    backfill_sky_index,
)
from panoptes_network.pipeline.ports import MAX_BATCH_WRITES

__all__ = ["build_parser", "main"]

_PROG = "sky-index"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/sky-index``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/sky-index",
        description=summary(__doc__),
        epilog="Against the local stack when it runs, else the Google Cloud project of your "
        "credentials. Safe beside the running chain: a document another step writes "
        "meanwhile is re-read and re-planned.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be written, write nothing"
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        help=f"observations read (and written in one batch) per page, 1 to {MAX_BATCH_WRITES} "
        f"(default {DEFAULT_PAGE_SIZE})",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="most observations to read (default: all)"
    )
    parser.add_argument("--json", action="store_true", help="print the final report as JSON")
    return parser


def _line(report: SkyBackfillReport) -> str:
    indexed = ", ".join(f"{n} {source}" for source, n in sorted(report.indexed.items())) or "0"
    verb = "would index" if report.dry_run else "indexed"
    return (
        f"{_PROG}: {report.observations_read} observation(s) read in {report.pages} page(s); "
        f"{verb}: {indexed}; unchanged: {report.unchanged}; "
        f"without a pointing: {report.without_pointing}; "
        f"cell listings {'to write' if report.dry_run else 'written'}: {report.listed}; "
        f"images read: {report.images_read}; cell documents read: {report.cells_read}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/sky-index``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 done, 1 when neither the local stack nor Google Cloud answers, 2 for a
        bad page size or limit.
    """
    args = build_parser().parse_args(argv)
    if not 1 <= args.page_size <= MAX_BATCH_WRITES:
        print(f"{_PROG}: --page-size must be 1 to {MAX_BATCH_WRITES}", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print(f"{_PROG}: --limit must be 1 or more", file=sys.stderr)
        return 2
    from google.cloud import firestore

    from panoptes_network.adapters.firestore import FirestoreDocuments
    from panoptes_network.pipeline.settings import Settings

    settings = Settings.from_env()
    try:
        documents = FirestoreDocuments(firestore.Client(project=settings.project_id))
        report = backfill_sky_index(
            documents,
            page_size=args.page_size,
            limit=args.limit,
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
