"""The bucket path grammar of PANOPTES uploads.

A unit uploads every file under ``<UNIT_ID>/<CAMERA_ID>/<SEQSTART>/<IMGSTART>.<ext>``, for
example ``PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz``:

- ``UNIT_ID`` is ``PAN`` followed by three digits;
- ``CAMERA_ID`` is six hexadecimal characters (lower case);
- ``SEQSTART`` and ``IMGSTART`` are UTC times written ``YYYYMMDDTHHMMSS``.

Old units uploaded a 5-part form with a field name after the unit id
(``PAN001/Wasp33/14d3bd/20180216T110623/20180216T112430.fits``); :meth:`ImagePath.parse`
accepts it and normalises it to the 4-part form, keeping the field name aside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

__all__ = [
    "EXTENSIONS",
    "RAW_EXTENSIONS",
    "InvalidPathError",
    "ImagePath",
    "parse_timestamp",
    "split_id",
    "format_timestamp",
]

#: File extensions a unit uploads, longest first so that ``.fits.fz`` wins over ``.fz``.
EXTENSIONS: tuple[str, ...] = (
    ".fits.fz",
    ".fits",
    ".cr2",
    ".cr3",
    ".nef",
    ".dng",
    ".jpg",
    ".mp4",
)
#: Camera raw files (read by LibRaw); units upload Canon ``.cr2``, the others are accepted too.
RAW_EXTENSIONS: tuple[str, ...] = (".cr2", ".cr3", ".nef", ".dng")

_UNIT = re.compile(r"PAN[0-9]{3}")
_CAMERA = re.compile(r"[0-9a-f]{6}")
_TIME = re.compile(r"[0-9]{8}T[0-9]{6}")
_FIELD = re.compile(r"[A-Za-z0-9_.+\-]{1,64}")
_TIME_FORMAT = "%Y%m%dT%H%M%S"


class InvalidPathError(ValueError):
    """An object name that does not follow the bucket path grammar.

    Parameters
    ----------
    name : str
        The object name as uploaded.
    reason : str
        What is wrong with it, in words a unit operator can act on.
    """

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"invalid bucket path {name!r}: {reason}")


def parse_timestamp(text: str) -> datetime:
    """Parse a ``YYYYMMDDTHHMMSS`` path time as an aware UTC datetime.

    Parameters
    ----------
    text : str
        The time as it stands in a bucket path or an id.

    Returns
    -------
    datetime
        The moment, with ``tzinfo=UTC``.

    Raises
    ------
    ValueError
        If the text is not a valid calendar time.
    """
    if not _TIME.fullmatch(text):
        raise ValueError(f"{text!r} is not a YYYYMMDDTHHMMSS time")
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=timezone.utc)


def split_id(text: str) -> tuple[str, str, str] | None:
    """Split an observation or image id, ``<UNIT>_<CAMERA>_<YYYYMMDDTHHMMSS>``.

    Only the shape is checked; :func:`parse_timestamp` checks that the time is a real one.

    Parameters
    ----------
    text : str
        The id, e.g. ``PAN001_14d3bd_20180216T110623``.

    Returns
    -------
    tuple of str or None
        (unit id, camera id, time), or None when ``text`` does not have that shape.
    """
    parts = text.split("_") if isinstance(text, str) else []
    if len(parts) != 3:
        return None
    unit, camera, moment = parts
    if not (_UNIT.fullmatch(unit) and _CAMERA.fullmatch(camera) and _TIME.fullmatch(moment)):
        return None
    return unit, camera, moment


def format_timestamp(moment: datetime) -> str:
    """Write a datetime as a ``YYYYMMDDTHHMMSS`` path time (UTC).

    Parameters
    ----------
    moment : datetime
        An aware datetime, or a naive one taken to be UTC.

    Returns
    -------
    str
        The path time.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(_TIME_FORMAT)


