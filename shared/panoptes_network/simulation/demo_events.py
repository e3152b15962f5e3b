"""The events ``--demo-events`` injects: a 1 % transit, a flare and a sinusoidal variable.

Each goes to a different isolated, unsaturated star well inside the first frame (200 pixels
from the edges, no other star within 20 pixels giving more than 1 % of its flux):

- a limb-darkened transit 1 % deep into the star closest to V = 9.3 among V 8.5 to 10 (the
  brightest stars that do not saturate), centred on the middle of the sequence and lasting
  60 % of it (30 minutes to 3 hours);
- a flare of +10 % (2 min rise, 10 min decay) peaking a third into the sequence, into the star
  closest to V = 10.5;
- a sinusoid of +-2 % with a 90-minute period into the star closest to V = 10.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from panoptes_network.simulation.camera import CameraModel
from panoptes_network.simulation.psf import erf
from panoptes_network.simulation.scene import FramePhysics, StarField
from panoptes_network.simulation.variability import Event, Flare, Sinusoid, Transit

__all__ = ["choose_demo_events", "quiet_stars"]

_EDGE = 200.0
_NEIGHBOUR_RADIUS = 20.0


def quiet_stars(physics: FramePhysics, camera: CameraModel, headroom: float = 0.8) -> np.ndarray:
    """Return the scene stars that are isolated, unsaturated and away from the edges.

    Parameters
    ----------
    physics : FramePhysics
        A frame's scene.
    camera : CameraModel
        Its camera (size, saturation).
    headroom : float
        A star's brightest pixel (sky included, PSF centred on a pixel) must stay below this
        fraction of the saturation signal.

    Returns
    -------
    numpy.ndarray of bool
        Per scene star.
    """
    scene = physics.scene
    x, y = scene.x, scene.y
    inside = (x > _EDGE) & (x < camera.width - _EDGE) & (y > _EDGE) & (y < camera.height - _EDGE)
    central = erf(0.5 / (np.sqrt(2.0) * scene.sigma_x)) * erf(0.5 / (np.sqrt(2.0) * scene.sigma_y))
    per_pixel = scene.fluxes / np.asarray(scene.pixel_shares)
    peak = central * per_pixel.max(axis=1) + physics.sky_at_stars.max(axis=1)
    unsaturated = peak < headroom * camera.saturation_electrons
    total = scene.fluxes.sum(axis=1)
    order = np.argsort(x)
    isolated = np.ones(len(x), dtype=bool)
    xs = x[order]
    for rank, star in enumerate(order):
        lo = np.searchsorted(xs, xs[rank] - _NEIGHBOUR_RADIUS)
        hi = np.searchsorted(xs, xs[rank] + _NEIGHBOUR_RADIUS)
        near = order[lo:hi]
        near = near[near != star]
        close = np.hypot(x[near] - x[star], y[near] - y[star]) < _NEIGHBOUR_RADIUS
        if np.any(total[near][close] > 0.01 * total[star]):
            isolated[star] = False
    return inside & unsaturated & isolated


def _closest(
    vmag: np.ndarray, ok: np.ndarray, target: float, low: float, high: float
) -> int | None:
    candidates = np.flatnonzero(ok & (vmag >= low) & (vmag <= high))
    if len(candidates) == 0:
        return None
    return int(candidates[np.argmin(np.abs(vmag[candidates] - target))])


def choose_demo_events(
    stars: StarField,
    physics: FramePhysics,
    camera: CameraModel,
    start: datetime,
    span: float,
) -> list[Event]:
    """Choose the demo events for a sequence.

    Parameters
    ----------
    stars : StarField
        The sequence's stars.
    physics : FramePhysics
        The first frame's scene.
    camera : CameraModel
        The camera.
    start : datetime
        Start of the sequence (aware UTC).
    span : float
        Time from the start of the first exposure to the end of the last, in seconds.

    Returns
    -------
    list of Event
        Up to three events (fewer when the field lacks suitable stars).
    """
    ok = quiet_stars(physics, camera)
    vmag = stars.vmag[physics.index]
    picids = stars.picid[physics.index]
    events: list[Event] = []
    middle = start + timedelta(seconds=span / 2.0)
    duration = float(np.clip(0.6 * span / 60.0, 30.0, 180.0))
    star = _closest(vmag, ok, 9.3, 8.5, 10.0)
    if star is not None:
        events.append(Transit(int(picids[star]), middle, 0.01, duration))
        ok[star] = False
    star = _closest(vmag, ok, 10.5, 10.0, 11.5)
    if star is not None:
        events.append(Flare(int(picids[star]), start + timedelta(seconds=span / 3.0), 0.10))
        ok[star] = False
    star = _closest(vmag, ok, 10.0, 9.0, 11.5)
    if star is not None:
        events.append(Sinusoid(int(picids[star]), start, 0.02, 90.0))
    return events
