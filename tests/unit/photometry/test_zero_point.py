"""Photometric zero points against the simulator's passband truth.

References: the passband model of the simulator
(:mod:`panoptes_network.simulation.passbands`: ``F_c = F_c,ref t/120 10**(-0.4 (V - 10 +
s_c (B-V - 0.65))) 10**(-0.4 k_c X)``), from which the zero point and colour term of each
colour against the instrumental colour ``b - r`` follow in closed form (:func:`truth`), and
the catalog V of the stars.

- Pixel level: one clear 2400 x 1600 frame of the HD 189733 field (Tycho-2 stars from the
  local catalog, V 4 to 12.5, no vignetting), rendered by two cameras that differ in gain
  (1.5 and 0.9 e-/ADU), read noise, bias and white level, each measured with its own
  constants by :func:`~panoptes_network.photometry.frame_photometry.measure_frame`; and the
  second camera's frame measured with the first camera's gain.
- Table level: per-image tables drawn from the passband model with CCD-equation noise, for
  the catalog colour option, outliers and errors.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest
from astropy.table import Table

from panoptes_network.photometry.flags import SourceFlag
from panoptes_network.photometry.frame_photometry import measure_frame
from panoptes_network.photometry.zero_point import (
    ZeroPoint,
    ZeroPointError,
    calibrated_magnitudes,
    fit_zero_point,
    fit_zero_points,
    observation_colour_term,
)
from panoptes_network.simulation import CameraModel, SequenceSpec, SequenceTruth, simulate_sequence
from panoptes_network.simulation.fields import field_position
from panoptes_network.simulation.passbands import (
    PASSBANDS,
    REFERENCE_EXPTIME,
    REFERENCE_VMAG,
    bv_from_picid,
    channel_fluxes,
)
from panoptes_network.simulation.sequence import read_frame

EXPTIME = 120.0
BANDS = {band.name.lower(): band for band in PASSBANDS}
#: Two cameras of one field: the gains differ by a factor 1.67 (0.55 mag).
CAMERA_A = CameraModel("0a1b2c", width=2400, height=1600, gain=1.5, read_noise=10.5,
                       bias_adu=2048.0, saturation_adu=11530, vignetting_loss=0.0)  # fmt: skip
CAMERA_B = CameraModel("3d4e5f", width=2400, height=1600, gain=0.9, read_noise=7.0,
                       bias_adu=2060.0, saturation_adu=12100, vignetting_loss=0.0)  # fmt: skip


def truth(airmass: float) -> dict[str, tuple[float, float]]:
    """Zero point at ``b - r = 0`` and colour term per colour, from the passband model.

    With ``m_c = -2.5 log10(F_c / t)`` and ``C = m_b - m_r = C0 + (s_b - s_r)(B-V - 0.65)``,
    ``V - m_c = 10 + 2.5 log10(F_c,ref / 120) - k_c X - s_c (C - C0) / (s_b - s_r)``.
    """
    red, blue = BANDS["r"], BANDS["b"]
    spread = blue.colour_slope - red.colour_slope
    c0 = -2.5 * np.log10(blue.zero_point / red.zero_point)
    c0 += (blue.extinction - red.extinction) * airmass
    return {
        c: (
            REFERENCE_VMAG
            + 2.5 * np.log10(band.zero_point / REFERENCE_EXPTIME)
            - band.extinction * airmass
            + band.colour_slope * c0 / spread,
            -band.colour_slope / spread,
        )
        for c, band in BANDS.items()
    }


@pytest.fixture(scope="module")
def local_catalog():
    from panoptes_network.catalog.local_file import open_catalog

    try:
        return open_catalog()
    except (FileNotFoundError, ValueError) as exc:
        pytest.skip(f"no local star catalog for the pixel-level zero-point tests: {exc}")


@pytest.fixture(scope="module")
def frames(local_catalog, tmp_path_factory):
    """Per camera: the frame's sources table (own constants) and the stars' median airmass."""
    ra, dec = field_position("HD 189733")
    start = datetime(2026, 8, 20, 8, 0, tzinfo=timezone.utc)
    out = {}
    for camera in (CAMERA_A, CAMERA_B):
        spec = SequenceSpec(ra=ra, dec=dec, start=start, count=1, camera=camera, seed=3,
                            vmag_range=(4.0, 12.5))  # fmt: skip
        result = simulate_sequence(spec, local_catalog, tmp_path_factory.mktemp(camera.camera_id))
        sim = SequenceTruth.read(result.folder)
        _, pixels = read_frame(str(result.frames[0]))
        wcs = sim.wcs(0)
        rows = local_catalog.footprint_search(wcs, camera.shape, 0.0, spec.vmag_range)
        airmass = float(np.median(sim.frame_stars(0)["airmass"]))
        out[camera.camera_id] = (pixels, wcs, rows, airmass)
    return out


def measured(frames, camera: CameraModel, **constants) -> tuple[Table, float]:
    pixels, wcs, rows, airmass = frames[camera.camera_id]
    table = measure_frame(pixels, wcs, rows, **{**camera.measure_constants(), **constants})
    table.meta.update(image_id=f"PAN001_{camera.camera_id}_20260820T080000", airmass=airmass)
    return table, airmass


def test_zero_points_and_colour_terms_match_the_passband_truth(frames):
    table, airmass = measured(frames, CAMERA_A)
    zero_points = fit_zero_points(table, exptime=EXPTIME)
    expected = truth(airmass)
    for c, zp in zero_points.items():
        print(f"{c}: zero point {zp.zero_point:.4f} +- {zp.zero_point_err:.4f} mag (truth "
              f"{expected[c][0]:.4f}), colour term {zp.colour_term} (truth {expected[c][1]:+.4f})"
              f", {zp.n_stars} stars, {zp.n_rejected} clipped, rms {zp.rms:.4f} mag, "
              f"delta BIC {zp.delta_bic:.1f}")  # fmt: skip
        assert zp.image_id == table.meta["image_id"] and zp.airmass == airmass
        assert zp.n_stars > 300
        assert zp.zero_point == pytest.approx(expected[c][0], abs=0.01)
        assert zp.rms < 0.03
    for c in "rb":  # the Canon R and B filters straddle V: a colour term helps
        assert zero_points[c].colour_term == pytest.approx(expected[c][1], abs=0.01)
    assert zero_points["g"].colour_term is None  # green is V: none kept


def test_calibrated_magnitudes_match_the_catalog(frames):
    table, _ = measured(frames, CAMERA_A)
    zero_points = fit_zero_points(table, exptime=EXPTIME)
    calibrated = calibrated_magnitudes(table, zero_points)
    clean = np.asarray(table["flags"]) == 0
    for c in "rgb":
        error = np.asarray(calibrated[f"mag_err_{c}"])
        good = clean & (error < 0.02)
        offset = np.asarray(calibrated[f"mag_{c}"] - calibrated["vmag"])[good]
        spread = 1.4826 * np.median(np.abs(offset - np.median(offset)))
        print(f"{c}: calibrated - catalog V over {good.sum()} clean stars (error < 0.02 mag): "
              f"median {np.median(offset):+.4f} mag, robust scatter {spread:.4f} mag, "
              f"median error {np.median(error[good]):.4f} mag; colour term "
              f"{zero_points[c].colour_term}")  # fmt: skip
        assert good.sum() > 300
        assert abs(np.median(offset)) < 0.005
        assert spread < 0.02


def test_two_cameras_with_different_gains_agree(frames):
    table_a, _ = measured(frames, CAMERA_A)
    table_b, _ = measured(frames, CAMERA_B)
    wrong_b, _ = measured(frames, CAMERA_B, gain=CAMERA_A.gain)
    zp_a = fit_zero_points(table_a, exptime=EXPTIME)
    zp_b = fit_zero_points(table_b, exptime=EXPTIME)
    zp_wrong = fit_zero_points(wrong_b, exptime=EXPTIME)
    gain_offset = 2.5 * np.log10(CAMERA_A.gain / CAMERA_B.gain)
    for c in "rgb":
        agree = zp_a[c].zero_point - zp_b[c].zero_point
        wrong = zp_wrong[c].zero_point - zp_b[c].zero_point
        print(f"{c}: gain 1.5 minus gain 0.9: {agree:+.4f} mag; the 0.9 camera measured with "
              f"gain 1.5: {wrong:+.4f} mag (expected {gain_offset:+.4f})")  # fmt: skip
        assert abs(agree) < 0.02
        assert wrong == pytest.approx(gain_offset, abs=0.01)


def passband_table(seed: int = 1, n: int = 600, airmass: float = 1.3) -> Table:
    """A frame's table drawn from the passband model, with the true B-V as column ``bv``."""
    rng = np.random.default_rng(seed)
    picid = np.sort(rng.choice(np.arange(10_000_000, 99_999_999), n, replace=False))
    vmag = rng.uniform(7.0, 12.5, n)
    bv = bv_from_picid(picid)
    fluxes = channel_fluxes(vmag, bv, EXPTIME, airmass)
    table = Table({"picid": picid, "vmag": vmag, "bv": bv, "flags": np.zeros(n, np.int32)})
    for i, c in enumerate("rgb"):
        background = {"r": 20, "g": 40, "b": 20}[c] * (200.0 + 110.0)
        error = np.sqrt(fluxes[:, i] + background)
        table[f"flux_{c}"] = fluxes[:, i] + rng.normal(0.0, 1.0, n) * error
        table[f"flux_err_{c}"] = error
    table.meta.update(image_id="PAN001_0a1b2c_20260820T080000", airmass=airmass)
    return table


