"""The analysis pipeline's document store and file reads on each Beam worker.

Beam ships its stages to workers by pickling them; a cloud client cannot be pickled, so the
stages take these module-level functions (pickled by reference) and each worker makes its
own clients on first use, from the environment's settings (the local emulators when their
variables are set).
"""

from __future__ import annotations

from typing import Any

from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.settings import Settings

__all__ = ["firestore_documents", "read_storage"]

_CLIENTS: dict[str, Any] = {}


def firestore_documents() -> DocumentStore:
    """Return this process's Firestore document store of the configured project."""
    if "documents" not in _CLIENTS:
        from google.cloud import firestore

        from panoptes_network.adapters.firestore import FirestoreDocuments

        project = Settings.from_env().project_id
        _CLIENTS["documents"] = FirestoreDocuments(firestore.Client(project=project))
    return _CLIENTS["documents"]


def read_storage(uri: str) -> bytes:
    """Read a ``gs://bucket/name`` object through this process's storage client."""
    if "store" not in _CLIENTS:
        from panoptes_network.adapters.gcs import GcsObjectStore, storage_client

        _CLIENTS["store"] = GcsObjectStore(storage_client(Settings.from_env().project_id))
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    return _CLIENTS["store"].read(bucket, name)
