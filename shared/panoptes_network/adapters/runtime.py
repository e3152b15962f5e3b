"""Build a service's :class:`~panoptes_network.ingest.ChainContext` once per process."""

from __future__ import annotations

import os

from ..ingest import ChainContext
from ..settings import Settings
from .gcs import GcsObjectStore, storage_client
from .pubsub import PubSubBus

__all__ = ["chain_context"]


def chain_context(service: str, *, documents: bool = False) -> ChainContext:
    """Return the context of ``service`` with real clients (emulators when configured).

    Parameters
    ----------
    service : str
        Service name, recorded with failures.
    documents : bool
        Whether the service writes Firestore documents.

    Returns
    -------
    ChainContext
        The context.
    """
    settings = Settings.from_env()
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", settings.project_id)
    store = GcsObjectStore(storage_client(settings.project_id))
    bus = PubSubBus(settings.project_id)
    docs = None
    if documents:
        from google.cloud import firestore

        from .firestore import FirestoreDocuments

        docs = FirestoreDocuments(firestore.Client(project=settings.project_id))
    return ChainContext(settings, store, bus, docs, service=service)
