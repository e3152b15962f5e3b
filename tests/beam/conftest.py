"""The analysis pipeline's tests need Apache Beam: they run in .venv-beam (bin/test does so)."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "apache_beam",
    reason="Apache Beam is in .venv-beam, not .venv: run bin/test tests/beam (bin/setup makes it)",
)
