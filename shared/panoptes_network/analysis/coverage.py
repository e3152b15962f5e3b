"""Coverage histograms: how much data of what quality was searched, in integers that add.

A :class:`Coverage` counts light-curve points and the seconds they cover, binned by

- ``quality``: the star's rms over its photon-noise floor in that run (:data:`QUALITY_EDGES`);
- ``airmass`` of the frame (:data:`AIRMASS_EDGES`);
- ``moon``: the Moon's angular distance from the field centre at the frame's time, in degrees
  (:data:`MOON_EDGES`);
- ``unit``: the unit that took it.

Each point adds 1 to ``points`` and the run's cadence (median interval between its frames,
whole seconds) to ``seconds`` of its bin. The counts are integers, so merging the coverage of
any split of the data (by run, by star, by Beam worker) gives the coverage of the whole, bit
for bit, in any order (:meth:`Coverage.merge`). Hours are ``seconds / 3600``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AIRMASS_EDGES",
    "DIMENSIONS",
    "MOON_EDGES",
    "QUALITY_EDGES",
    "Coverage",
    "bin_labels",
    "bin_of",
]

#: Edges of the quality bins: rms over photon floor (the last bin is open).
QUALITY_EDGES: tuple[float, ...] = (0.0, 1.2, 1.5, 2.0, 3.0, 5.0)
#: Edges of the airmass bins (the last bin is open).
AIRMASS_EDGES: tuple[float, ...] = (1.0, 1.2, 1.5, 2.0, 3.0)
#: Edges of the Moon-separation bins, in degrees (the last bin reaches 180).
MOON_EDGES: tuple[float, ...] = (0.0, 30.0, 60.0, 90.0, 120.0)
#: The binned dimensions, in key order, and their edges (None: a label, the unit).
DIMENSIONS: tuple[tuple[str, tuple[float, ...] | None], ...] = (
    ("quality", QUALITY_EDGES),
    ("airmass", AIRMASS_EDGES),
    ("moon", MOON_EDGES),
    ("unit", None),
)
#: Bin index of a value that is not finite (unknown airmass, say).
UNKNOWN = -1


def bin_of(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Return each value's bin index: ``k`` for ``edges[k] <= v < edges[k + 1]``, open above.

    Values below the first edge fall in bin 0; values that are not finite in
    :data:`UNKNOWN`.
    """
    values = np.asarray(values, dtype=float)
    index = np.clip(np.searchsorted(np.asarray(edges), values, side="right") - 1, 0, None)
    return np.where(np.isfinite(values), index, UNKNOWN).astype(np.int64)


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Return a label per bin (``"1.2-1.5"``, the last ``">=3"``) for tables and plots."""
    labels = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return [*labels, f">={edges[-1]:g}"]


Key = tuple[int, int, int, str]


@dataclass
class Coverage:
    """Points and seconds per (quality, airmass, moon, unit) bin.

    Attributes
    ----------
    counts : dict
        ``(quality_bin, airmass_bin, moon_bin, unit) -> [points, seconds]`` (integers).
    """

    counts: dict[Key, list[int]] = field(default_factory=dict)

    def add(
        self,
        *,
        quality: float,
        airmass: np.ndarray,
        moon_deg: np.ndarray,
        unit: str,
        cadence_s: int,
    ) -> Coverage:
        """Count one star's points of one run; return self.

        Parameters
        ----------
        quality : float
            The star's rms over photon floor in the run (NaN: unknown).
        airmass, moon_deg : numpy.ndarray
            Per point: the frame's airmass and the Moon's distance from the field (deg).
        unit : str
            The unit.
        cadence_s : int
            Seconds one point covers (the run's cadence).
        """
        q = int(bin_of(np.array([quality]), QUALITY_EDGES)[0])
        a = bin_of(airmass, AIRMASS_EDGES)
        m = bin_of(moon_deg, MOON_EDGES)
        pairs, counts = np.unique(np.stack([a, m]), axis=1, return_counts=True)
        for (ai, mi), n in zip(pairs.T.tolist(), counts.tolist(), strict=True):
            cell = self.counts.setdefault((q, int(ai), int(mi), unit), [0, 0])
            cell[0] += int(n)
            cell[1] += int(n) * int(cadence_s)
        return self

    def merge(self, other: Coverage) -> Coverage:
        """Add another coverage's counts; return self."""
        for key, (points, seconds) in other.counts.items():
            cell = self.counts.setdefault(key, [0, 0])
            cell[0] += points
            cell[1] += seconds
        return self

    @property
    def points(self) -> int:
        """All points counted."""
        return sum(p for p, _ in self.counts.values())

    @property
    def hours(self) -> float:
        """All hours covered."""
        return sum(s for _, s in self.counts.values()) / 3600.0

    def to_record(self) -> dict[str, Any]:
        """Return the histogram as a document: its edges and one row per bin, sorted.

        Returns
        -------
        dict
            ``edges`` per dimension, and ``bins``: a list of ``{"quality", "airmass",
            "moon", "unit", "points", "seconds"}`` (bin indices; -1 unknown).
        """
        return {
            "edges": {name: list(edges) for name, edges in DIMENSIONS if edges is not None},
            "bins": [
                {
                    "quality": q,
                    "airmass": a,
                    "moon": m,
                    "unit": u,
                    "points": points,
                    "seconds": seconds,
                }
                for (q, a, m, u), (points, seconds) in sorted(self.counts.items())
            ],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Coverage:
        """Rebuild a coverage from :meth:`to_record`'s document."""
        return cls(
            {
                (int(b["quality"]), int(b["airmass"]), int(b["moon"]), str(b["unit"])): [
                    int(b["points"]),
                    int(b["seconds"]),
                ]
                for b in record["bins"]
            }
        )

    def marginal(self, dimension: str) -> dict[Any, list[int]]:
        """Return points and seconds summed over every dimension but one.

        Parameters
        ----------
        dimension : str
            ``quality``, ``airmass``, ``moon`` or ``unit``.

        Returns
        -------
        dict
            Bin (index or unit) to ``[points, seconds]``, sorted by bin.
        """
        names = [name for name, _ in DIMENSIONS]
        if dimension not in names:
            raise ValueError(f"no coverage dimension {dimension!r}; expected one of {names}")
        axis = names.index(dimension)
        out: dict[Any, list[int]] = {}
        for key, (points, seconds) in self.counts.items():
            cell = out.setdefault(key[axis], [0, 0])
            cell[0] += points
            cell[1] += seconds
        return dict(sorted(out.items()))
