"""A star's statistics as exact, additive sums over its observations.

Each processing run contributes, per star and colour, sums of its calibrated magnitudes
(:class:`ColourSums`), each correctly rounded (:func:`math.fsum`, so the same rows always give
the same float); a star's sums over the archive are the merge of its runs'
(:meth:`StarSums.merge`: exact, in any order, :mod:`.exact_sum`), so a new run updates a
star without reading the old ones, and a rebuild from every run gives the same document bit
for bit. The statistics (:func:`.star_statistics.star_statistics`) are computed from the
sums alone.

Per colour ``c`` and run, over the points with a finite ``mag_c`` and ``mag_err_c > 0`` that
are not ``outlier_c`` (``m`` the magnitude, ``s`` its error, ``w = 1 / s**2``):

- ``n``, and ``n_all`` counting the excluded points too;
- exact sums of ``w``, ``w m``, ``w m**2`` (weighted mean and chi-square against a constant),
  ``m`` and ``m**2`` (rms), and ``s**2`` (the photon-noise floor);
- the red noise: residuals ``r = m - mean`` about the run's own mean (an observation's offset
  is not red noise), binned on a fixed grid of absolute time for each width of
  :data:`BIN_MINUTES`: exact sums of ``r**2`` (``n - 1`` degrees of freedom per run), of the
  squared bin means and of ``1 / N_b - 1 / n`` (their white-noise expectation in units of
  the point variance), and the number of bins with two points or more;
- the lowest and highest mean of the 30-minute bins (the amplitude), kept per run
  (:attr:`StarSums.extremes`) so that a run taken out leaves the right amplitude.

A run processed again replaces the earlier run of its observation: the earlier run's sums,
computed again from its data file, are taken out exactly (:meth:`StarSums.subtract`).

Units of magnitudes are mag; times are POSIX seconds (UTC).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from panoptes_network.analysis.exact_sum import ExactSum

__all__ = [
    "AMPLITUDE_BIN_MINUTES",
    "BIN_MINUTES",
    "COLOURS",
    "ColourSums",
    "StarSums",
    "colour_sums",
    "run_observation",
    "run_star_sums",
    "run_unit",
]

#: The colours of the light curves.
COLOURS: tuple[str, ...] = ("r", "g", "b")
#: Bin widths of the red-noise factor beta, in minutes.
BIN_MINUTES: tuple[int, ...] = (30, 60, 120)
#: Bin width of the amplitude (max minus min of the bin means), in minutes.
AMPLITUDE_BIN_MINUTES: int = 30
_SUMS = ("w", "wm", "wm2", "m", "m2", "var", "r2")


@dataclass
class BinSums:
    """One bin width's red-noise sums (see the module docstring)."""

    bins: int = 0
    mean_r2: ExactSum = field(default_factory=ExactSum)
    white: ExactSum = field(default_factory=ExactSum)

    def merge(self, other: BinSums) -> None:
        """Add another's sums exactly."""
        self.bins += other.bins
        self.mean_r2.merge(other.mean_r2)
        self.white.merge(other.white)


