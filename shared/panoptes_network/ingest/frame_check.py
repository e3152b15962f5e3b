"""Decide whether an uploaded FITS file is a frame the network can record.

A cheap check run on the header alone (read with ranged reads), before any pixel is touched.
"""

from __future__ import annotations

from numbers import Real

from panoptes_network.frames.fits_header import FitsHeader, NotFitsError, read_header
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.errors import BadInput

__all__ = [
    "REQUIRED_CARDS",
    "InvalidFrameError",
    "check_frame_header",
    "quarantine_reason",
    "read_frame_header",
]

#: Cards without which an image cannot be recorded.
REQUIRED_CARDS: tuple[str, ...] = ("EXPTIME",)
_BITPIX = (8, 16, 32, 64, -32, -64)


class InvalidFrameError(BadInput):
    """A FITS file that is not a usable frame.

    Parameters
    ----------
    source : str
        The file or object name.
    reason : str
        What is wrong.
    """


def check_frame_header(header: FitsHeader, object_size: int, source: str) -> None:
    """Check a frame's header and that the file holds all the data it announces.

    Parameters
    ----------
    header : FitsHeader
        The image header (HDU 1 of a compressed file).
    object_size : int
        Size of the whole file, in bytes.
    source : str
        Name of the file, for messages.

    Raises
    ------
    InvalidFrameError
        If the image is not 2-D, the file is truncated, or a required card is missing or
        not a positive number.
    """
    naxis = header.get("NAXIS")
    if naxis != 2:
        raise InvalidFrameError(source, f"expected a 2-D image (NAXIS = 2), found NAXIS = {naxis}")
    for axis in ("NAXIS1", "NAXIS2"):
        length = header.get(axis)
        if not isinstance(length, int) or length <= 0:
            raise InvalidFrameError(source, f"{axis} = {length!r} is not a positive integer")
    if header.get("BITPIX") not in _BITPIX:
        raise InvalidFrameError(source, f"BITPIX = {header.get('BITPIX')!r} is not valid")
    needed = header.data_offset + header.data_size
    if object_size < needed:
        raise InvalidFrameError(
            source,
            f"file is truncated: {object_size} bytes, but its header announces {needed}",
        )
    missing = [card for card in REQUIRED_CARDS if card not in header]
    if missing:
        raise InvalidFrameError(source, f"missing header card(s): {', '.join(missing)}")
    exptime = header.get("EXPTIME")
    if isinstance(exptime, bool) or not isinstance(exptime, Real) or exptime <= 0:
        raise InvalidFrameError(source, f"EXPTIME = {exptime!r} is not a positive number")


def quarantine_reason(exc: NotFitsError | BadInput) -> str:
    """Return the quarantine reason for a failure, in words that name the problem.

    Parameters
    ----------
    exc : NotFitsError or BadInput
        The failure (InvalidFrameError, CompressionError, PixelBudgetError ...).

    Returns
    -------
    str
        The reason to record.
    """
    if isinstance(exc, NotFitsError):
        return f"not a readable FITS file: {exc.reason}"
    return exc.reason


def read_frame_header(ctx: ChainContext, obj: StoredObject, size: int) -> FitsHeader:
    """Read and check a frame's header with ranged reads.

    Parameters
    ----------
    ctx : ChainContext
        The chain (its store and header size limit).
    obj : StoredObject
        The stored FITS file.
    size : int
        Its size, in bytes.

    Returns
    -------
    FitsHeader
        The image header.

    Raises
    ------
    NotFitsError, InvalidFrameError
        When the file is not a FITS file or not a usable frame.
    """
    header = read_header(
        lambda start, length: ctx.store.read_range(obj.bucket, obj.name, start, length),
        size=size,
        source=obj.uri,
        max_header_bytes=ctx.settings.max_header_bytes,
    )
    check_frame_header(header, size, obj.uri)
    return header
