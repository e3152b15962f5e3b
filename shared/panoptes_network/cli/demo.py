"""``bin/demo``: a short observation through the whole chain, to light curves in the explorer.

It simulates 12 frames of a real field with ``bin/simulate``'s code (catalog stars, sky,
headers computed for the unit's site and time, and the demo events: a 1% transit of a V~9
star, a flare and a variable; the truth lands beside the frames), or, when no star catalog
is installed, renders quick synthetic frames with a unit's header layout
(:mod:`..synthetic_frame`), which stop at recording. It uploads them with ``bin/upload``'s
code and shows, while it waits, how many frames each step has done (recorded, plate-solved,
measured, failed); then it asks build-lightcurve for a run, waits for it, and prints the
Data Explorer's links to the observation and to the star with the transit. The stack must
be running (``bin/demo`` starts it).

Before uploading, it registers the camera, as a unit's camera is registered when the unit
joins the network: its bias, gain, read noise and white level are measured by photon
transfer from its own simulated calibration frames (two biases, twilight flat pairs, an
over-exposed flat: :mod:`panoptes_network.calibration.camera_measurement`) and written to
``cameras/{camera_id}`` (``bin/cameras measure`` does the same with a unit's real frames).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from panoptes_network.cli import summary
from panoptes_network.cli import upload as upload_cli
from panoptes_network.frames.bucket_path import ImagePath, format_timestamp
from panoptes_network.pipeline.schema import (
    IMAGES,
    LIGHTCURVES,
    OBSERVATIONS,
    PLACEHOLDER_STATUSES,
    PROCESSED_OBSERVATIONS,
    ImageStatus,
    RunStatus,
)
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.synthetic_frame import frame_cards_for, make_full_frame

__all__ = ["build_parser", "main"]


def _synthetic_frames(folder: Path, args: argparse.Namespace) -> list[ImagePath]:
    """Quick frames with a unit's header layout (no catalog needed)."""
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    sequence = format_timestamp(start)
    paths = []
    for index in range(args.frames):
        image_start = format_timestamp(start + timedelta(seconds=index * (args.exptime + 30)))
        path = ImagePath.parse(f"{args.unit}/{args.camera}/{sequence}/{image_start}.fits")
        target = folder / path.object_name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(make_full_frame(index, frame_cards_for(path, args.exptime)))
        paths.append(path)
    return paths


def _register_camera(documents: Any, camera_id: str) -> str:
    """Measure the camera from its simulated calibration frames and register it."""
    from panoptes_network.calibration.camera_measurement import measure_camera
    from panoptes_network.cli.cameras import register
    from panoptes_network.simulation.calibration_sequences import (
        as_frame_files,
        photon_transfer_set,
    )
    from panoptes_network.simulation.camera import CameraModel

    camera = CameraModel(camera_id, width=600, height=400)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=30)
    measured = measure_camera(as_frame_files(photon_transfer_set(camera, start=start)), camera_id)
    register(documents, camera_id, measured.entry)
    entry = measured.entry
    return (
        f"demo: camera {camera_id} registered (cameras/{camera_id}), measured by photon transfer "
        f"of its simulated calibration frames: gain {entry['gain_e_per_adu']:.3f} e-/ADU, "
        f"read noise {entry['read_noise_e']:.2f} e-, bias {entry['bias_adu']:.1f} ADU, "
        f"white level {entry.get('saturation_adu', 'from the header')} ADU"
    )


def _frames(folder: Path, args: argparse.Namespace) -> list[ImagePath]:
    """Simulate the observation; fall back to synthetic frames without a catalog."""
    from panoptes_network.catalog.local_file import default_catalog_path
    from panoptes_network.catalog.tycho2_index import find_index_files
    from panoptes_network.cli import simulate

    if not default_catalog_path().exists() and not find_index_files():
        print(
            "demo: no star catalog (bin/catalog build-tycho2); using synthetic frames, "
            "which stop at recording (no plate solution, no light curves)"
        )
        args.no_lightcurves = True
        return _synthetic_frames(folder, args)
    argv = [
        "--field",
        args.field,
        "--count",
        str(args.frames),
        "--exptime",
        str(args.exptime),
        "--unit",
        args.unit,
        "--camera",
        args.camera,
        "--output",
        str(folder),
        "--demo-events",
        "--quiet",
    ]
    if simulate.main(argv) != 0:
        raise SystemExit("demo: the simulation failed; see above")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.fits"))
    return [ImagePath.parse(name) for name in files]


