"""Read a stored frame's pixels, and write it again with its plate solution in the header.

The solved frame keeps the original pixels bit for bit (integer images are Rice-compressed
without quantisation, float images GZIP-compressed without quantisation) and every card of
the original header, except an older WCS and the stale ``CHECKSUM``/``DATASUM``; it adds the
new WCS (TAN-SIP) and a HISTORY card naming what solved it and when. The file is an fpack
layout ``.fits.fz``: an empty primary HDU and the image in HDU 1, with valid checksums.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from panoptes_network.astrometry.frame_wcs import WCS_KEYWORDS
from panoptes_network.frames.compression import TILE_ROWS
from panoptes_network.frames.pixel_check import (
    MAX_FRAME_PIXELS,
    PixelBudgetError,
    check_pixel_budget,
)
from panoptes_network.pipeline.errors import BadInput

__all__ = ["UnreadableFrame", "StoredFrame", "read_stored_frame", "solved_frame_bytes"]

# Cards that describe the stored array; astropy writes them anew.
_STRUCTURAL = {
    "SIMPLE",
    "XTENSION",
    "BITPIX",
    "NAXIS",
    "NAXIS1",
    "NAXIS2",
    "EXTEND",
    "PCOUNT",
    "GCOUNT",
    "BZERO",
    "BSCALE",
    "CHECKSUM",
    "DATASUM",
}


class UnreadableFrame(BadInput):
    """A stored object whose image cannot be read.

    Parameters
    ----------
    source : str
        The object's name.
    reason : str
        What is wrong.
    """


@dataclass(frozen=True)
class StoredFrame:
    """A frame's image header and pixels.

    Attributes
    ----------
    header : astropy.io.fits.Header
        The image header (HDU 1 of a ``.fits.fz``, the primary of a ``.fits``).
    pixels : numpy.ndarray
        The pixels in their physical type (``uint16`` for a PANOPTES frame), in ADU.
    """

    header: fits.Header
    pixels: np.ndarray


def read_stored_frame(
    data: bytes, source: str = "input", max_pixels: int = MAX_FRAME_PIXELS
) -> StoredFrame:
    """Decompress and read the first 2-D image of a FITS file.

    Any failure to read or decompress it is permanent (the same bytes fail again), and a
    frame announcing more than ``max_pixels`` is refused before its pixels are allocated.

    Parameters
    ----------
    data : bytes
        The whole file (``.fits.fz`` or ``.fits``).
    source : str
        Its name, for messages.
    max_pixels : int
        Most pixels the image may have.

    Returns
    -------
    StoredFrame
        Header and pixels (the pixels are a private copy; ``data`` may be freed).

    Raises
    ------
    UnreadableFrame
        If the bytes are not FITS, hold no 2-D image, announce too many pixels, or the image
        cannot be decompressed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            with fits.open(io.BytesIO(data), memmap=False) as hdus:
                for hdu in hdus:
                    if hdu.is_image and hdu.header.get("NAXIS") == 2:
                        check_pixel_budget(hdu.header, source, max_pixels)
                        pixels = np.array(hdu.data)  # decompresses; a copy we own
                        return StoredFrame(hdu.header.copy(), pixels)
    except PixelBudgetError as exc:
        raise UnreadableFrame(source, exc.reason) from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - astropy's decompressor raises bare Exceptions
        reason = f"the image cannot be read: {type(exc).__name__}: {exc}"
        raise UnreadableFrame(source, reason) from None
    raise UnreadableFrame(source, "the file holds no 2-D image")


def _image_header(header: fits.Header, wcs_cards: fits.Header, history: Iterable[str]):
    out = fits.Header()
    for card in header.cards:
        keyword = card.keyword
        if keyword in _STRUCTURAL or WCS_KEYWORDS.match(keyword):
            continue
        out.append(card)
    out.extend(wcs_cards.cards)
    for line in history:
        out.add_history(line)
    return out


def solved_frame_bytes(frame: StoredFrame, wcs_cards: fits.Header, history: Iterable[str]) -> bytes:
    """Return the ``.fits.fz`` of a frame with its plate solution.

    Parameters
    ----------
    frame : StoredFrame
        The original header and pixels.
    wcs_cards : astropy.io.fits.Header
        The WCS cards (:meth:`.frame_wcs.FrameSolution.header`).
    history : iterable of str
        HISTORY lines to add.

    Returns
    -------
    bytes
        The compressed file, with checksums.
    """
    header = _image_header(frame.header, wcs_cards, history)
    pixels = frame.pixels
    integer = np.issubdtype(pixels.dtype, np.integer)
    hdu = fits.CompImageHDU(
        pixels,
        header=header,
        compression_type="RICE_1" if integer else "GZIP_2",
        quantize_level=0.0 if not integer else 16.0,
        tile_shape=(min(TILE_ROWS, pixels.shape[0]), pixels.shape[1]),
    )
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out, checksum=True)
    return out.getvalue()
