"""JPEG previews of frames: their shared stretch and encoding, and the FITS frame's rendering.

Every frame gets one JPEG preview, :data:`PREVIEW_WIDTH` pixels wide, stored in the preview
bucket under :func:`preview_name` (``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.jpg``): made from
the camera raw file where one came (:mod:`panoptes_network.raw.preview`), otherwise rendered
from the FITS frame by :func:`render_frame_preview`. Both are upright (top row first): the
FITS array flipped up-down, the sensor's own axes.

Rendering a FITS frame
----------------------
1. Each 2 x 2 Bayer cell becomes one RGB superpixel: R, the mean of the two greens, B
   (:func:`~panoptes_network.frames.camera.bayer_sites` places the colours for the frame's
   pattern and number of rows). The superpixels are binned further by a whole factor so that
   the image is between one and two preview widths wide: a full 5208 x 3476 frame gives
   1302 x 869 pixels, each the mean of a 4 x 4 block of raw pixels. The sums are accumulated
   from strided views of the frame into float32 planes of the binned size: no copy of the
   frame is made, whatever its size.
2. Each colour is levelled on its own sky: its median (sky and bias) is subtracted and the
   result divided by its median absolute deviation (the sky's noise, or its gradient where
   that dominates). The sky comes out neutral grey without a bias constant or a white
   balance, which a FITS frame does not always state. The levels, and the stretch's below,
   are estimated on a regular grid of at most :data:`LEVEL_SAMPLE_PIXELS` binned pixels.
   Without a Bayer pattern the cell's four pixels are averaged into grey.
3. The same ``asinh`` stretch as the raw previews (:func:`stretch`): black and white at the
   0.5th and 99.95th percentiles, ``asinh(10 x) / asinh(10)`` between them, which shows faint
   stars without burning the bright ones.
4. Flipped upright, resized to :data:`PREVIEW_WIDTH` (Lanczos) and encoded as JPEG, quality
   :data:`PREVIEW_QUALITY`.

A preview is for looking: its colours are the camera's, not sRGB, and nothing is measured on
it.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from PIL import Image

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.camera import BAYER_PATTERNS, bayer_sites
from panoptes_network.pipeline.errors import BadInput

__all__ = [
    "LEVEL_SAMPLE_PIXELS",
    "PREVIEW_EXTENSION",
    "PREVIEW_QUALITY",
    "PREVIEW_WIDTH",
    "STRETCH_PERCENTILES",
    "STRETCH_SOFTENING",
    "FramePreviewError",
    "encode_jpeg",
    "preview_name",
    "render_frame_preview",
    "resize_to_width",
    "stretch",
]

#: Width of every preview, in pixels; the aspect ratio of the frame is kept.
PREVIEW_WIDTH = 1200
#: JPEG quality of the previews (Pillow's 1 to 95 scale).
PREVIEW_QUALITY = 85
#: Extension of a preview's object name.
PREVIEW_EXTENSION = ".jpg"
#: Percentiles of the image mapped to black and white.
STRETCH_PERCENTILES = (0.5, 99.95)
#: ``a`` of the ``asinh(a x) / asinh(a)`` stretch; larger lifts faint light more.
STRETCH_SOFTENING = 10.0
#: Most pixels the FITS rendering's sky, spread and stretch levels are estimated on (a
#: regular grid of the binned image; a full frame's has 283,000, 140 above the 99.95th
#: percentile).
LEVEL_SAMPLE_PIXELS = 1 << 20


class FramePreviewError(BadInput):
    """A frame whose pixels cannot be rendered as a preview.

    ``str(error)`` reads ``"<frame>: <reason>"``; ``reason`` alone is what gets recorded.

    Parameters
    ----------
    source : str
        The frame's name (a ``gs://`` URI or an image id).
    reason : str
        What is wrong with its pixels.
    """


def preview_name(path: ImagePath) -> str:
    """Return the object name of a frame's preview in the preview bucket.

    Parameters
    ----------
    path : ImagePath
        Any file of the image (``.fits.fz``, ``.fits``, ``.cr2`` ...).

    Returns
    -------
    str
        ``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.jpg``: one name per image id, whichever file
        the preview was made from.
    """
    return path.with_extension(PREVIEW_EXTENSION).object_name


def encode_jpeg(image: Image.Image) -> bytes:
    """Return an image as JPEG bytes (RGB, quality :data:`PREVIEW_QUALITY`, optimised).

    Parameters
    ----------
    image : PIL.Image.Image
        Any Pillow image; it is converted to RGB.

    Returns
    -------
    bytes
        The JPEG file.
    """
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=PREVIEW_QUALITY, optimize=True)
    return out.getvalue()


def resize_to_width(image: Image.Image, width: int) -> Image.Image:
    """Return an image resized (Lanczos) to ``width`` pixels, its aspect ratio kept.

    Parameters
    ----------
    image : PIL.Image.Image
        The image.
    width : int
        Wanted width, in pixels.

    Returns
    -------
    PIL.Image.Image
        The resized image, at least one pixel high.
    """
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def stretch(image: np.ndarray, *, sample_step: int = 1) -> np.ndarray:
    """Stretch an image for the eye: ``asinh`` between two percentiles, to 8 bits.

    Parameters
    ----------
    image : numpy.ndarray
        float, (rows, columns) or (rows, columns, colours); all colours share the levels.
    sample_step : int
        Estimate the percentiles on every ``sample_step``-th row and column only (1: all).

    Returns
    -------
    numpy.ndarray
        uint8 of the same shape: 0 at and below the :data:`STRETCH_PERCENTILES` low level,
        255 at and above the high one, ``asinh(a x) / asinh(a)`` between them
        (``a`` = :data:`STRETCH_SOFTENING`).
    """
    sample = image[::sample_step, ::sample_step] if sample_step > 1 else image
    low, high = np.percentile(sample, STRETCH_PERCENTILES)
    scale = float(high - low) or 1.0
    # One float32 working copy, changed in place: no float64 temporaries of the image.
    work = np.subtract(image, np.float32(low), dtype=np.float32)
    work /= np.float32(scale)
    np.clip(work, 0.0, 1.0, out=work)
    work *= np.float32(STRETCH_SOFTENING)
    np.arcsinh(work, out=work)
    work *= np.float32(255.0 / np.arcsinh(STRETCH_SOFTENING))
    work += np.float32(0.5)
    return work.astype(np.uint8)


def _mosaic(pixels: Any, name: str) -> np.ndarray:
    """Return the frame's pixels as a 2-D numeric array, or raise naming what is wrong."""
    if pixels is None:
        raise FramePreviewError(name, "the frame holds no image data (an empty HDU)")
    array = np.asarray(pixels)
    if array.dtype.kind not in "uif":
        raise FramePreviewError(
            name, f"pixels of type {array.dtype} are not a Bayer mosaic of numbers"
        )
    if array.ndim != 2:
        raise FramePreviewError(
            name,
            f"a Bayer mosaic has 2 axes (rows, columns); this image has shape {array.shape}",
        )
    if array.size == 0:
        raise FramePreviewError(name, "the frame holds no image data (0 pixels)")
    if array.shape[0] < 2 or array.shape[1] < 2:
        raise FramePreviewError(
            name,
            f"the image, {array.shape[1]} x {array.shape[0]} pixels, is smaller than "
            "one 2 x 2 Bayer cell",
        )
    return array


