"""An observation's tracking reference: written from a solution, read back, and checked.

References: a TAN-SIP WCS built here (its pixel-to-sky mapping must survive the round trip
through a document exactly), and mount positions a known angle apart.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.wcs import WCS, Sip

from panoptes_network.astrometry.frame_wcs import solution_on_frame
from panoptes_network.astrometry.tracking_reference import (
    mount_position,
    reference_from_record,
    reference_record,
    why_not_tracked,
)

SHAPE = (3476, 5208)


def sip_wcs() -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    wcs.wcs.crval = [301.564, 44.457]
    wcs.wcs.crpix = [2604.5, 1738.5]
    scale = 10.3 / 3600
    angle = np.radians(12.0)
    wcs.wcs.cd = scale * np.array([[-np.cos(angle), np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    a = np.zeros((3, 3))
    b = np.zeros((3, 3))
    a[2, 0], a[0, 2], b[1, 1] = 2e-6, -1.5e-6, 3e-6
    wcs.sip = Sip(a, b, None, None, wcs.wcs.crpix)
    return wcs


def test_a_reference_reads_back_to_the_same_solution():
    solution = solution_on_frame(sip_wcs(), SHAPE, (9.5, 11.5))
    record = reference_record(
        "PAN001_14d3bd_20240912T063208", solution, {"RA-MNT": "301.2", "DEC-MNT": 44.1}
    )
    assert record["image_id"] == "PAN001_14d3bd_20240912T063208"
    assert record["mount_ra"] == pytest.approx(301.2) and record["mount_dec"] == pytest.approx(44.1)
    assert all(isinstance(v, (str, int, float)) for v in record["wcs"].values())
    reference = reference_from_record(record)
    assert reference is not None and reference.mount == pytest.approx((301.2, 44.1))
    x = np.array([0.0, 5207.0, 0.0, 5207.0, 2603.5])
    y = np.array([0.0, 0.0, 3475.0, 3475.0, 1737.5])
    ra, dec = solution.wcs.all_pix2world(x, y, 0)
    back_x, back_y = reference.wcs.all_world2pix(ra, dec, 0)
    assert np.hypot(back_x - x, back_y - y).max() < 1e-3  # the SIP terms came back too


def test_missing_or_damaged_references_are_none():
    assert reference_from_record(None) is None
    assert reference_from_record({"image_id": "x"}) is None
    assert reference_from_record({"image_id": "x", "wcs": {"NAXIS": 2}}) is None
    assert reference_from_record({"image_id": "x", "wcs": {"CTYPE1": 5, "CD1_1": "a"}}) is None


def test_why_a_frame_is_not_tracked():
    solution = solution_on_frame(sip_wcs(), SHAPE, (9.5, 11.5))
    reference = reference_from_record(
        reference_record("A", solution, {"RA-MNT": 301.2, "DEC-MNT": 44.1})
    )
    assert why_not_tracked(None, {}, 0.5) == "no frame of this observation is solved yet"
    assert why_not_tracked(reference, {"RA-MNT": 301.3, "DEC-MNT": 44.2}, 0.5) is None
    moved = why_not_tracked(reference, {"RA-MNT": 301.2, "DEC-MNT": 45.1}, 0.5)
    assert moved is not None and moved.startswith("the mount moved 1.00 deg from where it")
    assert "for A (more than 0.5 deg)" in moved
    # Without a mount position on either side, tracking itself decides (it checks the shift).
    assert why_not_tracked(reference, {"RA-MNT": "", "DEC-MNT": ""}, 0.5) is None


def test_mount_positions_of_old_and_odd_headers():
    assert mount_position({"RA-MNT": "361.5", "DEC-MNT": "-10"}) == pytest.approx((1.5, -10.0))
    assert mount_position({"RA-MNT": "", "DEC-MNT": 10.0}) is None
    assert mount_position({"RA-MNT": 10.0, "DEC-MNT": 91.0}) is None
    assert mount_position({"RA-MNT": True, "DEC-MNT": 10.0}) is None
    assert mount_position({}) is None
