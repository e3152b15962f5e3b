"""The plate-solve step with in-memory ports and the real ``solve-field``.

References: the field centre of ``unsolved.fits`` known from its provenance (astrometry.net
with Tycho-2: RA 303.213, Dec +46.021), the 2016 astrometry.net WCS stored in
``solved.fits.fz`` (the next frame of the same sequence), the input pixels themselves, and
counts of solver runs. Replayed solver outcomes (no program run) test the document logic.
"""

from __future__ import annotations

import io
import re
import shutil
import threading
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS
from scipy import ndimage

from panoptes_network.astrometry.bayer_background import calibrate_superpixels
from panoptes_network.astrometry.plate_solve import PlateSolver, plate_solve
from panoptes_network.astrometry.solve_field import (
    PointingHint,
    SolveFieldFailed,
    SolveFieldOptions,
    solve_field_sources,
)
from panoptes_network.astrometry.source_extraction import extract_sources
from panoptes_network.catalog.star_catalog import InMemoryCatalog, angular_separation
from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars
from panoptes_network.frames.compression import compress_frame
from panoptes_network.ingest.record import record_image
from panoptes_network.pipeline.context import ChainContext, StoredObject
from panoptes_network.pipeline.ports import DocWrite
from panoptes_network.pipeline.settings import Settings
from tests.unit.cameras import REAL_CAMERA, register_cameras
from tests.unit.fakes import CountingRunner, MemoryDocuments, ReplayRunner

pytestmark = pytest.mark.skipif(
    shutil.which("solve-field") is None,
    reason="astrometry.net solve-field is not installed (Debian: astrometry.net and "
    "astrometry-data-tycho2)",
)

S = Settings()
SEQ = "PAN001/14d3bd/20160909T081152"
A = f"{SEQ}/20160909T081226.fits.fz"  # unsolved.fits
B = f"{SEQ}/20160909T081434.fits.fz"  # solved.fits.fz, the next frame
KNOWN_CENTRE = (303.213, 46.021)  # PROVENANCE.md
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def solver_ctx(make_ctx):
    """Return ``(documents=None) -> ChainContext``: plate-solve's context, its clock at NOW.

    The real frames' camera (Canon EOS 100D) is in the registry as 14d3bd, the camera of
    their paths.
    """

    def make(documents: MemoryDocuments | None = None) -> ChainContext:
        return make_ctx(
            documents=documents,
            service="plate-solve",
            now=lambda: NOW,
            cameras={"14d3bd": REAL_CAMERA},
        )

    return make


