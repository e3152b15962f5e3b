"""The document store the Data Explorer reads: Firestore, made once per process at first use."""

from __future__ import annotations

import threading

from panoptes_network.pipeline.ports import DocumentStore
from panoptes_network.pipeline.settings import Settings

__all__ = ["LazyDocuments", "firestore_documents"]


def firestore_documents(settings: Settings) -> DocumentStore:
    """Return the Firestore adapter of ``settings.project_id``.

    The client talks to the Firestore emulator when ``FIRESTORE_EMULATOR_HOST`` is set (the
    local stack sets it), else to Firestore with the process's credentials.

    Parameters
    ----------
    settings : Settings
        The project.

    Returns
    -------
    DocumentStore
        :class:`~panoptes_network.adapters.firestore.FirestoreDocuments`.
    """
    from google.cloud import firestore

    from panoptes_network.adapters.firestore import FirestoreDocuments

    return FirestoreDocuments(firestore.Client(project=settings.project_id))


class LazyDocuments:
    """A document store made at first use and shared by every request of the process.

    Making a Firestore client looks for credentials, so it waits for the first request:
    importing the app (a test, gunicorn's import check) needs none.

    Parameters
    ----------
    settings : Settings
        Passed to :func:`firestore_documents`.
    """

    def __init__(self, settings: Settings):
        self._settings = settings
        self._documents: DocumentStore | None = None
        self._lock = threading.Lock()

    def get(self) -> DocumentStore:
        """Return the store, making it on the first call."""
        with self._lock:
            if self._documents is None:
                self._documents = firestore_documents(self._settings)
            return self._documents
