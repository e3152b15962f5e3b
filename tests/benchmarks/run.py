"""Run benchmarks: ``python -m tests.benchmarks.run [name ...]`` (``bin/bench`` does this).

A benchmark is a module ``tests/benchmarks/bench_<name>.py`` with a function
``run() -> dict`` that returns its figures (JSON-ready: numbers, strings, booleans, lists and
nested dicts), or ``{"skipped": "reason"}`` when it cannot run here. Benchmarks are not
pass/fail tests: they report ratios against a reference measured in the same run.

For each benchmark asked for (all by default) this prints its figures as a table and writes
them, with when and where they were measured, to ``.dev/bench/<name>.json``. The exit status
is 1 when a benchmark raised, 2 for an unknown name, else 0 (skipped benchmarks included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Where the figures are written, one JSON file per benchmark.
OUT_DIR = ROOT / ".dev" / "bench"
_PREFIX = "bench_"


def discover() -> list[str]:
    """Return the names of the benchmarks (``bench_<name>.py`` modules), sorted.

    Returns
    -------
    list of str
        The ``<name>`` parts.
    """
    here = Path(__file__).resolve().parent
    return sorted(
        info.name[len(_PREFIX) :]
        for info in pkgutil.iter_modules([str(here)])
        if info.name.startswith(_PREFIX)
    )


def _normalise(name: str) -> str:
    name = name.removesuffix(".py").rsplit("/", 1)[-1]
    return name.removeprefix(_PREFIX)


def _seconds(values: list[float]) -> str:
    """Format seconds in one unit chosen for the largest value."""
    top = max(values)
    if top >= 1:
        return ", ".join(f"{v:.3f}" for v in values) + " s"
    digits = 2 if top < 0.01 else 1
    return ", ".join(f"{v * 1000:.{digits}f}" for v in values) + " ms"


def _format_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" + (" B" if key.endswith("_bytes") else "")
    if isinstance(value, float):
        return _seconds([value]) if key.endswith("_s") else f"{value:.4g}"
    if isinstance(value, list | tuple):
        if not value:
            return "(none)"
        if key.endswith("_s") and all(isinstance(v, float) for v in value):
            if len(value) > 8:  # long series: the JSON file has every run
                low, high = _seconds([min(value), max(value)]).split(", ")
                return f"{len(value)} runs from {low} to {high}"
            return _seconds(list(value))
        return ", ".join(str(v) for v in value)
    return str(value)


def _rows(figures: dict[str, Any], indent: int = 0, parent: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in figures.items():
        label = "  " * indent + str(key)
        if isinstance(value, dict):
            rows.append((label, ""))
            rows.extend(_rows(value, indent + 1, str(key)))
        else:
            # Per-run lists sit under an "..._s" parent: they are seconds too.
            unit_key = f"{key}_s" if parent.endswith("_s") and isinstance(value, list) else key
            rows.append((label, _format_value(unit_key, value)))
    return rows


def print_table(name: str, figures: dict[str, Any]) -> None:
    """Print one benchmark's figures as an indented two-column table.

    Parameters
    ----------
    name : str
        The benchmark's name.
    figures : dict
        What its ``run()`` returned. Seconds (keys ending in ``_s``) are shown in ms or s,
        bytes (keys ending in ``_bytes``) with separators, ratios with three decimals.
    """
    rows = _rows(figures)
    width = max((len(label) for label, _ in rows), default=10)
    print(f"\n{name}")
    print("-" * (width + 30))
    for label, text in rows:
        print(f"{label:<{width}}  {text}".rstrip())
    print()


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _environment() -> dict[str, Any]:
    versions: dict[str, Any] = {"python": platform.python_version()}
    for module in ("numpy", "astropy"):
        try:
            versions[module] = importlib.import_module(module).__version__
        except ImportError:
            versions[module] = None
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "storage_emulator": os.environ.get("STORAGE_EMULATOR_HOST"),
    }


def run_one(name: str, out_dir: Path = OUT_DIR) -> bool:
    """Run one benchmark, print its table and write its JSON.

    Parameters
    ----------
    name : str
        The benchmark's name (``compress`` for ``bench_compress.py``).
    out_dir : Path
        Folder of the JSON files.

    Returns
    -------
    bool
        False when the benchmark raised or returned something other than a dict.
    """
    print(f"== {name} ==", flush=True)
    started = dt.datetime.now(dt.timezone.utc)
    start = time.perf_counter()
    ok = True
    try:
        module = importlib.import_module(f"{__package__ or 'tests.benchmarks'}.{_PREFIX}{name}")
        figures = module.run()
        if not isinstance(figures, dict):
            raise TypeError(f"run() returned {type(figures).__name__}, not a dict")
    except Exception as exc:
        traceback.print_exc()
        figures = {"error": f"{type(exc).__name__}: {exc}"}
        ok = False
    elapsed = time.perf_counter() - start
    print_table(name, figures)
    record = {
        "benchmark": name,
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round(elapsed, 3),
        "environment": _environment(),
        "figures": figures,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, default=_json_default) + "\n")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"  {elapsed:.1f} s; figures written to {shown}\n", flush=True)
    return ok


def build_parser(available: list[str] | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/bench``.

    Parameters
    ----------
    available : list of str, optional
        The benchmark names (:func:`discover` by default).

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    available = discover() if available is None else available
    parser = argparse.ArgumentParser(
        prog="bin/bench",
        description="Run benchmarks and print their figures, as ratios against a reference "
        "measured in the same run.",
        epilog="Figures are written to .dev/bench/<name>.json. Benchmarks that need the local "
        "stack (header, latency, lookup) use a running one (bin/dev up); otherwise bin/bench "
        "starts one and stops it at the end.",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(available)}",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="folder of the JSON files")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks named in ``argv`` (all when none); see the module docstring.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status.
    """
    available = discover()
    args = build_parser(available).parse_args(argv)
    if args.list:
        print("\n".join(available))
        return 0
    names = [_normalise(n) for n in args.names] or available
    unknown = [n for n in names if n not in available]
    if unknown:
        print(
            f"bench: unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(available)}",
            file=sys.stderr,
        )
        return 2
    failed = [name for name in names if not run_one(name, args.out_dir)]
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
