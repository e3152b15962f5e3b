"""The FITS file a unit writes: the header layout of a real PAN001 frame, and the bytes.

The cards, their order and their comments are those of the real frame ``tiny.fits`` (held in
:func:`.synthetic_frame.frame_header`): structural cards with ``BZERO =
32768`` for unsigned 16-bit pixels, the CR2 EXIF cards, the pointing and site cards, and
``CHECKSUM``/``DATASUM``. Values follow the unit:

- ``DATE-OBS`` is the exposure start (whole seconds, UTC), ``EXPTIME`` the exposure time (s);
- ``RA-MNT``/``DEC-MNT`` the mount position, ``HA-MNT`` its hour angle in hours (as POCS
  writes it, whatever the comment says), ``AIRMASS`` its ``sec(z)``, ``MOONSEP`` and
  ``MOONFRAC`` the Moon's distance and lit fraction, all at ``DATE-OBS``;
- the EXIF cards vary plausibly: the sensor warms by a few degrees over the first hour
  (``CAMTEMP``), the white balance and metering wander slightly (``COLORTMP``,
  ``MEASRGGB``, ``REDBAL``, ``BLUEBAL``, ``MEASEV``); serial numbers are fixed per camera;
- ``CREATOR`` names the simulator, so simulated frames can be told from real ones;
- the checksum comments carry the time the frame was written (exposure end).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
from astropy.io import fits

from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.checksum import uint16_frame_bytes
from panoptes_network.simulation.camera import CameraModel
from panoptes_network.simulation.observing import ObservingConditions
from panoptes_network.simulation.synthetic_frame import frame_header
from panoptes_network.simulation.unit import Unit

__all__ = [
    "CREATOR",
    "exif_cards",
    "fits_bytes",
    "sensor_temperature",
    "unit_cards",
    "written_time",
]

#: The ``CREATOR`` card of simulated frames.
CREATOR = "panoptes-network simulate 0.1"


def exif_cards(camera: CameraModel, hours: float, rng: np.random.Generator) -> dict[str, object]:
    """Return plausible CR2 EXIF cards for one frame.

    Parameters
    ----------
    camera : CameraModel
        The camera (its serial numbers, and its white level as ``WHTLVLN``).
    hours : float
        Time since the start of the sequence, in hours (the sensor warms up).
    rng : numpy.random.Generator
        Source of the small frame-to-frame wander.

    Returns
    -------
    dict
        ``ISO``, ``CAMTEMP``, ``CIRCCONF``, ``COLORTMP``, ``INTSN``, ``CAMSN``, ``MEASEV``,
        ``MEASEV2``, ``MEASRGGB``, ``WHTLVLN``, ``WHTLVLS``, ``REDBAL``, ``BLUEBAL``,
        ``WBRGGB``, typed as in a real frame.
    """
    internal, body = camera.serial_numbers()
    temperature = 10.0 + 4.0 * (1.0 - np.exp(-hours / 0.5)) + rng.normal(0.0, 0.4)
    measev2 = round(-3.625 + 0.125 * int(rng.integers(-1, 2)), 3)
    return {
        "ISO": 100,
        "CAMTEMP": f"{int(round(temperature))} C",
        "CIRCCONF": "0.019 mm",
        "COLORTMP": int(round(rng.normal(5390.0, 15.0))),
        "INTSN": internal,
        "CAMSN": body,
        "MEASEV": round(measev2 + 0.005, 2),
        "MEASEV2": measev2,
        "MEASRGGB": f"{int(rng.integers(466, 478))} 1024 1024 {int(rng.integers(715, 740))}",
        "WHTLVLN": int(camera.saturation_adu),
        "WHTLVLS": int(camera.saturation_adu) + 512,
        "REDBAL": round(int(rng.integers(514, 519)) / 256.0, 6),
        "BLUEBAL": round(int(rng.integers(759, 767)) / 512.0, 6),
        "WBRGGB": "",
    }


def sensor_temperature(exif: dict[str, object]) -> float:
    """Return the sensor temperature of a frame's EXIF cards (``CAMTEMP = '11 C'``).

    Parameters
    ----------
    exif : dict
        The cards :func:`exif_cards` returns.

    Returns
    -------
    float
        Degrees Celsius.
    """
    return float(str(exif["CAMTEMP"]).split()[0])


def unit_cards(
    path: ImagePath,
    unit: Unit,
    exptime: float,
    field_name: str,
    conditions: ObservingConditions,
    exif: dict[str, object],
) -> dict[str, object]:
    """Return the values of a frame's unit cards.

    Parameters
    ----------
    path : ImagePath
        Where the frame is uploaded (ids and start time).
    unit : Unit
        The unit (id and site).
    exptime : float
        Exposure time, in seconds.
    field_name : str
        The ``FIELD`` card.
    conditions : ObservingConditions
        The mount pointing's conditions at ``DATE-OBS``.
    exif : dict
        The EXIF cards (:func:`exif_cards`).

    Returns
    -------
    dict
        Keyword to value for every unit card of the layout.
    """
    start = path.image_time
    return {
        **exif,
        "EXPTIME": float(exptime),
        "DATE-OBS": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "FILENAME": f"{path.image_start}.cr2",
        "IMAGEID": path.image_id,
        "SEQID": path.sequence_id,
        "FIELD": field_name,
        "RA-MNT": float(conditions.ra),
        "HA-MNT": float(conditions.hour_angle),
        "DEC-MNT": float(conditions.dec),
        "EQUINOX": 2000.0,
        "AIRMASS": float(conditions.airmass),
        "FILTER": "RGGB",
        "LAT-OBS": float(unit.latitude),
        "LONG-OBS": float(unit.longitude),
        "ELEV-OBS": float(unit.elevation),
        "MOONSEP": float(conditions.moon_separation),
        "MOONFRAC": float(conditions.moon.fraction),
        "CREATOR": CREATOR,
        "INSTRUME": path.camera_id,
        "OBSERVER": path.unit_id,
        "ORIGIN": "Project PANOPTES",
    }


def _header(
    shape: tuple[int, int], cards: dict[str, object], written: str, checksum: str, datasum: str
) -> fits.Header:
    header = frame_header(checksum, datasum, cards)
    header["NAXIS1"] = int(shape[1])
    header["NAXIS2"] = int(shape[0])
    header.comments["CHECKSUM"] = f"HDU checksum updated {written}"
    header.comments["DATASUM"] = f"data unit checksum updated {written}"
    return header


def fits_bytes(pixels: np.ndarray, cards: dict[str, object], written: datetime) -> bytes:
    """Return a frame as the bytes of a FITS file, with valid checksums.

    Parameters
    ----------
    pixels : numpy.ndarray of uint16
        The raw image, shape (rows, columns).
    cards : dict
        The unit cards (:func:`unit_cards`).
    written : datetime
        When the file was written (for the checksum comments; aware UTC).

    Returns
    -------
    bytes
        A FITS file: ``BITPIX = 16``, ``BZERO = 32768``, the header, the big-endian data.
    """
    when = written.astimezone(timezone.utc).replace(microsecond=0).replace(tzinfo=None)
    stamp = when.isoformat()
    return uint16_frame_bytes(
        pixels, lambda checksum, datasum: _header(pixels.shape, cards, stamp, checksum, datasum)
    )


def written_time(start: datetime, exptime: float) -> datetime:
    """Return when a unit writes a frame: the end of the exposure plus 5 s of readout."""
    return start + timedelta(seconds=exptime + 5.0)
