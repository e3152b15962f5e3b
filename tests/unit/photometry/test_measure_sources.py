"""measure-sources with in-memory ports on a small solved frame with known stars."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from panoptes_network.catalog.star_catalog import InMemoryCatalog
from panoptes_network.photometry.flags import SourceFlag
from panoptes_network.photometry.measure_sources import MeasureOptions, measure_sources
from panoptes_network.photometry.sources_table import read_sources_table
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.schema import ImageStatus
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation.camera import CameraModel

S = Settings()
NAME = "PAN001/14d3bd/20180216T110623/20180216T112430.fits.fz"
IMAGE_ID = "PAN001_14d3bd_20180216T112430"
SHAPE = (480, 640)
#: The camera of NAME as the test registry has it (tests/unit/cameras.py): its own constants.
CAMERA = CameraModel("14d3bd", width=2, height=2, hot_pixel_count=0)
SKY_E, GAIN, BIAS, READ_NOISE = 300.0, CAMERA.gain, CAMERA.bias_adu, CAMERA.read_noise
SATURATION = CAMERA.saturation_adu


def frame_wcs(scale_arcsec: float = 10.3) -> WCS:
    """A TAN WCS of the test frame with square pixels of ``scale_arcsec`` arcsec."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 30.0]
    wcs.wcs.crpix = [SHAPE[1] / 2 + 0.5, SHAPE[0] / 2 + 0.5]
    scale = scale_arcsec / 3600
    wcs.wcs.cd = [[-scale, 0.0], [0.0, scale]]
    return wcs


def render(x, y, flux, fwhm, rng) -> np.ndarray:
    """Raw frame (ADU) of round Gaussian stars of ``flux`` e- and ``fwhm`` pixels on the sky."""
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    electrons = np.full(SHAPE, SKY_E)
    sigma = fwhm / 2.3548
    for xi, yi, fi in zip(x, y, flux, strict=True):
        electrons += (
            fi
            * np.exp(-((xx - xi) ** 2 + (yy - yi) ** 2) / (2 * sigma**2))
            / (2 * np.pi * sigma**2)
        )
    counts = rng.poisson(electrons) + rng.normal(0, READ_NOISE, SHAPE)
    return np.clip(np.rint(counts / GAIN + BIAS), 0, SATURATION).astype(np.uint16)


@pytest.fixture(scope="module")
def scene():
    """Stars on a grid (isolated), their catalog, and a raw frame rendered from them."""
    rng = np.random.default_rng(5)
    wcs = frame_wcs()
    xs, ys = np.meshgrid(np.arange(60, 600, 70.0), np.arange(60, 440, 70.0))
    x = xs.ravel() + rng.uniform(-0.5, 0.5, xs.size)
    y = ys.ravel() + rng.uniform(-0.5, 0.5, ys.size)
    vmag = rng.uniform(8.5, 12.5, x.size)
    flux = 32_000 * 10 ** (-0.4 * (vmag - 10)) * 2  # e- over all four Bayer pixels
    ra, dec = wcs.all_pix2world(x, y, 0)
    catalog = InMemoryCatalog(
        Table(
            {"picid": np.arange(1, x.size + 1, dtype=np.int64), "ra": ra, "dec": dec, "vmag": vmag}
        )
    )
    return wcs, catalog, render(x, y, flux, 2.5, rng), flux


def solved_fz(pixels: np.ndarray, wcs: WCS | None) -> bytes:
    header = fits.Header()
    header["EXPTIME"] = 120.0
    header["DATE-OBS"] = "2018-02-16T11:24:30"
    header["AIRMASS"] = 1.25
    if wcs is not None:
        header.extend(wcs.to_header(), update=True)
    out = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(pixels, header=header)]).writeto(out)
    return out.getvalue()


def stage_solved(ctx: ChainContext, data: bytes) -> None:
    """Put the frame in the solved bucket and mark its image solved, as plate-solve does."""
    ctx.store.put(S.solved_bucket, NAME, data)
    ctx.documents.merge("images", IMAGE_ID, {"status": "solved", "solved": True})


