"""A realistic simulator of PANOPTES raw frames, with the truth to score a pipeline against.

Given a unit (id and site), a camera, a pointing, a start time, an exposure time and a frame
count, :func:`simulate_sequence` renders full-size raw Bayer frames as the unit uploads them
(``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.fits``, the header of a real PAN001 frame) from any
star :class:`~panoptes_network.catalog.star_catalog.Catalog`, and writes the truth beside them
(:mod:`panoptes_network.simulation.truth`). ``bin/simulate`` is its command line.

Modules, one concept each: :mod:`panoptes_network.simulation.unit` (site, offline astropy), :mod:`panoptes_network.simulation.camera` (sensor,
Bayer, hot pixels), :mod:`panoptes_network.simulation.observing` (altitude, airmass, Moon, Sun), :mod:`panoptes_network.simulation.passbands`
(zero points, colours, extinction), :mod:`panoptes_network.simulation.sky` (Krisciunas & Schaefer sky), :mod:`panoptes_network.simulation.psf`,
:mod:`panoptes_network.simulation.clouds`, :mod:`panoptes_network.simulation.smooth_field`, :mod:`panoptes_network.simulation.pointing` (true WCS, pointing error, drift),
:mod:`panoptes_network.simulation.variability` (transits, flares, sinusoids), :mod:`panoptes_network.simulation.scene` (a frame's physics),
:mod:`panoptes_network.simulation.render` (electrons to ADU), :mod:`panoptes_network.simulation.unit_header` (header and FITS bytes),
:mod:`panoptes_network.simulation.demo_events`, :mod:`panoptes_network.simulation.fields`, :mod:`panoptes_network.simulation.spec`, :mod:`panoptes_network.simulation.sequence`, :mod:`panoptes_network.simulation.truth`.
"""

from __future__ import annotations

from panoptes_network.simulation.camera import CameraModel
from panoptes_network.simulation.sequence import SimulationResult, read_frame, simulate_sequence
from panoptes_network.simulation.spec import SequenceSpec, SimulationInputError
from panoptes_network.simulation.truth import SequenceTruth
from panoptes_network.simulation.unit import DEFAULT_UNIT, Unit
from panoptes_network.simulation.variability import Flare, Sinusoid, Transit

__all__ = [
    "DEFAULT_UNIT",
    "CameraModel",
    "Flare",
    "SequenceSpec",
    "SequenceTruth",
    "SimulationInputError",
    "SimulationResult",
    "Sinusoid",
    "Transit",
    "Unit",
    "read_frame",
    "simulate_sequence",
]
