"""The interfaces the ingest steps need from the outside world.

The cloud adapters (:mod:`panoptes_network.adapters`) implement them with Cloud Storage,
Pub/Sub and Firestore; unit tests implement them in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

__all__ = [
    "ObjectInfo",
    "ObjectStore",
    "MessageBus",
    "DocKey",
    "DocSnapshot",
    "DocWrite",
    "WriteConflict",
    "DocumentStore",
    "GeoPoint",
    "MAX_BATCH_BYTES",
    "MAX_BATCH_WRITES",
    "MAX_ANY_VALUES",
    "approximate_size",
    "split_batches",
]

#: The type of one write in :func:`split_batches`.
T = TypeVar("T")

#: Most writes in one Firestore batch.
MAX_BATCH_WRITES = 500
#: Most bytes of documents in one batch commit, by :func:`approximate_size` (bytes). Firestore
#: takes requests of up to 10 MiB, but the Firestore emulator refuses gRPC messages over
#: 4 MiB, and a request on the wire is up to ~1.4 times the estimate (field tags).
MAX_BATCH_BYTES = 3 * 1024 * 1024


def split_batches(
    groups: Iterable[tuple[Sequence[T], int]],
    *,
    max_writes: int = MAX_BATCH_WRITES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[list[T]]:
    """Yield batches of writes, each group whole, within the writes and bytes limits.

    Parameters
    ----------
    groups : iterable of (sequence, int)
        Writes that must share a batch, with their size (bytes, by :func:`approximate_size`).
    max_writes : int
        Most writes per batch.
    max_bytes : int
        Most bytes per batch; a single larger group still gets a batch of its own.

    Yields
    ------
    list
        The writes of one batch, in the order given.
    """
    batch: list[T] = []
    size = 0
    for writes, group_size in groups:
        if batch and (len(batch) + len(writes) > max_writes or size + group_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.extend(writes)
        size += group_size
    if batch:
        yield batch


def approximate_size(value: Any) -> int:
    """Return roughly the bytes Firestore counts for a value (numbers 8, strings + 1).

    Parameters
    ----------
    value : Any
        A field value, map or list.

    Returns
    -------
    int
        Size estimate in bytes.
    """
    if isinstance(value, str):
        return len(value.encode()) + 1
    if isinstance(value, Mapping):
        return sum(len(str(k)) + 1 + approximate_size(v) for k, v in value.items()) + 32
    if isinstance(value, (list, tuple)):
        return sum(approximate_size(v) for v in value)
    return 8


#: Most values of one ``array-contains-any`` filter (Firestore's limit).
MAX_ANY_VALUES = 30


@dataclass(frozen=True)
class ObjectInfo:
    """What storage knows of one object.

    Attributes
    ----------
    bucket, name : str
        Where it is.
    size : int
        Size in bytes.
    md5_hash : str or None
        Base64 MD5 as Cloud Storage reports it.
    generation : int or None
        Object generation.
    metadata : dict
        Custom metadata.
    """

    bucket: str
    name: str
    size: int
    md5_hash: str | None = None
    generation: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class ObjectStore(Protocol):
    """Object storage (Cloud Storage)."""

    def stat(self, bucket: str, name: str, *, generation: int | None = None) -> ObjectInfo | None:
        """Return the object's info (that generation's, when given), or None when missing."""

    def read(self, bucket: str, name: str, *, generation: int | None = None) -> bytes:
        """Return the whole object (that generation, when given); raise ObjectNotFoundError."""

    def read_range(self, bucket: str, name: str, start: int, length: int) -> bytes:
        """Return up to ``length`` bytes from byte ``start``."""

    def write(
        self,
        bucket: str,
        name: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        if_generation_match: int | None = None,
    ) -> ObjectInfo:
        """Store ``data`` and return the stored object's info.

        With ``if_generation_match`` the write happens only if the live object has that
        generation (0: only if there is none); otherwise it raises
        :class:`~.errors.PreconditionFailed` and nothing changes.
        """

    def copy(
        self,
        bucket: str,
        name: str,
        to_bucket: str,
        to_name: str,
        *,
        metadata: Mapping[str, str] | None = None,
        source_generation: int | None = None,
        if_generation_match: int | None = None,
    ) -> ObjectInfo:
        """Copy an object (that generation of it, when given), optionally setting metadata.

        ``if_generation_match`` is the target's condition, as for :meth:`write`.
        """

    def delete(self, bucket: str, name: str, *, generation: int) -> bool:
        """Delete an object only while its live generation is ``generation``.

        Returns whether it was deleted: a newer upload of the same name is never deleted.
        """

    def list(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """Return the objects whose names start with ``prefix``, sorted by name."""


class MessageBus(Protocol):
    """Messages between the steps (Pub/Sub)."""

    def publish(self, topic: str, payload: Mapping[str, Any], **attributes: str) -> str:
        """Publish ``payload`` as JSON; return the message id."""


@dataclass(frozen=True)
class GeoPoint:
    """A point on Earth, in degrees; the adapter stores it as a Firestore GeoPoint.

    Attributes
    ----------
    latitude : float
        Degrees north, -90 to 90.
    longitude : float
        Degrees east, -180 to 180.
    """

    latitude: float
    longitude: float


@dataclass(frozen=True)
class DocSnapshot:
    """A document as read, with an opaque version for optimistic preconditions.

    Attributes
    ----------
    fields : dict or None
        The document's fields; None when it does not exist.
    version : object
        Store-specific version (Firestore's update time); None when it does not exist.
    """

    fields: dict[str, Any] | None
    version: Any = None

    @property
    def exists(self) -> bool:
        """Whether the document exists."""
        return self.fields is not None


@dataclass(frozen=True)
class DocWrite:
    """One document write in an atomic batch.

    Attributes
    ----------
    collection, doc_id : str
        The document.
    fields : dict
        Fields set (merged into the document).
    increments : dict
        Numeric fields incremented atomically by these amounts.
    array_union : dict
        Array fields that gain these elements, atomically, each once (elements already
        there stay where they are; a missing field becomes the array). Firestore's
        ``ArrayUnion``: no read, so concurrent writers never conflict.
    array_remove : dict
        Array fields that lose every instance of these elements, atomically
        (``ArrayRemove``). A field may not be in both ``array_union`` and ``array_remove``.
    must_not_exist : bool
        Create: the whole batch fails if the document exists.
    must_exist : bool
        Update: the whole batch fails if the document does not exist.
    expected_version : object
        With ``must_exist``: the batch fails if the document changed since it was read at
        this version.
    """

    collection: str
    doc_id: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    increments: Mapping[str, float] = field(default_factory=dict)
    array_union: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    array_remove: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    must_not_exist: bool = False
    must_exist: bool = False
    expected_version: Any = None

    def __post_init__(self) -> None:
        names = [*self.fields, *self.increments, *self.array_union, *self.array_remove]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(
                f"{self.collection}/{self.doc_id}: field(s) {', '.join(twice)} written twice "
                "in one write (set, increment, array union and array remove are exclusive)"
            )


DocKey = tuple[str, str]


class WriteConflict(Exception):
    """A batch's precondition failed: someone else wrote first. Read again and re-plan."""


class DocumentStore(Protocol):
    """Flat document collections (Firestore)."""

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        """Return a document's fields, or None."""

    def read(self, keys: list[DocKey]) -> dict[DocKey, DocSnapshot]:
        """Read several documents at once, with their versions."""

    def commit(self, writes: list[DocWrite]) -> None:
        """Apply ``writes`` atomically; raise WriteConflict when a precondition fails."""

    def merge(self, collection: str, doc_id: str, fields: Mapping[str, Any]) -> None:
        """Merge fields into a document, creating it when missing."""

    def find(
        self, collection: str, field: str, op: str, value: Any
    ) -> list[tuple[str, dict[str, Any]]]:
        """Return ``(doc_id, fields)`` of the documents where ``field op value``.

        ``op`` is one of ``<``, ``<=``, ``==``, ``>=``, ``>``.
        """

    def query(
        self,
        collection: str,
        filters: Sequence[tuple[str, str, Any]] = (),
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        start_after: Any = None,
        start_after_id: str | None = None,
    ) -> list[tuple[str, dict[str, Any]]]:
        """Return ``(doc_id, fields)`` of the documents matching every ``(field, op, value)``.

        ``op`` is one of ``<``, ``<=``, ``==``, ``>=``, ``>``, or ``array-contains-any``:
        the field is an array holding at least one of ``value``'s items (a list of 1 to
        :data:`MAX_ANY_VALUES`; at most one such filter per query, and each document is
        returned once however many items it holds). Range filters match only
        values of the same type as ``value`` (as in Firestore: a null or missing field never
        matches; integers and floats are one type, numbers). ``order_by`` sorts by a field,
        ascending, or descending with ``descending`` (documents without the field are left
        out; as in Firestore, values of different types sort by type: null, booleans,
        numbers, timestamps, strings ..., and documents with equal values by id, in the same
        direction). ``start_after`` is a value of that field to continue after (a cursor):
        every document with that value is skipped. With ``start_after_id`` the cursor is one
        document, ``(start_after, start_after_id)``: the documents after it in the order, so
        documents sharing its value are neither skipped nor repeated (``start_after`` may
        then be None, for a null value). ``limit`` bounds the documents read. Without
        ``order_by`` the documents come in id order and the cursor arguments are ignored.
        """

    def merge_many(self, merges: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Merge many ``(collection, doc_id, fields)`` documents.

        In batches of at most :data:`MAX_BATCH_WRITES` writes: each batch is atomic, the
        whole is not.
        """
