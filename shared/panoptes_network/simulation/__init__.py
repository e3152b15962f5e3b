"""A realistic simulator of PANOPTES raw frames, with the truth to score a pipeline against.

Given a unit (id and site), a camera, a pointing, a start time, an exposure time and a frame
count, :func:`simulate_sequence` renders full-size raw Bayer frames as the unit uploads them
(``<UNIT>/<CAMERA>/<SEQSTART>/<IMGSTART>.fits``, the header of a real PAN001 frame) from any
star :class:`~panoptes_network.catalog.star_catalog.Catalog`, and writes the truth beside them
(:mod:`.truth`). ``bin/simulate`` is its command line.

Modules, one concept each: :mod:`.unit` (site, offline astropy), :mod:`.camera` (sensor,
Bayer, hot pixels), :mod:`.observing` (altitude, airmass, Moon, Sun), :mod:`.passbands`
(zero points, colours, extinction), :mod:`.sky` (Krisciunas & Schaefer sky), :mod:`.psf`,
:mod:`.clouds`, :mod:`.smooth_field`, :mod:`.pointing` (true WCS, pointing error, drift),
:mod:`.variability` (transits, flares, sinusoids), :mod:`.scene` (a frame's physics),
:mod:`.render` (electrons to ADU), :mod:`.unit_header` (header and FITS bytes),
:mod:`.demo_events`, :mod:`.fields`, :mod:`.spec`, :mod:`.sequence`, :mod:`.truth`.

Quick data with known truth, for tests, benchmarks and the demo: :mod:`.synthetic_frame` (a
full-size raw frame in about a second, no catalog needed) and :mod:`.synthetic_photometry`
(per-frame photometry tables of an observation, without pixels).
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
