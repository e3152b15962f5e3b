"""Per-frame photometry: fluxes against the simulator's truth, sums against photutils, flags.

References: the simulator's noiseless per-colour star sums (``pixel_fluxes`` of
:func:`~panoptes_network.simulation.render.expected_electrons` and ``pixel_flux_*`` of the
sequence truth); photutils ``aperture_photometry(method='exact')`` on the Bayer planes at the
same positions; the empirical scatter of repeated noise realisations; astropy ``sigma_clip``.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.stats import sigma_clip
from astropy.table import Table, vstack
from photutils.aperture import CircularAperture, aperture_photometry

from panoptes_network.catalog.star_catalog import InMemoryCatalog
from panoptes_network.frames.camera import BAYER_PLANE_OFFSETS
from panoptes_network.photometry.aperture import (
    annulus_values,
    aperture_sums,
    bayer_plane,
    circle_sums,
    clipped_background,
    plane_coordinates,
    touches,
)
from panoptes_network.photometry.flags import SourceFlag
from panoptes_network.photometry.frame_photometry import measure_frame
from panoptes_network.photometry.noise import theoretical_flux_error
from panoptes_network.photometry.sources_table import (
    SOURCES_COLUMNS,
    SourcesTableError,
    read_sources_table,
    write_sources_table,
)
from panoptes_network.simulation import (
    CameraModel,
    SequenceSpec,
    SequenceTruth,
    read_frame,
    simulate_sequence,
)
from panoptes_network.simulation.camera import HotPixels
from panoptes_network.simulation.render import FrameScene, digitise, expected_electrons
from panoptes_network.simulation.smooth_field import SmoothField

NO_HOT = HotPixels(np.zeros(0, int), np.zeros(0, int), np.zeros(0))
SKY = (150.0, 300.0, 200.0)  # e- per pixel, R G B
COLOUR_FLUX = np.array([8_000.0, 30_000.0, 11_000.0])  # e- of a V = 10 star, R G B
KIC = (301.564, 44.457)
#: The constants of the test camera: its own, drawn from its id, not a fleet default.
CONSTANTS = CameraModel("0abcde", width=2, height=2, hot_pixel_count=0).measure_constants()
GAIN, BIAS = CONSTANTS["gain"], CONSTANTS["bias"]


def measure(pixels, wcs, rows, **options):
    """Measure a frame of the test camera with its constants."""
    return measure_frame(pixels, wcs, rows, **CONSTANTS, **options)


def render(camera, x, y, fluxes, seed, sigma=1.1):
    """Raw pixels and the truth's per-colour sums (e-) of Gaussian stars on a flat sky."""
    n = len(x)
    scene = FrameScene(
        camera=camera,
        x=np.asarray(x, float),
        y=np.asarray(y, float),
        fluxes=np.asarray(fluxes, float).reshape(n, 3),
        sigma_x=np.full(n, sigma),
        sigma_y=np.full(n, sigma * 1.1),
        sky=tuple(SmoothField(np.full((3, 3), v), camera.shape) for v in SKY),
        hot=NO_HOT,
        exptime=120.0,
    )
    electrons, stars = expected_electrons(scene)
    return digitise(electrons, camera, np.random.default_rng(seed)), stars.pixel_fluxes


def catalog(x, y, vmag, picid=None):
    n = len(x)
    return Table(
        {
            "picid": np.arange(n, dtype=np.int64) + 1 if picid is None else picid,
            "ra": np.linspace(10.0, 11.0, n),
            "dec": np.linspace(20.0, 21.0, n),
            "vmag": np.asarray(vmag, float),
            "x": np.asarray(x, float),
            "y": np.asarray(y, float),
        }
    )


