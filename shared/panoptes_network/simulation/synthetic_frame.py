"""A synthetic but realistic full-size PANOPTES raw frame, for the demo and benchmarks.

A PANOPTES unit takes 5208 x 3476 raw Bayer frames (Canon EOS 100D, RGGB), written by POCS
as 16-bit FITS with ``BZERO = 32768``: about 36 MB each. :func:`make_full_frame` renders one
with numpy in a few seconds, deterministic for a seed:

- the electronics of the frame's camera (``INSTRUME``; ``14d3bd`` when the cards name none):
  its own bias, gain, read noise (Gaussian) and saturation
  (:func:`~panoptes_network.simulation.camera.camera_electronics`), its white level written
  as ``WHTLVLN`` as a Canon camera does;
- a smooth sky gradient of 300 to 1500 e- (green pixels; red and blue pixels see 0.75 and
  0.6 of it, the Bayer pattern of a colour sensor), with Poisson noise;
- about 5000 Gaussian stars, FWHM 2 to 3 px, whose total fluxes follow a power law
  (N(>F) proportional to F**-0.7, from 500 e- up), with Poisson noise; the brightest saturate;
- a few hundred hot pixels;
- the header of a unit's frame: the cards and layout of a real PAN001 frame (the CR2 EXIF
  cards, pointing, site and software cards), with a valid ``CHECKSUM`` and ``DATASUM``.

The pixels are statistically like a real frame where it matters for compression: the noise
per pixel, the Bayer pattern, the fraction of pixels on stars. They are not a real sky: stars
are placed at random, with no catalog and no WCS.

:func:`frame_cards_for` gives the cards that tie a frame to its bucket path (unit, camera,
sequence and image ids, DATE-OBS), so :func:`make_full_frame` can stand in for a unit's upload.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
from astropy.io import fits

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.camera import SENSOR_SHAPE
from panoptes_network.frames.checksum import uint16_frame_bytes, uint16_frame_header
from panoptes_network.simulation.camera import (
    CameraElectronics,
    CameraModel,
    camera_electronics,
)

__all__ = [
    "HEIGHT",
    "WIDTH",
    "frame_cards_for",
    "frame_header",
    "make_full_frame",
    "render_pixels",
]

#: Image height and width (``NAXIS2``, ``NAXIS1``), in pixels.
HEIGHT, WIDTH = SENSOR_SHAPE

_N_STARS = 5000
_N_HOT = 300
_SKY_MIN = 300.0  # e-, green pixels
_SKY_MAX = 1500.0  # e-, green pixels
_BAYER = ((0.75, 1.0), (1.0, 0.6))  # relative response of R G / G B
_STAMP_HALF = 8  # stamps are 17 x 17 px: 6 sigma for FWHM 3 px
_FLUX_MIN = 500.0  # e-, faintest star (total)
_FLUX_MAX = 5.0e7  # e-, brightest star (total)
_FLUX_SLOPE = 0.7  # N(>F) ~ F**-slope
_CHUNK_ROWS = 512  # rows per noise chunk: bounds the memory of the int64 Poisson draws

# The cards of a PAN001 frame after the structural ones, in the order POCS writes them.
_UNIT_CARDS: list[tuple[str, object, str]] = [
    ("ISO", 100, ""),
    ("EXPTIME", 120.4, ""),
    ("CAMTEMP", "11 C", "Celsius - From CR2"),
    ("CIRCCONF", "0.019 mm", "From CR2"),
    ("COLORTMP", 5386, "From CR2"),
    ("DATE-OBS", "2016-09-09T08:12:26", ""),
    ("FILENAME", "20160909T081314.cr2", "From CR2"),
    ("INTSN", "HA0028608", "From CR2"),
    ("CAMSN", "012070048413", "From CR2"),
    ("MEASEV", -3.62, "From CR2"),
    ("MEASEV2", -3.625, "From CR2"),
    ("MEASRGGB", "471 1024 1024 733", "From CR2"),
    ("WHTLVLN", 11765, "From CR2"),
    ("WHTLVLS", 12277, "From CR2"),
    ("REDBAL", 2.015625, "From CR2"),
    ("BLUEBAL", 1.490234, "From CR2"),
    ("WBRGGB", "", "From CR2"),
    ("IMAGEID", "PAN001_XXXXXX_20160909T081152", ""),
    ("SEQID", "PAN001_XXXXXX_20160909T081152", ""),
    ("FIELD", "KIC 8462852", ""),
    ("RA-MNT", 301.56439, "Degrees"),
    ("HA-MNT", 0.9982873786121509, "Degrees"),
    ("DEC-MNT", 44.456875, "Degrees"),
    ("EQUINOX", 2000.0, ""),
    ("AIRMASS", 1.131062349864597, "Sec(z)"),
    ("FILTER", "RGGB", ""),
    ("LAT-OBS", 19.54, "Degrees"),
    ("LONG-OBS", -155.58, "Degrees"),
    ("ELEV-OBS", 3400.0, "Meters"),
    ("MOONSEP", 75.97764348769019, "Degrees"),
    ("MOONFRAC", 0.4868610517397907, ""),
    ("CREATOR", "POCSv0.1.1", "POCS Software version"),
    ("INSTRUME", "XXXXXX", "Camera ID"),
    ("OBSERVER", "PAN001", "PANOPTES Unit ID"),
    ("ORIGIN", "Project PANOPTES", ""),
]
_CHECKSUM_DATE = "2016-09-14T01:45:44"


def _sky_electrons(rng: np.random.Generator) -> np.ndarray:
    """Return the noiseless sky in electrons, float32, shape (HEIGHT, WIDTH)."""
    tilt = rng.uniform(0.55, 0.85)  # how much of the gradient runs along x
    gx = np.linspace(0.0, 1.0, WIDTH, dtype=np.float32)
    gy = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32) ** 2
    sky = (tilt * gx)[None, :] + ((1.0 - tilt) * gy)[:, None]
    sky *= np.float32(_SKY_MAX - _SKY_MIN)
    sky += np.float32(_SKY_MIN)
    return sky


def _add_stars(image: np.ndarray, rng: np.random.Generator) -> int:
    """Add Gaussian stars (electrons) to ``image`` in place; return how many were drawn."""
    n = _N_STARS
    x = rng.uniform(0.0, WIDTH, n)
    y = rng.uniform(0.0, HEIGHT, n)
    sigma = rng.uniform(2.0, 3.0, n) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    flux = _FLUX_MIN * rng.uniform(0.0, 1.0, n) ** (-1.0 / _FLUX_SLOPE)
    flux = np.minimum(flux, _FLUX_MAX)

    offsets = np.arange(-_STAMP_HALF, _STAMP_HALF + 1)
    px = np.floor(x).astype(np.int64)[:, None] + offsets  # (n, k) pixel columns
    py = np.floor(y).astype(np.int64)[:, None] + offsets  # (n, k) pixel rows
    # Gaussian sampled at pixel centres, each axis normalised to unit sum.
    gx = np.exp(-0.5 * ((px + 0.5 - x[:, None]) / sigma[:, None]) ** 2)
    gy = np.exp(-0.5 * ((py + 0.5 - y[:, None]) / sigma[:, None]) ** 2)
    gx /= gx.sum(axis=1, keepdims=True)
    gy /= gy.sum(axis=1, keepdims=True)
    stamps = (flux[:, None, None] * gy[:, :, None] * gx[:, None, :]).astype(np.float32)

    inside = ((px >= 0) & (px < WIDTH))[:, None, :] & ((py >= 0) & (py < HEIGHT))[:, :, None]
    index = py[:, :, None] * WIDTH + px[:, None, :]
    np.add.at(image.reshape(-1), index[inside], stamps[inside])
    return n


def _camera_id(cards: Mapping[str, object] | None) -> str:
    """Return the camera id the cards name (``INSTRUME``), else the default camera's."""
    named = str((cards or {}).get("INSTRUME", "")).strip()
    try:
        return CameraModel(named, width=2, height=2, hot_pixel_count=0).camera_id
    except ValueError:
        return CameraModel.__dataclass_fields__["camera_id"].default