def _show(title: str, doc_id: str, fields: dict[str, Any], keys: list[str]) -> None:
    print(f"\n{title} {doc_id}")
    for key in keys:
        value = fields.get(key)
        if isinstance(value, datetime):
            value = value.isoformat(timespec="seconds")
        elif isinstance(value, float):
            value = round(value, 4)
        print(f"  {key:22s} {value}")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/demo``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="bin/demo",
        description=summary(__doc__),
        epilog="bin/demo sets up the machine (bin/setup) and starts the local stack "
        "(bin/dev up) when it is not running; the stack keeps running afterwards.",
    )
    parser.add_argument(
        "--frames", type=int, default=12, help="frames to upload, 1 to 50 (default 12)"
    )
    parser.add_argument(
        "--exptime", type=float, default=120.0, help="exposure time, seconds (default 120)"
    )
    parser.add_argument("--unit", default="PAN001", help="unit id (default PAN001)")
    parser.add_argument("--camera", default="ee04d1", help="camera id, 6 hex chars (ee04d1)")
    parser.add_argument(
        "--field", default="KIC 8462852", help="a field bin/simulate knows (KIC 8462852)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="seconds to wait for the chain, from upload to light curves (default 900)",
    )
    parser.add_argument(
        "--no-lightcurves",
        action="store_true",
        help="stop once the frames are recorded (no plate solving wait, no light curves)",
    )
    return parser


#: Image statuses of frames a step gave up on (the reason is on the image document).
_FAILED = {
    ImageStatus.SOLVE_ERROR,
    ImageStatus.MEASURE_ERROR,
    ImageStatus.CALIBRATION_ERROR,
    ImageStatus.ERROR,
}


def stage_counts(images: list[dict[str, Any]]) -> dict[str, int]:
    """Return how many frames of an observation reached each stage of the chain.

    Parameters
    ----------
    images : list of dict
        The observation's image documents.

    Returns
    -------
    dict
        ``recorded`` (an images document of a recorded frame), ``solved`` (plate-solved,
        measured or not), ``measured``, and ``failed`` (a step gave up: solve, measure,
        calibration or record error).
    """
    recorded = [d for d in images if d.get("status") not in PLACEHOLDER_STATUSES]
    return {
        "recorded": len(recorded),
        "solved": sum(1 for d in recorded if d.get("solved") is True),
        "measured": sum(1 for d in recorded if d.get("status") == ImageStatus.MEASURED),
        "failed": sum(1 for d in images if d.get("status") in _FAILED),
    }


class _Progress:
    """One status line, rewritten in place on a terminal, else printed when it changes.

    On a terminal the line is rewritten every time (its clock moves); elsewhere (a log, a
    pipe) it is printed only when what it counts changes, without the clock.
    """

    def __init__(self) -> None:
        self._tty = sys.stdout.isatty()
        self._last = ""

    def show(self, line: str) -> None:
        shown = line if self._tty else line.rsplit(" (", 1)[0]
        if shown == self._last:
            return
        self._last = shown
        if self._tty:
            print(f"\r{line:<100}", end="", flush=True)
        else:
            print(line, flush=True)

    def done(self) -> None:
        if self._tty and self._last:
            print(flush=True)


def _wait_for_frames(
    db: Any,
    sequence_id: str,
    total: int,
    args: argparse.Namespace,
    started: float,
    progress: _Progress,
) -> dict[str, int]:
    """Wait until every frame is measured or failed (or recorded only, without a catalog)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    counts = {"recorded": 0, "solved": 0, "measured": 0, "failed": 0}
    while time.monotonic() - started < args.timeout:
        docs = [
            snap.to_dict()
            for snap in db.collection(IMAGES)
            .where(filter=FieldFilter("sequence_id", "==", sequence_id))
            .stream()
        ]
        counts = stage_counts(docs)
        progress.show(
            f"demo: {total} uploaded · {counts['recorded']} recorded · {counts['solved']} "
            f"solved · {counts['measured']} measured · {counts['failed']} failed "
            f"({time.monotonic() - started:.0f} s)"
        )
        finished = counts["measured"] + counts["failed"]
        if counts["recorded"] == total and (finished >= total or args.no_lightcurves):
            break
        time.sleep(1.0)
    progress.done()
    return counts


def _wait_for_run(
    db: Any, sequence_id: str, args: argparse.Namespace, started: float, progress: _Progress
) -> tuple[str, dict[str, Any]] | None:
    """Wait for the observation's build-lightcurve run to be done; return it (None: timeout)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    while time.monotonic() - started < args.timeout:
        runs = [
            (snap.id, snap.to_dict())
            for snap in db.collection(PROCESSED_OBSERVATIONS)
            .where(filter=FieldFilter("sequence_id", "==", sequence_id))
            .stream()
        ]
        done = [(i, d) for i, d in runs if d.get("status") == RunStatus.DONE]
        progress.show(
            f"demo: build-lightcurve: {'done' if done else 'running' if runs else 'queued'} "
            f"({time.monotonic() - started:.0f} s)"
        )
        if done:
            progress.done()
            return sorted(done)[-1]
        time.sleep(1.0)
    progress.done()
    return None


