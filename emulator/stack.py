"""The local emulator stack: Firestore, Pub/Sub, Cloud Storage, Auth and every service.

``bin/dev up`` starts the Firestore and Pub/Sub emulators of the Google Cloud CLI,
fake-gcs-server (publishing OBJECT_FINALIZE notifications to the Pub/Sub emulator) and the
Auth emulator of the Firebase CLI, waits until each answers, applies
``infra/resources.yaml``, then starts the supervisor (:mod:`emulator.supervisor`), which runs
every service under functions-framework on its own port, and the scheduler, and restarts any
of them that dies (backoff 1 s, 2 s, 4 s ... 30 s, as Cloud Run would). ``up`` returns once
every service answers HTTP, with all of it running in the background. ``bin/dev down`` stops
the supervisor first (it stops its services), then exactly the other processes ``up``
started (their process groups, recorded in ``.dev/stack.json``). Logs go to
``.dev/logs/<name>.log``; restarts are logged in ``.dev/logs/supervisor.log`` too.

The data stays between ``down`` and ``up`` (:mod:`emulator.persistence`, in ``.dev/data``):
``down`` exports Firestore's and the Auth emulator's data, fake-gcs-server keeps its objects
on disk. Pub/Sub keeps nothing: ``up`` makes the topics and subscriptions again, and
announces again every upload still waiting in the notified bucket. ``bin/dev reset`` forgets
the kept data; ``bin/dev up --in-memory`` keeps nothing (what the integration tests run).

``bin/dev restart NAME`` stops one service and starts it again at once (the emulators and
their data stay), and returns when it answers. ``bin/dev stop NAME [--for SECONDS]`` stops one
and keeps it down (for SECONDS, or until ``bin/dev start NAME``), e.g. to test what happens
while record-image is away: ``bin/dev stop record-image --for 120``. From Python:
:func:`restart_service`, :func:`stop_service`, :func:`start_service`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from emulator.components import MissingComponent, find_components, find_firebase_cli
from emulator.identity import ensure_key
from emulator.persistence import ExportFailed, KeptData, export_firestore
from emulator.supervisor import (
    DEFAULT_BACKOFF,
    SUPERVISOR,
    Backoff,
    Program,
    read_state,
    send_request,
    update_state,
    write_plan,
)
from infra.spec import Resources, Service, load
from panoptes_network.adapters.access import ACCESS_ENV, Access
from panoptes_network.cli import dead_letters as dead_letters_cli
from panoptes_network.cli import summary

__all__ = [
    "StackConfig",
    "STORAGE_PORT",
    "DEV_DIR_ENV",
    "NotRunning",
    "StillRunning",
    "UnknownService",
    "stack_env",
    "stack_environment",
    "up",
    "down",
    "status",
    "reset",
    "announce_waiting_uploads",
    "start_supervisor",
    "restart_service",
    "stop_service",
    "start_service",
]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROJECT = "demo-panoptes"
# fake-gcs-server's port. It is not a Firebase emulator, so it is not in firebase.json (the
# Firebase CLI would take an `emulators.storage` entry for its own Storage emulator).
STORAGE_PORT = 9199
#: Moves the stack's folder (state, logs, kept data) away from ``.dev``, e.g. for a second
#: stack on other ports that a test starts beside a running one.
DEV_DIR_ENV = "PANOPTES_DEV_DIR"


@dataclass(frozen=True)
class StackConfig:
    """Where the stack runs.

    Attributes
    ----------
    project : str
        Project id of the emulators (``PANOPTES_DEV_PROJECT``, default ``demo-panoptes``).
    firestore_port, pubsub_port : int
        Ports of the Firestore and Pub/Sub emulators, from the ``emulators`` block of
        ``firebase.json``.
    storage_port : int
        Port of fake-gcs-server (:data:`STORAGE_PORT`).
    auth_port : int or None
        Port of the Auth emulator (``emulators.auth`` of ``firebase.json``); None runs none.
    host : str
        Address everything binds to.
    state_dir : Path
        Where the state file and logs go.
    data_dir : Path or None
        Where the emulators keep their data between ``down`` and ``up``
        (:class:`emulator.persistence.KeptData`; ``bin/dev up`` uses ``<state_dir>/data``).
        None: in memory only, forgotten at ``down`` (``bin/dev up --in-memory``, and what
        :meth:`load` gives, so a stack the tests start never sees a developer's data).
    """

    project: str
    firestore_port: int
    pubsub_port: int
    storage_port: int
    auth_port: int | None = None
    host: str = "127.0.0.1"
    state_dir: Path = ROOT / ".dev"
    data_dir: Path | None = None

    @classmethod
    def load(cls, project: str | None = None) -> StackConfig:
        """Read the ports (firebase.json, :data:`STORAGE_PORT`) and the project (environment).

        The configuration keeps its data in memory (``data_dir`` None); ``bin/dev up`` gives
        it a data folder.
        """
        emulators = json.loads((ROOT / "firebase.json").read_text())["emulators"]
        auth = emulators.get("auth") or {}
        return cls(
            project=project or os.environ.get("PANOPTES_DEV_PROJECT", DEFAULT_PROJECT),
            firestore_port=int(emulators["firestore"]["port"]),
            pubsub_port=int(emulators["pubsub"]["port"]),
            storage_port=STORAGE_PORT,
            auth_port=int(auth["port"]) if "port" in auth else None,
            host=emulators["firestore"].get("host", "127.0.0.1"),
        )

    @classmethod
    def recorded(cls, state_dir: Path) -> StackConfig | None:
        """Return the configuration the stack recorded in ``state_dir`` at ``up``, if any.

        Parameters
        ----------
        state_dir : Path
            The stack's folder.

        Returns
        -------
        StackConfig or None
            None when no stack was started from there (or by an older ``up``).
        """
        raw = read_state(state_dir).get("config")
        if not isinstance(raw, dict):
            return None
        try:
            return cls(
                project=raw["project"],
                firestore_port=int(raw["firestore_port"]),
                pubsub_port=int(raw["pubsub_port"]),
                storage_port=int(raw["storage_port"]),
                auth_port=None if raw.get("auth_port") is None else int(raw["auth_port"]),
                host=raw["host"],
                state_dir=state_dir,
                data_dir=None if raw.get("data_dir") is None else Path(raw["data_dir"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def to_record(self) -> dict:
        """Return what :meth:`recorded` reads back (JSON-ready)."""
        record = dataclasses.asdict(self)
        del record["state_dir"]
        record["data_dir"] = None if self.data_dir is None else str(self.data_dir)
        return record

    @property
    def state_file(self) -> Path:
        """The record of started processes."""
        return self.state_dir / "stack.json"

    @property
    def kept(self) -> KeptData | None:
        """The kept data of this stack, or None when it keeps its data in memory only."""
        return None if self.data_dir is None else KeptData(self.data_dir)


def stack_env(config: StackConfig) -> dict[str, str]:
    """Return the variables that point clients at the stack.

    Parameters
    ----------
    config : StackConfig
        The stack.

    Returns
    -------
    dict
        ``FIRESTORE_EMULATOR_HOST``, ``PUBSUB_EMULATOR_HOST``, ``STORAGE_EMULATOR_HOST``,
        ``GOOGLE_CLOUD_PROJECT``, ``PANOPTES_PUBLIC_BASE_URL``,
        ``PANOPTES_IDENTITY_CERTS_URL`` (the local JWKS the push relay serves), the
        local URLs of get-fits-header (``PANOPTES_HEADER_SERVICE_URL``, which the explorer's
        pages show) and of the Data Explorer (``PANOPTES_EXPLORER_URL``), and
        ``FIREBASE_AUTH_EMULATOR_HOST`` when the stack runs the Auth emulator (firebase-admin
        and the explorer's sign-in page then talk to it).
    """
    storage = f"http://{config.host}:{config.storage_port}"
    resources = load()
    relay = resources.push_relay_port
    services = {
        variable: f"http://{config.host}:{resources.services[name].local_port}"
        for variable, name in (
            ("PANOPTES_HEADER_SERVICE_URL", "get-fits-header"),
            ("PANOPTES_EXPLORER_URL", "data-explorer"),
        )
        if name in resources.services
    }
    env = {
        **services,
        "FIRESTORE_EMULATOR_HOST": f"{config.host}:{config.firestore_port}",
        "PUBSUB_EMULATOR_HOST": f"{config.host}:{config.pubsub_port}",
        "STORAGE_EMULATOR_HOST": storage,
        "GOOGLE_CLOUD_PROJECT": config.project,
        "PANOPTES_PUBLIC_BASE_URL": storage,
        "PANOPTES_IDENTITY_CERTS_URL": f"http://{config.host}:{relay}/jwks",
    }
    if config.auth_port is not None:
        env["FIREBASE_AUTH_EMULATOR_HOST"] = f"{config.host}:{config.auth_port}"
    return env


def identity_folder(config: StackConfig) -> Path:
    """Return where the stack keeps its signing key and JWKS (``emulator/identity.py``)."""
    return config.state_dir / "identity"


@contextmanager
def stack_environment(config: StackConfig) -> Iterator[None]:
    """Point the Google Cloud clients of this process at the stack while inside.

    Parameters
    ----------
    config : StackConfig
        The stack.

    Yields
    ------
    None
        The variables of :func:`stack_env` are set; on exit they are restored.
    """
    env = stack_env(config)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, with an error status: it is up
    except (urllib.error.URLError, OSError):
        return False


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited and waits for its parent to reap it (Linux; else False).

    ``bin/dev down`` run beside the process that ran ``up`` (a test calls ``up`` in-process)
    sees the emulators it stops as zombies until that parent reaps them: they are gone.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _exited(pid: int) -> bool:
    """Reap ``pid`` if it is a child of this process that has exited; return whether it had."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def _running(pid: int | None) -> bool:
    """Whether ``pid`` runs (a child of this process that exited is reaped, and is not)."""
    return pid is not None and not _exited(pid) and _alive(pid)


def _read_state(config: StackConfig) -> dict:
    return read_state(config.state_dir)


def _log_path(config: StackConfig, name: str) -> Path:
    return config.state_dir / "logs" / f"{name}.log"


def _start(config: StackConfig, name: str, argv: list[str], env: dict, cwd: Path = ROOT) -> int:
    """Start one process in its own process group and record it in ``stack.json``."""
    logs = config.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "wb") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

    def record(state: dict) -> None:
        state.setdefault("processes", {})[name] = {"pid": process.pid, "argv": argv}

    update_state(config.state_dir, record)
    return process.pid


def _wait(
    name: str, ready: Callable[[], bool], timeout: float, config: StackConfig, hint: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    pid = _read_state(config)["processes"][name]["pid"]
    while time.monotonic() < deadline:
        if ready():
            return
        if not _running(pid):
            raise RuntimeError(
                f"{name} exited during start-up; see {_log_path(config, name)}{hint}"
            )
        time.sleep(0.2)
    raise RuntimeError(
        f"{name} did not answer within {timeout:.0f} s; see its log in {config.state_dir / 'logs'}"
    )


def _firestore_rules() -> str:
    """Return the Firestore rules file firebase.json names (the deployed one)."""
    return json.loads((ROOT / "firebase.json").read_text())["firestore"]["rules"]


@dataclass(frozen=True)
class _Emulator:
    """One emulator process of the stack: how to start it and how to know it answers."""

    name: str
    argv: list[str]
    ready_url: str
    #: Seconds to wait for it (the Auth emulator needs 10 to 20 s on a busy 2-core machine).
    timeout: float = 60.0
    #: Variables added to its environment.
    env: tuple[tuple[str, str], ...] = ()
    #: Variables whose names end so are left out of its environment.
    without: tuple[str, ...] = ()
    cwd: Path = ROOT
    #: Added to the error when it exits during start-up.
    hint: str = ""


def _shown(path: Path) -> str:
    """Return a path for people: relative to the checkout when inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _storage_emulator(config: StackConfig, resources: Resources, fake_gcs: Path) -> _Emulator:
    """Return fake-gcs-server, in memory or on disk in the kept data (no versioning there)."""
    host = config.host
    kept = config.kept
    if kept is None:
        backend = ["-backend", "memory"]
    else:
        backend = ["-backend", "filesystem", "-filesystem-root", str(kept.storage)]
    notes = resources.notifications
    if len(notes) > 1:
        print(
            "dev: fake-gcs-server publishes one bucket's notifications; "
            f"using {notes[0].bucket} -> {notes[0].topic}",
            file=sys.stderr,
        )
    argv = [
        str(fake_gcs), "-scheme", "http", "-host", host, "-port", str(config.storage_port),
        *backend,
        "-external-url", f"http://{host}:{config.storage_port}",
        "-public-host", f"{host}:{config.storage_port}",
        "-log-level", "warn",
    ]  # fmt: skip
    if notes:
        events = ",".join(e.removeprefix("OBJECT_").lower() for e in notes[0].events)
        argv += [
            "-event.pubsub-project-id", config.project,
            "-event.pubsub-topic", notes[0].topic,
            "-event.bucket", notes[0].bucket,
            "-event.list", events,
        ]  # fmt: skip
    return _Emulator("storage", argv, f"http://{host}:{config.storage_port}/storage/v1/b")


def _firestore_emulator(config: StackConfig, java: Path, jar: Path) -> _Emulator:
    """Return the Firestore emulator, with the deployed rules, importing the kept export."""
    host = config.host
    argv = [
        str(java), "-Duser.language=en", "-cp", str(jar),
        "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
        f"--host={host}", f"--port={config.firestore_port}",
        "--database-mode=firestore-native", f"--rules={ROOT / _firestore_rules()}",
    ]  # fmt: skip
    hint = ""
    kept = config.kept
    found = kept.firestore_import() if kept is not None else None
    if found is not None:
        argv.append(f"--import-data={found}")
        hint = (
            f" (it was importing {_shown(found.parent)}: if that export is broken, move it "
            "away, or forget all kept data with bin/dev reset)"
        )
    return _Emulator("firestore", argv, f"http://{host}:{config.firestore_port}/", hint=hint)


def _offline_cli_settings(config_home: Path) -> None:
    """Write the Firebase CLI's own settings for the stack (its ``XDG_CONFIG_HOME``).

    No login and no usage statistics, and a message of the day held as fetched just now:
    the CLI fetches one from the network at most once a day.
    """
    store = config_home / "configstore"
    store.mkdir(parents=True, exist_ok=True)
    settings = {"motd": {"fetched": int(time.time() * 1000)}, "usage": False}
    (store / "firebase-tools.json").write_text(json.dumps(settings))


def _auth_emulator(config: StackConfig, cli: Path) -> _Emulator:
    """Return the Auth emulator of the Firebase CLI, offline, importing the kept users.

    The CLI runs in ``<state_dir>/auth-emulator``: its ``firebase.json`` (the ``emulators``
    block of the checkout's, with this stack's host and port), its own settings folder
    (``XDG_CONFIG_HOME``: no user's login, no usage statistics, no message-of-the-day
    fetch), its debug log and its temporary export folders. ``NO_UPDATE_NOTIFIER`` and
    ``CI`` stop its update check and its questions. With kept data it exports its users
    when it stops (``--export-on-exit``, on SIGTERM) into ``auth/.exporting``, which
    :meth:`KeptData.adopt_auth_export` makes a snapshot.
    """
    assert config.auth_port is not None
    work = config.state_dir / "auth-emulator"
    work.mkdir(parents=True, exist_ok=True)
    for leftover in work.glob("firebase-export-*"):  # the CLI's own temporary exports
        shutil.rmtree(leftover, ignore_errors=True)
    emulators = json.loads((ROOT / "firebase.json").read_text())["emulators"]
    settings = {
        "emulators": {
            "auth": {"host": config.host, "port": config.auth_port},
            "ui": emulators.get("ui", {"enabled": False}),
            "singleProjectMode": emulators.get("singleProjectMode", True),
        }
    }
    (work / "firebase.json").write_text(json.dumps(settings, indent=2))
    _offline_cli_settings(work / "config")
    argv = [
        str(cli), "emulators:start", "--only", "auth", "--project", config.project,
        "--config", str(work / "firebase.json"),
    ]  # fmt: skip
    kept = config.kept
    if kept is not None:
        found = kept.auth_import()
        if found is not None:
            argv += ["--import", str(found)]
        argv += ["--export-on-exit", str(kept.auth_exporting)]
    env = (
        ("XDG_CONFIG_HOME", str(work / "config")),
        ("NO_UPDATE_NOTIFIER", "1"),
        ("CI", "1"),
    )
    return _Emulator(
        "auth",
        argv,
        f"http://{config.host}:{config.auth_port}/",
        timeout=120.0,
        env=env,
        without=("_EMULATOR_HOST",),  # it runs the Auth emulator alone; the rest is not its own
        cwd=work,
        hint=" (the Firebase CLI needs Node.js 20 or newer; its log says what went wrong)",
    )


def _emulators(
    config: StackConfig, resources: Resources, *, say: Callable[[str], None]
) -> tuple[StackConfig, list[_Emulator]]:
    """Return the emulators to start, and the configuration without Auth if it cannot run.

    Raises
    ------
    MissingComponent
        If Java, the Google Cloud CLI emulators or fake-gcs-server are missing (the Auth
        emulator is not required: without the Firebase CLI the stack runs without sign-in).
    """
    parts = find_components()
    found = [
        _firestore_emulator(config, parts.java, parts.firestore),
        _Emulator(
            "pubsub",
            [str(parts.pubsub), f"--host={config.host}", f"--port={config.pubsub_port}"],
            f"http://{config.host}:{config.pubsub_port}/",
        ),
        _storage_emulator(config, resources, parts.fake_gcs),
    ]
    if config.auth_port is not None:
        try:
            found.append(_auth_emulator(config, find_firebase_cli()))
        except MissingComponent as exc:
            say(f"dev: no Auth emulator, so no sign-in: {exc}")
            config = dataclasses.replace(config, auth_port=None)
    return config, found


def _access(service: Service) -> str:
    """Return the ``PANOPTES_ACCESS`` of a service: what its ``service.yaml`` grants it."""
    return Access(
        service.name,
        frozenset(service.reads),
        frozenset(service.writes),
        frozenset(service.publishes),
    ).to_env()


def _service_argv(service: Service, host: str) -> tuple[str, ...]:
    """Return the command line that serves one service locally, as the cloud serves it.

    A function runs under functions-framework; a WSGI application (``signature: wsgi``)
    under gunicorn, as its Dockerfile runs it on Cloud Run.
    """
    folder = ROOT / "services" / service.name
    if service.signature == "wsgi":
        return (
            sys.executable, "-m", "gunicorn", "--chdir", str(folder),
            "--bind", f"{host}:{service.local_port}", "--workers", "1", "--threads", "4",
            f"main:{service.entry_point}",
        )  # fmt: skip
    return (
        sys.executable, "-m", "functions_framework", "--source", str(folder / "main.py"),
        "--target", service.entry_point, "--signature-type", service.signature,
        "--host", host, "--port", str(service.local_port),
    )  # fmt: skip


def _service_programs(config: StackConfig, resources: Resources) -> list[Program]:
    """List what the supervisor runs: each service under functions-framework, the scheduler."""
    programs = [
        Program(
            service.name,
            _service_argv(service, config.host),
            port=service.local_port,
            cwd=str(ROOT),
            env=((ACCESS_ENV, _access(service)),),
        )
        for service in resources.services.values()
    ]
    ensure_key(identity_folder(config))
    programs.append(
        Program(
            "push-relay",
            (
                sys.executable,
                "-m",
                "emulator.push_relay",
                "--host",
                config.host,
                "--port",
                str(resources.push_relay_port),
                "--identity",
                str(identity_folder(config)),
            ),
            cwd=str(ROOT),
            port=resources.push_relay_port,
        )
    )
    if resources.schedules:
        programs.append(
            Program(
                "scheduler",
                (
                    sys.executable,
                    "-m",
                    "emulator.scheduler",
                    "--host",
                    config.host,
                    "--identity",
                    str(identity_folder(config)),
                ),
                cwd=str(ROOT),
            )
        )
    return programs


def start_supervisor(
    config: StackConfig,
    programs: list[Program],
    *,
    backoff: Backoff = DEFAULT_BACKOFF,
    grace: float = 10.0,
    tick: float = 0.1,
    env: dict[str, str] | None = None,
) -> int:
    """Start the supervisor of ``programs`` in the background and return its pid.

    It does not wait for the programs: see :func:`wait_until_serving`.

    Parameters
    ----------
    config : StackConfig
        The stack (its ``state_dir`` holds the plan, the state and the logs).
    programs : list of Program
        What the supervisor is to keep running.
    backoff : Backoff
        Its restart policy.
    grace : float
        Seconds a program gets between SIGTERM and SIGKILL.
    tick : float
        Seconds between two looks of the supervisor at its programs and requests.
    env : dict, optional
        The environment of the supervisor and its programs (default: this process's).

    Returns
    -------
    int
        The supervisor's pid (also in ``stack.json`` as ``supervisor``).
    """
    write_plan(config.state_dir, programs, backoff, grace)
    argv = [
        sys.executable,
        "-m",
        "emulator.supervisor",
        "--state-dir",
        str(config.state_dir),
        "--tick",
        str(tick),
    ]
    return _start(config, SUPERVISOR, argv, dict(env if env is not None else os.environ))


def wait_until_serving(
    config: StackConfig,
    baseline: dict[str, int],
    timeout: float = 60.0,
    *,
    say: Callable[[str], None] = lambda line: None,
) -> dict[str, dict]:
    """Wait until supervised programs run and answer HTTP on their ports.

    Parameters
    ----------
    config : StackConfig
        The stack.
    baseline : dict of str to int
        Program name to its restart count before the wait: a program whose count grows
        exited during start-up, and the wait fails at once instead of sitting out backoffs.
    timeout : float
        Seconds to wait for all of them.
    say : callable
        Receives ``dev: NAME ready`` as each one is.

    Returns
    -------
    dict
        Program name to its entry in ``stack.json`` once it answered.

    Raises
    ------
    RuntimeError
        If one exits during start-up, the supervisor is gone, or the time is up; the message
        names the program and its log.
    """
    deadline = time.monotonic() + timeout
    pending = dict(baseline)
    ready: dict[str, dict] = {}
    while pending:
        processes = _read_state(config).get("processes", {})
        supervisor = processes.get(SUPERVISOR, {})
        if not _running(supervisor.get("pid")):
            raise RuntimeError(
                f"the supervisor is not running; see {_log_path(config, SUPERVISOR)}"
            )
        for name in list(pending):
            entry = processes.get(name)
            if entry is None:
                continue
            if entry.get("restarts", 0) > pending[name]:
                raise RuntimeError(
                    f"{name} {entry.get('last_exit') or 'exited'} during start-up "
                    f"(the supervisor retries it with backoff); see {_log_path(config, name)}"
                )
            if entry.get("state") != "running" or not _alive(entry.get("pid")):
                continue
            port = entry.get("port")
            if port is None or _http_answers(f"http://{config.host}:{port}/"):
                ready[name] = entry
                del pending[name]
                say(f"dev: {name} ready" + (f" on port {port}" if port else ""))
        if pending and time.monotonic() > deadline:
            raise RuntimeError(
                f"{', '.join(pending)} did not answer within {timeout:.0f} s; see "
                + ", ".join(str(_log_path(config, name)) for name in pending)
            )
        if pending:
            time.sleep(0.1)
    return ready


def _without_versioning(resources: Resources) -> Resources:
    """Return the resources with no bucket versioned, for fake-gcs-server's filesystem backend.

    It refuses to make a versioned bucket ("not implemented: fs storage type does not support
    versioning yet"), keeps only the live generation of an object, and reads no other.
    """
    buckets = tuple(dataclasses.replace(b, versioning=False) for b in resources.buckets)
    return dataclasses.replace(resources, buckets=buckets)


def announce_waiting_uploads(config: StackConfig, resources: Resources) -> int:
    """Publish the notification of every object still in the notified bucket, again.

    The Pub/Sub emulator keeps no message across ``down``: a notification published before
    ``down`` and not yet handled is gone, while its object is kept. The chain deletes an
    upload from the incoming bucket once it is archived, and handles a notification it has
    seen before as a no-op, so what is still there is announced again at ``up``, with the
    payload and attributes fake-gcs-server gives an OBJECT_FINALIZE notification. (The
    reconciler re-queues anything later in the chain from the ledger.)

    Parameters
    ----------
    config : StackConfig
        The running stack.
    resources : Resources
        Its declarations (the first notification is the one fake-gcs-server publishes).

    Returns
    -------
    int
        How many notifications were published.
    """
    notes = [n for n in resources.notifications if "OBJECT_FINALIZE" in n.events]
    if not notes:
        return 0
    note = notes[0]
    from google.cloud import pubsub_v1, storage

    with stack_environment(config):
        blobs = list(storage.Client(project=config.project).list_blobs(note.bucket))
        if not blobs:
            return 0
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.topic_path(config.project, note.topic)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        pending = []
        for blob in blobs:
            payload = {
                "kind": "storage#object",
                "id": f"{blob.bucket.name}/{blob.name}/{blob.generation}",
                "name": blob.name,
                "bucket": blob.bucket.name,
                "generation": str(blob.generation),
                "contentType": blob.content_type or "",
                "storageClass": "STANDARD",
                "size": str(blob.size or 0),
                "md5Hash": blob.md5_hash,
                "crc32c": blob.crc32c,
                "metadata": blob.metadata or {},
            }
            attributes = {
                "bucketId": blob.bucket.name,
                "objectId": blob.name,
                "objectGeneration": str(blob.generation),
                "eventType": "OBJECT_FINALIZE",
                "eventTime": now,
                "payloadFormat": note.payload_format,
            }
            data = json.dumps({k: v for k, v in payload.items() if v is not None}).encode()
            pending.append(publisher.publish(topic, data, **attributes))
        for future in pending:
            future.result(timeout=30)
    return len(blobs)


def up(config: StackConfig, *, services: bool = True, say: Callable[[str], None] = print) -> None:
    """Start the stack and return with it running in the background.

    With a data folder (``config.data_dir``) the emulators start from the data kept there
    (:mod:`emulator.persistence`), fake-gcs-server stores its objects there (buckets are made
    without versioning: its filesystem backend has none), and every upload still waiting in
    the notified bucket is announced again (:func:`announce_waiting_uploads`). The Auth
    emulator runs when ``config.auth_port`` is set and the Firebase CLI is installed; without
    the CLI the stack runs without it, and says so.

    Parameters
    ----------
    config : StackConfig
        Where to run it.
    services : bool
        Also start the supervisor with every service of ``services/*/service.yaml`` (and the
        scheduler); ``up`` returns once every service answers HTTP on its port.
    say : callable
        Receives progress lines.

    Raises
    ------
    MissingComponent
        If a program is not installed (the message says how to install it).
    RuntimeError
        If a port is taken by something else or a component does not start (a service that
        exits during start-up fails it at once, naming its log); everything this call
        started is stopped again.
    """
    state = _read_state(config)
    running = {n: p for n, p in state.get("processes", {}).items() if _alive(p.get("pid"))}
    if running:
        say(f"dev: stack already running ({', '.join(running)}); `bin/dev down` first to restart")
        return
    resources = load()
    kept = config.kept
    if kept is not None:
        for line in kept.prepare():
            say(f"dev: {line}")
        resources = _without_versioning(resources)
    config, emulators = _emulators(config, resources, say=say)
    ports = [config.firestore_port, config.pubsub_port, config.storage_port]
    if config.auth_port is not None:
        ports.append(config.auth_port)
    if services:
        ports += [s.local_port for s in resources.services.values()]
        ports.append(resources.push_relay_port)
    taken = [p for p in ports if _port_open(config.host, p)]
    if taken:
        raise RuntimeError(
            f"port(s) {', '.join(map(str, taken))} on {config.host} are in use by "
            "another program; stop it or change the ports (firebase.json, STORAGE_PORT in "
            "emulator/stack.py, infra)"
        )
    if kept is None:
        say("dev: data in memory only: bin/dev down forgets it")
    else:
        say(f"dev: data kept in {_shown(kept.root)}: " + "; ".join(kept.describe()))
    env = {**os.environ, **stack_env(config), "PYTHONUNBUFFERED": "1"}

    def fresh(state: dict) -> None:
        state.clear()
        state.update({"project": config.project, "config": config.to_record(), "processes": {}})

    update_state(config.state_dir, fresh)
    started = time.monotonic()
    # The Auth emulator takes longest to answer: it is waited for last, while the rest starts.
    first = [e for e in emulators if e.name != "auth"]
    last = [e for e in emulators if e.name == "auth"]
    try:
        for emulator in emulators:
            own = {k: v for k, v in env.items() if not k.endswith(emulator.without)}
            own.update(emulator.env)
            _start(config, emulator.name, emulator.argv, own, emulator.cwd)
        for emulator in first:
            _wait_for(config, emulator, say)
        from infra.apply import apply

        with stack_environment(config):
            apply(
                resources,
                config.project,
                endpoint=lambda name: resources.local_push_endpoint(name, config.host),
                say=lambda line: None,
            )
        say("dev: applied infra/resources.yaml")
        if services:
            programs = _service_programs(config, resources)
            start_supervisor(config, programs, env=env)
            wait_until_serving(config, {p.name: 0 for p in programs}, 90)
            say(
                f"dev: {len(resources.services)} services ready under the supervisor: "
                + ", ".join(f"{s.name}:{s.local_port}" for s in resources.services.values())
            )
        for emulator in last:
            _wait_for(config, emulator, say)
        if kept is not None:
            announced = announce_waiting_uploads(config, resources)
            if announced:
                say(
                    f"dev: announced {announced} upload(s) still waiting in "
                    f"{resources.notifications[0].bucket} again (Pub/Sub kept no message)"
                )
    except BaseException:
        down(config, say=lambda line: None)
        raise
    say(
        f"dev: stack up in {time.monotonic() - started:.1f} s (project {config.project}); "
        '`eval "$(bin/dev env)"` points your shell at it'
    )


def _wait_for(config: StackConfig, emulator: _Emulator, say: Callable[[str], None]) -> None:
    url = emulator.ready_url
    _wait(emulator.name, lambda: _http_answers(url), emulator.timeout, config, emulator.hint)
    where = url.split("://", 1)[1].split("/", 1)[0]
    say(f"dev: {emulator.name} emulator ready on {where}")


def _terminate(pids: list[int], timeout: float) -> None:
    """SIGTERM the process groups of ``pids``, wait, then SIGKILL the ones still there."""
    for pid in pids:
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
    deadline = time.monotonic() + timeout
    for pid in pids:
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _running(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def down(config: StackConfig, *, say: Callable[[str], None] = print) -> None:
    """Stop exactly the processes ``up`` started: the supervisor first, then the rest.

    The supervisor stops the services it runs when it gets SIGTERM; any it left (it was
    killed, or a service would not stop) are stopped from their recorded pids. A stack that
    keeps its data (as recorded at ``up``) keeps it: once the services are stopped the
    Firestore emulator is asked for an export, then the emulators get SIGTERM (the Auth
    emulator exports its users as it stops) and 30 s to exit.

    Parameters
    ----------
    config : StackConfig
        The stack.
    say : callable
        Receives progress lines.
    """
    state = _read_state(config)
    processes = state.get("processes", {})
    if not processes:
        say("dev: nothing to stop")
        return
    recorded = StackConfig.recorded(config.state_dir)
    kept = recorded.kept if recorded is not None else None
    supervisor = processes.get(SUPERVISOR)
    if supervisor is not None:
        # Its own grace for the services is 10 s; give it that and some.
        _terminate([supervisor["pid"]], 25)
        say(f"dev: stopped {SUPERVISOR}")
        processes = _read_state(config).get("processes", {})  # its last word on the pids
    if kept is not None and recorded is not None:
        if _running(processes.get("firestore", {}).get("pid")):
            try:
                snapshot = export_firestore(
                    recorded.host, recorded.firestore_port, recorded.project, kept
                )
                say(f"dev: exported Firestore's data to {_shown(snapshot)}")
            except ExportFailed as exc:
                say(f"dev: {exc}: what Firestore held since up is lost; the last export stays")
        elif "firestore" in processes:
            say("dev: the Firestore emulator was not running: what it held since up is lost")
    rest = [(n, p["pid"]) for n, p in processes.items() if n != SUPERVISOR and p.get("pid")]
    _terminate([pid for _, pid in reversed(rest)], 30 if kept is not None else 10)
    for name, _ in rest:
        say(f"dev: stopped {name}")
    if kept is not None:
        if "auth" in processes:
            snapshot = kept.adopt_auth_export()
            if snapshot is None:
                say("dev: the Auth emulator exported nothing: its last export stays")
            else:
                say(f"dev: exported the Auth emulator's users to {_shown(snapshot)}")
        say(f"dev: data kept in {_shown(kept.root)}: " + "; ".join(kept.describe()))
    config.state_file.unlink(missing_ok=True)


def status(config: StackConfig) -> dict[str, dict]:
    """Return, for each started process, whether it runs and its pid.

    Parameters
    ----------
    config : StackConfig
        The stack.

    Returns
    -------
    dict
        Name to ``{"pid", "running"}``; supervised programs add what the supervisor recorded:
        ``state`` (running, waiting for a restart, held by ``stop``), ``restarts``,
        ``last_exit``, ``restart_at`` and ``held_until`` (Unix times, None when not set).
    """
    rows = {}
    for name, proc in _read_state(config).get("processes", {}).items():
        row = {"pid": proc.get("pid"), "running": _running(proc.get("pid"))}
        if proc.get("supervised"):
            row["running"] = row["running"] and proc.get("state") == "running"
            for key in ("state", "restarts", "last_exit", "restart_at", "held_until"):
                row[key] = proc.get(key)
        rows[name] = row
    return rows


def _status_line(name: str, row: dict) -> str:
    """One line of ``bin/dev status``."""
    pid = row["pid"] if row["pid"] is not None else "-"
    if row["running"]:
        text = "running"
        if row.get("restarts"):
            text += f" (restarts: {row['restarts']}; last {row['last_exit']})"
    elif row.get("state") == "held":
        until = row.get("held_until")
        when = time.strftime("%H:%M:%S", time.localtime(until)) if until else "bin/dev start"
        text = f"stopped on request, held until {when} (bin/dev start {name} ends it)"
    elif row.get("state") == "waiting" and row.get("restart_at"):
        wait = max(0.0, row["restart_at"] - time.time())
        text = f"stopped ({row.get('last_exit')}); restart {row.get('restarts')} in {wait:.0f} s"
    else:
        text = "stopped"
    return f"{name:20s} pid {pid:>7}  {text}"


class NotRunning(RuntimeError):
    """The stack (its supervisor) is not running."""


class UnknownService(ValueError):
    """No supervised program has the name asked for."""


class StillRunning(RuntimeError):
    """The stack that uses the data to forget is running."""


def reset(config: StackConfig) -> list[str]:
    """Forget the data a stack keeps between ``down`` and ``up`` (``bin/dev reset``).

    It refuses while a stack that uses that data runs, rather than stop it: ``down`` first.
    A running stack that keeps its data in memory (the integration tests') does not use it.

    Parameters
    ----------
    config : StackConfig
        The stack; its ``data_dir`` is the folder to forget.

    Returns
    -------
    list of str
        What was forgotten, one line per emulator; empty when nothing was kept.

    Raises
    ------
    StillRunning
        If a stack that uses that data folder runs.
    ValueError
        If ``config`` keeps no data folder.
    """
    kept = config.kept
    if kept is None:
        raise ValueError("this stack keeps its data in memory: there is nothing to forget")
    recorded = StackConfig.recorded(config.state_dir)
    if recorded is not None and recorded.data_dir is not None:
        same = recorded.data_dir.resolve() == kept.root.resolve()
        rows = status(config)
        if same and any(row["running"] for row in rows.values()):
            raise StillRunning(
                f"the stack runs with the data in {_shown(kept.root)}: stop it first "
                "(bin/dev down), then bin/dev reset"
            )
    return kept.forget()


def _ask_supervisor(
    config: StackConfig,
    name: str,
    action: str,
    *,
    hold_for: float | None = None,
    signal_name: str = "SIGTERM",
    timeout: float = 30.0,
) -> dict:
    """Send a request to the supervisor and wait until it is handled; return the entry."""
    processes = _read_state(config).get("processes", {})
    supervisor_pid = processes.get(SUPERVISOR, {}).get("pid")
    if not _running(supervisor_pid):
        if any(_running(p.get("pid")) for p in processes.values()):
            raise NotRunning(
                "no supervisor runs (was the stack started with --no-services?): "
                "bin/dev down, then bin/dev up"
            )
        raise NotRunning("the stack is not running: start it with bin/dev up")
    names = [n for n, p in processes.items() if p.get("supervised")]
    if name not in names:
        raise UnknownService(
            f"no service {name!r}; the supervised ones are: {', '.join(names) or 'none'}"
        )
    request_id = send_request(
        config.state_dir, name, action, hold_for=hold_for, signal_name=signal_name
    )
    deadline = time.monotonic() + timeout
    while True:
        entry = _read_state(config).get("processes", {}).get(name, {})
        if entry.get("handled") == request_id:
            return entry
        if not _running(supervisor_pid):
            raise RuntimeError(
                f"the supervisor exited before it did the {action} of {name}; "
                f"see {_log_path(config, SUPERVISOR)}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the supervisor did not do the {action} of {name} within {timeout:.0f} s; "
                f"see {_log_path(config, SUPERVISOR)}"
            )
        time.sleep(0.05)


def restart_service(
    config: StackConfig, name: str, *, signal_name: str = "SIGTERM", timeout: float = 60.0
) -> dict:
    """Stop one supervised service and start it again at once; wait until it answers.

    The emulators and their data are untouched. The old process group is gone before the new
    one starts, so exactly one copy runs afterwards.

    Parameters
    ----------
    config : StackConfig
        The stack.
    name : str
        The service (or ``scheduler``).
    signal_name : str
        The signal that stops it (SIGKILL follows after 10 s).
    timeout : float
        Seconds to wait for it to answer again.

    Returns
    -------
    dict
        Its entry in ``stack.json`` (``pid`` is the new process).

    Raises
    ------
    NotRunning
        If the stack is not running.
    UnknownService
        If no supervised program is called ``name`` (the message lists them).
    RuntimeError
        If it does not come back (the message names its log).
    """
    entry = _ask_supervisor(config, name, "restart", signal_name=signal_name)
    return wait_until_serving(config, {name: entry.get("restarts", 0)}, timeout)[name]


def stop_service(
    config: StackConfig,
    name: str,
    *,
    hold_for: float | None = None,
    signal_name: str = "SIGTERM",
) -> dict:
    """Stop one supervised service and keep it down; return once its processes are gone.

    Parameters
    ----------
    config : StackConfig
        The stack.
    name : str
        The service (or ``scheduler``).
    hold_for : float, optional
        Seconds after which the supervisor starts it again (default: not before
        :func:`start_service`).
    signal_name : str
        The signal that stops it (``SIGKILL`` to stop it like a crash; SIGKILL follows
        SIGTERM after 10 s).

    Returns
    -------
    dict
        Its entry in ``stack.json`` (``state`` is ``held``).

    Raises
    ------
    NotRunning
        If the stack is not running.
    UnknownService
        If no supervised program is called ``name`` (the message lists them).
    """
    return _ask_supervisor(config, name, "stop", hold_for=hold_for, signal_name=signal_name)


def start_service(config: StackConfig, name: str, *, timeout: float = 60.0) -> dict:
    """End a hold of :func:`stop_service`, start the service at once, wait until it answers.

    Parameters
    ----------
    config : StackConfig
        The stack.
    name : str
        The service (or ``scheduler``).
    timeout : float
        Seconds to wait for it to answer.

    Returns
    -------
    dict
        Its entry in ``stack.json``.

    Raises
    ------
    NotRunning
        If the stack is not running.
    UnknownService
        If no supervised program is called ``name`` (the message lists them).
    RuntimeError
        If it does not come up (the message names its log).
    """
    entry = _ask_supervisor(config, name, "start")
    return wait_until_serving(config, {name: entry.get("restarts", 0)}, timeout)[name]


def _dead_letters(config: StackConfig, args: argparse.Namespace) -> int:
    """``bin/dev dead-letters``: print, drop or redrive the dead letters of the stack."""
    pubsub = _read_state(config).get("processes", {}).get("pubsub", {})
    if not _running(pubsub.get("pid")):
        print("dev: the stack is not running (no Pub/Sub emulator): bin/dev up", file=sys.stderr)
        return 3
    with stack_environment(config):
        return dead_letters_cli.run(
            config.project, redrive=args.redrive, ack=args.ack, limit=args.limit, prog="dev"
        )


#: The commands of ``bin/dev``, each with the line its help shows.
COMMANDS = {
    "up": "start the Firestore, Pub/Sub, Cloud Storage and Auth emulators with the data kept "
    "in .dev/data, apply infra/, start the supervisor with every service and the scheduler, "
    "and return once all of them answer (--in-memory: keep no data)",
    "down": "stop exactly what up started, the supervisor first; the data is kept "
    "(Firestore and Auth exported, Cloud Storage on disk; Pub/Sub messages are not)",
    "reset": "forget the kept data (.dev/data) and print what it was; refuses while the "
    "stack that uses it runs (bin/dev down first)",
    "status": "which of those processes run, with restarts and holds, and what data is kept "
    "(exit status 3 when any is not running)",
    "env": 'export lines for your shell: eval "$(bin/dev env)"',
    "restart": "restart NAME: stop one service and start it again at once (the emulators and "
    "their data stay); returns when it answers",
    "stop": "stop NAME [--for SECONDS]: stop one service and keep it down, for SECONDS or "
    "until start NAME",
    "start": "start NAME: end a stop's hold and start the service at once; returns when it answers",
    "dead-letters": "print messages that failed every delivery attempt (they stay; --ack "
    "drops them); --redrive [MESSAGE_ID] sends them back to their topics",
}

#: The end of ``bin/dev --help``, after the commands.
_EPILOG = "\n".join(
    textwrap.fill(paragraph, width=88)
    for paragraph in (
        "The supervisor restarts a service that dies after 1 s, 2 s, 4 s ... at most 30 s "
        "(back to 1 s once it stayed up 60 s), and logs each restart in "
        ".dev/logs/supervisor.log and in the service's own log.",
        "To keep a service down for 2 minutes (e.g. in a test): "
        "bin/dev stop record-image --for 120.",
        "Kept data: .dev/data/firestore (the last export), .dev/data/auth (the last export of "
        "the Auth emulator's users), .dev/data/storage (fake-gcs-server's files; buckets keep "
        "no old object versions there: --in-memory has them). Pub/Sub keeps no message: up "
        "announces uploads still in the incoming bucket again, and bin/reconcile re-queues "
        "the rest.",
        "Logs go to .dev/logs/<name>.log; what up started is recorded in .dev/stack.json. "
        f"{DEV_DIR_ENV} moves .dev elsewhere.",
    )
)

#: The commands that take a service NAME.
_SERVICE_COMMANDS = ("restart", "stop", "start")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``bin/dev``; its help lists :data:`COMMANDS`.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    name_width = max(len(name) for name in COMMANDS) + 2
    listing = "\n".join(
        textwrap.fill(
            f"{name.ljust(name_width)}{text}",
            width=88,
            initial_indent="  ",
            subsequent_indent=" " * (2 + name_width),
        )
        for name, text in COMMANDS.items()
    )
    parser = argparse.ArgumentParser(
        prog="bin/dev",
        description=summary(__doc__),
        epilog=f"commands:\n{listing}\n\n{_EPILOG}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", choices=list(COMMANDS), metavar="COMMAND", help="one of the commands below"
    )
    parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="with restart, stop, start: the service (bin/dev status lists them)",
    )
    parser.add_argument("--project", help=f"emulator project id (default {DEFAULT_PROJECT})")
    parser.add_argument(
        "--no-services",
        action="store_true",
        help="with up: start only the emulators, not the supervisor and the services",
    )
    parser.add_argument(
        "--in-memory",
        action="store_true",
        help="with up: keep the data in memory only (down forgets it), as the integration "
        "tests' stack does; the only way buckets keep old object versions locally",
    )
    parser.add_argument(
        "--for",
        dest="hold_for",
        type=float,
        metavar="SECONDS",
        help="with stop: start the service again after SECONDS (default: only on start NAME)",
    )
    parser.add_argument(
        "--signal",
        default="SIGTERM",
        help="with stop and restart: the signal that stops the service, e.g. SIGKILL for a "
        "crash (default %(default)s; SIGKILL follows after 10 s)",
    )
    dead_letters_cli.add_arguments(parser, prefix="with dead-letters: ")
    return parser


def _misused(args: argparse.Namespace) -> str | None:
    """Return what is wrong with the combination of command and options, or None."""
    if args.command in _SERVICE_COMMANDS and not args.name:
        return f"{args.command} needs the NAME of a service (bin/dev status lists them)"
    if args.command not in _SERVICE_COMMANDS and args.name:
        return f"{args.command} takes no NAME (got {args.name!r})"
    if args.hold_for is not None and args.command != "stop":
        return "--for goes with stop"
    if (args.no_services or args.in_memory) and args.command != "up":
        return "--no-services and --in-memory go with up"
    if args.hold_for is not None and args.hold_for < 0:
        return f"--for wants zero or more seconds, got {args.hold_for:g}"
    if args.signal != "SIGTERM" and args.command not in ("stop", "restart"):
        return "--signal goes with stop and restart"
    if args.signal.upper().removeprefix("SIG") not in {
        s.name.removeprefix("SIG") for s in signal.Signals
    }:
        return f"--signal: unknown signal {args.signal!r} (e.g. SIGTERM, SIGKILL)"
    dead_letter_options = args.redrive is not None or args.ack or args.limit != 100
    if dead_letter_options and args.command != "dead-letters":
        return "--redrive, --ack and --limit go with dead-letters"
    return dead_letters_cli.check_arguments(args)


def _service_command(config: StackConfig, args: argparse.Namespace) -> int:
    """``bin/dev restart | stop | start NAME``."""
    signal_name = args.signal.upper()
    signal_name = signal_name if signal_name.startswith("SIG") else f"SIG{signal_name}"
    processes = _read_state(config).get("processes", {})
    names = [n for n, p in processes.items() if p.get("supervised")] or [
        p.name for p in _service_programs(config, load())
    ]
    if args.name not in names:
        print(
            f"dev: no service {args.name!r}; the services are: {', '.join(names)}", file=sys.stderr
        )
        return 2
    began = time.monotonic()
    try:
        if args.command == "restart":
            entry = restart_service(config, args.name, signal_name=signal_name)
            print(
                f"dev: restarted {args.name} (pid {entry['pid']}) in "
                f"{time.monotonic() - began:.1f} s"
            )
        elif args.command == "stop":
            stop_service(config, args.name, hold_for=args.hold_for, signal_name=signal_name)
            until = (
                f"for {args.hold_for:g} s (or until bin/dev start {args.name})"
                if args.hold_for is not None
                else f"until bin/dev start {args.name}"
            )
            print(f"dev: stopped {args.name}; the supervisor keeps it down {until}")
        else:
            entry = start_service(config, args.name)
            print(f"dev: started {args.name} (pid {entry['pid']})")
    except NotRunning as exc:
        print(f"dev: {exc}", file=sys.stderr)
        return 3
    except UnknownService as exc:
        print(f"dev: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"dev: {exc}", file=sys.stderr)
        return 1
    return 0


def _configuration(args: argparse.Namespace) -> StackConfig:
    """Return the stack a command acts on.

    ``up`` starts the one its options describe (data in ``<state_dir>/data`` unless
    ``--in-memory``); any other command acts on the stack ``up`` recorded in the state folder
    (``.dev``, or ``PANOPTES_DEV_DIR``), else on the one ``up`` would start.
    """
    config = StackConfig.load(args.project)
    folder = os.environ.get(DEV_DIR_ENV, "").strip()
    if folder:
        config = dataclasses.replace(config, state_dir=Path(folder).resolve())
    recorded = StackConfig.recorded(config.state_dir)
    if (
        args.command not in ("up", "reset")
        and recorded is not None
        and args.project in (None, recorded.project)
    ):
        return recorded
    project = _read_state(config).get("project")
    if args.project is None and project and project != config.project:
        config = dataclasses.replace(StackConfig.load(project), state_dir=config.state_dir)
    data_dir = None if args.in_memory else config.state_dir / "data"
    return dataclasses.replace(config, data_dir=data_dir)


def _print_kept(config: StackConfig) -> None:
    """``bin/dev status``'s last line: what data the stack keeps, and where."""
    kept = config.kept
    if kept is None:
        print("data: in memory only (bin/dev down forgets it)")
    else:
        print(f"data kept in {_shown(kept.root)}: " + "; ".join(kept.describe()))


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/dev``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = _misused(args)
    if problem:
        parser.error(problem)
    config = _configuration(args)
    if args.command == "env":
        for key, value in stack_env(config).items():
            print(f"export {key}={value}")
        return 0
    if args.command == "up":
        try:
            up(config, services=not args.no_services)
        except MissingComponent as exc:
            print(f"dev: {exc}", file=sys.stderr)
            return 1
        except RuntimeError as exc:
            print(f"dev: {exc}", file=sys.stderr)
            return 1
        return 0
    if args.command == "down":
        down(config)
        return 0
    if args.command == "reset":
        try:
            forgotten = reset(config)
        except StillRunning as exc:
            print(f"dev: {exc}", file=sys.stderr)
            return 3
        kept = config.kept
        assert kept is not None
        if not forgotten:
            print(f"dev: nothing kept in {_shown(kept.root)}: nothing to forget")
            return 0
        print(f"dev: forgot the data kept in {_shown(kept.root)}:")
        for line in forgotten:
            print(f"  {line}")
        print("dev: the next bin/dev up starts empty")
        return 0
    if args.command in _SERVICE_COMMANDS:
        return _service_command(config, args)
    if args.command == "dead-letters":
        return _dead_letters(config, args)
    rows = status(config)
    if not rows:
        print("dev: stack is not running")
        _print_kept(config)
        return 3
    for name, row in rows.items():
        print(_status_line(name, row))
    _print_kept(config)
    return 0 if all(r["running"] for r in rows.values()) else 3


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader went away, e.g. bin/dev status | head -1
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
