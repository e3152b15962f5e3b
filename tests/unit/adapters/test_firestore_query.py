"""The Firestore adapter's query, as the request it sends (built offline, nothing sent).

The query is built by google-cloud-firestore from the adapter's calls and captured as the
``StructuredQuery`` protobuf Firestore would receive; the integration tests run it against
the emulator.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1 import query as query_module
from google.cloud.firestore_v1.types import StructuredQuery

from panoptes_network.adapters.firestore import FirestoreDocuments

T = datetime(2020, 2, 1, tzinfo=timezone.utc)
DESC = StructuredQuery.Direction.DESCENDING
ASC = StructuredQuery.Direction.ASCENDING


@pytest.fixture
def sent(monkeypatch):
    captured: list[StructuredQuery] = []

    def stream(self, *args, **kwargs):
        captured.append(self._to_protobuf())
        return iter(())

    monkeypatch.setattr(query_module.Query, "stream", stream)
    client = firestore.Client(project="demo-panoptes", credentials=AnonymousCredentials())
    return FirestoreDocuments(client), captured


def orders(query: StructuredQuery) -> list[tuple[str, int]]:
    return [(o.field.field_path, o.direction) for o in query.order_by]


def test_descending_order_with_a_document_cursor(sent):
    documents, captured = sent
    documents.query(
        "observations",
        [("unit_id", "==", "PAN001")],
        order_by="time",
        descending=True,
        limit=51,
        start_after=T,
        start_after_id="PAN001_14d3bd_20200108T051717",
    )
    (query,) = captured
    assert orders(query) == [("time", DESC), ("__name__", DESC)]
    assert query.limit == 51
    assert not query.start_at.before  # start *after* the cursor
    time_value, name_value = query.start_at.values
    assert time_value.timestamp_value.timestamp() == T.timestamp()
    assert name_value.reference_value.endswith(
        "/documents/observations/PAN001_14d3bd_20200108T051717"
    )


def test_ascending_stays_the_default_and_a_value_cursor_has_one_value(sent):
    documents, captured = sent
    documents.query("uploads", [("due_time", "<=", T)], order_by="due_time", start_after=T)
    (query,) = captured
    assert orders(query) == [("due_time", ASC)]
    assert len(query.start_at.values) == 1


def test_a_null_value_cursor_of_a_document(sent):
    documents, captured = sent
    documents.query("images", order_by="time", start_after=None, start_after_id="x")
    (query,) = captured
    assert orders(query) == [("time", ASC), ("__name__", ASC)]
    assert query.start_at.values[0].null_value == 0 and "null_value" in query.start_at.values[0]


def test_no_order_reads_in_id_order_with_a_limit(sent):
    documents, captured = sent
    documents.query("units", limit=501)
    (query,) = captured
    assert not query.order_by and query.limit == 501


def test_array_contains_any_is_sent_as_firestores_operator(sent):
    documents, captured = sent
    documents.query(
        "observations",
        [("sky_cells", "array-contains-any", [300, 1201]), ("time", ">=", T)],
        order_by="time",
        descending=True,
        limit=3,
    )
    (query,) = captured
    cells, since = query.where.composite_filter.filters
    assert cells.field_filter.field.field_path == "sky_cells"
    assert cells.field_filter.op == StructuredQuery.FieldFilter.Operator.ARRAY_CONTAINS_ANY
    values = cells.field_filter.value.array_value.values
    assert [v.integer_value for v in values] == [300, 1201]
    assert since.field_filter.op == StructuredQuery.FieldFilter.Operator.GREATER_THAN_OR_EQUAL
    assert orders(query) == [("time", DESC)]
