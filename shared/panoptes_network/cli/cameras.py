"""``bin/cameras``: the camera registry, where each camera's constants come from.

    bin/cameras list [--json]
    bin/cameras set CAMERA_ID --source TEXT [--bias ADU] [--saturation ADU] [--gain E/ADU]
                    [--read-noise E] [--bayer-pattern RGGB]
    bin/cameras measure CAMERA_ID FILE_OR_FOLDER... [--dry-run]

Every frame's bias, saturation, gain, read noise and Bayer pattern are resolved from its
header, else a measurement from the camera's recorded darks and flats
(``bin/calibration-masters``), else the ``cameras/{camera_id}`` registry document; a frame
whose camera lacks one is recorded as ``calibration_error`` and waits, its file kept.
``set`` writes values given by hand (with where they come from); ``measure`` measures them
by photon transfer from the camera's own bias frames and flats (FITS files, ``.fits`` or
``.fits.fz``: :mod:`panoptes_network.calibration.camera_measurement`). Either then sends the
camera's waiting frames on (:mod:`panoptes_network.ingest.calibration_redrive`) and says how
many. Against the local stack when it runs, else the Google Cloud project of your
credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits

from panoptes_network.calibration.camera_measurement import (
    CalibrationFrameFile,
    measure_camera,
    registry_entry,
)
from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message
from panoptes_network.frames.camera_constants import CONSTANTS
from panoptes_network.frames.camera_registry import PIXEL_SCALE_FIELD
from panoptes_network.ingest.calibration_redrive import redrive_waiting_frames
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import CAMERAS

__all__ = ["build_parser", "main", "read_calibration_files", "register"]

_PROG = "cameras"
_CAMERA_ID = "six lower-case hex characters (the bucket path's camera part)"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/cameras``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(prog="bin/cameras", description=summary(__doc__))
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="every registered camera and its constants")
    listing.add_argument("--json", action="store_true", help="print the documents as JSON")
    setting = commands.add_parser("set", help="write constants given by hand")
    setting.add_argument("camera_id", help=_CAMERA_ID)
    setting.add_argument("--source", required=True, help="where the values come from")
    setting.add_argument("--bias", type=float, help="bias (black level), ADU")
    setting.add_argument("--saturation", type=float, help="white level, ADU (bias included)")
    setting.add_argument("--gain", type=float, help="gain, e-/ADU")
    setting.add_argument("--read-noise", type=float, help="read noise, e- RMS")
    setting.add_argument("--bayer-pattern", help="colour filter array from the top left: RGGB")
    setting.add_argument(
        "--pixel-scale",
        type=float,
        help="arcsec per pixel at the frame's centre (the lens and sensor); without it the "
        "camera's first plate solution gives it",
    )
    measuring = commands.add_parser(
        "measure", help="measure by photon transfer from bias frames and flats"
    )
    measuring.add_argument("camera_id", help=_CAMERA_ID)
    measuring.add_argument("paths", nargs="+", type=Path, help="FITS files or folders of them")
    measuring.add_argument("--dry-run", action="store_true", help="print the entry, write nothing")
    return parser


def read_calibration_files(paths: list[Path]) -> list[CalibrationFrameFile]:
    """Read the FITS frames of files and folders (``.fits``, ``.fits.fz``), sorted by name.

    Parameters
    ----------
    paths : list of Path
        Files, or folders searched recursively.

    Returns
    -------
    list of CalibrationFrameFile
        Header and pixels of each frame (the first image HDU).

    Raises
    ------
    ValueError
        For a path that does not exist, a file that is not a FITS image, or no frame at all.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += [p for p in path.rglob("*") if p.name.endswith((".fits", ".fits.fz"))]
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"{path} does not exist")
    frames = []
    for file in sorted(files):
        try:
            with fits.open(file) as hdus:
                hdu = next((h for h in hdus if h.data is not None and h.data.ndim == 2), None)
                if hdu is None:
                    raise ValueError("no 2-D image")
                frames.append(
                    CalibrationFrameFile(str(file), hdu.header.copy(), np.array(hdu.data))
                )
        except (OSError, ValueError) as exc:
            raise ValueError(f"{file} is not a readable FITS frame: {exc}") from None
    if not frames:
        raise ValueError(f"no FITS frame under {', '.join(str(p) for p in paths)}")
    return frames


def register(documents: DocumentStore, camera_id: str, entry: dict[str, Any]) -> None:
    """Write (merge) a camera's registry entry.

    Parameters
    ----------
    documents : DocumentStore
        Where ``cameras/{camera_id}`` lives.
    camera_id : str
        The camera.
    entry : dict
        Values and their sources (:func:`registry_entry`, :func:`measure_camera`).
    """
    documents.merge(CAMERAS, camera_id, {"camera_id": camera_id, **entry})


def _describe(camera_id: str, doc: dict[str, Any]) -> str:
    lines = [f"{camera_id}:"]
    for name in (*CONSTANTS, PIXEL_SCALE_FIELD):
        value = doc.get(name)
        shown = "-" if value is None else value
        source = doc.get(f"{name}_source")
        lines.append(f"  {name:15} {shown!s:>10}  {source or ''}".rstrip())
    return "\n".join(lines)


def _valid_id(camera_id: str) -> bool:
    return len(camera_id) == 6 and all(c in "0123456789abcdef" for c in camera_id)


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/cameras``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0 done, 1 when neither the local stack nor Google Cloud answers, 2 for bad input.
    """
    args = build_parser().parse_args(argv)
    camera_id = getattr(args, "camera_id", None)
    if camera_id is not None and not _valid_id(camera_id):
        print(f"{_PROG}: camera id {camera_id!r} is not {_CAMERA_ID}", file=sys.stderr)
        return 2
    entry: dict[str, Any] | None = None
    try:
        if args.command == "set":
            entry = registry_entry(
                {
                    "bias_adu": args.bias,
                    "saturation_adu": args.saturation,
                    "gain_e_per_adu": args.gain,
                    "read_noise_e": args.read_noise,
                    "bayer_pattern": args.bayer_pattern,
                },
                args.source,
            )
            if args.pixel_scale is not None:
                if not 0.5 <= args.pixel_scale <= 300.0:
                    raise ValueError(
                        f"--pixel-scale {args.pixel_scale} is not 0.5 to 300 arcsec per pixel"
                    )
                entry[PIXEL_SCALE_FIELD] = args.pixel_scale
                entry[f"{PIXEL_SCALE_FIELD}_source"] = args.source
            if not entry:
                raise ValueError("give at least one value (--bias, --gain ...)")
        elif args.command == "measure":
            measured = measure_camera(read_calibration_files(args.paths), camera_id)
            for note in measured.notes:
                print(f"{_PROG}: {note}", file=sys.stderr)
            entry = measured.entry
            if args.dry_run:
                print(json.dumps(entry, indent=2))
                return 0
    except ValueError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2
    from panoptes_network.adapters.runtime import chain_context

    try:
        ctx = chain_context("bin/cameras", documents=True)
        documents = ctx.documents
        assert documents is not None
        if entry is not None:
            register(documents, camera_id, entry)
            print(_describe(camera_id, documents.get(CAMERAS, camera_id) or {}))
            print(f"{_PROG}: {redrive_waiting_frames(ctx, camera_id).describe()}")
            return 0
        found = sorted(documents.query(CAMERAS), key=lambda r: r[0])
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(_PROG, exc), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({doc_id: doc for doc_id, doc in found}, default=str))
    else:
        print("\n".join(_describe(doc_id, doc) for doc_id, doc in found) or "no camera")
    return 0


if __name__ == "__main__":
    sys.exit(main())
