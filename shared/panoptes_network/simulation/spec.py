"""What to simulate: one observing sequence of one camera of one unit.

A :class:`SequenceSpec` holds every choice (pointing, times, exposure, seed, clouds, injected
events, models) and checks them: :meth:`SequenceSpec.validate` raises
:class:`SimulationInputError` naming the bad input and what to do.

Frame times are whole UTC seconds, like the unit's file names: the sequence starts at
``start`` (rounded down to the second), frame ``i`` starts ``round(i * interval)`` seconds
later. The default interval is the exposure time plus :data:`DEFAULT_OVERHEAD` seconds of
readout and download, as on a real unit (120.4 s exposures every 128 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from panoptes_network.frames.bucket_path import ImagePath, format_timestamp
from panoptes_network.simulation.camera import CameraModel
from panoptes_network.simulation.detector_response import PRNU_RMS
from panoptes_network.simulation.psf import PsfModel
from panoptes_network.simulation.render import NOISE_MODELS
from panoptes_network.simulation.sky import SkyModel
from panoptes_network.simulation.unit import DEFAULT_UNIT, Unit
from panoptes_network.simulation.variability import Event

__all__ = ["DEFAULT_OVERHEAD", "SequenceSpec", "SimulationInputError"]

#: Seconds between the end of an exposure and the start of the next, by default.
DEFAULT_OVERHEAD = 8.0


class SimulationInputError(ValueError):
    """A simulation input that cannot be used.

    Parameters
    ----------
    name : str
        The input (an option name such as ``--ra``).
    reason : str
        What is wrong and what to do.
    """

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


@dataclass(frozen=True)
class SequenceSpec:
    """One sequence to simulate.

    Attributes
    ----------
    ra, dec : float
        Mount pointing (``RA-MNT``, ``DEC-MNT``), ICRS degrees.
    start : datetime
        Start of the sequence and of its first exposure (aware UTC; naive is UTC).
    exptime : float
        Exposure time, in seconds.
    count : int
        Number of frames.
    interval : float or None
        Start-to-start time between frames, in seconds (None: ``exptime + 8``).
    unit : Unit
        The unit and its site.
    camera : CameraModel
        The camera.
    field_name : str
        The ``FIELD`` card ("" gives one made of the coordinates).
    seed : int
        Seed of every random draw; the same seed gives the same bytes.
    clouds : bool
        Add passing clouds.
    events : tuple of Event
        Injected variability.
    demo_events : bool
        Also inject a 1 % transit into a V ~ 9 star, a flare and a sinusoidal variable.
    vmag_range : (float, float)
        V magnitudes of the catalog stars drawn (bright, faint).
    sky : SkyModel
        The sky brightness model.
    psf : PsfModel or None
        The PSF model (None: the default field variation with a seeded time variation).
    noise : str
        Shot noise, ``"poisson"`` (default) or ``"gaussian"``: with ``"gaussian"`` two
        sequences of one seed share their noise and differ only by what was injected
        (:func:`.render.digitise`).
    prnu_rms : float
        RMS of the camera's pixel response non-uniformity (a fraction; 0: none), its map
        fixed by the camera id (:func:`.detector_response.prnu_map`). Dark current follows
        each frame's sensor temperature (``CAMTEMP``) in any case.
    """

    ra: float
    dec: float
    start: datetime
    exptime: float = 120.0
    count: int = 5
    interval: float | None = None
    unit: Unit = DEFAULT_UNIT
    camera: CameraModel = field(default_factory=CameraModel)
    field_name: str = ""
    seed: int = 0
    clouds: bool = False
    events: tuple[Event, ...] = ()
    demo_events: bool = False
    vmag_range: tuple[float, float] = (-2.0, 13.0)
    sky: SkyModel = field(default_factory=SkyModel)
    psf: PsfModel | None = None
    noise: str = "poisson"
    prnu_rms: float = PRNU_RMS

    def validate(self) -> None:
        """Check the inputs.

        Raises
        ------
        SimulationInputError
            Naming the first bad input.
        """
        if not (math.isfinite(self.ra) and 0 <= self.ra < 360):
            raise SimulationInputError(
                "--ra", f"{self.ra} is not a right ascension in [0, 360) deg"
            )
        if not (math.isfinite(self.dec) and -90 <= self.dec <= 90):
            raise SimulationInputError("--dec", f"{self.dec} is not a declination in [-90, 90] deg")
        if not (math.isfinite(self.exptime) and 0 < self.exptime <= 3600):
            raise SimulationInputError("--exptime", f"{self.exptime} s must be in (0, 3600] s")
        if not (isinstance(self.count, int) and 1 <= self.count <= 10_000):
            raise SimulationInputError("--count", f"{self.count} must be 1 to 10000 frames")
        if not (math.isfinite(self.cadence) and self.cadence >= max(self.exptime, 1.0)):
            raise SimulationInputError(
                "--interval",
                f"{self.cadence} s is shorter than the exposure ({self.exptime} s) or 1 s",
            )
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise SimulationInputError("--seed", f"{self.seed} must be a non-negative integer")
        low, high = self.vmag_range
        if not low <= high:
            raise SimulationInputError("vmag_range", f"{self.vmag_range} must be (bright, faint)")
        if not (math.isfinite(self.prnu_rms) and 0.0 <= self.prnu_rms <= 0.2):
            raise SimulationInputError("prnu_rms", f"{self.prnu_rms} must be in [0, 0.2]")
        if self.noise not in NOISE_MODELS:
            raise SimulationInputError("noise", f"{self.noise!r} is not one of {NOISE_MODELS}")
        if len(self.field_name) > 68 or not self.field_name.isprintable():
            raise SimulationInputError("--field", "the name must be printable, 68 chars at most")

    @property
    def cadence(self) -> float:
        """Start-to-start time between frames, in seconds."""
        return (
            float(self.interval) if self.interval is not None else self.exptime + DEFAULT_OVERHEAD
        )

    @property
    def start_utc(self) -> datetime:
        """The sequence start, aware UTC, rounded down to the whole second."""
        start = self.start if self.start.tzinfo else self.start.replace(tzinfo=timezone.utc)
        return start.astimezone(timezone.utc).replace(microsecond=0)

    def frame_starts(self) -> list[datetime]:
        """Return the start of every exposure (aware UTC, whole seconds)."""
        return [
            self.start_utc + timedelta(seconds=round(i * self.cadence)) for i in range(self.count)
        ]

    def frame_paths(self) -> list[ImagePath]:
        """Return every frame's place in the bucket path grammar (``.fits``)."""
        sequence = format_timestamp(self.start_utc)
        return [
            ImagePath(
                self.unit.unit_id, self.camera.camera_id, sequence, format_timestamp(t), ".fits"
            )
            for t in self.frame_starts()
        ]

    @property
    def field_card(self) -> str:
        """The ``FIELD`` card: the given name, or one made of the coordinates."""
        return self.field_name or f"RA{self.ra:07.3f}{self.dec:+07.3f}"
