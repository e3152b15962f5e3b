"""A plate solution on a frame's own pixel grid: unbinning, checks and summary figures.

astrometry.net solves the 2 x 2 superpixel image (:mod:`.bayer_background`); the WCS written
to the frame must describe the original full-resolution pixels. Superpixel ``b`` (0-based)
covers raw pixels ``2b`` and ``2b + 1``, so raw ``p = 2 b + 0.5``. For a TAN-SIP WCS with
1-based reference pixel ``r`` that is, exactly:

- ``r_raw = f r - (f - 1) / 2`` (the 0-based relation in 1-based FITS terms; ``f = 2``);
- the linear matrix (CD, or CDELT with PC) divided by ``f``;
- each SIP coefficient ``A_p_q`` (and B, AP, BP) multiplied by ``f ** (1 - p - q)``: the
  polynomial takes and returns offsets from the reference pixel, which scale by ``f``.

:func:`solution_on_frame` then checks that the result is a celestial TAN WCS with a sane pixel
scale and a finite field centre, and summarises it (:class:`FrameSolution`).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, Sip

__all__ = [
    "NotACelestialSolution",
    "FrameSolution",
    "WCS_KEYWORDS",
    "wcs_from_header",
    "unbin_wcs",
    "solution_on_frame",
    "position_angle",
]

#: Keywords of a celestial WCS (and astrometry.net's extras) removed before a new one is set.
WCS_KEYWORDS = re.compile(
    r"^(WCSAXES|WCSNAME|CTYPE\d|CRPIX\d|CRVAL\d|CDELT\d|CUNIT\d|CROTA\d|CD\d_\d|PC\d_\d"
    r"|PV\d_\d+|LONPOLE|LATPOLE|RADESYS|RADECSYS|MJDREF|IMAGEW|IMAGEH"
    r"|A_ORDER|B_ORDER|AP_ORDER|BP_ORDER|A_\d+_\d+|B_\d+_\d+|AP_\d+_\d+|BP_\d+_\d+)$"
)


class NotACelestialSolution(ValueError):
    """A solution that cannot be right for the frame.

    Parameters
    ----------
    reason : str
        What is wrong with it.
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class FrameSolution:
    """A checked plate solution of one frame.

    Attributes
    ----------
    wcs : astropy.wcs.WCS
        TAN (or TAN-SIP) WCS of the frame's full-resolution pixels.
    shape : (int, int)
        The frame's (rows, columns).
    ra_centre, dec_centre : float
        Sky position of the frame's centre pixel ``((columns - 1) / 2, (rows - 1) / 2)``
        (0-based), ICRS degrees.
    pixel_scale : float
        ``sqrt(|det CD|)`` at the reference pixel, in arcsec per pixel.
    rotation : float
        Position angle of the image's +y axis (up), in degrees east of north, in
        (-180, 180]: astrometry.net's "up is ... degrees E of N".
    flipped : bool
        Whether the image is mirrored relative to the sky seen from inside the sphere (a
        positive CD determinant: east is to the right when north is up).
    """

    wcs: WCS
    shape: tuple[int, int]
    ra_centre: float
    dec_centre: float
    pixel_scale: float
    rotation: float
    flipped: bool

    def header(self) -> fits.Header:
        """Return the WCS as FITS cards (TAN-SIP when distorted), ready for the frame."""
        cards = self.wcs.to_header(relax=True)
        for keyword in ("MJDREF", "DATE-OBS", "MJD-OBS", "DATEREF"):
            cards.remove(keyword, ignore_missing=True, remove_all=True)
        return cards


