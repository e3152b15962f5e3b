"""Decode a camera raw file (Canon CR2/CR3, Nikon NEF, DNG) into its Bayer mosaic with LibRaw.

Every raw format goes through LibRaw (the ``rawpy`` binding): this module is the only place
that talks to it, and it turns every LibRaw failure into :class:`RawDecodeError`, which names
the input and says why.

Orientation
----------- LibRaw's ``raw_image_visible`` is the visible sensor area as the camera reads it out:
row 0 is the top of the upright (unrotated) image. FITS row 1 is the *bottom* of an image, so the
array stored in FITS is ``np.flipud(raw_image_visible)``. :attr:`RawFrame.pattern` is the colour
filter array as the camera states it, from the top-left pixel of the upright image (``"RGGB"`` for
Canon DSLRs). For Canon's RGGB and an even number of rows (5208 x 3476), the flipped array has, in
numpy ``(row, col)`` indexing, R = ``[1::2, 0::2]``, G1 = ``[1::2, 1::2]``, G2 = ``[0::2, 0::2]``
and B = ``[0::2, 1::2]``: the layout of the units' own FITS frames.
:func:`panoptes_network.frames.camera.bayer_slices` gives those slices for any Bayer pattern and any
number of rows. G1 is the green that shares its row with red, G2 the green that shares its row with
blue.

The camera's orientation flag (a camera mounted on its side) is not applied: the FITS array,
the RGB planes and the preview all keep the sensor's own axes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import rawpy

from panoptes_network.frames.bucket_path import RAW_EXTENSIONS
from panoptes_network.frames.camera import BAYER_PATTERNS
from panoptes_network.pipeline.errors import BadInput

__all__ = [
    "RAW_EXTENSIONS",
    "RawDecodeError",
    "RawFrame",
    "open_raw",
    "decode_raw",
    "frame_of",
    "embedded_jpeg_of",
    "linear_rgb_of",
    "libraw_versions",
]


class RawDecodeError(BadInput):
    """A file that is not a camera raw file LibRaw can decode, or a damaged one.

    Parameters
    ----------
    source : str
        The file or object name.
    reason : str
        What is wrong.
    """


@dataclass(frozen=True)
class RawFrame:
    """The Bayer mosaic of a raw file and what is needed to calibrate it.

    Attributes
    ----------
    bayer : numpy.ndarray
        uint16, shape (rows, columns): the visible sensor area in FITS orientation
        (``np.flipud`` of LibRaw's ``raw_image_visible``), in ADU.
    pattern : str
        The colour filter array from the top-left pixel of the upright image, e.g. ``"RGGB"``.
    black_levels : tuple of float
        Black level per CFA position, in ADU, in the order of the letters of ``pattern``
        (top-left, top-right, bottom-left, bottom-right of the upright 2 x 2 cell).
    white_level : int
        Saturation level, in ADU.
    camera_wb : tuple of float
        As-shot white balance multipliers from LibRaw, in LibRaw's order (R, G, B, G2); G2 is
        0 when the camera gives one green multiplier.
    source : str
        The name error messages and HISTORY cards give the input (e.g. ``gs://bucket/name``).
    """

    bayer: np.ndarray
    pattern: str
    black_levels: tuple[float, float, float, float]
    white_level: int
    camera_wb: tuple[float, float, float, float]
    source: str

    @property
    def black_level(self) -> float:
        """Mean black level over the four CFA positions, in ADU."""
        return float(np.mean(self.black_levels))


def _reason(exc: rawpy.LibRawError) -> str:
    detail = exc.args[0] if exc.args else exc
    if isinstance(detail, bytes):
        detail = detail.decode("ascii", "replace")
    if isinstance(exc, rawpy.LibRawFileUnsupportedError):
        return (
            "not a camera raw file LibRaw can read "
            f"({', '.join(RAW_EXTENSIONS)} are expected; LibRaw: {detail})"
        )
    if isinstance(exc, rawpy.LibRawIOError | rawpy.LibRawDataError):
        return f"the raw file is truncated or damaged; upload it again (LibRaw: {detail})"
    return f"LibRaw cannot decode it: {detail}"


@contextmanager
def open_raw(data: bytes, source: str) -> Iterator[rawpy.RawPy]:
    """Open raw file bytes with LibRaw, unpacked, turning LibRaw errors into ours.

    Parameters
    ----------
    data : bytes
        The whole raw file.
    source : str
        Its name, for messages.

    Yields
    ------
    rawpy.RawPy
        The opened file; LibRaw errors raised inside the block are translated too.

    Raises
    ------
    RawDecodeError
        If the bytes are empty, not a raw file, or damaged.
    """
    if not data:
        raise RawDecodeError(source, "the file is empty")
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            yield raw
    except rawpy.LibRawError as exc:
        raise RawDecodeError(source, _reason(exc)) from None


def _pattern_of(raw: rawpy.RawPy, source: str) -> tuple[str, tuple[int, int, int, int]]:
    """Return the CFA letters and LibRaw colour indices of the visible area's top-left cell."""
    if raw.raw_type != rawpy.RawType.Flat or raw.raw_pattern is None:
        raise RawDecodeError(source, "the sensor is not a Bayer mosaic (e.g. Foveon, linear DNG)")
    if raw.raw_pattern.shape != (2, 2):
        raise RawDecodeError(
            source, f"the colour filter array repeats every {raw.raw_pattern.shape}, not 2 x 2"
        )
    top, left = raw.sizes.top_margin, raw.sizes.left_margin
    # raw_color takes full-raw coordinates: offset by the margins to read the visible area's.
    indices = tuple(int(raw.raw_color(top + r, left + c)) for r in (0, 1) for c in (0, 1))
    desc = raw.color_desc.decode("ascii")
    pattern = "".join(desc[i] for i in indices)
    if pattern not in BAYER_PATTERNS:
        raise RawDecodeError(source, f"colour filter array {pattern!r} is not a Bayer pattern")
    return pattern, indices  # type: ignore[return-value]


def frame_of(raw: rawpy.RawPy, source: str) -> RawFrame:
    """Return the Bayer mosaic of an opened raw file in FITS orientation.

    Parameters
    ----------
    raw : rawpy.RawPy
        The file, opened by :func:`open_raw`.
    source : str
        Its name, for messages and HISTORY.

    Returns
    -------
    RawFrame
        The mosaic (uint16, ADU, a copy) and its calibration values.

    Raises
    ------
    RawDecodeError
        If the sensor is not a Bayer mosaic or the image is empty.
    """
    visible = raw.raw_image_visible
    if visible.ndim != 2 or visible.size == 0:
        raise RawDecodeError(source, f"the raw image has shape {visible.shape}, not 2-D")
    pattern, indices = _pattern_of(raw, source)
    levels = raw.black_level_per_channel
    black = tuple(float(levels[i]) for i in indices)
    bayer = np.flipud(visible).astype(np.uint16, copy=True)
    white = int(raw.white_level)
    wb = tuple(float(v) for v in raw.camera_whitebalance)
    return RawFrame(bayer, pattern, black, white, wb, source)  # type: ignore[arg-type]


def decode_raw(data: bytes, source: str) -> RawFrame:
    """Decode a raw file into its Bayer mosaic in FITS orientation.

    Parameters
    ----------
    data : bytes
        The whole raw file (CR2, CR3, NEF, DNG, or any other Bayer raw LibRaw reads).
    source : str
        Its name, for messages and HISTORY.

    Returns
    -------
    RawFrame
        The mosaic (uint16, ADU) and its calibration values.

    Raises
    ------
    RawDecodeError
        If the input is empty, not a raw file, truncated, damaged, or not a Bayer sensor.
    """
    with open_raw(data, source) as raw:
        return frame_of(raw, source)


def embedded_jpeg_of(raw: rawpy.RawPy) -> bytes | None:
    """Return the embedded JPEG preview of an opened raw file, or None when it has none.

    Parameters
    ----------
    raw : rawpy.RawPy
        The file, opened by :func:`open_raw`.

    Returns
    -------
    bytes or None
        The JPEG file, or None when the raw holds no JPEG preview (or only a bitmap one, or
        a damaged one: that does not make the raw data unusable).
    """
    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    return bytes(thumb.data)


def linear_rgb_of(raw: rawpy.RawPy) -> np.ndarray:
    """Interpolate an opened raw file to linear RGB with the camera's white balance.

    LibRaw's AHD interpolation, in the camera's own colour space (no colour matrix), gamma 1,
    no automatic brightening, 16 bits. Each plane is
    ``(raw - black) * wb / min(wb) * 65535 / (white - black)``, clipped to 65535, where
    ``wb`` is the as-shot multiplier of its colour.

    Parameters
    ----------
    raw : rawpy.RawPy
        The file, opened by :func:`open_raw`.

    Returns
    -------
    numpy.ndarray
        uint16, shape (3, rows, columns), planes R, G, B, in FITS orientation (up-down flipped
        like :attr:`RawFrame.bayer`).
    """
    rgb = raw.postprocess(
        demosaic_algorithm=rawpy.DemosaicAlgorithm.AHD,
        use_camera_wb=True,
        output_color=rawpy.ColorSpace.raw,
        gamma=(1, 1),
        no_auto_bright=True,
        output_bps=16,
        user_flip=0,
    )
    return np.ascontiguousarray(np.flipud(rgb).transpose(2, 0, 1))


def libraw_versions() -> str:
    """Return the LibRaw and rawpy versions, for HISTORY cards.

    Returns
    -------
    str
        E.g. ``"LibRaw 0.22.2 (rawpy 0.28.0)"``.
    """
    libraw = ".".join(str(part) for part in rawpy.libraw_version)
    return f"LibRaw {libraw} (rawpy {rawpy.__version__})"