def fits_bytes(header: fits.Header, pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    fits.PrimaryHDU(pixels, header).writeto(out)
    return out.getvalue()


def stored_and_recorded(ctx: ChainContext, name: str, fz: bytes) -> StoredObject:
    """Put a .fits.fz in the images bucket and record it, as the chain does before solving."""
    ctx.store.put(S.images_bucket, name, fz)
    obj = StoredObject(S.images_bucket, name)
    assert record_image(ctx, obj).action == "recorded"
    (message,) = [m for m in ctx.bus.on(S.solve_topic) if m["name"] == name]
    return StoredObject(message["bucket"], message["name"])


def solved_hdu(ctx: ChainContext, name: str):
    data = ctx.store.read(S.solved_bucket, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a bad CHECKSUM or DATASUM warns
        with fits.open(io.BytesIO(data), checksum=True) as hdus:
            return hdus[1].header.copy(), np.array(hdus[1].data)


def quiet_wcs(header: fits.Header) -> WCS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        return WCS(header, naxis=2)


def arcsec(ra1, dec1, ra2, dec2) -> float:
    return float(angular_separation(ra1, dec1, ra2, dec2)) * 3600


@pytest.fixture(scope="module")
def unsolved(panoptes_data: Path) -> dict:
    path = panoptes_data / "unsolved.fits"
    with fits.open(path) as hdus:
        header, pixels = hdus[0].header.copy(), np.array(hdus[0].data)
    return {"fz": compress_frame(path.read_bytes()).data, "header": header, "pixels": pixels}


@pytest.fixture(scope="module")
def solved_a(unsolved, solver_ctx) -> dict:
    """Frame A solved once by the real step; later tests read its outcome."""
    ctx, runner = solver_ctx(), CountingRunner()
    obj = stored_and_recorded(ctx, A, unsolved["fz"])
    result = plate_solve(ctx, obj, PlateSolver(runner=runner))
    return {"ctx": ctx, "obj": obj, "result": result, "runner": runner}


@pytest.fixture(scope="module")
def solution_header(unsolved, tmp_path_factory) -> fits.Header:
    """A real solve-field .wcs header of unsolved.fits' own sources, for replayed runs."""
    calibrated = calibrate_superpixels(
        unsolved["pixels"], bias=REAL_CAMERA["bias_adu"], bayer_pattern="RGGB"
    )
    sources = extract_sources(calibrated.image, calibrated.background.superpixel_rms)
    run = solve_field_sources(
        sources,
        unsolved["pixels"].shape,
        tmp_path_factory.mktemp("solve"),
        scale_range=(9.5, 11.5),
        hint=PointingHint(unsolved["header"]["RA-MNT"], unsolved["header"]["DEC-MNT"], 10.0),
    )
    assert run.sources > 100 and run.version != "unknown" and 4107 <= run.index_id <= 4119
    return run.header


# --------------------------------------------------------------------------------------
# A real frame, solved for real
# --------------------------------------------------------------------------------------


def test_real_frame_solves_to_its_known_centre(solved_a):
    ctx, result = solved_a["ctx"], solved_a["result"]
    assert result.action == "solved", result.detail
    image = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")
    assert image["status"] == "solved" and image["solved"] is True
    assert arcsec(image["ra_image"], image["dec_image"], *KNOWN_CENTRE) < 30
    assert image["pixel_scale"] == pytest.approx(10.3, abs=0.15)
    assert image["solve_blind"] is False and image["solve_error_reason"] is None
    assert image["solve_matched_stars"] >= 10 and image["sources_detected"] > 100
    assert image["solved_path"] == A
    assert image["solved_url"] == f"{S.public_base_url}/{S.solved_bucket}/{A}"
    assert image["solved_time"] == NOW == image["updated_time"]
    assert 0 < image["solve_seconds"] < 60
    assert image["solve_input_md5"] == ctx.store.stat(S.images_bucket, A).md5_hash
    # Sky above bias per colour; red and blue see less sky than green in this frame.
    sky = image["background"]
    assert 0 < sky["r"]["median"] < sky["g"]["median"] and 0 < sky["b"]["rms"]
    assert len(solved_a["runner"].calls) == 1
    command = solved_a["runner"].calls[0]
    assert command[command.index("--radius") + 1] == "10"
    # solve-field is given the step's own sources in full-resolution pixels (an xylist of
    # the frame's width and height), with the raw frame's scale range.
    # The camera's scale is not in the registry yet: solve-field searches any DSLR lens's
    # scales, and the solution gives the camera's scale for its next frames.
    assert command[command.index("--scale-low") + 1] == "2"
    assert command[command.index("--scale-high") + 1] == "60"
    assert image["solve_scale_range"] == [2.0, 60.0]
    assert image["solve_scale_source"] == "cameras/14d3bd has no pixel_scale_arcsec"
    camera = ctx.documents.get("cameras", "14d3bd")
    assert camera["pixel_scale_arcsec"] == pytest.approx(10.3, abs=0.15)
    assert camera["pixel_scale_arcsec_source"] == (
        "measured: the plate solution of PAN001_14d3bd_20160909T081226"
    )
    assert command[command.index("--width") + 1] == "700"
    assert command[1].endswith("sources.fits") and "--x-column" in command
    assert "--cpulimit" in command and "--no-plots" in command
    assert image["solve_method"] == "solve-field"
    assert image["solve_not_tracked_reason"] == "no star catalog to track with"


def test_solved_frame_keeps_the_pixels_and_its_wcs_maps_the_centre(solved_a, unsolved):
    ctx = solved_a["ctx"]
    header, pixels = solved_hdu(ctx, A)
    assert pixels.dtype == np.uint16
    np.testing.assert_array_equal(pixels, unsolved["pixels"])
    for keyword in ("FIELD", "RA-MNT", "DEC-MNT", "EXPTIME", "DATE-OBS", "INSTRUME"):
        assert header[keyword] == unsolved["header"][keyword]
    assert header["CTYPE1"] == "RA---TAN-SIP" and header["CTYPE2"] == "DEC--TAN-SIP"
    image = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")
    ra, dec = quiet_wcs(header).all_pix2world(349.5, 349.5, 0)
    assert arcsec(ra, dec, image["ra_image"], image["dec_image"]) < 1e-3
    history = " ".join(str(h) for h in header["HISTORY"])
    assert "Plate solved 2026-03-04T05:06:07Z by panoptes-network plate-solve" in history
    assert re.search(r"astrometry\.net \d[\w.]* solve-field, index 41(0[7-9]|1\d)", history)
    assert ctx.store.stat(S.solved_bucket, A).metadata["source"] == f"gs://{S.images_bucket}/{A}"
    assert ctx.store.stat(S.images_bucket, A) is not None  # the input stays


def test_redelivery_of_a_solved_frame_does_not_run_the_solver(solved_a):
    ctx, runner = solved_a["ctx"], CountingRunner()
    before = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")
    again = plate_solve(ctx, solved_a["obj"], PlateSolver(runner=runner))
    assert again.action == "skipped" and again.detail["why"] == "already solved"
    assert runner.calls == []
    assert ctx.documents.get("images", "PAN001_14d3bd_20160909T081226") == before


def test_observation_takes_the_first_solved_frame_and_keeps_it(solved_a, panoptes_data):
    ctx = solved_a["ctx"]
    first = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")
    observation = ctx.documents.get("observations", "PAN001_14d3bd_20160909T081152")
    assert (observation["ra"], observation["dec"]) == (first["ra_image"], first["dec_image"])
    # The next frame of the sequence, which already carries a 2016 astrometry.net WCS.
    fz = (panoptes_data / "solved.fits.fz").read_bytes()
    obj = stored_and_recorded(ctx, B, fz)
    assert plate_solve(ctx, obj).action == "solved"
    second = ctx.documents.get("images", "PAN001_14d3bd_20160909T081434")
    assert (
        arcsec(second["ra_image"], second["dec_image"], first["ra_image"], first["dec_image"]) > 3
    )
    observation = ctx.documents.get("observations", "PAN001_14d3bd_20160909T081152")
    assert (observation["ra"], observation["dec"]) == (first["ra_image"], first["dec_image"])
    assert observation["num_images"] == 2  # the counters are untouched


def matched_star_residuals(pixels: np.ndarray, wcs: WCS, catalog) -> np.ndarray:
    """Offsets (raw pixels) of bright unsaturated stars from their Tycho-2 positions."""
    image = pixels[0::2, 0::2].astype(float) + pixels[1::2, 1::2]  # green superpixels
    image -= np.median(image)
    noise = 1.4826 * np.median(np.abs(image))
    labels, count = ndimage.label(image > 20 * noise)
    index = np.arange(1, count + 1)
    cy, cx = np.array(ndimage.center_of_mass(np.clip(image, 0, None), labels, index)).T
    keep = ndimage.maximum(image, labels, index) < 2 * (11000 - 2048) * 0.9
    x, y = 2 * cx[keep] + 0.5, 2 * cy[keep] + 0.5
    ra, dec = wcs.all_pix2world(349.5, 349.5, 0)
    stars = catalog.cone_search(float(ra), float(dec), 1.5, vmag_range=(-2.0, 11.0))
    px, py = wcs.all_world2pix(np.asarray(stars["ra"]), np.asarray(stars["dec"]), 0)
    inside = (px > 5) & (px < 694) & (py > 5) & (py < 694)
    px, py = px[inside], py[inside]
    distance = np.hypot(x[:, None] - px[None], y[:, None] - py[None])
    nearest, matched = distance.argmin(axis=1), distance.min(axis=1) < 3.0
    return np.c_[x[matched] - px[nearest[matched]], y[matched] - py[nearest[matched]]]


def test_re_solved_frame_agrees_with_its_2016_solution_and_the_catalog(solved_a, panoptes_data):
    ctx = solved_a["ctx"]  # B was solved by the test above; solve it here if run alone
    if ctx.store.stat(S.solved_bucket, B) is None:
        obj = stored_and_recorded(ctx, B, (panoptes_data / "solved.fits.fz").read_bytes())
        assert plate_solve(ctx, obj).action == "solved"
    with fits.open(panoptes_data / "solved.fits.fz") as hdus:
        old = quiet_wcs(hdus[1].header)
        original = np.array(hdus[1].data)
    header, pixels = solved_hdu(ctx, B)
    np.testing.assert_array_equal(pixels, original)
    new = quiet_wcs(header)
    assert list(header.keys()).count("CTYPE1") == 1  # the old WCS was replaced, not doubled
    corners = np.array([[349.5, 349.5], [0, 0], [699, 0], [0, 699], [699, 699]], dtype=float)
    offsets = np.hypot(*(new.all_world2pix(old.all_pix2world(corners, 0), 0) - corners).T)
    assert offsets[0] < 1.0  # pixels, at the centre
    # At the corners the 2016 solution itself is off by up to 2-3 pixels (see below).
    assert offsets.max() < 4.0
    # Against Tycho-2 (the index stars' own positions): ours within a pixel, and no worse.
    tycho = InMemoryCatalog(read_index_stars(find_index_files()))
    ours, theirs = (matched_star_residuals(original, w, tycho) for w in (new, old))
    assert len(ours) >= 10
    rms = [float(np.sqrt((np.hypot(*r.T) ** 2).mean())) for r in (ours, theirs)]
    assert rms[0] < 1.0 and rms[0] <= rms[1]


@pytest.fixture(scope="module")
def tycho() -> InMemoryCatalog:
    files = find_index_files()
    if not files:
        pytest.skip("astrometry.net Tycho-2 index files not installed (astrometry-data-tycho2)")
    return InMemoryCatalog(read_index_stars(files))


def corner_offsets(wcs: WCS, reference: WCS, shape=(700, 700)) -> np.ndarray:
    """Pixels between where two WCSs put the sky of the centre and the four corners."""
    rows, cols = shape
    points = np.array(
        [
            [(cols - 1) / 2, (rows - 1) / 2],
            [0, 0],
            [cols - 1, 0],
            [0, rows - 1],
            [cols - 1, rows - 1],
        ],
        dtype=float,
    )
    return np.hypot(*(wcs.all_world2pix(reference.all_pix2world(points, 0), 0) - points).T)


def test_the_next_frame_is_tracked_as_accurately_as_solve_field_solves_it(
    unsolved, panoptes_data, solver_ctx, tycho, tmp_path
):
    ctx, runner = solver_ctx(), CountingRunner()
    first = stored_and_recorded(ctx, A, unsolved["fz"])
    result = plate_solve(ctx, first, PlateSolver(runner=runner), tycho)
    assert result.detail["method"] == "solve-field" and len(runner.calls) == 1
    reason = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")[
        "solve_not_tracked_reason"
    ]
    assert reason == "no frame of this observation is solved yet"
    reference = ctx.documents.get("tracking", "PAN001_14d3bd_20160909T081152")
    assert reference["image_id"] == "PAN001_14d3bd_20160909T081226"
    assert reference["wcs"]["CTYPE1"] == "RA---TAN-SIP" and "A_2_0" in reference["wcs"]
    # The next frame: tracked from the first, solve-field not run again.
    second = stored_and_recorded(ctx, B, (panoptes_data / "solved.fits.fz").read_bytes())
    result = plate_solve(ctx, second, PlateSolver(runner=runner), tycho)
    assert result.action == "solved" and result.detail["method"] == "tracked", result.detail
    assert len(runner.calls) == 1
    image = ctx.documents.get("images", "PAN001_14d3bd_20160909T081434")
    assert image["solve_method"] == "tracked" and image["solve_not_tracked_reason"] is None
    assert image["solve_tracked_from"] == "PAN001_14d3bd_20160909T081226"
    assert image["solve_matched_stars"] >= 20 and image["solve_rms_px"] < 0.6
    header, _ = solved_hdu(ctx, B)
    assert header["CTYPE1"] == "RA---TAN-SIP" and any(
        "tracked from PAN001_14d3bd_20160909T081226" in line for line in header["HISTORY"]
    )
    # As accurate as solve-field's own solution of the same frame (within 1 px everywhere).
    calibrated = calibrate_superpixels(
        solved_hdu(ctx, B)[1], bias=REAL_CAMERA["bias_adu"], bayer_pattern="RGGB"
    )
    run = solve_field_sources(
        extract_sources(calibrated.image, calibrated.background.superpixel_rms),
        (700, 700),
        tmp_path,
        scale_range=(9.5, 11.5),
        hint=PointingHint(header["RA-MNT"], header["DEC-MNT"], 10.0),
    )
    tracked, solved = quiet_wcs(header), quiet_wcs(run.header)
    offsets = corner_offsets(tracked, solved)
    pixels = solved_hdu(ctx, B)[1]
    ours, theirs = (matched_star_residuals(pixels, w, tycho) for w in (tracked, solved))
    rms = [float(np.sqrt((np.hypot(*r.T) ** 2).mean())) for r in (ours, theirs)]
    print(
        f"tracked vs solve-field: centre {offsets[0]:.3f} px, corners {offsets[1:].max():.3f} px;"
        f" rms against Tycho-2 {rms[0]:.3f} px (solve-field {rms[1]:.3f} px, {len(ours)} stars)"
    )
    # Within a pixel of solve-field everywhere, and closer to the catalog's stars than it.
    assert offsets.max() < 1.0
    assert len(ours) >= 50 and rms[0] <= rms[1]
    assert ctx.documents.get("tracking", "PAN001_14d3bd_20160909T081152")["image_id"] == (
        "PAN001_14d3bd_20160909T081434"
    )


def test_a_frame_whose_mount_moved_goes_to_solve_field(unsolved, panoptes_data, solver_ctx, tycho):
    ctx, runner = solver_ctx(), CountingRunner()
    plate_solve(ctx, stored_and_recorded(ctx, A, unsolved["fz"]), PlateSolver(runner=runner), tycho)
    with fits.open(panoptes_data / "solved.fits.fz") as hdus:
        header, pixels = hdus[1].header.copy(), np.array(hdus[1].data)
    header["RA-MNT"] = float(header["RA-MNT"]) + 3.0  # a slew between the frames
    second = stored_and_recorded(ctx, B, compress_frame(fits_bytes(header, pixels)).data)
    result = plate_solve(ctx, second, PlateSolver(runner=runner), tycho)
    assert result.detail["method"] == "solve-field" and len(runner.calls) == 2
    reason = ctx.documents.get("images", "PAN001_14d3bd_20160909T081434")[
        "solve_not_tracked_reason"
    ]
    assert reason.startswith("the mount moved 2.") and "more than 0.5 deg" in reason


def test_a_frame_that_does_not_match_its_reference_goes_to_solve_field(
    unsolved, panoptes_data, solver_ctx, tycho
):
    ctx, runner = solver_ctx(), CountingRunner()
    plate_solve(ctx, stored_and_recorded(ctx, A, unsolved["fz"]), PlateSolver(runner=runner), tycho)
    # The reference is moved a degree away on the sky: no catalog pattern matches the frame.
    reference = ctx.documents.get("tracking", "PAN001_14d3bd_20160909T081152")
    moved = {**reference["wcs"], "CRVAL2": reference["wcs"]["CRVAL2"] + 1.0}
    ctx.documents.merge("tracking", "PAN001_14d3bd_20160909T081152", {"wcs": moved})
    second = stored_and_recorded(ctx, B, (panoptes_data / "solved.fits.fz").read_bytes())
    result = plate_solve(ctx, second, PlateSolver(runner=runner), tycho)
    assert result.action == "solved" and result.detail["method"] == "solve-field"
    reason = ctx.documents.get("images", "PAN001_14d3bd_20160909T081434")[
        "solve_not_tracked_reason"
    ]
    assert reason.startswith("tracking from PAN001_14d3bd_20160909T081226 failed: ")


def test_frame_without_a_pointing_hint_is_solved_blind(unsolved, solver_ctx):
    header = unsolved["header"].copy()
    header["RA-MNT"], header["DEC-MNT"] = "", ""
    ctx, runner = solver_ctx(), CountingRunner()
    fz = compress_frame(fits_bytes(header, unsolved["pixels"])).data
    obj = stored_and_recorded(ctx, A, fz)
    result = plate_solve(ctx, obj, PlateSolver(runner=runner))
    assert result.action == "solved" and result.detail["method"] == "blind"
    (command,) = runner.calls
    assert "--ra" not in command and "--radius" not in command
    image = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")
    assert image["solve_blind"] is True
    assert arcsec(image["ra_image"], image["dec_image"], *KNOWN_CENTRE) < 30


# --------------------------------------------------------------------------------------
# Frames that cannot be solved
# --------------------------------------------------------------------------------------


def blank_frame(unsolved, shape=(3476, 5208), seed=11) -> bytes:
    """Bias and read noise only (the dome closed), with a unit's header."""
    rng = np.random.default_rng(seed)
    pixels = np.round(2048 + rng.normal(0, 7.0, shape)).astype(np.uint16)
    return compress_frame(fits_bytes(unsolved["header"], pixels)).data


def test_blank_frame_is_a_solve_error_without_running_the_solver(unsolved, solver_ctx):
    ctx, runner = solver_ctx(), CountingRunner()
    obj = stored_and_recorded(ctx, A, blank_frame(unsolved))
    result = plate_solve(ctx, obj, PlateSolver(runner=runner))
    assert result.action == "solve_error"
    assert runner.calls == []
    image = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")
    assert image["status"] == "solve_error" and image["solved"] is False
    assert "only 0 star-like sources" in image["solve_error_reason"]
    assert "blank, cloud-covered" in image["solve_error_reason"]
    assert image["ra_image"] is None and image["sources_detected"] == 0
    assert image["background"]["g"]["median"] == pytest.approx(0.0, abs=0.6)
    assert image["background"]["g"]["rms"] == pytest.approx(7.0, rel=0.05)
    assert ctx.store.stat(S.images_bucket, A) is not None
    assert ctx.store.stat(S.solved_bucket, A) is None
    assert ctx.store.names(S.quarantine_bucket) == []
    observation = ctx.documents.get("observations", "PAN001_14d3bd_20160909T081152")
    assert observation["ra"] is None
    # Redelivered: the same file already failed; a new upload of the image is tried again.
    again = plate_solve(ctx, obj, PlateSolver(runner=runner))
    assert again.action == "skipped" and runner.calls == []
    ctx.store.put(S.images_bucket, A, unsolved["fz"])
    assert plate_solve(ctx, obj, PlateSolver(runner=runner)).action == "solved"
    assert len(runner.calls) == 1


def test_a_frame_without_sources_is_not_given_to_solve_field(unsolved, solver_ctx):
    ctx, runner = solver_ctx(), CountingRunner()
    obj = stored_and_recorded(ctx, A, blank_frame(unsolved, shape=(1000, 1500)))
    solver = PlateSolver(runner=runner, min_stars=0)  # no gate: the extraction finds nothing
    result = plate_solve(ctx, obj, solver)
    assert result.action == "solve_error" and runner.calls == []
    reason = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")["solve_error_reason"]
    assert reason.startswith("no sources to solve from")


def test_when_astrometry_net_finds_nothing_the_reason_says_what_was_tried(unsolved, solver_ctx):
    # A corner of the real frame: a few real stars, too few for astrometry.net.
    pixels = unsolved["pixels"][:120, :160]
    ctx, runner = solver_ctx(), CountingRunner()
    obj = stored_and_recorded(ctx, A, compress_frame(fits_bytes(unsolved["header"], pixels)).data)
    solver = PlateSolver(runner=runner, min_stars=0)
    result = plate_solve(ctx, obj, solver)
    assert result.action == "solve_error" and len(runner.calls) == 1
    reason = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")["solve_error_reason"]
    assert reason.startswith("astrometry.net found no solution within 10 deg of RA")
    assert "sources" in reason


def test_unreadable_frame_is_quarantined_and_recorded(unsolved, solver_ctx):
    ctx = solver_ctx()
    obj = stored_and_recorded(ctx, A, unsolved["fz"])
    broken = unsolved["fz"][: 2 * 2880 + 4 * 2880] + b"\0" * 10_000  # header fine, tiles gone
    ctx.store.put(S.images_bucket, A, broken)
    runner = ReplayRunner()
    result = plate_solve(ctx, obj, PlateSolver(runner=runner))
    assert result.action == "quarantined" and runner.calls == []
    kept = result.detail["kept_as"].removeprefix(f"gs://{S.quarantine_bucket}/")
    assert kept.startswith(f"{A}@") and ctx.store.read(S.quarantine_bucket, kept) == broken
    assert ctx.store.read(S.images_bucket, A) == broken
    image = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")
    assert image["status"] == "solve_error" and "cannot be read" in image["solve_error_reason"]


def test_a_solution_with_the_wrong_scale_is_rejected(unsolved, solution_header, solver_ctx):
    wrong = solution_header.copy()
    for keyword in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"):
        wrong[keyword] *= 1.5  # 15.5 arcsec/pixel
    ctx, runner = solver_ctx(), ReplayRunner(wrong)
    ctx.documents.merge("cameras", "14d3bd", {"pixel_scale_arcsec": 10.3})  # its known scale
    obj = stored_and_recorded(ctx, A, unsolved["fz"])
    assert plate_solve(ctx, obj, PlateSolver(runner=runner)).action == "solve_error"
    reason = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")["solve_error_reason"]
    assert "pixel scale 15.4" in reason and "9.27 to 11.33" in reason
    (command,) = runner.calls
    assert command[command.index("--scale-low") + 1] == "9.27"
    assert ctx.store.stat(S.solved_bucket, A) is None


# --------------------------------------------------------------------------------------
# Faults, races and redelivery (replayed solver runs)
# --------------------------------------------------------------------------------------


def test_a_missing_solver_is_a_fault_to_retry_not_a_frame_error(unsolved, solver_ctx):
    ctx = solver_ctx()
    obj = stored_and_recorded(ctx, A, unsolved["fz"])
    missing = SolveFieldOptions(executable="/nonexistent/solve-field")
    with pytest.raises(SolveFieldFailed, match="not installed"):
        plate_solve(ctx, obj, PlateSolver(options=missing))
    crashing = ReplayRunner(None, returncode=2)
    with pytest.raises(SolveFieldFailed, match="status 2"):
        plate_solve(ctx, obj, PlateSolver(runner=crashing))
    image = ctx.documents.get("images", "PAN001_14d3bd_20160909T081226")
    assert image["status"] == "uploaded" and image["solved"] is False


def test_a_frame_never_recorded_is_skipped(unsolved, solver_ctx):
    ctx, runner = solver_ctx(), ReplayRunner()
    ctx.store.put(S.images_bucket, A, unsolved["fz"])
    result = plate_solve(ctx, StoredObject(S.images_bucket, A), PlateSolver(runner=runner))
    assert result.action == "skipped" and "record-image" in result.detail["why"]
    assert (
        runner.calls == [] and ctx.documents.get("images", "PAN001_14d3bd_20160909T081226") is None
    )


def test_concurrent_deliveries_of_one_frame_solve_it_once(unsolved, solution_header, solver_ctx):
    ctx, runner = solver_ctx(), ReplayRunner(solution_header)
    obj = stored_and_recorded(ctx, A, unsolved["fz"])
    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(plate_solve(ctx, obj, PlateSolver(runner=runner)))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.action for r in results) == ["skipped", "skipped", "solved"]
    assert len(runner.calls) == 1


