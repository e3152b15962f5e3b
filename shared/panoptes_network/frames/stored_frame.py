"""Read a stored frame: the header and pixels of the first 2-D image of a FITS file.

Every step that reads a frame's pixels (plate-solve, measure-sources, the calibration
masters) reads them here, with the same limits. A ``.fits.fz`` of whole-row Rice tiles (what
compress-fits and fpack write) is decoded tile by tile in threads
(:func:`~.compression.decode_compressed`: 0.10 s for a full frame where astropy takes 0.28 s);
any other file is read by astropy. In either case a frame announcing more pixels than
:data:`~.pixel_check.MAX_FRAME_PIXELS` is refused before its pixels are allocated, and any
failure to read or decompress it is permanent (:class:`UnreadableFrame`).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from panoptes_network.frames.compression import decode_compressed
from panoptes_network.frames.pixel_check import (
    MAX_FRAME_PIXELS,
    PixelBudgetError,
    check_pixel_budget,
)
from panoptes_network.pipeline.errors import BadInput

__all__ = ["StoredFrame", "UnreadableFrame", "read_stored_frame"]


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


def _decoded_in_threads(data: bytes, source: str, max_pixels: int) -> StoredFrame | None:
    """Return the frame of a ``.fits.fz`` of whole-row Rice tiles, decoded in threads.

    None for any other file (read by astropy instead). The pixel budget is checked on the
    image header before the pixels are allocated.
    """
    if data[:6] != b"SIMPLE" or b"ZIMAGE" not in data[2880 : 2880 * 8]:
        return None
    decoded = decode_compressed(data, source=source, max_pixels=max_pixels)
    return None if decoded is None else StoredFrame(decoded[0], decoded[1])


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
            fast = _decoded_in_threads(data, source, max_pixels)
            if fast is not None:
                return fast
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
