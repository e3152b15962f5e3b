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
        Bin widths of the red-noise factor, in minutes.
    amplitude_bin_minutes : int
        Bin width of the amplitude, in minutes.
    quality_edges, airmass_edges, moon_edges : tuple of float
        Edges of the coverage histograms' bins.
    """

    name: str = "default"
    beta_bin_minutes: tuple[int, ...] = BIN_MINUTES
    amplitude_bin_minutes: int = AMPLITUDE_BIN_MINUTES
    quality_edges: tuple[float, ...] = QUALITY_EDGES
    airmass_edges: tuple[float, ...] = AIRMASS_EDGES
    moon_edges: tuple[float, ...] = MOON_EDGES

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
