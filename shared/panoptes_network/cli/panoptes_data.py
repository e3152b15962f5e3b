"""``bin/panoptes-data``: observations, light curves and files of the network, from the shell.

Subcommands::

    search [--name NAME] [--ra RA --dec DEC] [--radius DEG] [--unit U] [--camera C]
           [--status S] [--since T] [--until T] [--min-images N] [--order time|num_images]
           [--ascending] [--max-rows N] [--show N] [--csv FILE]
    lightcurves PICID [--csv FILE | --parquet FILE]
    download SEQUENCE_ID [--kind fits|previews|lightcurves] [--to DIR] [--no-progress]

``search`` prints a table of the observations (``--csv FILE`` writes every column, ``-``
for standard output); ``lightcurves`` prints a star's runs and writes its points;
``download`` fetches an observation's files with a progress bar, keeping those already
complete. Each reads the Data Explorer's JSON API at ``--url``, else
``$PANOPTES_EXPLORER_URL``, else the local stack's explorer (http://127.0.0.1:8103;
``bin/dev up`` starts it). Exit status: 0 done, 1 the explorer or a file server failed or
could not be reached, 2 bad input (a parameter, an unknown observation or star).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from panoptes_network.cli import summary
from panoptes_network.client import DOWNLOAD_KINDS, Client, ExplorerError
from panoptes_network.client.explorer import DEFAULT_MAX_ROWS, DEFAULT_URL, URL_VARIABLE

__all__ = ["build_parser", "main"]

_PROG = "panoptes-data"
#: Columns the search table shows (every column goes to the CSV).
_SEARCH_COLUMNS = (
    "sequence_id",
    "time",
    "field_name",
    "num_images",
    "exptime",
    "ra",
    "dec",
    "distance_deg",
    "status",
)
#: Rows the search table shows unless told otherwise.
_SHOW = 100


def _client(args: argparse.Namespace) -> Client:
    return Client(args.url, timeout=args.timeout)


def _cell(value: Any, digits: int | None) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "-"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:.{digits}f}" if digits is not None else f"{value:g}"
    return str(value)


#: Decimals shown per column (None: as short as exact).
_DIGITS = {"ra": 4, "dec": 4, "distance_deg": 3}


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    """Return the frame's columns as an aligned text table (a dash for a missing value)."""
    shown = pd.DataFrame(
        {
            name: [_cell(v, _DIGITS.get(name)) for v in frame[name].astype(object)]
            for name in columns
        }
    )
    return shown.to_string(index=False)


def _csv_target(value: str) -> TextIO | Path:
    return sys.stdout if value == "-" else Path(value)


