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

from panoptes_network.lightcurves.triggers import request_lightcurve, sweep
from panoptes_network.pipeline.errors import PermanentFailure

__all__ = ["main"]


def _option(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option wants key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/lightcurve``; exit 0 when queued, 2 for a bad request."""
    parser = argparse.ArgumentParser(prog="bin/lightcurve", description=__doc__.split("\n\n")[0])
    parser.add_argument("sequence_id", nargs="?", help="observation id UNIT_CAMERA_SEQSTART")
    parser.add_argument(
        "--option",
        type=_option,
        action="append",
        default=[],
        help="a build-lightcurve option, key=value (JSON values)",
    )
    parser.add_argument("--sweep", action="store_true", help="queue every finished observation")
    parser.add_argument(
        "--quiet-minutes",
        type=float,
        default=None,
        help="minutes without a new frame after which an observation is finished "
        "(default: PANOPTES_LIGHTCURVE_QUIET_MINUTES, else 30)",
    )
    args = parser.parse_args(argv)
    if bool(args.sweep) == bool(args.sequence_id):
        parser.error("give a sequence id or --sweep (one of them)")
    from panoptes_network.adapters.runtime import chain_context

    ctx = chain_context("bin/lightcurve", documents=True)
    try:
        if args.sweep:
            answer = sweep(ctx, args.quiet_minutes)
        else:
            answer = request_lightcurve(
                ctx, {"sequence_id": args.sequence_id, "options": dict(args.option)}
            )
    except PermanentFailure as exc:
        print(f"lightcurve: {exc.reason}", file=sys.stderr)
        return 2
    print(json.dumps(answer, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
