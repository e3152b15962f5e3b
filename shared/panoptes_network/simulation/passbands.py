"""How many electrons a star gives in each Bayer colour: zero points, colours and extinction.

Flux scale (calibrated on a real PAN001 frame)
----------------------------------------------
The *channel flux* ``F_c`` of a star in colour ``c`` is the sum of its electrons over the
pixels of that colour (R: a quarter of the pixels, G: G1 and G2, half of them; B: a quarter).
Above the atmosphere, for a 120 s exposure, a V = 10 star of colour B-V = 0.65 gives

=======  ================  ==========================  ===========================
colour   ``F_c`` (e-)      colour slope ``s_c``         extinction ``k_c`` (mag/X)
=======  ================  ==========================  ===========================
R        7 800             -0.55                        0.08
G        32 000            0.00                         0.12
B        10 400            +0.75                        0.20
=======  ================  ==========================  ===========================

and in general ``F_c = F_c,ref * t / 120 s * 10**(-0.4 * (V - 10 + s_c * (B-V - 0.65)))
* 10**(-0.4 * k_c * X)`` for airmass ``X``. The G zero point is what aperture photometry of
the Tycho-2 stars (V 9.2 to 9.8) on the real PAN001 frame ``unsolved.fits`` gives (28 400 e-
at airmass 1.13, so 32 000 e- above the atmosphere), and the R/G and B/G ratios are its
median ratios corrected for the extinction difference. The colour slopes follow the Canon
filters lying between Johnson B and V (blue) and around Johnson R (red); the extinction
coefficients are typical of a 3400 m site (Mauna Loa / Mauna Kea). With these numbers the
central G pixel of a V ~ 9.3 star saturates in 120 s, as on the real frames.

Star colours
------------
Tycho-2 from the astrometry.net index carries only V. :func:`star_colours` uses a colour
column when the catalog has one (``bv``, ``b_v`` or ``bmag`` - ``vmag``, then ``teff`` through
the Ballesteros (2012) relation) and otherwise draws a plausible B-V from the star's PICID, the
same for every run and every seed: a mix of 55 % dwarfs (B-V ~ N(0.55, 0.20)) and 45 % giants
(N(1.15, 0.20)), clipped to [-0.25, 2.0].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

__all__ = [
    "PASSBANDS",
    "REFERENCE_BV",
    "REFERENCE_EXPTIME",
    "REFERENCE_VMAG",
    "Passband",
    "bv_from_picid",
    "bv_from_teff",
    "channel_fluxes",
    "star_colours",
]

#: V magnitude of the zero points.
REFERENCE_VMAG = 10.0
#: B-V colour of the zero points (about the Sun's).
REFERENCE_BV = 0.65
#: Exposure time of the zero points, in seconds.
REFERENCE_EXPTIME = 120.0


@dataclass(frozen=True)
class Passband:
    """One Bayer colour's response.

    Attributes
    ----------
    name : str
        ``R``, ``G`` or ``B``.
    zero_point : float
        Channel flux of a V = 10, B-V = 0.65 star in 120 s above the atmosphere, in electrons.
    colour_slope : float
        ``s_c``: magnitudes in this colour are ``V + s_c * (B-V - 0.65)``, dimensionless.
    extinction : float
        Atmospheric extinction coefficient, in magnitudes per airmass.
    pixel_share : float
        Fraction of the sensor's pixels of this colour.
    """

    name: str
    zero_point: float
    colour_slope: float
    extinction: float
    pixel_share: float


#: The camera's three colours, in the order R, G, B.
PASSBANDS: tuple[Passband, ...] = (
    Passband("R", 7_800.0, -0.55, 0.08, 0.25),
    Passband("G", 32_000.0, 0.00, 0.12, 0.50),
    Passband("B", 10_400.0, 0.75, 0.20, 0.25),
)


def channel_fluxes(
    vmag,
    bv,
    exptime: float,
    airmass=0.0,
    passbands: tuple[Passband, ...] = PASSBANDS,
) -> np.ndarray:
    """Return the channel fluxes of sources.

    Parameters
    ----------
    vmag : float or array_like
        V magnitudes.
    bv : float or array_like
        B-V colours, in magnitudes.
    exptime : float
        Exposure time, in seconds.
    airmass : float or array_like
        Airmass of each source (0: above the atmosphere).
    passbands : tuple of Passband
        The colours.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, len(passbands))``: electrons summed over each colour's pixels.
    """
    vmag = np.atleast_1d(np.asarray(vmag, dtype=float))
    bv = np.broadcast_to(np.asarray(bv, dtype=float), vmag.shape)
    airmass = np.broadcast_to(np.asarray(airmass, dtype=float), vmag.shape)
    out = np.empty((vmag.size, len(passbands)))
    for i, band in enumerate(passbands):
        mag = vmag - REFERENCE_VMAG + band.colour_slope * (bv - REFERENCE_BV)
        mag = mag + band.extinction * airmass
        out[:, i] = band.zero_point * (exptime / REFERENCE_EXPTIME) * 10.0 ** (-0.4 * mag)
    return out


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """Mix uint64 values with splitmix64, elementwise (wrapping arithmetic)."""
    z = values.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _uniform(values: np.ndarray, stream: int) -> np.ndarray:
    """Uniform numbers in (0, 1) from ids, one independent stream per ``stream``."""
    salt = np.uint64((stream * 0x632BE59BD9B4E019) % 2**64)
    mixed = _splitmix64(_splitmix64(values) ^ salt)
    return ((mixed >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53


def bv_from_picid(picid) -> np.ndarray:
    """Draw a plausible B-V for each star from its id (the same for every run).

    Parameters
    ----------
    picid : array_like of int
        Star ids.

    Returns
    -------
    numpy.ndarray
        B-V in magnitudes: 55 % from N(0.55, 0.20) (dwarfs), 45 % from N(1.15, 0.20)
        (giants), clipped to [-0.25, 2.0].
    """
    ids = np.atleast_1d(np.asarray(picid)).astype(np.int64).view(np.uint64)
    giant = _uniform(ids, 1) >= 0.55
    u1, u2 = _uniform(ids, 2), _uniform(ids, 3)
    normal = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    bv = np.where(giant, 1.15, 0.55) + 0.20 * normal
    return np.clip(bv, -0.25, 2.0)


def bv_from_teff(teff) -> np.ndarray:
    """Return B-V from effective temperature (Ballesteros 2012, inverted).

    The relation is ``T = 4600 K (1/(0.92 BV + 1.7) + 1/(0.92 BV + 0.62))``.

    Parameters
    ----------
    teff : array_like
        Effective temperatures, in kelvin (about 3000 to 30000 K).

    Returns
    -------
    numpy.ndarray
        B-V, in magnitudes.
    """
    q = np.asarray(teff, dtype=float) / 4600.0
    b = 2.32 * q - 2.0
    c = 1.054 * q - 2.32
    a = (-b + np.sqrt(b * b - 4.0 * q * c)) / (2.0 * q)
    return a / 0.92


def _column(table: Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Values of a column as floats and where they are valid (unmasked and finite)."""
    column = table[name]
    values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    return values, np.isfinite(values)


