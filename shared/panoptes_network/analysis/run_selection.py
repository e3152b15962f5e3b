"""Which processing runs a backfill analyses: each observation's latest finished run.

An observation may have been processed several times (another option, a newer release);
the analysis takes its latest finished run (``processed_observations`` with ``status:
"done"``, the latest ``run_time``). A backfill takes every observation, chosen ones, those
whose field centre lies within a radius of a position, or those of a time range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from panoptes_network.analysis.run_sums import RunInput
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.schema import OBSERVATIONS, PROCESSED_OBSERVATIONS, RunStatus
from panoptes_network.pipeline.settings import Settings

__all__ = ["Region", "select_runs"]


@dataclass(frozen=True)
class Region:
    """A circle on the sky: centre ``ra``, ``dec`` and ``radius``, in degrees."""

    ra: float
    dec: float
    radius: float

    def contains(self, ra: float, dec: float) -> bool:
        """Whether a position (degrees) is within the circle."""
        a, b = math.radians(self.dec), math.radians(dec)
        cos_sep = math.sin(a) * math.sin(b) + math.cos(a) * math.cos(b) * math.cos(
            math.radians(ra - self.ra)
        )
        return math.degrees(math.acos(max(-1.0, min(1.0, cos_sep)))) <= self.radius


def _latest_runs(rows: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, tuple[str, dict]]:
    latest: dict[str, tuple[str, dict]] = {}
    for run_id, doc in rows:
        sequence_id = doc.get("sequence_id")
        if not isinstance(sequence_id, str) or not doc.get("data_path"):
            continue
        known = latest.get(sequence_id)
        key = (str(doc.get("run_time") or ""), run_id)
        if known is None or key > (str(known[1].get("run_time") or ""), known[0]):
            latest[sequence_id] = (run_id, doc)
    return latest


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def select_runs(
    documents: DocumentStore,
    settings: Settings,
    *,
    observations: Sequence[str] = (),
    region: Region | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[RunInput]:
    """Return the latest finished run of each chosen observation.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    settings : Settings
        Where the data files are (``lightcurves_bucket``).
    observations : sequence of str, optional
        Only these sequence ids.
    region : Region, optional
        Only observations whose field centre is within it (an unsolved one has no centre
        and is left out).
    since, until : datetime, optional
        Only observations that started at or after ``since`` and before ``until`` (aware).

    Returns
    -------
    list of RunInput
        By sequence id.
    """
    rows = documents.query(PROCESSED_OBSERVATIONS, [("status", "==", RunStatus.DONE)])
    latest = _latest_runs(rows)
    wanted = set(observations)
    ids = sorted(s for s in latest if not wanted or s in wanted)
    found = documents.read([(OBSERVATIONS, s) for s in ids]) if ids else {}
    out = []
    for sequence_id in ids:
        observation = found[(OBSERVATIONS, sequence_id)].fields or {}
        ra, dec = _number(observation.get("ra")), _number(observation.get("dec"))
        if region is not None and (ra is None or dec is None or not region.contains(ra, dec)):
            continue
        start = observation.get("time")
        if since is not None or until is not None:
            if not isinstance(start, datetime):
                continue
            if (since is not None and start < since) or (until is not None and start >= until):
                continue
        run_id, run = latest[sequence_id]
        out.append(
            RunInput(
                sequence_id,
                run_id,
                f"gs://{settings.lightcurves_bucket}/{run['data_path']}",
                ra,
                dec,
            )
        )
    return out
