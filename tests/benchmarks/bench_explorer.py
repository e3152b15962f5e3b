"""The Data Explorer's page times and Firestore reads on a big archive (Firestore emulator).

The emulator is seeded (``bin/seed-explorer``'s code) with a synthetic network of 1,000
observations, then of 10,000 (100,000 images; both with 1,000 stars of 20 light curves),
and at each size every page and its JSON twin is asked :data:`ROUNDS` times, round robin,
through the explorer's Flask app in this process (the WSGI app gunicorn serves, without the
HTTP hop). For each: median and p95 time (ms), and the Firestore documents one view reads
(counted at the document port: every document a get, batch read or query returned). The
reference, measured in the same rounds, is one document get from the emulator; ratios are
p95 over its median. Targets: p95 at most 300 ms per page; reads per view bounded, and the
same at both sizes.

Pages: the home page, an observation search by name with a radius (``M 42``, 10 degrees),
an observation page, a star page.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from panoptes_network.adapters.firestore import FirestoreDocuments
from panoptes_network.cli.seed_explorer import seed
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.network_records import NetworkSize, seed_star_ids
from tests.unit.fakes import CountsReads

#: Views of each page per size.
ROUNDS = int(os.environ.get("PANOPTES_BENCH_EXPLORER_ROUNDS", "40"))
#: The two sizes (observations).
SIZES = (1_000, 10_000)
#: p95 target per page (ms).
TARGET_P95_MS = 300.0


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _pages(size: NetworkSize, observation: str) -> dict[str, str]:
    picid = seed_star_ids(size)[size.stars // 2]
    pages = {
        "home": "/",
        "search_by_name": "/observations?name=M+42&radius=10",
        "observation": f"/observations/{observation}",
        "star": f"/stars/{picid}",
    }
    twins = {
        "home": "/api/v1/home",
        "search_by_name": "/api/v1/observations?name=M+42&radius=10",
        "observation": f"/api/v1/observations/{observation}",
        "star": f"/api/v1/stars/{picid}",
    }
    return {**pages, **{f"{name}_api": path for name, path in twins.items()}}


def _measure(client: Any, store: Any, pages: dict[str, str]) -> dict[str, Any]:
    times: dict[str, list[float]] = {name: [] for name in pages}
    reads: dict[str, set[int]] = {name: set() for name in pages}
    reference: list[float] = []
    for name, path in pages.items():  # warm up: templates, connections
        assert client.get(path).status_code == 200, (name, path)
    for _ in range(ROUNDS):
        for name, path in pages.items():
            store.reads = 0
            start = time.perf_counter()
            answer = client.get(path)
            times[name].append(time.perf_counter() - start)
            assert answer.status_code == 200, (name, path, answer.status_code)
            reads[name].add(store.reads)
        start = time.perf_counter()
        FirestoreDocuments.get(store, "units", "PAN900")  # uncounted
        reference.append(time.perf_counter() - start)
    ref = statistics.median(reference)
    out: dict[str, Any] = {"reference_get_ms": round(ref * 1e3, 2)}
    for name in pages:
        p95 = _percentile(times[name], 0.95)
        out[name] = {
            "median_ms": round(statistics.median(times[name]) * 1e3, 1),
            "p95_ms": round(p95 * 1e3, 1),
            "p95_over_reference": round(p95 / ref, 1),
            "reads_per_view": max(reads[name]),
            "meets_p95_target": p95 * 1e3 <= TARGET_P95_MS,
        }
    return out


def run() -> dict[str, Any]:
    """Seed the emulator at each size and measure every page; return the figures."""
    if not os.environ.get("FIRESTORE_EMULATOR_HOST"):
        raise RuntimeError("the explorer benchmark needs the local stack (bin/bench starts it)")
    from google.cloud import firestore

    from panoptes_network.adapters.explorer_web import create_app

    settings = Settings.from_env()

    class CountingFirestore(CountsReads, FirestoreDocuments):
        """The Firestore adapter, counting the documents each page view reads."""

    store = CountingFirestore(firestore.Client(project=settings.project_id))
    client = create_app(documents=store, settings=settings).test_client()
    figures: dict[str, Any] = {"rounds": ROUNDS}
    for observations in SIZES:
        size = NetworkSize(observations=observations)
        start = time.perf_counter()
        counts = seed(store.merge_many, size, progress=False)
        seconds = time.perf_counter() - start
        first = next(
            doc_id
            for doc_id, _ in store.query(
                "observations", [("unit_id", "==", "PAN900")], order_by="time", limit=1
            )
        )
        figures[f"{observations}_observations"] = {
            "seed_s": round(seconds, 1),
            "seeded": dict(counts),
            **_measure(client, store, _pages(size, first)),
        }
    small, big = (figures[f"{n}_observations"] for n in SIZES)
    figures["reads_same_at_both_sizes"] = all(
        small[name]["reads_per_view"] == big[name]["reads_per_view"]
        for name in small
        if isinstance(small[name], dict) and "reads_per_view" in small[name]
    )
    return figures
