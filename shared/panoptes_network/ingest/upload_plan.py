"""Decide the bucket path under which a local file is uploaded, the way a unit does.

A unit keeps its frames under ``.../<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.<ext>`` (or the
legacy form with a field name after the unit) and uploads them under the same tail. A file
kept elsewhere gets its path from its FITS header: ``OBSERVER`` (unit), ``INSTRUME``
(camera), ``SEQID`` (sequence start) and ``DATE-OBS`` (image start), any of which can be
given explicitly instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from panoptes_network.frames.bucket_path import (
    EXTENSIONS,
    ImagePath,
    InvalidPathError,
    format_timestamp,
)
from panoptes_network.frames.fits_header import FitsHeader
from panoptes_network.frames.header_values import parse_date_obs

__all__ = ["PathOverrides", "UploadPathError", "bucket_path_for", "uploadable_files"]


class UploadPathError(ValueError):
    """A local file whose bucket path cannot be worked out.

    Parameters
    ----------
    path : Path
        The local file.
    reason : str
        What is missing, and what to pass instead.
    """

    def __init__(self, path: Path, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class PathOverrides:
    """Parts of the bucket path given on the command line (None: work it out).

    Attributes
    ----------
    unit_id, camera_id, sequence_start : str or None
        ``PAN001``, ``14d3bd``, ``20180216T110623``.
    """

    unit_id: str | None = None
    camera_id: str | None = None
    sequence_start: str | None = None


def _extension(path: Path) -> str | None:
    name = path.name.lower()
    return next((e for e in EXTENSIONS if name.endswith(e)), None)


def uploadable_files(paths: list[Path]) -> list[Path]:
    """Expand files and folders into the files a unit would upload, sorted.

    Parameters
    ----------
    paths : list of Path
        Files and folders given by the user.

    Returns
    -------
    list of Path
        Every file named, and every file with a known extension inside the folders.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and _extension(p)))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path} does not exist")
    return found


def bucket_path_for(
    path: Path, header: FitsHeader | None, overrides: PathOverrides = PathOverrides()
) -> str:
    """Return the object name a unit would upload ``path`` under.

    Parameters
    ----------
    path : Path
        The local file.
    header : FitsHeader or None
        Its FITS header, when it is a FITS file.
    overrides : PathOverrides
        Parts given explicitly; they win over the folder layout and the header.

    Returns
    -------
    str
        A valid 4-part bucket path.

    Raises
    ------
    UploadPathError
        If the path cannot be worked out, saying which part is missing.
    """
    extension = _extension(path)
    if extension is None:
        raise UploadPathError(path, f"unknown extension; a unit uploads {', '.join(EXTENSIONS)}")
    parts = path.resolve().parts
    for size in (4, 5):
        try:
            parsed = ImagePath.parse("/".join(parts[-size:]))
        except InvalidPathError:
            continue
        return ImagePath(
            overrides.unit_id or parsed.unit_id,
            overrides.camera_id or parsed.camera_id,
            overrides.sequence_start or parsed.sequence_start,
            parsed.image_start,
            parsed.extension,
        ).object_name
    get = header.get if header is not None else (lambda key, default=None: default)
    unit = overrides.unit_id or str(get("OBSERVER", "") or "").strip()
    camera = overrides.camera_id or str(get("INSTRUME", "") or "").strip().lower()
    sequence = overrides.sequence_start or str(get("SEQID", "") or "").strip().rsplit("_", 1)[-1]
    start = parse_date_obs(get("DATE-OBS"))
    if start is None and path.name[: -len(extension)]:
        image_start = path.name[: -len(extension)]
    else:
        image_start = format_timestamp(start) if start else ""
    candidate = f"{unit}/{camera}/{sequence}/{image_start}{extension}"
    try:
        return ImagePath.parse(candidate).object_name
    except InvalidPathError as exc:
        raise UploadPathError(
            path,
            f"not in a UNIT/CAMERA/SEQSTART/ folder, and its header gives {candidate!r} "
            f"({exc.reason}); pass --unit, --camera or --sequence",
        ) from None