def _search(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = client.search_observations(
            args.name,
            ra=args.ra,
            dec=args.dec,
            radius=args.radius,
            unit=args.unit,
            camera=args.camera,
            status=args.status,
            since=args.since,
            until=args.until,
            min_images=args.min_images,
            order=args.order,
            descending=not args.ascending,
            max_rows=args.max_rows,
        )
    to_stdout = args.csv == "-"
    notes = sys.stderr if to_stdout else sys.stdout
    if args.csv:
        found.to_csv(_csv_target(args.csv), index=False)
    if not to_stdout and len(found):
        columns = [c for c in _SEARCH_COLUMNS if c != "distance_deg" or found[c].notna().any()]
        print(_table(found.head(args.show), columns))
        if len(found) > args.show:
            rest = len(found) - args.show
            print(f"... and {rest} more rows (--show N shows more; --csv FILE writes them all)")
    count = f"{len(found)} observation{'s' if len(found) != 1 else ''}"
    if found.attrs.get("truncated"):
        count += f"; stopped at --max-rows {args.max_rows}: more match"
    print(count, file=notes)
    if args.csv and not to_stdout:
        print(f"wrote {len(found)} rows to {args.csv}", file=notes)
    return 0


def _lightcurves(args: argparse.Namespace) -> int:
    with _client(args) as client:
        points = client.get_lightcurves(args.picid)
    if args.csv:
        points.to_csv(_csv_target(args.csv), index=False)
    if args.parquet:
        points.to_parquet(args.parquet, index=False)
    notes = sys.stderr if args.csv == "-" else sys.stdout
    keys = [c for c in ("run_id", "sequence_id", "unit_id", "camera_id") if c in points.columns]
    if len(points) and keys and "time_utc" in points.columns:
        runs = (
            points.groupby(keys, sort=False, dropna=False)["time_utc"]
            .agg(points="size", first="min", last="max")
            .reset_index()
        )
        if notes is sys.stdout:
            print(_table(runs, list(runs.columns)))
        num_runs = len(runs)
    else:
        num_runs = 0
    print(f"{len(points)} points of PICID {args.picid} in {num_runs} runs", file=notes)
    for target in (args.csv, args.parquet):
        if target and target != "-":
            print(f"wrote {len(points)} rows to {target}", file=notes)
    return 0


#: What the files of each kind are called in messages.
_KIND_NAMES = {"fits": "FITS files", "previews": "previews", "lightcurves": "light-curve files"}


def _size(size: int) -> str:
    """Return a number of bytes for people: ``812 B``, ``40.2 kB``, ``1.3 GB``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _download(args: argparse.Namespace) -> int:
    with _client(args) as client:
        paths = client.download(
            args.sequence_id, args.kind, to=args.to, progress=not args.no_progress
        )
    what = _KIND_NAMES[args.kind]
    if not paths:
        print(f"{args.sequence_id} has no {what} to fetch")
    else:
        size = _size(sum(p.stat().st_size for p in paths))
        print(f"{len(paths)} {what} ({size}) in {paths[0].parent}")
    return 0


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/panoptes-data``, with one subparser per command.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each subcommand sets ``handler``, the function that runs it.
    """
    parser = argparse.ArgumentParser(
        prog="bin/panoptes-data",
        description=summary(__doc__),
        epilog=f"The explorer is --url, else ${URL_VARIABLE}, else {DEFAULT_URL} (the local "
        "stack: bin/dev up).\nbin/panoptes-data COMMAND --help shows the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        metavar="URL",
        help=f"the Data Explorer (default: ${URL_VARIABLE}, else {DEFAULT_URL})",
    )
    common.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to wait for a connection or an answer (default: %(default)s)",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do:"
    )

    search = commands.add_parser(
        "search",
        parents=[common],
        help="find observations; print a table, write CSV",
        description="Find observations and print them as a table; --csv writes every column.",
    )
    search.add_argument(
        "--name",
        metavar="NAME",
        help='a target the explorer knows (e.g. "M 42", "WASP-33") or coordinates as text',
    )
    search.add_argument("--ra", type=float, metavar="DEG", help="cone centre right ascension")
    search.add_argument("--dec", type=float, metavar="DEG", help="cone centre declination")
    search.add_argument("--radius", type=float, metavar="DEG", help="cone radius, degrees")
    search.add_argument("--unit", metavar="ID", help="only this unit, e.g. PAN001")
    search.add_argument("--camera", metavar="ID", help="only this camera, e.g. 14d3bd")
    search.add_argument("--status", metavar="S", help="only observations of this status")
    search.add_argument(
        "--since", metavar="T", help="started at or after: 2020-01-08 or an ISO 8601 time (UTC)"
    )
    search.add_argument("--until", metavar="T", help="started before (a date: that day included)")
    search.add_argument(
        "--min-images", type=int, metavar="N", help="only observations of at least N frames"
    )
    search.add_argument(
        "--order",
        choices=("time", "num_images"),
        default="time",
        help="order by start time or by frames (default: %(default)s)",
    )
    search.add_argument(
        "--ascending", action="store_true", help="oldest (smallest) first; default newest"
    )
    search.add_argument(
        "--max-rows",
        type=_whole,
        default=DEFAULT_MAX_ROWS,
        metavar="N",
        help="stop after N observations (default: %(default)s)",
    )
    search.add_argument(
        "--show",
        type=_whole,
        default=_SHOW,
        metavar="N",
        help="rows of the printed table (default: %(default)s)",
    )
    search.add_argument(
        "--csv", metavar="FILE", help="write every row and column as CSV ('-': standard output)"
    )
    search.set_defaults(handler=_search)

    curves = commands.add_parser(
        "lightcurves",
        parents=[common],
        help="a star's light-curve points; write CSV or Parquet",
        description="Print a star's processing runs; --csv or --parquet writes every point.",
    )
    curves.add_argument("picid", metavar="PICID", help="the star's PICID (TIC id)")
    written = curves.add_mutually_exclusive_group()
    written.add_argument(
        "--csv", metavar="FILE", help="write every point as CSV ('-': standard output)"
    )
    written.add_argument("--parquet", metavar="FILE", help="write every point as Parquet")
    curves.set_defaults(handler=_lightcurves)

    fetch = commands.add_parser(
        "download",
        parents=[common],
        help="fetch an observation's files, with a progress bar",
        description="Fetch files of one observation into DIR/SEQUENCE_ID/, keeping those "
        "already complete.\nKinds:\n"
        + "\n".join(f"  {kind:12} {text}" for kind, text in DOWNLOAD_KINDS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument(
        "sequence_id", metavar="SEQUENCE_ID", help="the observation, <UNIT>_<CAMERA>_<SEQSTART>"
    )
    fetch.add_argument(
        "--kind",
        choices=tuple(DOWNLOAD_KINDS),
        default="fits",
        help="which files (default: %(default)s)",
    )
    fetch.add_argument(
        "--to",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="folder under which SEQUENCE_ID/ is made (default: the current one)",
    )
    fetch.add_argument("--no-progress", action="store_true", help="show no progress bar")
    fetch.set_defaults(handler=_download)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/panoptes-data``; see the module docstring.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 done, 1 the explorer or a file server failed, 2 bad input.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ExplorerError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2 if exc.status in (400, 404) else 1
    except ValueError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `bin/panoptes-data search --csv - | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a CSV or download folder that cannot be written
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted; files complete so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
