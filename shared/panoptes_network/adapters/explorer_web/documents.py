"""The document store the Data Explorer reads: Firestore, made once per process at first use."""

from __future__ import annotations

import threading
from collections import OrderedDict

from panoptes_network.pipeline.ports import DocumentStore, ObjectStore
from panoptes_network.pipeline.settings import Settings

__all__ = ["LazyDocuments", "LazyObjects", "firestore_documents"]


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


class LazyObjects:
    """The light-curves bucket, read through a storage client made at first use.

    The client talks to fake-gcs-server when ``STORAGE_EMULATOR_HOST`` is set (the local
    stack sets it), else to Cloud Storage with the process's credentials. A run's data file
    never changes (a new run writes a new one), so the files read last are kept in memory,
    up to :data:`CACHE_BYTES` in all and none larger than a quarter of that.

    Parameters
    ----------
    settings : Settings
        The project and ``lightcurves_bucket``.
    store : ObjectStore, optional
        The bucket's store (by default Cloud Storage, made at first use).
    """

    #: Bytes of data files kept in memory (B).
    CACHE_BYTES = 64 * 2**20

    def __init__(self, settings: Settings, store: ObjectStore | None = None):
        self._settings = settings
        self._store = store
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached_bytes = 0

    def read_data(self, name: str) -> bytes:
        """Return a run's data file (an object of the light-curves bucket).

        Parameters
        ----------
        name : str
            The object name (a light curve's ``data_path``).

        Returns
        -------
        bytes
            Its content.
        """
        with self._lock:
            if name in self._cache:
                self._cache.move_to_end(name)
                return self._cache[name]
            if self._store is None:
                from panoptes_network.adapters.gcs import GcsObjectStore, storage_client

                self._store = GcsObjectStore(storage_client(self._settings.project_id))
            store = self._store
        data = store.read(self._settings.lightcurves_bucket, name)
        if len(data) <= self.CACHE_BYTES // 4:
            with self._lock:
                if name not in self._cache:
                    self._cache[name] = data
                    self._cached_bytes += len(data)
                while self._cached_bytes > self.CACHE_BYTES:
                    _, dropped = self._cache.popitem(last=False)
                    self._cached_bytes -= len(dropped)
        return data
