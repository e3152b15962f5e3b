"""Sky searches of the observations list: a cone given by a name or by coordinates.

A cone is a centre (RA, Dec, degrees) and a radius (degrees, 0 to :data:`MAX_RADIUS_DEG`,
:data:`DEFAULT_RADIUS_DEG` when not given). The centre is given as ``ra`` and ``dec``, or as
a ``name`` that a :data:`TargetResolver` turns into a position: by default
:func:`offline_resolver`, the catalog's own offline resolution (no network): coordinates typed
as text (:func:`~panoptes_network.catalog.coordinate_parser.parse_coordinates`: decimal
degrees or sexagesimal), then the names of the bundled targets table (bright stars, Messier
objects, exoplanet hosts: :mod:`~panoptes_network.catalog.target_names`). PICIDs are not
resolved here: that needs the star catalog, which the explorer does not hold.

An observation matches a cone when its field's disc meets it: its indexed pointing
(``sky_ra``, ``sky_dec``) is within the cone's radius plus the field's radius
(``sky_radius``), see :mod:`panoptes_network.frames.sky_index`. :func:`match_distance`
applies that rule to a document and gives the distance (degrees) the answer reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from panoptes_network.catalog.coordinate_parser import (
    SearchStringError,
    parse_coordinates,
    parse_picid,
)
from panoptes_network.catalog.target_names import TargetNames, bundled_target_names
from panoptes_network.explorer._values import number
from panoptes_network.explorer.errors import InvalidQuery, quote
from panoptes_network.frames.sky_index import (
    FIELD_RADIUS_DEG,
    MAX_CONE_RADIUS_DEG,
    MAX_FIELD_RADIUS_DEG,
    ConeCells,
    angular_distance,
    circles_meet,
    cone_cells,
    sky_position,
)

__all__ = [
    "DEFAULT_RADIUS_DEG",
    "MAX_NAME_CHARS",
    "MAX_RADIUS_DEG",
    "SkyCone",
    "SkyTarget",
    "TargetResolver",
    "match_distance",
    "offline_resolver",
    "sky_cone",
]

#: Radius of a cone when none is given, degrees.
DEFAULT_RADIUS_DEG = 2.0
#: Largest cone radius, degrees (its cells fit one Firestore ``array-contains-any``).
MAX_RADIUS_DEG = MAX_CONE_RADIUS_DEG
#: Longest name or coordinate text, in characters.
MAX_NAME_CHARS = 100

_EXAMPLES = "e.g. 'WASP-33', 'M 42', 'Vega', '303.21 46.02' or '20:06:15.45 +44:27:24.8'"


@dataclass(frozen=True)
class SkyTarget:
    """A name resolved to a position.

    Attributes
    ----------
    ra, dec : float
        ICRS position, in degrees.
    resolved_as : dict
        What the text was read as: ``{"type": "name", "name", "kind", "source"}`` for a
        target of the table, ``{"type": "coordinates", "form"}`` for coordinates.
    """

    ra: float
    dec: float
    resolved_as: dict[str, Any] = field(default_factory=dict)


#: Turns a name into a position: a :class:`SkyTarget`, or None when the name is unknown. It
#: raises ValueError, with a message, for text that is malformed (bad coordinates).
TargetResolver = Callable[[str], "SkyTarget | None"]


def offline_resolver(names: TargetNames | None = None) -> TargetResolver:
    """Return the catalog's offline resolution: coordinates, then the targets table.

    Parameters
    ----------
    names : TargetNames, optional
        The table; :func:`~panoptes_network.catalog.target_names.bundled_target_names`
        (read once per process) by default.

    Returns
    -------
    TargetResolver
        Text to :class:`SkyTarget` or None; raises ValueError for malformed coordinates
        and for a PICID (not resolved here).
    """

    def resolve(text: str) -> SkyTarget | None:
        position = parse_coordinates(text)  # SearchStringError is a ValueError
        if position is not None:
            return SkyTarget(
                position.ra, position.dec, {"type": "coordinates", "form": position.form}
            )
        table = names if names is not None else bundled_target_names()
        target = table.resolve(text)
        if target is not None:
            about = {
                "type": "name",
                "name": target.name,
                "kind": target.kind,
                "source": target.source,
            }
            return SkyTarget(target.ra, target.dec, about)
        if parse_picid(text) is not None:
            raise ValueError(
                "is a PICID: the explorer resolves names and coordinates only (look the star "
                "up with lookup-field, then search by its ra and dec)"
            )
        return None

    return resolve


@dataclass(frozen=True)
class SkyCone:
    """A cone search, checked and resolved.

    Attributes
    ----------
    ra, dec : float
        Centre, in degrees (RA in [0, 360)).
    radius : float
        Radius, in degrees.
    name : str or None
        The name it was resolved from.
    resolved_as : dict or None
        What the name was read as (see :class:`SkyTarget`).
    cells : ConeCells
        The sky index cells the query asks for.
    """

    ra: float
    dec: float
    radius: float
    name: str | None
    resolved_as: dict[str, Any] | None
    cells: ConeCells

    def to_dict(self) -> dict[str, Any]:
        """Return the cone as the answer shows it (``cells``: how many the query asked for)."""
        return {
            "ra": self.ra,
            "dec": self.dec,
            "radius": self.radius,
            "name": self.name,
            "resolved_as": self.resolved_as,
            "healpix_order": self.cells.order,
            "cells": len(self.cells.cells),
        }


def _angle(name: str, value: Any, low: float, high: float) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise InvalidQuery(name, f"must be a number of degrees from {low:g} to {high:g}")
    return float(value)


def sky_cone(
    *,
    name: str | None = None,
    ra: float | None = None,
    dec: float | None = None,
    radius: float | None = None,
    resolver: TargetResolver | None = None,
) -> SkyCone | None:
    """Check a cone search's parameters and resolve its centre.

    Parameters
    ----------
    name : str, optional
        A target name or coordinates as text (1 to :data:`MAX_NAME_CHARS` characters).
    ra, dec : float, optional
        The centre, in degrees (RA 0 to 360, Dec -90 to 90); both or neither, and not with
        ``name``.
    radius : float, optional
        In degrees, 0 to :data:`MAX_RADIUS_DEG`; :data:`DEFAULT_RADIUS_DEG` by default. Only
        with a centre.
    resolver : TargetResolver, optional
        For ``name``; :func:`offline_resolver` by default.

    Returns
    -------
    SkyCone or None
        None when no cone is asked for.

    Raises
    ------
    InvalidQuery
        Naming the parameter: a bad value, a missing half of ``ra``/``dec``, both ``name``
        and ``ra``/``dec``, a radius without a centre, or a name no one knows.
    """
    ra = _angle("ra", ra, 0.0, 360.0)
    dec = _angle("dec", dec, -90.0, 90.0)
    radius = _angle("radius", radius, 0.0, MAX_RADIUS_DEG)
    if name is not None and (
        not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME_CHARS
    ):
        raise InvalidQuery("name", f"must be text of 1 to {MAX_NAME_CHARS} characters")
    if name is not None and (ra is not None or dec is not None):
        raise InvalidQuery("name", "give a name, or ra and dec, not both")
    if (ra is None) != (dec is None):
        missing = "dec" if dec is None else "ra"
        raise InvalidQuery(missing, f"is needed with {'ra' if missing == 'dec' else 'dec'}")
    if name is None and ra is None:
        if radius is not None:
            raise InvalidQuery("radius", "needs a centre: a name, or ra and dec")
        return None
    resolved_as = None
    if name is not None:
        text = name.strip()
        try:
            target = (resolver or offline_resolver())(text)
        except ValueError as exc:
            reason = exc.args[0] if exc.args else "cannot be read"
            if isinstance(exc, SearchStringError):
                reason = f"{quote(text)} looks like coordinates but cannot be read: {reason}"
            else:
                reason = f"{quote(text)} {reason}"
            raise InvalidQuery("name", reason) from None
        if target is None:
            raise InvalidQuery(
                "name",
                f"no target named {quote(text)} in the offline table of bright stars, Messier "
                f"objects and exoplanet hosts; give coordinates instead ({_EXAMPLES})",
            )
        position = sky_position(target.ra, target.dec)
        if position is None:
            raise InvalidQuery("name", f"{quote(text)} resolves to no sky position")
        (ra, dec), resolved_as = position, dict(target.resolved_as)
    assert ra is not None and dec is not None
    ra %= 360.0
    radius = DEFAULT_RADIUS_DEG if radius is None else radius
    return SkyCone(ra, dec, radius, name, resolved_as, cone_cells(ra, dec, radius))


def match_distance(cone: SkyCone, doc: Mapping[str, Any]) -> float | None:
    """Return an observation's distance from a cone's centre when its field meets the cone.

    Parameters
    ----------
    cone : SkyCone
        The search.
    doc : Mapping
        An observation document with the sky index (``sky_ra``, ``sky_dec``, degrees;
        ``sky_radius``, degrees, :data:`~panoptes_network.frames.sky_index.FIELD_RADIUS_DEG`
        when missing or out of range).

    Returns
    -------
    float or None
        The angle between the cone's centre and the indexed pointing, in degrees, when it is
        at most the cone's radius plus the field's radius; else None (no match, or no
        usable pointing).
    """
    position = sky_position(doc.get("sky_ra"), doc.get("sky_dec"))
    if position is None:
        return None
    field_radius = number(doc.get("sky_radius"))
    if field_radius is None or not 0 <= field_radius <= MAX_FIELD_RADIUS_DEG:
        field_radius = FIELD_RADIUS_DEG
    distance = angular_distance(cone.ra, cone.dec, *position)
    return distance if circles_meet(distance, cone.radius, field_radius) else None
