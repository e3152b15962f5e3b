"""The JPEG preview of a raw file: the camera's own, or one rendered from the Bayer mosaic.

The camera's embedded JPEG is used when it is at least as wide as the preview asked for
(resized down to that width). Otherwise the preview is rendered from the mosaic at half
resolution, the way LibRaw's ``half_size`` does it: each 2 x 2 cell gives one pixel (R, the
mean of the two greens, B), black subtracted and the camera's white balance applied, binned
further to about the preview width, then stretched for the eye (``asinh`` between the 0.5th
and 99.95th percentiles, which shows faint stars without burning the bright ones). Rendered
previews are in the camera's colour space, not sRGB: they are for looking, not for colour.
Both keep the sensor's axes, upright (top row first), like the FITS data flipped back.
The stretch, resizing and JPEG encoding are those of every preview
(:mod:`panoptes_network.frames.preview`), and so is the width the make-rgb-fits step asks for.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from panoptes_network.frames.camera import bayer_slices
from panoptes_network.frames.preview import encode_jpeg, resize_to_width, stretch
from panoptes_network.raw.decode import RawFrame

__all__ = ["resized_jpeg", "render_preview"]


def resized_jpeg(jpeg: bytes, width: int) -> bytes | None:
    """Return a JPEG resized down to ``width`` pixels, or None if it is narrower or unreadable.

    Parameters
    ----------
    jpeg : bytes
        A JPEG file (the camera's embedded preview).
    width : int
        Wanted width, in pixels; the aspect ratio is kept.

    Returns
    -------
    bytes or None
        The resized JPEG, or None when the input is narrower than ``width`` or not an image.
    """
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            image.load()
            if image.width < width:
                return None
            return encode_jpeg(resize_to_width(image, width))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _half_size_rgb(frame: RawFrame) -> np.ndarray:
    """Return float32 (rows/2, cols/2, 3) R, G, B: black-subtracted, white-balanced, FITS-up."""
    slices = bayer_slices(frame.pattern, frame.bayer.shape)
    black = dict(zip(frame.pattern, frame.black_levels, strict=True))  # greens share one level
    wb = np.array(frame.camera_wb[:3], dtype=np.float64)
    if not np.all(wb > 0):
        wb = np.ones(3)
    wb = wb / wb[1]
    planes = []
    for index, colour in enumerate("RGB"):
        parts = [frame.bayer[s].astype(np.float32) for s in slices[colour]]
        rows = min(p.shape[0] for p in parts)
        cols = min(p.shape[1] for p in parts)
        plane = sum(p[:rows, :cols] for p in parts) / len(parts)
        planes.append((plane - np.float32(black[colour])) * np.float32(wb[index]))
    rows = min(p.shape[0] for p in planes)
    cols = min(p.shape[1] for p in planes)
    return np.stack([p[:rows, :cols] for p in planes], axis=-1)


def _bin(image: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return image
    rows = image.shape[0] // factor * factor
    cols = image.shape[1] // factor * factor
    if rows == 0 or cols == 0:
        return image
    shaped = image[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor, 3)
    return shaped.mean(axis=(1, 3), dtype=np.float32)


def render_preview(frame: RawFrame, width: int) -> bytes:
    """Render a stretched JPEG preview from the Bayer mosaic.

    Parameters
    ----------
    frame : RawFrame
        The decoded raw file.
    width : int
        Width of the preview, in pixels; the aspect ratio of the sensor is kept.

    Returns
    -------
    bytes
        The JPEG file, upright (top row first).
    """
    half = _half_size_rgb(frame)
    binned = _bin(half, half.shape[1] // width)
    pixels = np.ascontiguousarray(np.flipud(stretch(binned)))
    return encode_jpeg(resize_to_width(Image.fromarray(pixels, mode="RGB"), width))
