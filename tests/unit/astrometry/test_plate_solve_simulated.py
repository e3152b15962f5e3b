"""The plate-solve step on full-size simulated frames, scored against the simulator's truth.

One module fixture renders a clear 5208 x 3476 frame of the KIC 8462852 field from the
astrometry.net Tycho-2 index (:mod:`panoptes_network.simulation`), with its true TAN WCS and a
mount position off the true centre by a realistic pointing error. References: that true WCS,
and for the overcast frame the known sky it is drawn with.
"""

from __future__ import annotations

import io
import shutil
import warnings
from datetime import datetime, timezone

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from panoptes_network.astrometry.plate_solve import PlateSolver, plate_solve
from panoptes_network.catalog.star_catalog import InMemoryCatalog, angular_separation
from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars
from panoptes_network.frames.bucket_path import ImagePath
from panoptes_network.frames.compression import compress_frame
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.settings import Settings
from panoptes_network.simulation import CameraModel, SequenceSpec, SequenceTruth, simulate_sequence
from panoptes_network.simulation.camera import bayer_colour_index
from panoptes_network.simulation.render import digitise
from tests.unit.fakes import CountingRunner

pytestmark = pytest.mark.skipif(
    shutil.which("solve-field") is None,
    reason="astrometry.net solve-field is not installed (Debian: astrometry.net and "
    "astrometry-data-tycho2)",
)

S = Settings()
START = datetime(2024, 9, 12, 6, 30, 0, tzinfo=timezone.utc)
FIELD = (301.564, 44.457)
WIDTH, HEIGHT = 5208, 3476
#: The default simulated camera's own electronics.
CAMERA = CameraModel()
GAIN = CAMERA.gain


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    files = find_index_files()
    if not files:
        pytest.skip("astrometry.net Tycho-2 index files not installed (astrometry-data-tycho2)")
    catalog = InMemoryCatalog(read_index_stars(files))
    spec = SequenceSpec(ra=FIELD[0], dec=FIELD[1], start=START, count=1, seed=7)
    result = simulate_sequence(spec, catalog, tmp_path_factory.mktemp("simulated"))
    truth = SequenceTruth.read(result.folder)
    path = result.frames[0]
    name = path.relative_to(result.folder.parent.parent.parent).as_posix() + ".fz"
    with fits.open(path) as hdus:
        header, pixels = hdus[0].header.copy(), np.array(hdus[0].data)
    return {
        "name": name,
        "fz": compress_frame(path.read_bytes()).data,
        "header": header,
        "pixels": pixels,
        "truth": truth,
        "wcs": truth.wcs(0),
    }


def solve(ctx: ChainContext, name: str, fz: bytes, solver: PlateSolver | None = None):
    """Store and record the frame in ``ctx`` (a fresh context), then plate-solve it."""
    ctx.store.put(S.images_bucket, name, fz)
    obj = StoredObject(S.images_bucket, name)
    assert record_image(ctx, obj).action == "recorded"
    result = plate_solve(ctx, obj, solver)
    return ctx, result, ctx.documents.get("images", ImagePath.parse(name).image_id)


@pytest.fixture(scope="module")
def solved(simulated, make_ctx):
    return solve(make_ctx(service="plate-solve"), simulated["name"], simulated["fz"])


