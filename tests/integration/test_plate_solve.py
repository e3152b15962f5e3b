"""plate-solve end to end on the emulators: upload, compress, record, solve, documents."""

from __future__ import annotations

import io
import shutil
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS

from panoptes_network.catalog.star_catalog import angular_separation
from tests.integration.conftest import wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("solve-field") is None,
        reason="astrometry.net solve-field is not installed (Debian: astrometry.net and "
        "astrometry-data-tycho2)",
    ),
]

KNOWN_CENTRE = (303.213, 46.021)  # unsolved.fits, PROVENANCE.md
SEQ, IMG, NEXT = "20160909T081152", "20160909T081300", "20160909T081434"


def settled(stack, image_id: str):
    image = stack.doc("images", image_id)
    # measure-sources runs right after a solve and moves the status on to "measured".
    done = ("solved", "solve_error", "measured", "measure_error")
    return image if image and image.get("status") in done else None


def test_uploaded_frame_is_solved_and_its_observation_gets_ra_dec(stack, unit_ids, panoptes_data):
    unit, camera = unit_ids
    source = panoptes_data / "unsolved.fits"
    stack.upload(f"{unit}/{camera}/{SEQ}/{IMG}.fits", source.read_bytes())
    image_id = f"{unit}_{camera}_{IMG}"
    image = wait_for("the image to be plate solved", lambda: settled(stack, image_id), 180)
    assert image["status"] in ("solved", "measured"), image.get("solve_error_reason")
    assert image["solved"] is True
    separation = angular_separation(image["ra_image"], image["dec_image"], *KNOWN_CENTRE)
    assert separation * 3600 < 30
    assert image["pixel_scale"] == pytest.approx(10.3, abs=0.15)
    assert set(image["background"]) == {"r", "g", "b"}
    name = f"{unit}/{camera}/{SEQ}/{IMG}.fits.fz"
    assert image["solved_path"] == name
    blob = stack.blob(stack.settings.solved_bucket, name)
    assert blob is not None
    with fits.open(io.BytesIO(blob.download_as_bytes())) as hdus:
        header, pixels = hdus[1].header, np.array(hdus[1].data)
    with fits.open(source) as original:
        np.testing.assert_array_equal(pixels, original[0].data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        ra, dec = WCS(header, naxis=2).all_pix2world(349.5, 349.5, 0)
    assert angular_separation(ra, dec, image["ra_image"], image["dec_image"]) * 3600 < 0.01
    observation = stack.doc("observations", f"{unit}_{camera}_{SEQ}")
    assert (observation["ra"], observation["dec"]) == pytest.approx(
        (image["ra_image"], image["dec_image"])
    )
    assert observation["num_images"] == 1
    assert image["solve_method"] == "solve-field"
    assert image["solve_not_tracked_reason"] == "no frame of this observation is solved yet"
    # The next frame of the sequence is tracked from this one, against the local catalog.
    with fits.open(panoptes_data / "solved.fits.fz") as hdus:
        out = io.BytesIO()
        fits.PrimaryHDU(np.array(hdus[1].data), hdus[1].header).writeto(out)
    stack.upload(f"{unit}/{camera}/{SEQ}/{NEXT}.fits", out.getvalue())
    second = wait_for(
        "the next frame to be solved", lambda: settled(stack, f"{unit}_{camera}_{NEXT}"), 180
    )
    assert second["solved"] is True, second.get("solve_error_reason")
    assert second["solve_method"] == "tracked", second.get("solve_not_tracked_reason")
    assert second["solve_tracked_from"] == image_id and second["solve_rms_px"] < 0.6
    separation = angular_separation(
        second["ra_image"], second["dec_image"], image["ra_image"], image["dec_image"]
    )
    assert 3 < separation * 3600 < 60  # the sky moved about 2 px (20 arcsec) between them


def test_blank_frame_ends_as_a_solve_error_not_a_retry(stack, unit_ids, panoptes_data):
    unit, camera = unit_ids
    header = fits.getheader(panoptes_data / "unsolved.fits")
    rng = np.random.default_rng(4)
    pixels = np.round(2048 + rng.normal(0, 7.0, (700, 700))).astype(np.uint16)
    out = io.BytesIO()
    fits.PrimaryHDU(pixels, header).writeto(out)
    stack.upload(f"{unit}/{camera}/{SEQ}/{IMG}.fits", out.getvalue())
    image_id = f"{unit}_{camera}_{IMG}"
    image = wait_for("the blank frame's solve to end", lambda: settled(stack, image_id), 180)
    assert image["status"] == "solve_error" and image["solved"] is False
    assert "blank, cloud-covered" in image["solve_error_reason"]
    assert image["ra_image"] is None
    assert stack.blob(stack.settings.solved_bucket, f"{unit}/{camera}/{SEQ}/{IMG}.fits.fz") is None
    assert stack.doc("observations", f"{unit}_{camera}_{SEQ}")["ra"] is None