def test_a_catalog_colour_gives_the_passband_slopes():
    table = passband_table()
    for c, band in BANDS.items():
        zp = fit_zero_point(table, c, exptime=EXPTIME, colour_index="bv")
        # V - m_c = const - s_c (B-V): the colour term is -s_c against B-V
        assert zp.colour_index == "bv"
        assert zp.slope == pytest.approx(-band.colour_slope, abs=0.01)
    with pytest.raises(ZeroPointError, match="no colour column 'teff'"):
        fit_zero_point(table, "g", exptime=EXPTIME, colour_index="teff")


def test_blends_are_clipped_and_leave_the_zero_point():
    clean = passband_table(seed=2)
    blended = clean.copy()
    bright = np.flatnonzero(np.asarray(clean["vmag"]) < 10.0)[:30]
    blended["flux_g"][bright] *= 1.5  # unflagged neighbours in the aperture
    before = fit_zero_point(clean, "g", exptime=EXPTIME)
    after = fit_zero_point(blended, "g", exptime=EXPTIME)
    assert bright.size == 30
    assert after.n_rejected == before.n_rejected + 30
    assert after.zero_point == pytest.approx(before.zero_point, abs=0.002)


def test_flagged_stars_are_left_out():
    table = passband_table(seed=3)
    table["flux_g"][:40] *= 0.5  # saturated cores lose flux
    table["flags"][:40] = int(SourceFlag.SATURATED)
    zp = fit_zero_point(table, "g", exptime=EXPTIME)
    reference = fit_zero_point(table[40:], "g", exptime=EXPTIME)
    assert zp.n_stars == reference.n_stars and zp.n_rejected == reference.n_rejected
    assert zp.zero_point == reference.zero_point


