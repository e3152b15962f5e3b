"""A build-lightcurve run's calibrated magnitudes: one colour term per colour, then the scale.

measure-sources fits every frame's zero point and colour term per colour
(:mod:`panoptes_network.photometry.zero_point`, the ``zero_points`` of each sources table's
metadata). A run combines the colour terms of its frames into one per colour
(:func:`~panoptes_network.photometry.zero_point.observation_colour_term`: the camera's filter,
not the frame, sets it) and puts every star's light curve on the calibrated scale of
:mod:`.calibrated_scale`: the star over its comparison ensemble, scaled by the ensemble's
catalog brightness, not normalised to the star's own median, so a change lasting the whole
observation survives and observations of different nights and units share one scale.

Frames whose tables carry no zero points (measured before zero points were fitted, or a
colour that could not be fitted) count for nothing; with none at all the colour term is 0,
and the run says so (:attr:`CalibratedRun.notes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from astropy.table import Table

from panoptes_network.lightcurves.calibrated_scale import (
    CalibratedLightcurves,
    calibrated_lightcurves,
    instrumental_colour,
)
from panoptes_network.lightcurves.ensemble import Lightcurves
from panoptes_network.photometry.zero_point import (
    INSTRUMENTAL_COLOUR,
    ZeroPoint,
    ZeroPointError,
    observation_colour_term,
)

__all__ = ["CalibratedRun", "calibrate_run", "frame_zero_points"]


@dataclass(frozen=True)
class CalibratedRun:
    """The calibrated light curves of a run and how they were calibrated.

    Attributes
    ----------
    colours : dict
        :class:`~.calibrated_scale.CalibratedLightcurves` per colour.
    record : dict
        Per colour: ``colour_term`` (mag per mag), ``colour_term_err`` (or None),
        ``colour_index`` and ``frames_with_zero_points``: the run document's and the data
        file's ``calibration``.
    notes : list of str
        What the reader should know (colours without zero points).
    """

    colours: dict[str, CalibratedLightcurves]
    record: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def frame_zero_points(tables: Sequence[Table], colour: str) -> list[ZeroPoint]:
    """Return the zero points of one colour that the frames' tables carry.

    Parameters
    ----------
    tables : sequence of astropy.table.Table
        Sources tables with their metadata in ``meta`` (``zero_points``: colour to record).
    colour : str
        r, g or b.

    Returns
    -------
    list of ZeroPoint
        One per table that has a usable record for the colour.
    """
    found = []
    for table in tables:
        records = table.meta.get("zero_points")
        record = records.get(colour) if isinstance(records, Mapping) else None
        if not isinstance(record, Mapping):
            continue
        try:
            found.append(ZeroPoint.from_record(record))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def calibrate_run(lightcurves: Lightcurves, tables: Sequence[Table]) -> CalibratedRun:
    """Put a run's light curves on the calibrated magnitude scale, colour by colour.

    Parameters
    ----------
    lightcurves : Lightcurves
        The run's differential light curves (their comparison ensembles and weights).
    tables : sequence of astropy.table.Table
        The frames' sources tables (metadata in ``meta``), for their zero points.

    Returns
    -------
    CalibratedRun
        The calibrated light curves, the colour terms used and notes.
    """
    colours: dict[str, CalibratedLightcurves] = {}
    record: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    stack = lightcurves.stack
    has_colour = "b" in stack.flux and "r" in stack.flux
    star_colour = instrumental_colour(stack) if has_colour else None
    for colour in lightcurves.colours:
        zero_points = [
            zp for zp in frame_zero_points(tables, colour) if zp.colour_index == INSTRUMENTAL_COLOUR
        ]
        term, term_err = 0.0, None
        if not has_colour:
            notes.append(
                f"colour {colour}: the run has not both r and b, so no star colour: its "
                "calibrated magnitudes use no colour term (colour term 0)"
            )
        elif zero_points:
            try:
                term, term_err = observation_colour_term(zero_points)
            except ZeroPointError as exc:
                notes.append(f"colour {colour}: {exc}; colour term 0")
        else:
            notes.append(
                f"colour {colour}: no frame has a zero point, so its calibrated magnitudes "
                "use no colour term (colour term 0)"
            )
        colours[colour] = calibrated_lightcurves(
            lightcurves,
            colour,
            colour_term=term,
            colour_term_err=term_err,
            star_colour=star_colour,
        )
        record[colour] = {
            "colour_term": round(float(term), 6),
            "colour_term_err": None if term_err is None else round(float(term_err), 6),
            "colour_index": INSTRUMENTAL_COLOUR,
            "frames_with_zero_points": len(zero_points),
        }
    return CalibratedRun(colours, record, notes)
