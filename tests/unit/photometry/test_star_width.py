"""Star widths against the simulator's PSF: the FWHM the frame was rendered with is the truth.

Frames are rendered by the simulator's detector model with the sigmas of a
:class:`~panoptes_network.simulation.psf.PsfModel` (FWHM growing towards the corners,
elongated off-axis); its ``fwhm`` at each star is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table
from scipy.special import erf

from panoptes_network.frames.camera import plane_offsets
from panoptes_network.photometry.flags import SourceFlag
from panoptes_network.photometry.frame_photometry import measure_frame
from panoptes_network.photometry.star_width import SIGMA_TO_FWHM, star_fwhm
from panoptes_network.simulation import CameraModel
from panoptes_network.simulation.camera import HotPixels
from panoptes_network.simulation.psf import PsfModel
from panoptes_network.simulation.render import FrameScene, digitise, expected_electrons
from panoptes_network.simulation.smooth_field import SmoothField

NO_HOT = HotPixels(np.zeros(0, int), np.zeros(0, int), np.zeros(0))
SKY = (150.0, 300.0, 200.0)  # e- per pixel, R G B
COLOUR_FLUX = np.array([8_000.0, 30_000.0, 11_000.0])  # e- of a V = 10 star, R G B


def render_psf(camera, x, y, vmag, psf, seed):
    """Raw pixels of stars rendered with a PSF model's sigmas at time 0."""
    sigma_x, sigma_y = psf.sigmas(x, y, camera.shape, 0.0)
    scene = FrameScene(
        camera=camera,
        x=x,
        y=y,
        fluxes=COLOUR_FLUX * 10 ** (-0.4 * (np.asarray(vmag) - 10))[:, None],
        sigma_x=sigma_x,
        sigma_y=sigma_y,
        sky=tuple(SmoothField(np.full((3, 3), v), camera.shape) for v in SKY),
        hot=NO_HOT,
        exptime=120.0,
    )
    electrons, _ = expected_electrons(scene)
    return digitise(electrons, camera, np.random.default_rng(seed))


def catalog(x, y, vmag):
    n = len(x)
    return Table(
        {
            "picid": np.arange(n, dtype=np.int64) + 1,
            "ra": np.zeros(n),
            "dec": np.zeros(n),
            "vmag": np.asarray(vmag, float),
            "x": np.asarray(x, float),
            "y": np.asarray(y, float),
        }
    )


@pytest.fixture(scope="module")
def grid():
    """600 isolated stars, V 9 to 13, on a 1200 x 900 frame; catalog positions off by 0.3 px."""
    camera = CameraModel("0abcde", width=1200, height=900, hot_pixel_count=0)
    rng = np.random.default_rng(4)
    gx, gy = np.meshgrid(np.arange(40, 1170, 40), np.arange(40, 870, 40))
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    vmag = rng.uniform(9.0, 13.0, x.size)
    rows = catalog(x + rng.normal(0, 0.3, x.size), y + rng.normal(0, 0.3, x.size), vmag)
    return camera, x, y, vmag, rows


# The simulator's default (2.25 px at the centre, 2.8 px at the corners) and a defocused PSF.
@pytest.mark.parametrize("centre_fwhm", [2.25, 4.5])
def test_median_fwhm_recovers_the_simulated_psf(grid, centre_fwhm):
    camera, x, y, vmag, rows = grid
    psf = PsfModel(
        centre_fwhm=centre_fwhm, corner_fwhm=centre_fwhm * 2.8 / 2.25, fwhm_range=(1.0, 10.0)
    )
    pixels = render_psf(camera, x, y, vmag, psf, seed=8)
    table = measure_frame(pixels, None, rows, **camera.measure_constants())
    true = psf.fwhm(x, y, camera.shape, 0.0)
    measured = np.asarray(table["fwhm"], float)
    assert table["fwhm"].dtype == np.float32 and table["fwhm"].unit == "pix"
    snr = np.asarray(table["flux_g"] / table["flux_err_g"])
    measurable = (table["flags"] == 0) & (snr >= 20.0)
    assert measurable.sum() > 400
    assert np.isfinite(measured[measurable]).all() and np.isnan(measured[~measurable]).all()
    # the median of the ratio to the truth: 1.0001 (2.25 px) and 1.0005 (4.5 px) here
    ratio = measured / true
    assert np.nanmedian(ratio) == pytest.approx(1.0, abs=0.02)
    assert np.nanmedian(measured) == pytest.approx(np.median(true), rel=0.02)
    # single stars: a few percent (noise and the Bayer sampling of sharp stars)
    assert np.nanpercentile(np.abs(ratio - 1.0), 90) < 0.08


