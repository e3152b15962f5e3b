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

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from panoptes_network.astrometry.frame_wcs import WCS_KEYWORDS
from panoptes_network.frames.compression import TILE_ROWS
from panoptes_network.frames.stored_frame import StoredFrame, UnreadableFrame, read_stored_frame

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
