"""What a service process holds: its context, its catalog, and how it runs one message.

Every service's ``main.py`` makes one :class:`ServiceRuntime` at import time and hands it each
delivery, so the services look alike: clients are made once per process, the star catalog is
opened at first use (a service that never needs it never pays for it), and a service whose
step holds a full frame or a whole observation in memory runs one delivery at a time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import flask

from panoptes_network.adapters.access import guarded
from panoptes_network.adapters.catalog_source import catalog_path
from panoptes_network.adapters.gcs import GcsObjectStore, storage_client
from panoptes_network.adapters.http_json import json_answer, quiet_error_pages
from panoptes_network.adapters.identity import CallerPolicy, Unauthenticated, verify_caller
from panoptes_network.adapters.logs import configure_logging
from panoptes_network.adapters.pubsub import PubSubBus
from panoptes_network.adapters.push import PushMessage, run_pubsub_step
from panoptes_network.catalog.local_file import LocalCatalog, open_catalog
from panoptes_network.pipeline.context import ChainContext, StepResult
from panoptes_network.pipeline.log import log
from panoptes_network.pipeline.settings import Settings

__all__ = ["ServiceRuntime", "chain_context"]


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
    # Locally, the declared reads, writes and publishes are enforced as IAM would (access.py).
    store, bus = guarded(
        service, GcsObjectStore(storage_client(settings.project_id)), PubSubBus(settings.project_id)
    )
    docs = None
    if documents:
        from google.cloud import firestore

        from panoptes_network.adapters.firestore import FirestoreDocuments

        docs = FirestoreDocuments(firestore.Client(project=settings.project_id))
    return ChainContext(settings, store, bus, docs, service=service)


class ServiceRuntime:
    """One service process: its settings, context and catalog, made once and shared.

    Parameters
    ----------
    service : str
        The service's name (``infra/resources.yaml``), recorded with failures and logs.
    documents : bool
        Whether the service reads or writes Firestore documents.
    one_at_a_time : bool
        Run one delivery at a time in this process: for steps that hold a full frame or a
        whole observation in memory (Cloud Run may send several requests to one instance).
    """

    def __init__(self, service: str, *, documents: bool = False, one_at_a_time: bool = False):
        self.service = service
        self.settings = Settings.from_env()
        self._documents = documents
        self._context: ChainContext | None = None
        self._catalog: LocalCatalog | None = None
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock() if one_at_a_time else None
        if flask.has_app_context():  # made while functions-framework loads main.py
            quiet_error_pages(flask.current_app)
            configure_logging(self.settings.project_id)

    @property
    def context(self) -> ChainContext:
        """The chain context with real clients, made at first use."""
        with self._lock:
            if self._context is None:
                self._context = chain_context(self.service, documents=self._documents)
            return self._context

    def catalog(self) -> LocalCatalog:
        """Return the star catalog, opened (downloaded, when a ``gs://`` URI) at first use.

        Raises
        ------
        FileNotFoundError
            When there is no catalog file (nothing is kept; the next call tries again).
        """
        with self._lock:
            if self._catalog is None:
                self._catalog = open_catalog(catalog_path())
            return self._catalog

    def policy(self) -> CallerPolicy | None:
        """Return who may call this service, or None when it is public."""
        allowed = self.settings.callers(self.service)
        if allowed is None:
            return None
        return CallerPolicy(
            self.settings.audience(self.service), allowed, self.settings.identity_certs_url
        )

    def refusal(self, headers: Mapping[str, str]) -> flask.Response | None:
        """Verify the caller of a private service; return the 401/403 answer, or None.

        Parameters
        ----------
        headers : Mapping
            The request's headers.

        Returns
        -------
        flask.Response or None
            JSON ``{"error": ...}`` with 401 (no or bad token) or 403 (another identity);
            None when the caller may go on (or the service is public).
        """
        policy = self.policy()
        if policy is None:
            return None
        try:
            verify_caller(headers, policy)
        except Unauthenticated as exc:
            log(
                "WARNING",
                f"{self.service}: refused caller: {exc.reason}",
                service=self.service,
                status=exc.status,
            )
            return json_answer(exc.status, {"error": exc.reason}, "POST, OPTIONS")
        return None

    def run_pubsub(
        self, data: Mapping[str, Any], step: Callable[[PushMessage], StepResult]
    ) -> StepResult | None:
        """Run ``step`` on one Pub/Sub push delivery: ack on return, redelivery on a raise.

        Parameters
        ----------
        data : Mapping
            ``event.data`` of the CloudEvent functions-framework made of the push.
        step : callable
            Does the work for one decoded message.

        Returns
        -------
        StepResult or None
            What :func:`~.push.run_pubsub_step` returns.

        Raises
        ------
        werkzeug.exceptions.HTTPException
            401 or 403 (JSON) when the push does not carry the push account's ID token:
            nothing is read or written.
        """
        refused = self.refusal(flask.request.headers)
        if refused is not None:
            flask.abort(refused)
        if self._one_at_a_time is None:
            return run_pubsub_step(data, step, service=self.service)
        with self._one_at_a_time:
            return run_pubsub_step(data, step, service=self.service)