@dataclass
class ColourSums:
    """One colour's sums of one star (one run, or merged over runs).

    Attributes
    ----------
    n, n_all : int
        Points used; points in all (outliers and points without a value too).
    runs : int
        Runs with at least two points used (each takes one degree of freedom, its mean).
    sums : dict of ExactSum
        ``w``, ``wm``, ``wm2``, ``m``, ``m2``, ``var``, ``r2`` (mag and mag^-2 as above).
    bins : dict of BinSums
        Per bin width in minutes.
    bin_min, bin_max : float
        Lowest and highest 30-minute bin mean (mag); NaN without a bin.
    amplitude_bins : int
        How many 30-minute bins the extremes are taken over (an amplitude needs two).
    """

    n: int = 0
    n_all: int = 0
    runs: int = 0
    sums: dict[str, ExactSum] = field(default_factory=lambda: {k: ExactSum() for k in _SUMS})
    bins: dict[int, BinSums] = field(default_factory=lambda: {k: BinSums() for k in BIN_MINUTES})
    bin_min: float = math.nan
    bin_max: float = math.nan
    amplitude_bins: int = 0

    def merge(self, other: ColourSums) -> None:
        """Add another's sums exactly, and take the extremes of both."""
        self.amplitude_bins += other.amplitude_bins
        self.n += other.n
        self.n_all += other.n_all
        self.runs += other.runs
        for name in _SUMS:
            self.sums[name].merge(other.sums[name])
        for width in BIN_MINUTES:
            self.bins[width].merge(other.bins[width])
        self.bin_min = float(np.fmin(self.bin_min, other.bin_min))
        self.bin_max = float(np.fmax(self.bin_max, other.bin_max))

    def subtract(self, other: ColourSums) -> None:
        """Take another's sums out exactly (the extremes are set again by the star)."""
        self.n -= other.n
        self.n_all -= other.n_all
        self.runs -= other.runs
        for name in _SUMS:
            self.sums[name].merge(other.sums[name].negated())
        for width in BIN_MINUTES:
            mine, theirs = self.bins[width], other.bins[width]
            mine.bins -= theirs.bins
            mine.mean_r2.merge(theirs.mean_r2.negated())
            mine.white.merge(theirs.white.negated())

    def to_record(self) -> dict[str, Any]:
        """Return the sums as document fields (expansions as lists of floats)."""
        return {
            "n": self.n,
            "n_all": self.n_all,
            "runs": self.runs,
            **{f"sum_{k}": v.to_list() for k, v in self.sums.items()},
            **{
                f"bins_{w}": {
                    "bins": b.bins,
                    "mean_r2": b.mean_r2.to_list(),
                    "white": b.white.to_list(),
                }
                for w, b in self.bins.items()
            },
            "bin_min": None if math.isnan(self.bin_min) else self.bin_min,
            "bin_max": None if math.isnan(self.bin_max) else self.bin_max,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ColourSums:
        """Rebuild the sums from :meth:`to_record`'s fields."""
        out = cls(int(record["n"]), int(record["n_all"]), int(record["runs"]))
        for k in _SUMS:
            out.sums[k] = ExactSum.from_list(record[f"sum_{k}"])
        for w in BIN_MINUTES:
            b = record[f"bins_{w}"]
            out.bins[w] = BinSums(
                int(b["bins"]), ExactSum.from_list(b["mean_r2"]), ExactSum.from_list(b["white"])
            )
        out.bin_min = math.nan if record["bin_min"] is None else float(record["bin_min"])
        out.bin_max = math.nan if record["bin_max"] is None else float(record["bin_max"])
        return out


def _bin_means(time: np.ndarray, values: np.ndarray, minutes: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean and the count of ``values`` in each bin of a fixed absolute-time grid.

    Bins are in time order; the sums are numpy's (deterministic: the same rows always give
    the same floats).
    """
    index = np.floor(time / (60.0 * minutes)).astype(np.int64)
    order = np.argsort(index, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(index[order]) != 0])
    counts = np.diff(np.r_[starts, index.size])
    return np.add.reduceat(values[order], starts) / counts, counts


def _run_sum(values: np.ndarray) -> ExactSum:
    """Return one run's sum, correctly rounded (the same rows always give the same float)."""
    return ExactSum([math.fsum(values.tolist())])


def colour_sums(
    time: np.ndarray, mag: np.ndarray, mag_err: np.ndarray, outlier: np.ndarray | None = None
) -> ColourSums:
    """Return one run's sums of one star in one colour.

    Parameters
    ----------
    time : numpy.ndarray
        Mid-exposure times, POSIX seconds (UTC).
    mag, mag_err : numpy.ndarray
        Calibrated magnitudes and their 1-sigma errors (mag).
    outlier : numpy.ndarray, optional
        Points clipped by the light-curve run (left out).

    Returns
    -------
    ColourSums
        The run's sums (``n_all`` counts every point given).
    """
    time, mag, err = (np.asarray(a, dtype=float) for a in (time, mag, mag_err))
    use = np.isfinite(time) & np.isfinite(mag) & np.isfinite(err) & (err > 0)
    if outlier is not None:
        use &= ~np.asarray(outlier, dtype=bool)
    out = ColourSums(n=int(use.sum()), n_all=int(mag.size))
    t, m, s = time[use], mag[use], err[use]
    w = 1.0 / (s * s)
    terms = {"w": w, "wm": w * m, "wm2": w * m * m, "m": m, "m2": m * m, "var": s * s}
    for name, values in terms.items():
        out.sums[name] = _run_sum(values)
    if m.size < 2:
        return out
    out.runs = 1
    mean = math.fsum(m.tolist()) / m.size
    r = m - mean
    out.sums["r2"] = _run_sum(r * r)
    for width in BIN_MINUTES:
        means, counts = _bin_means(t, r, width)
        full = counts >= 2
        if full.sum() < 2:
            continue
        sums = out.bins[width]
        sums.bins = int(full.sum())
        sums.mean_r2 = _run_sum(means[full] ** 2)
        sums.white = _run_sum(1.0 / counts[full] - 1.0 / m.size)
    bin_means, _ = _bin_means(t, m, AMPLITUDE_BIN_MINUTES)
    out.bin_min, out.bin_max = float(bin_means.min()), float(bin_means.max())
    out.amplitude_bins = int(bin_means.size)
    return out


def run_observation(run: str) -> str:
    """Return the observation (sequence id) of a run named ``sequence_id/run_id``."""
    return run.split("/", 1)[0]


def run_unit(run: str) -> str:
    """Return the unit of a run named ``sequence_id/run_id`` (the sequence id's first part)."""
    return run.split("_", 1)[0]


@dataclass
class StarSums:
    """A star's sums over the runs merged so far.

    Attributes
    ----------
    picid : int
        The star.
    runs : list of str
        The runs merged, ``sequence_id/run_id``, sorted (a run already merged is not
        merged again).
    colours : dict of ColourSums
        Per colour.
    extremes : list of dict
        Each run's lowest and highest 30-minute bin mean per colour (``run``, ``colour``,
        ``min``, ``max``; mag), so the amplitude stays right when a run is taken out.
    """

    picid: int
    runs: list[str] = field(default_factory=list)
    colours: dict[str, ColourSums] = field(default_factory=dict)
    extremes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def observations(self) -> list[str]:
        """The observations (sequence ids) of the runs merged, sorted."""
        return sorted({run_observation(run) for run in self.runs})

    @property
    def units(self) -> list[str]:
        """The units of the runs merged, sorted."""
        return sorted({run_unit(run) for run in self.runs})

    def run_of(self, sequence_id: str) -> str | None:
        """Return the merged run of an observation, if any."""
        return next((r for r in self.runs if run_observation(r) == sequence_id), None)

    def _check(self, other: StarSums) -> None:
        if other.picid != self.picid:
            raise ValueError(f"cannot merge star {other.picid} into star {self.picid}")

    def _set_extremes(self) -> None:
        for colour, sums in self.colours.items():
            rows = [e for e in self.extremes if e["colour"] == colour]
            sums.bin_min = min((e["min"] for e in rows), default=math.nan)
            sums.bin_max = max((e["max"] for e in rows), default=math.nan)
            sums.amplitude_bins = sum(int(e.get("bins", 1)) for e in rows)

    def merge(self, other: StarSums) -> bool:
        """Merge another's sums exactly unless one of its runs is already in; return merged.

        Raises
        ------
        ValueError
            For sums of another star.
        """
        self._check(other)
        if set(other.runs) & set(self.runs):
            return False
        self.runs = sorted({*self.runs, *other.runs})
        for colour, sums in other.colours.items():
            mine = self.colours.setdefault(colour, ColourSums())
            mine.merge(sums)
        self.extremes = sorted(
            [*self.extremes, *other.extremes], key=lambda e: (e["run"], e["colour"])
        )
        self._set_extremes()
        return True

    def subtract(self, other: StarSums) -> None:
        """Take out exactly the sums of runs merged before (a run processed again).

        Raises
        ------
        ValueError
            For sums of another star, or of a run that is not merged.
        """
        self._check(other)
        missing = set(other.runs) - set(self.runs)
        if missing:
            raise ValueError(f"star {self.picid}: run(s) {sorted(missing)} are not merged")
        for colour, sums in other.colours.items():
            self.colours[colour].subtract(sums)
        gone = set(other.runs)
        self.runs = [r for r in self.runs if r not in gone]
        self.extremes = [e for e in self.extremes if e["run"] not in gone]
        self._set_extremes()

    def to_record(self) -> dict[str, Any]:
        """Return the sums as document fields."""
        return {
            "picid": self.picid,
            "runs": list(self.runs),
            "units": self.units,
            "colours": {c: s.to_record() for c, s in sorted(self.colours.items())},
            "extremes": [dict(e) for e in self.extremes],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> StarSums:
        """Rebuild the sums from :meth:`to_record`'s fields."""
        out = cls(
            int(record["picid"]),
            list(record["runs"]),
            {c: ColourSums.from_record(s) for c, s in record["colours"].items()},
            [dict(e) for e in record.get("extremes", [])],
        )
        out._set_extremes()
        return out

    @classmethod
    def merged(cls, picid: int, parts: Iterable[StarSums]) -> StarSums:
        """Return the merge of several runs' sums of one star."""
        total = cls(picid)
        for part in parts:
            total.merge(part)
        return total


def run_star_sums(
    picid: int,
    run: str,
    time: np.ndarray,
    columns: Mapping[str, np.ndarray],
    colours: Sequence[str] = COLOURS,
) -> StarSums:
    """Return one run's sums of one star from its light-curve rows.

    Parameters
    ----------
    picid : int
        The star.
    run : str
        ``sequence_id/run_id`` (the sequence id names the unit: ``PAN001_14d3bd_...``).
    time : numpy.ndarray
        Mid-exposure times, POSIX seconds (UTC).
    columns : mapping
        The data file's ``mag_c``, ``mag_err_c`` and ``outlier_c`` columns of the star's rows.
    colours : sequence of str
        The colours the run processed.

    Returns
    -------
    StarSums
        One run and the sums per colour.
    """
    sums = StarSums(picid, [run])
    for colour in colours:
        colour_part = colour_sums(
            time,
            columns[f"mag_{colour}"],
            columns[f"mag_err_{colour}"],
            columns.get(f"outlier_{colour}"),
        )
        sums.colours[colour] = colour_part
        if math.isfinite(colour_part.bin_min):
            sums.extremes.append(
                {
                    "run": run,
                    "colour": colour,
                    "min": colour_part.bin_min,
                    "max": colour_part.bin_max,
                }
            )
    return sums