def test_full_frame_wcs_matches_the_true_wcs_within_a_pixel(simulated, solved):
    ctx, result, image = solved
    assert result.action == "solved", result.detail
    with fits.open(io.BytesIO(ctx.store.read(S.solved_bucket, simulated["name"]))) as hdus:
        header = hdus[1].header.copy()
        np.testing.assert_array_equal(hdus[1].data, simulated["pixels"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        ours = WCS(header, naxis=2)
    true = simulated["wcs"]
    # The centre, the four corners and the middle of each edge (0-based raw pixels).
    x = np.array([(WIDTH - 1) / 2, 0, WIDTH - 1, 0, WIDTH - 1, (WIDTH - 1) / 2, 0])
    y = np.array([(HEIGHT - 1) / 2, 0, 0, HEIGHT - 1, HEIGHT - 1, 0, (HEIGHT - 1) / 2])
    ra, dec = true.all_pix2world(x, y, 0)
    px, py = ours.all_world2pix(ra, dec, 0)
    error = np.hypot(px - x, py - y)
    assert error[0] < 0.5, error  # pixels, at the centre
    assert error.max() < 1.0, error  # and at the corners, 9 degrees away
    # The recorded figures against the truth.
    ra_c, dec_c = true.all_pix2world((WIDTH - 1) / 2, (HEIGHT - 1) / 2, 0)
    assert angular_separation(image["ra_image"], image["dec_image"], ra_c, dec_c) * 3600 < 5
    true_scale = np.sqrt(abs(np.linalg.det(true.pixel_scale_matrix))) * 3600
    assert image["pixel_scale"] == pytest.approx(true_scale, rel=2e-3)
    up = true.all_pix2world((WIDTH - 1) / 2, (HEIGHT - 1) / 2 + 100, 0)
    true_rotation = (
        SkyCoord(ra_c * u.deg, dec_c * u.deg).position_angle(SkyCoord(*up, unit="deg")).deg
    )
    assert (image["rotation"] - true_rotation + 180) % 360 - 180 == pytest.approx(0, abs=0.05)
    # The mount position was off the centre: the hint radius absorbed it.
    mount = (simulated["header"]["RA-MNT"], simulated["header"]["DEC-MNT"])
    assert angular_separation(*mount, ra_c, dec_c) > 0.15


def test_full_frame_stages_and_sky(simulated, solved):
    _, result, image = solved
    for stage in ("read_s", "calibrate_s", "solve_s", "write_s", "record_s"):
        assert 0 <= result.detail[stage] < 120
    truth = simulated["truth"].frames[0]
    sky = {c: image["background"][c]["median"] for c in "rgb"}
    # The truth gives the sky at the centre (e- per pixel); the record is the median over a
    # frame across which the moonlit sky varies by several per cent, but the colours vary
    # together: their ratios are the truth's.
    for colour in "rgb":
        assert sky[colour] == pytest.approx(truth[f"sky_{colour}"] / GAIN, rel=0.1)
    for colour in "rb":
        expected = truth[f"sky_{colour}"] / truth["sky_g"]
        assert sky[colour] / sky["g"] == pytest.approx(expected, rel=0.01)
    assert image["sources_detected"] > 1000


def overcast(simulated, transmission=10 ** (-0.4 * 8.0), seed=5):
    """The same field under a thick, moonlit cloud deck: stars 8 magnitudes fainter, a bright
    uneven sky (3000 e- per green pixel, brighter towards one side).

    Returns the ``.fits.fz`` bytes, the cloud sky (e- per pixel) and each pixel's colour.
    """
    pixels = simulated["pixels"]
    truth = simulated["truth"].frames[0]
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    colour = bayer_colour_index(rows, cols)
    clear_sky = np.array([truth["sky_r"], truth["sky_g"], truth["sky_b"]])[colour]
    stars = np.clip((pixels.astype(np.float32) - CAMERA.bias_adu) * GAIN - clear_sky, 0, None)
    cloud = 3000.0 * np.array([0.8, 1.0, 0.7])[colour] * (1 + 0.5 * cols / WIDTH)
    cloud *= 1 + 0.1 * np.sin(rows / 300.0)
    electrons = (cloud + transmission * stars).astype(np.float32)
    noisy = digitise(electrons, CAMERA, np.random.default_rng(seed))
    out = io.BytesIO()
    fits.PrimaryHDU(noisy, simulated["header"]).writeto(out)
    return compress_frame(out.getvalue()).data, cloud, colour


def test_cloud_covered_frame_is_a_solve_error_with_a_reason(simulated, make_ctx):
    fz, cloud, colour = overcast(simulated)
    runner = CountingRunner()
    ctx, result, image = solve(
        make_ctx(service="plate-solve"), simulated["name"], fz, PlateSolver(runner=runner)
    )
    assert result.action == "solve_error", result.detail
    assert image["status"] == "solve_error" and image["solved"] is False
    reason = image["solve_error_reason"]
    assert "cloud-covered" in reason, reason
    assert image["sources_detected"] < 10 and runner.calls == []  # the solver was spared
    assert image["ra_image"] is None and ctx.store.stat(S.solved_bucket, simulated["name"]) is None
    # The bright cloud deck was measured: median of the known sky of each colour, in ADU.
    for index, name in enumerate("rgb"):
        expected = np.median(cloud[colour == index]) / GAIN
        assert image["background"][name]["median"] == pytest.approx(expected, rel=0.01)
