"""Fixtures of the explorer's tests: the small network of real records, the 2020 seed."""

from __future__ import annotations

import pytest

from tests.unit.explorer.network import build_network, seed_records, seeded
from tests.unit.fakes import MemoryDocuments


@pytest.fixture
def network():
    """A fresh store holding :data:`~tests.unit.explorer.network.SEQUENCES`, and its ids."""
    documents = MemoryDocuments()
    ids = build_network(documents)
    return documents, ids


@pytest.fixture(scope="session")
def seed():
    """The real 2020 records (skips when absent)."""
    return seed_records()


@pytest.fixture(scope="session", params=[False, True], ids=["strings", "timestamps"])
def seed_documents(request, seed):
    """Every seed document in a store: times as the file holds them, then as timestamps."""
    return seeded(seed, timestamps=request.param)
