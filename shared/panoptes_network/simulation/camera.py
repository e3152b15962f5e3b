"""The camera of a PANOPTES unit: sensor size, Bayer layout, electronics and hot pixels.

A unit carries Canon DSLRs (EOS 100D and similar) behind 85 mm f/1.4 lenses. Their raw frames
are 5208 x 3476 pixels with an RGGB Bayer filter; in numpy's (row, column) order of the FITS
data the colours sit at

- R  = ``[1::2, 0::2]`` (odd rows, even columns),
- G1 = ``[1::2, 1::2]`` and G2 = ``[0::2, 0::2]``,
- B  = ``[0::2, 1::2]``.

The units carry different Canon bodies, so every simulated camera has its own electronics:
unless given, its bias (black level), white level (saturation), gain and read noise are drawn
from its id (:func:`camera_electronics`) within the spread of the fleet (black levels 2030 to
2070 ADU, white levels 11400 to 12300 ADU as real headers show, gains 1.2 to 1.9 e-/ADU, read
noise 6 to 12 e-). A pipeline that used one camera's constants for another would be wrong on
simulated data, and the tests would see it. The lens vignettes: a smooth loss of light growing
towards the corners as a fast lens wide open does, about a third of it at the corners
(:meth:`CameraModel.vignetting`, :func:`.detector_response.fast_lens_vignetting`).

Hot pixels are fixed for a camera: their places and dark currents are drawn from a generator
seeded by the camera id (:func:`hot_pixels`), so every frame of every sequence of one camera
shows the same ones.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass

import numpy as np

from panoptes_network.frames.camera import (
    BAYER_COLOUR,
    BAYER_SITES,
    PIXEL_SCALE_ARCSEC,
    SENSOR_SHAPE,
)
from panoptes_network.frames.camera_constants import resolve_camera_constants
from panoptes_network.simulation.detector_response import CORNER_LOSS, fast_lens_vignetting

__all__ = [
    "BAYER_COLOUR",
    "BAYER_SITES",
    "COLOURS",
    "SIMULATED_SOURCE",
    "CameraElectronics",
    "CameraModel",
    "HotPixels",
    "bayer_colour_index",
    "camera_electronics",
    "hot_pixels",
]

#: Where a simulated camera's registry entry says its constants come from.
SIMULATED_SOURCE = "the simulated camera's electronics"
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
class CameraElectronics:
    """The electronics of one simulated camera.

    Attributes
    ----------
    bias_adu : float
        Bias (black level), in ADU.
    saturation_adu : int
        White level: the highest value a pixel takes, in ADU (bias included).
    gain : float
        Gain, in electrons per ADU.
    read_noise : float
        Read noise (RMS), in electrons per pixel.
    """

    bias_adu: float
    saturation_adu: int
    gain: float
    read_noise: float


def camera_electronics(camera_id: str) -> CameraElectronics:
    """Return the electronics a simulated camera has, drawn from its id.

    The same id always gives the same values; different ids differ, within the spread of the
    fleet's Canon bodies.

    Parameters
    ----------
    camera_id : str
        Six lower-case hex characters.

    Returns
    -------
    CameraElectronics
        Bias 2030 to 2070 ADU (whole), white level 11400 to 12300 ADU, gain 1.2 to 1.9 e-/ADU
        (0.01 steps), read noise 6 to 12 e- (0.1 steps).
    """
    rng = np.random.default_rng([0xE1E, int(camera_id, 16)])
    return CameraElectronics(
        bias_adu=float(rng.integers(2030, 2071)),
        saturation_adu=int(rng.integers(11400, 12301)),
        gain=round(float(rng.uniform(1.2, 1.9)), 2),
        read_noise=round(float(rng.uniform(6.0, 12.0)), 1),
    )


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
        Bias (black level), in ADU; NaN (the default): drawn from the id
        (:func:`camera_electronics`), like ``gain``, ``read_noise`` and ``saturation_adu``.
    gain : float
        Gain, in electrons per ADU (NaN: drawn).
    read_noise : float
        Read noise (RMS), in electrons (NaN: drawn).
    saturation_adu : int
        Highest value a pixel can take, in ADU (bias included; 0: drawn).
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
    bias_adu: float = math.nan
    gain: float = math.nan
    read_noise: float = math.nan
    saturation_adu: int = 0
    pixel_scale: float = PIXEL_SCALE_ARCSEC
    vignetting_loss: float = CORNER_LOSS
    hot_pixel_count: int = 300

    def __post_init__(self) -> None:
        if not isinstance(self.camera_id, str) or not _CAMERA_ID.fullmatch(self.camera_id):
            raise ValueError(
                f"camera id {self.camera_id!r} is not 6 lower-case hex characters (e.g. 14d3bd)"
            )
        if self.width < 2 or self.height < 2 or self.width % 2 or self.height % 2:
            raise ValueError(f"image size {self.width} x {self.height} must be even and >= 2")
        drawn = camera_electronics(self.camera_id)
        for name in ("bias_adu", "gain", "read_noise"):
            if math.isnan(getattr(self, name)):
                object.__setattr__(self, name, getattr(drawn, name))
        if not self.saturation_adu:
            object.__setattr__(self, "saturation_adu", drawn.saturation_adu)
        if not self.bias_adu < self.saturation_adu <= 16383:
            raise ValueError(
                f"saturation {self.saturation_adu} ADU must lie above the bias {self.bias_adu} "
                "ADU and at most 16383 ADU"
            )
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
        """Return the fraction of light reaching pixels through the fast lens.

        Parameters
        ----------
        x, y : numpy.ndarray
            0-based pixel coordinates (column, row), in pixels.

        Returns
        -------
        numpy.ndarray
            Relative throughput, 1 at the image centre, ``1 - vignetting_loss`` at the
            corners (:func:`.detector_response.fast_lens_vignetting`).
        """
        return fast_lens_vignetting(
            np.asarray(x, dtype=float),
            np.asarray(y, dtype=float),
            self.centre,
            self.vignetting_loss,
        )

    def registry_entry(self, source: str) -> dict[str, object]:
        """Return this camera's ``cameras/{camera_id}`` registry document.

        Parameters
        ----------
        source : str
            Where the values come from, recorded beside each (``<name>_source``).

        Returns
        -------
        dict
            ``bias_adu``, ``saturation_adu``, ``gain_e_per_adu``, ``read_noise_e``,
            ``bayer_pattern`` (the simulated sensor is RGGB) and ``pixel_scale_arcsec``, each
            with its source, and ``camera_id``.
        """
        values: dict[str, object] = {
            "bias_adu": float(self.bias_adu),
            "saturation_adu": float(self.saturation_adu),
            "gain_e_per_adu": float(self.gain),
            "read_noise_e": float(self.read_noise),
            "bayer_pattern": "RGGB",
            "pixel_scale_arcsec": float(self.pixel_scale),
        }
        entry: dict[str, object] = {"camera_id": self.camera_id, **values}
        entry.update({f"{name}_source": source for name in values})
        return entry

    def measure_constants(self) -> dict[str, float | str]:
        """Return this camera's constants as the keyword arguments of the measuring code.

        Returns
        -------
        dict
            ``gain`` (e-/ADU), ``read_noise`` (e-), ``bias`` and ``saturation`` (ADU) and
            ``bayer_pattern`` (``"RGGB"``), as
            :func:`~panoptes_network.photometry.frame_photometry.measure_frame` takes them.
        """
        return {
            "gain": float(self.gain),
            "read_noise": float(self.read_noise),
            "bias": float(self.bias_adu),
            "saturation": float(self.saturation_adu),
            "bayer_pattern": "RGGB",
        }

    def table_metadata(self) -> dict[str, object]:
        """Return the ``camera`` metadata a sources table of this camera's frames carries.

        The constants go through the network's own resolution
        (:func:`~panoptes_network.frames.camera_constants.resolve_camera_constants`) with
        this camera's registry entry, as measure-sources does.

        Returns
        -------
        dict
            ``camera_id`` and, per constant, its value and ``<name>_source``.
        """
        constants = resolve_camera_constants(
            self.camera_id, None, registry=self.registry_entry(SIMULATED_SOURCE)
        )
        return {"camera_id": self.camera_id, **constants.summary()}

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
    120 s exposure at a gain of 1.5 e-/ADU, from barely visible to saturated.

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