@pytest.fixture(scope="module")
def grid_frame():
    """600 isolated stars, V 10 to 15, on a 1200 x 900 frame; WCS positions off by 0.3 px."""
    camera = CameraModel("0abcde", width=1200, height=900, hot_pixel_count=0)
    rng = np.random.default_rng(4)
    gx, gy = np.meshgrid(np.arange(40, 1170, 40), np.arange(40, 870, 40))
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    vmag = rng.uniform(10.0, 15.0, x.size)
    pixels, truth = render(camera, x, y, COLOUR_FLUX * 10 ** (-0.4 * (vmag - 10))[:, None], 8)
    rows = catalog(x + rng.normal(0, 0.3, x.size), y + rng.normal(0, 0.3, x.size), vmag)
    return pixels, rows, x, y, truth


def pulls(table, truth):
    return np.stack(
        [(table[f"flux_{c}"] - truth[:, i]) / table[f"flux_err_{c}"] for i, c in enumerate("rgb")]
    )


def test_fluxes_agree_with_the_truth_within_their_errors(grid_frame):
    pixels, rows, _, _, truth = grid_frame
    table = measure(pixels, None, rows)
    assert table.colnames == list(SOURCES_COLUMNS)
    assert np.all(table["flags"] == 0)
    for pull in pulls(table, truth):
        assert pull.size > 500
        assert abs(pull.mean()) < 0.15
        assert 0.8 <= pull.std() <= 1.25
        assert np.abs(pull).max() < 5.0
    # The background is the flat sky (e- per pixel) to much better than its noise.
    for c, sky in zip("rgb", SKY, strict=True):
        assert np.median(table[f"bkg_{c}"]) == pytest.approx(sky, rel=0.01)


def test_errors_are_the_theoretical_noise_of_the_true_flux_and_sky(grid_frame):
    pixels, rows, _, _, truth = grid_frame
    table = measure(pixels, None, rows)
    annulus_area = np.pi * (7.0**2 - 4.5**2)  # plane pixels of one site in the annulus
    for i, (c, sky, sites) in enumerate(zip("rgb", SKY, (1, 2, 1), strict=True)):
        expected = theoretical_flux_error(
            truth[:, i],
            sky,
            table[f"npix_{c}"],
            CONSTANTS["read_noise"],
            sites * annulus_area,
            gain_e_per_adu=GAIN,
        )
        ratio = table[f"flux_err_{c}"] / expected
        assert np.median(ratio) == pytest.approx(1.0, abs=0.01)
        assert np.abs(ratio - 1).max() < 0.05


def test_npix_is_the_aperture_area_on_each_colour(grid_frame):
    pixels, rows, _, _, _ = grid_frame
    table = measure(pixels, None, rows, aperture_radius=4.0, annulus=(8.0, 12.0))
    quarter = np.pi * 4.0**2 / 4  # a colour site is a quarter of the pixels; green two
    assert np.allclose(table["npix_r"], quarter) and np.allclose(table["npix_b"], quarter)
    assert np.allclose(table["npix_g"], 2 * quarter)


def test_centroids_recover_the_true_positions_of_bright_stars(grid_frame):
    pixels, rows, x, y, _ = grid_frame
    table = measure(pixels, None, rows)
    refined = table["x"] != table["x_wcs"]
    bright = rows["vmag"] < 12.5
    assert refined[bright].all()
    error = np.hypot(table["x"] - x, table["y"] - y)[bright]
    wcs_error = np.hypot(table["x_wcs"] - x, table["y_wcs"] - y)[bright]
    assert np.median(error) < 0.15 < np.median(wcs_error)
    assert np.hypot(table["x"] - table["x_wcs"], table["y"] - table["y_wcs"]).max() <= 1.5
    unrefined = measure(pixels, None, rows, refine_centroid=False)
    assert np.array_equal(unrefined["x"], unrefined["x_wcs"])


def test_faint_stars_keep_their_wcs_position():
    camera = CameraModel("0abcde", width=200, height=200, hot_pixel_count=0)
    pixels, _ = render(camera, [100.0], [100.0], [[50.0, 150.0, 60.0]], seed=1)
    table = measure(pixels, None, catalog([100.3], [99.8], [16.5]))
    assert (table["x"][0], table["y"][0]) == (100.3, 99.8)


