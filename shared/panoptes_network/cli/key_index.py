"""``bin/key-index``: list what was written before the explorer's key indexes existed.

    bin/key-index [--dry-run] [--page-size 200] [--json]

The Data Explorer reads an observation's frames and runs, a star's light curves and a sky
search's observations by key, through the key indexes the chain writes with each document
(:mod:`panoptes_network.pipeline.key_index`). This lists what older documents' indexes
lack, page by page (one page in memory), printing its progress after every page:

1. images, processing runs and light curves in their observation's or star's index
   (:mod:`panoptes_network.pipeline.key_index_backfill`);
2. the sky index of observations that lack it or hold an outdated one (HEALPix cells of
   the field, from the plate solution or the first frame's mount position), and every
   observation under its cells (:mod:`panoptes_network.ingest.sky_backfill`).

A second run writes nothing. Against the local stack when it runs (``bin/key-index``
exports its environment), else the Google Cloud project of your credentials.
"""

from __future__ import annotations

import argparse
import json
import sys

from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message
from panoptes_network.ingest.sky_backfill import SkyBackfillReport, backfill_sky_index
from panoptes_network.pipeline.key_index_backfill import KeyIndexReport, backfill_key_indexes
from panoptes_network.pipeline.ports import MAX_BATCH_WRITES

__all__ = ["DEFAULT_PAGE_SIZE", "build_parser", "main"]

_PROG = "key-index"
#: Documents read per page.
DEFAULT_PAGE_SIZE = 200


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
        "credentials. Safe beside the running chain: ids are only added (ArrayUnion), and an "
        "observation another step writes meanwhile is re-read and re-planned.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="count what would be written, write nothing"
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=DEFAULT_PAGE_SIZE,
        help=f"documents read per page, 1 to {MAX_BATCH_WRITES} (default {DEFAULT_PAGE_SIZE})",
    )
    parser.add_argument("--json", action="store_true", help="print the final reports as JSON")
    return parser


def _lists_line(report: KeyIndexReport) -> str:
    read = ", ".join(f"{n} {c}" for c, n in report.read.items()) or "nothing"
    listed = ", ".join(f"{n} in {i}" for i, n in report.listed.items()) or "nothing"
    verb = "would list" if report.dry_run else "listed"
    return (
        f"{_PROG}: read {read} in {report.pages} page(s); {verb}: {listed}; "
        f"without an owner field: {sum(report.without_owner.values())}"
    )


def _sky_line(report: SkyBackfillReport) -> str:
    indexed = ", ".join(f"{n} {source}" for source, n in sorted(report.indexed.items())) or "0"
    verb = "would index" if report.dry_run else "indexed"
    return (
        f"{_PROG}: sky index: {report.observations_read} observation(s) read in "
        f"{report.pages} page(s); {verb}: {indexed}; unchanged: {report.unchanged}; "
        f"without a pointing: {report.without_pointing}; "
        f"cell listings {'to write' if report.dry_run else 'written'}: {report.listed}; "
        f"images read: {report.images_read}; cell documents read: {report.cells_read}"
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
        lists = backfill_key_indexes(
            documents,
            page_size=args.page_size,
            dry_run=args.dry_run,
            progress=lambda so_far: print(_lists_line(so_far), file=sys.stderr, flush=True),
        )
        sky = backfill_sky_index(
            documents,
            page_size=args.page_size,
            dry_run=args.dry_run,
            progress=lambda so_far: print(_sky_line(so_far), file=sys.stderr, flush=True),
        )
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(_PROG, exc), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"lists": lists.to_dict(), "sky": sky.to_dict()}))
    else:
        print(_lists_line(lists))
        print(_sky_line(sky))
    return 0


if __name__ == "__main__":
    sys.exit(main())
