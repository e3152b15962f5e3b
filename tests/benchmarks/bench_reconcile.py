"""reconcile: documents one reconciler run reads, at 1,000 and at 10,000 images.

The ledger and the images documents carry ``due_time`` only while they are unfinished, so a
run's query reads what is due and nothing else. Here an archive of ``N`` recorded uploads
and ``N`` images (of which ``DUE`` uploads and ``DUE`` images are due: stopped short of a
final state; one image in seven is in flight, due later) is built in the in-memory document
store with Firestore's query semantics, and one run of
:func:`~panoptes_network.ingest.reconcile.reconcile` is measured:

- ``documents_read``: every document the run read (query results and re-reads to update);
- ``scan_reads``: what a run that scanned both collections would read (the reference: 2 N);
- ``seconds``: its wall time on the in-memory store.

Figures for N = 1,000 and N = 10,000, and the ratio of the run's reads between the two (1.0:
its cost does not grow with the archive, only with what is due, and a run reads at most
``reconcile_batch`` of each kind).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from panoptes_network.ingest.reconcile import reconcile
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.settings import Settings
from tests.unit.fakes import CountingDocuments, MemoryBus, MemoryStore

SIZES = (1_000, 10_000)
DUE = 10


def _archive(size: int, now: datetime) -> CountingDocuments:
    docs = CountingDocuments()
    due = DUE
    past, future = now - timedelta(minutes=1), now + timedelta(minutes=10)
    for k in range(size):
        stuck = k < due
        docs.merge(
            "uploads",
            f"PAN001_14d3bd_20180216T110623_{k:06d}.fits@{k + 1}",
            {
                "object_name": f"PAN001/14d3bd/20180216T110623/{k:06d}.fits",
                "bucket": Settings().incoming_bucket,
                "generation": k + 1,
                "state": "routed" if stuck else "recorded",
                "final": not stuck,
                "archived_as": f"gs://{Settings().archive_bucket}/x/{k:06d}.fits@{k + 1}",
                "due_time": past if stuck else None,
            },
        )
        docs.merge(
            "images",
            f"PAN001_14d3bd_{k:06d}",
            {
                "status": "uploaded" if stuck else "measured",
                "bucket_path": f"PAN001/14d3bd/20180216T110623/{k:06d}.fits.fz",
                "due_time": past if stuck else (future if k % 7 == 0 else None),
            },
        )
    docs.reads = 0
    return docs


def run() -> dict[str, Any]:
    """Measure one reconciler run at each archive size.

    Returns
    -------
    dict
        Per size: documents read, the full-scan reference, due items, wall time; and the
        growth of the reads from the smallest to the largest archive.
    """
    now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    out: dict[str, Any] = {}
    for size in SIZES:
        docs = _archive(size, now)
        ctx = ChainContext(Settings(), MemoryStore(), MemoryBus(), docs, "bench", lambda: now)
        started = time.perf_counter()
        report = reconcile(ctx)
        seconds = time.perf_counter() - started
        out[f"images_{size}"] = {
            "due_uploads": report.uploads_due,
            "due_images": report.images_due,
            "requeued": sum(report.requeued.values()),
            "documents_read": docs.reads,
            "scan_reads": 2 * size,
            "reads_over_scan": round(docs.reads / (2 * size), 4),
            "seconds": round(seconds, 4),
        }
    small, large = (out[f"images_{n}"] for n in SIZES)
    out["reads_per_due_item"] = round(
        large["documents_read"] / (large["due_uploads"] + large["due_images"]), 2
    )
    out["reads_growth_10x_archive"] = round(large["documents_read"] / small["documents_read"], 2)
    return out
