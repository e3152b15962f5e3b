"""Hold a service to the buckets and topics its ``service.yaml`` declares, as IAM does.

On Google Cloud each service runs as its own account, granted exactly what its
``services/<name>/service.yaml`` declares (``reads``, ``writes``, ``publishes``; see
``infra/plan.py``): anything else gets 403 from Cloud Storage or Pub/Sub. The local
emulators check nothing, so the local stack gives each service that same declaration in
``PANOPTES_ACCESS`` and :func:`guarded` wraps its store and bus to refuse the rest. A step
that needs a grant its file does not declare then fails in the local tests, not first in
the cloud.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from panoptes_network.pipeline.ports import MessageBus, ObjectInfo, ObjectStore

__all__ = ["ACCESS_ENV", "Access", "AccessDenied", "GuardedBus", "GuardedStore", "guarded"]

#: Environment variable holding a service's declared access as JSON.
ACCESS_ENV = "PANOPTES_ACCESS"


class AccessDenied(PermissionError):
    """A service touched a bucket or topic its ``service.yaml`` does not grant."""


@dataclass(frozen=True)
class Access:
    """What one service may touch.

    Attributes
    ----------
    service : str
        The service.
    reads, writes : frozenset of str
        Buckets it may read (``writes`` may be read too: ``roles/storage.objectUser``), and
        write, replace or delete objects in.
    publishes : frozenset of str
        Topics it may publish to.
    """

    service: str
    reads: frozenset[str]
    writes: frozenset[str]
    publishes: frozenset[str]

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> Access | None:
        """Read ``PANOPTES_ACCESS`` (JSON with ``reads``, ``writes``, ``publishes`` lists).

        Parameters
        ----------
        service : str
            The service the access is for.
        environ : Mapping, optional
            The environment (``os.environ``).

        Returns
        -------
        Access or None
            None when the variable is not set (Google Cloud, where IAM does this).

        Raises
        ------
        ValueError
            If the variable is set but not that JSON (the message names it).
        """
        raw = (os.environ if environ is None else environ).get(ACCESS_ENV)
        if not raw:
            return None
        try:
            data: dict[str, Any] = json.loads(raw)
            return cls(
                service,
                frozenset(data["reads"]),
                frozenset(data["writes"]),
                frozenset(data["publishes"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{ACCESS_ENV} is not JSON with reads, writes, publishes: {exc}"
            ) from exc

    def to_env(self) -> str:
        """Return the value of ``PANOPTES_ACCESS`` for this access (sorted JSON)."""
        return json.dumps(
            {
                "reads": sorted(self.reads),
                "writes": sorted(self.writes),
                "publishes": sorted(self.publishes),
            }
        )

    def check_read(self, bucket: str) -> None:
        """Raise :class:`AccessDenied` unless the service may read ``bucket``."""
        if bucket not in self.reads | self.writes:
            raise AccessDenied(
                f"{self.service} may not read gs://{bucket}: not in the reads or writes of "
                f"services/{self.service}/service.yaml"
            )

    def check_write(self, bucket: str) -> None:
        """Raise :class:`AccessDenied` unless the service may write ``bucket``."""
        if bucket not in self.writes:
            raise AccessDenied(
                f"{self.service} may not write gs://{bucket}: not in the writes of "
                f"services/{self.service}/service.yaml"
            )

    def check_publish(self, topic: str) -> None:
        """Raise :class:`AccessDenied` unless the service may publish to ``topic``."""
        if topic not in self.publishes:
            raise AccessDenied(
                f"{self.service} may not publish to {topic}: not in the publishes of "
                f"services/{self.service}/service.yaml"
            )


class GuardedStore:
    """An :class:`ObjectStore` that refuses buckets outside an :class:`Access`.

    Parameters
    ----------
    store : ObjectStore
        The real store.
    access : Access
        What the service may touch.
    """

    def __init__(self, store: ObjectStore, access: Access) -> None:
        self.store = store
        self.access = access

    def stat(self, bucket: str, name: str, *, generation: int | None = None) -> ObjectInfo | None:
        """See :meth:`ObjectStore.stat`."""
        self.access.check_read(bucket)
        return self.store.stat(bucket, name, generation=generation)

    def read(self, bucket: str, name: str, *, generation: int | None = None) -> bytes:
        """See :meth:`ObjectStore.read`."""
        self.access.check_read(bucket)
        return self.store.read(bucket, name, generation=generation)

    def read_range(self, bucket: str, name: str, start: int, length: int) -> bytes:
        """See :meth:`ObjectStore.read_range`."""
        self.access.check_read(bucket)
        return self.store.read_range(bucket, name, start, length)

    def write(self, bucket: str, name: str, data: bytes, **options: Any) -> ObjectInfo:
        """See :meth:`ObjectStore.write`."""
        self.access.check_write(bucket)
        return self.store.write(bucket, name, data, **options)

    def copy(
        self, bucket: str, name: str, to_bucket: str, to_name: str, **options: Any
    ) -> ObjectInfo:
        """See :meth:`ObjectStore.copy`: read the source, write the target."""
        self.access.check_read(bucket)
        self.access.check_write(to_bucket)
        return self.store.copy(bucket, name, to_bucket, to_name, **options)

    def delete(self, bucket: str, name: str, *, generation: int) -> bool:
        """See :meth:`ObjectStore.delete`."""
        self.access.check_write(bucket)
        return self.store.delete(bucket, name, generation=generation)

    def list(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """See :meth:`ObjectStore.list`."""
        self.access.check_read(bucket)
        return self.store.list(bucket, prefix)


class GuardedBus:
    """A :class:`MessageBus` that refuses topics outside an :class:`Access`.

    Parameters
    ----------
    bus : MessageBus
        The real bus.
    access : Access
        What the service may publish to.
    """

    def __init__(self, bus: MessageBus, access: Access) -> None:
        self.bus = bus
        self.access = access

    def publish(self, topic: str, payload: Mapping[str, Any], **attributes: str) -> str:
        """See :meth:`MessageBus.publish`."""
        self.access.check_publish(topic)
        return self.bus.publish(topic, payload, **attributes)


def guarded(
    service: str, store: ObjectStore, bus: MessageBus, environ: Mapping[str, str] | None = None
) -> tuple[ObjectStore, MessageBus]:
    """Wrap a service's store and bus in its declared access, when ``PANOPTES_ACCESS`` is set.

    Parameters
    ----------
    service : str
        The service.
    store : ObjectStore
        Its object store.
    bus : MessageBus
        Its message bus.
    environ : Mapping, optional
        The environment (``os.environ``).

    Returns
    -------
    tuple
        (store, bus), guarded when the access is declared, else as given.
    """
    access = Access.from_env(service, environ)
    if access is None:
        return store, bus
    return GuardedStore(store, access), GuardedBus(bus, access)
