"""Find the stars of a calibrated superpixel image, in the frame's own pixel coordinates.

:func:`extract_sources` runs SEP (``sep.extract``, Source Extractor's detection and
deblending) on the background-subtracted 2 x 2 superpixel image of
:mod:`.bayer_background`, with the sky noise as the per-pixel error, and returns the sources
as a :class:`Sources` list, brightest first:

- positions are SEP's windowed centroids (``sep.winpos``, Source Extractor's ``XWIN`` /
  ``YWIN``, a Gaussian window of the source's own half-light radius), or its isophotal
  barycentres where the windowed one fails or wanders off the source, or on request
  everywhere. On the real frames the barycentres of the bright, nearly saturated stars are
  pulled by their wings: astrometry.net's solution from them is 1 pixel off the catalog where
  the windowed centroids' agrees with it, and with its solution from the image, within 0.4
  pixel; on simulated frames (symmetric PSFs) both are unbiased. They are then mapped to the
  full frame: superpixel ``(j, i)`` (0-based row, column) covers raw rows ``2j, 2j + 1`` and
  columns ``2i, 2i + 1``, so its centre is raw ``(x, y) = (2 i + 0.5, 2 j + 0.5)``, and any
  position ``p`` of the superpixel grid is ``2 p + 0.5`` on the frame;
- sources cut by the image edge (``sep.OBJ_TRUNC``) or whose deblending overflowed
  (``sep.OBJ_DOVERFLOW``) are dropped: their centroids are biased, and a match to a
  catalog star only needs the good ones;
- at most ``max_sources`` are kept, by decreasing flux.

SEP needs C-contiguous arrays in the machine's byte order (a FITS image is big-endian): the
image and the noise are converted when needed. SEP's work buffers are process-wide settings
(``sep.set_extract_pixstack``, ``sep.set_sub_object_limit``); when a crowded image fills one,
the limit is raised fourfold (at most eight times) and the extraction run again; the previous
limits are restored after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep

__all__ = [
    "DROPPED_FLAGS",
    "SUPERPIXEL",
    "Sources",
    "extract_sources",
    "superpixel_to_frame",
]

#: Raw pixels per superpixel along each axis.
SUPERPIXEL = 2
#: SEP flags of sources that are dropped: cut by the image edge, or deblending overflowed.
DROPPED_FLAGS = int(sep.OBJ_TRUNC | sep.OBJ_DOVERFLOW)
#: Farthest a windowed centroid may move from the isophotal one, in superpixels.
_MAX_WINDOW_SHIFT = 1.0
#: SEP's buffer limits grow by this factor when full, at most ``_MAX_BUFFER_GROWTHS`` times.
_BUFFER_GROWTH = 4
_MAX_BUFFER_GROWTHS = 8


@dataclass(frozen=True)
class Sources:
    """Sources of a frame, brightest first.

    Attributes
    ----------
    x, y : numpy.ndarray
        Centroids in the full frame's 0-based pixel coordinates (numpy column and row), in
        raw pixels, float64.
    flux : numpy.ndarray
        Sum of the source's superpixels above the threshold, in ADU (background-subtracted).
    peak : numpy.ndarray
        Brightest superpixel of the source, in ADU.
    flag : numpy.ndarray
        SEP's extraction flags (``sep.OBJ_MERGED`` for deblended sources), int.
    """

    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    peak: np.ndarray
    flag: np.ndarray

    def __len__(self) -> int:
        return int(self.x.size)

    def brightest(self, count: int) -> Sources:
        """Return the ``count`` brightest sources (all of them when there are fewer).

        Parameters
        ----------
        count : int
            How many to keep.

        Returns
        -------
        Sources
            The first ``count`` rows.
        """
        keep = slice(0, max(0, int(count)))
        return Sources(
            self.x[keep], self.y[keep], self.flux[keep], self.peak[keep], self.flag[keep]
        )


def superpixel_to_frame(position: np.ndarray, factor: int = SUPERPIXEL) -> np.ndarray:
    """Map 0-based superpixel coordinates to 0-based coordinates of the raw frame.

    Parameters
    ----------
    position : numpy.ndarray
        Coordinates along one axis on the superpixel grid, in superpixels.
    factor : int
        Raw pixels per superpixel along the axis.

    Returns
    -------
    numpy.ndarray
        ``factor * position + (factor - 1) / 2``, in raw pixels.
    """
    return factor * np.asarray(position, dtype=np.float64) + (factor - 1) / 2.0


def _native(array: np.ndarray) -> np.ndarray:
    """Return a C-contiguous float32 copy in native byte order, or the array when it is one."""
    return np.ascontiguousarray(array, dtype=np.float32)


def _extract_with_room(image: np.ndarray, threshold: float, **kwargs) -> np.ndarray:
    """Run ``sep.extract``, raising SEP's buffer limits while a crowded image fills them."""
    pixstack, sub_objects = sep.get_extract_pixstack(), sep.get_sub_object_limit()
    try:
        for _ in range(_MAX_BUFFER_GROWTHS):
            try:
                return sep.extract(image, threshold, **kwargs)
            except Exception as exc:  # SEP raises a bare Exception for a full buffer
                message = str(exc)
                if "pixel buffer full" in message:
                    grown = _BUFFER_GROWTH * sep.get_extract_pixstack()
                    sep.set_extract_pixstack(min(grown, image.size))
                elif "deblending overflow" in message:
                    sep.set_sub_object_limit(_BUFFER_GROWTH * sep.get_sub_object_limit())
                else:
                    raise
        return sep.extract(image, threshold, **kwargs)
    finally:
        sep.set_extract_pixstack(pixstack)
        sep.set_sub_object_limit(sub_objects)