def _transit_star(folder: Path) -> int | None:
    """Return the PICID of the demo transit, from the simulation's truth."""
    from astropy.table import Table

    for path in folder.rglob("truth/events.ecsv"):
        events = Table.read(path, format="ascii.ecsv")
        for row in events:
            if row["kind"] == "transit":
                return int(row["picid"])
    return None


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/demo``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.frames <= 50:
        parser.error("--frames must be from 1 to 50")
    settings = Settings.from_env()
    from google.cloud import firestore

    from panoptes_network.adapters.firestore import FirestoreDocuments

    db = firestore.Client(project=settings.project_id)
    print(_register_camera(FirestoreDocuments(db), args.camera), flush=True)
    with tempfile.TemporaryDirectory(prefix="panoptes-demo-") as folder:
        print(
            f"demo: simulating {args.frames} full-size frames (5208 x 3476) of "
            f"{args.field} from {args.unit}, with a 1% transit, a flare and a variable ...",
            flush=True,
        )
        paths = _frames(Path(folder), args)
        transit = _transit_star(Path(folder))
        started = time.monotonic()
        if upload_cli.main([folder]) != 0:
            print("demo: the upload failed; see above", file=sys.stderr)
            return 1
    sequence_id = paths[0].sequence_id
    print(
        "demo: the chain: raw-file-uploaded -> compress-fits -> record-image -> plate-solve "
        "-> measure-sources",
        flush=True,
    )
    progress = _Progress()
    counts = _wait_for_frames(db, sequence_id, len(paths), args, started, progress)
    if counts["recorded"] < len(paths):
        print(
            f"demo: only {counts['recorded']} of {len(paths)} frames recorded after "
            f"{args.timeout:.0f} s; see .dev/logs/ and `bin/dev dead-letters`",
            file=sys.stderr,
        )
        return 1
    print(
        f"demo: {len(paths)} frames recorded; {counts['measured']} measured, "
        f"{counts['failed']} failed, {time.monotonic() - started:.1f} s after upload"
    )
    observation = db.collection(OBSERVATIONS).document(sequence_id).get().to_dict() or {}
    _show(
        OBSERVATIONS,
        sequence_id,
        observation,
        [
            "unit_id",
            "camera_id",
            "field_name",
            "time",
            "exptime",
            "status",
            "ra",
            "dec",
            "num_images",
            "total_minutes_exptime",
        ],
    )
    explorer = os.environ.get("PANOPTES_EXPLORER_URL")  # set by `bin/dev env`
    run = None
    if args.no_lightcurves:
        print("demo: light curves skipped (--no-lightcurves)")
    elif counts["measured"] < 3:
        print(
            "demo: fewer than 3 frames measured: no light curves (see the frames' reasons "
            "in the explorer)",
            file=sys.stderr,
        )
    else:
        from panoptes_network.adapters.runtime import chain_context
        from panoptes_network.lightcurves.triggers import request_lightcurve

        ctx = chain_context("bin/demo", documents=True)
        options = {"min_frames": min(10, counts["measured"])}
        request_lightcurve(ctx, {"sequence_id": sequence_id, "options": options})
        run = _wait_for_run(db, sequence_id, args, started, progress)
        if run is None:
            print(
                f"demo: no finished light-curve run after {args.timeout:.0f} s; see "
                ".dev/logs/build-lightcurve.log",
                file=sys.stderr,
            )
            return 1
        run_id, fields = run
        _show(
            PROCESSED_OBSERVATIONS,
            run_id,
            fields,
            [
                "status",
                "num_frames",
                "num_frames_rejected",
                "num_stars",
                "num_variable_stars",
                "run_seconds",
                "data_url",
            ],
        )
    if explorer:
        print(f"\ndemo: see it in the Data Explorer: {explorer}/observations/{sequence_id}")
        if run is not None and transit is not None:
            lcid = f"{transit}_{run[0]}"
            if db.collection(LIGHTCURVES).document(lcid).get().exists:
                print(f"demo: the star with the 1% transit: {explorer}/stars/{transit}")
    print(
        '\ndemo: the stack keeps running; `eval "$(bin/dev env)"` to use it, '
        "`bin/dev down` to stop it."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
