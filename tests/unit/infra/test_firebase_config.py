"""firebase.json is a configuration the pinned Firebase CLI accepts and runs.

The Firebase CLI (``emulator/package.json``, installed into ``emulator/node_modules`` by
``bin/setup``) runs the local Auth emulator from this file, and ``firebase deploy --only
firestore`` deploys the rules and indexes it names. Its Firestore and Pub/Sub entries are the
ports of the Google Cloud CLI emulators the stack runs; fake-gcs-server is not a Firebase
emulator, so its port is ``STORAGE_PORT`` in ``emulator/stack.py``: an ``emulators.storage``
entry would be the CLI's own Storage emulator, which refuses to start without a rules file.

The last test starts the real CLI (``firebase emulators:exec --only auth``) offline: 10 s on
an idle 2-core machine. The tests that need the CLI skip when it is not installed.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emulator.stack import DEFAULT_PROJECT, STORAGE_PORT, StackConfig
from tests.conftest import ROOT

CONFIG = ROOT / "firebase.json"
CLI_PACKAGE = ROOT / "emulator" / "node_modules" / "firebase-tools"
CLI = ROOT / "emulator" / "node_modules" / ".bin" / "firebase"
NOT_INSTALLED = (
    "the Firebase CLI is not installed in emulator/node_modules: run bin/setup (it needs npm)"
)
# The keys of firebase.json's sections that name a file or folder of the project.
PATH_KEYS = frozenset({"rules", "indexes", "public", "source", "template"})
# Emulators that run from a file of their product's section: the Storage emulator refuses to
# start without rules; the stack runs the Firestore emulator with the rules it deploys.
EMULATOR_NEEDS = {"storage": "rules", "firestore": "rules"}


def _config() -> dict:
    return json.loads(CONFIG.read_text())


def _named_paths(config: dict) -> dict[str, str]:
    """Every path the config names, by where it sits (``firestore.rules`` ...)."""
    found = {}
    for section, body in config.items():
        for i, entry in enumerate(body if isinstance(body, list) else [body]):
            if not isinstance(entry, dict):
                continue
            where = f"{section}[{i}]" if isinstance(body, list) else section
            for key in PATH_KEYS & set(entry):
                found[f"{where}.{key}"] = entry[key]
    return found


def test_firebase_json_follows_the_schema_of_the_pinned_cli():
    import jsonschema  # requirements.txt

    schema_file = CLI_PACKAGE / "schema" / "firebase-config.json"
    if not schema_file.exists():
        pytest.skip(NOT_INSTALLED)
    schema = json.loads(schema_file.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    # The schema is strict (unknown keys are errors), so passing it means something.
    assert not validator.is_valid({"emulators": {"auth": {"port": 9099, "rules": "x"}}})
    errors = [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in validator.iter_errors(_config())
    ]
    assert errors == [], "firebase.json does not follow the Firebase CLI's schema"


def test_named_files_exist_and_are_the_deployed_firestore_files():
    named = _named_paths(_config())
    assert named == {
        "firestore.rules": "infra/firestore.rules",
        "firestore.indexes": "infra/firestore.indexes.json",
    }
    missing = [f"{where}: {path}" for where, path in named.items() if not (ROOT / path).exists()]
    assert missing == [], "firebase.json names files that do not exist"


def test_no_emulator_needs_a_file_firebase_json_does_not_name():
    config = _config()
    emulators = config["emulators"]
    unmet = []
    for name, key in EMULATOR_NEEDS.items():
        if name not in emulators:
            continue
        section = config.get(name)
        entries = section if isinstance(section, list) else [section or {}]
        if not entries or not all(entry.get(key) for entry in entries):
            unmet.append(f"emulators.{name} needs {name}.{key}")
    assert unmet == []


def test_the_stack_takes_its_emulator_ports_from_firebase_json_and_storage_beside():
    emulators = _config()["emulators"]
    config = StackConfig.load()
    assert config.firestore_port == emulators["firestore"]["port"]
    assert config.pubsub_port == emulators["pubsub"]["port"]
    # fake-gcs-server is the storage: no Firebase Storage emulator, no port shared with one.
    assert "storage" not in emulators
    assert config.storage_port == STORAGE_PORT
    ports = [v["port"] for v in emulators.values() if isinstance(v, dict) and "port" in v]
    assert STORAGE_PORT not in ports


def test_the_indexes_file_has_the_form_firebase_deploys():
    indexes = json.loads((ROOT / _config()["firestore"]["indexes"]).read_text())
    assert set(indexes) == {"indexes", "fieldOverrides"}
    assert isinstance(indexes["indexes"], list) and isinstance(indexes["fieldOverrides"], list)
    assert indexes["indexes"], "no composite index: the light-curve sweep needs one"
    for index in indexes["indexes"]:
        assert {"collectionGroup", "queryScope", "fields"} <= set(index), index
        assert index["queryScope"] in ("COLLECTION", "COLLECTION_GROUP"), index
        assert len(index["fields"]) >= 2, index
        for field in index["fields"]:
            assert "fieldPath" in field and ({"order", "arrayConfig"} & set(field)), index


PROBE = """\
import json, os, sys, urllib.request
url, out = sys.argv[1:]
body = {"email": "observer@example.org", "password": "not-a-secret", "returnSecureToken": True}
request = urllib.request.Request(
    url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
)
with urllib.request.urlopen(request, timeout=10) as response:
    answer = {"status": response.status, "body": json.load(response)}