def _windowed_centroids(image: np.ndarray, objects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return windowed centroids, or the isophotal ones where the windowed one fails."""
    x, y = objects["x"].astype(np.float64), objects["y"].astype(np.float64)
    if x.size == 0:
        return x, y
    radius, _ = sep.flux_radius(image, x, y, 6.0 * objects["a"], 0.5, subpix=5)
    xw, yw, flag = sep.winpos(image, x, y, 2.0 / 2.35 * radius)
    good = (flag == 0) & np.isfinite(xw) & np.isfinite(yw)
    good &= np.hypot(xw - x, yw - y) <= _MAX_WINDOW_SHIFT
    return np.where(good, xw, x), np.where(good, yw, y)


def extract_sources(
    image: np.ndarray,
    rms: float | np.ndarray,
    *,
    threshold: float = 5.0,
    min_area: int = 3,
    max_sources: int = 3000,
    windowed: bool = True,
    factor: int = SUPERPIXEL,
) -> Sources:
    """Detect the sources of a background-subtracted superpixel image.

    Parameters
    ----------
    image : numpy.ndarray
        The calibrated superpixel image (background subtracted), shape (rows, columns), in
        ADU; any float type or byte order.
    rms : float or numpy.ndarray
        Sky noise of one superpixel (a number, or a map of the image's shape), in ADU.
    threshold : float
        Detection threshold, in units of ``rms``.
    min_area : int
        Fewest connected superpixels above the threshold that make a source.
    max_sources : int
        Most sources kept, by decreasing flux.
    windowed : bool
        Refine positions with windowed centroids (``sep.winpos``); False keeps SEP's
        isophotal barycentres.
    factor : int
        Raw pixels per superpixel along each axis (2: a 2 x 2 Bayer cell).

    Returns
    -------
    Sources
        Positions on the full frame (raw pixels), brightest first; edge-truncated sources and
        those whose deblending overflowed are left out.

    Raises
    ------
    ValueError
        If the image is not 2-D, or the noise is not positive and finite.
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    noise = np.asarray(rms, dtype=np.float32)
    if not (np.all(np.isfinite(noise)) and np.all(noise > 0)):
        raise ValueError("the sky noise must be positive and finite")
    data = _native(image)
    error = float(noise) if noise.ndim == 0 else _native(noise)
    objects = _extract_with_room(data, threshold, err=error, minarea=min_area)
    objects = objects[(objects["flag"] & DROPPED_FLAGS) == 0]
    objects = objects[np.argsort(-objects["flux"], kind="stable")][: max(0, int(max_sources))]
    if windowed:
        x, y = _windowed_centroids(data, objects)
    else:
        x, y = objects["x"].astype(np.float64), objects["y"].astype(np.float64)
    return Sources(
        x=superpixel_to_frame(x, factor),
        y=superpixel_to_frame(y, factor),
        flux=objects["flux"].astype(np.float64),
        peak=objects["peak"].astype(np.float64),
        flag=objects["flag"].astype(np.int16),
    )
