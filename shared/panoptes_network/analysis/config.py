"""A named analysis configuration; its hash is stored with every output it makes.

Changing how the analysis works (bin widths, thresholds, search grids) makes a new
:class:`Analysis`, with another :meth:`Analysis.config_hash`; outputs of different
configurations are never mixed (an incremental update refuses sums of another hash), and a
backfill under the new one rebuilds them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass

from panoptes_network.analysis.coverage import AIRMASS_EDGES, MOON_EDGES, QUALITY_EDGES
from panoptes_network.analysis.star_sums import AMPLITUDE_BIN_MINUTES, BIN_MINUTES

__all__ = ["DEFAULT_ANALYSIS", "Analysis"]


@dataclass(frozen=True)
class Analysis:
    """How the analysis is done.

    Attributes
    ----------
    name : str
        A name for people (``"default"``).
    beta_bin_minutes : tuple of int
        Bin widths of the red-noise factor, in minutes. This and the next four are fixed by
        the layout of the stored sums and histograms (recorded here so that the hash names
        them); a configuration with other values is refused.
    amplitude_bin_minutes : int
        Bin width of the amplitude, in minutes.
    quality_edges, airmass_edges, moon_edges : tuple of float
        Edges of the coverage histograms' bins.
    version : int
        The algorithms' version: raised when the code computes differently, so outputs of
        the old code and the new never share a hash.
    shifts : int
        False-alarm copies of each star's data per search (at least 200; :mod:`.false_alarm`).
    far_percentile : float
        The percentile of the copies' peaks a detection must be above.
    min_points : int
        Points a star needs to be searched.
    transit_durations_min : tuple of float
        Durations of the single-event box scan, minutes.
    flare_rise_min : float
        Rise time of the flare template, minutes.
    flare_decays_min : tuple of float
        Decay time constants of the flare templates, minutes.
    periodic_durations_min : tuple of float
        Transit durations of the periodic search, minutes.
    period_min_days, period_max_days : float
        Period range of the periodic search, days (the longest is capped at half the span).
    max_periods : int
        Trial periods of the periodic search.
    injections_per_run : int
        Events injected into each processing run's photometry to measure completeness.
    injection_snr : tuple of float
        The range of expected signal-to-noise ratios injected (uniform).
    """

    name: str = "default"
    version: int = 1
    beta_bin_minutes: tuple[int, ...] = BIN_MINUTES
    amplitude_bin_minutes: int = AMPLITUDE_BIN_MINUTES
    quality_edges: tuple[float, ...] = QUALITY_EDGES
    airmass_edges: tuple[float, ...] = AIRMASS_EDGES
    moon_edges: tuple[float, ...] = MOON_EDGES
    shifts: int = 299
    far_percentile: float = 99.0
    min_points: int = 20
    transit_durations_min: tuple[float, ...] = (30.0, 60.0, 120.0, 180.0)
    flare_rise_min: float = 2.0
    flare_decays_min: tuple[float, ...] = (4.0, 8.0, 16.0, 32.0)
    periodic_durations_min: tuple[float, ...] = (60.0, 120.0, 180.0)
    period_min_days: float = 0.4
    period_max_days: float = 15.0
    max_periods: int = 3000
    injections_per_run: int = 40
    injection_snr: tuple[float, float] = (3.0, 30.0)

    def __post_init__(self) -> None:
        if self.shifts < 200:
            raise ValueError(
                f"shifts must be at least 200 (the false-alarm threshold), not {self.shifts}"
            )
        fixed = {
            "beta_bin_minutes": BIN_MINUTES,
            "amplitude_bin_minutes": AMPLITUDE_BIN_MINUTES,
            "quality_edges": QUALITY_EDGES,
            "airmass_edges": AIRMASS_EDGES,
            "moon_edges": MOON_EDGES,
        }
        for name, value in fixed.items():
            given = getattr(self, name)
            if (tuple(given) if isinstance(value, tuple) else given) != value:
                raise ValueError(
                    f"{name} is fixed by the exact sums' layout ({value!r}); a configuration "
                    "cannot change it yet"
                )
        if not 50.0 <= self.far_percentile < 100.0:
            raise ValueError(f"far_percentile must be in [50, 100), not {self.far_percentile}")

    def config_hash(self) -> str:
        """Return the first 16 hex digits of the SHA-256 of the configuration (name too)."""
        return _config_hash(self)

    def stamp(self) -> dict[str, str]:
        """Return the fields every output carries: ``analysis`` and ``analysis_hash``."""
        return {"analysis": self.name, "analysis_hash": self.config_hash()}


@functools.lru_cache(maxsize=64)
def _config_hash(analysis: Analysis) -> str:
    text = json.dumps(asdict(analysis), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: The configuration the services and commands use unless told otherwise.
DEFAULT_ANALYSIS = Analysis()
