"""Fixtures shared by the unit tests: a chain context over the in-memory fakes.

Also the order in which ``bin/test`` hands the unit test modules to its pytest-xdist workers
(``--dist loadfile --no-loadscope-reorder``: each module runs on one worker, so a
module-scoped fixture is built once): the modules whose fixtures simulate and measure full
frames (those using ``local_catalog``, minutes each) go first, so they run beside the rest
rather than after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pytest

from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.ports import DocumentStore, ObjectStore
from panoptes_network.pipeline.settings import Settings
from tests.unit.cameras import register_cameras, simulated_entries
from tests.unit.fakes import MemoryBus, MemoryDocuments, MemoryStore

#: The fixture of the pixel-level light-curve tests: their modules go to the workers first.
PIXEL_LEVEL_FIXTURE = "local_catalog"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker, move the modules of the pixel-level tests to the front.

    The order within a module does not change, nor does a serial run's order.
    """
    if not hasattr(config, "workerinput"):
        return
    slow = {item.path for item in items if PIXEL_LEVEL_FIXTURE in item.fixturenames}
    if slow:
        items.sort(key=lambda item: item.path not in slow)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def make_ctx() -> Callable[..., ChainContext]:
    """Return a factory of fresh chain contexts over :mod:`tests.unit.fakes`.

    Each call builds a new :class:`ChainContext` with a new ``MemoryStore``, ``MemoryBus`` and
    ``MemoryDocuments`` (unless given), ``Settings()`` and ``service="test"``. Keyword
    arguments replace the parts a test needs fixed: ``documents=``, ``now=`` (a clock),
    ``store=`` (e.g. preloaded), ``settings=``, ``service=`` and ``cameras=``: the camera
    registry entries written first (the simulated cameras of :mod:`tests.unit.cameras` when
    omitted; ``{}`` for an empty registry). The factory holds no state, so module-scoped
    fixtures may use it too.
    """

    def make(
        *,
        documents: DocumentStore | None = None,
        now: Callable[[], datetime] | None = None,
        store: ObjectStore | None = None,
        settings: Settings | None = None,
        service: str = "test",
        cameras: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> ChainContext:
        extra: dict[str, Any] = {} if now is None else {"now": now}
        documents = documents if documents is not None else MemoryDocuments()
        register_cameras(documents, simulated_entries() if cameras is None else cameras)
        return ChainContext(
            settings if settings is not None else Settings(),
            store if store is not None else MemoryStore(),
            MemoryBus(),
            documents,
            service=service,
            **extra,
        )

    return make


@pytest.fixture
def ctx(make_ctx: Callable[..., ChainContext]) -> ChainContext:
    """A fresh chain context over empty in-memory fakes, ``Settings()``, ``service="test"``."""
    return make_ctx()
