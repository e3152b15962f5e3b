"""Injection-recovery completeness: injected and recovered events, in integers that add.

The analysis injects synthetic events into light curves at a chosen expected SNR, runs its
searches on them, and records whether each injected event was recovered:

- ``transit``: a box-shaped dimming of fractional ``depth`` lasting ``duration``;
- ``flare``: a brightening of fractional amplitude (passed as ``depth``) lasting ``duration``.

A :class:`Completeness` counts injected and recovered events binned by

- ``kind``: one of :data:`KINDS`;
- ``depth``: fractional depth or amplitude (:data:`DEPTH_EDGES`);
- ``duration``: in minutes (:data:`DURATION_EDGES_MIN`; events are added in seconds);
- ``snr``: the event's expected signal-to-noise ratio (:data:`SNR_EDGES`).

A value on an edge falls in the upper bin, the last bin of each dimension is open, a value
below the first edge falls in the first bin and one that is not finite in the bin
:data:`UNKNOWN` (-1). The counts are integers, so merging the completeness of any split of the
data (by run, by star, by Beam worker) gives the completeness of the whole, bit for bit, in
any order (:meth:`Completeness.merge`). The completeness of a bin is ``recovered / injected``,
with a Wilson score interval (:func:`wilson_interval`).
"""

from __future__ import annotations

import io
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from numbers import Integral
from typing import Any

import numpy as np
from astropy.table import Table

from panoptes_network.analysis.coverage import UNKNOWN, bin_labels

__all__ = [
    "DEPTH_EDGES",
    "DIMENSIONS",
    "DURATION_EDGES_MIN",
    "KINDS",
    "SNR_EDGES",
    "Completeness",
    "completeness_png",
    "wilson_interval",
]

#: Edges of the depth (transit) or amplitude (flare) bins, fractional (the last bin is open).
DEPTH_EDGES: tuple[float, ...] = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)
#: Edges of the duration bins, in minutes (the last bin is open).
DURATION_EDGES_MIN: tuple[float, ...] = (0.0, 30.0, 60.0, 120.0, 240.0)
#: Edges of the expected-SNR bins (the last bin is open).
SNR_EDGES: tuple[float, ...] = (0.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0)
#: The kinds of injected event.
KINDS: tuple[str, ...] = ("transit", "flare")
#: The binned dimensions, in key order, and their edges (None: a label, the kind).
DIMENSIONS: tuple[tuple[str, tuple[float, ...] | None], ...] = (
    ("kind", None),
    ("depth", DEPTH_EDGES),
    ("duration", DURATION_EDGES_MIN),
    ("snr", SNR_EDGES),
)
#: The edges as a record names them (the duration's carry their unit).
_RECORD_EDGES: dict[str, tuple[float, ...]] = {
    "depth": DEPTH_EDGES,
    "duration_min": DURATION_EDGES_MIN,
    "snr": SNR_EDGES,
}
#: Label of the bin of values that are not finite.
_UNKNOWN_LABEL = "unknown"
#: Completeness a search is expected to reach (the dashed line of the plot).
_TARGET = 0.9
#: Size of the PNG (inches at :data:`_DPI`): 1000 x 420 px.
_WIDTH_IN, _HEIGHT_IN, _DPI = 10.0, 4.2, 100
#: How each kind's points are drawn, and how far (in SNR) they are shifted apart.
_KIND_STYLE = {"transit": ("#2e5fa8", "o", -0.25), "flare": ("#c0392b", "s", 0.25)}

Key = tuple[str, int, int, int]


def _bin(value: float, edges: Sequence[float]) -> int:
    """Return the bin of one value, as :func:`panoptes_network.analysis.coverage.bin_of` does.

    ``k`` for ``edges[k] <= value < edges[k + 1]``, open above; bin 0 below the first edge;
    :data:`UNKNOWN` when the value is not finite.
    """
    value = float(value)
    if not math.isfinite(value):
        return UNKNOWN
    return max(bisect_right(edges, value) - 1, 0)


