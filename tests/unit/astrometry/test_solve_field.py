"""``solve-field`` given a source list (xylist) instead of an image.

References: the command-line options astrometry.net documents for xylist inputs, the FITS
table read back, replayed solver outcomes (no program run), and for the real frame the known
field centre of ``unsolved.fits`` (PROVENANCE.md) and ``solve-field``'s own solution from the
image, as plate-solve runs it today.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from panoptes_network.astrometry.bayer_background import calibrate_superpixels
from panoptes_network.astrometry.frame_wcs import unbin_wcs, wcs_from_header
from panoptes_network.astrometry.solve_field import (
    NoSolution,
    PointingHint,
    SolveFieldOptions,
    solve_field,
    solve_field_arguments,
    solve_field_sources,
    write_xylist,
)
from panoptes_network.astrometry.source_extraction import Sources, extract_sources
from panoptes_network.catalog.star_catalog import angular_separation
from panoptes_network.catalog.tycho2_index import find_index_files
from tests.unit.cameras import REAL_CAMERA
from tests.unit.fakes import ReplayRunner

HINT = PointingHint(301.564, 44.457, 10.0)
KNOWN_CENTRE = (303.213, 46.021)  # PROVENANCE.md
SCALE = (9.5, 11.5)  # arcsec per raw pixel


def sources_of(x, y, flux) -> Sources:
    n = len(x)
    return Sources(
        np.asarray(x, float), np.asarray(y, float), np.asarray(flux, float), np.ones(n), np.zeros(n)
    )


def value_after(command: list[str], option: str) -> str:
    return command[command.index(option) + 1]


def test_an_image_command_downsamples_and_names_no_columns(tmp_path):
    command = solve_field_arguments(
        tmp_path / "frame.fits",
        scale_range=(19.0, 23.0),
        hint=HINT,
        options=SolveFieldOptions(),
        shape=(1738, 2604),
    )
    assert value_after(command, "--downsample") == "2"
    for option in ("--width", "--height", "--x-column", "--y-column", "--sort-column"):
        assert option not in command
    assert command[1] == str(tmp_path / "frame.fits")


def test_an_xylist_command_gives_the_field_size_and_the_columns(tmp_path):
    command = solve_field_arguments(
        tmp_path / "sources.fits",
        scale_range=SCALE,
        hint=HINT,
        options=SolveFieldOptions(),
        shape=(3476, 5208),
        xylist=True,
    )
    assert command[1] == str(tmp_path / "sources.fits")
    assert value_after(command, "--width") == "5208" and value_after(command, "--height") == "3476"
    assert value_after(command, "--x-column") == "X" and value_after(command, "--y-column") == "Y"
    assert value_after(command, "--sort-column") == "FLUX"
    assert "--sort-ascending" not in command  # brightest first
    assert "--downsample" not in command  # nothing to extract
    assert value_after(command, "--scale-low") == "9.5"
    assert value_after(command, "--wcs") == str(tmp_path / "sources.wcs")
    assert value_after(command, "--axy") == str(tmp_path / "sources.axy")


def test_an_xylist_is_one_based_brightest_first_and_finite(tmp_path):
    sources = sources_of([10.0, 0.0, 99.5, 5.0], [20.0, 0.0, 49.25, np.nan], [5.0, 50.0, 7.0, 9.0])
    path = tmp_path / "sources.fits"
    assert write_xylist(path, sources, (60, 100)) == 3
    with fits.open(path) as hdus:
        table, header = hdus[1].data, hdus[1].header
        np.testing.assert_array_equal(table["FLUX"], [50.0, 7.0, 5.0])
        np.testing.assert_array_equal(table["X"], [1.0, 100.5, 11.0])  # numpy [0, 0] is (1, 1)
        np.testing.assert_array_equal(table["Y"], [1.0, 50.25, 21.0])
        assert table["X"].dtype.kind == "f" and table["X"].dtype.itemsize == 8
        assert header["IMAGEW"] == 100 and header["IMAGEH"] == 60


class ReadingRunner(ReplayRunner):
    """Replays a solution, and keeps the xylist the command was given."""

    table = None

    def __call__(self, command, timeout):
        with fits.open(command[1]) as hdus:
            self.table = np.array(hdus[1].data)
        return super().__call__(command, timeout)


def test_sources_are_solved_from_the_xylist_and_it_is_removed(tmp_path):
    header = fits.Header({"CTYPE1": "RA---TAN-SIP", "CTYPE2": "DEC--TAN-SIP"})
    runner = ReadingRunner(header, sources=3)
    sources = sources_of([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [3.0, 2.0, 1.0])
    run = solve_field_sources(
        sources, (60, 100), tmp_path, scale_range=SCALE, hint=HINT, runner=runner
    )
    assert run.header["CTYPE1"] == "RA---TAN-SIP" and run.sources == 3
    (command,) = runner.calls
    assert value_after(command, "--width") == "100"
    np.testing.assert_array_equal(runner.table["X"], [2.0, 3.0, 4.0])
    assert not (tmp_path / "sources.fits").exists()


def test_an_unsolved_xylist_is_no_solution_with_a_reason(tmp_path):
    runner = ReplayRunner(None, sources=12)
    sources = sources_of(np.arange(12.0), np.arange(12.0), np.arange(12.0))
    with pytest.raises(NoSolution, match="from 12 sources.*too few stars"):
        solve_field_sources(
            sources, (60, 100), tmp_path, scale_range=SCALE, hint=HINT, runner=runner
        )


def test_no_sources_is_no_solution_without_running_the_solver(tmp_path):
    runner = ReplayRunner()
    with pytest.raises(NoSolution, match="no sources"):
        solve_field_sources(
            sources_of([], [], []), (60, 100), tmp_path, scale_range=SCALE, hint=None, runner=runner
        )
    assert runner.calls == [] and list(tmp_path.iterdir()) == []


def test_a_missing_program_is_a_deployment_fault(tmp_path):
    from panoptes_network.astrometry.solve_field import SolveFieldFailed

    def missing(command, timeout) -> subprocess.CompletedProcess:
        raise FileNotFoundError(command[0])

    with pytest.raises(SolveFieldFailed, match="not installed"):
        solve_field_sources(
            sources_of([1.0], [1.0], [1.0]),
            (60, 100),
            tmp_path,
            scale_range=SCALE,
            hint=HINT,
            runner=missing,
        )


# --------------------------------------------------------------------------------------
# The real frame, solved for real from its sources and from its image
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_frame(panoptes_data: Path, tmp_path_factory) -> dict:
    """unsolved.fits calibrated, its sources, and solve-field's solution from its image."""
    if shutil.which("solve-field") is None:
        pytest.skip(
            "astrometry.net solve-field is not installed (Debian: astrometry.net and "
            "astrometry-data-tycho2)"
        )
    if not find_index_files():
        pytest.skip("astrometry.net Tycho-2 index files not installed (astrometry-data-tycho2)")
    with fits.open(panoptes_data / "unsolved.fits") as hdus:
        pixels = np.array(hdus[0].data)
    calibrated = calibrate_superpixels(pixels, bias=REAL_CAMERA["bias_adu"], bayer_pattern="RGGB")
    folder = tmp_path_factory.mktemp("image")
    run = solve_field(calibrated.image, folder, scale_range=(19.0, 23.0), hint=HINT)
    with fits.open(folder / "frame.axy") as hdus:
        extracted = np.array(hdus[1].data)  # solve-field's own sources, on the superpixels
    return {
        "shape": pixels.shape,
        "sources": extract_sources(calibrated.image, calibrated.background.superpixel_rms),
        "image_wcs": unbin_wcs(wcs_from_header(run.header), 2),
        "extracted": extracted,
    }


