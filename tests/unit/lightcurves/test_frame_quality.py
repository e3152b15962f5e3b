"""Frame rejection on synthetic per-frame photometry and simulated frames with known bad ones."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from panoptes_network.lightcurves.frame_quality import assess_frames
from panoptes_network.photometry.flags import SourceFlag
from panoptes_network.photometry.frame_photometry import measure_frame
from panoptes_network.simulation import CameraModel
from panoptes_network.simulation.camera import HotPixels
from panoptes_network.simulation.psf import PsfModel
from panoptes_network.simulation.render import FrameScene, digitise, expected_electrons
from panoptes_network.simulation.smooth_field import SmoothField
from panoptes_network.simulation.synthetic_photometry import (
    CLOUD_TRANSMISSION,
    synthetic_observation,
)

CLOUDY = 17


@pytest.fixture(scope="module")
def frames():
    obs = synthetic_observation(n_frames=60, n_stars=200, seed=3, cloudy=(CLOUDY,))
    tables = [t.copy() for t in obs.tables]
    tables[5].meta["bad"] = True
    tables[40]["flags"][20:] = SourceFlag.OFF_FRAME  # 20 usable stars left
    return obs, tables


def test_bad_frames_are_rejected_with_reasons(frames):
    _, tables = frames
    quality = assess_frames(tables, min_stars=50)
    reasons = {r.index: r.reasons for r in quality.rejected}
    assert sorted(reasons) == [5, CLOUDY, 40]
    assert reasons[5][0].startswith("flagged")
    assert reasons[CLOUDY][0].startswith("clouds")
    assert reasons[40] == ("too_few_stars: 20 < 50",)
    assert quality.rejected[0].image_id == tables[5].meta["image_id"]
    assert len(quality.kept) == 57
    assert all(t is not tables[CLOUDY] for t in quality.kept)


def test_transparency_measures_the_injected_cloud(frames):
    _, tables = frames
    quality = assess_frames(tables)
    # clear frames: extinction over airmass 1.05-1.65 (0.15 mag/airmass) and 1 % jitter only
    clear = np.delete(quality.transparency, [CLOUDY])
    assert np.all(np.abs(clear - 1.0) < 0.1)
    # against its neighbours (same airmass within 0.01) the cloudy frame keeps 45 % +- 3 %
    neighbours = quality.transparency[[CLOUDY - 1, CLOUDY + 1]].mean()
    assert quality.transparency[CLOUDY] / neighbours == pytest.approx(CLOUD_TRANSMISSION, abs=0.03)


def test_thin_cloud_passes_a_looser_threshold(frames):
    _, tables = frames
    quality = assess_frames(tables, cloud_threshold=0.4)
    assert CLOUDY not in {r.index for r in quality.rejected}


def test_focus_test_skipped_without_width_and_applied_with_it(frames):
    _, tables = frames
    assert not assess_frames(tables).notes  # the synthetic widths vary by 2 %: all in focus
    bare = [t.copy() for t in tables]
    for t in bare:
        t.remove_column("fwhm")
    assert any("focus test skipped" in n for n in assess_frames(bare).notes)
    wide = [t.copy() for t in tables[20:35]]
    for i, t in enumerate(wide):
        t["fwhm"] = np.full(len(t), 6.0 if i == 3 else 2.5)
    quality = assess_frames(wide)
    assert not quality.notes
    assert [(r.index, r.reasons[0].split(":")[0]) for r in quality.rejected] == [(3, "poor_focus")]


# --------------------------------------------------------------------------------------
# Poor focus on simulated frames, measured by measure_frame
# --------------------------------------------------------------------------------------

DEFOCUSED = (2, 6)


def simulated_observation(n_frames: int, defocused: tuple[int, ...]) -> list[Table]:
    """Per-frame tables of 63 stars rendered with the simulator's PSF; some frames 2x wider."""
    camera = CameraModel("0abcde", width=400, height=320, hot_pixel_count=0)
    rng = np.random.default_rng(7)
    gx, gy = np.meshgrid(np.arange(40, 380, 40), np.arange(40, 300, 40))
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    vmag = rng.uniform(9.5, 12.0, x.size)
    fluxes = np.array([8_000.0, 30_000.0, 11_000.0]) * 10 ** (-0.4 * (vmag - 10))[:, None]
    rows = Table(
        {
            "picid": np.arange(x.size, dtype=np.int64) + 1,
            "ra": np.zeros(x.size),
            "dec": np.zeros(x.size),
            "vmag": vmag,
            "x": x,
            "y": y,
        }
    )
    sharp = PsfModel()
    wide = PsfModel(
        centre_fwhm=2 * sharp.centre_fwhm, corner_fwhm=2 * sharp.corner_fwhm, fwhm_range=(4.0, 6.0)
    )
    tables = []
    for i in range(n_frames):
        sigma_x, sigma_y = (wide if i in defocused else sharp).sigmas(x, y, camera.shape, 60.0 * i)
        scene = FrameScene(
            camera=camera,
            x=x,
            y=y,
            fluxes=fluxes,
            sigma_x=sigma_x,
            sigma_y=sigma_y,
            sky=tuple(SmoothField(np.full((3, 3), v), camera.shape) for v in (150.0, 300.0, 200.0)),
            hot=HotPixels(np.zeros(0, int), np.zeros(0, int), np.zeros(0)),
            exptime=120.0,
        )
        electrons, _ = expected_electrons(scene)
        pixels = digitise(electrons, camera, np.random.default_rng(100 + i))
        table = measure_frame(pixels, None, rows, **camera.measure_constants())
        table.meta["image_id"] = f"frame{i:02d}"
        tables.append(table)
    return tables


def test_defocused_simulated_frames_are_rejected_for_poor_focus():
    tables = simulated_observation(10, DEFOCUSED)
    quality = assess_frames(tables, min_stars=30)
    assert [r.index for r in quality.rejected] == list(DEFOCUSED)
    for rejected in quality.rejected:
        assert len(rejected.reasons) == 1
        assert rejected.reasons[0].startswith("poor_focus: median FWHM ")
        ratio = float(rejected.reasons[0].split(" is ")[1].split(" x")[0])
        assert ratio == pytest.approx(2.0, rel=0.1)
    assert len(quality.kept) == 8 and not quality.notes


def test_schema_1_tables_without_widths_skip_the_focus_test():
    tables = simulated_observation(4, (1,))
    for t in tables:
        t["fwhm"] = np.full(len(t), np.nan, dtype=np.float32)
    quality = assess_frames(tables, min_stars=30)
    assert not quality.rejected
    assert quality.notes == ["focus test skipped: no frame has a measured 'fwhm' column"]
    tables[3]["fwhm"] = np.full(len(tables[3]), 2.4, dtype=np.float32)
    tables[0]["fwhm"] = np.full(len(tables[0]), 2.5, dtype=np.float32)
    quality = assess_frames(tables, min_stars=30)
    assert not quality.rejected
    assert quality.notes == [
        "focus not tested on 2 of 4 frames: no measured 'fwhm' of a usable star"
    ]
