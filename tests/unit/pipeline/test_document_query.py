"""DocumentStore.query on the in-memory store: order direction, ties, cursors, value types.

The expectations are Firestore's documented semantics, written out by hand here, not the
fake's own output: the Firestore adapter builds the same query for Firestore
(tests/unit/adapters/test_firestore_query.py) and the integration tests run it there.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from panoptes_network.pipeline.ports import GeoPoint
from tests.unit.fakes import MemoryDocuments

T0 = datetime(2020, 1, 8, 5, 17, 17, tzinfo=timezone.utc)


@pytest.fixture
def docs() -> MemoryDocuments:
    store = MemoryDocuments()
    # b and c share a time (two cameras of a unit start together); e has no time at all
    for doc_id, minutes, images in [("a", 0, 3), ("b", 10, 1), ("c", 10, 5), ("d", 20, 1)]:
        store.merge("obs", doc_id, {"time": T0 + timedelta(minutes=minutes), "n": images})
    store.merge("obs", "e", {"n": 2})
    return store


def ids(rows) -> list[str]:
    return [doc_id for doc_id, _ in rows]


def test_ascending_is_the_default_and_ties_go_by_id(docs):
    assert ids(docs.query("obs", order_by="time")) == ["a", "b", "c", "d"]


def test_descending_reverses_values_and_ties(docs):
    assert ids(docs.query("obs", order_by="time", descending=True)) == ["d", "c", "b", "a"]


def test_descending_with_a_range_filter_and_a_limit(docs):
    rows = docs.query(
        "obs", [("time", "<", T0 + timedelta(minutes=15))], order_by="time", descending=True
    )
    assert ids(rows) == ["c", "b", "a"]
    assert ids(docs.query("obs", order_by="time", descending=True, limit=2)) == ["d", "c"]


def test_a_value_cursor_skips_every_document_with_that_value(docs):
    tie = T0 + timedelta(minutes=10)
    assert ids(docs.query("obs", order_by="time", start_after=tie)) == ["d"]
    assert ids(docs.query("obs", order_by="time", descending=True, start_after=tie)) == ["a"]


@pytest.mark.parametrize("descending", [False, True])
def test_a_document_cursor_pages_through_ties_without_loss_or_repeat(docs, descending):
    seen: list[str] = []
    after = after_id = None
    for _ in range(10):
        rows = docs.query(
            "obs",
            order_by="time",
            descending=descending,
            limit=1,
            start_after=after,
            start_after_id=after_id,
        )
        if not rows:
            break
        seen += ids(rows)
        after_id, fields = rows[-1]
        after = fields["time"]
    expected = ["a", "b", "c", "d"]
    assert seen == (expected[::-1] if descending else expected)


def test_order_by_leaves_out_missing_fields_but_keeps_nulls_first(docs):
    docs.merge("obs", "f", {"time": None, "n": 9})
    assert ids(docs.query("obs", order_by="time")) == ["f", "a", "b", "c", "d"]
    assert ids(docs.query("obs", order_by="time", descending=True))[-1] == "f"
    # a cursor on a null value continues after it when it names the document
    assert ids(docs.query("obs", order_by="time", start_after=None, start_after_id="f")) == [
        "a",
        "b",
        "c",
        "d",
    ]


def test_values_of_different_types_sort_by_type_as_in_firestore():
    store = MemoryDocuments()
    values = {
        "s": "2020-01-08T05:17:17",  # a time stored as a string, as older records hold it
        "t": T0,
        "i": 7,
        "f": 2.5,
        "b": True,
        "z": None,
        "g": GeoPoint(1.0, 2.0),
    }
    for doc_id, value in values.items():
        store.merge("mixed", doc_id, {"v": value})
    order = ids(store.query("mixed", order_by="v"))
    assert order == ["z", "b", "f", "i", "t", "s", "g"]


def test_range_filters_match_numbers_of_either_kind_but_not_other_types():
    store = MemoryDocuments()
    store.merge("c", "int", {"n": 3})
    store.merge("c", "float", {"n": 3.5})
    store.merge("c", "text", {"n": "4"})
    assert ids(store.query("c", [("n", ">=", 3)], order_by="n")) == ["int", "float"]
    assert ids(store.query("c", [("n", ">", 3.0)])) == ["float"]


def test_existing_callers_keep_their_ascending_value_cursor(docs):
    rows = docs.query("obs", [("n", ">=", 1)], order_by="n", start_after=1, limit=2)
    assert ids(rows) == ["e", "a"]
