"""``bin/demo``: upload a few frames to the local stack and print what the network recorded.

It simulates a short observation of a real field with ``bin/simulate``'s code (catalog stars,
sky, headers computed for the unit's site and time; the truth lands beside the frames), or,
when no star catalog is installed, renders quick synthetic frames with a unit's header layout
(:mod:`..synthetic_frame`). It uploads them with ``bin/upload``'s code, waits until
record-image has written every ``images`` document, and prints the unit, observation and
image documents. The stack must be running (``bin/demo`` starts it).
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
from panoptes_network.pipeline.schema import IMAGES, OBSERVATIONS, UNITS
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


def _frames(folder: Path, args: argparse.Namespace) -> list[ImagePath]:
    """Simulate the observation; fall back to synthetic frames without a catalog."""
    from panoptes_network.catalog.local_file import default_catalog_path
    from panoptes_network.catalog.tycho2_index import find_index_files
    from panoptes_network.cli import simulate

    if not default_catalog_path().exists() and not find_index_files():
        print("demo: no star catalog (bin/catalog build-tycho2); using synthetic frames")
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
        "--frames", type=int, default=3, help="frames to upload, 1 to 50 (default 3)"
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
        default=180.0,
        help="seconds to wait for the network to record the frames (default 180)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/demo``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.frames <= 50:
        parser.error("--frames must be from 1 to 50")
    settings = Settings.from_env()
    from google.cloud import firestore

    db = firestore.Client(project=settings.project_id)
    with tempfile.TemporaryDirectory(prefix="panoptes-demo-") as folder:
        print(
            f"demo: simulating {args.frames} full-size frames (5208 x 3476) of "
            f"{args.field} from {args.unit} ...",
            flush=True,
        )
        paths = _frames(Path(folder), args)
        started = time.monotonic()
        if upload_cli.main([folder]) != 0:
            print("demo: the upload failed; see above", file=sys.stderr)
            return 1
    print(
        "demo: waiting for the chain: raw-file-uploaded -> compress-fits -> record-image",
        flush=True,
    )
    pending = {p.image_id for p in paths}
    while pending and time.monotonic() - started < args.timeout:
        pending = {i for i in pending if not db.collection(IMAGES).document(i).get().exists}
        time.sleep(0.2)
    if pending:
        print(
            f"demo: no images doc after {args.timeout:.0f} s for {', '.join(sorted(pending))}; "
            "see .dev/logs/ and `bin/dev dead-letters`",
            file=sys.stderr,
        )
        return 1
    print(f"demo: {len(paths)} frames recorded {time.monotonic() - started:.1f} s after upload")
    unit = db.collection(UNITS).document(args.unit).get().to_dict() or {}
    _show(
        UNITS,
        args.unit,
        unit,
        [
            "name",
            "location",
            "elevation",
            "status",
            "num_images",
            "num_observations",
            "total_minutes_exptime",
        ],
    )
    observation = db.collection(OBSERVATIONS).document(paths[0].sequence_id).get().to_dict()
    _show(
        OBSERVATIONS,
        paths[0].sequence_id,
        observation or {},
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
            "software_version",
            "received_time",
        ],
    )
    for path in paths:
        image = db.collection(IMAGES).document(path.image_id).get().to_dict() or {}
        _show(
            IMAGES,
            path.image_id,
            image,
            [
                "time",
                "exptime",
                "airmass",
                "ra_mnt",
                "dec_mnt",
                "ha_mnt",
                "moonfrac",
                "moonsep",
                "status",
                "solved",
                "bucket_path",
                "public_url",
            ],
        )
    explorer = os.environ.get("PANOPTES_EXPLORER_URL")  # set by `bin/dev env`
    if explorer:
        print(
            f"\ndemo: see it in the Data Explorer: {explorer}/observations/{paths[0].sequence_id}"
        )
    print(
        '\ndemo: the stack keeps running; `eval "$(bin/dev env)"` to use it, '
        "`bin/dev down` to stop it."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
