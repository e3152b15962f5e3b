"""A frame's solution tracked from an earlier frame's, scored against known answers.

References: the simulator's true WCS of each frame (:mod:`panoptes_network.simulation`: a
sequence of three full-size frames of the KIC 8462852 field, half an hour apart, with its
tracking drift), star positions drawn from a known TAN-SIP distortion (no image), and for the
real frames (``unsolved.fits`` and the next frame ``solved.fits.fz``, the same 700 x 700 pixel
region two minutes later) astrometry.net's own solution of the next frame from its image.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, Sip

from panoptes_network.astrometry.bayer_background import calibrate_superpixels
from panoptes_network.astrometry.frame_wcs import unbin_wcs, wcs_from_header
from panoptes_network.astrometry.solve_field import (
    NoSolution,
    PointingHint,
    solve_field,
    solve_field_sources,
)
from panoptes_network.astrometry.source_extraction import Sources, extract_sources
from panoptes_network.astrometry.tracking import (
    TrackingFailed,
    TrackingOptions,
    catalog_positions,
    estimate_shift,
    fitted_parameters,
    track_solution,
)
from panoptes_network.catalog.star_catalog import InMemoryCatalog
from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars
from panoptes_network.simulation import CameraModel, SequenceSpec, SequenceTruth, simulate_sequence
from tests.unit.cameras import REAL_CAMERA

START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
FIELD = (301.564, 44.457)
SHAPE = (3476, 5208)  # rows, columns of a full frame
SCALE = (9.5, 11.5)  # arcsec per raw pixel
NO_SOLVE_FIELD = shutil.which("solve-field") is None or not find_index_files()
needs_solve_field = pytest.mark.skipif(
    NO_SOLVE_FIELD,
    reason="astrometry.net solve-field or its Tycho-2 index files are not installed (Debian: "
    "astrometry.net and astrometry-data-tycho2)",
)


@pytest.fixture(scope="module")
def catalog():
    """The local catalog file, else the astrometry.net Tycho-2 index; skip without either."""
    from panoptes_network.catalog.local_file import open_catalog

    try:
        return open_catalog()
    except (FileNotFoundError, ValueError):
        pass
    files = find_index_files()
    if not files:
        pytest.skip(
            "no star catalog: neither the local catalog file nor the Tycho-2 index files "
            "(astrometry-data-tycho2)"
        )
    return InMemoryCatalog(read_index_stars(files))


@pytest.fixture(scope="module")
def sequence(catalog, tmp_path_factory) -> dict:
    """Three full-size frames 30 minutes apart: their sources, true WCSs and frame 0's header."""
    spec = SequenceSpec(ra=FIELD[0], dec=FIELD[1], start=START, count=3, interval=1800.0, seed=7)
    result = simulate_sequence(spec, catalog, tmp_path_factory.mktemp("simulated"))
    truth = SequenceTruth.read(result.folder)
    sources = {}
    for index, path in enumerate(result.frames):
        with fits.open(path) as hdus:
            pixels = np.array(hdus[0].data)
            if index == 0:
                header = hdus[0].header.copy()
        assert pixels.shape == SHAPE
        calibrated = calibrate_superpixels(
            pixels, bias=CameraModel().bias_adu, bayer_pattern="RGGB"
        )
        del pixels
        sources[index] = extract_sources(calibrated.image, calibrated.background.superpixel_rms)
    return {"truth": truth, "sources": sources, "header": header}


@pytest.fixture(scope="module")
def solve_field_frame_0(sequence, tmp_path_factory) -> WCS:
    """astrometry.net's solution of frame 0, from its sources, on the full frame's pixels."""
    if NO_SOLVE_FIELD:
        pytest.skip(
            "astrometry.net solve-field or its Tycho-2 index files are not installed "
            "(Debian: astrometry.net and astrometry-data-tycho2)"
        )
    header = sequence["header"]
    run = solve_field_sources(
        sequence["sources"][0].brightest(1000),
        SHAPE,
        tmp_path_factory.mktemp("solve"),
        scale_range=SCALE,
        hint=PointingHint(header["RA-MNT"], header["DEC-MNT"], 10.0),
    )
    return wcs_from_header(run.header)


