"""Give observations recorded before the sky index existed their sky index.

record-image writes the sky index (:mod:`panoptes_network.frames.sky_index`) when an
observation's first frame creates it, and plate-solve replaces it with the solved centre;
older documents have none, and the Data Explorer's sky search cannot find them.
:func:`backfill_sky_index` walks the observations collection and writes what each document
should hold (:func:`planned_sky_fields`):

- from its plate solution (``ra``, ``dec``), ``sky_source: "solved"``, the field's radius
  being the one already stored for that solution, else
  :data:`~panoptes_network.frames.sky_index.FIELD_RADIUS_DEG`;
- else from the mount position already indexed (``sky_ra``, ``sky_dec`` with
  ``sky_source: "mount"``);
- else from the mount position of its first frames (``ra_mnt``, ``dec_mnt`` of the first
  :data:`FRAMES_READ` images in time order, the first that has one), ``sky_source:
  "mount"``;
- else nothing (counted as ``without_pointing``).

It writes only fields that differ, so a second run writes nothing and a run after a change
of the index (orders, radii) rewrites what changed.

It also keeps the sky cells key index (:data:`~panoptes_network.pipeline.schema.SKY_CELLS`,
:mod:`panoptes_network.pipeline.key_index`) in agreement: an observation whose cells it
rewrites leaves the cells it held and joins the new ones in the same batch, and an
observation whose sky index is right but that some of its cells' documents do not list (it
was indexed before the key index existed) is added to them. To find those without writing
every listing on every run, each page reads the cell documents its observations need, in
one batch read (at most the 3,840 cells of the index's two orders), and writes only the
listings missing (counted as ``listed``).

Bounded: it reads the collection in pages of ``page_size`` documents ordered by ``time``
(documents without a ``time`` are not reached; every observation the network writes has
one), keeping one page in memory, and calls ``progress`` after each page. Safe beside the
live chain: each page's writes are planned from a fresh read and committed in batches
guarded by the versions read (a concurrent plate solve or frame makes a batch fail; its
documents are then written one by one, re-read and re-planned each time, so a solved index
is never replaced by a mount one). An observation's writes (its document and its cell
listings: at most 221 for the index's largest field) always share one batch, of at most
:data:`~panoptes_network.pipeline.ports.MAX_BATCH_WRITES` writes, in which the listings of
one cell are merged into one write. Repairing the listings of an observation whose fields
are right is guarded too: its batch rewrites the document's ``sky_source`` unchanged under
the version read, so a plate solve that moves the observation meanwhile fails the batch
rather than leave it listed under a cell it has left.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from panoptes_network.frames.sky_index import (
    FIELD_RADIUS_DEG,
    MAX_FIELD_RADIUS_DEG,
    SKY_FIELDS,
    SkySource,
    sky_fields,
    sky_position,
)
from panoptes_network.pipeline.commit import commit_with_retry
from panoptes_network.pipeline.key_index import add_ids, read_ids_of, remove_ids
from panoptes_network.pipeline.ports import (
    MAX_BATCH_WRITES,
    DocSnapshot,
    DocumentStore,
    DocWrite,
    WriteConflict,
)
from panoptes_network.pipeline.schema import IMAGES, OBSERVATIONS, SKY_CELLS

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "FRAMES_READ",
    "SkyBackfillReport",
    "backfill_sky_index",
    "first_mount_position",
    "planned_sky_fields",
]

#: Observation documents read per page.
DEFAULT_PAGE_SIZE = 200
#: Images of an observation read, first in time order, to find a mount position.
FRAMES_READ = 3

Position = tuple[float, float]


@dataclass
class SkyBackfillReport:
    """What a backfill run did (or, dry, would do).

    Attributes
    ----------
    observations_read : int
        Observation documents read.
    images_read : int
        Image documents read for a mount position.
    indexed : dict
        Documents whose sky index was written (or would be), per ``sky_source``.
    unchanged : int
        Documents whose sky index was already right (their cell listings may have been
        repaired: see ``listed``).
    without_pointing : int
        Documents with neither a plate solution nor a frame with a mount position.
    listed : int
        Listings written in the sky cells key index: an observation added to a cell's
        document that did not list it.
    cells_read : int
        Sky cell documents read to find the missing listings.
    conflicts : int
        Batches that lost a race with another writer (their documents were then written
        one by one).
    pages : int
        Pages read.
    dry_run : bool
        Whether nothing was written.
    """

    observations_read: int = 0
    images_read: int = 0
    indexed: dict[str, int] = field(default_factory=dict)
    unchanged: int = 0
    without_pointing: int = 0
    listed: int = 0
    cells_read: int = 0
    conflicts: int = 0
    pages: int = 0
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data."""
        return {
            "observations_read": self.observations_read,
            "images_read": self.images_read,
            "indexed": dict(self.indexed),
            "unchanged": self.unchanged,
            "without_pointing": self.without_pointing,
            "listed": self.listed,
            "cells_read": self.cells_read,
            "conflicts": self.conflicts,
            "pages": self.pages,
            "dry_run": self.dry_run,
        }


