"""Injected variability against independent references.

The limb-darkened transit is checked against a brute-force integration of the stellar disc on
a fine grid (the exact blocked flux, no approximation); flares and sinusoids against their
defining formulas evaluated by hand; exposure means against numerical integration.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from panoptes_network.simulation.variability import (
    Flare,
    Sinusoid,
    Transit,
    events_from_table,
    events_table,
    exposure_mean,
)

T0 = datetime(2024, 9, 12, 7, 0, 0, tzinfo=timezone.utc)


def seconds(minutes):
    return T0.timestamp() + np.asarray(minutes, dtype=float) * 60.0


def blocked_by_brute_force(p: float, z: float, u1: float, u2: float, n: int = 1601) -> float:
    """Fraction of a quadratically limb-darkened star's flux hidden by a disc (grid sum)."""
    axis = np.linspace(-1, 1, n)
    x, y = np.meshgrid(axis, axis)
    r2 = x**2 + y**2
    on_star = r2 < 1
    mu = np.sqrt(np.clip(1 - r2, 0, 1))
    intensity = np.where(on_star, 1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2, 0.0)
    hidden = (x - z) ** 2 + y**2 < p**2
    return float(intensity[hidden].sum() / intensity.sum())


def test_box_transit_has_its_depth_for_its_duration():
    transit = Transit(1, T0, 0.02, 60.0, limb_darkening=None)
    flux = transit.relative_flux(seconds([-31, -29, 0, 29, 31]))
    assert flux == pytest.approx([1.0, 0.98, 0.98, 0.98, 1.0])


def test_limb_darkened_transit_matches_brute_force_integration():
    transit = Transit(1, T0, 0.01, 120.0, impact=0.3, limb_darkening=(0.4, 0.25))
    p, b = transit.radius_ratio, 0.3
    assert 1 - transit.relative_flux(seconds(0.0)) == pytest.approx(0.01, rel=1e-9)
    for minutes in (0.0, 20.0, 40.0, 55.0, 58.0):
        # Position of the planet along its chord, in stellar radii, at that time.
        z = np.sqrt(b**2 + (minutes / 60.0) ** 2 * ((1 + p) ** 2 - b**2))
        exact = blocked_by_brute_force(p, z, 0.4, 0.25)
        model = 1 - float(transit.relative_flux(seconds(minutes)))
        # The small-planet approximation holds to 2 % of the depth (p ~ 0.1).
        assert model == pytest.approx(exact, abs=0.02 * 0.01 + 2e-5), minutes
    assert transit.relative_flux(seconds([-61, 61])) == pytest.approx([1.0, 1.0])


def test_limb_darkening_makes_the_transit_rounder_than_a_box():
    ld = Transit(1, T0, 0.01, 120.0, impact=0.0, limb_darkening=(0.4, 0.25))
    flux = ld.relative_flux(seconds(np.linspace(-55, 0, 12)))
    assert np.all(np.diff(flux) <= 1e-12)  # deepens steadily towards mid-transit
    assert 1 - flux[0] < 0.8 * 0.01  # shallower near the limb


def test_grazing_or_bad_transits_are_rejected():
    with pytest.raises(ValueError, match="graze"):
        Transit(1, T0, 0.04, 60.0, impact=0.9)
    with pytest.raises(ValueError, match="depth"):
        Transit(1, T0, 1.5, 60.0)
    with pytest.raises(ValueError, match="duration"):
        Transit(1, T0, 0.01, 0.0)


def test_flare_rises_linearly_and_decays_exponentially():
    flare = Flare(2, T0, 0.2, rise=4.0, decay=10.0)
    flux = flare.relative_flux(seconds([-5, -2, 0, 10, 20]))
    assert flux == pytest.approx([1.0, 1.1, 1.2, 1 + 0.2 / np.e, 1 + 0.2 / np.e**2])


def test_sinusoid_peaks_at_its_epoch():
    wave = Sinusoid(3, T0, 0.05, 90.0)
    assert wave.relative_flux(seconds([0, 22.5, 45, 90])) == pytest.approx([1.05, 1.0, 0.95, 1.05])


def test_exposure_mean_integrates_over_the_exposure():
    flare = Flare(7, T0, 0.5, rise=1.0, decay=1.0)
    start = T0.timestamp()
    # Over a 2-minute exposure starting at the peak: mean of 1 + 0.5 exp(-t/1 min).
    exact = 1 + 0.5 * (1 - np.exp(-2.0)) / 2.0
    mean = exposure_mean([flare], np.array([5, 7]), start, 120.0)
    assert mean[0] == 1.0
    assert mean[1] == pytest.approx(exact, rel=2e-3)
    # Two events of one star multiply.
    wave = Sinusoid(7, T0 - timedelta(minutes=30), 0.01, 120.0)  # a zero of the cosine at T0
    both = exposure_mean([flare, wave], np.array([7]), start, 120.0)[0]
    t = start + (np.arange(100_000) + 0.5) / 100_000 * 120.0
    reference = np.mean(flare.relative_flux(t) * wave.relative_flux(t))
    assert both == pytest.approx(reference, rel=2e-3)


def test_events_table_round_trips():
    events = [
        Transit(1, T0, 0.01, 90.0),
        Transit(2, T0 + timedelta(minutes=5), 0.03, 30.0, limb_darkening=None),
        Flare(3, T0, 0.1, 2.0, 10.0),
        Sinusoid(4, T0, 0.02, 60.0),
    ]
    table = events_table(events)
    assert list(table["kind"]) == ["transit", "transit", "flare", "sinusoid"]
    assert table["duration_min"].unit == "min"
    back = events_from_table(table)
    assert back[0] == events[0] and back[2] == events[2] and back[3] == events[3]
    assert back[1].limb_darkening is None and back[1].depth == 0.03
    assert len(events_table([])) == 0
