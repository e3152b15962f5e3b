"""``bin/catalog``: build, import, inspect and search the local star catalog file.

Subcommands::

    build-tycho2 [--index-folder DIR] [--output PATH] [--if-missing]
    import-tic FILE [--output PATH]
    cone RA DEC RADIUS [--vmag-min V] [--vmag-max V] [--catalog PATH]
    info [--catalog PATH]

The catalog file is ``$PANOPTES_CATALOG`` when set, else
``$XDG_CACHE_HOME/panoptes-network/catalog/tycho2.parquet`` (``~/.cache`` by default).
Exit status: 0 done, 2 bad input (the message names it).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

from panoptes_network.catalog.local_file import default_catalog_path, open_catalog, write_catalog
from panoptes_network.catalog.star_catalog import DEFAULT_VMAG_RANGE
from panoptes_network.catalog.tic_import import import_tic
from panoptes_network.catalog.tycho2_index import INDEX_FOLDER, find_index_files, read_index_stars
from panoptes_network.cli import summary

__all__ = ["build_parser", "main"]

_PROG = "catalog"


def _build_tycho2(args: argparse.Namespace) -> int:
    output = args.output or default_catalog_path()
    if args.if_missing and output.exists():
        return 0
    files = find_index_files(args.index_folder)
    if not files:
        if args.if_missing:
            return 0
        print(
            f"{_PROG}: no Tycho-2 index files (index-tycho2-*.fits) in {args.index_folder}: "
            "install the Debian packages astrometry.net and astrometry-data-tycho2, "
            "or pass --index-folder",
            file=sys.stderr,
        )
        return 2
    start = time.perf_counter()
    stars = read_index_stars(files)
    names = f"{files[0].name}" if len(files) == 1 else f"{files[0].name} .. {files[-1].name}"
    source = f"astrometry.net Tycho-2 index files in {args.index_folder} ({len(files)}: {names})"
    info = write_catalog(stars, output, source=source)
    print(
        f"{_PROG}: wrote {info.rows} stars from {len(files)} index files to {info.path} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


def _import_tic(args: argparse.Namespace) -> int:
    output = args.output or default_catalog_path()
    start = time.perf_counter()
    report = import_tic(args.file, output)
    print(f"{_PROG}: {report}")
    elapsed = time.perf_counter() - start
    print(f"{_PROG}: wrote {report.rows_kept} stars to {output} in {elapsed:.1f} s")
    return 0


def _cone(args: argparse.Namespace) -> int:
    catalog = open_catalog(args.catalog)
    rows = catalog.cone_search(args.ra, args.dec, args.radius, (args.vmag_min, args.vmag_max))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(rows.colnames)
    # numpy's str() is the shortest text that reads back to the same value in each dtype.
    columns = [np.asarray(rows[name]).astype(str) for name in rows.colnames]
    writer.writerows(zip(*columns, strict=True))
    return 0


def _info(args: argparse.Namespace) -> int:
    catalog = open_catalog(args.catalog)
    info = catalog.info
    print(f"path:        {info.path}")
    print(f"rows:        {info.rows}")
    print(f"source:      {info.source}")
    print(f"created:     {info.created}")
    print(f"bands:       {info.bands} of {info.band_count}, {info.band_height:g} deg high")
    print(f"row groups:  {info.row_groups}")
    print(f"columns:     {', '.join(info.columns)}")
    print(f"size:        {info.size_bytes} bytes")
    print(f"format:      version {info.format_version}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/catalog``, with one subparser per command.

    Returns
    -------
    argparse.ArgumentParser
        The parser; each subcommand sets ``handler``, the function that runs it.
    """
    parser = argparse.ArgumentParser(
        prog="bin/catalog",
        description=summary(__doc__),
        epilog="The catalog file is $PANOPTES_CATALOG when set, else under $XDG_CACHE_HOME\n"
        f"(~/.cache by default); here: {default_catalog_path()}\n"
        "bin/catalog COMMAND --help shows the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do:"
    )

    build = commands.add_parser(
        "build-tycho2",
        help="build the catalog from astrometry.net's Tycho-2 index files",
        description="Build the catalog file from astrometry.net's Tycho-2 index files.",
    )
    build.add_argument(
        "--index-folder",
        type=Path,
        default=INDEX_FOLDER,
        metavar="DIR",
        help="folder of the index-tycho2-*.fits files (default: %(default)s)",
    )
    build.add_argument("--output", type=Path, metavar="PATH", help="default: the catalog file")
    build.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when the output exists or no index file is installed",
    )
    build.set_defaults(handler=_build_tycho2)

    tic = commands.add_parser(
        "import-tic",
        help="build the catalog from TIC rows (CSV/parquet)",
        description="Build the catalog file from TESS Input Catalog rows (CSV or parquet).",
    )
    tic.add_argument("file", type=Path, metavar="FILE", help="the TIC rows, a CSV or parquet file")
    tic.add_argument("--output", type=Path, metavar="PATH", help="default: the catalog file")
    tic.set_defaults(handler=_import_tic)

    cone = commands.add_parser(
        "cone",
        help="print the stars in a cone as CSV",
        description="Print the catalog stars within RADIUS of (RA, DEC) as CSV.",
    )
    cone.add_argument("ra", type=float, metavar="RA", help="centre right ascension, degrees")
    cone.add_argument("dec", type=float, metavar="DEC", help="centre declination, degrees")
    cone.add_argument("radius", type=float, metavar="RADIUS", help="cone radius, degrees")
    cone.add_argument(
        "--vmag-min",
        type=float,
        default=DEFAULT_VMAG_RANGE[0],
        metavar="V",
        help="brightest V magnitude kept (default: %(default)s)",
    )
    cone.add_argument(
        "--vmag-max",
        type=float,
        default=DEFAULT_VMAG_RANGE[1],
        metavar="V",
        help="faintest V magnitude kept (default: %(default)s)",
    )
    cone.add_argument("--catalog", type=Path, metavar="PATH", help="default: the catalog file")
    cone.set_defaults(handler=_cone)

    info = commands.add_parser(
        "info", help="describe the catalog file", description="Describe the catalog file."
    )
    info.add_argument("--catalog", type=Path, metavar="PATH", help="default: the catalog file")
    info.set_defaults(handler=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/catalog``; see the module docstring.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 done, 2 bad input.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except BrokenPipeError:  # e.g. `bin/catalog cone ... | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (OSError, ValueError) as exc:  # TicImportError is a ValueError
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