def test_measures_every_star_stores_the_table_and_marks_the_image(scene, ctx):
    wcs, catalog, pixels, flux = scene
    stage_solved(ctx, solved_fz(pixels, wcs))
    result = measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog)
    assert result.action == "measured" and result.detail["rows"] == len(flux)
    stored = ctx.store.read(S.sources_bucket, NAME.replace(".fits.fz", ".parquet"))
    table, metadata = read_sources_table(stored)
    assert metadata["image_id"] == IMAGE_ID and metadata["airmass"] == pytest.approx(1.25)
    start = datetime.fromisoformat("2018-02-16T11:24:30+00:00")
    assert datetime.fromisoformat(metadata["mid_exposure_time"]) == start + timedelta(seconds=60)
    table.sort("picid")
    total = np.asarray(table["flux_r"] + table["flux_g"] + table["flux_b"])
    error = np.sqrt(table["flux_err_r"] ** 2 + table["flux_err_g"] ** 2 + table["flux_err_b"] ** 2)
    # A 5 px aperture holds 1 - exp(-r^2 / 2 sigma^2) of a Gaussian star: 99.99 % here.
    pull = (total - flux) / np.asarray(error)
    unsaturated = np.asarray(table["flags"]) == 0
    assert np.all(np.abs(pull[unsaturated]) < 5), pull
    # Only saturation can flag these isolated, well-placed stars.
    sigma = 2.5 / 2.3548
    peak_adu = BIAS + (SKY_E + flux / (2 * np.pi * sigma**2)) / GAIN
    flags = np.asarray(table["flags"])
    assert np.all(flags[peak_adu > 1.1 * SATURATION] == SourceFlag.SATURATED)
    assert np.all(flags[peak_adu < 0.9 * SATURATION] == 0)
    # G holds both greens: half the pixels, so half the light of a grey star.
    assert np.median(np.asarray(table["flux_g"]) / total) == pytest.approx(0.5, abs=0.02)
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["status"] == "measured" and image["num_sources"] == len(flux)
    again = measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog)
    assert again.action == "skipped"


def test_a_frame_without_wcs_is_a_recorded_measure_error(scene, ctx):
    _, catalog, pixels, _ = scene
    stage_solved(ctx, solved_fz(pixels, None))
    result = measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog)
    assert result.action == ImageStatus.MEASURE_ERROR
    image = ctx.documents.get("images", IMAGE_ID)
    assert (
        image["status"] == ImageStatus.MEASURE_ERROR
        and "no celestial WCS" in image["measure_error_reason"]
    )
    assert ctx.store.stat(S.sources_bucket, NAME.replace(".fits.fz", ".parquet")) is None


def test_unreadable_frames_are_quarantined(scene, ctx):
    _, catalog, _, _ = scene
    stage_solved(ctx, b"SIMPLE  = this is not a frame" * 100)
    result = measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog)
    assert result.action == "quarantined"
    (kept,) = ctx.store.names(S.quarantine_bucket)
    assert kept.startswith(f"{NAME}@")
    image = ctx.documents.get("images", "PAN001_14d3bd_20180216T112430")
    assert image["status"] == "measure_error" and image["due_time"] is None


def test_the_cameras_own_constants_are_used_and_recorded(scene, ctx):
    wcs, catalog, pixels, _ = scene
    stage_solved(ctx, solved_fz(pixels, wcs))
    measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog)
    _, metadata = read_sources_table(
        ctx.store.read(S.sources_bucket, NAME.replace(".fits.fz", ".parquet"))
    )
    camera = metadata["camera"]
    assert camera["camera_id"] == "14d3bd"
    assert (camera["gain_e_per_adu"], camera["bias_adu"]) == (GAIN, BIAS)
    assert (camera["read_noise_e"], camera["saturation_adu"]) == (READ_NOISE, SATURATION)
    assert camera["gain_e_per_adu_source"].startswith("registry: cameras/14d3bd")
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["camera_constants"]["read_noise_e"]["value"] == READ_NOISE


def test_a_header_that_contradicts_the_registry_is_used_and_warned_about(scene, ctx):
    wcs, catalog, pixels, _ = scene
    data = solved_fz(pixels, wcs)
    with fits.open(io.BytesIO(data)) as hdus:
        hdus[1].header["WHTLVLN"] = SATURATION - 500  # a different body than registered
        out = io.BytesIO()
        hdus.writeto(out)
    stage_solved(ctx, out.getvalue())
    assert measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog).action == "measured"
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["camera_constants"]["saturation_adu"]["value"] == SATURATION - 500
    assert image["camera_constants"]["saturation_adu"]["source"] == "header"
    (warning,) = image["camera_warnings"]
    assert "saturation_adu" in warning and "WHTLVLN" in warning and "cameras/14d3bd" in warning


