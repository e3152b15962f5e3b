"""The analysis pipeline's document store and file reads on each Beam worker.

Beam ships its stages to workers by pickling them; a cloud client cannot be pickled, so the
stages take these module-level functions (pickled by reference) and each worker makes its
own clients on first use, from the environment's settings (the local emulators when their
variables are set).
"""

from __future__ import annotations

from typing import Any

from panoptes_network.pipeline.context import ChainContext
from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.settings import Settings

__all__ = ["analysis_context", "firestore_documents", "read_storage"]

_CLIENTS: dict[str, Any] = {}


def firestore_documents() -> DocumentStore:
    """Return this process's Firestore document store of the configured project."""
    if "documents" not in _CLIENTS:
        from google.cloud import firestore

        from panoptes_network.adapters.firestore import FirestoreDocuments

        project = Settings.from_env().project_id
        _CLIENTS["documents"] = FirestoreDocuments(firestore.Client(project=project))
    return _CLIENTS["documents"]


def _object_store() -> Any:
    if "store" not in _CLIENTS:
        from panoptes_network.adapters.gcs import GcsObjectStore, storage_client

        _CLIENTS["store"] = GcsObjectStore(storage_client(Settings.from_env().project_id))
    return _CLIENTS["store"]


def analysis_context() -> ChainContext:
    """Return this process's chain context for the analysis (reads the per-frame photometry).

    The injection-recovery of the backfill reads each run's per-frame photometry tables
    and run documents, as the analyse-run service does; it publishes nothing.
    """
    if "context" not in _CLIENTS:
        from panoptes_network.adapters.pubsub import PubSubBus

        settings = Settings.from_env()
        _CLIENTS["context"] = ChainContext(
            settings,
            _object_store(),
            PubSubBus(settings.project_id),
            firestore_documents(),
            service="analysis-pipeline",
        )
    return _CLIENTS["context"]


def read_storage(uri: str) -> bytes:
    """Read a ``gs://bucket/name`` object through this process's storage client."""
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    return _object_store().read(bucket, name)
