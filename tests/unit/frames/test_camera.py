"""The camera facts: one Bayer layout for every pattern and frame height, and the constants."""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.frames.camera import (
    BAYER_COLOUR,
    BAYER_PATTERNS,
    BAYER_PLANE_OFFSETS,
    BAYER_SITES,
    SENSOR_SHAPE,
    bayer_sites,
    bayer_slices,
)


def fits_oriented_cfa(pattern: str, rows: int, cols: int = 6) -> np.ndarray:
    """The colour letter of every pixel: the pattern tiled on the upright image, flipped."""
    cell = np.array(list(pattern)).reshape(2, 2)
    upright = np.tile(cell, (rows // 2 + 1, cols // 2))[:rows, :cols]
    return np.flipud(upright)


@pytest.mark.parametrize("pattern", BAYER_PATTERNS)
@pytest.mark.parametrize("rows", [SENSOR_SHAPE[0], 7, 10, 11])
def test_sites_and_slices_pick_their_colour_for_every_pattern_and_height(pattern, rows):
    cfa = fits_oriented_cfa(pattern, rows)
    sites = bayer_sites(pattern, rows)
    for name, (row, col) in sites.items():
        assert set(cfa[row::2, col::2].ravel()) == {name[0]}, (pattern, rows, name)
    red_row, blue_row = sites["R"][0], sites["B"][0]
    assert sites["G1"][0] == red_row and sites["G2"][0] == blue_row
    slices = bayer_slices(pattern, (rows, 6))
    for colour, cuts in slices.items():
        for cut in cuts:
            assert set(cfa[cut].ravel()) == {colour}


def test_the_units_layout_is_the_documented_one():
    # ARCHITECTURE.md: R = [1::2, 0::2], G1 = [1::2, 1::2], G2 = [0::2, 0::2], B = [0::2, 1::2]
    assert BAYER_SITES == {"R": (1, 0), "G1": (1, 1), "G2": (0, 0), "B": (0, 1)}
    assert BAYER_PLANE_OFFSETS == {"r": ((1, 0),), "g": ((1, 1), (0, 0)), "b": ((0, 1),)}
    assert BAYER_COLOUR.tolist() == [[1, 2], [0, 1]]


def test_unknown_pattern_is_refused():
    with pytest.raises(ValueError, match="not a Bayer pattern"):
        bayer_sites("RGBG")
