"""The solution a frame of an observation is tracked from: kept per observation, checked per frame.

Each solved frame leaves its WCS (TAN-SIP cards of its full-resolution pixels), its mount
position and its image id in one ``tracking/{sequence_id}`` document (last solved frame
wins; any solved frame of the observation is as good a start, since every tracked solution
is fitted afresh against the catalog, so errors never accumulate from frame to frame).
:func:`reference_record` makes those fields and :func:`reference_from_record` reads them back.

:func:`why_not_tracked` says why a frame must go to ``solve-field`` instead: no frame of its
observation is solved yet (the first frame, or frames that arrive out of order before it),
the reference cannot be read, or the mount pointed elsewhere (its ``RA-MNT``/``DEC-MNT``
moved more than a limit from the reference's: a slew, a meridian flip, a re-pointing).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from panoptes_network.astrometry.frame_wcs import WCS_KEYWORDS, FrameSolution
from panoptes_network.frames.sky_index import angular_distance

__all__ = [
    "SolveMethod",
    "TrackingReference",
    "mount_position",
    "reference_from_record",
    "reference_record",
    "why_not_tracked",
]


class SolveMethod:
    """How a frame's solution was found (``solve_method`` on its images document)."""

    #: Fitted from an earlier solved frame of the same observation against the catalog.
    TRACKED = "tracked"
    #: ``solve-field`` with the mount position as a hint.
    SOLVE_FIELD = "solve-field"
    #: ``solve-field`` over the whole sky (the header had no usable mount position).
    BLIND = "blind"


@dataclass(frozen=True)
class TrackingReference:
    """An observation's solved frame that later frames are tracked from.

    Attributes
    ----------
    image_id : str
        The solved frame.
    wcs : astropy.wcs.WCS
        Its solution (full-resolution pixels, TAN or TAN-SIP).
    mount : (float, float) or None
        Its mount position (``RA-MNT``, ``DEC-MNT``), degrees; None when unknown.
    """

    image_id: str
    wcs: WCS
    mount: tuple[float, float] | None


def _degrees(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def mount_position(header: Mapping[str, Any]) -> tuple[float, float] | None:
    """Return a frame's mount position, degrees, or None when its header has none.

    Parameters
    ----------
    header : Mapping
        The frame's header (``RA-MNT``, ``DEC-MNT`` in degrees; old frames have empty
        strings).

    Returns
    -------
    (float, float) or None
        ``(ra, dec)``, degrees.
    """
    ra, dec = _degrees(header.get("RA-MNT")), _degrees(header.get("DEC-MNT"))
    if ra is None or dec is None or not -90.0 <= dec <= 90.0:
        return None
    return ra % 360.0, dec


def reference_record(
    image_id: str, solution: FrameSolution, header: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the ``tracking/{sequence_id}`` fields of a solved frame.

    Parameters
    ----------
    image_id : str
        The frame's image id.
    solution : FrameSolution
        Its solution.
    header : Mapping
        Its header (for the mount position).

    Returns
    -------
    dict
        ``image_id``, ``wcs`` (the WCS cards as a map of keyword to value), ``mount_ra``
        and ``mount_dec`` (degrees, or None).
    """
    cards = solution.header()
    mount = mount_position(header)
    return {
        "image_id": image_id,
        "wcs": {
            card.keyword: card.value for card in cards.cards if WCS_KEYWORDS.match(card.keyword)
        },
        "mount_ra": None if mount is None else mount[0],
        "mount_dec": None if mount is None else mount[1],
    }


def reference_from_record(fields: Mapping[str, Any] | None) -> TrackingReference | None:
    """Read a ``tracking`` document back; None when there is none or it cannot be read.

    Parameters
    ----------
    fields : Mapping or None
        The document's fields.

    Returns
    -------
    TrackingReference or None
        The reference, or None for a missing document, one without WCS cards, or cards that
        do not make a celestial WCS.
    """
    if not fields or not isinstance(fields.get("wcs"), Mapping):
        return None
    try:
        header = fits.Header(list(fields["wcs"].items()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            wcs = WCS(header, relax=True)
    except Exception:  # a damaged document: astropy raises many kinds
        return None
    if not wcs.has_celestial:
        return None
    ra, dec = _degrees(fields.get("mount_ra")), _degrees(fields.get("mount_dec"))
    mount = None if ra is None or dec is None else (ra, dec)
    return TrackingReference(str(fields.get("image_id", "")), wcs, mount)


def why_not_tracked(
    reference: TrackingReference | None,
    header: Mapping[str, Any],
    max_mount_move: float,
) -> str | None:
    """Say why a frame cannot be tracked from its observation's reference, or None if it can.

    Parameters
    ----------
    reference : TrackingReference or None
        The observation's reference (None: no frame of it is solved yet).
    header : Mapping
        The frame's header.
    max_mount_move : float
        Largest move of the mount position from the reference's, degrees.

    Returns
    -------
    str or None
        The reason, or None when tracking may be tried.
    """
    if reference is None:
        return "no frame of this observation is solved yet"
    mount = mount_position(header)
    if mount is not None and reference.mount is not None:
        moved = angular_distance(*reference.mount, *mount)
        if moved > max_mount_move:
            return (
                f"the mount moved {moved:.2f} deg from where it pointed for "
                f"{reference.image_id} (more than {max_mount_move:g} deg)"
            )
    return None
