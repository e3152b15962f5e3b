"""Fixtures of the pixel-level light-curve tests."""

from __future__ import annotations

import pytest

from panoptes_network.catalog.local_file import LocalCatalog, open_catalog


@pytest.fixture(scope="session")
def local_catalog() -> LocalCatalog:
    """The local star catalog the simulator draws its fields from (skip when there is none)."""
    try:
        return open_catalog()
    except (FileNotFoundError, ValueError) as exc:
        pytest.skip(f"no local star catalog for the pixel-level light-curve tests: {exc}")