@dataclass(frozen=True)
class ImagePath:
    """One uploaded file's place in the bucket path grammar.

    Attributes
    ----------
    unit_id : str
        ``PAN`` and three digits.
    camera_id : str
        Six lower-case hex characters.
    sequence_start : str
        Start of the observation, ``YYYYMMDDTHHMMSS`` UTC.
    image_start : str
        Start of the exposure, ``YYYYMMDDTHHMMSS`` UTC.
    extension : str
        One of :data:`EXTENSIONS`, with its leading dot.
    field_name : str or None
        The field name of a legacy 5-part path, else None.
    """

    unit_id: str
    camera_id: str
    sequence_start: str
    image_start: str
    extension: str
    field_name: str | None = None

    @classmethod
    def parse(cls, name: str) -> ImagePath:
        """Parse and validate an object name.

        Parameters
        ----------
        name : str
            The object name in the bucket, 4-part or legacy 5-part.

        Returns
        -------
        ImagePath
            The parsed path, normalised to the 4-part form.

        Raises
        ------
        InvalidPathError
            If the name breaks the grammar; the message says which part and why.
        """
        if not isinstance(name, str) or not name:
            raise InvalidPathError(str(name), "the object name is empty")
        if len(name) > 512:
            raise InvalidPathError(name[:64] + "...", "the object name is over 512 characters")
        if "\\" in name or "\x00" in name or any(ord(c) < 32 for c in name):
            raise InvalidPathError(name, "the name holds a backslash or control character")
        parts = name.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise InvalidPathError(name, "empty, '.' or '..' path segments are not allowed")
        field_name = None
        if len(parts) == 5:
            field_name = parts.pop(1)
            if not _FIELD.fullmatch(field_name):
                raise InvalidPathError(name, f"legacy field name {field_name!r} is not valid")
        if len(parts) != 4:
            raise InvalidPathError(
                name,
                f"expected UNIT/CAMERA/SEQSTART/IMGSTART.ext (4 parts), found {len(parts)} parts",
            )
        unit_id, camera_id, sequence_start, filename = parts
        extension = next((e for e in EXTENSIONS if filename.lower().endswith(e)), None)
        if extension is None:
            raise InvalidPathError(
                name, f"unknown extension; expected one of {', '.join(EXTENSIONS)}"
            )
        image_start = filename[: -len(extension)]
        if not _UNIT.fullmatch(unit_id):
            raise InvalidPathError(name, f"unit id {unit_id!r} is not PAN followed by 3 digits")
        if not _CAMERA.fullmatch(camera_id):
            raise InvalidPathError(name, f"camera id {camera_id!r} is not 6 lower-case hex chars")
        for label, value in (("sequence start", sequence_start), ("image start", image_start)):
            try:
                parse_timestamp(value)
            except ValueError:
                raise InvalidPathError(
                    name, f"{label} {value!r} is not a valid YYYYMMDDTHHMMSS time"
                ) from None
        if image_start < sequence_start:
            raise InvalidPathError(name, "the image starts before its sequence")
        return cls(unit_id, camera_id, sequence_start, image_start, extension, field_name)

    @property
    def object_name(self) -> str:
        """The normalised 4-part object name."""
        return (
            f"{self.unit_id}/{self.camera_id}/{self.sequence_start}/"
            f"{self.image_start}{self.extension}"
        )

    @property
    def sequence_id(self) -> str:
        """The observation id, ``<UNIT>_<CAMERA>_<SEQSTART>``."""
        return f"{self.unit_id}_{self.camera_id}_{self.sequence_start}"

    @property
    def image_id(self) -> str:
        """The image id, ``<UNIT>_<CAMERA>_<IMGSTART>``."""
        return f"{self.unit_id}_{self.camera_id}_{self.image_start}"

    @property
    def sequence_time(self) -> datetime:
        """Start of the observation as an aware UTC datetime."""
        return parse_timestamp(self.sequence_start)

    @property
    def image_time(self) -> datetime:
        """Start of the exposure as an aware UTC datetime."""
        return parse_timestamp(self.image_start)

    def with_extension(self, extension: str) -> ImagePath:
        """Return the same image with another extension (e.g. ``.fits`` to ``.fits.fz``).

        Parameters
        ----------
        extension : str
            One of :data:`EXTENSIONS`.

        Returns
        -------
        ImagePath
            A copy with the new extension.
        """
        if extension not in EXTENSIONS:
            raise ValueError(f"unknown extension {extension!r}")
        return ImagePath(
            self.unit_id,
            self.camera_id,
            self.sequence_start,
            self.image_start,
            extension,
            self.field_name,
        )
