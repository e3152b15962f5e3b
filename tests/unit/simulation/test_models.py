"""The simulator's physical models, each against an independent reference.

References: ``math.erf``; analytic moments of a pixel-integrated Gaussian; the real PAN001
frame ``tiny.fits`` (its sky level and its header's AIRMASS, MOONSEP, MOONFRAC, HA-MNT);
published relations (Ballesteros 2012 for the Sun, Kasten & Young 1989 at the zenith); exact
bilinear reproduction of planes; spherical geometry for the WCS.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import MaskedColumn, Table

from panoptes_network.catalog.star_catalog import angular_separation
from panoptes_network.frames.camera import BAYER_SITES
from panoptes_network.simulation.camera import COLOURS, CameraModel, bayer_colour_index, hot_pixels
from panoptes_network.simulation.clouds import CloudScreen
from panoptes_network.simulation.observing import kasten_young_airmass, observing_conditions
from panoptes_network.simulation.passbands import (
    PASSBANDS,
    bv_from_picid,
    bv_from_teff,
    channel_fluxes,
    star_colours,
)
from panoptes_network.simulation.pointing import PointingModel
from panoptes_network.simulation.psf import PsfModel, erf, gaussian_profiles
from panoptes_network.simulation.sky import SkyModel, nanolamberts_to_v, v_to_nanolamberts
from panoptes_network.simulation.smooth_field import SmoothField
from panoptes_network.simulation.unit import DEFAULT_UNIT, Unit

# --------------------------------------------------------------------------------------
# Camera
# --------------------------------------------------------------------------------------


def test_bayer_colour_index_follows_the_rggb_layout_of_the_design():
    rows, cols = np.mgrid[0:6, 0:8]
    colour = bayer_colour_index(rows, cols)
    assert (colour[1::2, 0::2] == COLOURS.index("R")).all()
    assert (colour[1::2, 1::2] == COLOURS.index("G")).all()
    assert (colour[0::2, 0::2] == COLOURS.index("G")).all()
    assert (colour[0::2, 1::2] == COLOURS.index("B")).all()
    assert BAYER_SITES == {"R": (1, 0), "G1": (1, 1), "G2": (0, 0), "B": (0, 1)}


def test_each_camera_has_its_own_electronics_within_the_fleets_spread():
    camera = CameraModel()
    assert camera.shape == (3476, 5208)
    ids = ["14d3bd", "ee04d1", "95cdbc", "0a0b0c", "358d0f", "abcdef"]
    cameras = [CameraModel(i, width=2, height=2) for i in ids]
    for c in cameras:
        assert 2030 <= c.bias_adu <= 2070 and 11400 <= c.saturation_adu <= 12300
        assert 1.2 <= c.gain <= 1.9 and 6.0 <= c.read_noise <= 12.0
        # the same id, the same camera
        assert CameraModel(c.camera_id, width=2, height=2) == c
    # no two cameras share their constants: a fleet-wide default would be wrong for most
    for name in ("bias_adu", "saturation_adu", "gain", "read_noise"):
        assert len({getattr(c, name) for c in cameras}) >= 4, name
    # given values win over the drawn ones
    given = CameraModel("14d3bd", bias_adu=1024.0, gain=2.0, read_noise=3.0, saturation_adu=4000)
    assert (given.bias_adu, given.gain, given.read_noise, given.saturation_adu) == (
        1024.0,
        2.0,
        3.0,
        4000,
    )
    with pytest.raises(ValueError, match="saturation"):
        CameraModel("14d3bd", bias_adu=5000.0, saturation_adu=4000)
    entry = camera.registry_entry("test")
    assert entry["gain_e_per_adu"] == camera.gain and entry["gain_e_per_adu_source"] == "test"
    assert camera.vignetting(*camera.centre) == pytest.approx(1.0)
    assert camera.vignetting(0, 0) == pytest.approx(1 - camera.vignetting_loss, rel=1e-3)


@pytest.mark.parametrize("bad", ["14D3BD", "xyz123", "14d3b", ""])
def test_camera_rejects_bad_ids(bad):
    with pytest.raises(ValueError, match="camera id"):
        CameraModel(bad)


def test_hot_pixels_are_fixed_per_camera_and_differ_between_cameras():
    a1, a2 = hot_pixels(CameraModel("14d3bd")), hot_pixels(CameraModel("14d3bd"))
    b = hot_pixels(CameraModel("ee04d1"))
    assert np.array_equal(a1.rows, a2.rows) and np.array_equal(a1.dark_current, a2.dark_current)
    assert not np.array_equal(a1.rows * 5208 + a1.cols, b.rows * 5208 + b.cols)
    assert len(set((a1.rows * 5208 + a1.cols).tolist())) == 300
    assert (a1.dark_current >= 4).all() and (a1.dark_current <= 150).all()


# --------------------------------------------------------------------------------------
# PSF
# --------------------------------------------------------------------------------------


def test_erf_matches_math_erf():
    x = np.linspace(-5, 5, 2001)
    assert np.max(np.abs(erf(x) - np.array([math.erf(v) for v in x]))) < 2e-7


def test_gaussian_profiles_have_the_moments_of_a_pixel_integrated_gaussian():
    rng = np.random.default_rng(3)
    centres = rng.uniform(100, 101, 50)
    sigmas = rng.uniform(0.85, 1.3, 50)
    first, profiles = gaussian_profiles(centres, sigmas)
    pixels = first[:, None] + np.arange(profiles.shape[1])
    assert np.allclose(profiles.sum(axis=1), 1.0, atol=1e-7)
    mean = (profiles * pixels).sum(axis=1)
    var = (profiles * (pixels - mean[:, None]) ** 2).sum(axis=1)
    # Box-integrating a Gaussian keeps the mean and adds 1/12 px^2 of variance (Sheppard).
    assert np.allclose(mean, centres, atol=1e-6)
    assert np.allclose(var, sigmas**2 + 1 / 12, rtol=2e-3)


def test_psf_fwhm_stays_within_2_and_3_pixels_and_grows_outwards():
    psf = PsfModel.random(np.random.default_rng(0))
    camera = CameraModel()
    x, y = np.meshgrid(np.linspace(0, 5207, 30), np.linspace(0, 3475, 20))
    for seconds in (0, 600, 3000):
        fwhm = psf.fwhm(x, y, camera.shape, seconds)
        assert fwhm.min() >= 2.0 and fwhm.max() <= 3.0
    cx, cy = camera.centre
    assert psf.fwhm(0, 0, camera.shape, 0) > psf.fwhm(cx, cy, camera.shape, 0)


# --------------------------------------------------------------------------------------
# Passbands and colours
# --------------------------------------------------------------------------------------


def test_zero_point_and_magnitude_scale():
    g = COLOURS.index("G")
    ref = channel_fluxes(10.0, 0.65, 120.0)[0]
    assert ref[g] == pytest.approx(32_000.0)
    # 5 magnitudes fainter is 100 times fainter; twice the exposure, twice the electrons.
    assert channel_fluxes(15.0, 0.65, 240.0)[0] == pytest.approx(ref / 50.0)


def test_extinction_dims_blue_most():
    above = channel_fluxes(10.0, 0.65, 120.0, airmass=0.0)[0]
    at_two = channel_fluxes(10.0, 0.65, 120.0, airmass=2.0)[0]
    for i, band in enumerate(PASSBANDS):
        assert at_two[i] / above[i] == pytest.approx(10 ** (-0.8 * band.extinction))
    ratio = at_two / above
    assert ratio[0] > ratio[1] > ratio[2]


def test_redder_stars_are_brighter_in_red_and_fainter_in_blue():
    blue, red = channel_fluxes([10, 10], [0.0, 1.5], 120.0)
    r, g, b = (COLOURS.index(c) for c in "RGB")
    assert red[r] / red[g] > blue[r] / blue[g]
    assert red[b] / red[g] < blue[b] / blue[g]


def test_bv_from_teff_gives_the_suns_colour_and_inverts_ballesteros():
    # The Sun: T = 5772 K, B-V = 0.65 (within the relation's accuracy).
    assert bv_from_teff(5772.0) == pytest.approx(0.65, abs=0.02)
    bv = np.linspace(-0.2, 1.8, 21)
    teff = 4600.0 * (1 / (0.92 * bv + 1.7) + 1 / (0.92 * bv + 0.62))
    assert np.allclose(bv_from_teff(teff), bv, atol=1e-9)


def test_bv_from_picid_is_stable_and_plausibly_distributed():
    ids = np.arange(900_000_000_000, 900_000_200_000, 2, dtype=np.int64)
    bv = bv_from_picid(ids)
    assert np.array_equal(bv, bv_from_picid(ids))
    assert bv.min() >= -0.25 and bv.max() <= 2.0
    # Mixture mean 0.55 * 0.55 + 0.45 * 1.15 = 0.82; a bimodal spread.
    assert bv.mean() == pytest.approx(0.82, abs=0.01)
    assert 0.3 < bv.std() < 0.45
    assert abs(np.corrcoef(bv[:-1], bv[1:])[0, 1]) < 0.01  # neighbouring ids independent


def test_star_colours_prefer_catalog_columns():
    stars = Table(
        {
            "picid": [1, 2, 3, 4],
            "vmag": [10.0, 11.0, 12.0, 9.0],
            "bv": MaskedColumn([0.3, np.nan, 0.0, 0.0], mask=[False, False, True, True]),
            "bmag": [np.nan, 12.2, np.nan, np.nan],
            "teff": [np.nan, np.nan, 5772.0, np.nan],
        }
    )
    bv, source = star_colours(stars)
    assert list(source) == ["bv", "bmag", "teff", "picid"]
    assert bv[:3] == pytest.approx([0.3, 1.2, 0.65], abs=0.02)
    assert bv[3] == pytest.approx(bv_from_picid([4])[0])


# --------------------------------------------------------------------------------------
# Sky
# --------------------------------------------------------------------------------------


def test_nanolambert_conversion_round_trips_and_matches_ks91():
    assert nanolamberts_to_v(v_to_nanolamberts(21.587)) == pytest.approx(21.587)
    # K&S 1991: V = 21.587 mag/arcsec^2 (their Mauna Kea dark sky) is 79.0 nL.
    assert v_to_nanolamberts(21.587) == pytest.approx(79.0, rel=0.01)


def test_dark_sky_is_the_zenith_value_and_brightens_towards_the_horizon():
    sky = SkyModel()
    assert sky.surface_brightness(90.0, -10.0, 90.0, 0.0) == pytest.approx(21.5)
    low = sky.surface_brightness(30.0, -10.0, 90.0, 0.0)
    assert 20.8 < low < 21.3  # van Rhijn brightening less extinction at airmass 2


def test_moon_brightens_the_sky_as_expected():
    sky = SkyModel()
    full_near = sky.surface_brightness(60.0, 50.0, 30.0, 0.0)
    full_far = sky.surface_brightness(60.0, 50.0, 90.0, 0.0)
    quarter = sky.surface_brightness(60.0, 50.0, 90.0, 90.0)
    new = sky.surface_brightness(60.0, 50.0, 90.0, 180.0)
    # Full Moon skies are about 18-19.5 mag/arcsec^2 in V (K&S 1991 fig. 2; ESO's tables).
    assert 17.5 < full_near < full_far < 19.8
    assert full_far < quarter < new < 21.5


def test_sky_electrons_of_the_dark_zenith_follow_the_zero_point():
    sky = SkyModel()
    per_pixel = sky.electrons_per_pixel(90.0, -10.0, 90.0, 0.0, 10.3, 120.0)
    magnitude = 21.5 - 5 * math.log10(10.3)  # V magnitude of one pixel's sky
    g = 32_000.0 * 10 ** (-0.4 * (magnitude - 10.0)) / 0.5  # zero point over G's pixel share
    assert per_pixel[COLOURS.index("G")] == pytest.approx(g, rel=1e-9)


def test_sky_model_reproduces_the_sky_of_the_real_frame(panoptes_data):
    with fits.open(panoptes_data / "tiny.fits") as hdus:
        header, data = hdus[0].header, hdus[0].data.astype(float)
    moment = datetime.fromisoformat(header["DATE-OBS"]).replace(tzinfo=timezone.utc)
    unit = Unit("PAN001", header["LAT-OBS"], header["LONG-OBS"], header["ELEV-OBS"])
    c = observing_conditions(unit, moment, header["RA-MNT"], header["DEC-MNT"])
    model = SkyModel().electrons_per_pixel(
        c.altitude, c.moon.altitude, c.moon_separation, c.moon.phase_angle, 10.3, 120.4
    )
    # The real sky per colour: medians of the Bayer sites, above bias, times the gain.
    real = [
        (np.median(data[1::2, 0::2]) - 2048) * 1.5,
        (np.median(np.concatenate([data[1::2, 1::2], data[0::2, 0::2]])) - 2048) * 1.5,
        (np.median(data[0::2, 1::2]) - 2048) * 1.5,
    ]
    assert model == pytest.approx(real, rel=0.2)


# --------------------------------------------------------------------------------------
# Observing conditions against the real frame's header
# --------------------------------------------------------------------------------------


def test_observing_conditions_match_the_real_unit_header(panoptes_data):
    header = fits.getheader(panoptes_data / "tiny.fits")
    # POCS computed the cards when it wrote the CR2 (FILENAME's time), 48 s after DATE-OBS.
    moment = datetime.strptime(header["FILENAME"][:15], "%Y%m%dT%H%M%S").replace(
        tzinfo=timezone.utc
    )
    unit = Unit("PAN001", header["LAT-OBS"], header["LONG-OBS"], header["ELEV-OBS"])
    c = observing_conditions(unit, moment, header["RA-MNT"], header["DEC-MNT"])
    assert c.airmass == pytest.approx(header["AIRMASS"], rel=2e-3)
    assert c.moon_separation == pytest.approx(header["MOONSEP"], abs=0.05)
    assert c.moon.fraction == pytest.approx(header["MOONFRAC"], abs=2e-3)
    assert c.hour_angle == pytest.approx(header["HA-MNT"], abs=2e-3)  # hours
    assert c.sun_altitude < -18


def test_kasten_young_airmass_is_one_at_zenith_and_close_to_secz_high_up():
    assert kasten_young_airmass(90.0) == pytest.approx(1.0, abs=1e-3)
    for alt in (30.0, 45.0, 70.0):
        assert kasten_young_airmass(alt) == pytest.approx(1 / math.sin(math.radians(alt)), rel=3e-3)
    assert 30 < kasten_young_airmass(0.0) < 40


def test_unit_rejects_bad_ids_and_sites():
    with pytest.raises(ValueError, match="unit id"):
        Unit("PANX01")
    with pytest.raises(ValueError, match="latitude"):
        Unit("PAN002", latitude=95)
    assert DEFAULT_UNIT == Unit("PAN001", 19.54, -155.58, 3400.0)


# --------------------------------------------------------------------------------------
# Smooth fields and clouds
# --------------------------------------------------------------------------------------


def test_smooth_field_reproduces_a_plane_exactly():
    shape = (300, 500)
    field = SmoothField.from_function(lambda x, y: 3.0 + 0.01 * x - 0.02 * y, shape, (5, 7))
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 499, 100), rng.uniform(0, 299, 100)
    assert np.allclose(field.at(x, y), 3.0 + 0.01 * x - 0.02 * y)
    rows, cols = np.arange(1, 300, 2), np.arange(0, 500, 2)
    grid = field.sample(rows, cols)
    assert np.allclose(grid, 3.0 + 0.01 * cols[None, :] - 0.02 * rows[:, None], atol=1e-4)


def test_clouds_transmit_between_zero_and_one_and_move_with_the_wind():
    screen = CloudScreen.random(np.random.default_rng(5))
    x, y = np.meshgrid(np.linspace(0, 5207, 60), np.linspace(0, 3475, 40))
    now = screen.transmission(x, y, 0.0)
    assert (now > 0).all() and (now <= 1).all()
    assert now.min() < 0.9 and (now == 1).any()  # some cloud, some clear sky
    vx, vy = screen.velocity
    later = screen.transmission(x + vx * 100, y + vy * 100, 100.0)
    assert np.allclose(later, now)  # frozen flow: the pattern moves with the wind
    clear = CloudScreen.random(np.random.default_rng(5), coverage=0.0)
    assert np.allclose(clear.transmission(x, y, 0.0), 1.0)


# --------------------------------------------------------------------------------------
# Pointing and WCS
# --------------------------------------------------------------------------------------


def test_pointing_error_rotation_and_scale_of_the_true_wcs():
    camera = CameraModel()
    model = PointingModel.random(301.564, 44.457, np.random.default_rng(9))
    ra, dec = model.true_centre
    error = angular_separation(301.564, 44.457, ra, dec)
    assert error == pytest.approx(model.error, abs=1e-9) and 0.2 <= error <= 1.0
    wcs = model.wcs(camera, 0.0)
    cx, cy = camera.centre
    sky = wcs.all_pix2world([cx, cx + 1, cx], [cy, cy, cy + 1], 0)
    assert angular_separation(ra, dec, sky[0][0], sky[1][0]) < 1e-9
    step_x = angular_separation(sky[0][0], sky[1][0], sky[0][1], sky[1][1]) * 3600
    step_y = angular_separation(sky[0][0], sky[1][0], sky[0][2], sky[1][2]) * 3600
    assert step_x == pytest.approx(10.3, rel=1e-6) and step_y == pytest.approx(10.3, rel=1e-6)
    # Frame size: about 15 x 10 degrees.
    corners = wcs.all_pix2world([0, 5207, 0], [0, 0, 3475], 0)
    width = angular_separation(corners[0][0], corners[1][0], corners[0][1], corners[1][1])
    height = angular_separation(corners[0][0], corners[1][0], corners[0][2], corners[1][2])
    assert 14.5 < width < 15.2 and 9.7 < height < 10.2


def test_tracking_drift_moves_the_stars_by_the_drift():
    camera = CameraModel()
    model = PointingModel(10.0, 20.0, 0.5, 30.0, 1.0, (4.0, -3.0))
    star = model.wcs(camera, 0.0).all_pix2world(1000.0, 800.0, 0)
    x, y = model.wcs(camera, 2.0).all_world2pix(star[0], star[1], 0)
    assert (float(x) - 1000.0, float(y) - 800.0) == pytest.approx((8.0, -6.0), abs=1e-6)