def wilson_interval(recovered: int, injected: int, z: float = 1.0) -> tuple[float, float]:
    """Return the Wilson score interval of a recovered fraction.

    Parameters
    ----------
    recovered, injected : int
        Events recovered, of those injected.
    z : float
        Half-width of the interval in standard deviations of a normal distribution: 1 gives
        the 68.3% interval, 1.96 the 95% one.

    Returns
    -------
    tuple of float
        Lower and upper bound of the fraction (within 0..1); NaN, NaN when none were injected.

    Raises
    ------
    ValueError
        When the counts are negative or more were recovered than injected.
    """
    if injected < 0 or recovered < 0 or recovered > injected:
        raise ValueError(f"cannot recover {recovered} of {injected} injected events")
    if injected == 0:
        return math.nan, math.nan
    n = float(injected)
    p = recovered / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    lo = 0.0 if recovered == 0 else max(centre - half, 0.0)
    hi = 1.0 if recovered == injected else min(centre + half, 1.0)
    return lo, hi


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"no injected event kind {kind!r}; expected one of {list(KINDS)}")


def _count(value: Any, what: str) -> int:
    """Return a record's count as an int; refuse anything but a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"completeness record: {what} is {value!r}, not a count")
    return int(value)


@dataclass
class Completeness:
    """Injected and recovered events per (kind, depth, duration, SNR) bin.

    Attributes
    ----------
    counts : dict
        ``(kind, depth_bin, duration_bin, snr_bin) -> [injected, recovered]`` (integers; bin
        indices into :data:`DEPTH_EDGES`, :data:`DURATION_EDGES_MIN` and :data:`SNR_EDGES`,
        -1 unknown).
    """

    counts: dict[Key, list[int]] = field(default_factory=dict)

    def add(self, kind: str, depth: float, duration_s: float, snr: float, recovered: bool) -> None:
        """Count one injected event.

        Parameters
        ----------
        kind : str
            ``transit`` or ``flare``.
        depth : float
            The transit's fractional depth, or the flare's fractional amplitude (NaN: unknown).
        duration_s : float
            The event's duration, in seconds (binned in minutes).
        snr : float
            The event's expected signal-to-noise ratio, as injected.
        recovered : bool
            Whether the search found it.

        Raises
        ------
        ValueError
            When ``kind`` is not one of :data:`KINDS`.
        """
        _check_kind(kind)
        key = (
            kind,
            _bin(depth, DEPTH_EDGES),
            _bin(float(duration_s) / 60.0, DURATION_EDGES_MIN),
            _bin(snr, SNR_EDGES),
        )
        cell = self.counts.setdefault(key, [0, 0])
        cell[0] += 1
        cell[1] += int(bool(recovered))

    def merge(self, other: Completeness) -> Completeness:
        """Add another completeness's counts; return self."""
        for key, (injected, recovered) in list(other.counts.items()):
            cell = self.counts.setdefault(key, [0, 0])
            cell[0] += injected
            cell[1] += recovered
        return self

    @property
    def injected(self) -> int:
        """All events injected."""
        return sum(i for i, _ in self.counts.values())

    @property
    def recovered(self) -> int:
        """All events recovered."""
        return sum(r for _, r in self.counts.values())

    def to_record(self) -> dict[str, Any]:
        """Return the histogram as a document: its edges and one row per bin, sorted.

        The document holds no array inside an array (Firestore refuses those).

        Returns
        -------
        dict
            ``edges``: ``depth`` (fractional), ``duration_min`` (minutes) and ``snr``, each a
            list of floats; and ``bins``: a list of ``{"kind", "depth", "duration", "snr",
            "injected", "recovered"}`` (bin indices, -1 unknown; counts).
        """
        return {
            "edges": {name: list(edges) for name, edges in _RECORD_EDGES.items()},
            "bins": [
                {
                    "kind": kind,
                    "depth": d,
                    "duration": t,
                    "snr": s,
                    "injected": injected,
                    "recovered": recovered,
                }
                for (kind, d, t, s), (injected, recovered) in sorted(self.counts.items())
            ],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Completeness:
        """Rebuild a completeness from :meth:`to_record`'s document.

        Raises
        ------
        ValueError
            When the record's edges are not this module's (its bins would mean other
            ranges), or a bin is malformed: unknown kind, bin index out of range, counts
            that are not non-negative integers or more recovered than injected, a bin twice.
        """
        edges = record.get("edges")
        if not isinstance(edges, Mapping) or set(edges) != set(_RECORD_EDGES):
            names = sorted(edges) if isinstance(edges, Mapping) else edges
            raise ValueError(
                f"completeness record has edges {names!r}; expected {sorted(_RECORD_EDGES)}"
            )
        for name, expected in _RECORD_EDGES.items():
            got = edges[name]
            if not isinstance(got, Sequence) or [float(e) for e in got] != list(expected):
                raise ValueError(
                    f"completeness record's {name} edges {got!r} differ from this module's "
                    f"{list(expected)}: its bins cannot be read as these"
                )
        bins = record.get("bins")
        if not isinstance(bins, Sequence):
            raise ValueError(f"completeness record has no list of bins: {bins!r}")
        counts: dict[Key, list[int]] = {}
        sizes = {
            "depth": len(DEPTH_EDGES),
            "duration": len(DURATION_EDGES_MIN),
            "snr": len(SNR_EDGES),
        }
        for row in bins:
            if not isinstance(row, Mapping):
                raise ValueError(f"completeness record: bin {row!r} is not a mapping")
            kind = row.get("kind")
            if kind not in KINDS:
                raise ValueError(f"completeness record: bin {row!r} has unknown kind {kind!r}")
            indices = []
            for name, size in sizes.items():
                index = row.get(name)
                if isinstance(index, bool) or not isinstance(index, Integral):
                    raise ValueError(f"completeness record: bin {row!r} has no {name} bin")
                if not UNKNOWN <= index < size:
                    raise ValueError(
                        f"completeness record: bin {row!r} has {name} bin {index}, "
                        f"outside {UNKNOWN}..{size - 1}"
                    )
                indices.append(int(index))
            injected = _count(row.get("injected"), f"injected of bin {row!r}")
            recovered = _count(row.get("recovered"), f"recovered of bin {row!r}")
            if recovered > injected:
                raise ValueError(
                    f"completeness record: bin {row!r} recovers more events than injected"
                )
            key = (kind, indices[0], indices[1], indices[2])
            if key in counts:
                raise ValueError(f"completeness record: bin {key} appears twice")
            counts[key] = [injected, recovered]
        return cls(counts)

    def marginal(self, by: Sequence[str]) -> dict[tuple[Any, ...], list[int]]:
        """Return injected and recovered counts summed over every dimension not in ``by``.

        Parameters
        ----------
        by : sequence of str
            The dimensions kept, in order: among ``kind``, ``depth``, ``duration``, ``snr``
            (one name alone stands for itself).

        Returns
        -------
        dict
            Tuple of the kept bins (kind, or bin index, -1 unknown) to ``[injected,
            recovered]``, for the bins that hold events, sorted.

        Raises
        ------
        ValueError
            When a dimension is unknown or named twice.
        """
        by = [by] if isinstance(by, str) else list(by)
        names = [name for name, _ in DIMENSIONS]
        for name in by:
            if name not in names:
                raise ValueError(f"no completeness dimension {name!r}; expected one of {names}")
        if len(set(by)) != len(by):
            raise ValueError(f"completeness dimensions named twice in {list(by)}")
        axes = [names.index(name) for name in by]
        out: dict[tuple[Any, ...], list[int]] = {}
        for key, (injected, recovered) in self.counts.items():
            cell = out.setdefault(tuple(key[a] for a in axes), [0, 0])
            cell[0] += injected
            cell[1] += recovered
        return dict(sorted(out.items()))

    def table(self, by: Sequence[str] = ("kind", "snr")) -> Table:
        """Return the completeness per bin of some dimensions, summed over the others.

        Parameters
        ----------
        by : sequence of str
            The dimensions kept, in order: among ``kind``, ``depth``, ``duration``, ``snr``
            (one name alone stands for itself).

        Returns
        -------
        astropy.table.Table
            One row per combination of the kept dimensions' bins (every kind and bin, and
            the ``unknown`` bin when it holds events), with a column per kept dimension
            holding its label (``"transit"``, ``"10-15"``, ``">=30"``; depth fractional,
            duration in minutes), ``injected``, ``recovered``, ``completeness``
            (recovered / injected, NaN when none were injected) and ``lo``, ``hi``: its 68%
            Wilson score interval (:func:`wilson_interval` with ``z = 1``).
        """
        by = [by] if isinstance(by, str) else list(by)
        marginal = self.marginal(by)
        edges = dict(DIMENSIONS)
        choices: list[list[Any]] = []
        for axis, name in enumerate(by):
            if edges[name] is None:
                choices.append(list(KINDS))
                continue
            known = list(range(len(edges[name])))
            unknown = [UNKNOWN] if any(key[axis] == UNKNOWN for key in marginal) else []
            choices.append(known + unknown)
        rows = []
        for key in product(*choices):
            injected, recovered = marginal.get(key, (0, 0))
            lo, hi = wilson_interval(recovered, injected)
            fraction = recovered / injected if injected else math.nan
            rows.append((*key, injected, recovered, fraction, lo, hi))
        columns: dict[str, Any] = {}
        for axis, name in enumerate(by):
            labels = bin_labels(edges[name]) if edges[name] is not None else None
            columns[name] = np.array(
                [
                    row[axis]
                    if labels is None
                    else (_UNKNOWN_LABEL if row[axis] == UNKNOWN else labels[row[axis]])
                    for row in rows
                ],
                dtype=str,
            )
        n = len(by)
        columns["injected"] = np.array([row[n] for row in rows], dtype=np.int64)
        columns["recovered"] = np.array([row[n + 1] for row in rows], dtype=np.int64)
        for offset, name in enumerate(("completeness", "lo", "hi"), start=2):
            columns[name] = np.array([row[n + offset] for row in rows], dtype=float)
        table = Table(columns)
        table["completeness"].description = "recovered / injected (NaN: none injected)"
        table["lo"].description = "lower bound of the 68% Wilson score interval"
        table["hi"].description = "upper bound of the 68% Wilson score interval"
        return table

    def recovery(self, kind: str, min_snr: float) -> tuple[int, int]:
        """Return events injected and recovered at an expected SNR of at least ``min_snr``.

        Parameters
        ----------
        kind : str
            ``transit`` or ``flare``.
        min_snr : float
            Counted are the SNR bins whose lower edge is at least this (events of unknown
            SNR never are).

        Returns
        -------
        tuple of int
            Injected, recovered.
        """
        _check_kind(kind)
        injected = recovered = 0
        for (k, _, _, s), (i, r) in self.counts.items():
            if k == kind and s != UNKNOWN and SNR_EDGES[s] >= min_snr:
                injected += i
                recovered += r
        return injected, recovered


def _snr_positions() -> np.ndarray:
    """Return where each SNR bin is drawn: its centre; the open last bin half a bin above."""
    edges = np.asarray(SNR_EDGES)
    centres = (edges[:-1] + edges[1:]) / 2
    return np.append(centres, edges[-1] + (edges[-1] - edges[-2]) / 2)


def completeness_png(completeness: Completeness, title: str = "") -> bytes:
    """Return a PNG of a completeness, 1000 x 420 px.

    Parameters
    ----------
    completeness : Completeness
        The counts.
    title : str
        Drawn above the panels (none when empty).

    Returns
    -------
    bytes
        The PNG. Left: completeness against expected SNR per kind, a point per SNR bin that
        holds events (at the bin's centre, the open last bin half a bin above its edge) with
        its 68% Wilson interval, and a dashed line at 90%. Right: the transits' completeness
        per depth (%) and duration (minutes) bin over all SNR, each cell annotated with
        recovered / injected, empty cells grey. Events of unknown SNR, depth or duration are
        left out of the panel that needs them.
    """
    # matplotlib is the "web" extra of the package: imported here, the counting above runs
    # without it (on Beam's workers, say).
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(_WIDTH_IN, _HEIGHT_IN), dpi=_DPI)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.15]})

    # Left: completeness against expected SNR, per kind.
    positions = _snr_positions()
    edges = np.asarray(SNR_EDGES)
    by_snr = completeness.marginal(("kind", "snr"))
    drawn = False
    for kind in KINDS:
        rows = [(s, i, r) for (k, s), (i, r) in by_snr.items() if k == kind and s != UNKNOWN]
        if not rows:
            continue
        drawn = True
        colour, marker, shift = _KIND_STYLE[kind]
        x = np.array([positions[s] for s, _, _ in rows]) + shift
        y = np.array([r / i for _, i, r in rows])
        bounds = np.array([wilson_interval(r, i) for _, i, r in rows])
        left.errorbar(
            x,
            y,
            yerr=np.abs(bounds.T - y),
            fmt=marker,
            ms=5,
            lw=1.0,
            capsize=3,
            color=colour,
            label=f"{kind}s ({sum(i for _, i, _ in rows)} injected)",
        )
    left.axhline(_TARGET, ls="--", lw=1.0, color="#555555", label=f"{_TARGET:.0%}")
    left.set_xlim(0.0, 2 * positions[-1] - edges[-1])
    left.set_ylim(-0.02, 1.05)
    left.set_xticks(edges)
    left.set_xticklabels([f"{e:g}" for e in edges], fontsize=8.5)
    left.set_xlabel(f"expected SNR of the injected event (bins; the last >= {edges[-1]:g})")
    left.set_ylabel("completeness (recovered / injected)")
    left.grid(alpha=0.3)
    if drawn:
        left.legend(loc="lower right", fontsize=8, frameon=False)
    else:
        left.text(
            0.5, 0.5, "no injected events", ha="center", va="center", transform=left.transAxes
        )
    left.set_title("Completeness vs SNR (68% Wilson intervals)", fontsize=10)

    # Right: the transits' completeness per depth and duration.
    grid = completeness.marginal(("kind", "depth", "duration"))
    shape = (len(DEPTH_EDGES), len(DURATION_EDGES_MIN))
    injected = np.zeros(shape, dtype=np.int64)
    recovered = np.zeros(shape, dtype=np.int64)
    for (kind, d, t), (i, r) in grid.items():
        if kind == "transit" and d != UNKNOWN and t != UNKNOWN:
            injected[d, t] += i
            recovered[d, t] += r
    fraction = np.ma.masked_array(
        np.divide(recovered, injected, out=np.zeros(shape), where=injected > 0),
        mask=injected == 0,
    )
    colours = colormaps["viridis"].with_extremes(bad="#d9d9d9")
    image = right.imshow(fraction, cmap=colours, vmin=0.0, vmax=1.0, origin="lower", aspect="auto")
    for d, t in zip(*np.nonzero(injected), strict=True):
        ink = "white" if _luminance(colours(float(fraction[d, t]))) < 0.5 else "black"
        right.text(
            t,
            d,
            _cell_label(int(recovered[d, t]), int(injected[d, t])),
            ha="center",
            va="center",
            fontsize=8,
            color=ink,
        )
    right.set_xticks(range(shape[1]))
    right.set_xticklabels(bin_labels(DURATION_EDGES_MIN))
    right.set_yticks(range(shape[0]))
    right.set_yticklabels(bin_labels([100.0 * e for e in DEPTH_EDGES]))
    right.set_xlabel("transit duration (min)")
    right.set_ylabel("transit depth (%)")
    right.set_title("Transits: recovered / injected, all SNR (grey: none)", fontsize=10)
    if not injected.any():
        right.text(
            0.5, 0.5, "no injected transits", ha="center", va="center", transform=right.transAxes
        )
    bar = figure.colorbar(image, ax=right, fraction=0.08, pad=0.02)
    bar.set_label("completeness")
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def _short(count: int) -> str:
    """Return a count in a few characters: ``9999``, ``12.3k``, ``123k``, ``4.56M``."""
    if count < 10_000:
        return str(count)
    value, suffix = count / 1e9, "G"
    for scale, name in ((1e3, "k"), (1e6, "M")):
        if count / scale < 999.5:
            value, suffix = count / scale, name
            break
    return f"{value:.3g}{suffix}" if value < 999.5 else f"{value:.0f}{suffix}"


def _cell_label(recovered: int, injected: int) -> str:
    """Return a heat-map cell's ``recovered/injected``, on two lines when long."""
    recovered_text, injected_text = _short(recovered), _short(injected)
    joint = "/" if len(recovered_text) + len(injected_text) <= 8 else "\n/ "
    return f"{recovered_text}{joint}{injected_text}"


def _luminance(colour: Sequence[float]) -> float:
    """Return the relative luminance of an RGB(A) colour (0 black, 1 white)."""
    r, g, b = colour[:3]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