def _degrees(value: Any) -> float | None:
    """Return degrees as stored: a number, or a number written as text (older records)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _position(ra: Any, dec: Any) -> Position | None:
    return sky_position(_degrees(ra), _degrees(dec))


def first_mount_position(
    documents: DocumentStore, sequence_id: str, frames: int = FRAMES_READ
) -> tuple[Position | None, int]:
    """Return the mount position of an observation's first frames, and the images read.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    sequence_id : str
        The observation.
    frames : int
        Images to read, first in time order (one query).

    Returns
    -------
    tuple
        ``((ra, dec), images_read)`` in degrees from the first of them with a valid
        ``ra_mnt``/``dec_mnt``, or ``(None, images_read)``.
    """
    images = documents.query(
        IMAGES, [("sequence_id", "==", sequence_id)], order_by="time", limit=frames
    )
    for _, image in images:
        position = _position(image.get("ra_mnt"), image.get("dec_mnt"))
        if position is not None:
            return position, len(images)
    return None, len(images)


def _solved_radius(doc: Mapping[str, Any], solved: Position) -> float:
    """Return the field radius stored for this very solution, else the nominal one."""
    radius = _degrees(doc.get("sky_radius"))
    if (
        doc.get("sky_source") == SkySource.SOLVED
        and _position(doc.get("sky_ra"), doc.get("sky_dec")) == solved
        and radius is not None
        and 0 < radius <= MAX_FIELD_RADIUS_DEG
    ):
        return radius
    return FIELD_RADIUS_DEG


def planned_sky_fields(
    doc: Mapping[str, Any], mount: Position | None = None
) -> dict[str, Any] | None:
    """Return the sky index an observation document should hold (see the module docstring).

    Parameters
    ----------
    doc : Mapping
        The observation document.
    mount : (float, float), optional
        The mount position of its first frames (degrees), when it was read.

    Returns
    -------
    dict or None
        The fields of :func:`~panoptes_network.frames.sky_index.sky_fields`; None when the
        document has no pointing to index.
    """
    solved = _position(doc.get("ra"), doc.get("dec"))
    if solved is not None:
        return sky_fields(*solved, SkySource.SOLVED, radius=_solved_radius(doc, solved))
    indexed = _position(doc.get("sky_ra"), doc.get("sky_dec"))
    if doc.get("sky_source") == SkySource.MOUNT and indexed is not None:
        return sky_fields(*indexed, SkySource.MOUNT)
    if mount is not None:
        return sky_fields(*mount, SkySource.MOUNT)
    return None


def _needs_mount(doc: Mapping[str, Any]) -> bool:
    """Whether planning needs the first frames' mount position (no solution, no index)."""
    return _position(doc.get("ra"), doc.get("dec")) is None and not (
        doc.get("sky_source") == SkySource.MOUNT
        and _position(doc.get("sky_ra"), doc.get("sky_dec")) is not None
    )


def _changes(doc: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: fields[name] for name in SKY_FIELDS if doc.get(name) != fields[name]}


@dataclass(frozen=True)
class _Plan:
    """One observation's writes: its document (guarded) and its cell listings."""

    doc_id: str
    write: DocWrite
    source: str
    indexed: bool  # its sky index fields change
    join: tuple[str, ...]  # cells whose documents do not list it yet
    leave: tuple[str, ...]  # cells its document held and no longer holds