def test_the_centroid_box_and_largest_shift_are_parameters():
    """A star 4.5 px from its WCS position: a 5 x 5-superpixel box cuts it, a 9 x 9 one not."""
    camera = CameraModel("0abcde", width=200, height=200, hot_pixel_count=0)
    pixels, _ = render(camera, [100.0], [100.0], [COLOUR_FLUX], seed=3)
    start = catalog([104.5], [100.0], [10.0])
    narrow = measure(pixels, None, start, max_centroid_shift=6.0)
    wide = measure(pixels, None, start, max_centroid_shift=6.0, centroid_half_box=4)
    assert abs(wide["x"][0] - 100.0) < 0.1 and abs(wide["y"][0] - 100.0) < 0.1
    assert abs(narrow["x"][0] - 100.0) > 0.5
    # the shift limit: 4.5 px is more than 4
    limited = measure(pixels, None, start, max_centroid_shift=4.0, centroid_half_box=4)
    assert (limited["x"][0], limited["y"][0]) == (104.5, 100.0)
    with pytest.raises(ValueError, match="half_box"):
        measure(pixels, None, start, centroid_half_box=0)


def test_errors_match_the_scatter_of_repeated_exposures():
    camera = CameraModel("0abcde", width=400, height=300, hot_pixel_count=0)
    gx, gy = np.meshgrid(np.arange(40, 380, 50), np.arange(40, 280, 50))
    x, y = gx.ravel() + 0.3, gy.ravel() - 0.2
    vmag = np.linspace(10.0, 14.0, x.size)
    fluxes = COLOUR_FLUX * 10 ** (-0.4 * (vmag - 10))[:, None]
    rows = catalog(x, y, vmag)
    runs = [
        measure(render(camera, x, y, fluxes, seed)[0], None, rows, refine_centroid=False)
        for seed in range(40)
    ]
    for c in "rgb":
        flux = np.array([run[f"flux_{c}"] for run in runs])
        error = np.array([run[f"flux_err_{c}"] for run in runs])
        ratio = flux.std(axis=0, ddof=1) / error.mean(axis=0)
        # 40 samples: the std of one star's scatter is ~11 %; over 35 stars the mean ~2 %.
        assert np.median(ratio) == pytest.approx(1.0, abs=0.1)
        assert ratio.min() > 0.6 and ratio.max() < 1.45


def test_errors_of_flat_fielded_frames_count_the_electrons_the_pixels_held():
    # A corner of a fast lens: the pixels see 0.6 of the light; the flat divides it back.
    camera = CameraModel("0abcde", width=400, height=300, hot_pixel_count=0)
    gx, gy = np.meshgrid(np.arange(40, 380, 50), np.arange(40, 280, 50))
    x, y = gx.ravel() + 0.3, gy.ravel() - 0.2
    vmag = np.linspace(10.0, 14.0, x.size)
    fluxes = COLOUR_FLUX * 10 ** (-0.4 * (vmag - 10))[:, None]
    rows = catalog(x, y, vmag)
    flat = np.full(camera.shape, 0.6, dtype=np.float32)
    runs, unaware = [], []
    for seed in range(40):
        electrons, _ = expected_electrons(
            FrameScene(
                camera=camera, x=x, y=y, fluxes=fluxes, sigma_x=np.full(x.size, 1.1),
                sigma_y=np.full(x.size, 1.1),
                sky=tuple(SmoothField(np.full((3, 3), v), camera.shape) for v in SKY),
                hot=NO_HOT, exptime=120.0,
            )
        )  # fmt: skip
        raw = digitise(electrons * flat, camera, np.random.default_rng(seed))
        pixels = (raw.astype(np.float32) - BIAS) / flat + np.float32(BIAS)
        runs.append(measure(pixels, None, rows, refine_centroid=False, flat=flat))
        unaware.append(measure(pixels, None, rows, refine_centroid=False))
    for c in "rgb":
        flux = np.array([run[f"flux_{c}"] for run in runs])
        error = np.array([run[f"flux_err_{c}"] for run in runs])
        ratio = flux.std(axis=0, ddof=1) / error.mean(axis=0)
        assert np.median(ratio) == pytest.approx(1.0, abs=0.1), c
        # Unaware of the flat, the errors are those of pixels that held 1 / 0.6 the electrons:
        # too small by sqrt(1 / 0.6) (shot noise) to 1 / 0.6 (read noise); the scatter says so.
        naive = np.array([run[f"flux_err_{c}"] for run in unaware]).mean(axis=0)
        under = error.mean(axis=0) / naive
        assert (under > 0.98 / np.sqrt(0.6)).all() and (under < 1.02 / 0.6).all(), c
        assert np.median(flux.std(axis=0, ddof=1) / naive) > 1.2, c


