"""Key indexes: documents that list the ids of other documents, so a page reads by key.

A page of the Data Explorer that needs "the frames of this observation" or "the light curves
of this star" could ask Firestore a query. Firestore serves a query from an index, in time
that grows with the answer only; the Firestore emulator has no indexes and scans the whole
collection for every query (2.7 s for the frames of one observation among 100,000 images,
against 18 ms to read 50 documents by key). So the network keeps, beside the documents, a
few **key indexes**: one document per owner (an observation, a star, a sky cell) whose
``ids`` array lists the ids of the owned documents (collections in
:mod:`.schema`: ``observation_frames``, ``observation_runs``, ``star_lightcurves``,
``sky_cells``). A page reads the index document, then the documents it lists, both by key,
in a bounded number of reads whatever the size of the archive.

The writer that creates a document adds its id in the same atomic batch
(:func:`add_ids`: Firestore's ``ArrayUnion``, which needs no read, so concurrent writers
never conflict and a redelivered message adds nothing twice); the reader treats a listed id
whose document is gone as absent (:func:`read_listed`). An owner without an index document
(recorded before the index existed) is read by the query instead, by the reader's choice.

Capacity: a document holds at most 1 MiB, about 30,000 ids of 30 characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from panoptes_network.pipeline.ports import DocumentStore, DocWrite

__all__ = [
    "IDS",
    "add_ids",
    "move_id",
    "read_ids",
    "read_ids_of",
    "read_listed",
    "remove_ids",
]

#: The array field of an index document that lists the ids.
IDS = "ids"


def add_ids(collection: str, owner: str, ids: Iterable[str]) -> DocWrite:
    """Return the write that adds ``ids`` to the index document ``collection/owner``.

    Parameters
    ----------
    collection : str
        The key index's collection (e.g. ``observation_frames``).
    owner : str
        Its document id (e.g. the sequence id).
    ids : iterable of str
        The ids listed; those already listed are left as they are.

    Returns
    -------
    DocWrite
        An ``ArrayUnion`` on ``ids`` that creates the document when it is missing.
    """
    return DocWrite(collection, owner, array_union={IDS: sorted(set(ids))})


def remove_ids(collection: str, owner: str, ids: Iterable[str]) -> DocWrite:
    """Return the write that removes ``ids`` from the index document ``collection/owner``."""
    return DocWrite(collection, owner, array_remove={IDS: sorted(set(ids))})


def move_id(
    collection: str, listed: str, before: Iterable[Any], after: Iterable[Any]
) -> list[DocWrite]:
    """Return the writes that move one listed id from the owners ``before`` to ``after``.

    For an id listed under several owners, such as an observation under each sky cell its
    field touches: it leaves the owners that are in ``before`` only and joins those in
    ``after`` (all of them, so a missing entry is repaired). Owners are document ids, or
    numbers written as text (a cell's NUNIQ).

    Parameters
    ----------
    collection : str
        The key index's collection (e.g. ``sky_cells``).
    listed : str
        The id listed (e.g. a sequence id).
    before, after : iterable
        The owners that listed it, and those that must list it now.

    Returns
    -------
    list of DocWrite
        One ``ArrayRemove`` per owner left, one ``ArrayUnion`` per owner in ``after``.
    """
    new = [str(owner) for owner in dict.fromkeys(after)]
    gone = [str(owner) for owner in dict.fromkeys(before) if str(owner) not in set(new)]
    return [
        *(remove_ids(collection, owner, [listed]) for owner in gone),
        *(add_ids(collection, owner, [listed]) for owner in new),
    ]


def _ids(doc: Mapping[str, Any] | None) -> list[str] | None:
    """Return the ids an index document lists (text only), or None without a document."""
    if doc is None:
        return None
    values = doc.get(IDS)
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def read_ids(documents: DocumentStore, collection: str, owner: str) -> list[str] | None:
    """Return the ids that ``collection/owner`` lists (one read), or None when it is missing."""
    return _ids(documents.get(collection, owner))


def read_ids_of(
    documents: DocumentStore, collection: str, owners: Iterable[str]
) -> dict[str, list[str]]:
    """Return the ids each of ``owners`` lists, in one batch read; missing owners are left out."""
    keys = [(collection, owner) for owner in dict.fromkeys(owners)]
    if not keys:
        return {}
    snaps = documents.read(keys)
    out: dict[str, list[str]] = {}
    for (_, owner), snap in ((key, snaps[key]) for key in keys):
        ids = _ids(snap.fields if snap.exists else None)
        if ids is not None:
            out[owner] = ids
    return out


def read_listed(
    documents: DocumentStore, collection: str, ids: Iterable[str]
) -> list[tuple[str, dict[str, Any]]]:
    """Read documents by key, in one batch read, in the order given; skip those that are gone.

    Parameters
    ----------
    documents : DocumentStore
        Firestore, or a fake.
    collection : str
        Their collection (e.g. ``images``).
    ids : iterable of str
        Their ids (repeats are read once).

    Returns
    -------
    list of (str, dict)
        ``(id, fields)`` of each document that exists.
    """
    keys = [(collection, doc_id) for doc_id in dict.fromkeys(ids)]
    if not keys:
        return []
    snaps = documents.read(keys)
    return [(key[1], snaps[key].fields or {}) for key in keys if snaps[key].exists]