def render_pixels(seed: int = 0, electronics: CameraElectronics | None = None) -> np.ndarray:
    """Render the pixels of a raw frame.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed gives the same pixels.
    electronics : CameraElectronics, optional
        The camera's bias, gain, read noise and saturation (those of the default simulated
        camera, ``14d3bd``, when omitted).

    Returns
    -------
    numpy.ndarray
        ``uint16`` image of shape (3476, 5208), in ADU (bias included, clipped at the
        camera's saturation).
    """
    camera = electronics or camera_electronics(_camera_id(None))
    rng = np.random.default_rng(seed)
    electrons = _sky_electrons(rng)
    _add_stars(electrons, rng)
    for row in (0, 1):
        for col in (0, 1):
            electrons[row::2, col::2] *= np.float32(_BAYER[row][col])

    pixels = np.empty((HEIGHT, WIDTH), dtype=np.uint16)
    for start in range(0, HEIGHT, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, HEIGHT)
        counts = rng.poisson(electrons[start:stop]).astype(np.float32)
        counts += rng.standard_normal(counts.shape, dtype=np.float32) * np.float32(
            camera.read_noise
        )
        counts /= np.float32(camera.gain)
        counts += np.float32(camera.bias_adu)
        np.clip(np.rint(counts, out=counts), 0, camera.saturation_adu, out=counts)
        pixels[start:stop] = counts
    del electrons

    hot = rng.choice(HEIGHT * WIDTH, size=_N_HOT, replace=False)
    excess = np.exp(rng.uniform(np.log(300.0), np.log(12000.0), _N_HOT))  # ADU
    flat = pixels.reshape(-1)
    flat[hot] = np.minimum(flat[hot] + excess, camera.saturation_adu).astype(np.uint16)
    return pixels


