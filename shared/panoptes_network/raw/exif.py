"""Read a raw file's EXIF with exiftool and map it to the FITS cards the units write.

exiftool (Debian ``libimage-exiftool-perl``) reads every maker note the units' Canon cameras
write (camera temperature, measured EV, white levels ...), which LibRaw does not expose. It
runs as one ``exiftool -j -n`` process per file: numeric values come back as numbers, and the
few cards the units wrote in exiftool's printed form (``CAMTEMP = '11 C'``,
``CIRCCONF = '0.019 mm'``, ``MEASEV`` to 0.01, ``REDBAL``/``BLUEBAL`` to 1e-6) are formatted
here the way exiftool prints them, so the cards match those of the units' FITS frames. A value
the file lacks becomes an empty string, as in older frames.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from panoptes_network.raw.decode import RawDecodeError

__all__ = ["EXIFTOOL_TIMEOUT", "ExiftoolMissingError", "read_exif", "exif_cards"]

#: Seconds exiftool may take on one file.
EXIFTOOL_TIMEOUT = 60.0
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._+\-]")


class ExiftoolMissingError(RuntimeError):
    """exiftool is not installed (a fault of the machine, not of the input)."""


def _file_name(source: str) -> str:
    """Return a safe local file name with the source's base name (exiftool reports it)."""
    name = _SAFE_NAME.sub("_", source.rstrip("/").rsplit("/", 1)[-1])
    return name if name.strip("._") else "raw"


def read_exif(data: bytes, source: str) -> dict[str, Any]:
    """Read every tag of a file with ``exiftool -j -n``.

    Parameters
    ----------
    data : bytes
        The whole file.
    source : str
        Its name, for messages; its base name is the ``FileName`` exiftool reports.

    Returns
    -------
    dict
        exiftool's JSON object for the file: tag name to value, numbers where exiftool gives
        numbers (``-n``).

    Raises
    ------
    RawDecodeError
        If exiftool cannot read the file (empty, unknown format, damaged).
    ExiftoolMissingError
        If exiftool is not installed.
    """
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        raise ExiftoolMissingError(
            "exiftool is not installed (Debian: apt-get install libimage-exiftool-perl)"
        )
    if not data:
        raise RawDecodeError(source, "the file is empty")
    with tempfile.TemporaryDirectory(prefix="raw-exif-") as folder:
        path = Path(folder) / _file_name(source)
        path.write_bytes(data)
        try:
            done = subprocess.run(
                [exiftool, "-j", "-n", "-api", "LargeFileSupport=1", str(path)],
                capture_output=True,
                timeout=EXIFTOOL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RawDecodeError(
                source, f"exiftool did not finish within {EXIFTOOL_TIMEOUT:g} s"
            ) from None
    try:
        tags = json.loads(done.stdout.decode("utf-8", "replace"))[0]
    except (ValueError, IndexError, KeyError):
        message = done.stderr.decode("utf-8", "replace").strip() or "no output"
        raise RawDecodeError(source, f"exiftool cannot read it: {message}") from None
    if not isinstance(tags, dict):
        raise RawDecodeError(source, "exiftool returned no tags")
    if "Error" in tags:
        raise RawDecodeError(source, f"exiftool cannot read it: {tags['Error']}")
    return tags


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    # FITS strings are printable ASCII.
    return "".join(c for c in str(value) if " " <= c <= "~").strip()


def _integer(value: Any) -> int:
    return int(round(float(value)))


def _with_unit(unit: str, digits: int | None) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if isinstance(value, str):
            return _text(value)  # already as exiftool prints it
        number = float(value)
        shown = f"{number:.{digits}f}" if digits is not None else f"{number:g}"
        return f"{shown} {unit}"

    return convert


def _rounded(digits: int) -> Callable[[Any], float]:
    return lambda value: float(f"{float(value):.{digits}f}")


def _date(value: Any) -> str:
    text = _text(value)[:19]
    for layout in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, layout).isoformat()
        except ValueError:
            continue
    return ""


# keyword, exiftool tag, conversion, comment ("{kind}" is the raw format, e.g. CR2).
_MAPPING: tuple[tuple[str, str, Callable[[Any], Any], str], ...] = (
    ("ISO", "ISO", _integer, ""),
    ("EXPTIME", "ExposureTime", float, ""),
    ("CAMTEMP", "CameraTemperature", _with_unit("C", 0), "Celsius - From {kind}"),
    ("CIRCCONF", "CircleOfConfusion", _with_unit("mm", 3), "From {kind}"),
    ("COLORTMP", "ColorTempAsShot", _integer, "From {kind}"),
    ("DATE-OBS", "DateTimeOriginal", _date, ""),
    ("FILENAME", "FileName", _text, "From {kind}"),
    ("INTSN", "InternalSerialNumber", _text, "From {kind}"),
    ("CAMSN", "SerialNumber", _text, "From {kind}"),
    ("MEASEV", "MeasuredEV", _rounded(2), "From {kind}"),
    ("MEASEV2", "MeasuredEV2", float, "From {kind}"),
    ("MEASRGGB", "MeasuredRGGB", _text, "From {kind}"),
    ("WHTLVLN", "NormalWhiteLevel", _integer, "From {kind}"),
    ("WHTLVLS", "SpecularWhiteLevel", _integer, "From {kind}"),
    ("REDBAL", "RedBalance", _rounded(6), "From {kind}"),
    ("BLUEBAL", "BlueBalance", _rounded(6), "From {kind}"),
    ("WBRGGB", "WB_RGGBLevelsAsShot", _text, "From {kind}"),
)


def exif_cards(exif: Mapping[str, Any], pattern: str = "RGGB") -> list[tuple[str, Any, str]]:
    """Map exiftool tags to the FITS cards of the units' frames.

    Parameters
    ----------
    exif : Mapping
        exiftool's tags (as :func:`read_exif` returns them; printed values are accepted too).
    pattern : str
        The Bayer pattern, written as ``FILTER``.

    Returns
    -------
    list of tuple
        ``(keyword, value, comment)`` in the units' order: ISO, EXPTIME (s), CAMTEMP
        (``'11 C'``), CIRCCONF (``'0.019 mm'``), COLORTMP (K), DATE-OBS (ISO 8601, camera
        clock), FILENAME, INTSN, CAMSN, MEASEV, MEASEV2, MEASRGGB, WHTLVLN (ADU), WHTLVLS
        (ADU), REDBAL, BLUEBAL, WBRGGB, FILTER. A missing or unreadable value is ``''``.
    """
    kind = _text(exif.get("FileType") or "CR2") or "CR2"
    cards: list[tuple[str, Any, str]] = []
    for keyword, tag, convert, comment in _MAPPING:
        value = exif.get(tag)
        try:
            converted = "" if value is None or value == "" else convert(value)
        except (TypeError, ValueError):
            converted = ""
        cards.append((keyword, converted, comment.format(kind=kind)))
    cards.append(("FILTER", pattern, ""))
    return cards
