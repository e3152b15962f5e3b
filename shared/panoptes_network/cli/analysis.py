"""``bin/analysis``: the analysis backfill over the archive, as an Apache Beam pipeline.

    bin/analysis backfill [--observation SEQ ...] [--region RA DEC RADIUS] [--since DATE]
                          [--until DATE] [--batch-runs N] [--dry-run] [BEAM OPTIONS ...]
    bin/analysis status
    bin/analysis completeness [--observation SEQ ...] [--png FILE]

``backfill`` analyses the latest finished run of every observation (or of the ones chosen:
by id, by a circle on the sky, by start date): each star's statistics merged across units
and observations into ``stars/{picid}`` (with the exact sums in ``star_sums/{picid}``) and
each run's coverage histogram into ``analysis_coverage``; each star searched over all its
runs (single events, flares, BLS across observations) into ``detections``, and its units
stitched (``stars/{picid}.stitching``). It runs the pipeline of
:mod:`panoptes_network.analysis.beam_pipeline` with the DirectRunner, a batch of runs at a
time under a progress bar (the sums, which add), then one pipeline over every run for the
searches; with ``--runner DataflowRunner`` (and Dataflow's options: ``--project``,
``--region``, ``--temp_location`` ...) it submits one pipeline over every run.
Stars merge exactly and each run once, so a backfill after the incremental updates (the
analyse-run service), or a second backfill, adds nothing twice. ``status`` counts the stars
and the coverage stored. ``completeness`` adds up the injection-recovery counts of the runs
analysed (all, or those of the observations named) and prints them by kind and expected SNR,
with a PNG of the grid when asked.

Runs in ``.venv-beam`` (Apache Beam; ``bin/analysis`` uses it). Against the local stack when
it runs, else the Google Cloud project of your credentials.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime, timezone
from typing import Any

from panoptes_network.adapters.analysis_io import (
    analysis_context,
    firestore_documents,
    read_storage,
)
from panoptes_network.analysis.config import DEFAULT_ANALYSIS
from panoptes_network.analysis.run_selection import Region, select_runs
from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message

__all__ = ["build_parser", "main"]

_PROG = "analysis"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/analysis``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/analysis",
        description=summary(__doc__),
        epilog="Arguments it does not know go to Apache Beam (e.g. --runner DataflowRunner "
        "--project P --region R --temp_location gs://B/tmp).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    backfill = commands.add_parser("backfill", help="analyse the archive, or part of it")
    backfill.add_argument(
        "--observation", action="append", default=[], help="only this sequence id (repeat)"
    )
    backfill.add_argument(
        "--region",
        nargs=3,
        type=float,
        metavar=("RA", "DEC", "RADIUS"),
        help="only fields whose centre is within RADIUS of RA, DEC (degrees)",
    )
    backfill.add_argument("--since", help="only observations started on or after this date (UTC)")
    backfill.add_argument("--until", help="only observations started before this date (UTC)")
    backfill.add_argument(
        "--batch-runs",
        type=int,
        default=25,
        help="runs per DirectRunner pipeline (the progress bar's step; default 25); "
        "0: one pipeline over every run",
    )
    backfill.add_argument(
        "--dry-run", action="store_true", help="list the runs it would analyse, and stop"
    )
    status = commands.add_parser("status", help="count the stars and the coverage stored")
    completeness = commands.add_parser(
        "completeness", help="the injection-recovery counts of the runs analysed, added up"
    )
    completeness.add_argument(
        "--observation", action="append", default=[], help="only this sequence id (repeat)"
    )
    completeness.add_argument("--png", help="also write the completeness plot to this file")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    for command in (
        backfill,
        status,
        completeness,
    ):  # also after the command (else it would go to Beam)
        command.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print as JSON"
        )
    return parser


def _date(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _settings() -> Any:
    from panoptes_network.pipeline.settings import Settings

    return Settings.from_env()


def _backfill(args: argparse.Namespace, beam_args: list[str]) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions
    from tqdm import tqdm

    from panoptes_network.analysis.beam_pipeline import (
        METRICS_NAMESPACE,
        analysis_pipeline,
        write_outputs,
    )
    from panoptes_network.analysis.incremental import run_catalog

    documents = firestore_documents()
    region = Region(*args.region) if args.region else None
    runs = select_runs(
        documents,
        _settings(),
        observations=args.observation,
        region=region,
        since=_date(args.since, "--since"),
        until=_date(args.until, "--until"),
    )
    if args.dry_run:
        return {"runs": [r.run for r in runs]}
    options = PipelineOptions(beam_args)
    dataflow = "DataflowRunner" in " ".join(beam_args)
    size = len(runs) if (args.batch_runs <= 0 or dataflow) else args.batch_runs
    totals = {"runs": len(runs), "merged": 0, "already": 0, "replaced": 0, "rerun": 0}
    totals.update(older=0, stale=0, searched=0, stitched=0, detections=0)
    totals.update(injected=0, recovered=0)
    when = datetime.now(timezone.utc)
    catalog: dict[int, dict[str, Any]] = {}
    for run in runs:
        catalog.update(run_catalog(documents, run.run_id))
    batches = [runs[k : k + max(size, 1)] for k in range(0, len(runs), max(size, 1))]
    whole = len(batches) <= 1

    def run_pipeline(batch: list[Any], *, sums: bool, search: bool) -> None:
        pipeline = beam.Pipeline(options=options)
        outputs = analysis_pipeline(
            pipeline, batch, DEFAULT_ANALYSIS, catalog=catalog, read=read_storage, when=when
        )
        write_outputs(
            outputs,
            firestore_documents,
            DEFAULT_ANALYSIS,
            when=when,
            catalog=catalog,
            read=read_storage,
            lightcurves_bucket=_settings().lightcurves_bucket,
            sums=sums,
            search=search,
            context=analysis_context,
        )
        result = pipeline.run()
        result.wait_until_finish()
        found = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
        for counter in found["counters"]:
            name = counter.key.metric.name.removeprefix("stars_")
            if name in totals:
                totals[name] += int(counter.committed or 0)

    with tqdm(total=len(runs), unit="run", desc="sums", file=sys.stderr) as bar:
        for batch in batches:
            run_pipeline(batch, sums=True, search=whole)
            bar.update(len(batch))
    if not whole and runs:
        # A star's searches need all its runs at once (BLS across observations).
        with tqdm(total=len(runs), unit="run", desc="search", file=sys.stderr) as bar:
            run_pipeline(runs, sums=False, search=True)
            bar.update(len(runs))
    return totals


def _status() -> dict[str, Any]:
    from panoptes_network.pipeline.schema import ANALYSIS_COVERAGE, DETECTIONS, STARS

    documents = firestore_documents()
    stars = documents.query(STARS)
    coverage = documents.query(ANALYSIS_COVERAGE)
    return {
        "stars": len(stars),
        "runs_with_coverage": len(coverage),
        "points": sum(int(doc.get("points") or 0) for _, doc in coverage),
        "detections": len(
            documents.query(
                DETECTIONS,
                [
                    ("analysis_hash", "==", DEFAULT_ANALYSIS.config_hash()),
                    ("injected", "==", False),
                ],
            )
        ),
        "hours": round(sum(float(doc.get("hours") or 0) for _, doc in coverage), 3),
        "analysis_hash": DEFAULT_ANALYSIS.config_hash(),
    }


def _completeness(args: argparse.Namespace) -> dict[str, Any]:
    from panoptes_network.analysis.completeness import Completeness, completeness_png
    from panoptes_network.pipeline.schema import ANALYSIS_COMPLETENESS

    documents = firestore_documents()
    found = documents.query(
        ANALYSIS_COMPLETENESS, [("analysis_hash", "==", DEFAULT_ANALYSIS.config_hash())]
    )
    wanted = set(args.observation)
    total, runs, without = Completeness(), 0, []
    for doc_id, doc in sorted(found):
        if wanted and doc.get("sequence_id") not in wanted:
            continue
        runs += 1
        if doc.get("error"):
            without.append(f"{doc_id}: {doc['error']}")
            continue
        total.merge(Completeness.from_record(doc))
    table = total.table(("kind", "snr"))
    rows = []
    for row in table:
        values: dict[str, Any] = {}
        for name in table.colnames:
            value = row[name].item() if hasattr(row[name], "item") else row[name]
            finite = not isinstance(value, float) or math.isfinite(value)
            values[name] = value if finite else None
        rows.append(values)
    result: dict[str, Any] = {
        "analysis_hash": DEFAULT_ANALYSIS.config_hash(),
        "runs": runs,
        "runs_without_counts": without,
        "injected": total.injected,
        "recovered": total.recovered,
        "by_kind_and_snr": rows,
    }
    if args.png:
        with open(args.png, "wb") as handle:
            handle.write(completeness_png(total, title=f"{runs} run(s) analysed"))
        result["png"] = args.png
    return result


def _print(result: dict[str, Any]) -> None:
    for key, value in result.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            print(f"{key}:")
            names = list(value[0])
            print("  " + "  ".join(f"{n:>12}" for n in names))
            for row in value:
                cells = (
                    f"{v:12.3f}" if isinstance(v, float) else f"{'' if v is None else v!s:>12}"
                    for v in row.values()
                )
                print("  " + "  ".join(cells))
        elif isinstance(value, list):
            print(f"{key}: {len(value)}")
            for item in value:
                print(f"  {item}")
        else:
            print(f"{key}: {value}")


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/analysis``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0 done, 1 when neither the local stack nor Google Cloud answers, 2 for bad input.
    """
    args, beam_args = build_parser().parse_known_args(argv)
    try:
        if args.command == "backfill":
            result = _backfill(args, beam_args)
        elif args.command == "completeness":
            result = _completeness(args)
        else:
            result = _status()
    except ValueError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(_PROG, exc), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
