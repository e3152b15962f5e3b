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

from panoptes_network.frames.bucket_path import EXTENSIONS
from panoptes_network.frames.fits_header import NotFitsError, read_header_from_file
from panoptes_network.ingest.upload_plan import (
    PathOverrides,
    UploadPathError,
    bucket_path_for,
    uploadable_files,
)
from panoptes_network.pipeline.settings import Settings

__all__ = ["main"]

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


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/upload``."""
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="bin/upload", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="files or folders to upload")
    parser.add_argument("--bucket", default=settings.incoming_bucket)
    parser.add_argument("--project", default=settings.project_id)
    parser.add_argument("--unit", help="unit id, e.g. PAN001 (default: folder or header)")
    parser.add_argument("--camera", help="camera id, e.g. 14d3bd (default: folder or header)")
    parser.add_argument("--sequence", help="sequence start YYYYMMDDTHHMMSS (default: header)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, upload nothing")
    args = parser.parse_args(argv)
    try:
        files = uploadable_files(args.paths)
    except FileNotFoundError as exc:
        print(f"upload: {exc}", file=sys.stderr)
        return 2
    if not files:
        print(
            "upload: no files with a known extension (" + ", ".join(EXTENSIONS) + ")",
            file=sys.stderr,
        )
        return 2
    overrides = PathOverrides(args.unit, args.camera, args.sequence)
    planned, problems = _plan(files, overrides)
    for problem in problems:
        print(f"upload: skipped {problem}", file=sys.stderr)
    if args.dry_run:
        for path, name in planned:
            print(f"{path} -> gs://{args.bucket}/{name}")
        return 1 if problems else 0
    from google.api_core import exceptions as gexc
    from google.cloud import storage

    bucket = storage.Client(project=args.project).bucket(args.bucket)
    total = sum(path.stat().st_size for path, _ in planned)
    failed = 0
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
                tqdm.write(f"upload: {path} failed: {exc}", file=sys.stderr)
            else:
                tqdm.write(f"{path} -> gs://{args.bucket}/{name}", file=sys.stderr)
    print(
        f"upload: {len(planned) - failed} uploaded, {failed} failed, {len(problems)} skipped",
        file=sys.stderr,
    )
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
