"""``bin/seed-explorer``: fill the local Firestore emulator with a synthetic network.

    bin/seed-explorer [--observations 10000] [--images-per-observation 10] [--stars 1000]
                      [--lightcurves-per-star 20] [--points 40]

Writes what record-image, plate-solve, measure-sources and build-lightcurve would have
written for that network (:mod:`panoptes_network.simulation.network_records`): by default
10,000 observations, 100,000 images and 1,000 stars with 20 light curves each, with exact
counters and the sky index. For the Data Explorer's benchmark (``bin/bench explorer``) and
for trying the explorer on a big archive. Deterministic: seeding again rewrites the same
documents. Only against the local emulator (``FIRESTORE_EMULATOR_HOST``): it refuses to write
to a real project.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from panoptes_network.cli import summary
from panoptes_network.simulation.network_records import NetworkSize, network_documents

__all__ = ["build_parser", "main", "seed"]

#: Documents per batch write (Firestore's limit is 500 writes).
_BATCH = 400
#: Batches written at once.
_WRITERS = 4


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/seed-explorer``."""
    parser = argparse.ArgumentParser(prog="bin/seed-explorer", description=summary(__doc__))
    defaults = NetworkSize()
    for name in (
        "observations",
        "images_per_observation",
        "units",
        "stars",
        "lightcurves_per_star",
        "points",
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=getattr(defaults, name),
            help=f"default {getattr(defaults, name):,}",
        )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def seed(
    write: Callable[[list[tuple[str, str, dict[str, Any]]]], None],
    size: NetworkSize,
    *,
    progress: bool = True,
) -> Counter:
    """Write a synthetic network in batches, several at once; return the documents per collection.

    Parameters
    ----------
    write : callable
        Writes one batch of ``(collection, doc_id, fields)`` (``DocumentStore.merge_many``).
    size : NetworkSize
        How big.
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    collections.Counter
        Documents written per collection.
    """
    from tqdm import tqdm

    total = (
        size.observations * (size.images_per_observation + 1)
        + size.runs
        + size.stars * size.lightcurves_per_star
    )
    counts: Counter = Counter()
    bar = tqdm(total=total, unit="doc", disable=not progress, desc="seeding", file=sys.stderr)

    def batches(docs: Iterable[tuple[str, str, dict[str, Any]]]):
        batch: list[tuple[str, str, dict[str, Any]]] = []
        for doc in docs:
            counts[doc[0]] += 1
            batch.append(doc)
            if len(batch) == _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    with ThreadPoolExecutor(_WRITERS) as pool:
        pending = []
        for batch in batches(network_documents(size)):
            pending.append(pool.submit(write, batch))
            if len(pending) >= 2 * _WRITERS:
                done = pending.pop(0)
                done.result()
                bar.update(_BATCH)
        for done in pending:
            done.result()
    bar.update(total - bar.n)
    bar.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    """Seed the local emulator; return the exit status."""
    args = build_parser().parse_args(argv)
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        print(
            "seed-explorer: FIRESTORE_EMULATOR_HOST is not set: this writes only to the local "
            "Firestore emulator (start it with bin/dev up)",
            file=sys.stderr,
        )
        return 2
    size = NetworkSize(
        observations=args.observations,
        images_per_observation=args.images_per_observation,
        units=args.units,
        stars=args.stars,
        lightcurves_per_star=args.lightcurves_per_star,
        points=args.points,
    )
    from google.cloud import firestore

    from panoptes_network.adapters.firestore import FirestoreDocuments
    from panoptes_network.pipeline.settings import Settings

    documents = FirestoreDocuments(firestore.Client(project=Settings.from_env().project_id))
    counts = seed(documents.merge_many, size, progress=not args.quiet)
    print(", ".join(f"{n:,} {name}" for name, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
