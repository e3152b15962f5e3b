"""Write DNG files with a known Bayer mosaic and known EXIF, for the raw-file tests.

The mosaic is written with PiDNG (uncompressed, 16 bits); EXIF tags PiDNG does not set are
added with exiftool. Each colour has its own level (R 1000+, G 2000+, B 3000+ ADU, plus a small
gradient with the position) so that a wrong mask or orientation shows. An embedded JPEG
preview can be appended as a second IFD, where LibRaw and exiftool find camera previews.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from pidng.core import RAW2DNG, DNGTags, Tag
from pidng.defs import CalibrationIlluminant, CFAPattern, Orientation, PhotometricInterpretation

#: Level of each colour, in ADU (plus up to GRADIENT - 1 with the position).
LEVELS = {"R": 1000, "G": 2000, "B": 3000}
GRADIENT = 50
BLACK_LEVEL = 512
WHITE_LEVEL = 15000
#: AsShotNeutral as (numerator, denominator): LibRaw's multipliers are the inverses (2, 1, 1.5).
AS_SHOT_NEUTRAL = ((1, 2), (1, 1), (2, 3))
CAMERA_WB = (2.0, 1.0, 1.5)
#: EXIF written with exiftool, and what the cards must read back.
EXIF_TAGS = {
    "ISO": "100",
    "ExposureTime": "120.4",
    "DateTimeOriginal": "2016:09:09 08:12:26",
    "SerialNumber": "012070048413",
}
_CFA = {
    "RGGB": CFAPattern.RGGB,
    "BGGR": CFAPattern.BGGR,
    "GRBG": CFAPattern.GRBG,
    "GBRG": CFAPattern.GBRG,
}


def mosaic(rows: int, cols: int, pattern: str = "RGGB") -> np.ndarray:
    """Return the upright test mosaic (row 0 at the top), uint16 ADU."""
    rr, cc = np.mgrid[0:rows, 0:cols]
    image = np.zeros((rows, cols), dtype=np.uint16)
    for position, colour in enumerate(pattern):
        r, c = divmod(position, 2)
        image[r::2, c::2] = LEVELS[colour] + (rr[r::2, c::2] + cc[r::2, c::2]) % GRADIENT
    return image


def _tags(rows: int, cols: int, pattern: str, extra: dict | None = None) -> DNGTags:
    tags = DNGTags()
    for tag, value in (
        (Tag.ImageWidth, cols),
        (Tag.ImageLength, rows),
        (Tag.TileWidth, cols),
        (Tag.TileLength, rows),
        (Tag.Orientation, Orientation.Horizontal),
        (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
        (Tag.SamplesPerPixel, 1),
        (Tag.BitsPerSample, 16),
        (Tag.CFARepeatPatternDim, [2, 2]),
        (Tag.CFAPattern, _CFA[pattern]),
        (Tag.BlackLevel, BLACK_LEVEL),
        (Tag.WhiteLevel, WHITE_LEVEL),
        (
            Tag.ColorMatrix1,
            [[1, 1], [0, 1], [0, 1], [0, 1], [1, 1], [0, 1], [0, 1], [0, 1], [1, 1]],
        ),
        (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
        (Tag.AsShotNeutral, [list(v) for v in AS_SHOT_NEUTRAL]),
        (Tag.Make, "Canon"),
        (Tag.Model, "Canon EOS 100D"),
    ):
        tags.set(tag, value)
    return tags


def _with_preview(dng: bytes, jpeg: bytes, width: int, height: int) -> bytes:
    """Append ``jpeg`` as IFD1 (a JPEG-compressed preview image) of a little-endian TIFF."""
    if dng[:4] != b"II*\x00":
        raise ValueError("expected a little-endian TIFF")
    ifd0 = struct.unpack_from("<I", dng, 4)[0]
    count = struct.unpack_from("<H", dng, ifd0)[0]
    next_at = ifd0 + 2 + 12 * count
    out = bytearray(dng)
    out += b"\0" * (len(out) % 2)
    jpeg_at = len(out)
    out += jpeg
    out += b"\0" * (len(out) % 2)
    ifd1 = len(out)
    short, long = 3, 4
    entries = [
        (254, long, 1),  # NewSubfileType: reduced-resolution image
        (256, long, width),
        (257, long, height),
        (258, short, 8),
        (259, short, 7),  # JPEG
        (262, short, 6),  # YCbCr
        (273, long, jpeg_at),
        (277, short, 3),
        (279, long, len(jpeg)),
    ]
    out += struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        packed = struct.pack("<HH", value, 0) if kind == short else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, kind, 1) + packed
    out += struct.pack("<I", 0)
    struct.pack_into("<I", out, next_at, ifd1)
    return bytes(out)


def preview_jpeg(width: int, height: int) -> bytes:
    """Return a plain red JPEG of the given size (pixels), the embedded preview of tests."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def write_exif(data: bytes, tags: dict[str, str]) -> bytes:
    """Return ``data`` with EXIF tags written by ``exiftool -overwrite_original -TAG=VALUE``."""
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        raise RuntimeError("exiftool is missing (Debian: apt-get install libimage-exiftool-perl)")
    with tempfile.TemporaryDirectory(prefix="dng-files-") as folder:
        path = Path(folder) / "frame.dng"
        path.write_bytes(data)
        subprocess.run(
            [exiftool, "-q", "-overwrite_original", *[f"-{k}={v}" for k, v in tags.items()]]
            + [str(path)],
            check=True,
            capture_output=True,
        )
        return path.read_bytes()


def dng_bytes(
    rows: int = 48,
    cols: int = 64,
    pattern: str = "RGGB",
    *,
    exif: dict[str, str] | None = None,
    preview: tuple[int, int] | None = None,
) -> bytes:
    """Write a DNG with the test mosaic.

    Parameters
    ----------
    rows, cols : int
        Size of the mosaic, in pixels (LibRaw refuses images under 22 pixels).
    pattern : str
        The CFA from the top-left of the upright image.
    exif : dict, optional
        exiftool tags to add (needs exiftool); :data:`EXIF_TAGS` for the usual ones.
    preview : tuple of int, optional
        (width, height) of an embedded JPEG preview to append.

    Returns
    -------
    bytes
        The DNG file.
    """
    writer = RAW2DNG()
    writer.options(_tags(rows, cols, pattern), path="", compress=False)
    data = bytes(writer.convert(mosaic(rows, cols, pattern)))
    if preview is not None:
        data = _with_preview(data, preview_jpeg(*preview), *preview)
    if exif:
        data = write_exif(data, exif)
    return data