def test_too_few_stars_names_the_image_and_the_colour():
    table = passband_table(seed=4, n=30)
    table["flags"][:25] = int(SourceFlag.NEAR_EDGE)
    with pytest.raises(ZeroPointError, match=r"PAN001_0a1b2c_20260820T080000, colour r: \d usable"):
        fit_zero_points(table, exptime=EXPTIME)
    with pytest.raises(ZeroPointError, match="exposure time 0"):
        fit_zero_points(passband_table(), exptime=0)


def test_the_record_is_json_and_round_trips():
    zero_points = fit_zero_points(passband_table(), exptime=EXPTIME)
    for zp in zero_points.values():
        record = json.loads(json.dumps(zp.to_record(), allow_nan=False))
        again = ZeroPoint.from_record(record)
        assert again.zero_point == pytest.approx(zp.zero_point, abs=1e-6)
        assert again.colour_term == (None if zp.colour_term is None else pytest.approx(
            zp.colour_term, abs=1e-6))  # fmt: skip
        assert again.n_stars == zp.n_stars and again.colour_index == "b-r"


def test_one_colour_term_per_observation():
    table = passband_table()
    frames = [fit_zero_point(table, c, exptime=EXPTIME) for c in ("r", "r", "g")]
    term, error = observation_colour_term(frames[:2])
    assert term == pytest.approx(frames[0].colour_term) and error is not None
    assert observation_colour_term([frames[2], frames[2], frames[0]]) == (0.0, None)