def test_fluxes_agree_with_the_truth_of_a_simulated_sequence(tmp_path):
    rng = np.random.default_rng(12)
    ra, dec = [], []
    for d in np.arange(KIC[1] - 2, KIC[1] + 2, 0.05):
        step = 0.05 / np.cos(np.radians(d))
        line = np.arange(KIC[0] - 3, KIC[0] + 3, step) + rng.uniform(-0.01, 0.01)
        ra.append(line)
        dec.append(np.full(line.size, d) + rng.uniform(-0.01, 0.01, line.size))
    ra, dec = np.concatenate(ra), np.concatenate(dec)
    stars = Table(
        {
            "picid": np.arange(ra.size, dtype=np.int64) + 10_000_000,
            "ra": ra,
            "dec": dec,
            "vmag": rng.uniform(7.0, 11.0, ra.size),
        }
    )
    camera = CameraModel("0abcde", width=800, height=600, hot_pixel_count=0)
    start = datetime(2024, 9, 12, 6, 30, tzinfo=timezone.utc)
    spec = SequenceSpec(ra=KIC[0], dec=KIC[1], start=start, count=1, camera=camera, seed=3)
    result = simulate_sequence(spec, InMemoryCatalog(stars), tmp_path / "seq")
    truth = SequenceTruth.read(result.folder)
    _, pixels = read_frame(result.frames[0])
    wcs = truth.wcs(0)
    rows = InMemoryCatalog(stars).footprint_search(wcs, pixels.shape, 0.0, (0.0, 20.0))
    expected = truth.frame_stars(0)
    expected = expected[np.searchsorted(expected["picid"], rows["picid"])]
    assert np.array_equal(expected["picid"], rows["picid"])
    table = measure(pixels, wcs, rows)
    clean = (table["flags"] == 0) & ~expected["saturated"]
    assert clean.sum() > 400
    for c in "rgb":
        pull = ((table[f"flux_{c}"] - expected[f"pixel_flux_{c}"]) / table[f"flux_err_{c}"])[clean]
        assert abs(pull.mean()) < 0.25  # the PSF wings beyond 5 px hold ~0.2 % of the light
        assert 0.8 <= pull.std() <= 1.25


# --------------------------------------------------------------------------------------
# The vectorised path against photutils
# --------------------------------------------------------------------------------------


def edge_positions(rng, shape, count):
    """Random positions plus the awkward ones: edges, corners, half-integers, partly off."""
    rows, cols = shape
    x = list(rng.uniform(0, cols - 1, count))
    y = list(rng.uniform(0, rows - 1, count))
    for px, py in [
        (0.0, 0.0),
        (-0.5, 10.0),
        (cols - 0.5, rows - 0.5),
        (cols - 1.0, 5.2),
        (3.5, 7.5),
        (10.0, 10.0),
        (-2.2, 40.0),
        (50.0, rows + 1.7),
        (1.3, rows - 2.1),
        (cols - 1.6, 0.4),
    ]:
        x.append(px)
        y.append(py)
    return np.array(x), np.array(y)