def border_points(shape):
    """The centre, the four corners and the middle of each edge (0-based pixels)."""
    rows, cols = shape
    cx, cy, right, bottom = (cols - 1) / 2, (rows - 1) / 2, cols - 1, rows - 1
    x = np.array([cx, 0, right, 0, right, cx, 0, right, cx])
    y = np.array([cy, 0, 0, bottom, bottom, 0, cy, cy, bottom])
    return x, y


def errors_at(wcs: WCS, reference: WCS, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pixels between (x, y) and where ``wcs`` puts the sky ``reference`` gives them."""
    px, py = wcs.all_world2pix(*reference.all_pix2world(x, y, 0), 0)
    return np.hypot(px - x, py - y)


def assert_on_the_truth(tracked, truth: SequenceTruth, frame: int):
    """Centre within 0.5 px, corners and edges within 1 px, and so the simulated stars."""
    true = truth.wcs(frame)
    border = errors_at(tracked.solution.wcs, true, *border_points(SHAPE))
    assert border[0] < 0.5, border
    assert border.max() < 1.0, border
    stars = truth.frame_stars(frame)
    stars = stars[np.argsort(-np.asarray(stars["flux_g"]))[:2000]]
    on_stars = errors_at(tracked.solution.wcs, true, np.asarray(stars["x"]), np.asarray(stars["y"]))
    assert np.median(on_stars) < 0.1 and on_stars.max() < 1.0
    assert tracked.matched > 1000 and tracked.rms < 0.3 and tracked.max_residual < 1.5


@pytest.mark.parametrize("frame", [1, 2])
def test_frames_are_tracked_from_frame_0s_true_wcs(sequence, catalog, frame):
    truth = sequence["truth"]
    tracked = track_solution(truth.wcs(0), sequence["sources"][frame], catalog, SHAPE)
    assert_on_the_truth(tracked, truth, frame)
    assert tracked.solution.wcs.sip is None  # a TAN predecessor gives a TAN solution
    # The drift of the simulated mount: a few pixels per hour.
    assert 0.5 < np.hypot(*tracked.shift) < 6 * frame / 2


@needs_solve_field
def test_solve_field_solves_frame_0_from_its_sources_within_a_pixel(sequence, solve_field_frame_0):
    border = errors_at(solve_field_frame_0, sequence["truth"].wcs(0), *border_points(SHAPE))
    assert border[0] < 0.5 and border.max() < 1.0, border


@needs_solve_field
@pytest.mark.parametrize("frame", [1, 2])
def test_frames_are_tracked_from_solve_fields_solution_of_frame_0(
    sequence, catalog, solve_field_frame_0, frame
):
    tracked = track_solution(solve_field_frame_0, sequence["sources"][frame], catalog, SHAPE)
    assert_on_the_truth(tracked, sequence["truth"], frame)
    wcs = tracked.solution.wcs  # its SIP degree, with the inverse terms astrometry.net writes
    assert wcs.sip.a_order == solve_field_frame_0.sip.a_order and wcs.sip.ap is not None


def moved(wcs: WCS, crpix_shift=(0.0, 0.0), crval_shift=(0.0, 0.0)) -> WCS:
    """A copy of a WCS whose stars land ``crpix_shift`` pixels away, or pointing elsewhere."""
    out = wcs.deepcopy()
    out.wcs.crpix = np.array(out.wcs.crpix) + crpix_shift
    out.wcs.crval = np.array(out.wcs.crval) + crval_shift
    if out.sip is not None:
        s = out.sip
        out.sip = Sip(s.a, s.b, s.ap, s.bp, out.wcs.crpix)
    out.wcs.set()
    return out


def test_a_drift_of_tens_of_pixels_is_found(sequence, catalog):
    truth = sequence["truth"]
    previous = moved(truth.wcs(0), crpix_shift=(43.0, -61.0))
    tracked = track_solution(previous, sequence["sources"][1], catalog, SHAPE)
    drift = np.array(truth.wcs(1).wcs.crpix) - np.array(truth.wcs(0).wcs.crpix)
    np.testing.assert_allclose(tracked.shift, np.array([-43.0, 61.0]) + drift, atol=0.2)
    assert tracked.votes > 100
    assert_on_the_truth(tracked, truth, 1)


def rotated(wcs: WCS, degrees: float) -> WCS:
    """A copy of a WCS turned by ``degrees`` about its reference pixel."""
    out = wcs.deepcopy()
    angle = np.radians(degrees)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out.wcs.cd = out.pixel_scale_matrix @ turn
    out.wcs.set()
    return out


def test_a_small_field_rotation_is_followed(sequence, catalog):
    # 0.2 degrees: 11 px at the corners, more than the first match's 5 px radius.
    previous = rotated(sequence["truth"].wcs(0), 0.2)
    tracked = track_solution(previous, sequence["sources"][1], catalog, SHAPE)
    assert_on_the_truth(tracked, sequence["truth"], 1)


def test_catalog_rows_track_as_the_catalog_does(sequence, catalog):
    truth = sequence["truth"]
    rows = catalog.footprint_search(truth.wcs(0), SHAPE, 120.0)
    rows.remove_columns(["x", "y"])  # positions are projected again with the previous WCS
    from_rows = track_solution(truth.wcs(0), sequence["sources"][1], rows, SHAPE)
    from_catalog = track_solution(truth.wcs(0), sequence["sources"][1], catalog, SHAPE)
    assert from_rows.matched == from_catalog.matched
    border = errors_at(from_rows.solution.wcs, from_catalog.solution.wcs, *border_points(SHAPE))
    assert border.max() < 1e-6


def test_a_mount_jump_of_a_degree_is_refused(sequence, catalog):
    previous = moved(sequence["truth"].wcs(0), crval_shift=(0.0, 1.0))  # 350 pixels
    with pytest.raises(TrackingFailed, match=r"no shift within 100 px") as failed:
        track_solution(previous, sequence["sources"][1], catalog, SHAPE)
    assert isinstance(failed.value, NoSolution) and "jump of the mount" in failed.value.reason


def test_a_predecessor_of_another_field_is_refused(sequence, catalog):
    previous = moved(sequence["truth"].wcs(0), crval_shift=(25.0, -20.0))
    with pytest.raises(TrackingFailed, match="a different field"):
        track_solution(previous, sequence["sources"][1], catalog, SHAPE)


def test_a_frame_of_another_field_is_refused(sequence, catalog):
    # Frame 1 mirrored left to right: as many stars, as bright, but another sky.
    frame = sequence["sources"][1]
    other = Sources(SHAPE[1] - 1 - frame.x, frame.y, frame.flux, frame.peak, frame.flag)
    with pytest.raises(TrackingFailed, match="a different field"):
        track_solution(sequence["truth"].wcs(0), other, catalog, SHAPE)


def subset(sources: Sources, index) -> Sources:
    return Sources(*(getattr(sources, n)[index] for n in ("x", "y", "flux", "peak", "flag")))


def test_a_clouded_frame_with_few_stars_is_refused(sequence, catalog):
    # 15 of the 300 brightest sources (the very brightest are saturated stars brighter than
    # the catalog's V = 6).
    few = subset(sequence["sources"][1], slice(20, 320, 20))
    options = TrackingOptions(min_votes=5)
    with pytest.raises(TrackingFailed, match=r"only 1[0-5] catalog stars matched .* fewer than"):
        track_solution(sequence["truth"].wcs(0), few, catalog, SHAPE, options=options)


def test_a_frame_half_under_cloud_is_refused_for_what_it_leaves_unmatched(sequence, catalog):
    frame = sequence["sources"][1]
    clear = subset(frame, frame.x < 0.6 * SHAPE[1])  # no stars in the right 40 %
    with pytest.raises(
        TrackingFailed, match=r"a ninth of the frame \(columns 3472-5207, .*uncovered"
    ):
        track_solution(sequence["truth"].wcs(0), clear, catalog, SHAPE)


def test_blurred_positions_are_refused_for_their_residuals(sequence, catalog):
    frame = sequence["sources"][1]
    rng = np.random.default_rng(3)
    blurred = Sources(
        frame.x + rng.normal(0, 0.7, len(frame)),
        frame.y + rng.normal(0, 0.7, len(frame)),
        frame.flux,
        frame.peak,
        frame.flag,
    )
    with pytest.raises(TrackingFailed, match=r"rms residual is [\d.]+ px, more than the 0.6"):
        track_solution(sequence["truth"].wcs(0), blurred, catalog, SHAPE)


# --------------------------------------------------------------------------------------
# Distortion: stars placed by a known TAN-SIP WCS, no image
# --------------------------------------------------------------------------------------


def distorted_wcs() -> WCS:
    """A TAN-SIP WCS of degree 3 at the simulated field, 8 to 9 px of distortion at corners."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = [302.3, 45.08]
    wcs.wcs.crpix = [2604.5, 1738.5]
    scale, angle = 10.3 / 3600, np.radians(0.9)
    c, s = np.cos(angle), np.sin(angle)
    wcs.wcs.cd = [[-scale * c, scale * s], [scale * s, scale * c]]
    a, b = np.zeros((4, 4)), np.zeros((4, 4))
    a[2, 0], a[0, 2], a[1, 1], a[3, 0], a[1, 2] = 4e-7, 3e-7, -2e-7, 1.5e-10, 2e-10
    b[0, 2], b[2, 0], b[1, 1], b[0, 3], b[2, 1] = 5e-7, -2e-7, 3e-7, 1.5e-10, 1e-10
    wcs.sip = Sip(a, b, None, None, wcs.wcs.crpix)
    wcs.wcs.set()
    return wcs


@pytest.fixture(scope="module")
def distorted_field(catalog) -> dict:
    """Catalog stars where the distorted WCS puts them (0.15 px noise, 20 % undetected)."""
    true = distorted_wcs()
    rows = catalog_positions(catalog, true, SHAPE, 0.0)
    rng = np.random.default_rng(11)
    seen = rng.random(len(rows)) < 0.8
    x = np.asarray(rows["x"])[seen] + rng.normal(0, 0.15, seen.sum())
    y = np.asarray(rows["y"])[seen] + rng.normal(0, 0.15, seen.sum())
    flux = 10 ** (-0.4 * (np.asarray(rows["vmag"])[seen] - 20)) * rng.lognormal(0, 0.2, seen.sum())
    order = np.argsort(-flux)[:3000]
    sources = Sources(x[order], y[order], flux[order], flux[order], np.zeros(order.size))
    return {"true": true, "sources": sources, "rows": catalog_positions(catalog, true, SHAPE, 150)}


def test_the_distortion_is_refitted_with_its_inverse(distorted_field):
    true, rows = distorted_field["true"], distorted_field["rows"]
    x, y = border_points(SHAPE)
    undistorted = true.deepcopy()
    undistorted.sip = None
    assert errors_at(undistorted, true, x, y).max() > 7  # pixels of distortion at corners
    previous = moved(true, crpix_shift=(30.0, -20.0))
    tracked = track_solution(previous, distorted_field["sources"], rows, SHAPE)
    assert errors_at(tracked.solution.wcs, true, x, y).max() < 0.2
    assert tracked.rms < 0.3
    # The header holds A, B and the inverse AP, BP, which round-trip a pixel to 0.01 px.
    header = tracked.solution.header()
    assert header["CTYPE1"] == "RA---TAN-SIP" and header["A_ORDER"] == 3
    assert header["AP_ORDER"] >= 3
    read = wcs_from_header(header)
    pixels = np.column_stack([x, y]) + 1.0  # FITS pixels
    back = read.sip_foc2pix(read.sip_pix2foc(pixels, 1), 1)
    assert np.abs(back - pixels).max() < 0.01


def test_a_small_rotation_of_a_distorted_field_is_followed(distorted_field):
    # Matched near the centre only, a distortion fit would run wild at the corners.
    true = distorted_field["true"]
    previous = rotated(moved(true, crpix_shift=(30.0, -20.0)), 0.2)
    tracked = track_solution(previous, distorted_field["sources"], distorted_field["rows"], SHAPE)
    assert errors_at(tracked.solution.wcs, true, *border_points(SHAPE)).max() < 0.2


def test_without_the_distortion_the_fit_is_refused(distorted_field):
    previous = moved(distorted_field["true"], crpix_shift=(30.0, -20.0))
    with pytest.raises(TrackingFailed, match="rms residual"):
        track_solution(
            previous,
            distorted_field["sources"],
            distorted_field["rows"],
            SHAPE,
            options=TrackingOptions(sip_degree=0),
        )


def test_a_distorted_fit_needs_two_stars_per_parameter(distorted_field):
    assert fitted_parameters(0) == 6 and fitted_parameters(2) == 12 and fitted_parameters(3) == 20
    few = distorted_field["sources"].brightest(35)  # 40 needed for degree 3
    with pytest.raises(TrackingFailed, match="fewer than the 40"):
        track_solution(distorted_field["true"], few, distorted_field["rows"], SHAPE)


def test_estimate_shift_votes_for_the_common_offset():
    rng = np.random.default_rng(5)
    stars = rng.uniform(0, 1000, (200, 2))
    sources = np.vstack([stars[:150] + [12.3, -7.9], rng.uniform(0, 1000, (100, 2))])
    shift, votes = estimate_shift(stars, rng.permutation(sources), 50.0, 2.0)
    np.testing.assert_allclose(shift, [12.3, -7.9], atol=1e-9)
    assert 150 <= votes < 160
    assert estimate_shift(stars, stars + 80.0, 50.0, 2.0)[1] < 10  # out of reach


# --------------------------------------------------------------------------------------
# The real frames: the next frame tracked from the first one's solution
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_frames(panoptes_data: Path) -> dict:
    """Both crops calibrated, their sources, and the stored 2016 solution of the second."""
    frames = {}
    for key, name, hdu in (("a", "unsolved.fits", 0), ("b", "solved.fits.fz", 1)):
        with fits.open(panoptes_data / name) as hdus:
            header, pixels = hdus[hdu].header.copy(), np.array(hdus[hdu].data)
        calibrated = calibrate_superpixels(
            pixels, bias=REAL_CAMERA["bias_adu"], bayer_pattern="RGGB"
        )
        frames[key] = {
            "header": header,
            "shape": pixels.shape,
            "image": calibrated.image,
            "sources": extract_sources(calibrated.image, calibrated.background.superpixel_rms),
        }
    frames["b"]["stored_wcs"] = wcs_from_header(frames["b"]["header"])
    return frames


def solve_image(frame: dict, folder: Path) -> WCS:
    """astrometry.net's solution of a crop from its superpixel image, as plate-solve runs it."""
    hint = PointingHint(frame["header"]["RA-MNT"], frame["header"]["DEC-MNT"], 10.0)
    run = solve_field(frame["image"], folder, scale_range=(19.0, 23.0), hint=hint)
    return unbin_wcs(wcs_from_header(run.header), 2)


@needs_solve_field
def test_real_next_frame_is_tracked_within_a_pixel_of_solve_field(real_frames, catalog, tmp_path):
    a, b = real_frames["a"], real_frames["b"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    previous, reference = solve_image(a, tmp_path / "a"), solve_image(b, tmp_path / "b")
    shape = b["shape"]
    # The two crops are the same pixels of the sensor: the sky moved by the drift only.
    assert errors_at(reference, previous, *border_points(shape)).max() < 3
    tracked = track_solution(previous, b["sources"], catalog, shape)
    assert tracked.matched > 100 and tracked.rms < 0.5 and np.hypot(*tracked.shift) < 3
    border = errors_at(tracked.solution.wcs, reference, *border_points(shape))
    assert border[0] < 0.5 and border.max() < 1.0, border
    rows = catalog_positions(catalog, reference, shape, 0.0)
    on_stars = errors_at(
        tracked.solution.wcs, reference, np.asarray(rows["x"]), np.asarray(rows["y"])
    )
    assert np.median(on_stars) < 0.5 and on_stars.max() < 1.0


def test_real_frame_is_tracked_from_its_neighbours_stored_solution(real_frames, catalog):
    # The first frame, from the 2016 solution of the next one (tracking runs either way).
    a, b = real_frames["a"], real_frames["b"]
    tracked = track_solution(b["stored_wcs"], a["sources"], catalog, a["shape"])
    assert tracked.matched > 100 and tracked.rms < 0.5
    assert np.hypot(*tracked.shift) < 5  # two minutes of drift and the stored solution's error
    assert tracked.solution.pixel_scale == pytest.approx(10.3, abs=0.05)
