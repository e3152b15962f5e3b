"""The products of a camera raw file: a Bayer FITS frame, an RGB FITS cube and a JPEG preview.

- ``bayer_fits``: the raw mosaic as the units' own FITS frames store it: uncompressed uint16
  (``BITPIX = 16``, ``BZERO = 32768``), one HDU, in FITS orientation (see
  :mod:`.decode`), with the EXIF cards of the units' frames
  (:func:`~.exif.exif_cards`), the cards of the bucket path
  (:func:`path_cards`), the raw file's calibration values and ``CHECKSUM``/``DATASUM``. It is
  a science frame: compress-fits and record-image take it like any uploaded ``.fits``.
- ``rgb_fits``: an interpolated colour image for looking at, not for measuring. One
  tile-compressed FITS file (``.fits.fz``: an empty primary HDU, the image in HDU 1, lossless
  Rice, tiles of one plane by 16 rows), a cube of three uint16 planes (``NAXIS3 = 3``) in R, G,
  B order, in the same FITS orientation as the Bayer frame. The planes are linear (gamma 1, no
  automatic brightening), in the camera's colour space with its as-shot white balance:
  ``plane = (raw - BLKLEVEL) * WBx * RGBSCALE``, clipped to 65535. One file keeps the three
  colours of a pixel together for the viewers that read cubes (DS9, astropy, fitsio), and
  ``.fits.fz`` is how the archive stores every frame; Rice is lossless on integers, so a
  108 MB cube of a 5208 x 3476 sensor is stored in about a third of that, and single planes or
  rows stay cheap to read. Linear values with the white balance, black level and scale in the
  header keep the cube traceable to ADU; no colour matrix is applied because it would mix the
  channels.
- ``preview_jpeg``: about 1200 pixels wide (:mod:`.preview`).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from astropy.io import fits

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.checksum import uint16_frame_bytes, uint16_frame_header
from panoptes_network.frames.compression import TILE_ROWS
from panoptes_network.frames.preview import PREVIEW_WIDTH
from panoptes_network.raw.decode import (
    RawFrame,
    embedded_jpeg_of,
    frame_of,
    libraw_versions,
    linear_rgb_of,
    open_raw,
)
from panoptes_network.raw.exif import exif_cards, read_exif
from panoptes_network.raw.preview import render_preview, resized_jpeg

__all__ = [
    "RawProducts",
    "path_cards",
    "raw_frame_cards",
    "merge_cards",
    "bayer_fits_bytes",
    "rgb_fits_bytes",
    "make_raw_products",
]

Card = tuple[str, Any, str]
_COMMENTARY = ("HISTORY", "COMMENT", "")
# HISTORY text per card (astropy's limit for commentary cards is 72 characters).
_HISTORY_WIDTH = 72


@dataclass(frozen=True)
class RawProducts:
    """What :func:`make_raw_products` makes of one raw file.

    Attributes
    ----------
    bayer_fits : bytes
        Uncompressed FITS, uint16 (``BITPIX = 16``, ``BZERO = 32768``), one HDU, with
        ``CHECKSUM``/``DATASUM``.
    rgb_fits : bytes
        Tile-compressed FITS (``.fits.fz``): an R, G, B cube of uint16 planes in HDU 1.
    preview_jpeg : bytes
        JPEG, about ``preview_width`` pixels wide.
    preview_source : str
        ``"embedded"`` (the camera's JPEG, resized) or ``"rendered"`` (from the mosaic).
    cards : list of tuple
        ``(keyword, value, comment)`` of every card written into ``bayer_fits`` beyond the
        structural ones and ``CHECKSUM``/``DATASUM``, HISTORY included.
    pattern : str
        The Bayer pattern (``FILTER``).
    shape : tuple of int
        (rows, columns) of the Bayer frame, in pixels.
    """

    bayer_fits: bytes
    rgb_fits: bytes
    preview_jpeg: bytes
    preview_source: str
    cards: list[Card]
    pattern: str
    shape: tuple[int, int]


def path_cards(object_name: str) -> list[Card]:
    """Return the cards that tie a frame to its bucket path.

    Parameters
    ----------
    object_name : str
        The raw file's object name, ``UNIT/CAMERA/SEQSTART/IMGSTART.ext`` (or the legacy
        5-part form, whose field name becomes ``FIELD``).

    Returns
    -------
    list of tuple
        ``(keyword, value, comment)``: IMAGEID, SEQID, (FIELD,) INSTRUME (camera id),
        OBSERVER (unit id), ORIGIN, FILENAME (the raw file's base name).

    Raises
    ------
    InvalidPathError
        If the name breaks the bucket path grammar.
    """
    path = ImagePath.parse(object_name)
    cards: list[Card] = [
        ("IMAGEID", path.image_id, ""),
        ("SEQID", path.sequence_id, ""),
    ]
    if path.field_name:
        cards.append(("FIELD", path.field_name, ""))
    cards += [
        ("INSTRUME", path.camera_id, "Camera ID"),
        ("OBSERVER", path.unit_id, "PANOPTES Unit ID"),
        ("ORIGIN", "Project PANOPTES", ""),
        ("FILENAME", object_name.rsplit("/", 1)[-1], f"From {path.extension[1:].upper()}"),
    ]
    return cards


def raw_frame_cards(frame: RawFrame) -> list[Card]:
    """Return the cards that say the frame came from a raw file, with its calibration values.

    Parameters
    ----------
    frame : RawFrame
        The decoded raw file.

    Returns
    -------
    list of tuple
        RAWCONV, RAWFILE, BLKLEVEL (mean, ADU), BLKLVLS (per CFA position, ADU), WHITELVL
        and SATURATE (ADU), and HISTORY naming the decoder.
    """
    levels = " ".join(f"{level:g}" for level in frame.black_levels)
    history = f"Bayer data of {frame.source} decoded by {libraw_versions()}"
    return [
        ("RAWCONV", True, "converted from a camera raw file"),
        ("RAWFILE", frame.source, ""),  # long names continue: no room for a comment
        ("BLKLEVEL", round(frame.black_level, 3), "[ADU] mean black level"),
        ("BLKLVLS", levels, f"[ADU] black level per CFA position {frame.pattern}"),
        ("WHITELVL", frame.white_level, "[ADU] white level of the raw data"),
        ("SATURATE", frame.white_level, "[ADU] saturation level"),
        *[("HISTORY", line, "") for line in textwrap.wrap(history, _HISTORY_WIDTH)],
    ]


def merge_cards(*groups: Iterable[Card]) -> list[Card]:
    """Join card lists; a keyword seen again keeps its first place and takes the later value.

    Parameters
    ----------
    *groups : iterable of tuple
        ``(keyword, value, comment)`` lists, in order.

    Returns
    -------
    list of tuple
        The cards, each keyword once (HISTORY and COMMENT cards are all kept).
    """
    merged: list[Card] = []
    where: dict[str, int] = {}
    for group in groups:
        for keyword, value, comment in group:
            if keyword in _COMMENTARY:
                merged.append((keyword, value, comment))
            elif keyword in where:
                merged[where[keyword]] = (keyword, value, comment)
            else:
                where[keyword] = len(merged)
                merged.append((keyword, value, comment))
    return merged


def bayer_fits_bytes(frame: RawFrame, cards: Iterable[Card]) -> bytes:
    """Write the Bayer mosaic as an uncompressed uint16 FITS frame with valid checksums.

    Parameters
    ----------
    frame : RawFrame
        The decoded raw file.
    cards : iterable of tuple
        ``(keyword, value, comment)`` written after the structural cards.

    Returns
    -------
    bytes
        The FITS file (``BITPIX = 16``, ``BZERO = 32768``, ``CHECKSUM``/``DATASUM``).
    """
    body = list(cards)

    def header_for(checksum: str, datasum: str) -> fits.Header:
        return uint16_frame_header(frame.bayer.shape, body, checksum, datasum)

    return uint16_frame_bytes(frame.bayer, header_for)


def _white_balance(frame: RawFrame) -> tuple[float, float, float]:
    """Return the R, G, B multipliers LibRaw applies (as shot, the smallest scaled to 1)."""
    wb = np.array(frame.camera_wb[:3], dtype=np.float64)
    if not np.all(wb > 0):
        return (1.0, 1.0, 1.0)
    wb = wb / wb.min()
    return (float(wb[0]), float(wb[1]), float(wb[2]))


def rgb_fits_bytes(planes: np.ndarray, frame: RawFrame, cards: Iterable[Card]) -> bytes:
    """Write the R, G, B planes as a Rice tile-compressed FITS cube (``.fits.fz``).

    Parameters
    ----------
    planes : numpy.ndarray
        uint16, shape (3, rows, columns), R, G, B, in FITS orientation.
    frame : RawFrame
        The decoded raw file (for its black and white levels and white balance).
    cards : iterable of tuple
        ``(keyword, value, comment)`` of the Bayer frame; ``FILTER`` and ``SATURATE`` are
        replaced by what holds for the cube.

    Returns
    -------
    bytes
        The compressed FITS file, with ``CHECKSUM``/``DATASUM`` in both HDUs.
    """
    wbr, wbg, wbb = _white_balance(frame)
    span = max(frame.white_level - frame.black_level, 1.0)
    cube_cards = merge_cards(
        [card for card in cards if card[0] not in ("FILTER", "SATURATE", "WHITELVL")],
        [
            ("PLANE1", "R", "colour of plane 1"),
            ("PLANE2", "G", "colour of plane 2"),
            ("PLANE3", "B", "colour of plane 3"),
            ("BAYERPAT", frame.pattern, "CFA of the raw data"),
            ("COLORSPC", "camera", "camera colour space, no colour matrix"),
            ("WBR", round(wbr, 6), "red white balance multiplier applied"),
            ("WBG", round(wbg, 6), "green white balance multiplier applied"),
            ("WBB", round(wbb, 6), "blue white balance multiplier applied"),
            ("WHITELVL", frame.white_level, "[ADU] white level of the raw data"),
            ("RGBSCALE", round(65535.0 / span, 6), "(raw - BLKLEVEL) * WBx * RGBSCALE"),
            ("SATURATE", 65535, "saturated plane value"),
            ("HISTORY", "RGB planes interpolated by LibRaw AHD, linear, camera white balance", ""),
        ],
    )
    header = fits.Header([fits.Card(*card) for card in cube_cards])
    hdu = fits.CompImageHDU(
        planes,
        header=header,
        compression_type="RICE_1",
        tile_shape=(1, min(TILE_ROWS, planes.shape[1]), planes.shape[2]),
    )
    out = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out, checksum=True)
    return out.getvalue()


def make_raw_products(
    data: bytes, source: str, object_name: str, *, preview_width: int = PREVIEW_WIDTH
) -> RawProducts:
    """Decode a camera raw file and make its Bayer FITS, RGB FITS and JPEG preview.

    Parameters
    ----------
    data : bytes
        The whole raw file.
    source : str
        Its name for messages, ``RAWFILE`` and HISTORY (e.g. ``gs://bucket/name``).
    object_name : str
        Its object name in the bucket path grammar (gives IMAGEID, SEQID, ...).
    preview_width : int
        Width of the JPEG preview, in pixels (the width of every frame's preview).

    Returns
    -------
    RawProducts
        The three products and the cards of the Bayer frame.

    Raises
    ------
    RawDecodeError
        If the input is not a raw file LibRaw and exiftool can read.
    InvalidPathError
        If ``object_name`` breaks the bucket path grammar.
    ExiftoolMissingError
        If exiftool is not installed.
    """
    with open_raw(data, source) as raw:  # LibRaw reads and unpacks the file once
        frame = frame_of(raw, source)
        planes = linear_rgb_of(raw)
        embedded = embedded_jpeg_of(raw)
    cards = merge_cards(
        exif_cards(read_exif(data, source), frame.pattern),
        path_cards(object_name),
        raw_frame_cards(frame),
    )
    bayer_fits = bayer_fits_bytes(frame, cards)
    rgb_fits = rgb_fits_bytes(planes, frame, cards)
    del planes
    preview = resized_jpeg(embedded, preview_width) if embedded else None
    preview_source = "embedded"
    if preview is None:
        preview, preview_source = render_preview(frame, preview_width), "rendered"
    return RawProducts(
        bayer_fits=bayer_fits,
        rgb_fits=rgb_fits,
        preview_jpeg=preview,
        preview_source=preview_source,
        cards=cards,
        pattern=frame.pattern,
        shape=(int(frame.bayer.shape[0]), int(frame.bayer.shape[1])),
    )
