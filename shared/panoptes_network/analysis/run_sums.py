"""One processing run's contribution to the analysis: its stars' sums and its coverage.

A build-lightcurve run stores one data file (:mod:`panoptes_network.lightcurves.products`):
every star's rows, contiguous and in time order. :func:`run_contribution` reads it once and
returns, per star, the run's :class:`~.star_sums.StarSums`, and the run's
:class:`~.coverage.Coverage`: the points each star's headline colour used, binned by the
star's quality in the run (rms over photon floor), the frame's airmass, the Moon's distance
from the field centre (:func:`moon_separation_deg`) and the unit.

:class:`RunInput` names a run: where its data file is and what the analysis needs that the
file does not hold (the unit, the field centre).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq

from panoptes_network.analysis.coverage import Coverage
from panoptes_network.analysis.star_points import (
    HEADLINE_COLOUR,
    Segment,
    StarPoints,
    run_star_points,
)
from panoptes_network.analysis.star_statistics import HEADLINE_COLOURS, colour_statistics
from panoptes_network.analysis.star_sums import COLOURS, StarSums, run_star_sums

__all__ = ["RunContribution", "RunInput", "moon_separation_deg", "run_contribution"]


@dataclass(frozen=True)
class RunInput:
    """A processing run to analyse.

    Attributes
    ----------
    sequence_id : str
        The observation (``PAN001_14d3bd_20160909T081152``).
    run_id : str
        The build-lightcurve run.
    data_uri : str
        Its data file (``gs://...`` or a local path).
    field_ra, field_dec : float or None
        The observation's field centre, in degrees (None when unsolved).
    """

    sequence_id: str
    run_id: str
    data_uri: str
    field_ra: float | None = None
    field_dec: float | None = None

    @property
    def run(self) -> str:
        """``sequence_id/run_id``."""
        return f"{self.sequence_id}/{self.run_id}"

    @property
    def unit_id(self) -> str:
        """The unit, the first part of the sequence id."""
        return self.sequence_id.split("_", 1)[0]

    @property
    def segment(self) -> Segment:
        """The run as a segment of a star's points (its data file's object name)."""
        path = (
            self.data_uri.removeprefix("gs://").partition("/")[2]
            if self.data_uri.startswith("gs://")
            else self.data_uri
        )
        return Segment(self.sequence_id, self.run_id, path)


@dataclass
class RunContribution:
    """What one run adds: per-star sums, its coverage, and each star's points for the searches.

    Attributes
    ----------
    stars : list of StarSums
        Per star, the run's exact sums.
    coverage : Coverage
        The run's coverage histogram.
    points : dict
        PICID to the star's usable points in the run (:class:`~.star_points.StarPoints`).
    """

    stars: list[StarSums]
    coverage: Coverage
    points: dict[int, StarPoints] = field(default_factory=dict)


def moon_separation_deg(times: np.ndarray, ra: float | None, dec: float | None) -> np.ndarray:
    """Return the Moon's geocentric distance from a field centre at each time, in degrees.

    Parameters
    ----------
    times : numpy.ndarray
        POSIX seconds (UTC).
    ra, dec : float or None
        The field centre, in degrees; None gives NaN (unknown).

    Returns
    -------
    numpy.ndarray
        Degrees, one per time (astropy's built-in ephemeris: no download; the Moon's
        parallax, under a degree at the site, is far below the bins' 30 degrees).
    """
    times = np.asarray(times, dtype=float)
    if ra is None or dec is None or times.size == 0:
        return np.full(times.shape, np.nan)
    from astropy import units as u
    from astropy.coordinates import SkyCoord, get_body
    from astropy.time import Time

    unique, inverse = np.unique(times, return_inverse=True)
    moon = get_body("moon", Time(unique, format="unix"))
    field = SkyCoord(ra * u.deg, dec * u.deg, frame="icrs")
    separation = moon.separation(field, origin_mismatch="ignore").deg
    return np.asarray(separation)[inverse]


def _cadence_s(times: np.ndarray) -> int:
    unique = np.unique(times[np.isfinite(times)])
    if unique.size < 2:
        return 0
    return int(round(float(np.median(np.diff(unique)))))


def _usable(columns: dict[str, np.ndarray], colour: str) -> np.ndarray:
    """Return the rows whose magnitude in ``colour`` the sums used (finite, not clipped)."""
    mag = np.asarray(columns[f"mag_{colour}"], dtype=float)
    err = np.asarray(columns[f"mag_err_{colour}"], dtype=float)
    used = np.isfinite(mag) & np.isfinite(err) & (err > 0)
    outlier = columns.get(f"outlier_{colour}")
    return used if outlier is None else used & ~np.asarray(outlier, dtype=bool)


def run_contribution(run: RunInput, data: bytes) -> RunContribution:
    """Read a run's data file and return its stars' sums and its coverage.

    Parameters
    ----------
    run : RunInput
        The run.
    data : bytes
        Its Parquet data file.

    Returns
    -------
    RunContribution
        One :class:`~.star_sums.StarSums` per star (by PICID) and the run's coverage.

    Raises
    ------
    ValueError
        For a file that is not a light-curve data file (the message names the run).
    """
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise ValueError(f"{run.data_uri}: not a Parquet light-curve data file: {exc}") from exc
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    colours = tuple(json.loads(meta["colours"])) if "colours" in meta else COLOURS
    missing = [
        name
        for name in ("picid", "time", "airmass", *(f"mag_{c}" for c in colours))
        if name not in table.column_names
    ]
    if missing:
        raise ValueError(f"{run.data_uri}: no column(s) {missing}: not a schema-2 data file")
    columns = {
        name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names
    }
    picid = columns["picid"].astype(np.int64)
    time = columns["time"].astype(float)
    cadence = _cadence_s(time)
    moon = moon_separation_deg(time, run.field_ra, run.field_dec)
    starts = np.flatnonzero(np.r_[True, picid[1:] != picid[:-1]])
    ends = np.r_[starts[1:], picid.size]
    stars: list[StarSums] = []
    points: dict[int, StarPoints] = {}
    segment = run.segment
    coverage = Coverage()
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        rows = slice(start, end)
        star_columns = {
            f"{kind}_{c}": columns[f"{kind}_{c}"][rows]
            for c in colours
            for kind in ("mag", "mag_err", "outlier")
            if f"{kind}_{c}" in columns
        }
        sums = run_star_sums(int(picid[start]), run.run, time[rows], star_columns, colours)
        stars.append(sums)
        search_columns = {
            name: columns[name][rows]
            for name in (
                *(
                    f"{kind}_{HEADLINE_COLOUR}"
                    for kind in ("flux", "flux_err", "outlier", "mag", "mag_err")
                ),
                "image_id",
            )
            if name in columns
        }
        star_points = run_star_points(sums.picid, segment, time[rows], search_columns, start)
        if star_points.size:
            points[sums.picid] = star_points
        headline = next(
            (c for c in HEADLINE_COLOURS if c in sums.colours and sums.colours[c].n), None
        )
        if headline is None:
            continue  # no point of this star was usable: nothing searched
        ratio = colour_statistics(sums.colours[headline]).get("rms_over_floor")
        used = _usable(star_columns, headline)
        coverage.add(
            quality=math.nan if ratio is None else ratio,
            airmass=columns["airmass"][rows][used],
            moon_deg=moon[rows][used],
            unit=run.unit_id,
            cadence_s=cadence,
        )
    return RunContribution(stars, coverage, points)