def _cells_of(planned: Mapping[str, Any]) -> list[str]:
    """Return the cell document ids of planned sky fields (NUNIQ numbers as text)."""
    return [str(cell) for cell in dict.fromkeys(planned["sky_cells"])]


def _plan(
    doc_id: str,
    snapshot: DocSnapshot,
    planned: Mapping[str, Any] | None,
    listed: Mapping[str, list[str]],
) -> _Plan | None:
    """Return what one observation needs, or None when its index and listings are right.

    ``listed`` holds the ids each cell document lists, as read; a cell left out of it is
    taken as not listing the observation (its listing is written: ``ArrayUnion`` adds it
    once). A cell's document loses an observation only in the batch that moves the
    observation's ``sky_cells`` elsewhere (plate-solve, this backfill): a move before
    ``snapshot`` was read leaves it listed under every cell it now holds, and a move after
    fails the batch guarded by ``snapshot``'s version.
    """
    if not snapshot.exists or planned is None:
        return None
    doc = snapshot.fields or {}
    change = _changes(doc, planned)
    cells = _cells_of(planned)
    join = tuple(cell for cell in cells if doc_id not in listed.get(cell, ()))
    if not change and not join:
        return None
    held = doc.get("sky_cells")
    keep = set(cells)
    held_cells = (str(cell) for cell in (held if isinstance(held, list) else []))
    leave = tuple(cell for cell in dict.fromkeys(held_cells) if cell not in keep)
    write = DocWrite(
        OBSERVATIONS,
        doc_id,
        change or {"sky_source": planned["sky_source"]},  # unchanged: the guard only
        must_exist=True,
        expected_version=snapshot.version,
    )
    return _Plan(doc_id, write, planned["sky_source"], bool(change), join, leave)


def _writes(batch: list[_Plan]) -> list[DocWrite]:
    """Return a batch's writes: the documents, then one write per cell left or joined."""
    leave: dict[str, list[str]] = {}
    join: dict[str, list[str]] = {}
    for plan in batch:
        for cell in plan.leave:
            leave.setdefault(cell, []).append(plan.doc_id)
        for cell in plan.join:
            join.setdefault(cell, []).append(plan.doc_id)
    return [
        *(plan.write for plan in batch),
        *(remove_ids(SKY_CELLS, cell, ids) for cell, ids in leave.items()),
        *(add_ids(SKY_CELLS, cell, ids) for cell, ids in join.items()),
    ]


def _batches(plans: list[_Plan]) -> Iterator[list[_Plan]]:
    """Group plans into batches of at most MAX_BATCH_WRITES writes, a plan never split."""
    batch: list[_Plan] = []
    join: set[str] = set()
    leave: set[str] = set()
    for plan in plans:
        grows = 1 + len(set(plan.join) - join) + len(set(plan.leave) - leave)
        if batch and len(batch) + len(join) + len(leave) + grows > MAX_BATCH_WRITES:
            yield batch
            batch, join, leave = [], set(), set()
        batch.append(plan)
        join.update(plan.join)
        leave.update(plan.leave)
    if batch:
        yield batch


def _count(report: SkyBackfillReport, plan: _Plan | None) -> None:
    """Count one observation written (or, dry, to be written), or found right meanwhile."""
    if plan is None or not plan.indexed:
        report.unchanged += 1
    else:
        report.indexed[plan.source] = report.indexed.get(plan.source, 0) + 1
    if plan is not None:
        report.listed += len(plan.join)


def _read_listed(
    documents: DocumentStore, cells: list[str], report: SkyBackfillReport
) -> dict[str, list[str]]:
    """Read the cell documents (one batch read); return the ids each lists."""
    cells = list(dict.fromkeys(cells))
    report.cells_read += len(cells)
    return read_ids_of(documents, SKY_CELLS, cells)


def _write_one(
    documents: DocumentStore, doc_id: str, mount: Position | None, report: SkyBackfillReport
) -> _Plan | None:
    """Re-read one document and its cells, re-plan it, commit under its version."""
    key = (OBSERVATIONS, doc_id)

    def plan() -> tuple[list[DocWrite], _Plan | None]:
        snapshot = documents.read([key])[key]
        planned = planned_sky_fields(snapshot.fields or {}, mount) if snapshot.exists else None
        listed = _read_listed(documents, _cells_of(planned), report) if planned else {}
        made = _plan(doc_id, snapshot, planned, listed)
        return (_writes([made]) if made else []), made

    return commit_with_retry(documents, plan, what=f"the sky index of observations/{doc_id}")


