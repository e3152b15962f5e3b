"""``bin/lightcurve``: queue a build-lightcurve run, or sweep for finished observations.

    bin/lightcurve PAN001_14d3bd_20180216T110623 [--option min_frames=20 ...]
    bin/lightcurve --sweep [--quiet-minutes 30]

Against the local stack when it runs (``bin/lightcurve`` exports its environment), else the
Google Cloud project of your credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message
from panoptes_network.lightcurves.request import parse_request
from panoptes_network.lightcurves.triggers import request_lightcurve, sweep
from panoptes_network.pipeline.errors import PermanentFailure

__all__ = ["build_parser", "main"]

_PROG = "lightcurve"


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option wants key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/lightcurve``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/lightcurve",
        description=summary(__doc__),
        epilog="Against the local stack when it runs (bin/lightcurve exports its environment), "
        "else the Google Cloud project of your credentials.",
    )
    parser.add_argument(
        "sequence_id",
        nargs="?",
        metavar="SEQUENCE_ID",
        help="observation id UNIT_CAMERA_SEQSTART, e.g. PAN001_14d3bd_20180216T110623",
    )
    parser.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a build-lightcurve option, key=value (JSON values; repeatable)",
    )
    parser.add_argument("--sweep", action="store_true", help="queue every finished observation")
    parser.add_argument(
        "--quiet-minutes",
        type=float,
        default=None,
        help="minutes without a new frame after which an observation is finished "
        "(default: PANOPTES_LIGHTCURVE_QUIET_MINUTES, else 30)",
    )
    return parser


def _input_problem(args: argparse.Namespace) -> str | None:
    """Return what is wrong with the request on the command line, or None when it is fine.

    Only the command line is read: no cloud client is made.
    """
    if args.sweep:
        if args.quiet_minutes is not None and not args.quiet_minutes > 0:
            return "--quiet-minutes must be a positive number of minutes"
        return None
    try:
        parse_request({"sequence_id": args.sequence_id, "options": dict(args.option)})
    except PermanentFailure as exc:
        return exc.reason
    return None


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/lightcurve``.

    The request is checked before any cloud client is made.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 queued, 1 when neither the local stack nor Google Cloud answers,
        2 for a bad request.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.sweep) == bool(args.sequence_id):
        parser.error("give a sequence id or --sweep (one of them)")
    problem = _input_problem(args)
    if problem:
        print(f"{_PROG}: {problem}", file=sys.stderr)
        return 2
    from panoptes_network.adapters.runtime import chain_context

    try:
        ctx = chain_context("bin/lightcurve", documents=True)
        if args.sweep:
            answer = sweep(ctx, args.quiet_minutes)
        else:
            answer = request_lightcurve(
                ctx, {"sequence_id": args.sequence_id, "options": dict(args.option)}
            )
    except PermanentFailure as exc:
        print(f"{_PROG}: {exc.reason}", file=sys.stderr)
        return 2
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(_PROG, exc), file=sys.stderr)
        return 1
    print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
