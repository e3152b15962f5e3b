"""How the lens and sensor of a unit's camera answer light and heat: what flats and darks see.

Three effects, each fixed for a camera or set by physics, so calibration masters built from
simulated darks and flats can be checked against the truth:

- **Vignetting of a fast lens** (:func:`fast_lens_vignetting`). The units' 85 mm f/1.4 lenses
  are used wide open; on the APS-C sensor they lose about a third of the light at the image
  corners (0.5 to 0.7 stop). The law is an even polynomial of the distance from the image
  centre, half the loss in ``rho**2`` and half in ``rho**4`` (``rho`` is 1 at the corner
  pixel's centre): flatter in the middle and steeper towards the corners than a pure
  ``rho**2`` law, as a lens wide open is. The corner loss defaults to
  :data:`CORNER_LOSS` (0.35). Natural ``cos**4`` vignetting is small at this focal length
  (the corner is 9 degrees off axis: 5 %) and is included in the polynomial.
- **Pixel response non-uniformity** (PRNU, :func:`prnu_map`): each pixel's sensitivity is
  ``1 + PRNU_RMS * z`` with ``z`` standard normal, :data:`PRNU_RMS` = 1 %, drawn from a
  generator seeded by the camera id (like the hot pixels of :mod:`.camera`), so every frame
  of a camera shows the same map.
- **Dark current** (:func:`dark_current`): thermal electrons, the same mean rate in every
  pixel, rising with the sensor temperature: :data:`DARK_CURRENT_E_PER_S` = 0.1 e-/s per
  pixel at :data:`DARK_REFERENCE_C` = 20 C, doubling every :data:`DARK_DOUBLING_C` = 6 C
  (the rule of thumb for silicon; Canon DSLR sensors measure 0.02 to 0.2 e-/s at room
  temperature). So 0.035 e-/s at 11 C (4 e- in 120 s, well under the read noise), 0.32 e-/s
  at 30 C and 1 e-/s at 40 C (120 e- in 120 s). The camera's hot pixels
  (:func:`.camera.hot_pixels`) add their own rates on top and do not vary with temperature
  here.

Vignetting and PRNU multiply the light (sky and stars) only; dark current and hot pixels are
added after them. :func:`response_map` is the product a perfect flat field measures (up to
the colour balance of the light).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from panoptes_network.simulation.camera import CameraModel

__all__ = [
    "CORNER_LOSS",
    "DARK_CURRENT_E_PER_S",
    "DARK_DOUBLING_C",
    "DARK_REFERENCE_C",
    "PRNU_RMS",
    "add_detector_response",
    "dark_current",
    "fast_lens_vignetting",
    "prnu_map",
    "response_map",
    "vignetting",
    "vignetting_map",
]

#: Fraction of the light lost at the image corners by the lens wide open (dimensionless).
CORNER_LOSS: float = 0.35
#: Share of the corner loss in the ``rho**2`` term; the rest is in ``rho**4``.
_RHO2_SHARE = 0.5
#: RMS of the pixel response non-uniformity (a fraction of the response).
PRNU_RMS: float = 0.01
#: Mean dark current at :data:`DARK_REFERENCE_C`, in electrons per second per pixel.
DARK_CURRENT_E_PER_S: float = 0.1
#: Temperature of :data:`DARK_CURRENT_E_PER_S`, in degrees Celsius.
DARK_REFERENCE_C: float = 20.0
#: Temperature rise that doubles the dark current, in degrees Celsius.
DARK_DOUBLING_C: float = 6.0

_PRNU_STREAM = 0x9F1  # generator stream of the PRNU map (hot pixels use 0x407)


def fast_lens_vignetting(
    x: np.ndarray,
    y: np.ndarray,
    centre: tuple[float, float],
    corner_loss: float = CORNER_LOSS,
) -> np.ndarray:
    """Return the fraction of light a fast lens lets reach pixels.

    ``T = 1 - corner_loss * (0.5 * rho**2 + 0.5 * rho**4)``, ``rho`` the distance from
    ``centre`` over the distance from ``centre`` to the corner pixel ``(0, 0)``.

    Parameters
    ----------
    x, y : numpy.ndarray
        0-based pixel coordinates (column, row), in pixels; they broadcast.
    centre : (float, float)
        Centre of the image ``(x, y)``, in pixels (for an image of ``w x h`` pixels,
        ``((w - 1) / 2, (h - 1) / 2)``).
    corner_loss : float
        Fraction of the light lost at the corners, in [0, 1).

    Returns
    -------
    numpy.ndarray
        Relative throughput (dimensionless): 1 at the centre, ``1 - corner_loss`` at the
        corners.

    Raises
    ------
    ValueError
        If ``corner_loss`` is not in [0, 1) or the centre is the origin.
    """
    if not 0.0 <= corner_loss < 1.0:
        raise ValueError(f"corner loss {corner_loss} must be in [0, 1)")
    cx, cy = centre
    corner2 = cx**2 + cy**2
    if corner2 <= 0:
        raise ValueError(f"image centre {centre} leaves no distance to the corner")
    rho2 = ((np.asarray(x, dtype=float) - cx) ** 2 + (np.asarray(y, dtype=float) - cy) ** 2) / (
        corner2
    )
    return 1.0 - corner_loss * (_RHO2_SHARE * rho2 + (1.0 - _RHO2_SHARE) * rho2**2)


def vignetting(
    camera: CameraModel, x: np.ndarray, y: np.ndarray, corner_loss: float = CORNER_LOSS
) -> np.ndarray:
    """Return the fast lens's throughput at pixels of a camera (:func:`fast_lens_vignetting`).

    Parameters
    ----------
    camera : CameraModel
        The camera (its image centre).
    x, y : numpy.ndarray
        0-based pixel coordinates (column, row), in pixels.
    corner_loss : float
        Fraction of the light lost at the corners.

    Returns
    -------
    numpy.ndarray
        Relative throughput, 1 at the centre, ``1 - corner_loss`` at the corners.
    """
    return fast_lens_vignetting(x, y, camera.centre, corner_loss)


def vignetting_map(camera: CameraModel, corner_loss: float = CORNER_LOSS) -> np.ndarray:
    """Return the throughput of every pixel of a camera, float32 of shape ``camera.shape``.

    Parameters
    ----------
    camera : CameraModel
        The camera.
    corner_loss : float
        Fraction of the light lost at the corners.

    Returns
    -------
    numpy.ndarray
        Relative throughput (dimensionless).
    """
    rows, cols = camera.shape
    y = np.arange(rows, dtype=float)[:, None]
    x = np.arange(cols, dtype=float)[None, :]
    return vignetting(camera, x, y, corner_loss).astype(np.float32)


@functools.lru_cache(maxsize=2)
def _prnu(camera_id: str, shape: tuple[int, int], rms: float) -> np.ndarray:
    rng = np.random.default_rng([_PRNU_STREAM, int(camera_id, 16)])
    values = rng.standard_normal(shape, dtype=np.float32)
    values *= np.float32(rms)
    values += np.float32(1.0)
    values.flags.writeable = False
    return values


def prnu_map(camera: CameraModel, rms: float = PRNU_RMS) -> np.ndarray:
    """Return the camera's pixel response non-uniformity, fixed by its id.

    Parameters
    ----------
    camera : CameraModel
        The camera; its id seeds the generator, its shape is the map's.
    rms : float
        RMS of the pixel-to-pixel variation (a fraction, e.g. 0.01 for 1 %).

    Returns
    -------
    numpy.ndarray
        Read-only float32 map of relative sensitivities, mean 1 (dimensionless). The last two
        maps are cached (a full frame's is 72 MB).

    Raises
    ------
    ValueError
        If ``rms`` is negative or above 0.2 (a sensitivity could then go negative).
    """
    if not 0.0 <= rms <= 0.2:
        raise ValueError(f"PRNU rms {rms} must be in [0, 0.2]")
    return _prnu(camera.camera_id, camera.shape, float(rms))


def response_map(
    camera: CameraModel, corner_loss: float = CORNER_LOSS, prnu_rms: float = PRNU_RMS
) -> np.ndarray:
    """Return each pixel's response to uniform light: vignetting times PRNU.

    Parameters
    ----------
    camera : CameraModel
        The camera.
    corner_loss : float
        Fraction of the light lost at the corners by the lens.
    prnu_rms : float
        RMS of the pixel response non-uniformity.

    Returns
    -------
    numpy.ndarray
        Float32 map of shape ``camera.shape`` (dimensionless), about 1 at the centre.
    """
    return vignetting_map(camera, corner_loss) * prnu_map(camera, prnu_rms)


def dark_current(
    temperature_c: float | np.ndarray,
    *,
    rate_e_per_s: float = DARK_CURRENT_E_PER_S,
    reference_c: float = DARK_REFERENCE_C,
    doubling_c: float = DARK_DOUBLING_C,
) -> float | np.ndarray:
    """Return the mean dark current of a pixel at a sensor temperature.

    ``rate_e_per_s * 2 ** ((temperature_c - reference_c) / doubling_c)``.

    Parameters
    ----------
    temperature_c : float or numpy.ndarray
        Sensor temperature, in degrees Celsius (the ``CAMTEMP`` card).
    rate_e_per_s : float
        Dark current at ``reference_c``, in electrons per second per pixel.
    reference_c : float
        Temperature of ``rate_e_per_s``, in degrees Celsius.
    doubling_c : float
        Temperature rise that doubles the dark current, in degrees Celsius.

    Returns
    -------
    float or numpy.ndarray
        Dark current, in electrons per second per pixel.
    """
    rate = rate_e_per_s * 2.0 ** (
        (np.asarray(temperature_c, dtype=float) - reference_c) / doubling_c
    )
    return float(rate) if rate.ndim == 0 else rate


def add_detector_response(
    image: np.ndarray,
    camera: CameraModel,
    *,
    exptime: float,
    temperature_c: float,
    prnu_rms: float = PRNU_RMS,
) -> np.ndarray:
    """Apply PRNU to the light of an image and add the mean dark current, in place.

    Call it on the noiseless light (sky and stars, already vignetted), before the hot pixels
    are added and before :func:`.render.digitise`.

    Parameters
    ----------
    image : numpy.ndarray
        Expected electrons per pixel from light, float32 of shape ``camera.shape``; modified.
    camera : CameraModel
        The camera (its PRNU map).
    exptime : float
        Exposure time, in seconds.
    temperature_c : float
        Sensor temperature, in degrees Celsius.
    prnu_rms : float
        RMS of the pixel response non-uniformity.

    Returns
    -------
    numpy.ndarray
        ``image``, now ``light * prnu + dark_current(temperature_c) * exptime`` (electrons).

    Raises
    ------
    ValueError
        If the image's shape is not the camera's.
    """
    if image.shape != camera.shape:
        raise ValueError(f"image shape {image.shape} is not the camera's {camera.shape}")
    image *= prnu_map(camera, prnu_rms)
    image += np.float32(float(dark_current(temperature_c)) * exptime)
    return image