def test_width_is_nan_off_frame_saturated_and_faint():
    camera = CameraModel("0abcde", width=400, height=300, hot_pixel_count=0)
    x = np.array([100.0, 200.0, -20.0, 300.0, 4.0, 250.0])
    y = np.array([100.0, 200.0, 150.0, 80.0, 150.0, 150.0])
    vmag = np.array([10.0, 6.0, 10.0, 17.0, 10.0, 11.0])
    pixels = render_psf(camera, x, y, vmag, PsfModel(), seed=2)
    table = measure_frame(pixels, None, catalog(x, y, vmag), **camera.measure_constants())
    fwhm = np.asarray(table["fwhm"], float)
    assert table["flags"][1] & SourceFlag.SATURATED
    assert table["flags"][2] & SourceFlag.OFF_FRAME
    assert np.isfinite(fwhm[[0, 5]]).all()
    assert np.isnan(fwhm[1:5]).all()  # saturated, off frame, too faint, window off the edge


def test_star_fwhm_is_nan_where_the_window_leaves_the_frame_or_there_is_no_star():
    pixels = np.full((60, 80), 2048, dtype=np.uint16)
    greens = plane_offsets("RGGB", pixels.shape[0])["g"]
    fwhm = star_fwhm(pixels, [3.0, 40.0, np.nan], [30.0, 30.0, 30.0], 2048.0, green_offsets=greens)
    assert fwhm.dtype == np.float32 and np.isnan(fwhm).all()


def test_the_width_window_is_passed_to_the_width_measurement():
    """A star 15 px from the edge: inside a 10 px window, not inside a 20 px one."""
    camera = CameraModel("0abcde", width=400, height=300, hot_pixel_count=0)
    x, y, vmag = np.array([15.0, 200.0]), np.array([150.0, 150.0]), np.array([10.0, 10.0])
    pixels = render_psf(camera, x, y, vmag, PsfModel(), seed=2)
    rows, constants = catalog(x, y, vmag), camera.measure_constants()
    default = np.asarray(measure_frame(pixels, None, rows, **constants)["fwhm"], float)
    wide = np.asarray(measure_frame(pixels, None, rows, **constants, width_window=20)["fwhm"])
    assert np.isfinite(default).all()
    assert np.isnan(wide[0]) and wide[1] == pytest.approx(default[1], rel=0.01)


def gaussian_frame(shape, x, y, fwhm, flux, sky, seed):
    """Raw frame (ADU, bias 2048, gain 1) of one round pixel-integrated Gaussian star."""
    sigma = fwhm / SIGMA_TO_FWHM
    columns = np.diff(0.5 * erf((np.arange(shape[1] + 1) - 0.5 - x) / (np.sqrt(2) * sigma)))
    rows = np.diff(0.5 * erf((np.arange(shape[0] + 1) - 0.5 - y) / (np.sqrt(2) * sigma)))
    electrons = sky + flux * rows[:, None] * columns[None, :]
    return np.random.default_rng(seed).poisson(electrons) + 2048


def test_the_star_sizes_scale_with_the_window():
    """The same star at half the pixel scale, in a window twice as large, has twice the FWHM.

    A FWHM of 16 px (sigma 6.8 px) is beyond the 6 px sigma of a 10 px window, not of 20 px.
    """
    greens = plane_offsets("RGGB", 120)["g"]
    for fwhm, window in ((8.0, 10), (16.0, 20)):
        pixels = gaussian_frame((120, 160), 80.3, 60.6, fwhm, 4e6, 300.0, seed=1)
        found = star_fwhm(pixels, [80.3], [60.6], 2348.0, green_offsets=greens, window=window)
        assert found[0] == pytest.approx(fwhm, rel=0.01), window
    with pytest.raises(ValueError, match="window"):
        star_fwhm(pixels, [80.3], [60.6], 2348.0, green_offsets=greens, window=0)