def test_a_camera_without_constants_is_a_calibration_error_and_nothing_is_measured(scene, make_ctx):
    wcs, catalog, pixels, _ = scene
    ctx = make_ctx(cameras={})
    stage_solved(ctx, solved_fz(pixels, wcs))
    result = measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog)
    assert result.action == ImageStatus.CALIBRATION_ERROR
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["status"] == "calibration_error"
    assert "camera 14d3bd: no bias_adu" in image["calibration_error_reason"]
    assert ctx.store.names(S.sources_bucket) == []
    assert ctx.store.stat(S.solved_bucket, NAME) is not None


def test_each_colours_zero_point_is_fitted_and_stored(scene, ctx):
    wcs, catalog, pixels, _ = scene
    stage_solved(ctx, solved_fz(pixels, wcs))
    measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog)
    image = ctx.documents.get("images", IMAGE_ID)
    _, metadata = read_sources_table(
        ctx.store.read(S.sources_bucket, NAME.replace(".fits.fz", ".parquet"))
    )
    assert metadata["zero_points"] == image["zero_points"] and image["zero_point_errors"] == {}
    # Grey stars of 64,000 e- (all four sites) at V = 10 in 120 s: G holds half, R and B a
    # quarter each, so V - m_inst = 10 + 2.5 log10(rate at V = 10).
    for colour, share in (("r", 0.25), ("g", 0.5), ("b", 0.25)):
        found = image["zero_points"][colour]
        truth = 10 + 2.5 * np.log10(64_000 * share / 120.0)
        assert found["zero_point"] == pytest.approx(truth, abs=0.01), colour
        assert found["zero_point_err"] < 0.01 and found["n_stars"] >= 20


def test_too_few_stars_for_a_zero_point_is_recorded_and_the_frame_still_measured(scene, ctx):
    wcs, catalog, pixels, _ = scene
    faint = InMemoryCatalog(catalog.table[:4])
    stage_solved(ctx, solved_fz(pixels, wcs))
    assert measure_sources(ctx, StoredObject(S.solved_bucket, NAME), faint).action == "measured"
    image = ctx.documents.get("images", IMAGE_ID)
    assert image["zero_points"] == {} and set(image["zero_point_errors"]) == {"r", "g", "b"}
    assert IMAGE_ID in image["zero_point_errors"]["g"]


def test_the_aperture_is_given_on_the_sky_and_set_in_pixels_by_the_frames_wcs(scene, ctx):
    wcs, catalog, pixels, _ = scene
    stage_solved(ctx, solved_fz(pixels, wcs))
    options = MeasureOptions(aperture_arcsec=41.2, annulus_arcsec=(82.4, 123.6))
    measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog, options)
    table, metadata = read_sources_table(
        ctx.store.read(S.sources_bucket, NAME.replace(".fits.fz", ".parquet"))
    )
    scale = metadata["pixel_scale_arcsec"]
    assert scale == pytest.approx(np.mean(proj_plane_pixel_scales(wcs)) * 3600, rel=1e-4)
    assert metadata["aperture_radius"] == pytest.approx(41.2 / scale, rel=1e-3)
    assert metadata["annulus"] == pytest.approx([82.4 / scale, 123.6 / scale], rel=1e-3)
    assert metadata["aperture_arcsec"] == 41.2
    # the aperture's area on each colour's pixels: pi r^2 / 4 for R
    unflagged = np.asarray(table["flags"]) == 0
    area = np.asarray(table["npix_r"])[unflagged]
    assert np.median(area) == pytest.approx(np.pi * (41.2 / scale) ** 2 / 4, rel=0.02)


def test_the_centroid_box_shift_and_width_window_are_given_on_the_sky():
    options = MeasureOptions()
    # at the units' 10.3 arcsec: today's 5 x 5-superpixel box, 1.5 px shift, 10 px window
    assert options.windows_in_pixels(10.3) == (2, 1.5, 10)
    aperture, annulus = options.in_pixels(10.3)
    assert aperture == pytest.approx(5.0) and annulus == pytest.approx((9.0, 14.0))
    # at half the pixel scale every size is twice the pixels; the box stays an odd number of
    # superpixels, the nearest to 10 (20 px) on the larger side: 11 (22 px)
    assert options.windows_in_pixels(5.15) == (5, 3.0, 20)
    aperture, annulus = options.in_pixels(5.15)
    assert aperture == pytest.approx(10.0) and annulus == pytest.approx((18.0, 28.0))
    # the box side nearest the request: 14 px is 7 x 7 superpixels, 15 px too
    assert MeasureOptions(centroid_box_arcsec=14 * 10.3).windows_in_pixels(10.3)[0] == 3
    assert MeasureOptions(centroid_box_arcsec=15 * 10.3).windows_in_pixels(10.3)[0] == 3
    # never smaller than 3 x 3 superpixels, nor a window under one pixel
    tiny = MeasureOptions(centroid_box_arcsec=5.0, width_window_arcsec=2.0)
    assert tiny.windows_in_pixels(10.3) == (1, 1.5, 1)


