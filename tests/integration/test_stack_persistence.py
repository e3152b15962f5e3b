"""The stack keeps its data between down and up, bin/dev reset forgets it; the Auth emulator.

The persistence test runs a second stack beside the session's (``conftest.py``): its own
folder (``PANOPTES_DEV_DIR``: state, logs, kept data) and free ports, emulators only, so
neither a developer's ``.dev/data`` nor the session's stack is touched. ``bin/dev down``,
``reset`` and ``status`` run as the real command on it; ``up`` runs through
:func:`emulator.stack.up`, which takes the ports. Each up costs the Auth emulator's start
(10 to 40 s on a busy 2-core machine); the test prints what each step took.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.components import MissingComponent, find_firebase_cli
from emulator.stack import (
    DEV_DIR_ENV,
    ROOT,
    StackConfig,
    announce_waiting_uploads,
    down,
    stack_env,
    stack_environment,
    status,
    up,
)
from infra.spec import load

pytestmark = pytest.mark.integration

_TAKEN: set[int] = set()


def _free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _TAKEN:
            _TAKEN.add(port)
            return port


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _dev(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``bin/dev`` on the stack whose folder is ``folder``."""
    env = {**os.environ, DEV_DIR_ENV: str(folder)}
    return subprocess.run(
        [str(ROOT / "bin" / "dev"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _identity(port: int, action: str, email: str, password: str) -> tuple[int, dict]:
    """Call the Auth emulator's REST API (any API key will do)."""
    url = f"http://127.0.0.1:{port}/identitytoolkit.googleapis.com/v1/accounts:{action}?key=any"
    body = json.dumps({"email": email, "password": password, "returnSecureToken": True})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _listing(folder: Path) -> list[tuple[str, int]]:
    if not folder.exists():
        return []
    return sorted((str(p.relative_to(folder)), p.stat().st_mtime_ns) for p in folder.rglob("*"))


def _pull(subscriber, path: str, name: str) -> list:
    """Pull (and acknowledge) the messages about object ``name``, waiting for at least one."""
    deadline = time.monotonic() + 30
    found = []
    while not found and time.monotonic() < deadline:
        answer = subscriber.pull(request={"subscription": path, "max_messages": 10}, timeout=10)
        if answer.received_messages:
            subscriber.acknowledge(
                request={
                    "subscription": path,
                    "ack_ids": [m.ack_id for m in answer.received_messages],
                }
            )
        found += [
            m.message
            for m in answer.received_messages
            if m.message.attributes.get("objectId") == name
        ]
    assert found, f"no notification about {name} on {path}"
    return found


@pytest.fixture
def own(tmp_path: Path) -> Iterator[StackConfig]:
    """A second stack: its own folder and free ports; whatever it left runs is stopped after."""
    folder = tmp_path / "dev"
    try:
        find_firebase_cli()
        auth_port: int | None = _free_port()
    except MissingComponent:
        auth_port = None
    config = dataclasses.replace(
        StackConfig.load("demo-kept-data"),
        firestore_port=_free_port(),
        pubsub_port=_free_port(),
        storage_port=_free_port(),
        auth_port=auth_port,
        state_dir=folder,
        data_dir=folder / "data",
    )
    yield config
    down(config, say=lambda line: None)


def test_data_survives_down_and_up_and_reset_forgets_it(own: StackConfig):
    developers_data = ROOT / ".dev" / "data"
    untouched = _listing(developers_data)
    kept = own.kept
    assert kept is not None and kept.root == own.state_dir / "data"
    resources = load()
    note = resources.notifications[0]
    (route,) = [s.name for s in resources.subscriptions if s.topic == note.topic]
    images = "panoptes-images"
    assert images in {b.name for b in resources.buckets}
    unit, camera = f"PAN{900 + secrets.randbelow(100)}", secrets.token_hex(3)
    upload = f"{unit}/{camera}/20160909T081152/20160909T081226.fits"
    product = f"{unit}/{camera}/20160909T081152/20160909T081226.fits.fz"
    email, password = f"{unit.lower()}-{camera}@example.org", "not-a-secret"
    took: dict[str, float] = {}

    def timed(step: str, action):
        began = time.monotonic()
        result = action()
        took[step] = time.monotonic() - began
        return result

    lines: list[str] = []
    timed("up, nothing kept", lambda: up(own, services=False, say=lines.append))
    assert any("Firestore: nothing kept" in line for line in lines), lines
    with stack_environment(own):
        from google.cloud import firestore, pubsub_v1, storage

        db = firestore.Client(project=own.project)
        gcs = storage.Client(project=own.project)
        subscriber = pubsub_v1.SubscriberClient()
        path = subscriber.subscription_path(own.project, route)
        subscriber.modify_push_config(request={"subscription": path, "push_config": {}})
        db.collection("kept").document(unit).set({"camera": camera, "value": 42})
        blob = gcs.bucket(images).blob(product)
        blob.metadata = {"upload_generation": "7"}
        blob.upload_from_string(b"kept bytes", content_type="image/fits")
        stored = gcs.bucket(images).get_blob(product)
        gcs.bucket(note.bucket).blob(upload).upload_from_string(b"not processed yet")
        waiting = gcs.bucket(note.bucket).get_blob(upload)
        # fake-gcs-server's filesystem backend still sends its notifications.
        (notified,) = _pull(subscriber, path, upload)
        assert notified.attributes["objectGeneration"] == str(waiting.generation)
        assert not gcs.get_bucket(images).versioning_enabled  # that backend has none
    if own.auth_port is not None:
        status_code, user = _identity(own.auth_port, "signUp", email, password)
        assert status_code == 200, user

    done = timed("down, with data", lambda: _dev(own.state_dir, "down"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exported Firestore's data to" in done.stdout
    ports = [own.firestore_port, own.pubsub_port, own.storage_port]
    if own.auth_port is not None:
        assert "exported the Auth emulator's users to" in done.stdout
        ports.append(own.auth_port)
    assert [p for p in ports if _answers(p)] == []
    shown = _dev(own.state_dir, "status")
    assert shown.returncode == 3 and "stack is not running" in shown.stdout
    assert "Firestore: export of" in shown.stdout and "Cloud Storage: 2 object(s)" in shown.stdout

    # What a stop cut short leaves: a half-written export of each; the next up ignores both.
    good = kept.firestore_import()
    assert good is not None and not good.parent.name.startswith(".")
    half = kept.firestore / ".partial-29991231T235959000000Z" / "firestore"
    half.mkdir(parents=True)
    (half / "firestore.overall_export_metadata").write_bytes(b"\x00half")
    (kept.auth_exporting / "auth_export").mkdir(parents=True)

    lines = []
    timed("up, with data", lambda: up(own, services=False, say=lines.append))
    assert sum("removed an unfinished export" in line for line in lines) == 2, lines
    assert any("announced 1 upload(s)" in line for line in lines), lines
    assert [p.name for p in kept.firestore.iterdir()] == [good.parent.name]
    with stack_environment(own):
        from google.cloud import firestore, pubsub_v1, storage

        db = firestore.Client(project=own.project)
        gcs = storage.Client(project=own.project)
        assert db.collection("kept").document(unit).get().to_dict() == {
            "camera": camera,
            "value": 42,
        }
        again = gcs.bucket(images).get_blob(product)
        assert again.download_as_bytes() == b"kept bytes"
        assert (again.generation, again.metadata, again.content_type) == (
            stored.generation,
            {"upload_generation": "7"},
            "image/fits",
        )
        still = gcs.bucket(note.bucket).get_blob(upload)
        assert still.generation == waiting.generation
        # The upload whose notification Pub/Sub forgot is announced as fake-gcs-server did.
        subscriber = pubsub_v1.SubscriberClient()
        path = subscriber.subscription_path(own.project, route)
        subscriber.modify_push_config(request={"subscription": path, "push_config": {}})
        assert announce_waiting_uploads(own, resources) == 1
        for message in _pull(subscriber, path, upload):
            for key in ("bucketId", "objectId", "objectGeneration", "eventType"):
                assert message.attributes[key] == notified.attributes[key], key
            payload, original = json.loads(message.data), json.loads(notified.data)
            for key in ("bucket", "name", "generation", "size", "md5Hash"):
                assert payload[key] == original[key], key
    if own.auth_port is not None:
        status_code, signed_in = _identity(own.auth_port, "signInWithPassword", email, password)
        assert status_code == 200 and signed_in["localId"] == user["localId"], signed_in

    refused = _dev(own.state_dir, "reset")
    assert refused.returncode == 3 and "stop it first" in refused.stderr, refused.stderr
    assert kept.firestore_import() is not None
    done = timed("down, with data (2)", lambda: _dev(own.state_dir, "down"))
    assert done.returncode == 0, done.stdout + done.stderr
    forgot = _dev(own.state_dir, "reset")
    assert forgot.returncode == 0, forgot.stdout + forgot.stderr
    assert "forgot the data kept in" in forgot.stdout
    assert "Firestore: export of" in forgot.stdout
    assert "Cloud Storage: 2 object(s)" in forgot.stdout
    if own.auth_port is not None:
        assert "Auth: 1 user(s)" in forgot.stdout
    assert not kept.root.exists()

    lines = []
    timed("up, after reset", lambda: up(own, services=False, say=lines.append))
    assert any("Firestore: nothing kept" in line for line in lines), lines
    with stack_environment(own):
        from google.cloud import firestore, storage

        assert not firestore.Client(project=own.project).document(f"kept/{unit}").get().exists
        gcs = storage.Client(project=own.project)
        assert gcs.bucket(images).get_blob(product) is None
        assert gcs.bucket(note.bucket).get_blob(upload) is None
    if own.auth_port is not None:
        status_code, refused_user = _identity(own.auth_port, "signInWithPassword", email, password)
        assert status_code == 400 and "EMAIL_NOT_FOUND" in json.dumps(refused_user)
        assert status(own)["auth"]["running"]
    done = timed("down, little data", lambda: _dev(own.state_dir, "down"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p for p in ports if _answers(p)] == []
    assert _listing(developers_data) == untouched
    print("times: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in took.items()))


def test_the_auth_emulator_answers_on_9099_and_the_services_are_pointed_at_it(stack):
    rows = status(stack.config)
    if "auth" not in rows:
        pytest.skip("the running stack has no Auth emulator (no Firebase CLI: run bin/setup)")
    assert rows["auth"]["running"]
    assert stack_env(stack.config)["FIREBASE_AUTH_EMULATOR_HOST"] == "127.0.0.1:9099"
    email = f"observer-{secrets.token_hex(4)}@example.org"
    status_code, user = _identity(9099, "signUp", email, "not-a-secret")
    assert status_code == 200 and user["email"] == email and user["idToken"], user
    explorer = Path(f"/proc/{rows['data-explorer']['pid']}/environ").read_bytes().split(b"\0")
    assert b"FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099" in explorer
    shown = subprocess.run(
        [str(ROOT / "bin" / "dev"), "env"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099" in shown.stdout.splitlines()


def test_the_stack_the_tests_start_keeps_nothing(stack):
    assert StackConfig.load().data_dir is None  # what conftest.py starts: nothing kept
    recorded = StackConfig.recorded(stack.config.state_dir)
    if recorded is None or recorded.data_dir is not None:
        pytest.skip("the tests run on a stack started with bin/dev up, which keeps its data")
    processes = json.loads(stack.config.state_file.read_text())["processes"]
    argv = {name: " ".join(entry["argv"]) for name, entry in processes.items()}
    assert "-backend memory" in argv["storage"]
    assert "--import-data" not in argv["firestore"]
    assert "--import" not in argv.get("auth", "") and "--export-on-exit" not in argv.get("auth", "")
