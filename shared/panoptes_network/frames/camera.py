"""The camera facts of a PANOPTES frame: sensor size, Bayer layout and electronics.

PANOPTES units carry Canon DSLRs whose raw frames are 5208 x 3476 pixels behind an RGGB Bayer
filter. Everything in the network that needs one of these facts takes it from here.

Bayer layout
------------
The colour filter array (CFA) is stated as the camera states it: read row by row from the
top-left pixel of the *upright* image (``"RGGB"`` for Canon DSLRs). FITS row 1 is the bottom
of an image, so the array a unit stores is the upright image flipped up-down, and the parity
of a colour's rows depends on the number of rows. :func:`bayer_sites` gives the ``(row,
column)`` offset of each of the four sites of the 2 x 2 cell in the FITS-oriented array, in
numpy's ``(row, column)`` order; :func:`bayer_slices` turns them into slices. For the units'
frames (RGGB, an even number of rows) that is the layout of ARCHITECTURE.md:
R = ``[1::2, 0::2]``, G1 = ``[1::2, 1::2]``, G2 = ``[0::2, 0::2]``, B = ``[0::2, 1::2]``
(:data:`BAYER_SITES`). G1 is the green that shares its row with red, G2 the green that shares
its row with blue.

Electronics
-----------
The units carry different Canon bodies, so their electronics (bias, saturation, gain, read
noise and even the Bayer pattern) are not facts of this module: they are resolved for each
frame from its header, a measurement or the camera registry
(:mod:`panoptes_network.frames.camera_constants`). :func:`plane_offsets` gives the colour
planes of a frame once its pattern is known. The 85 mm lenses give a nominal
:data:`PIXEL_SCALE_ARCSEC`, used only before a frame is plate solved (the mount-position
footprint and the solver's search range); after that the frame's WCS gives its scale.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BAYER_COLOUR",
    "BAYER_PATTERNS",
    "BAYER_PLANE_OFFSETS",
    "BAYER_SITES",
    "PIXEL_SCALE_ARCSEC",
    "SENSOR_SHAPE",
    "bayer_sites",
    "bayer_slices",
    "plane_offsets",
]

#: Shape of a raw frame as numpy gives it: (rows, columns) = (NAXIS2, NAXIS1), in pixels.
SENSOR_SHAPE: tuple[int, int] = (3476, 5208)
#: Nominal pixel scale on the sky, in arcsec per pixel (before a frame's WCS is known).
PIXEL_SCALE_ARCSEC: float = 10.3

#: The four 2 x 2 Bayer patterns, read row by row from the top-left of the upright image.
BAYER_PATTERNS: tuple[str, ...] = ("RGGB", "BGGR", "GRBG", "GBRG")


def bayer_sites(pattern: str = "RGGB", rows: int = SENSOR_SHAPE[0]) -> dict[str, tuple[int, int]]:
    """Return the ``(row, column)`` offset of each Bayer site in a FITS-oriented array.

    Parameters
    ----------
    pattern : str
        The CFA from the top-left of the upright image: one of :data:`BAYER_PATTERNS`.
    rows : int
        Number of rows of the FITS-oriented array (the upright image flipped up-down).

    Returns
    -------
    dict
        ``{"R": (row, col), "G1": (row, col), "G2": (row, col), "B": (row, col)}``, offsets
        within the 2 x 2 cell (0 or 1); G1 shares its row with red, G2 with blue.

    Raises
    ------
    ValueError
        If ``pattern`` is not a Bayer pattern.
    """
    if pattern not in BAYER_PATTERNS:
        raise ValueError(f"{pattern!r} is not a Bayer pattern; expected one of {BAYER_PATTERNS}")

    def at(position: int) -> tuple[int, int]:
        upright_row, col = divmod(position, 2)
        # FITS row i is upright row rows - 1 - i: the row parity flips when rows is even.
        return (rows - 1 - upright_row) % 2, col

    red, blue = pattern.index("R"), pattern.index("B")
    greens = [i for i, letter in enumerate(pattern) if letter == "G"]
    greens.sort(key=lambda i: i // 2 != red // 2)  # the green on red's row first
    return {"R": at(red), "G1": at(greens[0]), "G2": at(greens[1]), "B": at(blue)}


def bayer_slices(pattern: str, shape: tuple[int, int]) -> dict[str, list[tuple[slice, slice]]]:
    """Return the slices of each colour in a FITS-oriented Bayer array.

    Parameters
    ----------
    pattern : str
        The CFA from the top-left of the upright image: one of :data:`BAYER_PATTERNS`.
    shape : tuple of int
        (rows, columns) of the FITS-oriented array (the upright image flipped up-down).

    Returns
    -------
    dict
        ``{"R": [s], "G": [g1, g2], "B": [s]}`` where each ``s`` is a ``(rows, cols)`` pair of
        slices; G1 shares its row with red, G2 with blue. For ``"RGGB"`` and an even number of
        rows: R = ``[1::2, 0::2]``, G1 = ``[1::2, 1::2]``, G2 = ``[0::2, 0::2]``,
        B = ``[0::2, 1::2]``.

    Raises
    ------
    ValueError
        If ``pattern`` is not a Bayer pattern.
    """
    sites = bayer_sites(pattern, shape[0])

    def cut(site: str) -> tuple[slice, slice]:
        row, col = sites[site]
        return slice(row, None, 2), slice(col, None, 2)

    return {"R": [cut("R")], "G": [cut("G1"), cut("G2")], "B": [cut("B")]}


def plane_offsets(pattern: str, rows: int) -> dict[str, tuple[tuple[int, int], ...]]:
    """Return the ``(row, column)`` offsets of each colour's sites in a FITS-oriented array.

    Parameters
    ----------
    pattern : str
        The frame's CFA from the top-left of the upright image (its resolved
        ``bayer_pattern``): one of :data:`BAYER_PATTERNS`.
    rows : int
        Number of rows of the FITS-oriented array.

    Returns
    -------
    dict
        ``{"r": (R,), "g": (G1, G2), "b": (B,)}``, each site a ``(row, column)`` offset within
        the 2 x 2 cell.

    Raises
    ------
    ValueError
        If ``pattern`` is not a Bayer pattern.
    """
    sites = bayer_sites(pattern, rows)
    return {"r": (sites["R"],), "g": (sites["G1"], sites["G2"]), "b": (sites["B"],)}


#: The four Bayer sites of an RGGB frame with an even number of rows (the sensor of the
#: simulated cameras): name -> (row, column) offset.
BAYER_SITES: dict[str, tuple[int, int]] = bayer_sites("RGGB", SENSOR_SHAPE[0])
#: ``(row, column)`` offsets of each colour (r, g, b) of that frame: green has two (G1, G2).
BAYER_PLANE_OFFSETS: dict[str, tuple[tuple[int, int], ...]] = plane_offsets("RGGB", SENSOR_SHAPE[0])
#: Colour index (0 R, 1 G, 2 B) of a pixel by ``(row % 2, column % 2)``.
BAYER_COLOUR: np.ndarray = np.empty((2, 2), dtype=np.int8)
for _site, (_row, _col) in BAYER_SITES.items():
    BAYER_COLOUR[_row, _col] = "RGB".index(_site[0])
BAYER_COLOUR.flags.writeable = False
del _site, _row, _col