@pytest.fixture(scope="module")
def fine_stars():
    """Stars of FWHM 5 px: the sky of the 10.3 arcsec frames sampled at 5.15 arcsec.

    A grid of isolated V 10 to 11 stars and one 15 px from the left edge (the last row).
    """
    rng = np.random.default_rng(7)
    xs, ys = np.meshgrid(np.arange(80, 600, 90.0), np.arange(80, 420, 90.0))
    x = np.r_[xs.ravel() + rng.uniform(-0.5, 0.5, xs.size), 15.2]
    y = np.r_[ys.ravel() + rng.uniform(-0.5, 0.5, ys.size), 240.3]
    vmag = rng.uniform(10.0, 11.0, x.size)
    flux = 32_000 * 10 ** (-0.4 * (vmag - 10)) * 2
    return x, y, vmag, render(x, y, flux, 5.0, rng)


def test_the_centroid_and_width_sizes_are_set_in_pixels_by_the_frames_wcs(fine_stars, make_ctx):
    """Catalog positions 2.5 px from the stars: within 15.45 arcsec only at 5.15 arcsec/px."""
    x, y, vmag, pixels = fine_stars
    measured = {}
    for scale in (10.3, 5.15):
        ctx = make_ctx()
        wcs = frame_wcs(scale)
        ra, dec = wcs.all_pix2world(x + 2.0, y + 1.5, 0)
        picid = np.arange(1, x.size + 1, dtype=np.int64)
        catalog = InMemoryCatalog(Table({"picid": picid, "ra": ra, "dec": dec, "vmag": vmag}))
        stage_solved(ctx, solved_fz(pixels, wcs))
        assert measure_sources(ctx, StoredObject(S.solved_bucket, NAME), catalog).action == (
            "measured"
        )
        table, metadata = read_sources_table(
            ctx.store.read(S.sources_bucket, NAME.replace(".fits.fz", ".parquet"))
        )
        table.sort("picid")
        assert len(table) == x.size
        measured[scale] = table, metadata
    on_sky = {"centroid_box_arcsec": 103.0, "max_centroid_shift_arcsec": 15.45}
    on_sky["width_window_arcsec"] = 103.0
    coarse, coarse_metadata = measured[10.3]
    fine, fine_metadata = measured[5.15]
    # the sizes each table was measured with: on the sky, and in the frame's pixels
    for metadata, pixel_sizes in ((coarse_metadata, (10, 1.5, 10)), (fine_metadata, (22, 3.0, 20))):
        assert {key: metadata[key] for key in on_sky} == on_sky
        recorded = (metadata["centroid_box"], metadata["max_centroid_shift"])
        assert recorded + (metadata["width_window"],) == pixel_sizes
    # 2.5 px is more than 1.5 px: every star keeps its WCS position
    assert np.array_equal(coarse["x"], coarse["x_wcs"])
    assert np.array_equal(coarse["y"], coarse["y_wcs"])
    # at most 3 px: every star is refined, onto the star (a 5 x 5 box would cut the star off:
    # 0.6 px median error here)
    assert np.all(np.asarray(fine["x"]) != np.asarray(fine["x_wcs"]))
    error = np.hypot(np.asarray(fine["x"]) - x, np.asarray(fine["y"]) - y)
    assert np.median(error) < 0.3 and error.max() < 0.5
    # widths in a 20 px window: the star 15 px from the edge has none (in 10 px it would)
    fwhm = np.asarray(fine["fwhm"], dtype=float)
    assert np.isnan(fwhm[-1])
    assert np.nanmedian(fwhm[:-1]) == pytest.approx(5.0, rel=0.05)
    assert np.isfinite(fwhm[:-1]).all()
