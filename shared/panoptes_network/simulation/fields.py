"""A few named fields a unit observes, for ``bin/simulate --field``.

Positions are ICRS degrees (SIMBAD, rounded to 0.001 deg).
"""

from __future__ import annotations

__all__ = ["FIELDS", "field_position"]

#: Field name -> (RA, Dec) in degrees.
FIELDS: dict[str, tuple[float, float]] = {
    "KIC 8462852": (301.564, 44.457),
    "HD 189733": (300.182, 22.711),
    "WASP-33": (36.713, 37.550),
    "Pleiades": (56.750, 24.117),
    "M42": (83.822, -5.391),
    "Kepler field": (290.667, 44.500),
    "Omega Centauri": (201.697, -47.480),
}


def field_position(name: str) -> tuple[float, float]:
    """Return the position of a named field (case and spaces ignored).

    Parameters
    ----------
    name : str
        A key of :data:`FIELDS`, e.g. ``"WASP-33"`` or ``"wasp33"``.

    Returns
    -------
    (float, float)
        RA and Dec, in degrees.

    Raises
    ------
    KeyError
        If the field is unknown; the message lists the known ones.
    """

    def key(text: str) -> str:
        return "".join(ch for ch in text.lower() if ch.isalnum())

    for known, position in FIELDS.items():
        if key(known) == key(name):
            return position
    raise KeyError(f"unknown field {name!r}; known fields: {', '.join(FIELDS)}")
