"""Full-size simulated frames of a real field (Tycho-2 stars), checked end to end.

One module fixture renders, from the astrometry.net Tycho-2 index: a single probe frame, then
a 3-frame sequence (10 minutes apart, the Moon up) with a 3 % box transit during the middle
frame on a star chosen from the probe's truth. References: astrometry.net ``solve-field``, the
real frame ``tiny.fits`` (header layout and types), an independent astropy computation of the
pointing cards, numpy aperture photometry and the detector's noise formula.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from datetime import datetime, timedelta, timezone

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_body
from astropy.io import fits
from astropy.time import Time
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from panoptes_network.catalog.star_catalog import InMemoryCatalog, angular_separation
from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.fits_header import read_header_from_file
from panoptes_network.ingest.upload_plan import bucket_path_for, uploadable_files
from panoptes_network.simulation import (
    SequenceSpec,
    SequenceTruth,
    Transit,
    read_frame,
    simulate_sequence,
)
from panoptes_network.simulation.camera import bayer_colour_index
from panoptes_network.simulation.unit import use_offline_earth_data

START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)  # Moon 61 % lit, 37 deg up
FIELD = (301.564, 44.457)
SEED = 7
INTERVAL = 600.0
EXPTIME = 120.0
DEPTH = 0.03
# The default simulated camera's own electronics (SequenceSpec's camera): not fleet defaults.
_CAMERA = SequenceSpec.__dataclass_fields__["camera"].default_factory()
GAIN, BIAS, READ_NOISE = _CAMERA.gain, _CAMERA.bias_adu, _CAMERA.read_noise


@pytest.fixture(scope="module")
def tycho() -> InMemoryCatalog:
    files = find_index_files()
    if not files:
        pytest.skip("astrometry.net Tycho-2 index files not installed (astrometry-data-tycho2)")
    return InMemoryCatalog(read_index_stars(files))


def isolated_stars(stars, hot, width=5208, height=3476, radius=40.0, edge=100.0):
    """Indices of stars with no neighbour above 0.1 % of their flux or hot pixel nearby."""
    x, y = np.asarray(stars["x"]), np.asarray(stars["y"])
    total = np.asarray(stars["flux_g"])
    keep = []
    for i in range(len(stars)):
        if not (edge < x[i] < width - edge and edge < y[i] < height - edge):
            continue
        near = np.hypot(x - x[i], y - y[i]) < radius
        near[i] = False
        if np.any(total[near] > 1e-3 * total[i]):
            continue
        if np.any((np.abs(hot["col"] - x[i]) < radius) & (np.abs(hot["row"] - y[i]) < radius)):
            continue
        keep.append(i)
    return np.array(keep, dtype=int)


@pytest.fixture(scope="module")
def sequence(tycho, tmp_path_factory):
    root = tmp_path_factory.mktemp("simulated")
    spec = SequenceSpec(
        ra=FIELD[0], dec=FIELD[1], start=START, count=1, seed=SEED, field_name="KIC 8462852"
    )
    probe = simulate_sequence(spec, tycho, root / "probe")
    truth = SequenceTruth.read(probe.folder)
    stars = truth.frame_stars(0)
    quiet = isolated_stars(stars, truth.hot_pixels)
    bright = quiet[stars["peak_adu"][quiet] < 9000]
    star = stars[bright[np.argmax(stars["flux_g"][bright])]]
    mid = START + timedelta(seconds=INTERVAL + EXPTIME / 2)
    transit = Transit(int(star["picid"]), mid, DEPTH, 5.0, limb_darkening=None)
    spec = SequenceSpec(
        ra=FIELD[0],
        dec=FIELD[1],
        start=START,
        count=3,
        interval=INTERVAL,
        seed=SEED,
        events=(transit,),
        field_name="KIC 8462852",
    )
    result = simulate_sequence(spec, tycho, root / "run")
    return {"probe": probe, "result": result, "root": root / "run", "picid": int(star["picid"])}


# --------------------------------------------------------------------------------------
# Files, names and headers
# --------------------------------------------------------------------------------------


def test_files_follow_the_bucket_path_grammar_and_headers_match(sequence):
    result = sequence["result"]
    assert len(result.frames) == 3
    assert uploadable_files([result.folder]) == sorted(result.frames)  # truth is not uploaded
    for path in result.frames:
        name = path.relative_to(sequence["root"]).as_posix()
        parsed = ImagePath.parse(name)
        header = read_header_from_file(path)
        assert header["IMAGEID"] == parsed.image_id
        assert header["SEQID"] == parsed.sequence_id == "PAN001_14d3bd_20240912T063000"
        assert header["DATE-OBS"].replace("-", "").replace(":", "") == parsed.image_start
        assert bucket_path_for(path, header) == name


def test_header_has_the_cards_and_types_of_the_real_frame(sequence, panoptes_data):
    real = read_header_from_file(panoptes_data / "tiny.fits")
    for path in sequence["result"].frames:
        ours = read_header_from_file(path)
        assert [c.keyword for c in ours.cards] == [c.keyword for c in real.cards]
        assert [c.comment for c in ours.cards][:-2] == [c.comment for c in real.cards][:-2]
        for keyword in real:
            assert type(ours[keyword]) is type(real[keyword]), keyword
        assert (ours["NAXIS1"], ours["NAXIS2"], ours["BITPIX"], ours["BZERO"]) == (
            5208,
            3476,
            16,
            32768,
        )
        assert ours["EXPTIME"] == EXPTIME and ours["FIELD"] == "KIC 8462852"
        assert (ours["INSTRUME"], ours["OBSERVER"]) == ("14d3bd", "PAN001")
        assert (ours["LAT-OBS"], ours["LONG-OBS"], ours["ELEV-OBS"]) == (19.54, -155.58, 3400.0)


def test_checksums_are_valid(sequence):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy warns on a bad CHECKSUM or DATASUM
        with fits.open(sequence["result"].frames[0], checksum=True) as hdus:
            assert hdus[0].data.dtype.kind == "u" and hdus[0].data.shape == (3476, 5208)


def test_pointing_cards_agree_with_an_independent_astropy_computation(sequence):
    use_offline_earth_data()
    site = EarthLocation.from_geodetic(-155.58 * u.deg, 19.54 * u.deg, 3400 * u.m)
    for path in sequence["result"].frames:
        header = fits.getheader(path)
        when = Time(header["DATE-OBS"], scale="utc")
        target = SkyCoord(header["RA-MNT"] * u.deg, header["DEC-MNT"] * u.deg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyWarning)
            secz = target.transform_to(AltAz(obstime=when, location=site)).secz.value
            moon = get_body("moon", when, site)
            moonsep = moon.separation(target).deg
            elongation = get_body("sun", when).separation(get_body("moon", when)).rad
            lst = when.sidereal_time("apparent", longitude=site.lon).hour
        assert header["AIRMASS"] == pytest.approx(secz, rel=1e-4)
        assert header["MOONSEP"] == pytest.approx(moonsep, abs=0.02)
        # Lit fraction from the elongation alone: (1 - cos(elongation)) / 2.
        assert header["MOONFRAC"] == pytest.approx((1 - np.cos(elongation)) / 2, abs=5e-3)
        assert header["HA-MNT"] == pytest.approx((lst - header["RA-MNT"] / 15 + 12) % 24 - 12)
        assert 0.5 < header["MOONFRAC"] < 0.7


def test_mount_position_is_off_the_true_centre_by_a_realistic_pointing_error(sequence):
    frames = SequenceTruth.read(sequence["result"].folder).frames
    error = angular_separation(
        frames["ra_mnt"], frames["dec_mnt"], frames["ra_centre"], frames["dec_centre"]
    )
    assert np.all((error > 0.15) & (error < 1.05))
    drift = np.hypot(frames["drift_x"], frames["drift_y"])
    assert drift[0] < drift[-1] < 6 * (2 * INTERVAL + EXPTIME / 2) / 3600 + 1e-9


def test_same_seed_gives_the_same_bytes(sequence):
    probe = sequence["probe"].frames[0].read_bytes()
    first = sequence["result"].frames[0].read_bytes()
    assert len(first) == 2880 * 2 + -(-5208 * 3476 * 2 // 2880) * 2880
    # A frame depends on the seed alone, not on the frames that follow it (nor on the
    # transit, which starts after it).
    assert probe == first


# --------------------------------------------------------------------------------------
# Astrometry
# --------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("solve-field") is None, reason="solve-field not installed")
def test_solve_field_recovers_the_true_wcs(sequence, tmp_path):
    path = sequence["result"].frames[1]
    header, pixels = read_frame(path)
    # What a pipeline does: a 2 x 2 binned green image (G1 + G2) at 20.6 arcsec/pixel.
    green = (pixels[0::2, 0::2].astype(np.float32) + pixels[1::2, 1::2]) / 2
    image = tmp_path / "green.fits"
    fits.writeto(image, green)
    command = [
        "solve-field",
        str(image),
        "--scale-units",
        "arcsecperpix",
        "--scale-low",
        "19",
        "--scale-high",
        "22.5",
        "--downsample",
        "2",
        "--ra",
        str(header["RA-MNT"]),
        "--dec",
        str(header["DEC-MNT"]),
        "--radius",
        "5",
        "--no-plots",
        "--overwrite",
        "--cpulimit",
        "60",
        "--dir",
        str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=180)
    solution = tmp_path / "green.wcs"
    assert solution.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        solved = WCS(fits.getheader(solution))
    truth = SequenceTruth.read(sequence["result"].folder)
    true = truth.wcs(1)
    # The header text in the truth is the same WCS as the numeric columns.
    from_text = WCS(fits.Header.fromstring(truth.frames["wcs_header"][1]))
    assert np.allclose(
        from_text.all_pix2world([[0, 0], [5207, 3475]], 0),
        true.all_pix2world([[0, 0], [5207, 3475]], 0),
    )
    cx, cy = (5208 - 1) / 2, (3476 - 1) / 2  # centre of the raw frame, 0-based
    # Binned pixel j covers raw pixels 2j and 2j + 1: raw x = 2 * binned x + 0.5.
    ra_s, dec_s = solved.all_pix2world((cx - 0.5) / 2, (cy - 0.5) / 2, 0)
    ra_t, dec_t = true.all_pix2world(cx, cy, 0)
    assert angular_separation(ra_s, dec_s, ra_t, dec_t) * 3600 < 10.3  # one raw pixel
    # And a corner, 9 degrees away, within a few pixels (solve-field fits a SIP polynomial).
    ra_s, dec_s = solved.all_pix2world(100 / 2, 100 / 2, 0)
    ra_t, dec_t = true.all_pix2world(100.5, 100.5, 0)
    assert angular_separation(ra_s, dec_s, ra_t, dec_t) * 3600 < 3 * 10.3


# --------------------------------------------------------------------------------------
# Photometry
# --------------------------------------------------------------------------------------


def test_background_and_noise_in_star_free_regions_match_the_model(sequence):
    truth = SequenceTruth.read(sequence["result"].folder)
    frame = truth.frames[0]
    stars = truth.frame_stars(0)
    _, pixels = read_frame(sequence["result"].frames[0])
    y0, x0, size = 3476 // 2 - 400, 5208 // 2 - 400, 800
    rows, cols = np.mgrid[y0 : y0 + size, x0 : x0 + size]
    data = pixels[y0 : y0 + size, x0 : x0 + size].astype(float)
    free = np.ones(data.shape, dtype=bool)
    for x, y in zip(stars["x"], stars["y"], strict=True):
        xi, yi = int(round(x)) - x0, int(round(y)) - y0
        free[max(yi - 12, 0) : max(yi + 13, 0), max(xi - 12, 0) : max(xi + 13, 0)] = False
    hot = truth.hot_pixels
    inside = (hot["row"] >= y0) & (hot["row"] < y0 + size) & (hot["col"] >= x0)
    inside &= hot["col"] < x0 + size
    free[hot["row"][inside] - y0, hot["col"][inside] - x0] = False
    assert free.mean() > 0.5
    colour = bayer_colour_index(rows, cols)
    for c, name in enumerate("rgb"):
        values = data[free & (colour == c)]
        sky = frame[f"sky_{name}"]
        expected_sigma = np.sqrt((sky + READ_NOISE**2) / GAIN**2 + 1 / 12)
        assert values.mean() - BIAS == pytest.approx(sky / GAIN, rel=0.05), name
        assert values.std() == pytest.approx(expected_sigma, rel=0.05), name
    assert frame["moon_altitude"] > 20  # the test covers a moonlit sky


def box_photometry(pixels, x, y, half=5, inner=10, outer=18):
    xi, yi = int(round(x)), int(round(y))
    rows, cols = np.mgrid[yi - outer : yi + outer + 1, xi - outer : xi + outer + 1]
    data = pixels[yi - outer : yi + outer + 1, xi - outer : xi + outer + 1].astype(float)
    colour = bayer_colour_index(rows, cols)
    cheb = np.maximum(np.abs(rows - yi), np.abs(cols - xi))
    sums, variances = [], []
    for c in range(3):
        ap, ann = (cheb <= half) & (colour == c), (cheb >= inner) & (colour == c)
        background = data[ann].mean()
        sums.append((data[ap] - background).sum() * GAIN)
        pixel_var = (background - BIAS) * GAIN + READ_NOISE**2 + GAIN**2 / 12
        variances.append(ap.sum() * pixel_var * (1 + ap.sum() / ann.sum()))
    return np.array(sums), np.array(variances)


def test_isolated_star_fluxes_match_the_truth_within_the_noise(sequence):
    truth = SequenceTruth.read(sequence["result"].folder)
    stars = truth.frame_stars(0)
    quiet = isolated_stars(stars, truth.hot_pixels)
    chosen = quiet[~stars["saturated"][quiet] & (stars["peak_adu"][quiet] < 10_000)]
    chosen = chosen[np.argsort(-stars["flux_g"][chosen])][:30]
    assert len(chosen) >= 20
    _, pixels = read_frame(sequence["result"].frames[0])
    pulls = []
    for i in chosen:
        star = stars[i]
        expected = np.array([star["pixel_flux_r"], star["pixel_flux_g"], star["pixel_flux_b"]])
        measured, variance = box_photometry(pixels, star["x"], star["y"])
        pulls.append((measured - expected) / np.sqrt(variance + expected))
    pulls = np.array(pulls)
    assert np.abs(pulls).max() < 4.0
    assert np.mean(pulls**2) == pytest.approx(1.0, abs=0.35)


def test_injected_transit_is_in_the_truth_and_the_pixels(sequence):
    truth = SequenceTruth.read(sequence["result"].folder)
    assert list(truth.events["picid"]) == [sequence["picid"]]
    measured, without, noise = [], [], []
    for i, path in enumerate(sequence["result"].frames):
        stars = truth.frame_stars(i)
        star = stars[stars["picid"] == sequence["picid"]][0]
        assert star["variability"] == pytest.approx(1 - DEPTH if i == 1 else 1.0)
        pixel_flux = star["pixel_flux_r"] + star["pixel_flux_g"] + star["pixel_flux_b"]
        flux = star["flux_r"] + star["flux_g"] + star["flux_b"]
        assert pixel_flux == pytest.approx(flux, rel=0.06)
        _, pixels = read_frame(path)
        sums, variances = box_photometry(pixels, star["x"], star["y"])
        measured.append(sums.sum())
        noise.append(np.sqrt(variances.sum() + sums.sum()))
        without.append(pixel_flux / star["variability"])
    measured, without, noise = map(np.array, (measured, without, noise))
    relative = measured / without  # 1 out of transit, 1 - depth in transit, within noise
    sigma = noise / without
    out = (relative[0] + relative[2]) / 2
    depth = 1 - relative[1] / out
    depth_sigma = np.hypot(sigma[1], np.hypot(sigma[0], sigma[2]) / 2)
    assert depth == pytest.approx(DEPTH, abs=3 * depth_sigma)
    assert DEPTH > 4 * depth_sigma
