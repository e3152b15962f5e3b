"""lookup-field latency: in process against the bare cone search, over HTTP against OPTIONS.

The catalog is the default local file
(:func:`~panoptes_network.catalog.local_file.default_catalog_path`; skipped when missing), opened
once as the service does. Three kinds of search string, cycled over fixed lists (:data:`NAMES`,
:data:`COORDINATES`, and PICIDs taken from a first answer):

- in process, :data:`IN_PROCESS_RUNS` calls of
  :func:`~panoptes_network.catalog.field_lookup.lookup_field` per kind (default request: 1-degree
  cone, V 6 to 13), interleaved with the reference: a bare
  :meth:`~panoptes_network.catalog.local_file.LocalCatalog.cone_search` of the same cone. The ratio
  is the median lookup over the median bare cone search: what parsing, name resolution,
  sorting and building the JSON-ready answer add;
- over HTTP, when ``STORAGE_EMULATOR_HOST`` is set (``bin/bench`` sets it) and the stack's
  lookup-field answers on its port (8096, from ``infra/resources.yaml``) on the same host:
  :data:`HTTP_RUNS` GET requests per kind, interleaved with the reference, an ``OPTIONS``
  request to the same service (the HTTP round trip and functions-framework, without the
  lookup). Otherwise that part is reported as skipped.

Each part reports median and 95th percentile latencies and the ratios. One warm-up call of
each kind precedes the timed runs.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from panoptes_network.catalog.field_lookup import lookup_field
from panoptes_network.catalog.local_file import LocalCatalog, default_catalog_path
from panoptes_network.catalog.target_names import bundled_target_names

#: Timed in-process calls per kind of search string.
IN_PROCESS_RUNS = 200
#: Timed HTTP requests per kind of search string.
HTTP_RUNS = 100
#: Names looked up (all in the offline table), cycled.
NAMES = [
    "HD 189733",
    "M 42",
    "wasp-33",
    "Betelgeuse",
    "alpha Ori",
    "KIC 8462852",
    "m31",
    "Kepler-452",
    "Vega",
    "TRAPPIST-1",
]
#: Coordinates looked up, every form, cycled (RA wrap and a pole included).
COORDINATES = [
    "303.21 46.02",
    "303.21, +46.02",
    "20h06m15.45s +44d27m24.8s",
    "20:06:15.45 +44:27:24.8",
    "20 06 15.45 +44 27 24.8",
    "0.2 -0.5",
    "12 00 00 +89 54 00",
    "05 35 17.3 -05 23 28",
    "100.0 5.0",
    "250.5 -30.25",
]
#: Service whose port is used for the HTTP part.
SERVICE = "lookup-field"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _summary(times: list[float], reference: list[float]) -> dict[str, Any]:
    median, ref_median = statistics.median(times), statistics.median(reference)
    return {
        "runs": len(times),
        "median_s": median,
        "p95_s": _percentile(times, 0.95),
        "reference_median_s": ref_median,
        "reference_p95_s": _percentile(reference, 0.95),
        "ratio_median": median / ref_median,
    }


def _interleaved(
    calls: list[Callable[[], Any]], references: list[Callable[[], Any]], runs: int
) -> tuple[list[float], list[float]]:
    """Time ``calls[i % n]`` and ``references[i % n]`` alternately, one warm-up each."""
    calls[0]()
    references[0]()
    times: list[float] = []
    reference: list[float] = []
    gc.collect()
    for i in range(runs):
        for funcs, out in ((calls, times), (references, reference)):
            start = time.perf_counter()
            funcs[i % len(funcs)]()
            out.append(time.perf_counter() - start)
    return times, reference


def _centres(catalog: LocalCatalog, names, texts: list[str]) -> list[tuple[float, float]]:
    centres = []
    for text in texts:
        status, body = lookup_field({"search_string": text}, catalog, names)
        if status != 200:
            raise RuntimeError(f"{text!r} answered {status}: {body}")
        centres.append((body["ra"], body["dec"]))
    return centres


def _in_process(catalog: LocalCatalog, names, kinds: dict[str, list[str]]) -> dict[str, Any]:
    figures = {}
    for kind, texts in kinds.items():
        centres = _centres(catalog, names, texts)
        calls = [(lambda t=t: lookup_field({"search_string": t}, catalog, names)) for t in texts]
        cones = [(lambda c=c: catalog.cone_search(c[0], c[1], 1.0)) for c in centres]
        figures[kind] = _summary(*_interleaved(calls, cones, IN_PROCESS_RUNS))
    return figures


def _service_url() -> str | None:
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if not emulator:
        return None
    from infra.spec import load

    host = urlsplit(emulator if "://" in emulator else f"http://{emulator}").hostname
    return f"http://{host}:{load().services[SERVICE].local_port}/"


def _http(url: str, kinds: dict[str, list[str]]) -> dict[str, Any]:
    import requests

    with requests.Session() as session:
        probe = session.get(url, params={"search_string": NAMES[0]}, timeout=10)
        if probe.status_code != 200:
            return {"skipped": f"{url} answered {probe.status_code}: {probe.text[:200]}"}
        figures: dict[str, Any] = {"url": url}

        def get(text: str) -> None:
            response = session.get(url, params={"search_string": text}, timeout=30)
            if response.status_code != 200:
                raise RuntimeError(f"{text!r} answered {response.status_code}")

        def options() -> None:
            session.options(url, timeout=30)  # requests reads the whole answer

        for kind, texts in kinds.items():
            calls = [(lambda t=t: get(t)) for t in texts]
            figures[kind] = _summary(*_interleaved(calls, [options], HTTP_RUNS))
    return figures


def run() -> dict[str, Any]:
    """Measure lookup-field latency; see the module docstring."""
    path = default_catalog_path()
    if not path.is_file():
        return {"skipped": f"no local catalog at {path} (bin/catalog build-tycho2 builds it)"}
    names = bundled_target_names()
    with LocalCatalog(path) as catalog:
        status, body = lookup_field({"search_string": "HD 189733"}, catalog, names)
        picids = [f"PICID {s['picid']}" for s in body["sources"][:10]]
        kinds = {"names": NAMES, "coordinates": COORDINATES, "picids": picids}
        figures: dict[str, Any] = {
            "catalog": str(path),
            "request": "1-degree cone, V 6 to 13 (the defaults)",
            "in_process": _in_process(catalog, names, kinds),
        }
    url = _service_url()
    if url is None:
        figures["http"] = {"skipped": "STORAGE_EMULATOR_HOST is not set: no local stack"}
        return figures
    try:
        figures["http"] = _http(url, kinds)
    except OSError as exc:
        figures["http"] = {"skipped": f"{SERVICE} does not answer at {url}: {exc}"}
    return figures
