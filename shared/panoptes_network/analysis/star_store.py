"""Merge runs' star sums into the ``star_sums`` and ``stars`` documents, exactly and once.

Both the incremental update after each build-lightcurve run and the backfill write through
:func:`merge_into_stars`. For each star it reads ``star_sums/{picid}``, merges the new sums
(:meth:`~.star_sums.StarSums.merge`: exact, so the result does not depend on the order the
runs arrive in), and writes both documents in one batch conditioned on the version read, so
two updates of one star at once never lose either. A run the sums already hold is skipped
(a redelivered message adds nothing), and sums of another analysis configuration (another
``analysis_hash``) are replaced, not mixed.

An observation counts once: a new run of an observation whose earlier run is merged
replaces it (the earlier run's sums, computed again by ``previous``, are taken out exactly:
:class:`~.previous_runs.PreviousRuns`); a run older than the one merged is skipped. Without
the earlier run's sums (its data file gone) the star is left as it is and counted
``stale``.

Stars are read in batches of :data:`READ_BATCH` and written in batches of
:data:`WRITE_BATCH` (two documents each); a batch that loses a race is done again star by
star.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from panoptes_network.analysis.config import Analysis
from panoptes_network.analysis.star_documents import star_document, sums_document
from panoptes_network.analysis.star_sums import StarSums, run_observation
from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.ports import (
    DocKey,
    DocSnapshot,
    DocumentStore,
    DocWrite,
    WriteConflict,
)
from panoptes_network.pipeline.schema import STAR_SUMS, STARS

__all__ = ["READ_BATCH", "WRITE_BATCH", "MergeReport", "merge_into_stars"]

#: Stars read in one batch get.
READ_BATCH = 300
#: Stars written in one commit (two documents each).
WRITE_BATCH = 200
_OUTCOMES = ("merged", "already", "replaced", "rerun", "older", "stale")
#: Gives a run's sums by PICID (``sequence_id/run_id``), computed again from its data file.
Previous = Callable[[str], Mapping[int, StarSums]]


@dataclass
class MergeReport:
    """What :func:`merge_into_stars` did.

    Attributes
    ----------
    merged : int
        Stars whose sums took the new runs.
    already : int
        Stars that held every new run already (nothing written).
    replaced : int
        Stars whose sums of another configuration were replaced.
    rerun : int
        Stars where a new run of an observation replaced its earlier run.
    older : int
        Stars that hold a later run of the observation (nothing written).
    stale : int
        Stars whose earlier run of the observation could not be taken out (nothing written).
    picids : list of int
        The stars written.
    """

    merged: int = 0
    already: int = 0
    replaced: int = 0
    rerun: int = 0
    older: int = 0
    stale: int = 0
    picids: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Return the counts by outcome."""
        return {k: getattr(self, k) for k in _OUTCOMES}


def _plan(
    new: StarSums,
    snapshot: DocSnapshot,
    analysis: Analysis,
    catalog: Mapping[str, Any] | None,
    existing_star: Mapping[str, Any] | None,
    previous: Previous | None,
) -> tuple[list[DocWrite], str]:
    """Return the writes merging ``new`` into the stored sums, and what happened."""
    stored = snapshot.fields
    outcome = "merged"
    if stored is None or stored.get("analysis_hash") != analysis.config_hash():
        total = StarSums(new.picid)
        outcome = "merged" if stored is None else "replaced"
    else:
        total = StarSums.from_record(stored)
    if set(new.runs) <= set(total.runs):
        return [], "already"
    for run in new.runs:
        earlier = total.run_of(run_observation(run))
        if earlier is None or earlier == run:
            continue
        if earlier > run:  # run ids end with their time: a later run is merged already
            return [], "older"
        old = previous(earlier).get(new.picid) if previous is not None else None
        if old is None:
            return [], "stale"
        total.subtract(old)
        outcome = "rerun"
    if not total.merge(new):
        return [], "already"
    row = dict(catalog or {})
    if not row and existing_star and isinstance(existing_star.get("catalog"), Mapping):
        row = dict(existing_star["catalog"])
    key = str(new.picid)
    condition = (
        {"expected_version": snapshot.version} if snapshot.exists else {"must_not_exist": True}
    )
    return [
        DocWrite(STAR_SUMS, key, sums_document(total, analysis), **condition),
        DocWrite(STARS, key, star_document(total, analysis, row or None)),
    ], outcome


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def merge_into_stars(
    documents: DocumentStore,
    runs: Iterable[StarSums],
    analysis: Analysis,
    *,
    catalog: Mapping[int, Mapping[str, Any]] | None = None,
    previous: Previous | None = None,
) -> MergeReport:
    """Merge runs' per-star sums into the stored star documents.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    runs : iterable of StarSums
        Sums of one or more runs, any stars (several of one star are merged first).
    analysis : Analysis
        The configuration; stored sums of another are replaced.
    catalog : mapping, optional
        PICID to catalog row (``ra``, ``dec``, ``vmag`` ...) for the ``stars`` documents
        (a star's stored catalog row is kept when none is given).
    previous : callable, optional
        A run's sums by PICID (:class:`~.previous_runs.PreviousRuns`), to take out the
        earlier run of an observation processed again.

    Returns
    -------
    MergeReport
        Stars by outcome.
    """
    by_star: dict[int, StarSums] = {}
    for sums in runs:
        mine = by_star.setdefault(sums.picid, StarSums(sums.picid))
        mine.merge(sums)
    report = MergeReport()
    rows = catalog or {}
    picids = sorted(by_star)
    for chunk in _chunks(picids, READ_BATCH):
        keys: list[DocKey] = [(STAR_SUMS, str(p)) for p in chunk]
        star_keys: list[DocKey] = [(STARS, str(p)) for p in chunk]
        snapshots = documents.read([*keys, *star_keys])
        for part in _chunks(list(chunk), WRITE_BATCH):
            writes: list[DocWrite] = []
            outcomes: list[tuple[int, str]] = []
            for p in part:
                planned, outcome = _plan(
                    by_star[p],
                    snapshots[(STAR_SUMS, str(p))],
                    analysis,
                    rows.get(p),
                    snapshots[(STARS, str(p))].fields,
                    previous,
                )
                writes.extend(planned)
                outcomes.append((p, outcome))
            try:
                if writes:
                    documents.commit(writes)
            except WriteConflict:
                outcomes = [
                    (p, _merge_one(documents, by_star[p], analysis, rows.get(p), previous))
                    for p in part
                ]
            for p, outcome in outcomes:
                _count(report, p, outcome)
    return report


def _merge_one(
    documents: DocumentStore,
    new: StarSums,
    analysis: Analysis,
    catalog: Mapping[str, Any] | None,
    previous: Previous | None,
) -> str:
    """Merge one star alone, reading again on every conflict."""
    key = str(new.picid)

    def plan() -> tuple[list[DocWrite], str]:
        found = documents.read([(STAR_SUMS, key), (STARS, key)])
        return _plan(
            new, found[(STAR_SUMS, key)], analysis, catalog, found[(STARS, key)].fields, previous
        )

    return commit_with_retry(documents, plan, what=f"{STAR_SUMS}/{key}")


def _count(report: MergeReport, picid: int, outcome: str) -> None:
    setattr(report, outcome, getattr(report, outcome) + 1)
    if outcome in ("merged", "replaced", "rerun"):
        report.picids.append(picid)
