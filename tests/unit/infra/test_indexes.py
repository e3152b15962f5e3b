"""Every Firestore query the code makes on more than one field has its composite index.

The queries are recorded from the code paths that make them (the light-curve sweep, the
reconciler), on the in-memory store, and checked against ``infra/firestore.indexes.json``
(the file firebase.json names and ``infra.apply`` deploys). Single-field queries need no
composite index.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from panoptes_network.ingest.reconcile import reconcile
from panoptes_network.lightcurves.triggers import sweep
from tests.conftest import ROOT
from tests.unit.fakes import MemoryDocuments

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


class RecordingDocuments(MemoryDocuments):
    def __init__(self) -> None:
        super().__init__()
        self.shapes: set[tuple[str, tuple[str, ...]]] = set()

    def query(self, collection, filters=(), *, order_by=None, limit=None, start_after=None):
        fields = [f for f, _, _ in filters]
        if order_by is not None and order_by not in fields:
            fields.append(order_by)
        self.shapes.add((collection, tuple(fields)))
        return super().query(
            collection, filters, order_by=order_by, limit=limit, start_after=start_after
        )


def _indexes() -> set[tuple[str, tuple[str, ...]]]:
    rules = json.loads((ROOT / "firebase.json").read_text())["firestore"]["indexes"]
    spec = json.loads((ROOT / rules).read_text())
    return {
        (index["collectionGroup"], tuple(f["fieldPath"] for f in index["fields"]))
        for index in spec["indexes"]
    }


def test_composite_queries_have_indexes(make_ctx):
    documents = RecordingDocuments()
    ctx = make_ctx(documents=documents, now=lambda: NOW)
    sweep(ctx, 30)
    reconcile(ctx)
    composite = {(c, fields) for c, fields in documents.shapes if len(set(fields)) > 1}
    assert ("observations", ("lightcurve_pending", "last_image_received_time")) in composite
    assert composite <= _indexes(), composite - _indexes()
