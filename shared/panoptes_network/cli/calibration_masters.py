"""``bin/calibration-masters``: build the calibration masters of cameras from their darks and flats.

    bin/calibration-masters [--camera 14d3bd ...] [--flat-period night|week] [--json]

Units upload darks, biases and twilight flats like any frame; record-image records them as
calibration frames and does not solve them. This builds, for each camera (or every camera with
calibration observations), a dark or bias master per night, exposure time and temperature
bin, and a flat per night (or week), from the recorded frames
(:mod:`panoptes_network.calibration.build_masters`). Each master is stored in the calibrations
bucket and recorded in the calibrations collection, valid or refused with the reason;
measure-sources applies the nearest valid ones. First it measures the camera's constants for
each night with both darks and flats (bias, gain, read noise, white level:
:mod:`panoptes_network.calibration.measured_constants`); frames that waited with
``calibration_error`` for one of them are sent on again. It prints its progress, then per
camera the masters built, refused (with reasons), unchanged and skipped, and the constants.

A second run builds nothing new: masters of the same frames are left as they are. Against the
local stack when it runs (``bin/calibration-masters`` exports its environment), else the Google
Cloud project of your credentials.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from panoptes_network.calibration.build_masters import (
    MasterBuildReport,
    build_camera_masters,
    cameras_with_calibration_frames,
)
from panoptes_network.calibration.master_record import FLAT_PERIODS
from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message
from panoptes_network.ingest.calibration_redrive import redrive_waiting_frames
from panoptes_network.pipeline.context import ChainContext

__all__ = ["build_parser", "main", "report_lines", "run"]

_PROG = "calibration-masters"
_CAMERA = re.compile(r"[0-9a-f]{6}")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/calibration-masters``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/calibration-masters",
        description=summary(__doc__),
        epilog="Against the local stack when it runs, else the Google Cloud project of your "
        "credentials. Frames wait as memory-mapped files while their master is built: a "
        "full frame takes 36 MB of scratch space.",
    )
    parser.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="ID",
        help="a camera id (6 hex characters); repeat for more (default: every camera with "
        "calibration observations)",
    )
    parser.add_argument(
        "--flat-period",
        choices=FLAT_PERIODS,
        default="night",
        help="what a flat master covers (default night)",
    )
    parser.add_argument(
        "--scratch-dir",
        type=Path,
        default=None,
        help="where frames wait while their master is built (default: the temporary directory)",
    )
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    return parser


def report_lines(report: MasterBuildReport) -> list[str]:
    """Return the summary of one camera's build, a line per master refused or skipped.

    Parameters
    ----------
    report : MasterBuildReport
        What the build did.

    Returns
    -------
    list of str
        A first line with the counts, then the refused and skipped masters with their
        reasons, then the frames left out.
    """
    counts = {
        status: len(report.with_status(status))
        for status in ("valid", "refused", "unchanged", "skipped")
    }
    lines = [
        f"{_PROG}: camera {report.camera_id}: {report.frames_found} calibration frames, "
        f"{report.frames_read} read; masters built: {counts['valid']}, refused: "
        f"{counts['refused']}, unchanged: {counts['unchanged']}, skipped: {counts['skipped']}; "
        f"frames left out: {len(report.skipped_frames)}"
    ]
    for outcome in report.outcomes:
        if outcome.status == "valid":
            lines.append(
                f"  built {outcome.master_id} ({outcome.frames_used} of "
                f"{outcome.frames_in_group} frames, quality {outcome.quality_figure:.3g})"
            )
        elif outcome.status in ("refused", "skipped"):
            name = outcome.master_id or outcome.group_key
            lines.append(f"  {outcome.status} {name}: {outcome.reason}")
    lines += [f"  left out {s.image_id}: {s.reason}" for s in report.skipped_frames]
    for measured in report.constants:
        values = ", ".join(f"{k} {v}" for k, v in measured.values.items())
        why = f": {measured.reason}" if measured.reason else ""
        lines.append(
            f"  constants {measured.record_id} {measured.status}"
            f"{' (' + values + ')' if values else ''}{why}"
        )
    return lines


def run(
    ctx: ChainContext,
    cameras: list[str],
    *,
    flat_period: str = "night",
    scratch_dir: Path | None = None,
    as_json: bool = False,
) -> list[MasterBuildReport]:
    """Build the masters of some cameras (all with calibration frames when none is named).

    Progress goes to standard error, the summary (or JSON) to standard output.

    Parameters
    ----------
    ctx : ChainContext
        The chain, with ``documents``.
    cameras : list of str
        Camera ids; empty for every camera with calibration observations.
    flat_period : str
        ``"night"`` or ``"week"``.
    scratch_dir : Path, optional
        Where frames wait while their master is built.
    as_json : bool
        Print the reports as JSON.

    Returns
    -------
    list of MasterBuildReport
        One per camera.
    """
    assert ctx.documents is not None
    targets = cameras or cameras_with_calibration_frames(ctx.documents)
    if not targets:
        print(f"{_PROG}: no camera has calibration observations", file=sys.stderr)
    reports = []
    for camera_id in targets:
        report = build_camera_masters(
            ctx,
            camera_id,
            flat_period=flat_period,
            scratch_dir=scratch_dir,
            progress=lambda line: print(f"{_PROG}: {line}", file=sys.stderr, flush=True),
        )
        reports.append(report)
        if not as_json:
            print("\n".join(report_lines(report)), flush=True)
        if any(c.status == "valid" for c in report.constants):
            resent = redrive_waiting_frames(ctx, camera_id)
            if resent.resent or resent.waiting:
                print(f"{_PROG}: {resent.describe()}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps([r.to_dict() for r in reports]))
    return reports


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/calibration-masters``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 done, 1 when neither the local stack nor Google Cloud answers, 2 for a
        bad camera id.
    """
    args = build_parser().parse_args(argv)
    bad = [c for c in args.camera if not _CAMERA.fullmatch(c)]
    if bad:
        print(
            f"{_PROG}: camera id {bad[0]!r} is not 6 lower-case hex characters (e.g. 14d3bd)",
            file=sys.stderr,
        )
        return 2
    from panoptes_network.adapters.runtime import chain_context

    try:
        run(
            chain_context("bin/calibration-masters", documents=True),
            args.camera,
            flat_period=args.flat_period,
            scratch_dir=args.scratch_dir,
            as_json=args.json,
        )
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(_PROG, exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
