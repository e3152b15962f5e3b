"""List documents written before the key indexes existed in their key indexes.

The chain lists every new frame, run and light curve in its key index
(:mod:`.key_index`) in the batch that writes it. Documents written before the indexes
existed are listed by :func:`backfill_key_indexes`, which walks each indexed collection
page by page (one page in memory) and adds the ids its owners' index documents lack:

- ``images`` (ordered by ``time``) into ``observation_frames`` of their ``sequence_id``;
- ``processed_observations`` (ordered by ``run_time``) into ``observation_runs`` of their
  ``sequence_id``;
- ``lightcurves`` (ordered by ``run_time``) into ``star_lightcurves`` of their ``picid``.

Per page it reads the owners' index documents in one batch read and writes only the
listings missing, so a second run writes nothing. Writes are ``ArrayUnion``: safe beside the
running chain, which adds to the same documents. Documents without the order field or the
owner field are not listed (counted as ``without_owner`` when they lack the owner). The sky
cells' index is :mod:`panoptes_network.ingest.sky_backfill`'s; ``bin/key-index`` runs both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from panoptes_network.pipeline.key_index import add_ids, read_ids_of
from panoptes_network.pipeline.ports import MAX_BATCH_WRITES, DocumentStore, DocWrite
from panoptes_network.pipeline.schema import (
    IMAGES,
    LIGHTCURVES,
    OBSERVATION_FRAMES,
    OBSERVATION_RUNS,
    PROCESSED_OBSERVATIONS,
    STAR_LIGHTCURVES,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "INDEXED",
    "IndexedCollection",
    "KeyIndexReport",
    "backfill_key_indexes",
]

#: Documents read per page.
DEFAULT_PAGE_SIZE = 200


def _text_owner(name: str) -> Callable[[Mapping[str, Any]], str | None]:
    def owner(doc: Mapping[str, Any]) -> str | None:
        value = doc.get(name)
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return str(value)
        return value if isinstance(value, str) and value else None

    return owner


@dataclass(frozen=True)
class IndexedCollection:
    """A collection whose documents a key index lists.

    Attributes
    ----------
    collection : str
        The listed documents' collection.
    order : str
        The field its pages are read in order of.
    index : str
        The key index's collection.
    owner : callable
        The index document's id for a listed document (None: it has no owner).
    """

    collection: str
    order: str
    index: str
    owner: Callable[[Mapping[str, Any]], str | None]


#: What :func:`backfill_key_indexes` lists, in this order.
INDEXED: tuple[IndexedCollection, ...] = (
    IndexedCollection(IMAGES, "time", OBSERVATION_FRAMES, _text_owner("sequence_id")),
    IndexedCollection(
        PROCESSED_OBSERVATIONS, "run_time", OBSERVATION_RUNS, _text_owner("sequence_id")
    ),
    IndexedCollection(LIGHTCURVES, "run_time", STAR_LIGHTCURVES, _text_owner("picid")),
)


@dataclass
class KeyIndexReport:
    """What a backfill read and listed (or would list, on a dry run).

    Attributes
    ----------
    dry_run : bool
        Nothing was written.
    pages : int
        Pages read.
    read : dict
        Documents read per collection.
    listed : dict
        Ids added (or that would be) per key index.
    without_owner : dict
        Documents per collection without the owner field.
    """

    dry_run: bool = False
    pages: int = 0
    read: dict[str, int] = field(default_factory=dict)
    listed: dict[str, int] = field(default_factory=dict)
    without_owner: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        return {
            "dry_run": self.dry_run,
            "pages": self.pages,
            "read": dict(self.read),
            "listed": dict(self.listed),
            "without_owner": dict(self.without_owner),
        }


def _missing(
    documents: DocumentStore, spec: IndexedCollection, rows: list[tuple[str, dict[str, Any]]]
) -> tuple[dict[str, list[str]], int]:
    """Return the ids of a page each owner's index lacks, and the documents without an owner."""
    by_owner: dict[str, list[str]] = {}
    orphans = 0
    for doc_id, doc in rows:
        owner = spec.owner(doc)
        if owner is None:
            orphans += 1
            continue
        by_owner.setdefault(owner, []).append(doc_id)
    listed = read_ids_of(documents, spec.index, by_owner)
    missing = {}
    for owner, ids in by_owner.items():
        known = set(listed.get(owner, ()))
        lacking = [i for i in ids if i not in known]
        if lacking:
            missing[owner] = lacking
    return missing, orphans


def backfill_key_indexes(
    documents: DocumentStore,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    dry_run: bool = False,
    progress: Callable[[KeyIndexReport], None] | None = None,
    indexed: tuple[IndexedCollection, ...] = INDEXED,
) -> KeyIndexReport:
    """List every document of the indexed collections in its owner's key index.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    page_size : int
        Documents read per page, 1 to :data:`~.ports.MAX_BATCH_WRITES`.
    dry_run : bool
        Count what would be listed, write nothing.
    progress : callable, optional
        Called with the report so far after every page.
    indexed : tuple of IndexedCollection
        What to list (:data:`INDEXED` by default).

    Returns
    -------
    KeyIndexReport
        Pages and documents read, ids listed per index, documents without an owner.

    Raises
    ------
    ValueError
        For a page size out of range.
    """
    if not 1 <= page_size <= MAX_BATCH_WRITES:
        raise ValueError(f"page_size must be 1 to {MAX_BATCH_WRITES}, not {page_size}")
    report = KeyIndexReport(dry_run=dry_run)
    for spec in indexed:
        report.read.setdefault(spec.collection, 0)
        report.listed.setdefault(spec.index, 0)
        report.without_owner.setdefault(spec.collection, 0)
        after: Any = None
        after_id: str | None = None
        while True:
            rows = documents.query(
                spec.collection,
                [],
                order_by=spec.order,
                limit=page_size,
                start_after=after,
                start_after_id=after_id,
            )
            if not rows:
                break
            report.pages += 1
            report.read[spec.collection] += len(rows)
            missing, orphans = _missing(documents, spec, rows)
            report.without_owner[spec.collection] += orphans
            writes: list[DocWrite] = [add_ids(spec.index, o, ids) for o, ids in missing.items()]
            report.listed[spec.index] += sum(len(ids) for ids in missing.values())
            if not dry_run:
                for start in range(0, len(writes), MAX_BATCH_WRITES):
                    documents.commit(writes[start : start + MAX_BATCH_WRITES])
            if progress is not None:
                progress(report)
            if len(rows) < page_size:
                break
            after_id, last = rows[-1]
            after = last.get(spec.order)
    return report
