"""Frame rejection on synthetic per-frame photometry with known bad frames."""

from __future__ import annotations

import numpy as np
import pytest

from panoptes_network.differential_photometry import OFF_FRAME
from panoptes_network.frame_quality import assess_frames
from panoptes_network.synthetic_photometry import CLOUD_TRANSMISSION, synthetic_observation

CLOUDY = 17


@pytest.fixture(scope="module")
def frames():
    obs = synthetic_observation(n_frames=60, n_stars=200, seed=3, cloudy=(CLOUDY,))
    tables = [t.copy() for t in obs.tables]
    tables[5].meta["bad"] = True
    tables[40]["flags"][20:] = OFF_FRAME  # 20 usable stars left
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
    assert any("focus test skipped" in n for n in assess_frames(tables).notes)
    wide = [t.copy() for t in tables[20:35]]
    for i, t in enumerate(wide):
        t["fwhm"] = np.full(len(t), 6.0 if i == 3 else 2.5)
    quality = assess_frames(wide)
    assert not quality.notes
    assert [(r.index, r.reasons[0].split(":")[0]) for r in quality.rejected] == [(3, "poor_focus")]
