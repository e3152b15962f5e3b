"""Lossless Rice compression of frames to fpack-compatible ``.fits.fz``.

The output has an empty primary HDU and the image in HDU 1, a tile-compressed binary table
(``ZCMPTYPE = 'RICE_1'``) that ``funpack`` and astropy read back to the identical pixels. Every
header card of the input is kept. Integer images are compressed without quantisation, so the
compression is lossless; :func:`verify_compressed` proves it for each frame before anything
is deleted.

Tiles are 16 image rows (fpack uses one row): the files are a little smaller and compress
faster in Python, and random access to a few rows stays cheap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from panoptes_network.frames.fits_header import read_header_from_bytes
from panoptes_network.frames.pixel_check import (
    MAX_FRAME_PIXELS,
    PixelBudgetError,
    check_pixel_budget,
)
from panoptes_network.pipeline.errors import BadInput

__all__ = [
    "TILE_ROWS",
    "CompressionError",
    "FrameTooLargeError",
    "CompressedFrame",
    "compress_frame",
    "verify_compressed",
    "read_image_pixels",
]

#: Rows per compression tile.
TILE_ROWS = 16
# Cards that describe the stored array; astropy writes them anew (ZBITPIX, ZNAXISn ...).
_STRUCTURAL = {
    "XTENSION",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "PCOUNT",
    "GCOUNT",
    "BZERO",
    "BSCALE",
}
# Cards a compressed image does not carry: a single image needs no EXTEND.
_NOT_CARRIED = {"EXTEND"}
_COMMENTARY = {"COMMENT", "HISTORY", ""}
# (BITPIX, BZERO) -> (stored big-endian type, bits flipped to apply the offset, physical type).
_LAYOUTS: dict[tuple[int, int], tuple[str, int, type]] = {
    (8, 0): (">u1", 0, np.uint8),
    (8, -128): (">u1", 0x80, np.int8),
    (16, 0): (">i2", 0, np.int16),
    (16, 32768): (">u2", 0x8000, np.uint16),
    (32, 0): (">i4", 0, np.int32),
    (32, 2147483648): (">u4", 0x80000000, np.uint32),
}


class CompressionError(BadInput):
    """A frame that cannot be compressed losslessly, or a check that failed.

    Parameters
    ----------
    source : str
        The input's name.
    reason : str
        What went wrong.
    """


class FrameTooLargeError(CompressionError, PixelBudgetError):
    """A frame whose header announces more than the pixel budget: not read, not compressed.

    Both a :class:`CompressionError` (what callers of :func:`compress_frame` handle) and a
    :class:`~panoptes_network.frames.pixel_check.PixelBudgetError`.

    Parameters
    ----------
    source : str
        The input's name.
    reason : str
        The announced size and the limit.
    """


@dataclass(frozen=True)
class CompressedFrame:
    """The result of :func:`compress_frame`.

    Attributes
    ----------
    data : bytes
        The ``.fits.fz`` file.
    input_size : int
        Bytes of the input file.
    shape : tuple of int
        Image shape (rows, columns).
    """

    data: bytes
    input_size: int
    shape: tuple[int, int]

    @property
    def ratio(self) -> float:
        """Compression ratio, input bytes over output bytes."""
        return self.input_size / len(self.data)


def read_image_pixels(
    raw: bytes, source: str = "input", *, max_pixels: int = MAX_FRAME_PIXELS
) -> tuple[fits.Header, np.ndarray]:
    """Read the primary image of an uncompressed FITS file without copying more than once.

    The size the header announces (``NAXIS1 * NAXIS2`` pixels of ``|BITPIX|`` / 8 bytes) is
    checked against the pixel budget before any pixel is read.

    Parameters
    ----------
    raw : bytes
        The whole file.
    source : str
        Name of the file, for messages.
    max_pixels : int
        Most pixels the image may announce, in pixels; see
        :func:`~panoptes_network.frames.pixel_check.check_pixel_budget`.

    Returns
    -------
    header : astropy.io.fits.Header
        The primary header.
    pixels : numpy.ndarray
        The image, scaled to its physical integer type (``uint16`` for ``BZERO = 32768``).

    Raises
    ------
    NotFitsError
        If the header cannot be read.
    FrameTooLargeError
        If the header announces more than ``max_pixels`` pixels (or the byte budget).
    CompressionError
        If the image is not a 2-D integer image or the file is truncated.
    """
    info = read_header_from_bytes(raw, hdu=0, source=source)
    if info.get("NAXIS") != 2:
        raise CompressionError(source, f"expected a 2-D image, found NAXIS = {info.get('NAXIS')}")
    bitpix = info.get("BITPIX")
    if bitpix not in (8, 16, 32):
        raise CompressionError(source, f"BITPIX = {bitpix} is not an integer image")
    try:
        check_pixel_budget(info, source, max_pixels)
    except PixelBudgetError as exc:
        raise FrameTooLargeError(source, exc.reason) from None
    if len(raw) < info.data_offset + info.data_size:
        raise CompressionError(
            source,
            f"file is truncated: {len(raw)} bytes, but its header announces "
            f"{info.data_offset + info.data_size}",
        )
    ny, nx = info["NAXIS2"], info["NAXIS1"]
    bzero = info.get("BZERO", 0) or 0
    bscale = info.get("BSCALE", 1)
    if bscale not in (1, 1.0, None):
        raise CompressionError(source, f"BSCALE = {bscale} cannot be compressed losslessly here")
    header = fits.Header.fromstring(bytes(raw[: info.data_offset]).decode("ascii"))
    layout = _LAYOUTS.get((bitpix, bzero))
    if layout is None:
        raise CompressionError(source, f"BITPIX = {bitpix} with BZERO = {bzero} is not supported")
    stored_type, flip, physical = layout
    stored = np.frombuffer(raw, dtype=stored_type, count=nx * ny, offset=info.data_offset)
    if flip:
        stored = stored ^ stored.dtype.type(flip)
    pixels = stored.astype(stored.dtype.newbyteorder("=")).view(physical).reshape(ny, nx)
    return header, pixels


def compress_frame(raw: bytes, source: str = "input") -> CompressedFrame:
    """Compress an uncompressed FITS frame with lossless Rice compression.

    Parameters
    ----------
    raw : bytes
        The whole ``.fits`` file.
    source : str
        Name of the file, for messages.

    Returns
    -------
    CompressedFrame
        The ``.fits.fz`` bytes.

    Raises
    ------
    NotFitsError, CompressionError
        If the input is not a 2-D integer FITS image.
    """
    header, pixels = read_image_pixels(raw, source)
    image_header = fits.Header([c for c in header.cards if c.keyword not in _STRUCTURAL])
    # SIMPLE stays: astropy writes it as ZSIMPLE, so funpack restores a primary image.
    hdu = fits.CompImageHDU(
        pixels,
        header=image_header,
        compression_type="RICE_1",
        tile_shape=(min(TILE_ROWS, pixels.shape[0]), pixels.shape[1]),
    )
    out = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out)
    return CompressedFrame(out.getvalue(), len(raw), pixels.shape)


def verify_compressed(raw: bytes, compressed: bytes, source: str = "input") -> None:
    """Check that a ``.fits.fz`` holds exactly the pixels and cards of the input.

    Parameters
    ----------
    raw : bytes
        The uncompressed input file.
    compressed : bytes
        The ``.fits.fz`` file.
    source : str
        Name of the input, for messages.

    Raises
    ------
    CompressionError
        If a pixel or a header card differs.
    """
    header, pixels = read_image_pixels(raw, source)
    try:
        with fits.open(io.BytesIO(compressed)) as hdus:
            restored = hdus[1].data
            restored_header = hdus[1].header
            if restored is None or restored.shape != pixels.shape:
                raise CompressionError(source, "compressed image has the wrong shape")
            if restored.dtype != pixels.dtype or not np.array_equal(restored, pixels):
                raise CompressionError(source, "decompressed pixels differ from the input")
            ignored = _STRUCTURAL | _NOT_CARRIED | _COMMENTARY | {"SIMPLE"}
            wanted = {
                c.keyword: c.value for c in reversed(header.cards) if c.keyword not in ignored
            }
            got = {
                c.keyword: c.value
                for c in reversed(restored_header.cards)
                if c.keyword not in ignored
            }
            for keyword in wanted:
                if keyword not in got:
                    raise CompressionError(source, f"header card {keyword} was not kept")
                if wanted[keyword] != got[keyword]:
                    raise CompressionError(source, f"header card {keyword} changed")
            for keyword in got.keys() - wanted.keys():
                raise CompressionError(source, f"header card {keyword} was added")
            for kind in ("COMMENT", "HISTORY"):
                if list(header.get(kind, [])) != list(restored_header.get(kind, [])):
                    raise CompressionError(source, f"{kind} cards differ after compression")
    except (OSError, ValueError, IndexError) as exc:
        if isinstance(exc, CompressionError):
            raise
        raise CompressionError(source, f"compressed file cannot be read back: {exc}") from exc
