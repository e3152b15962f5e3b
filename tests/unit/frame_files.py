"""Small FITS frames with a unit's header layout, made in memory for unit tests."""

from __future__ import annotations

import io

import numpy as np
from astropy.io import fits

UNIT_CARDS: dict[str, object] = {
    "ISO": 100,
    "EXPTIME": 120.0,
    "DATE-OBS": "2018-02-16T11:24:30",
    "IMAGEID": "PAN001_14d3bd_20180216T112430",
    "SEQID": "PAN001_14d3bd_20180216T110623",
    "FIELD": "Wasp 33",
    "RA-MNT": 40.5,
    "HA-MNT": 1.25,
    "DEC-MNT": 37.5,
    "EQUINOX": 2000.0,
    "AIRMASS": 1.2,
    "FILTER": "RGGB",
    "LAT-OBS": 19.54,
    "LONG-OBS": -155.58,
    "ELEV-OBS": 3400.0,
    "MOONSEP": 80.0,
    "MOONFRAC": 0.25,
    "CREATOR": "POCSv0.6.2",
    "INSTRUME": "14d3bd",
    "OBSERVER": "PAN001",
    "ORIGIN": "Project PANOPTES",
}


def unit_frame(shape: tuple[int, int] = (40, 60), seed: int = 0, **cards: object) -> bytes:
    """Return a uint16 FITS frame (BZERO 32768) with a unit's header; ``None`` drops a card."""
    rng = np.random.default_rng(seed)
    pixels = (2048 + rng.poisson(200, shape)).astype(np.uint16)
    header = fits.Header()
    for key, value in {**UNIT_CARDS, **cards}.items():
        if value is not None:
            header[key] = value
    out = io.BytesIO()
    fits.PrimaryHDU(pixels, header=header).writeto(out)
    return out.getvalue()
