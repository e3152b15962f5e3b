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


def unit_frame(
    shape: tuple[int, int] = (40, 60), seed: int = 0, stars: int = 0, **cards: object
) -> bytes:
    """Return a uint16 FITS frame (BZERO 32768) with a unit's header; ``None`` drops a card.

    ``stars`` bright round stars (FWHM 3 px, 20,000 ADU each) are placed at seeded positions
    at least 12 pixels from the edges, for steps that need sources to find.
    """
    rng = np.random.default_rng(seed)
    image = 2048.0 + rng.poisson(200, shape)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    for _ in range(stars):
        y, x = rng.uniform(12, shape[0] - 12), rng.uniform(12, shape[1] - 12)
        spot = np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * 1.27**2))
        image += 20_000.0 * spot / spot.sum()
    pixels = np.round(image).astype(np.uint16)
    header = fits.Header()
    for key, value in {**UNIT_CARDS, **cards}.items():
        if value is not None:
            header[key] = value
    out = io.BytesIO()
    fits.PrimaryHDU(pixels, header=header).writeto(out)
    return out.getvalue()
