"""``bin/upload``: upload files like a unit does, with a progress bar.

Each file goes to ``gs://<bucket>/<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.<ext>`` (see
:mod:`panoptes_network.ingest.upload_plan`). Against the local stack (``STORAGE_EMULATOR_HOST`` set,
as ``bin/upload`` does when the stack runs) the bucket is the emulator's; otherwise the
project's, with your Google Cloud credentials.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from panoptes_network.cli import summary
from panoptes_network.cli.cloud_access import cloud_access_errors, no_cloud_access_message
from panoptes_network.frames.bucket_path import EXTENSIONS
from panoptes_network.frames.fits_header import NotFitsError, read_header_from_file
from panoptes_network.ingest.upload_plan import (
    PathOverrides,
    UploadPathError,
    bucket_path_for,
    uploadable_files,
)
from panoptes_network.pipeline.settings import Settings, SettingsError

__all__ = ["build_parser", "main"]

_PROG = "upload"
_CHUNK = 8 * 1024 * 1024


class _Progress:
    """A file whose reads advance a progress bar."""

    def __init__(self, handle: BinaryIO, bar: tqdm):
        self.handle = handle
        self.bar = bar

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.bar.update(len(chunk))
        return chunk

    def tell(self) -> int:
        return self.handle.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        before = self.handle.tell()
        after = self.handle.seek(offset, whence)
        if after < before:  # a retried chunk: take its bytes back off the bar
            self.bar.update(after - before)
        return after


def _plan(files: list[Path], overrides: PathOverrides) -> tuple[list[tuple[Path, str]], list[str]]:
    planned, problems = [], []
    for path in files:
        header = None
        if path.name.lower().endswith((".fits", ".fits.fz")):
            try:
                header = read_header_from_file(path)
            except NotFitsError:
                header = None  # upload it anyway: the network quarantines it with the reason
        try:
            planned.append((path, bucket_path_for(path, header, overrides)))
        except UploadPathError as exc:
            problems.append(str(exc))
    return planned, problems


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/upload``.

    Returns
    -------
    argparse.ArgumentParser
        The parser; ``--bucket`` and ``--project`` are None when not given (the settings
        decide).
    """
    parser = argparse.ArgumentParser(
        prog="bin/upload",
        description=summary(__doc__),
        epilog="Against the local stack when it runs (bin/upload exports its environment), "
        "else the Google Cloud project of your credentials.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders to upload")
    parser.add_argument(
        "--bucket",
        help="bucket to upload into (default: $PANOPTES_INCOMING_BUCKET, else "
        f"{Settings.incoming_bucket})",
    )
    parser.add_argument(
        "--project",
        help="Google Cloud project id (default: $GOOGLE_CLOUD_PROJECT, else "
        f"{Settings.project_id})",
    )
    parser.add_argument("--unit", help="unit id, e.g. PAN001 (default: folder or header)")
    parser.add_argument("--camera", help="camera id, e.g. 14d3bd (default: folder or header)")
    parser.add_argument("--sequence", help="sequence start YYYYMMDDTHHMMSS (default: header)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, upload nothing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/upload``.

    Every input is checked, and the upload planned, before any cloud client is made.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 every file uploaded, 1 when a file failed or was skipped or neither the
        local stack nor Google Cloud answers, 2 for bad input.
    """
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2
    bucket_name = args.bucket or settings.incoming_bucket
    project = args.project or settings.project_id
    try:
        files = uploadable_files(args.paths)
    except FileNotFoundError as exc:
        print(f"{_PROG}: {exc}", file=sys.stderr)
        return 2
    if not files:
        print(
            f"{_PROG}: no files with a known extension ({', '.join(EXTENSIONS)})",
            file=sys.stderr,
        )
        return 2
    overrides = PathOverrides(args.unit, args.camera, args.sequence)
    planned, problems = _plan(files, overrides)
    for problem in problems:
        print(f"{_PROG}: skipped {problem}", file=sys.stderr)
    if args.dry_run:
        for path, name in planned:
            print(f"{path} -> gs://{bucket_name}/{name}")
        return 1 if problems else 0
    from google.api_core import exceptions as gexc
    from google.cloud import storage

    total = sum(path.stat().st_size for path, _ in planned)
    failed = 0
    try:
        bucket = storage.Client(project=project).bucket(bucket_name)
        with tqdm(total=total, unit="B", unit_scale=True, desc="upload", file=sys.stderr) as bar:
            for path, name in planned:
                blob = bucket.blob(name, chunk_size=_CHUNK)
                try:
                    with path.open("rb") as handle:
                        blob.upload_from_file(
                            _Progress(handle, bar),
                            size=path.stat().st_size,
                            content_type="application/octet-stream",
                        )
                except (gexc.GoogleAPIError, OSError) as exc:
                    failed += 1
                    tqdm.write(f"{_PROG}: {path} failed: {exc}", file=sys.stderr)
                else:
                    tqdm.write(f"{path} -> gs://{bucket_name}/{name}", file=sys.stderr)
    except cloud_access_errors() as exc:
        print(no_cloud_access_message(_PROG, exc), file=sys.stderr)
        return 1
    print(
        f"{_PROG}: {len(planned) - failed} uploaded, {failed} failed, {len(problems)} skipped",
        file=sys.stderr,
    )
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
