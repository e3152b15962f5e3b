"""The camera of a PANOPTES unit: sensor size, Bayer layout, electronics and hot pixels.

A unit carries Canon DSLRs (EOS 100D and similar) behind 85 mm f/1.4 lenses. Their raw frames
are 5208 x 3476 pixels with an RGGB Bayer filter; in numpy's (row, column) order of the FITS
data the colours sit at

- R  = ``[1::2, 0::2]`` (odd rows, even columns),
- G1 = ``[1::2, 1::2]`` and G2 = ``[0::2, 0::2]``,
- B  = ``[0::2, 1::2]``.

The electronics add a bias (black level) of 2048 ADU and Gaussian read noise of 10.5 e-; the
gain is 1.5 e-/ADU and pixels saturate at 11530 ADU. The lens vignettes: a smooth loss of
light growing with the square of the distance from the centre (:meth:`CameraModel.vignetting`).

Hot pixels are fixed for a camera: their places and dark currents are drawn from a generator
seeded by the camera id (:func:`hot_pixels`), so every frame of every sequence of one camera
shows the same ones.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from panoptes_network.frames.camera import (
    BAYER_COLOUR,
    BAYER_SITES,
    BIAS_ADU,
    GAIN_E_PER_ADU,
    PIXEL_SCALE_ARCSEC,
    READ_NOISE_E,
    SATURATION_ADU,
    SENSOR_SHAPE,
)

__all__ = [
    "BAYER_COLOUR",
    "BAYER_SITES",
    "COLOURS",
    "CameraModel",
    "HotPixels",
    "bayer_colour_index",
    "hot_pixels",
]

#: The colour channels, in the order used by every per-colour array: R, G, B.
COLOURS: tuple[str, ...] = ("R", "G", "B")

_CAMERA_ID = re.compile(r"[0-9a-f]{6}")


def bayer_colour_index(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Return the colour index (0 R, 1 G, 2 B) of pixels.

    Parameters
    ----------
    rows, cols : numpy.ndarray of int
        Pixel rows and columns (0-based); they broadcast.

    Returns
    -------
    numpy.ndarray of int8
        Index into :data:`COLOURS`.
    """
    return BAYER_COLOUR[np.asarray(rows) % 2, np.asarray(cols) % 2]


@dataclass(frozen=True)
class CameraModel:
    """One camera of a unit.

    Attributes
    ----------
    camera_id : str
        Six lower-case hex characters (``INSTRUME`` and the bucket path's camera part).
    width, height : int
        Image size in pixels (``NAXIS1``, ``NAXIS2``).
    bias_adu : float
        Bias (black level), in ADU.
    gain : float
        Gain, in electrons per ADU.
    read_noise : float
        Read noise (RMS), in electrons.
    saturation_adu : int
        Highest value a pixel can take, in ADU (bias included).
    pixel_scale : float
        Pixel scale on the sky, in arcsec per pixel.
    vignetting_loss : float
        Fraction of light lost at the image corners (0: none), a dimensionless number.
    hot_pixel_count : int
        Number of hot pixels of the sensor.
    """

    camera_id: str = "14d3bd"
    width: int = SENSOR_SHAPE[1]
    height: int = SENSOR_SHAPE[0]
    bias_adu: float = BIAS_ADU
    gain: float = GAIN_E_PER_ADU
    read_noise: float = READ_NOISE_E
    saturation_adu: int = SATURATION_ADU
    pixel_scale: float = PIXEL_SCALE_ARCSEC
    vignetting_loss: float = 0.25
    hot_pixel_count: int = 300

    def __post_init__(self) -> None:
        if not isinstance(self.camera_id, str) or not _CAMERA_ID.fullmatch(self.camera_id):
            raise ValueError(
                f"camera id {self.camera_id!r} is not 6 lower-case hex characters (e.g. 14d3bd)"
            )
        if self.width < 2 or self.height < 2 or self.width % 2 or self.height % 2:
            raise ValueError(f"image size {self.width} x {self.height} must be even and >= 2")
        if self.gain <= 0 or self.read_noise < 0 or self.pixel_scale <= 0:
            raise ValueError("gain and pixel scale must be positive, read noise >= 0")
        if not 0 <= self.vignetting_loss < 1:
            raise ValueError(f"vignetting loss {self.vignetting_loss} must be in [0, 1)")

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape as numpy gives it: (rows, columns) = (height, width), in pixels."""
        return (self.height, self.width)

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of the image in 0-based pixel coordinates (x, y), in pixels."""
        return ((self.width - 1) / 2.0, (self.height - 1) / 2.0)

    @property
    def saturation_electrons(self) -> float:
        """Signal above bias at which a pixel saturates, in electrons."""
        return (self.saturation_adu - self.bias_adu) * self.gain

    def vignetting(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the fraction of light reaching pixels: ``1 - loss * (r / r_corner)**2``.

        Parameters
        ----------
        x, y : numpy.ndarray
            0-based pixel coordinates (column, row), in pixels.

        Returns
        -------
        numpy.ndarray
            Relative throughput, 1 at the image centre, ``1 - vignetting_loss`` at corners.
        """
        cx, cy = self.centre
        r2 = ((np.asarray(x) - cx) ** 2 + (np.asarray(y) - cy) ** 2) / (cx**2 + cy**2)
        return 1.0 - self.vignetting_loss * r2

    def serial_numbers(self) -> tuple[str, str]:
        """Return the camera's internal and body serial numbers (``INTSN``, ``CAMSN``).

        Returns
        -------
        (str, str)
            ``HA`` and 7 digits, and 12 digits, fixed for the camera id.
        """
        digits = str(int(hashlib.sha256(self.camera_id.encode()).hexdigest(), 16))
        return f"HA{digits[:7]}", digits[7:19]


@dataclass(frozen=True)
class HotPixels:
    """The hot pixels of a camera.

    Attributes
    ----------
    rows, cols : numpy.ndarray of int
        Pixel positions (0-based).
    dark_current : numpy.ndarray of float
        Dark current of each, in electrons per second.
    """

    rows: np.ndarray
    cols: np.ndarray
    dark_current: np.ndarray


def hot_pixels(camera: CameraModel) -> HotPixels:
    """Return the hot pixels of a camera, fixed by its id.

    Dark currents are log-uniform between 4 and 150 e-/s: 300 to 12000 ADU above bias in a
    120 s exposure at gain 1.5, from barely visible to saturated.

    Parameters
    ----------
    camera : CameraModel
        The camera; its id seeds the generator.

    Returns
    -------
    HotPixels
        Sorted by flat pixel index.
    """
    rng = np.random.default_rng([0x407, int(camera.camera_id, 16)])
    count = min(camera.hot_pixel_count, camera.width * camera.height)
    flat = np.sort(rng.choice(camera.width * camera.height, size=count, replace=False))
    rate = np.exp(rng.uniform(np.log(4.0), np.log(150.0), count))
    return HotPixels(flat // camera.width, flat % camera.width, rate)