@pytest.mark.parametrize("radius", [0.4, 1.0, 2.5, 3.3])
def test_aperture_sums_equal_photutils_exact_on_a_plane(radius):
    rng = np.random.default_rng(5)
    plane = rng.normal(3000.0, 200.0, (160, 230))
    x, y = edge_positions(rng, plane.shape, 220)
    ours = aperture_sums(plane, x, y, radius)
    reference = aperture_photometry(plane, CircularAperture(np.c_[x, y], radius), method="exact")
    area = aperture_photometry(
        np.ones_like(plane), CircularAperture(np.c_[x, y], radius), method="exact"
    )
    # photutils gives NaN for an aperture wholly off the image; ours gives an empty sum.
    expected = np.nan_to_num(np.asarray(reference["aperture_sum"], float))
    wholly_off = expected == 0
    assert wholly_off.sum() <= 2 and np.all(ours.area[wholly_off] == 0)
    expected[wholly_off] = ours.total[wholly_off] = 1.0
    assert np.allclose(ours.total, expected, rtol=1e-3, atol=0)
    assert np.abs(ours.total / expected - 1).max() < 1e-9  # exact in practice
    area = np.nan_to_num(np.asarray(area["aperture_sum"], float))
    assert np.allclose(ours.area, area, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("radius", [0.4, 1.0, 2.5, 3.3])
def test_circle_sums_equal_photutils_exact_up_to_the_edges(radius):
    # sep sums inside; apertures reaching past an edge (even by a fraction of a pixel) are
    # summed over their in-image part, as photutils does.
    rng = np.random.default_rng(6)
    plane = rng.normal(3000.0, 200.0, (160, 230)).astype(np.float32)
    x, y = edge_positions(rng, plane.shape, 220)
    x = np.concatenate([x, [radius - 0.45, 229.4 - radius, 100.0, np.nan]])
    y = np.concatenate([y, [80.0, 80.0, radius - 0.3, 5.0]])
    ours = circle_sums(plane, x, y, radius)
    apertures = CircularAperture(np.c_[x[:-1], y[:-1]], radius)
    reference = aperture_photometry(plane.astype(float), apertures, method="exact")
    area = aperture_photometry(np.ones(plane.shape), apertures, method="exact")
    expected = np.nan_to_num(np.asarray(reference["aperture_sum"], float))
    on = expected != 0
    assert np.abs(ours.total[:-1][on] / expected[on] - 1).max() < 1e-6
    area = np.nan_to_num(np.asarray(area["aperture_sum"], float))
    assert np.allclose(ours.area[:-1], area, rtol=1e-9, atol=1e-12)
    assert np.isnan(ours.total[-1]) and ours.area[-1] == 0


def test_touches_finds_exactly_the_masked_pixels_an_aperture_overlaps():
    rng = np.random.default_rng(8)
    mask = rng.random((90, 120)) < 0.004
    x, y = edge_positions(rng, mask.shape, 400)
    ours = touches(mask, x, y, 2.5)
    for i in range(x.size):
        weights = CircularAperture((x[i], y[i]), 2.5).to_mask(method="exact")
        cut = weights.cutout(mask.astype(float), fill_value=0.0)
        overlaps = (weights.data > 1e-9) & (cut > 0) if cut is not None else np.zeros(1, bool)
        assert ours[i] == bool(overlaps.any()), (x[i], y[i])
    assert 10 < ours.sum() < x.size
    assert not touches(mask, [np.nan], [3.0], 2.5)[0]


@pytest.mark.parametrize("position", [(40.0, 30.0), (40.49, 30.5), (0.3, 2.2), (119.6, 89.9)])
def test_annulus_values_gather_every_pixel_centre_in_the_annulus(position):
    plane = np.arange(90 * 120, dtype=float).reshape(90, 120)
    x, y = position
    values = annulus_values(plane, [x], [y], 4.5, 7.0)[0]
    rows, cols = np.mgrid[:90, :120]
    distance2 = (cols - x) ** 2 + (rows - y) ** 2
    expected = plane[(distance2 >= 4.5**2) & (distance2 < 7.0**2)]
    assert sorted(values[~np.isnan(values)]) == sorted(expected)


def test_clipped_background_with_extreme_and_degenerate_rows():
    rows = np.full((4, 6), np.nan)
    rows[0, :5] = [2100.0, 2100.0, 2100.0, 2100.0, 2100.0]  # no scatter
    rows[1, :1] = [-300.0]  # one value
    rows[2, :6] = [65535.0, 2101.0, 2099.0, 2100.0, 2102.0, 2098.0]  # a saturated neighbour
    rows[3, :5] = [-65535.0, 10.0, 11.0, 9.0, 10.0]
    ours = clipped_background(rows, iterations=5)
    for i in range(rows.shape[0]):
        row = rows[i][~np.isnan(rows[i])]
        ref = sigma_clip(row, sigma=3, maxiters=5, cenfunc="median", stdfunc="std")
        assert ours.level[i] == pytest.approx(ref.mean(), rel=1e-12)
        assert ours.count[i] == ref.count()


def test_frame_fluxes_equal_photutils_on_the_bayer_planes(grid_frame):
    pixels, _, _, _, _ = grid_frame
    rng = np.random.default_rng(7)
    x, y = edge_positions(rng, pixels.shape, 200)
    rows = catalog(x, y, np.full(x.size, 30.0))  # no contamination
    table = measure(pixels, None, rows, refine_centroid=False)
    on = (table["flags"] & SourceFlag.OFF_FRAME) == 0
    assert on.sum() >= 205
    for colour, offsets in BAYER_PLANE_OFFSETS.items():
        total = np.zeros(x.size)
        for offset in offsets:
            plane = bayer_plane(pixels, offset).astype(float)
            px, py = plane_coordinates(x, y, offset)
            aperture = CircularAperture(np.c_[px, py], 2.5)
            total += np.nan_to_num(
                aperture_photometry(plane, aperture, method="exact")["aperture_sum"]
            )
        # Our flux back to raw ADU: flux / gain + area * (sky / gain + bias).
        ours = table[f"flux_{colour}"] / GAIN + table[f"npix_{colour}"] * (
            table[f"bkg_{colour}"] / GAIN + BIAS
        )
        assert np.abs(ours[on] / total[on] - 1).max() < 1e-3


def test_clipped_background_equals_astropy_sigma_clip():
    rng = np.random.default_rng(3)
    values = rng.normal(2100.0, 12.0, (30, 400)).round()
    values[:, ::13] += rng.uniform(100, 3000, (30, 31))  # stars in the annulus
    values[:, ::7] = np.nan  # outside the annulus or the frame
    ours = clipped_background(values, iterations=5)
    for i in range(values.shape[0]):
        row = values[i][~np.isnan(values[i])]
        ref = sigma_clip(row, sigma=3, maxiters=5, cenfunc="median", stdfunc="std")
        assert ours.level[i] == pytest.approx(ref.mean(), rel=1e-12)
        assert ours.count[i] == ref.count()
    empty = clipped_background(np.full((2, 5), np.nan))
    assert np.isnan(empty.level).all() and (empty.count == 0).all()


# --------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------


def test_flags_mark_saturated_edge_off_frame_and_contaminated_stars():
    camera = CameraModel("0abcde", width=400, height=300, hot_pixel_count=0)
    x = [100.0, 200.0, 6.0, -20.0, 300.0, 304.0, 150.0, 156.0, 350.0, 250.0]
    y = [100.0, 200.0, 150.0, 150.0, 80.0, 81.0, 250.0, 250.0, 240.0, 60.0]
    vmag = [10.0, 6.0, 10.0, 10.0, 10.0, 11.0, 10.0, 13.0, 10.0, 10.0]
    fluxes = COLOUR_FLUX * 10 ** (-0.4 * (np.array(vmag) - 10))[:, None]
    pixels, _ = render(camera, x, y, fluxes, seed=2)
    table = measure(pixels, None, catalog(x, y, vmag), aperture_radius=4.0)
    flags = [SourceFlag(int(f)) for f in table["flags"]]
    assert flags[0] == 0 and flags[8] == 0 and flags[9] == 0
    assert flags[1] == SourceFlag.SATURATED  # V = 6: peaks above 11530 ADU
    assert flags[2] == SourceFlag.NEAR_EDGE  # the annulus (14 px) leaves the frame
    assert flags[3] == SourceFlag.OFF_FRAME
    assert flags[4] == flags[5] == SourceFlag.CONTAMINATED  # 1 mag apart, 4.1 px apart
    # 3 mag fainter, 6 px away: it spoils the faint star, not the bright one.
    assert flags[6] == 0 and flags[7] == SourceFlag.CONTAMINATED
    off = table[3]
    assert np.isnan(off["flux_g"]) and np.isnan(off["flux_err_g"]) and off["npix_g"] == 0
    assert np.isfinite(table["flux_r"][2]) and table["npix_r"][2] > 0


# --------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------

METADATA = {
    "image_id": "PAN012_358d0f_20240912T063000",
    "sequence_id": "PAN012_358d0f_20240912T062500",
    "mid_exposure_time": "2024-09-12T06:31:00.000",
    "exptime": 120.0,
    "airmass": 1.234,
    "aperture_radius": 5.0,
    "software_version": "0.1.0",
}


def test_parquet_round_trip_keeps_columns_values_and_metadata(grid_frame):
    pixels, rows, _, _, _ = grid_frame
    extra = catalog([-30.0], [10.0], [9.0], picid=np.array([7], dtype=np.int64))
    table = measure(pixels, None, vstack([rows, extra]))
    data = write_sources_table(table, {**METADATA, "annulus": [9.0, 14.0]})
    back, metadata = read_sources_table(data)
    assert back.colnames == list(SOURCES_COLUMNS)
    assert back["picid"].dtype == np.int64 and back["flags"].dtype == np.int32
    for name in SOURCES_COLUMNS:
        assert np.array_equal(np.asarray(back[name]), np.asarray(table[name]), equal_nan=True)
        assert back[name].unit == table[name].unit
    assert back["fwhm"].dtype == np.float32 and back["fwhm"].unit == "pix"
    assert metadata == {**METADATA, "annulus": [9.0, 14.0], "sources_schema": "2"}


def test_parquet_reader_fills_the_width_of_schema_1_files_with_nan(grid_frame):
    pixels, rows, _, _, _ = grid_frame
    table = measure(pixels, None, rows[:20])
    arrow = pq.read_table(io.BytesIO(write_sources_table(table, METADATA)))
    meta = {**arrow.schema.metadata, b"sources_schema": b'"1"'}
    old = arrow.drop_columns(["fwhm"]).replace_schema_metadata(meta)
    buffer = io.BytesIO()
    pq.write_table(old, buffer)
    back, metadata = read_sources_table(buffer.getvalue())
    assert metadata["sources_schema"] == "1"
    assert back.colnames == list(SOURCES_COLUMNS)
    assert back["fwhm"].dtype == np.float32 and np.isnan(back["fwhm"]).all()
    assert np.array_equal(back["flux_g"], table["flux_g"], equal_nan=True)


def test_parquet_writer_refuses_incomplete_tables_and_metadata(grid_frame):
    pixels, rows, _, _, _ = grid_frame
    table = measure(pixels, None, rows[:3])
    with pytest.raises(SourcesTableError, match="airmass"):
        write_sources_table(table, {k: v for k, v in METADATA.items() if k != "airmass"})
    table.remove_column("flux_err_b")
    with pytest.raises(SourcesTableError, match="flux_err_b"):
        write_sources_table(table, METADATA)