def star_colours(stars: Table) -> tuple[np.ndarray, np.ndarray]:
    """Return each star's B-V and where it came from.

    Parameters
    ----------
    stars : astropy.table.Table
        Catalog rows with ``picid`` and ``vmag``, and perhaps ``bv``, ``b_v``, ``bmag`` or
        ``teff``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        B-V in magnitudes, and per star the source: ``"bv"``, ``"bmag"``, ``"teff"`` or
        ``"picid"`` (drawn from the id, see :func:`bv_from_picid`).
    """
    n = len(stars)
    bv = np.full(n, np.nan)
    source = np.full(n, "picid", dtype="<U5")
    names = set(stars.colnames)
    for name in ("bv", "b_v"):
        if name in names:
            values, ok = _column(stars, name)
            use = ok & ~np.isfinite(bv)
            bv[use], source[use] = values[use], "bv"
    if "bmag" in names:
        bmag, ok = _column(stars, "bmag")
        vmag, ok_v = _column(stars, "vmag")
        use = ok & ok_v & ~np.isfinite(bv)
        bv[use], source[use] = bmag[use] - vmag[use], "bmag"
    if "teff" in names:
        teff, ok = _column(stars, "teff")
        use = ok & (teff > 2000) & ~np.isfinite(bv)
        bv[use], source[use] = bv_from_teff(teff[use]), "teff"
    missing = ~np.isfinite(bv)
    if missing.any():
        bv[missing] = bv_from_picid(np.asarray(stars["picid"])[missing])
    return bv, source
