"""Turn a frame's expected electrons into raw Bayer pixels.

:func:`expected_electrons` builds the noiseless image in electrons: the sky of each colour on
its Bayer sites (a :class:`~.smooth_field.SmoothField` per colour), the stars as
pixel-integrated Gaussian stamps (:mod:`.psf`) in which a pixel of colour ``c`` gets the PSF
fraction times ``F_c / pixel_share_c`` (so the sum over a star's colour-``c`` pixels is
``F_c``, up to Bayer sampling), both times each pixel's response (the camera's pixel response
non-uniformity, when the scene has one), then the mean dark current and the hot pixels' dark
current. It also returns, per star and colour, the exact sum of its noiseless electrons over
the image's pixels of that colour: the expectation of a large aperture sum, which the truth
tables record.

:func:`digitise` adds Poisson noise (shot noise of sky, stars and dark current), Gaussian
read noise, divides by the gain, adds the bias, rounds and clips at 0 and the saturation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from panoptes_network.frames.camera import BAYER_COLOUR, BAYER_SITES
from panoptes_network.simulation.camera import COLOURS, CameraModel, HotPixels
from panoptes_network.simulation.psf import STAMP_HALF, gaussian_profiles
from panoptes_network.simulation.smooth_field import SmoothField

__all__ = ["FrameScene", "StarPixels", "digitise", "expected_electrons"]

_CHUNK_ROWS = 256
NOISE_MODELS = ("poisson", "gaussian")
_SITE_COLOUR = {"R": 0, "G1": 1, "G2": 1, "B": 2}


@dataclass(frozen=True)
class FrameScene:
    """Everything that lands on the sensor in one exposure, before noise.

    Attributes
    ----------
    camera : CameraModel
        The camera (size, Bayer layout).
    x, y : numpy.ndarray
        Star positions, 0-based pixel coordinates, shape ``(n,)``.
    fluxes : numpy.ndarray
        Channel fluxes of the stars in this exposure, shape ``(n, 3)`` (R, G, B), in electrons.
    sigma_x, sigma_y : numpy.ndarray
        PSF sigmas of the stars, in pixels, shape ``(n,)``.
    sky : tuple of SmoothField
        Sky per colour (R, G, B), in electrons per pixel of that colour.
    hot : HotPixels
        The camera's hot pixels.
    exptime : float
        Exposure time, in seconds.
    pixel_shares : (float, float, float)
        Fraction of the pixels of each colour.
    response : numpy.ndarray or None
        Each pixel's sensitivity relative to the smooth throughput (the camera's pixel
        response non-uniformity, :func:`.detector_response.prnu_map`), shape
        ``camera.shape``, dimensionless; None: uniform.
    dark_electrons : float
        Mean dark current of a pixel over the exposure (:func:`.detector_response.
        dark_current` at the sensor's temperature times the exposure), in electrons.
    """

    camera: CameraModel
    x: np.ndarray
    y: np.ndarray
    fluxes: np.ndarray
    sigma_x: np.ndarray
    sigma_y: np.ndarray
    sky: tuple[SmoothField, SmoothField, SmoothField]
    hot: HotPixels
    exptime: float
    pixel_shares: tuple[float, float, float] = (0.25, 0.5, 0.25)
    response: np.ndarray | None = None
    dark_electrons: float = 0.0


@dataclass(frozen=True)
class StarPixels:
    """What the noiseless stars put on the image.

    Attributes
    ----------
    pixel_fluxes : numpy.ndarray
        Shape ``(n, 3)``: electrons of each star summed over the image's pixels of each
        colour (Bayer sampling and image edges included).
    peak : numpy.ndarray
        Shape ``(n,)``: the star's brightest pixel, in electrons (sky excluded).
    """

    pixel_fluxes: np.ndarray
    peak: np.ndarray


def _add_sky(image: np.ndarray, sky: tuple[SmoothField, ...]) -> None:
    rows, cols = image.shape
    for site, (row0, col0) in BAYER_SITES.items():
        field = sky[_SITE_COLOUR[site]]
        image[row0::2, col0::2] = field.sample(np.arange(row0, rows, 2), np.arange(col0, cols, 2))


def _add_stars(image: np.ndarray, scene: FrameScene) -> StarPixels:
    rows, cols = image.shape
    n = len(scene.x)
    if n == 0:
        return StarPixels(np.zeros((0, 3)), np.zeros(0))
    col0, gx = gaussian_profiles(scene.x, scene.sigma_x, STAMP_HALF)
    row0, gy = gaussian_profiles(scene.y, scene.sigma_y, STAMP_HALF)
    k = gx.shape[1]
    px = col0[:, None] + np.arange(k)
    py = row0[:, None] + np.arange(k)
    colour = BAYER_COLOUR[(py % 2)[:, :, None], (px % 2)[:, None, :]]
    per_pixel = np.asarray(scene.fluxes, dtype=float) / np.asarray(scene.pixel_shares)
    scale = per_pixel[np.arange(n)[:, None, None], colour]
    stamps = (gy[:, :, None] * gx[:, None, :] * scale).astype(np.float32)
    inside = ((py >= 0) & (py < rows))[:, :, None] & ((px >= 0) & (px < cols))[:, None, :]
    stamps[~inside] = 0.0
    if scene.response is not None:
        stamps *= scene.response[
            np.clip(py, 0, rows - 1)[:, :, None], np.clip(px, 0, cols - 1)[:, None, :]
        ]
    pixel_fluxes = np.stack(
        [np.where(colour == c, stamps, 0.0).sum(axis=(1, 2)) for c in range(len(COLOURS))],
        axis=1,
    )
    index = np.clip(py, 0, rows - 1)[:, :, None] * cols + np.clip(px, 0, cols - 1)[:, None, :]
    np.add.at(image.reshape(-1), index[inside], stamps[inside])
    return StarPixels(pixel_fluxes, stamps.reshape(n, -1).max(axis=1).astype(float))


def expected_electrons(scene: FrameScene) -> tuple[np.ndarray, StarPixels]:
    """Return the noiseless image in electrons and what each star contributes.

    Parameters
    ----------
    scene : FrameScene
        The frame's sky, stars and hot pixels.

    Returns
    -------
    (numpy.ndarray, StarPixels)
        The float32 image of shape ``camera.shape`` (electrons per pixel: sky and stars
        times the pixel response, plus dark current and hot pixels) and the stars' per-colour
        pixel sums and peaks (the pixel response included).
    """
    image = np.empty(scene.camera.shape, dtype=np.float32)
    _add_sky(image, scene.sky)
    if scene.response is not None:
        image *= scene.response
    stars = _add_stars(image, scene)
    if scene.dark_electrons:
        image += np.float32(scene.dark_electrons)
    hot = scene.hot
    image[hot.rows, hot.cols] += (hot.dark_current * scene.exptime).astype(np.float32)
    return image, stars


def digitise(
    electrons: np.ndarray,
    camera: CameraModel,
    rng: np.random.Generator,
    noise: str = "poisson",
) -> np.ndarray:
    """Add shot and read noise and convert electrons to raw ADU.

    Parameters
    ----------
    electrons : numpy.ndarray
        Expected electrons per pixel (float32, non-negative).
    camera : CameraModel
        Gain, read noise, bias and saturation.
    rng : numpy.random.Generator
        Source of the noise; rows are drawn in a fixed order, so a seed gives the same pixels.
    noise : str
        ``"poisson"`` (default): shot noise drawn from the Poisson distribution.
        ``"gaussian"``: shot noise ``sqrt(e) z`` with ``z`` standard normal, the same draws
        whatever ``electrons`` holds. Two images of one seed then share their noise and
        differ only by what differs in ``electrons`` (common random numbers, for paired
        injection measurements). The Poisson sampler rejects some draws depending on the
        mean, so a change of mean can shift every later draw. The two models differ by
        ``1 / sqrt(e)`` in skewness.

    Returns
    -------
    numpy.ndarray of uint16
        ``clip(round((shot(e) + N(0, read_noise)) / gain + bias), 0, saturation)``.

    Raises
    ------
    ValueError
        If ``noise`` is neither ``"poisson"`` nor ``"gaussian"``.
    """
    if noise not in NOISE_MODELS:
        raise ValueError(f"noise {noise!r} is not one of {NOISE_MODELS}")
    pixels = np.empty(electrons.shape, dtype=np.uint16)
    read_noise = np.float32(camera.read_noise)
    inverse_gain = np.float32(1.0 / camera.gain)
    bias = np.float32(camera.bias_adu)
    for start in range(0, electrons.shape[0], _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, electrons.shape[0])
        if noise == "poisson":
            counts = rng.poisson(electrons[start:stop]).astype(np.float32)
        else:
            mean = electrons[start:stop].astype(np.float32)
            counts = rng.standard_normal(mean.shape, dtype=np.float32)
            counts *= np.sqrt(mean)
            counts += mean
        counts += rng.standard_normal(counts.shape, dtype=np.float32) * read_noise
        counts *= inverse_gain
        counts += bias
        np.clip(np.rint(counts, out=counts), 0, camera.saturation_adu, out=counts)
        pixels[start:stop] = counts
    return pixels
