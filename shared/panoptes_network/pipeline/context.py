"""What every step of the chain works with: its context, the objects it names, its result.

Each step is one function that takes the :class:`ChainContext` and one message, does its
work through the ports, and returns a :class:`StepResult` saying what it did. Bad input is
recorded and reported as a result with ``action="quarantined"``: the service acknowledges
it. Anything else that goes wrong raises, so that Pub/Sub redelivers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from panoptes_network.pipeline.errors import PermanentFailure
from panoptes_network.pipeline.ports import DocumentStore, MessageBus, ObjectStore
from panoptes_network.pipeline.settings import Settings

__all__ = ["ChainContext", "StepResult", "StoredObject", "UploadRef"]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ChainContext:
    """Everything a step needs, built once per process.

    Attributes
    ----------
    settings : Settings
        Bucket and topic names, limits.
    store : ObjectStore
        Cloud Storage.
    bus : MessageBus
        Pub/Sub.
    documents : DocumentStore or None
        Firestore (only record-image needs it).
    service : str
        Name of the running service, recorded with failures.
    now : callable
        Returns the current aware UTC time.
    """

    settings: Settings
    store: ObjectStore
    bus: MessageBus
    documents: DocumentStore | None = None
    service: str = "panoptes-network"
    now: Callable[[], datetime] = _utcnow


@dataclass(frozen=True)
class StepResult:
    """What a step did with one message.

    Attributes
    ----------
    action : str
        ``routed``, ``compressed``, ``recorded``, ``quarantined``, ``skipped`` ...
    detail : dict
        Names and figures worth logging.
    """

    action: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    """A reference to an object, as steps pass it to each other in messages.

    Attributes
    ----------
    bucket, name : str
        Where the object is.
    generation : int or None
        The generation the message is about, when known.
    """

    bucket: str
    name: str
    generation: int | None = None

    @classmethod
    def from_message(cls, payload: Mapping[str, Any]) -> StoredObject:
        """Read ``{"bucket", "name", "generation"?}`` from a message payload.

        Parameters
        ----------
        payload : Mapping
            The decoded message.

        Returns
        -------
        StoredObject
            The reference.

        Raises
        ------
        PermanentFailure
            If the bucket or name is missing: such a message can never succeed.
        """
        bucket = payload.get("bucket") or payload.get("bucketId")
        name = payload.get("name") or payload.get("objectId")
        if not isinstance(bucket, str) or not isinstance(name, str) or not bucket or not name:
            raise PermanentFailure(f"message has no bucket and object name: {dict(payload)!r}")
        generation = payload.get("generation") or payload.get("objectGeneration")
        try:
            generation = int(generation) if generation not in (None, "") else None
        except (TypeError, ValueError):
            generation = None
        return cls(bucket, name, generation)

    @property
    def uri(self) -> str:
        """The ``gs://`` URI."""
        return f"gs://{self.bucket}/{self.name}"

    def message(self, **extra: Any) -> dict[str, Any]:
        """Return the message payload that names this object."""
        out: dict[str, Any] = {"bucket": self.bucket, "name": self.name}
        if self.generation is not None:
            out["generation"] = str(self.generation)
        out.update(extra)
        return out


@dataclass(frozen=True)
class UploadRef:
    """Which upload a message's work belongs to, as messages carry it along the chain.

    Attributes
    ----------
    upload_id : str or None
        The ledger id (``uploads/<id>``); None for messages from before the ledger.
    upload_generation : int
        Generation of the upload in the incoming bucket (0 when unknown): products of an
        older upload never replace those of a newer one of the same name.
    attempt : int or None
        Pub/Sub's delivery attempt of the message.
    """

    upload_id: str | None = None
    upload_generation: int = 0
    attempt: int | None = None

    @classmethod
    def from_message(cls, payload: Mapping[str, Any], attempt: int | None = None) -> UploadRef:
        """Read ``upload_id`` and ``upload_generation`` from a message payload.

        Parameters
        ----------
        payload : Mapping
            The decoded message.
        attempt : int, optional
            The delivery attempt.

        Returns
        -------
        UploadRef
            The reference (empty fields when the message has none).
        """
        uid = payload.get("upload_id")
        generation = payload.get("upload_generation")
        try:
            generation = int(generation) if generation not in (None, "") else 0
        except (TypeError, ValueError):
            generation = 0
        return cls(uid if isinstance(uid, str) and uid else None, generation, attempt)

    def carried(self) -> dict[str, Any]:
        """Return the fields to put in the next step's message."""
        if self.upload_id is None:
            return {}
        return {"upload_id": self.upload_id, "upload_generation": self.upload_generation}