def wcs_from_header(header: fits.Header) -> WCS:
    """Read a celestial WCS (with SIP when present) from a header, quietly.

    Parameters
    ----------
    header : astropy.io.fits.Header
        A header holding a WCS (astrometry.net's ``.wcs`` file, a solved frame).

    Returns
    -------
    astropy.wcs.WCS
        The two-axis WCS.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        return WCS(header, naxis=2, relax=True)


def _scaled_sip(matrix: np.ndarray | None, factor: float) -> np.ndarray | None:
    if matrix is None:
        return None
    p, q = np.indices(matrix.shape)
    return matrix * factor ** (1.0 - p - q)


def unbin_wcs(wcs: WCS, factor: int = 2) -> WCS:
    """Return the WCS of the unbinned pixels, given the WCS of ``factor`` x ``factor`` bins.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        WCS of the binned image (TAN or TAN-SIP; CD or PC/CDELT).
    factor : int
        Bin size, in raw pixels per bin along each axis.

    Returns
    -------
    astropy.wcs.WCS
        A WCS that gives raw pixel ``f b + (f - 1) / 2`` (0-based) the sky position the
        binned WCS gives bin ``b``, exactly (SIP included).
    """
    out = wcs.deepcopy()
    f = float(factor)
    crpix = np.array(wcs.wcs.crpix, dtype=float) * f - (f - 1.0) / 2.0
    out.wcs.crpix = crpix
    if wcs.wcs.has_cd():
        out.wcs.cd = np.array(wcs.wcs.cd, dtype=float) / f
    else:
        out.wcs.cdelt = np.array(wcs.wcs.cdelt, dtype=float) / f
    if wcs.sip is not None:
        s = wcs.sip
        out.sip = Sip(
            _scaled_sip(s.a, f),
            _scaled_sip(s.b, f),
            _scaled_sip(s.ap, f),
            _scaled_sip(s.bp, f),
            crpix,
        )
    out.wcs.set()
    return out


def position_angle(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    """Return the position angle of point 2 seen from point 1, east of north.

    Parameters
    ----------
    ra1, dec1, ra2, dec2 : float
        Sky positions, in degrees.

    Returns
    -------
    float
        Degrees in (-180, 180].
    """
    a1, d1, a2, d2 = (math.radians(v) for v in (ra1, dec1, ra2, dec2))
    y = math.sin(a2 - a1) * math.cos(d2)
    x = math.cos(d1) * math.sin(d2) - math.sin(d1) * math.cos(d2) * math.cos(a2 - a1)
    angle = math.degrees(math.atan2(y, x))
    return 180.0 if angle == -180.0 else angle


def solution_on_frame(
    wcs: WCS, shape: tuple[int, int], scale_range: tuple[float, float]
) -> FrameSolution:
    """Check a WCS of a frame's full-resolution pixels and summarise it.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        The WCS of the raw pixel grid.
    shape : (int, int)
        The frame's (rows, columns).
    scale_range : (float, float)
        Acceptable pixel scales, in arcsec per raw pixel.

    Returns
    -------
    FrameSolution
        The checked solution.

    Raises
    ------
    NotACelestialSolution
        If the axes are not RA---TAN / DEC--TAN (SIP allowed), the pixel scale is outside
        ``scale_range``, or the centre or corners do not map to finite sky positions.
    """
    ctype = [str(c) for c in wcs.wcs.ctype]
    if len(ctype) != 2 or not (ctype[0].startswith("RA---TAN") and ctype[1].startswith("DEC--TAN")):
        raise NotACelestialSolution(f"the solution's axes are {ctype}, not RA---TAN / DEC--TAN")
    try:
        return _summary(wcs, shape, scale_range)
    except NotACelestialSolution:
        raise
    except ValueError as exc:  # wcslib's errors (astropy.wcs.WcsError) are ValueErrors
        raise NotACelestialSolution(f"the solution is not a usable WCS: {exc}") from None


def _summary(wcs: WCS, shape: tuple[int, int], scale_range: tuple[float, float]) -> FrameSolution:
    matrix = wcs.pixel_scale_matrix
    det = float(np.linalg.det(matrix))
    scale = math.sqrt(abs(det)) * 3600.0
    low, high = scale_range
    if not (math.isfinite(scale) and low <= scale <= high):
        raise NotACelestialSolution(
            f"the solution's pixel scale {scale:.3f} arcsec/pixel is outside the expected "
            f"{low:g} to {high:g} arcsec/pixel"
        )
    rows, cols = shape
    cx, cy = (cols - 1) / 2.0, (rows - 1) / 2.0
    probe = np.array(
        [[cx, cy], [cx, cy + 1.0], [0, 0], [cols - 1, 0], [0, rows - 1], [cols - 1, rows - 1]],
        dtype=float,
    )
    world = wcs.all_pix2world(probe, 0)
    if not np.all(np.isfinite(world)) or not (-90.0 <= world[0, 1] <= 90.0):
        raise NotACelestialSolution("the solution does not map the frame to finite sky positions")
    ra, dec = float(world[0, 0]) % 360.0, float(world[0, 1])
    rotation = position_angle(ra, dec, float(world[1, 0]), float(world[1, 1]))
    return FrameSolution(wcs, (rows, cols), ra, dec, scale, rotation, det > 0)