def _binned_planes(
    mosaic: np.ndarray, block: int, sites: dict[str, tuple[int, int]] | None
) -> np.ndarray:
    """Return the colour planes of a mosaic binned in ``block`` x ``block`` pixel blocks.

    With ``sites`` (:func:`~panoptes_network.frames.camera.bayer_sites`) the result is
    float32 (3, rows // block, cols // block): per block the mean of its red pixels, of its
    green pixels (both sites) and of its blue pixels. Without, (1, ...): the mean of all its
    pixels. Rows and columns past the last whole block are left out. The sums are
    accumulated from strided views of the mosaic: the result is the only memory used.
    """
    out_rows, out_cols = mosaic.shape[0] // block, mosaic.shape[1] // block
    rows, cols = out_rows * block, out_cols * block
    if sites is None:
        plane_of = {(0, 0): 0, (0, 1): 0, (1, 0): 0, (1, 1): 0}
    else:
        plane_of = {site: "RGB".index(name[0]) for name, site in sites.items()}
    planes = np.zeros((max(plane_of.values()) + 1, out_rows, out_cols), dtype=np.float32)
    for di in range(block):
        for dj in range(block):
            planes[plane_of[di % 2, dj % 2]] += mosaic[di:rows:block, dj:cols:block]
    sites_per_plane = np.bincount(list(plane_of.values())).astype(np.float32)
    planes /= (sites_per_plane * (block // 2) ** 2)[:, None, None]
    return planes


def _level(planes: np.ndarray, name: str) -> int:
    """Level each plane on its own sky, in place; return the sampling step of the levels.

    Each plane loses its median and is divided by its median absolute deviation; non-finite
    pixels become sky.
    """
    step = max(1, math.ceil(math.sqrt(planes[0].size / LEVEL_SAMPLE_PIXELS)))
    finite = np.isfinite(planes)
    all_finite = bool(finite.all())
    if not all_finite and not finite.any():
        raise FramePreviewError(name, "the frame holds no finite pixel value")
    median = np.median if all_finite else np.nanmedian
    sample = planes[:, ::step, ::step].reshape(planes.shape[0], -1)
    sky = np.nan_to_num(median(sample, axis=1))
    spread = median(np.abs(sample - sky[:, None]), axis=1)
    spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
    planes -= sky.astype(np.float32)[:, None, None]
    planes /= spread.astype(np.float32)[:, None, None]
    if not all_finite:
        planes[~finite] = 0.0  # unknown pixels show as sky
    return step


def render_frame_preview(
    pixels: Any,
    *,
    name: str,
    pattern: str | None = "RGGB",
    width: int = PREVIEW_WIDTH,
) -> bytes:
    """Render a stretched JPEG preview from a FITS frame's Bayer mosaic.

    Parameters
    ----------
    pixels : numpy.ndarray
        The frame's pixels, (rows, columns), in ADU (any integer or float type), in FITS
        orientation (row 0 is the bottom of the image).
    name : str
        The frame's name, for error messages (e.g. ``gs://bucket/name``).
    pattern : str or None
        The colour filter array read from the top-left of the upright image (the ``FILTER``
        card), one of :data:`~panoptes_network.frames.camera.BAYER_PATTERNS`; None renders
        grey (each cell's four pixels averaged), for a frame that does not say its pattern.
    width : int
        Width of the preview, in pixels (:data:`PREVIEW_WIDTH`); the height follows the
        frame's aspect ratio.

    Returns
    -------
    bytes
        The JPEG file, upright (top row first), ``width`` pixels wide.

    Raises
    ------
    FramePreviewError
        If the frame holds no image data, is not 2-D, is smaller than one Bayer cell, holds
        no finite value, or ``pattern`` is not a Bayer pattern; the message names the frame.
    ValueError
        If ``width`` is not a positive number of pixels.

    Notes
    -----
    Time and memory on a full 5208 x 3476 uint16 frame (``bin/bench preview``): 0.1 to
    0.15 s on one core, about half the time astropy takes to decompress the frame, and at
    most 31 MB of Python-allocated memory beyond the frame itself (float32 planes of the
    binned size and one working copy of them; the frame is never copied).
    """
    if width < 1:
        raise ValueError(f"a preview is at least 1 pixel wide, not {width}")
    if pattern is not None and pattern not in BAYER_PATTERNS:
        raise FramePreviewError(
            name, f"{pattern!r} is not a Bayer pattern; expected one of {BAYER_PATTERNS}"
        )
    mosaic = _mosaic(pixels, name)
    rows, cols = mosaic.shape
    factor = max(1, (cols // 2) // width)  # superpixels per preview pixel, along each axis
    block = 2 * factor if rows >= 2 * factor else 2
    sites = bayer_sites(pattern, rows) if pattern else None  # parities of the whole frame
    planes = _binned_planes(mosaic, block, sites)
    step = _level(planes, name)
    stretched = stretch(planes.transpose(1, 2, 0), sample_step=step)
    del planes
    upright = np.ascontiguousarray(np.flipud(stretched if sites else stretched[..., 0]))
    return encode_jpeg(resize_to_width(Image.fromarray(upright), width))
