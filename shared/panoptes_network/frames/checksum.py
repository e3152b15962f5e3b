"""FITS ``CHECKSUM`` and ``DATASUM``, and uint16 frames written with valid checksums.

The checksum is the FITS standard's 32-bit ones'-complement sum. :func:`uint16_frame_bytes`
writes a frame without astropy copying the pixels, which matters for 36 MB frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from astropy.io import fits

__all__ = ["ones_complement_sum", "encode_checksum", "uint16_frame_header", "uint16_frame_bytes"]

BLOCK = 2880


def ones_complement_sum(data: bytes | memoryview, start: int = 0) -> int:
    """Return the 32-bit ones' complement sum of big-endian words, as FITS defines it.

    Parameters
    ----------
    data : bytes or memoryview
        A whole number of 4-byte words (FITS blocks are).
    start : int
        Sum to continue from (the data sum, when summing a header).

    Returns
    -------
    int
        The sum, 0 to 2**32 - 1.
    """
    words = np.frombuffer(data, dtype=">u4")
    total = int(words.sum(dtype=np.uint64)) + start
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def encode_checksum(value: int) -> str:
    """Encode the complement of a 32-bit sum as the 16 ASCII characters of ``CHECKSUM``.

    Parameters
    ----------
    value : int
        The ones' complement sum of the header (with ``CHECKSUM = '0000000000000000'``) and
        the data.

    Returns
    -------
    str
        The ``CHECKSUM`` value that makes the HDU sum to -0.
    """
    value = 0xFFFFFFFF - value
    excluded = b":;<=>?@[\\]^_`"
    chars = [0] * 16
    for i in range(4):
        byte = (value >> (24 - 8 * i)) & 0xFF
        quotient, remainder = byte // 4 + 0x30, byte % 4
        group = [quotient + remainder, quotient, quotient, quotient]
        changed = True
        while changed:
            changed = False
            for j in (0, 2):
                if group[j] in excluded or group[j + 1] in excluded:
                    group[j] += 1
                    group[j + 1] -= 1
                    changed = True
        for j in range(4):
            chars[4 * j + i] = group[j]
    return bytes(chars[15:] + chars[:15]).decode("ascii")


def uint16_frame_header(
    shape: tuple[int, int],
    cards: Iterable[tuple[str, Any, str]],
    checksum: str,
    datasum: str,
    *,
    updated: str | None = None,
) -> fits.Header:
    """Return the primary header of a uint16 frame as the units write it.

    Parameters
    ----------
    shape : tuple of int
        (rows, columns) of the image.
    cards : iterable of tuple
        ``(keyword, value, comment)`` written after the structural cards.
    checksum, datasum : str
        Values of ``CHECKSUM`` and ``DATASUM``.
    updated : str, optional
        When the checksums were written, for their comments (``HDU checksum updated ...``).

    Returns
    -------
    astropy.io.fits.Header
        ``SIMPLE``, ``BITPIX = 16``, ``NAXIS``, ``NAXIS1``, ``NAXIS2``, ``EXTEND``,
        ``BSCALE = 1``, ``BZERO = 32768``, the cards, then ``CHECKSUM`` and ``DATASUM``.
    """
    when = f" updated {updated}" if updated else ""
    return fits.Header(
        [
            ("SIMPLE", True, "conforms to FITS standard"),
            ("BITPIX", 16, "array data type"),
            ("NAXIS", 2, "number of array dimensions"),
            ("NAXIS1", int(shape[1]), ""),
            ("NAXIS2", int(shape[0]), ""),
            ("EXTEND", True, ""),
            ("BSCALE", 1, ""),
            ("BZERO", 32768, ""),
            *cards,
            ("CHECKSUM", checksum, f"HDU checksum{when}"),
            ("DATASUM", datasum, f"data unit checksum{when}"),
        ]
    )


def uint16_frame_bytes(pixels: np.ndarray, header_for: Callable[[str, str], fits.Header]) -> bytes:
    """Write a uint16 image as a FITS file (``BZERO = 32768``) with valid checksums.

    Parameters
    ----------
    pixels : numpy.ndarray of uint16
        The image, shape (rows, columns).
    header_for : callable
        ``header_for(checksum, datasum)`` returns the full primary header (structural cards
        included, ``CHECKSUM`` and ``DATASUM`` set to the given strings); its length must not
        depend on them.

    Returns
    -------
    bytes
        The FITS file.
    """
    header_size = len(header_for("0" * 16, "0").tostring())
    padded = -(-pixels.size * 2 // BLOCK) * BLOCK
    buffer = bytearray(header_size + padded)
    stored = np.frombuffer(buffer, dtype=">u2", count=pixels.size, offset=header_size)
    np.bitwise_xor(pixels.reshape(-1), np.uint16(0x8000), out=stored, casting="unsafe")
    del stored
    datasum = ones_complement_sum(memoryview(buffer)[header_size:])
    text = header_for("0" * 16, str(datasum)).tostring().encode("ascii")
    checksum = encode_checksum(ones_complement_sum(text, datasum))
    text = header_for(checksum, str(datasum)).tostring().encode("ascii")
    if len(text) != header_size:
        raise ValueError("the header's length changed with its CHECKSUM/DATASUM values")
    buffer[:header_size] = text
    return bytes(buffer)