answer["env"] = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST")
with open(out, "w") as f:
    json.dump(answer, f)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _offline_cli_env(config_home: Path) -> dict[str, str]:
    """The environment of a CLI run that reaches no network and reads no user's settings.

    Its own configuration folder (no login, usage statistics off) holding a message of the
    day fetched just now, so the CLI does not fetch one; ``NO_UPDATE_NOTIFIER`` and ``CI``
    stop the update check.
    """
    store = config_home / "configstore"
    store.mkdir(parents=True)
    (store / "firebase-tools.json").write_text(
        json.dumps({"motd": {"fetched": int(time.time() * 1000)}, "usage": False})
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.update({"XDG_CONFIG_HOME": str(config_home), "NO_UPDATE_NOTIFIER": "1", "CI": "1"})
    return env


def test_the_firebase_cli_runs_the_auth_emulator_on_the_port_of_firebase_json(tmp_path):
    if not CLI.exists():
        pytest.skip(NOT_INSTALLED)
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the Firebase CLI runs on Node.js 20 or newer")
    real = _config()
    assert real["emulators"]["auth"] == {"host": "127.0.0.1", "port": 9099}
    # firebase.json with free ports, so a running stack or another run is not in the way.
    port = _free_port()
    run_config = copy.deepcopy(real)
    run_config["emulators"]["auth"]["port"] = port
    for helper in ("hub", "logging"):
        run_config["emulators"][helper] = {"host": "127.0.0.1", "port": _free_port()}
    assert {k: v for k, v in run_config["emulators"].items() if k not in ("hub", "logging")} == {
        **real["emulators"],
        "auth": {"host": "127.0.0.1", "port": port},
    }
    (tmp_path / "firebase.json").write_text(json.dumps(run_config))
    (tmp_path / "probe.py").write_text(PROBE)
    url = f"http://127.0.0.1:{port}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=fake"
    script = f"{sys.executable} probe.py '{url}' answer.json"
    argv = [
        str(CLI), "emulators:exec", "--only", "auth", "--project", DEFAULT_PROJECT,
        "--config", str(tmp_path / "firebase.json"), "--non-interactive", script,
    ]  # fmt: skip
    process = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=_offline_cli_env(tmp_path / "config"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"firebase emulators:exec did not finish in 120 s:\n{output}")
    assert process.returncode == 0, output
    assert "Unable to fetch" not in output, output  # it tried the network
    answer = json.loads((tmp_path / "answer.json").read_text())
    assert answer["env"] == f"127.0.0.1:{port}"
    assert answer["status"] == 200
    user = answer["body"]
    assert user["email"] == "observer@example.org" and user["localId"]
    payload = user["idToken"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["aud"] == DEFAULT_PROJECT
    assert claims["firebase"]["sign_in_provider"] == "password"
    assert not _port_answers(port), "the Auth emulator still runs after emulators:exec"
