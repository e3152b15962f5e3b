"""In-memory fakes of the ports, for unit tests of the chain's steps."""

from __future__ import annotations

import copy
import itertools
import json
import operator
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from panoptes_network.pipeline.errors import ObjectNotFoundError, PreconditionFailed
from panoptes_network.pipeline.ports import (
    MAX_ANY_VALUES,
    MAX_BATCH_WRITES,
    DocKey,
    DocSnapshot,
    DocWrite,
    GeoPoint,
    ObjectInfo,
    WriteConflict,
)
from panoptes_network.pipeline.storage import md5_base64

#: The comparison of each filter operator.
_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}


#: The port's membership operator (Firestore's ``array-contains-any``).
ARRAY_CONTAINS_ANY = "array-contains-any"


def _storable(value: Any, where: str, in_array: bool = False) -> None:
    """Refuse what Firestore refuses: an array directly inside an array."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            _storable(item, f"{where}.{name}")
    elif isinstance(value, (list, tuple)):
        if in_array:
            raise ValueError(f"{where}: Firestore cannot store an array in an array")
        for item in value:
            _storable(item, where, in_array=True)


def _check_any_filters(filters) -> None:
    """Refuse what Firestore refuses: more than one such filter, or 0 or over 30 values."""
    anys = [value for _, op, value in filters if op == ARRAY_CONTAINS_ANY]
    if len(anys) > 1:
        raise ValueError("a query takes at most one array-contains-any filter")
    for value in anys:
        if not isinstance(value, (list, tuple)) or not 0 < len(value) <= MAX_ANY_VALUES:
            raise ValueError(f"array-contains-any takes a list of 1 to {MAX_ANY_VALUES} values")


def _contains_any(stored: Any, values: Any) -> bool:
    """Whether an array field holds one of ``values`` (Firestore's equality: same type)."""
    if not isinstance(stored, (list, tuple)):
        return False
    return any(
        _type_rank(item) == _type_rank(value) and item == value
        for item in stored
        for value in values
    )


def _type_rank(value: Any) -> int:
    """Firestore's order of value types: null, booleans, numbers, timestamps, strings ..."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 2
    if isinstance(value, datetime):
        return 3
    if isinstance(value, str):
        return 4
    if isinstance(value, bytes):
        return 5
    if isinstance(value, GeoPoint):
        return 7
    if isinstance(value, (list, tuple)):
        return 8
    return 9


def _order_key(value: Any) -> tuple[int, Any]:
    """A sort key that orders values of any types as Firestore does."""
    rank = _type_rank(value)
    if rank == 0:
        return (0, 0)
    if rank == 7:
        return (7, (value.latitude, value.longitude))
    if rank in (8, 9):
        return (rank, repr(value))
    return (rank, value)


class MemoryStore:
    """ObjectStore in a dict, every bucket versioned; counts the bytes of ranged reads."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, dict[str, str], int]] = {}
        self.versions: dict[tuple[str, str, int], bytes] = {}
        self._generation = itertools.count(1)
        self.range_bytes = 0
        self.deleted: list[tuple[str, str]] = []
        self.writes: list[tuple[str, str]] = []

    def _check(self, bucket: str, name: str, if_generation_match: int | None) -> None:
        if if_generation_match is None:
            return
        live = self.objects.get((bucket, name))
        if (live[2] if live else 0) != if_generation_match:
            raise PreconditionFailed(bucket, name, f"generation is not {if_generation_match}")

    def put(
        self, bucket: str, name: str, data: bytes, metadata: Mapping[str, str] | None = None
    ) -> ObjectInfo:
        generation = next(self._generation)
        self.objects[(bucket, name)] = (bytes(data), dict(metadata or {}), generation)
        self.versions[(bucket, name, generation)] = bytes(data)
        return self.stat(bucket, name)  # type: ignore[return-value]

    def stat(self, bucket: str, name: str, *, generation: int | None = None) -> ObjectInfo | None:
        entry = self.objects.get((bucket, name))
        if generation is not None and (entry is None or entry[2] != generation):
            data = self.versions.get((bucket, name, generation))
            if data is None:
                return None
            return ObjectInfo(bucket, name, len(data), md5_base64(data), generation, {})
        if entry is None:
            return None
        data, metadata, generation = entry
        return ObjectInfo(bucket, name, len(data), md5_base64(data), generation, dict(metadata))

    def read(self, bucket: str, name: str, *, generation: int | None = None) -> bytes:
        if generation is not None:
            if (bucket, name, generation) not in self.versions:
                raise ObjectNotFoundError(bucket, name)
            return self.versions[(bucket, name, generation)]
        if (bucket, name) not in self.objects:
            raise ObjectNotFoundError(bucket, name)
        return self.objects[(bucket, name)][0]

    def read_range(self, bucket: str, name: str, start: int, length: int) -> bytes:
        chunk = self.read(bucket, name)[start : start + length]
        self.range_bytes += len(chunk)
        return chunk

    def write(
        self,
        bucket,
        name,
        data,
        *,
        content_type="application/octet-stream",
        metadata=None,
        if_generation_match=None,
    ):
        self._check(bucket, name, if_generation_match)
        self.writes.append((bucket, name))
        return self.put(bucket, name, data, metadata)

    def copy(
        self,
        bucket,
        name,
        to_bucket,
        to_name,
        *,
        metadata=None,
        source_generation=None,
        if_generation_match=None,
    ):
        data = self.read(bucket, name, generation=source_generation)
        self._check(to_bucket, to_name, if_generation_match)
        live = self.objects.get((bucket, name))
        merged = {**(live[1] if live else {}), **(metadata or {})}
        self.writes.append((to_bucket, to_name))
        return self.put(to_bucket, to_name, data, merged)

    def delete(self, bucket: str, name: str, *, generation: int) -> bool:
        entry = self.objects.get((bucket, name))
        if entry is None or entry[2] != generation:
            return False
        del self.objects[(bucket, name)]
        self.deleted.append((bucket, name))
        return True

    def list(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        return [
            self.stat(bucket, n)  # type: ignore[misc]
            for n in self.names(bucket)
            if n.startswith(prefix)
        ]

    def names(self, bucket: str) -> list[str]:
        return sorted(n for b, n in self.objects if b == bucket)


class MemoryBus:
    """MessageBus that keeps what was published, JSON round-tripped like Pub/Sub."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def publish(self, topic: str, payload: Mapping[str, Any], **attributes: str) -> str:
        self.messages.append((topic, json.loads(json.dumps(payload)), attributes))
        return str(len(self.messages))

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [payload for t, payload, _ in self.messages if t == topic]


class MemoryDocuments:
    """DocumentStore with Firestore's batch preconditions, safe across threads."""

    def __init__(self) -> None:
        self.docs: dict[DocKey, dict[str, Any]] = {}
        self.versions: dict[DocKey, int] = {}
        self._clock = itertools.count(1)
        self._lock = threading.Lock()
        self.conflicts = 0
        self.batches: list[int] = []
        self.queried = 0  # documents returned by query(): what a Firestore query is billed

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        with self._lock:
            doc = self.docs.get((collection, doc_id))
            return copy.deepcopy(doc) if doc is not None else None

    def read(self, keys: list[DocKey]) -> dict[DocKey, DocSnapshot]:
        with self._lock:
            return {
                key: DocSnapshot(copy.deepcopy(self.docs[key]), self.versions[key])
                if key in self.docs
                else DocSnapshot(None)
                for key in keys
            }

    def commit(self, writes: list[DocWrite]) -> None:
        with self._lock:
            for w in writes:
                _storable(w.fields, f"{w.collection}/{w.doc_id}")
                key = (w.collection, w.doc_id)
                if w.must_not_exist and key in self.docs:
                    self.conflicts += 1
                    raise WriteConflict(f"{key} exists")
                if w.must_exist and key not in self.docs:
                    self.conflicts += 1
                    raise WriteConflict(f"{key} missing")
                if w.expected_version is not None and self.versions.get(key) != w.expected_version:
                    self.conflicts += 1
                    raise WriteConflict(f"{key} changed")
            for w in writes:
                key = (w.collection, w.doc_id)
                doc = self.docs.setdefault(key, {})
                doc.update(copy.deepcopy(dict(w.fields)))
                for name, amount in w.increments.items():
                    doc[name] = doc.get(name, 0) + amount
                for name, values in w.array_union.items():
                    current = list(doc.get(name) or [])
                    for value in values:
                        if value not in current:
                            current.append(copy.deepcopy(value))
                    doc[name] = current
                for name, values in w.array_remove.items():
                    doc[name] = [v for v in doc.get(name) or [] if v not in values]
                self.versions[key] = next(self._clock)

    def merge(self, collection: str, doc_id: str, fields: Mapping[str, Any]) -> None:
        _storable(fields, f"{collection}/{doc_id}")
        with self._lock:
            key = (collection, doc_id)
            self.docs.setdefault(key, {}).update(copy.deepcopy(dict(fields)))
            self.versions[key] = next(self._clock)

    def find(self, collection, field, op, value):
        with self._lock:
            return [
                (doc_id, copy.deepcopy(doc))
                for (c, doc_id), doc in sorted(self.docs.items())
                if c == collection and field in doc and _OPS[op](doc[field], value)
            ]

    def query(
        self,
        collection,
        filters=(),
        *,
        order_by=None,
        descending=False,
        limit=None,
        start_after=None,
        start_after_id=None,
    ):
        """Firestore's semantics: range filters match same-typed values only, order by type."""
        _check_any_filters(filters)

        def matches(doc: dict[str, Any]) -> bool:
            for field, op, value in filters:
                if field not in doc or doc[field] is None:
                    return False
                if op == ARRAY_CONTAINS_ANY:
                    if not _contains_any(doc[field], value):
                        return False
                    continue
                if op != "==" and _type_rank(doc[field]) != _type_rank(value):
                    return False
                if not _OPS[op](doc[field], value):
                    return False
            return True

        with self._lock:
            rows = [
                (doc_id, copy.deepcopy(doc))
                for (c, doc_id), doc in sorted(self.docs.items())
                if c == collection and matches(doc)
            ]
        if order_by is not None:
            rows = [r for r in rows if order_by in r[1]]

            def position(row: tuple[str, dict[str, Any]]) -> tuple[Any, str]:
                return (_order_key(row[1][order_by]), row[0])

            rows.sort(key=position, reverse=descending)
            if start_after_id is not None:
                cursor = (_order_key(start_after), start_after_id)
                rows = [
                    r
                    for r in rows
                    if (position(r) < cursor if descending else position(r) > cursor)
                ]
            elif start_after is not None:
                value = _order_key(start_after)
                rows = [
                    r
                    for r in rows
                    if (position(r)[0] < value if descending else position(r)[0] > value)
                ]
        rows = rows[:limit] if limit is not None else rows
        self.queried += len(rows)
        return rows

    def merge_many(self, merges) -> None:
        merges = list(merges)
        self.batches.extend(
            len(merges[i : i + MAX_BATCH_WRITES]) for i in range(0, len(merges), MAX_BATCH_WRITES)
        )
        for collection, doc_id, fields in merges:
            self.merge(collection, doc_id, fields)


class CountingRunner:
    """A ``solve-field`` runner that records every command line, then runs it for real."""

    def __init__(self) -> None:
        from panoptes_network.astrometry.solve_field import run_process_group

        self._run = run_process_group
        self.calls: list[list[str]] = []

    def __call__(self, command, timeout):
        self.calls.append(list(command))
        return self._run(command, timeout)


class ReplayRunner:
    """A ``solve-field`` runner that runs nothing: it writes the files of a given outcome.

    With a header it "solves" (writes ``--wcs`` and ``--solved``); with None it fails. Either
    way it writes an ``--axy`` source list of ``sources`` rows, as solve-field does.
    """

    def __init__(self, header=None, sources: int = 100, returncode: int = 0) -> None:
        self.header = header
        self.sources = sources
        self.returncode = returncode
        self.calls: list[list[str]] = []

    def __call__(self, command, timeout):
        import subprocess
        from pathlib import Path

        import numpy as np
        from astropy.io import fits

        args = list(command)
        self.calls.append(args)

        def path(option: str) -> Path:
            return Path(args[args.index(option) + 1])

        zeros = np.zeros(self.sources, dtype=np.float32)
        table = fits.BinTableHDU.from_columns(
            [fits.Column(name=n, format="E", array=zeros) for n in ("X", "Y", "FLUX")]
        )
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(path("--axy"), overwrite=True)
        if self.header is not None:
            fits.PrimaryHDU(header=self.header).writeto(path("--wcs"), overwrite=True)
            path("--solved").write_bytes(b"\x01")
        return subprocess.CompletedProcess(args, self.returncode, "replayed\n", "")


class CountsReads:
    """Counts every document a store's reads return (gets, batch reads, query results).

    Put it before a store class: ``class Counting(CountsReads, SomeDocumentStore)``.
    """

    reads = 0

    def get(self, collection, doc_id):
        self.reads += 1
        return super().get(collection, doc_id)

    def read(self, keys):
        self.reads += len(keys)
        return super().read(keys)

    def query(self, *args, **kwargs):
        rows = super().query(*args, **kwargs)
        self.reads += len(rows)
        return rows


class CountingDocuments(CountsReads, MemoryDocuments):
    """MemoryDocuments that counts every document read: gets, batch reads, query results."""
