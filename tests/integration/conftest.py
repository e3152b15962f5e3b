"""The local emulator stack for integration tests.

A running stack (``bin/dev up --in-memory``) is used as it is; one that keeps its data
(``bin/dev up``) is stopped, its data kept, and started again after the tests; otherwise the
session starts one and stops it at the end. Each test uses its own unit and camera ids, so
tests never share counters and can run against a stack that holds other data.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from emulator.stack import StackConfig, down, stack_environment, status, up
from infra.spec import load
from panoptes_network.pipeline.schema import CAMERAS
from panoptes_network.pipeline.settings import Settings
from tests.unit.cameras import SIMULATED_IDS, simulated_entries


@dataclass
class Stack:
    """Clients and helpers for one test session's stack."""

    config: StackConfig
    settings: Settings
    storage: Any
    firestore: Any
    publisher: Any
    subscriber: Any
    ports: dict[str, int]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}/"

    def upload(self, name: str, data: bytes, bucket: str | None = None) -> None:
        blob = self.storage.bucket(bucket or self.settings.incoming_bucket).blob(name)
        blob.upload_from_string(data, content_type="application/octet-stream")

    def blob(self, bucket: str, name: str):
        return self.storage.bucket(bucket).get_blob(name)

    def doc(self, collection: str, doc_id: str) -> dict | None:
        snap = self.firestore.collection(collection).document(doc_id).get()
        return snap.to_dict() if snap.exists else None

    def snapshot(self, collection: str, doc_id: str):
        return self.firestore.collection(collection).document(doc_id).get()

    def as_caller(self, service: str, role: str = "scheduler", **token) -> dict[str, str]:
        """Headers with an ID token for ``service``, signed with the stack's key.

        ``role`` is ``scheduler`` or ``push`` (their service accounts); ``token`` passes
        :meth:`emulator.identity.LocalSigner.token` options (``lifetime``, ``issuer`` ...),
        and ``email=`` / ``audience=`` replace the account or the audience.
        """
        from emulator.identity import LocalSigner
        from emulator.stack import identity_folder

        signer = LocalSigner(identity_folder(self.config) / "key.pem")
        email = token.pop("email", None) or self.settings.account_email(role)
        audience = token.pop("audience", None) or self.settings.audience(service)
        return {"Authorization": f"Bearer {signer.token(email, audience, **token)}"}

    def versions(self, bucket: str, name: str) -> list:
        """The kept versions of an upload: ``<name>@<generation>`` (archive, quarantine)."""
        return sorted(self.storage.list_blobs(bucket, prefix=f"{name}@"), key=lambda b: b.name)

    def upload_records(self, name: str) -> list[dict]:
        """The ledger records (``uploads``) of every upload of an object name."""
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.firestore.collection("uploads").where(
            filter=FieldFilter("object_name", "==", name)
        )
        return [{"id": snap.id, **snap.to_dict()} for snap in query.stream()]

    def settled(self, name: str, count: int = 1) -> list[dict] | None:
        """The ledger records of ``name`` once ``count`` of them exist and all are final."""
        records = self.upload_records(name)
        if len(records) >= count and all(r.get("final") for r in records):
            return records
        return None

    def publish(self, topic: str, data: bytes, **attributes: str) -> None:
        path = self.publisher.topic_path(self.config.project, topic)
        self.publisher.publish(path, data, **attributes).result(timeout=30)

    def services_answer(self) -> bool:
        for port in self.ports.values():
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=5)
            except requests.RequestException:
                return False
        return True


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0, every: float = 0.2):
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    config = StackConfig.load()
    running = status(config)
    started_here = not running or not all(r["running"] for r in running.values())
    # A developer's stack that keeps its data (bin/dev up) has no object versioning, which
    # the tests check: it is stopped (its data is kept) and started again after the tests,
    # while the tests run on a stack of their own that keeps nothing.
    kept = StackConfig.recorded(config.state_dir)
    restart = kept if kept is not None and kept.data_dir is not None and running else None
    if restart is not None:
        started_here = True
    if started_here:
        if running:
            down(restart or config, say=lambda line: None)
        up(config, say=lambda line: None)
    with stack_environment(config):
        from google.cloud import firestore, pubsub_v1, storage

        resources = load()
        running_stack = Stack(
            config=config,
            settings=Settings.from_env(),
            storage=storage.Client(project=config.project),
            firestore=firestore.Client(project=config.project),
            publisher=pubsub_v1.PublisherClient(),
            subscriber=pubsub_v1.SubscriberClient(),
            ports={name: s.local_port for name, s in resources.services.items()},
        )
        register_cameras(running_stack, SIMULATED_IDS)
        yield running_stack
    if started_here:
        down(config, say=lambda line: None)
    if restart is not None:
        up(restart, say=lambda line: None)


_USED_UNITS: set[str] = set()


def register_cameras(stack: Stack, camera_ids: Iterable[str]) -> None:
    """Write the simulated cameras' ``cameras/{camera_id}`` registry documents.

    Every step resolves a frame's bias, gain and read noise from the registry (the headers
    give only the white level and the Bayer pattern), so a camera is registered before its
    frames are uploaded, as a unit's camera is when the unit joins the network.
    """
    for camera_id, entry in simulated_entries(camera_ids).items():
        stack.firestore.collection(CAMERAS).document(camera_id).set(entry)


@pytest.fixture
def unit_ids(stack: Stack) -> tuple[str, str]:
    """A (unit_id, camera_id) pair no other test and no stored document uses.

    The camera is in the registry (with the electronics a simulated camera of that id has).
    """
    for _ in range(200):
        unit = f"PAN{900 + secrets.randbelow(100)}"
        if unit not in _USED_UNITS and stack.doc("units", unit) is None:
            _USED_UNITS.add(unit)
            camera = secrets.token_hex(3)
            register_cameras(stack, [camera])
            return unit, camera
    pytest.fail("no free test unit id among PAN900-PAN999; run `bin/dev down` to reset the stack")