def _write_page(
    documents: DocumentStore,
    pending: dict[str, Position | None],
    listed: Mapping[str, list[str]],
    report: SkyBackfillReport,
) -> None:
    """Write a page's sky indexes and listings in guarded batches; one by one after a race."""
    keys = [(OBSERVATIONS, doc_id) for doc_id in pending]
    snapshots = documents.read(keys)
    plans = []
    for key in keys:
        snapshot = snapshots[key]
        if not snapshot.exists:
            continue
        planned = planned_sky_fields(snapshot.fields or {}, pending[key[1]])
        made = _plan(key[1], snapshot, planned, listed)
        if made is None:  # another writer got there since the page was read
            report.unchanged += 1
        else:
            plans.append(made)
    for batch in _batches(plans):
        try:
            documents.commit(_writes(batch))
        except WriteConflict:
            report.conflicts += 1
            for plan in batch:
                _count(report, _write_one(documents, plan.doc_id, pending[plan.doc_id], report))
        else:
            for plan in batch:
                _count(report, plan)


def backfill_sky_index(
    documents: DocumentStore,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    limit: int | None = None,
    dry_run: bool = False,
    progress: Callable[[SkyBackfillReport], None] | None = None,
) -> SkyBackfillReport:
    """Write the sky index of every observation that lacks it or holds an outdated one.

    And list every indexed observation under its cells in the sky cells key index (see
    the module docstring).

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    page_size : int
        Observations read per page, 1 to 500 (their writes are committed in batches of at
        most :data:`~panoptes_network.pipeline.ports.MAX_BATCH_WRITES`).
    limit : int, optional
        Most observations read in all (all by default).
    dry_run : bool
        Count what would be written, write nothing.
    progress : callable, optional
        Called with the report so far after each page.

    Returns
    -------
    SkyBackfillReport
        What was read and written.

    Raises
    ------
    ValueError
        For a page size or limit out of range.
    WriteConflict
        When one document lost every race with other writers (run again).
    """
    if isinstance(page_size, bool) or not 1 <= page_size <= MAX_BATCH_WRITES:
        raise ValueError(f"page_size must be from 1 to {MAX_BATCH_WRITES}, not {page_size!r}")
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit must be 1 or more, not {limit!r}")
    report = SkyBackfillReport(dry_run=dry_run)
    after: tuple[Any, str] | None = None
    while limit is None or report.observations_read < limit:
        size = page_size if limit is None else min(page_size, limit - report.observations_read)
        page = documents.query(
            OBSERVATIONS,
            order_by="time",
            limit=size,
            start_after=after[0] if after else None,
            start_after_id=after[1] if after else None,
        )
        if not page:
            break
        report.pages += 1
        report.observations_read += len(page)
        indexed: dict[str, tuple[dict[str, Any], dict[str, Any], Position | None]] = {}
        for doc_id, doc in page:
            mount = None
            if _needs_mount(doc):
                mount, read = first_mount_position(documents, doc_id)
                report.images_read += read
            planned = planned_sky_fields(doc, mount)
            if planned is None:
                report.without_pointing += 1
            else:
                indexed[doc_id] = (doc, planned, mount)
        cells = [cell for _, planned, _ in indexed.values() for cell in _cells_of(planned)]
        listed = _read_listed(documents, cells, report) if cells else {}
        pending: dict[str, Position | None] = {}
        for doc_id, (doc, planned, mount) in indexed.items():
            made = _plan(doc_id, DocSnapshot(doc), planned, listed)
            if made is None:
                report.unchanged += 1
            elif dry_run:
                _count(report, made)
            else:
                pending[doc_id] = mount
        if pending:
            _write_page(documents, pending, listed, report)
        last_id, last = page[-1]
        after = (last.get("time"), last_id)
        if progress is not None:
            progress(report)
        if len(page) < size:
            break
    return report
