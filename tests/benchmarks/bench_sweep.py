"""sweep: documents the light-curve sweep reads, at 1,000 and at 10,000 observations.

record-image marks an observation ``lightcurve_pending`` when a frame arrives; the sweep
(every 15 minutes) queries only pending, quiet observations and retires those processed since
their last frame. Here an archive of ``N`` processed observations plus ``PENDING`` quiet ones
with new frames is built in the in-memory store (Firestore's query semantics), and two sweeps
are measured: the first queues the pending ones, the second (after their runs) retires them.
Reference: what the former sweep read, every observation whose last frame is older than the
quiet time (all ``N + PENDING``), every 15 minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from panoptes_network.lightcurves.triggers import sweep
from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.settings import Settings
from tests.benchmarks.bench_reconcile import CountingDocuments
from tests.unit.fakes import MemoryBus, MemoryStore

SIZES = (1_000, 10_000)
PENDING = 10


def run() -> dict[str, Any]:
    """Measure two sweeps at each archive size.

    Returns
    -------
    dict
        Per size: documents read by the first and the second sweep, the former sweep's
        reads, and the growth of the reads from 1,000 to 10,000 observations.
    """
    now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    old, quiet = now - timedelta(days=30), now - timedelta(hours=1)
    out: dict[str, Any] = {}
    for size in SIZES:
        docs = CountingDocuments()
        for k in range(size):
            docs.merge(
                "observations",
                f"PAN001_14d3bd_{k:08d}",
                {
                    "last_image_received_time": old,
                    "last_processed": {"time": old + timedelta(hours=1)},
                    "lightcurve_pending": False,
                },
            )
        for k in range(PENDING):
            docs.merge(
                "observations",
                f"PAN002_0a0b0c_{k:08d}",
                {"last_image_received_time": quiet, "lightcurve_pending": True},
            )
        ctx = ChainContext(Settings(), MemoryStore(), MemoryBus(), docs, "bench", lambda: now)
        docs.reads = 0
        first = sweep(ctx, 30)
        first_reads = docs.reads
        for sequence_id in first["queued"]:  # their runs finish
            docs.merge("observations", sequence_id, {"last_processed": {"time": now}})
        docs.reads = 0
        second = sweep(ctx, 30)
        out[f"observations_{size}"] = {
            "queued": len(first["queued"]),
            "first_sweep_reads": first_reads,
            "second_sweep_reads": docs.reads,
            "second_sweep_queued": len(second["queued"]),
            "former_sweep_reads": size + PENDING,
        }
    small, large = (out[f"observations_{n}"] for n in SIZES)
    out["reads_growth_10x_archive"] = round(
        large["first_sweep_reads"] / small["first_sweep_reads"], 2
    )
    return out