def frame_header(
    checksum: str = "0" * 16, datasum: str = "0", cards: Mapping[str, object] | None = None
) -> fits.Header:
    """Return the primary header of a full-size unit frame.

    Parameters
    ----------
    checksum : str
        Value of ``CHECKSUM`` (16 characters).
    datasum : str
        Value of ``DATASUM`` (the data's 32-bit sum, as a decimal string).
    cards : Mapping, optional
        Values that replace those of the unit's cards (same keywords, same place).

    Returns
    -------
    astropy.io.fits.Header
        Structural cards (``BITPIX = 16``, ``BZERO = 32768``, 5208 x 3476), the unit's cards,
        then ``CHECKSUM`` and ``DATASUM``.
    """
    return uint16_frame_header(
        (HEIGHT, WIDTH),
        [(key, (cards or {}).get(key, value), note) for key, value, note in _UNIT_CARDS],
        checksum,
        datasum,
        updated=_CHECKSUM_DATE,
    )


def _build_frame(seed: int, cards: tuple[tuple[str, object], ...] = ()) -> bytes:
    overrides = dict(cards)
    electronics = camera_electronics(_camera_id(overrides))
    overrides.setdefault("WHTLVLN", electronics.saturation_adu)
    return uint16_frame_bytes(
        render_pixels(seed, electronics),
        lambda checksum, datasum: frame_header(checksum, datasum, overrides),
    )


@functools.lru_cache(maxsize=1)
def _cached_frame(seed: int, cards: tuple[tuple[str, object], ...]) -> bytes:
    return _build_frame(seed, cards)


def frame_cards_for(path: ImagePath, exptime: float = 120.0) -> dict[str, object]:
    """Return the header cards that tie a frame to its bucket path.

    Parameters
    ----------
    path : ImagePath
        Where the unit will upload the frame.
    exptime : float
        Exposure time, in seconds.

    Returns
    -------
    dict
        ``IMAGEID``, ``SEQID``, ``DATE-OBS``, ``EXPTIME``, ``INSTRUME``, ``OBSERVER`` and
        ``FILENAME`` as a unit writes them.
    """
    return {
        "IMAGEID": path.image_id,
        "SEQID": path.sequence_id,
        "DATE-OBS": path.image_time.strftime("%Y-%m-%dT%H:%M:%S"),
        "EXPTIME": float(exptime),
        "INSTRUME": path.camera_id,
        "OBSERVER": path.unit_id,
        "FILENAME": f"{path.image_start}.cr2",
    }


def make_full_frame(seed: int = 0, cards: Mapping[str, object] | None = None) -> bytes:
    """Return a realistic full-size PANOPTES raw frame as the bytes of a FITS file.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed gives the same bytes. The last frame is
        cached, so benchmarks run in one process share it.
    cards : Mapping, optional
        Values for the unit's cards (see :func:`frame_cards_for`); others keep those of a
        real PAN001 frame, except ``WHTLVLN``: the white level of the camera ``INSTRUME``
        names, whose electronics the pixels have.

    Returns
    -------
    bytes
        An uncompressed FITS file (about 36.2 MB): 5208 x 3476 ``uint16`` pixels stored as
        ``BITPIX = 16`` with ``BZERO = 32768``, and a unit's header with valid checksums.
    """
    return _cached_frame(seed, tuple(sorted((cards or {}).items())))
