"""Firestore as a :class:`~panoptes_network.pipeline.ports.DocumentStore`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from panoptes_network.pipeline.ports import (
    DocKey,
    DocSnapshot,
    DocWrite,
    GeoPoint,
    WriteConflict,
    approximate_size,
    split_batches,
)

__all__ = [
    "FirestoreDocuments",
    "to_firestore",
    "from_firestore",
]

#: The port's operators the Python client spells otherwise.
_CLIENT_OPERATORS = {"array-contains-any": "array_contains_any"}


def to_firestore(value: Any) -> Any:
    """Convert domain values (GeoPoint) to Firestore values, recursively."""
    if isinstance(value, GeoPoint):
        return firestore.GeoPoint(value.latitude, value.longitude)
    if isinstance(value, Mapping):
        return {k: to_firestore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_firestore(v) for v in value]
    return value


def from_firestore(value: Any) -> Any:
    """Convert Firestore values back to domain values, recursively."""
    if isinstance(value, firestore.GeoPoint):
        return GeoPoint(value.latitude, value.longitude)
    if isinstance(value, Mapping):
        return {k: from_firestore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_firestore(v) for v in value]
    return value


class FirestoreDocuments:
    """Flat collections in one Firestore database.

    Parameters
    ----------
    client : google.cloud.firestore.Client
        A client made once per process.
    """

    def __init__(self, client: firestore.Client):
        self.client = client

    def _ref(self, key: DocKey) -> firestore.DocumentReference:
        return self.client.collection(key[0]).document(key[1])

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        """Return a document's fields, or None."""
        snapshot = self._ref((collection, doc_id)).get()
        return from_firestore(snapshot.to_dict()) if snapshot.exists else None

    def merge(self, collection: str, doc_id: str, fields: Mapping[str, Any]) -> None:
        """Merge fields into a document, creating it when missing."""
        self._ref((collection, doc_id)).set(to_firestore(dict(fields)), merge=True)

    def find(
        self, collection: str, field: str, op: str, value: Any
    ) -> list[tuple[str, dict[str, Any]]]:
        """Return ``(doc_id, fields)`` of the documents where ``field op value``."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.client.collection(collection).where(filter=FieldFilter(field, op, value))
        return [(s.id, from_firestore(s.to_dict())) for s in query.stream()]

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
        """Return ``(doc_id, fields)`` of the matching documents (see the port).

        The port's ``array-contains-any`` is the client's ``array_contains_any``.
        A cursor of one document (``start_after_id``) orders by the document id too, in the
        same direction: Firestore does so implicitly anyway, so the query needs no other
        index than it would without the cursor.
        """
        from google.cloud.firestore_v1.base_query import FieldFilter
        from google.cloud.firestore_v1.field_path import FieldPath

        query: Any = self.client.collection(collection)
        for field, op, value in filters:
            op = _CLIENT_OPERATORS.get(op, op)
            query = query.where(filter=FieldFilter(field, op, to_firestore(value)))
        if order_by is not None:
            direction = firestore.Query.DESCENDING if descending else firestore.Query.ASCENDING
            query = query.order_by(order_by, direction=direction)
            if start_after_id is not None:
                name = FieldPath.document_id()
                query = query.order_by(name, direction=direction).start_after(
                    {order_by: to_firestore(start_after), name: start_after_id}
                )
            elif start_after is not None:
                query = query.start_after({order_by: to_firestore(start_after)})
        if limit is not None:
            query = query.limit(limit)
        return [(s.id, from_firestore(s.to_dict())) for s in query.stream()]

    def merge_many(self, merges: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Merge many documents in batches.

        A batch holds at most :data:`~..ports.MAX_BATCH_WRITES` writes and about
        :data:`MAX_BATCH_BYTES` bytes (see :data:`~..pipeline.ports.MAX_BATCH_BYTES`).
        """
        groups = (([merge], approximate_size(merge[2])) for merge in merges)
        for chunk in split_batches(groups):
            batch = self.client.batch()
            for collection, doc_id, fields in chunk:
                batch.set(self._ref((collection, doc_id)), to_firestore(dict(fields)), merge=True)
            batch.commit()

    def read(self, keys: list[DocKey]) -> dict[DocKey, DocSnapshot]:
        """Read several documents in one call, with their update times as versions."""
        refs = {self._ref(key).path: key for key in keys}
        out = {key: DocSnapshot(None) for key in keys}
        for snap in self.client.get_all([self._ref(key) for key in keys]):
            if snap.exists:
                out[refs[snap.reference.path]] = DocSnapshot(
                    from_firestore(snap.to_dict()), snap.update_time
                )
        return out

    def commit(self, writes: list[DocWrite]) -> None:
        """Apply ``writes`` in one atomic batch; raise WriteConflict on a failed precondition."""
        batch = self.client.batch()
        for write in writes:
            ref = self._ref((write.collection, write.doc_id))
            fields = to_firestore(dict(write.fields))
            for name, amount in write.increments.items():
                fields[name] = firestore.Increment(amount)
            for name, values in write.array_union.items():
                fields[name] = firestore.ArrayUnion(to_firestore(list(values)))
            for name, values in write.array_remove.items():
                fields[name] = firestore.ArrayRemove(to_firestore(list(values)))
            if write.must_not_exist:
                batch.create(ref, fields)
            elif write.must_exist:
                if write.expected_version is not None:
                    option = self.client.write_option(last_update_time=write.expected_version)
                    batch.update(ref, _dotless(fields), option=option)
                else:
                    batch.update(ref, _dotless(fields))  # update itself requires existence
            else:
                batch.set(ref, fields, merge=True)
        try:
            batch.commit()
        except (gexc.AlreadyExists, gexc.FailedPrecondition, gexc.NotFound, gexc.Aborted) as exc:
            raise WriteConflict(str(exc)) from exc


def _dotless(fields: dict[str, Any]) -> dict[str, Any]:
    """Quote field names for ``update``, which reads dots as paths."""
    return {
        (f"`{name}`" if not name.replace("_", "").isalnum() else name): value
        for name, value in fields.items()
    }
