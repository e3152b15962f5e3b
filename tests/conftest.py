"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT.parent / "shared" / "data" / "panoptes"


@pytest.fixture(scope="session")
def panoptes_data() -> Path:
    """The real PANOPTES fixture files beside the checkout (skip when absent)."""
    if not (DATA_DIR / "tiny.fits").exists():
        pytest.skip(
            f"real PANOPTES fixtures not found at {DATA_DIR}; "
            "they sit beside the checkout as ../shared/data/panoptes (CI has them)"
        )
    return DATA_DIR