def centre_and_corners(shape):
    rows, cols = shape
    x = np.array([(cols - 1) / 2, 0, cols - 1, 0, cols - 1])
    y = np.array([(rows - 1) / 2, 0, 0, rows - 1, rows - 1])
    return x, y


def offsets(wcs, reference, shape) -> np.ndarray:
    """Pixels between where two WCSs put the sky of the centre and corners of a frame."""
    x, y = centre_and_corners(shape)
    px, py = wcs.all_world2pix(*reference.all_pix2world(x, y, 0), 0)
    return np.hypot(px - x, py - y)


def test_solve_fields_own_sources_as_an_xylist_give_its_image_solution(real_frame, tmp_path):
    # The sources solve-field extracted from the superpixel image, moved to the frame grid
    # (1-based superpixel X: frame x = 2 (X - 1) + 0.5): the same solve, on the frame grid.
    table = real_frame["extracted"]
    frame_x, frame_y = 2 * (table["X"] - 1.0) + 0.5, 2 * (table["Y"] - 1.0) + 0.5
    sources = sources_of(frame_x, frame_y, table["FLUX"])
    run = solve_field_sources(sources, real_frame["shape"], tmp_path, scale_range=SCALE, hint=HINT)
    assert run.sources == len(table)
    error = offsets(wcs_from_header(run.header), real_frame["image_wcs"], real_frame["shape"])
    assert error.max() < 0.01  # pixels: the grid and the 1-based columns are right


def test_real_frame_solves_from_its_extracted_sources(real_frame, tmp_path):
    sources, shape = real_frame["sources"], real_frame["shape"]
    run = solve_field_sources(sources, shape, tmp_path, scale_range=SCALE, hint=HINT)
    assert run.sources == len(sources)  # the list given, not an extraction of its own
    assert 4107 <= run.index_id <= 4119 and run.matched_stars >= 10
    assert (run.header["IMAGEW"], run.header["IMAGEH"]) == (shape[1], shape[0])
    ours = wcs_from_header(run.header)  # already the frame's pixels: no unbinning
    rows, cols = shape
    ra, dec = ours.all_pix2world((cols - 1) / 2, (rows - 1) / 2, 0)
    assert angular_separation(ra, dec, *KNOWN_CENTRE) * 3600 < 30
    # solve-field's solution from the superpixel image, as plate-solve runs it, agrees.
    assert offsets(ours, real_frame["image_wcs"], shape).max() < 1.0  # pixels