class RacingDocuments(MemoryDocuments):
    """Another frame's solve sets the observation's ra/dec just before our first commit."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = self.raced = False

    def commit(self, writes):
        if (
            self.armed
            and not self.raced
            and any(w.collection == "observations" and "ra" in w.fields for w in writes)
        ):
            self.raced = True
            (sequence_id,) = [w.doc_id for w in writes if w.collection == "observations"]
            super().commit(
                [DocWrite("observations", sequence_id, {"ra": 1.5, "dec": -2.5}, must_exist=True)]
            )
        return super().commit(writes)


def test_first_solved_frame_wins_the_observation_race(unsolved, solution_header, solver_ctx):
    documents = RacingDocuments()
    ctx = solver_ctx(documents)
    obj = stored_and_recorded(ctx, A, unsolved["fz"])
    documents.armed = True
    result = plate_solve(ctx, obj, PlateSolver(runner=ReplayRunner(solution_header)))
    assert result.action == "solved"
    assert documents.raced and documents.conflicts == 1
    observation = documents.get("observations", "PAN001_14d3bd_20160909T081152")
    assert (observation["ra"], observation["dec"]) == (1.5, -2.5)
    image = documents.get("images", "PAN001_14d3bd_20160909T081226")
    assert image["solved"] is True and image["ra_image"] != 1.5


# --------------------------------------------------------------------------------------
# The sky index of the observation
# --------------------------------------------------------------------------------------


def test_the_solved_field_is_indexed_for_the_sky_search(solved_a):
    from astropy import units as u
    from astropy_healpix import HEALPix

    from panoptes_network.frames.sky_index import INDEX_ORDERS, uniq

    ctx = solved_a["ctx"]
    observation = ctx.documents.get("observations", "PAN001_14d3bd_20160909T081152")
    assert observation["sky_source"] == "solved"
    assert (observation["sky_ra"], observation["sky_dec"]) == (
        observation["ra"],
        observation["dec"],
    )
    header, pixels = solved_hdu(ctx, A)
    rows, columns = pixels.shape
    corners = quiet_wcs(header).all_pix2world(
        [-0.5, columns - 0.5, -0.5, columns - 0.5], [-0.5, -0.5, rows - 0.5, rows - 0.5], 0
    )
    farthest = max(
        arcsec(ra, dec, observation["ra"], observation["dec"]) / 3600
        for ra, dec in zip(*corners, strict=True)
    )
    # the radius reaches this crop's farthest corner in the solved WCS, not a full frame's
    assert observation["sky_radius"] == pytest.approx(farthest, abs=1e-6)
    assert observation["sky_radius"] < 1.5
    cells = set(observation["sky_cells"])
    for order in INDEX_ORDERS:
        grid = HEALPix(nside=2**order, order="nested")
        held = grid.lonlat_to_healpix(corners[0] * u.deg, corners[1] * u.deg)
        assert {uniq(order, int(i)) for i in held} <= cells


def test_the_mount_index_is_replaced_by_the_solved_one(unsolved, solution_header, solver_ctx):
    ctx = solver_ctx(MemoryDocuments())
    obj = stored_and_recorded(ctx, A, unsolved["fz"])
    recorded = ctx.documents.get("observations", "PAN001_14d3bd_20160909T081152")
    assert recorded["sky_source"] == "mount"
    mount = (unsolved["header"]["RA-MNT"], unsolved["header"]["DEC-MNT"])
    assert (recorded["sky_ra"], recorded["sky_dec"]) == pytest.approx(mount, abs=1e-9)
    result = plate_solve(ctx, obj, PlateSolver(runner=ReplayRunner(solution_header)))
    assert result.action == "solved"
    solved = ctx.documents.get("observations", "PAN001_14d3bd_20160909T081152")
    assert solved["sky_source"] == "solved" and solved["sky_ra"] == solved["ra"]
    assert solved["sky_cells"] != recorded["sky_cells"]
    assert solved["sky_radius"] < recorded["sky_radius"]


def test_the_constants_used_are_recorded_with_their_sources(solved_a):
    image = solved_a["ctx"].documents.get("images", "PAN001_14d3bd_20160909T081226")
    constants = image["camera_constants"]
    assert constants["saturation_adu"] == {
        "value": 11765.0,
        "source": "header",
        "detail": "WHTLVLN",
    }
    assert constants["bayer_pattern"]["value"] == "RGGB"
    assert constants["bayer_pattern"]["source"] == "header"
    assert constants["bias_adu"]["value"] == REAL_CAMERA["bias_adu"]
    assert constants["bias_adu"]["source"] == "registry"
    assert constants["bias_adu"]["detail"].startswith("cameras/14d3bd (Canon EOS 100D")
    assert image["camera_warnings"] == []


def test_a_camera_missing_from_the_registry_is_a_calibration_error(unsolved, make_ctx):
    ctx, runner = make_ctx(service="plate-solve", now=lambda: NOW, cameras={}), CountingRunner()
    ctx.store.put(S.images_bucket, A, unsolved["fz"])
    obj = StoredObject(S.images_bucket, A)
    image_id = "PAN001_14d3bd_20160909T081226"
    # record-image: the frame is recorded, but not sent to plate-solve
    recorded = record_image(ctx, obj)
    assert recorded.action == "recorded" and not recorded.detail["sent_to_solve"]
    assert "no bias_adu" in recorded.detail["calibration_error"]
    image = ctx.documents.get("images", image_id)
    assert image["status"] == "calibration_error" and image["due_time"] is None
    assert image["missing_camera_constant"] == "bias_adu"
    reason = image["calibration_error_reason"]
    assert "camera 14d3bd: no bias_adu" in reason and "cameras/14d3bd" in reason
    assert ctx.bus.on(S.solve_topic) == []
    # the camera is registered and the frame delivered again: recorded and sent on
    register_cameras(ctx.documents, {"14d3bd": REAL_CAMERA})
    again = record_image(ctx, obj)
    assert again.detail["sent_to_solve"] and "calibration_error" not in again.detail
    image = ctx.documents.get("images", image_id)
    assert image["status"] == "uploaded" and image["calibration_error_reason"] is None
    assert image["camera_constants"]["gain_e_per_adu"]["source"] == "registry"
    # plate-solve resolves again: a registry entry that became unusable stops it too
    ctx.documents.merge("cameras", "14d3bd", {"gain_e_per_adu": -1.0})
    result = plate_solve(ctx, obj, PlateSolver(runner=runner))
    assert result.action == "calibration_error" and runner.calls == []
    image = ctx.documents.get("images", image_id)
    assert image["status"] == "calibration_error" and not image.get("solved")
    assert image["missing_camera_constant"] == "gain_e_per_adu"
    assert "the registry's value is unusable" in image["calibration_error_reason"]
    # the frame stays where it is, and nothing was quarantined
    assert ctx.store.stat(obj.bucket, obj.name) is not None
    assert not list(ctx.store.list(S.quarantine_bucket, ""))


def test_the_background_box_and_the_scale_range_follow_the_cameras_pixel_scale():
    solver = PlateSolver()
    # 22 arcmin: 64 plane pixels of a 10.3 arcsec/pixel camera, 32 of a 20.6 one.
    assert solver.background_box_for(10.3) == 64 and solver.background_box_for(20.6) == 32
    assert solver.background_box_for(None) == round(22 * 60 / (2 * (2.0 * 60.0) ** 0.5))
    assert solver.background_box_for(300.0) == 16  # never fewer than 16 plane pixels
    assert PlateSolver(background_box=40).background_box_for(5.0) == 40
    assert solver.scale_range(10.0) == pytest.approx((9.0, 11.0))
    assert solver.scale_range(None) == (2.0, 60.0)
    assert PlateSolver(pixel_scale=(5.0, 6.0)).scale_range(10.0) == (5.0, 6.0)
