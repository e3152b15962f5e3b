"""Simulated calibration sequences of a unit: darks (and biases) and twilight flats.

The frames follow the convention of :mod:`panoptes_network.calibration.frame_kind`, as POCS
writes them: ``IMAGETYP = 'Dark Frame'`` and ``FIELD = 'Dark'`` (``'Bias'`` for exposures of
at most :data:`~panoptes_network.calibration.frame_kind.BIAS_MAX_EXPTIME_S`) for darks,
``IMAGETYP = 'Light Frame'`` and ``FIELD = 'EveningFlat'`` or ``'MorningFlat'`` for flats,
with the other cards of a unit's frame (:mod:`.unit_header`), the mount at the zenith of the
first frame (tracking off), ``CAMTEMP`` the temperature asked for. Paths are the bucket's,
``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.fits``.

**Darks** (:func:`simulate_dark_sequence`): bias, mean dark current rising with temperature
(:func:`.detector_response.dark_current`), the camera's hot pixels (:func:`.camera.hot_pixels`),
shot and read noise, digitised like science frames (:func:`.render.digitise`). A light leak
can be added: light of a given rate (e- per second per pixel) at one corner, fading to
nothing 60 % of the diagonal away.

**Twilight flats** (:func:`simulate_flat_sequence`): the sky's rate falls (evening) or rises
(morning) exponentially, doubling every 180 s as POCS assumes; each exposure time is chosen
by POCS's rule (``previous * target / level * 2 ** (+-elapsed / 180)``, ``level`` the
previous frame's mean above bias, ``target`` a fraction of the full well). A pixel receives
``rate * exptime * colour response * vignetting * PRNU`` (:mod:`.detector_response`) plus
dark current and hot pixels; optionally a linear sky gradient across the field and a few
stars at random places (tracking is off, so they move between frames).

Bad sequences for the masters to refuse: ``light_leak_e_per_s`` for darks; for flats a
``target_fraction`` above :data:`~panoptes_network.calibration.masters.FLAT_MAX_LEVEL_FRACTION`
(saturated) or a low ``sky_rate_e_per_s`` with a short ``max_exptime`` (too dark); and
``n_frames`` below the masters' minimum (too few).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from astropy.io import fits

from panoptes_network.calibration.camera_measurement import CalibrationFrameFile
from panoptes_network.calibration.frame_kind import BIAS_MAX_EXPTIME_S
from panoptes_network.frames.bucket_path import ImagePath, format_timestamp
from panoptes_network.frames.checksum import uint16_frame_bytes
from panoptes_network.simulation.camera import CameraModel, bayer_colour_index, hot_pixels
from panoptes_network.simulation.detector_response import (
    CORNER_LOSS,
    PRNU_RMS,
    dark_current,
    prnu_map,
    vignetting_map,
)
from panoptes_network.simulation.observing import observing_conditions
from panoptes_network.simulation.render import digitise
from panoptes_network.simulation.synthetic_frame import frame_header
from panoptes_network.simulation.unit import DEFAULT_UNIT, Unit
from panoptes_network.simulation.unit_header import exif_cards, unit_cards, written_time

__all__ = [
    "COLOUR_RESPONSE",
    "SKY_DOUBLING_S",
    "CalibrationFrame",
    "as_frame_files",
    "calibration_fits_bytes",
    "photon_transfer_set",
    "simulate_dark_sequence",
    "simulate_flat_sequence",
]

#: Time over which the twilight sky's brightness changes by a factor 2, in seconds (POCS's).
SKY_DOUBLING_S: float = 180.0
#: Relative response of the R, G and B pixels to the twilight sky (dimensionless).
COLOUR_RESPONSE: tuple[float, float, float] = (0.75, 1.0, 0.6)
_READOUT_S = 5.0  # seconds between the end of an exposure and the next start
_NOISE, _HEADER, _STARS = 0, 1, 2  # random streams
_STAR_HALF = 4  # stars in flats: 9 x 9 pixel stamps
_STAR_SIGMA = 1.1  # pixels


@dataclass(frozen=True)
class CalibrationFrame:
    """One simulated calibration frame.

    Attributes
    ----------
    path : ImagePath
        Where the unit uploads it.
    pixels : numpy.ndarray
        Raw uint16 image (ADU, bias included), shape ``camera.shape``.
    cards : dict
        The unit cards, ``IMAGETYP`` included (:func:`calibration_fits_bytes` writes them).
    exptime : float
        Exposure time, in seconds.
    temperature_c : float
        Sensor temperature, in degrees Celsius.
    sky_rate_e_per_s : float
        Flats: the sky's rate at the image centre on a G pixel, in electrons per second
        (before PRNU); darks: the light leak's rate at its corner (0 without).
    """

    path: ImagePath
    pixels: np.ndarray = field(repr=False)
    cards: dict[str, object]
    exptime: float
    temperature_c: float
    sky_rate_e_per_s: float = 0.0

    @property
    def time(self) -> datetime:
        """Start of the exposure (aware UTC)."""
        return self.path.image_time

    @property
    def image_id(self) -> str:
        """The image id, ``<UNIT>_<CAMERA>_<IMGSTART>``."""
        return self.path.image_id


def calibration_fits_bytes(frame: CalibrationFrame) -> bytes:
    """Return a calibration frame as the bytes of a unit's FITS file, with valid checksums.

    The header is a unit frame's (:func:`.synthetic_frame.frame_header`) with ``IMAGETYP``
    after ``FIELD``.

    Parameters
    ----------
    frame : CalibrationFrame
        The frame.

    Returns
    -------
    bytes
        A FITS file: ``BITPIX = 16``, ``BZERO = 32768``, the header, the big-endian data.
    """
    cards = dict(frame.cards)
    image_type = cards.pop("IMAGETYP", None)
    written = (
        written_time(frame.time, frame.exptime)
        .astimezone(timezone.utc)
        .replace(microsecond=0, tzinfo=None)
        .isoformat()
    )
    rows, cols = frame.pixels.shape

    def header_for(checksum: str, datasum: str) -> fits.Header:
        header = frame_header(checksum, datasum, cards)
        header["NAXIS1"] = int(cols)
        header["NAXIS2"] = int(rows)
        if image_type is not None:
            header.insert(
                "FIELD", ("IMAGETYP", image_type, "Dark Frame or Light Frame"), after=True
            )
        header.comments["CHECKSUM"] = f"HDU checksum updated {written}"
        header.comments["DATASUM"] = f"data unit checksum updated {written}"
        return header

    return uint16_frame_bytes(frame.pixels, header_for)


def _rng(seed: int, purpose: int, frame: int) -> np.random.Generator:
    return np.random.default_rng([seed, purpose, frame])


def _start(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def _zenith(unit: Unit, moment: datetime) -> tuple[float, float]:
    """RA and Dec (degrees) of the zenith at a moment."""
    lst = observing_conditions(unit, moment, 0.0, unit.latitude).sidereal_time
    return (lst * 15.0) % 360.0, unit.latitude


def _cards(
    camera: CameraModel,
    unit: Unit,
    path: ImagePath,
    exptime: float,
    temperature_c: float,
    field_name: str,
    image_type: str,
    pointing: tuple[float, float],
    hours: float,
    rng: np.random.Generator,
) -> dict[str, object]:
    exif = exif_cards(camera, hours, rng)
    exif["CAMTEMP"] = f"{int(round(temperature_c))} C"
    conditions = observing_conditions(unit, path.image_time, *pointing)
    cards = unit_cards(path, unit, exptime, field_name, conditions, exif)
    cards["IMAGETYP"] = image_type
    return cards


def _path(unit: Unit, camera: CameraModel, start: datetime, moment: datetime) -> ImagePath:
    return ImagePath(
        unit.unit_id, camera.camera_id, format_timestamp(start), format_timestamp(moment), ".fits"
    )


def _hot_electrons(
    camera: CameraModel, exptime: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hot = hot_pixels(camera)
    return hot.rows, hot.cols, (hot.dark_current * exptime).astype(np.float32)


def simulate_dark_sequence(
    camera: CameraModel,
    *,
    start: datetime,
    n_frames: int = 10,
    exptime: float = 120.0,
    temperature_c: float = 15.0,
    light_leak_e_per_s: float = 0.0,
    unit: Unit = DEFAULT_UNIT,
    field_name: str | None = None,
    seed: int = 0,
) -> list[CalibrationFrame]:
    """Simulate a dark (or bias) sequence of a camera.

    Parameters
    ----------
    camera : CameraModel
        The camera (electronics, hot pixels, shape).
    start : datetime
        Start of the first exposure (aware UTC; naive is taken as UTC; whole seconds kept).
    n_frames : int
        Number of frames.
    exptime : float
        Exposure time, in seconds (at most 0.01 s: a bias sequence).
    temperature_c : float
        Sensor temperature, in degrees Celsius.
    light_leak_e_per_s : float
        Light leaking in at the corner (0, 0), in electrons per second per pixel there
        (fading to 0 at 60 % of the diagonal); 0 for a good dark.
    unit : Unit
        The unit (id and site).
    field_name : str, optional
        The ``FIELD`` card: ``"Dark"`` (``"Bias"`` for a bias) when omitted.
    seed : int
        Seed of the noise; the same seed gives the same frames.

    Returns
    -------
    list of CalibrationFrame
        The frames, ``IMAGETYP = 'Dark Frame'``.
    """
    start = _start(start)
    name = field_name or ("Bias" if exptime <= BIAS_MAX_EXPTIME_S else "Dark")
    pointing = _zenith(unit, start)
    rows, cols = camera.shape
    base = np.full(camera.shape, float(dark_current(temperature_c)) * exptime, dtype=np.float32)
    hot_rows, hot_cols, hot_e = _hot_electrons(camera, exptime)
    base[hot_rows, hot_cols] += hot_e
    if light_leak_e_per_s > 0:
        y = np.arange(rows, dtype=np.float32)[:, None]
        x = np.arange(cols, dtype=np.float32)[None, :]
        reach = 0.6 * float(np.hypot(rows, cols))
        base += np.float32(light_leak_e_per_s * exptime) * np.clip(
            1.0 - np.hypot(x, y) / reach, 0.0, None
        )
    frames = []
    moment = start
    for k in range(n_frames):
        path = _path(unit, camera, start, moment)
        pixels = digitise(base, camera, _rng(seed, _NOISE, k))
        hours = (moment - start).total_seconds() / 3600.0
        cards = _cards(
            camera,
            unit,
            path,
            exptime,
            temperature_c,
            name,
            "Dark Frame",
            pointing,
            hours,
            _rng(seed, _HEADER, k),
        )
        frames.append(
            CalibrationFrame(path, pixels, cards, exptime, temperature_c, light_leak_e_per_s)
        )
        moment += timedelta(seconds=max(1.0, round(exptime + _READOUT_S)))
    return frames


def _add_stars(image: np.ndarray, count: int, peak_e: float, rng: np.random.Generator) -> None:
    rows, cols = image.shape
    offsets = np.arange(-_STAR_HALF, _STAR_HALF + 1)
    for _ in range(count):
        x, y = rng.uniform(0, cols), rng.uniform(0, rows)
        peak = peak_e * rng.uniform(0.2, 1.0)
        px = np.floor(x).astype(int) + offsets
        py = np.floor(y).astype(int) + offsets
        gx = np.exp(-0.5 * ((px + 0.5 - x) / _STAR_SIGMA) ** 2)
        gy = np.exp(-0.5 * ((py + 0.5 - y) / _STAR_SIGMA) ** 2)
        ok_x, ok_y = (px >= 0) & (px < cols), (py >= 0) & (py < rows)
        image[np.ix_(py[ok_y], px[ok_x])] += (peak * gy[ok_y, None] * gx[None, ok_x]).astype(
            np.float32
        )


def simulate_flat_sequence(
    camera: CameraModel,
    *,
    start: datetime,
    n_frames: int = 10,
    which: str = "evening",
    target_fraction: float = 0.5,
    initial_exptime: float = 1.0,
    sky_rate_e_per_s: float | None = None,
    min_exptime: float = 0.1,
    max_exptime: float = 60.0,
    temperature_c: float = 15.0,
    corner_loss: float = CORNER_LOSS,
    prnu_rms: float = PRNU_RMS,
    colour_response: tuple[float, float, float] = COLOUR_RESPONSE,
    sky_gradient: float = 0.0,
    stars_per_frame: int = 0,
    unit: Unit = DEFAULT_UNIT,
    field_name: str | None = None,
    seed: int = 0,
) -> list[CalibrationFrame]:
    """Simulate a twilight flat sequence of a camera, exposures adjusted as POCS does.

    Parameters
    ----------
    camera : CameraModel
        The camera (electronics, hot pixels, shape, id for the PRNU).
    start : datetime
        Start of the first exposure (aware UTC; naive is taken as UTC; whole seconds kept).
    n_frames : int
        Number of frames.
    which : str
        ``"evening"`` (the sky darkens) or ``"morning"`` (it brightens).
    target_fraction : float
        Level aimed at: mean above bias as a fraction of the full well
        (``saturation_adu - bias_adu``). Above 0.8 gives flats the masters refuse as
        saturated.
    initial_exptime : float
        Exposure time of the first frame, in seconds.
    sky_rate_e_per_s : float, optional
        The sky's rate at the centre on a G pixel at ``start``, in electrons per second; by
        default the rate that puts the first frame at the target.
    min_exptime, max_exptime : float
        Limits of the exposure time, in seconds.
    temperature_c : float
        Sensor temperature, in degrees Celsius.
    corner_loss : float
        The lens's loss of light at the corners (:func:`.detector_response.vignetting_map`).
    prnu_rms : float
        RMS of the pixel response non-uniformity (:func:`.detector_response.prnu_map`).
    colour_response : (float, float, float)
        Relative response of the R, G and B pixels to the twilight sky.
    sky_gradient : float
        Fractional change of the sky across half the width (left to right); 0: uniform.
    stars_per_frame : int
        Stars at random places in each frame (their peaks 0.2 to 1 times the sky level).
    unit : Unit
        The unit (id and site).
    field_name : str, optional
        The ``FIELD`` card: ``"EveningFlat"`` or ``"MorningFlat"`` when omitted.
    seed : int
        Seed of the noise and stars; the same seed gives the same frames.

    Returns
    -------
    list of CalibrationFrame
        The frames, ``IMAGETYP = 'Light Frame'``; ``sky_rate_e_per_s`` is each frame's
        rate at the start of its exposure.

    Raises
    ------
    ValueError
        If ``which`` is neither ``"evening"`` nor ``"morning"``.
    """
    if which not in ("evening", "morning"):
        raise ValueError(f"which {which!r} must be 'evening' or 'morning'")
    direction = 1.0 if which == "evening" else -1.0
    start = _start(start)
    name = field_name or f"{which.title()}Flat"
    pointing = _zenith(unit, start)
    rows, cols = camera.shape
    response = vignetting_map(camera, corner_loss) * prnu_map(camera, prnu_rms)
    tint = np.empty(camera.shape, dtype=np.float32)
    for row in (0, 1):
        for col in (0, 1):
            colour = int(bayer_colour_index(np.array(row), np.array(col)))
            tint[row::2, col::2] = colour_response[colour]
    light = response * tint
    if sky_gradient:
        x = np.arange(cols, dtype=np.float32)
        light *= (1.0 + np.float32(sky_gradient) * (x - camera.centre[0]) / camera.centre[0])[None]
    dark = np.full(camera.shape, float(dark_current(temperature_c)), dtype=np.float32)
    hot = hot_pixels(camera)
    full_well = camera.saturation_adu - camera.bias_adu
    target_adu = target_fraction * full_well
    if sky_rate_e_per_s is None:
        sky_rate_e_per_s = target_adu * camera.gain / (initial_exptime * float(light.mean()))
    tau = SKY_DOUBLING_S / np.log(2.0)
    frames = []
    moment = start
    exptime = float(np.clip(initial_exptime, min_exptime, max_exptime))
    for k in range(n_frames):
        elapsed = (moment - start).total_seconds()
        rate = sky_rate_e_per_s * float(np.exp(-direction * elapsed / tau))
        # the sky changes during the exposure too: its mean rate over it
        change = -direction * exptime / tau
        mean_rate = rate * (np.expm1(change) / change if change else 1.0)
        electrons = light * np.float32(mean_rate * exptime)
        electrons += dark * np.float32(exptime)
        electrons[hot.rows, hot.cols] += (hot.dark_current * exptime).astype(np.float32)
        if stars_per_frame:
            _add_stars(electrons, stars_per_frame, mean_rate * exptime, _rng(seed, _STARS, k))
        pixels = digitise(electrons, camera, _rng(seed, _NOISE, k))
        path = _path(unit, camera, start, moment)
        hours = elapsed / 3600.0
        cards = _cards(
            camera,
            unit,
            path,
            exptime,
            temperature_c,
            name,
            "Light Frame",
            pointing,
            hours,
            _rng(seed, _HEADER, k),
        )
        frames.append(CalibrationFrame(path, pixels, cards, exptime, temperature_c, rate))
        step = max(1.0, round(exptime + _READOUT_S))
        level = float(pixels.mean()) - camera.bias_adu
        suggested = exptime * (target_adu / max(level, 1.0)) * 2.0 ** (direction * step / 180.0)
        exptime = float(np.clip(suggested, min_exptime, max_exptime))
        moment += timedelta(seconds=step)
    return frames


def photon_transfer_set(
    camera: CameraModel, *, start: datetime, seed: int = 0
) -> list[CalibrationFrame]:
    """Simulate what a camera's photon transfer needs: two biases, six flats, one too bright.

    Parameters
    ----------
    camera : CameraModel
        The camera (a small one, e.g. 600 x 400 pixels, measures as well and fast).
    start : datetime
        Start of the first bias (aware UTC); the flats follow an hour later, the
        over-exposed flat an hour after them.
    seed : int
        Seed of the noise.

    Returns
    -------
    list of CalibrationFrame
        Two biases (0.001 s), six twilight flats at 40 % of the full well (three pairs), and
        one flat at 150 % of it (the white level's pile-up), in time order.
    """
    biases = simulate_dark_sequence(camera, start=start, n_frames=2, exptime=0.001, seed=seed)
    flats = simulate_flat_sequence(
        camera, start=start + timedelta(hours=1), n_frames=6, target_fraction=0.4, seed=seed
    )
    over = simulate_flat_sequence(
        camera, start=start + timedelta(hours=2), n_frames=1, target_fraction=1.5, seed=seed + 1
    )
    return [*biases, *flats, *over]


def as_frame_files(frames: list[CalibrationFrame]) -> list[CalibrationFrameFile]:
    """Return simulated frames as the FITS files a unit uploads, read back.

    Parameters
    ----------
    frames : list of CalibrationFrame
        The frames.

    Returns
    -------
    list of CalibrationFrameFile
        Each frame's object name, header and pixels, as
        :func:`~panoptes_network.calibration.camera_measurement.measure_camera` takes them.
    """
    files = []
    for frame in frames:
        with fits.open(io.BytesIO(calibration_fits_bytes(frame))) as hdus:
            header, pixels = hdus[0].header.copy(), np.array(hdus[0].data)
        files.append(CalibrationFrameFile(frame.path.object_name, header, pixels))
    return files
