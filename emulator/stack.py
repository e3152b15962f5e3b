"""The local emulator stack: Firestore, Pub/Sub, Cloud Storage and every service.

``bin/dev up`` starts the Firestore and Pub/Sub emulators of the Google Cloud CLI and
fake-gcs-server (publishing OBJECT_FINALIZE notifications to the Pub/Sub emulator), waits
until each answers, applies ``infra/resources.yaml``, then starts the supervisor
(:mod:`emulator.supervisor`), which runs every service under functions-framework on its own
port, and the scheduler, and restarts any of them that dies (backoff 1 s, 2 s, 4 s ... 30 s,
as Cloud Run would). ``up`` returns once every service answers HTTP, with all of it running
in the background. ``bin/dev down`` stops the supervisor first (it stops its services), then
exactly the other processes ``up`` started (their process groups, recorded in
``.dev/stack.json``). Logs go to ``.dev/logs/<name>.log``; restarts are logged in
``.dev/logs/supervisor.log`` too. Data lives in memory: ``down`` forgets it.

``bin/dev restart NAME`` stops one service and starts it again at once (the emulators and
their data stay), and returns when it answers. ``bin/dev stop NAME [--for SECONDS]`` stops one
and keeps it down (for SECONDS, or until ``bin/dev start NAME``), e.g. to test what happens
while record-image is away: ``bin/dev stop record-image --for 120``. From Python:
:func:`restart_service`, :func:`stop_service`, :func:`start_service`.
"""

from __future__ import annotations

import argparse
import json
import os
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

from emulator.components import MissingComponent, find_components
from emulator.identity import ensure_key
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
    "NotRunning",
    "UnknownService",
    "stack_env",
    "stack_environment",
    "up",
    "down",
    "status",
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
    host : str
        Address everything binds to.
    state_dir : Path
        Where the state file and logs go.
    """

    project: str
    firestore_port: int
    pubsub_port: int
    storage_port: int
    host: str = "127.0.0.1"
    state_dir: Path = ROOT / ".dev"

    @classmethod
    def load(cls, project: str | None = None) -> StackConfig:
        """Read the ports (firebase.json, :data:`STORAGE_PORT`) and the project (environment)."""
        emulators = json.loads((ROOT / "firebase.json").read_text())["emulators"]
        return cls(
            project=project or os.environ.get("PANOPTES_DEV_PROJECT", DEFAULT_PROJECT),
            firestore_port=int(emulators["firestore"]["port"]),
            pubsub_port=int(emulators["pubsub"]["port"]),
            storage_port=STORAGE_PORT,
            host=emulators["firestore"].get("host", "127.0.0.1"),
        )

    @property
    def state_file(self) -> Path:
        """The record of started processes."""
        return self.state_dir / "stack.json"


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
        ``PANOPTES_IDENTITY_CERTS_URL`` (the local JWKS the push relay serves), and the
        local URLs of get-fits-header (``PANOPTES_HEADER_SERVICE_URL``, which the explorer's
        pages show) and of the Data Explorer (``PANOPTES_EXPLORER_URL``).
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
    return {
        **services,
        "FIRESTORE_EMULATOR_HOST": f"{config.host}:{config.firestore_port}",
        "PUBSUB_EMULATOR_HOST": f"{config.host}:{config.pubsub_port}",
        "STORAGE_EMULATOR_HOST": storage,
        "GOOGLE_CLOUD_PROJECT": config.project,
        "PANOPTES_PUBLIC_BASE_URL": storage,
        "PANOPTES_IDENTITY_CERTS_URL": f"http://{config.host}:{relay}/jwks",
    }


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
    return True


def _exited(pid: int) -> bool:
    """Reap ``pid`` if it is a child of this process that has exited; return whether it had."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def _running(pid: int | None) -> bool:
    """Whether ``pid`` runs (a child of this process that exited is reaped, and is not)."""
    return pid is not None and _alive(pid) and not _exited(pid)


def _read_state(config: StackConfig) -> dict:
    return read_state(config.state_dir)


def _log_path(config: StackConfig, name: str) -> Path:
    return config.state_dir / "logs" / f"{name}.log"


def _start(config: StackConfig, name: str, argv: list[str], env: dict) -> int:
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
            cwd=ROOT,
            start_new_session=True,
        )

    def record(state: dict) -> None:
        state.setdefault("processes", {})[name] = {"pid": process.pid, "argv": argv}

    update_state(config.state_dir, record)
    return process.pid


def _wait(name: str, ready: Callable[[], bool], timeout: float, config: StackConfig) -> None:
    deadline = time.monotonic() + timeout
    pid = _read_state(config)["processes"][name]["pid"]
    while time.monotonic() < deadline:
        if ready():
            return
        if not _running(pid):
            raise RuntimeError(f"{name} exited during start-up; see {_log_path(config, name)}")
        time.sleep(0.2)
    raise RuntimeError(
        f"{name} did not answer within {timeout:.0f} s; see its log in {config.state_dir / 'logs'}"
    )


def _firestore_rules() -> str:
    """Return the Firestore rules file firebase.json names (the deployed one)."""
    return json.loads((ROOT / "firebase.json").read_text())["firestore"]["rules"]


def _emulator_commands(
    config: StackConfig, resources: Resources
) -> list[tuple[str, list[str], str]]:
    parts = find_components()
    host = config.host
    notes = resources.notifications
    if len(notes) > 1:
        print(
            "dev: fake-gcs-server publishes one bucket's notifications; "
            f"using {notes[0].bucket} -> {notes[0].topic}",
            file=sys.stderr,
        )
    storage = [
        str(parts.fake_gcs),
        "-scheme",
        "http",
        "-host",
        host,
        "-port",
        str(config.storage_port),
        "-backend",
        "memory",
        "-external-url",
        f"http://{host}:{config.storage_port}",
        "-public-host",
        f"{host}:{config.storage_port}",
        "-log-level",
        "warn",
    ]
    if notes:
        events = ",".join(e.removeprefix("OBJECT_").lower() for e in notes[0].events)
        storage += [
            "-event.pubsub-project-id",
            config.project,
            "-event.pubsub-topic",
            notes[0].topic,
            "-event.bucket",
            notes[0].bucket,
            "-event.list",
            events,
        ]
    return [
        (
            "firestore",
            [
                str(parts.java),
                "-Duser.language=en",
                "-cp",
                str(parts.firestore),
                "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                "start",
                f"--host={host}",
                f"--port={config.firestore_port}",
                "--database-mode=firestore-native",
                f"--rules={ROOT / _firestore_rules()}",
            ],
            f"http://{host}:{config.firestore_port}/",
        ),
        (
            "pubsub",
            [str(parts.pubsub), f"--host={host}", f"--port={config.pubsub_port}"],
            f"http://{host}:{config.pubsub_port}/",
        ),
        ("storage", storage, f"http://{host}:{config.storage_port}/storage/v1/b"),
    ]


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


def up(config: StackConfig, *, services: bool = True, say: Callable[[str], None] = print) -> None:
    """Start the stack and return with it running in the background.

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
    commands = _emulator_commands(config, resources)
    ports = [config.firestore_port, config.pubsub_port, config.storage_port]
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
    env = {**os.environ, **stack_env(config), "PYTHONUNBUFFERED": "1"}

    def fresh(state: dict) -> None:
        state.clear()
        state.update({"project": config.project, "processes": {}})

    update_state(config.state_dir, fresh)
    started = time.monotonic()
    try:
        for name, argv, _ in commands:
            _start(config, name, argv, env)
        for name, _, url in commands:
            _wait(name, lambda url=url: _http_answers(url), 60, config)
            say(f"dev: {name} emulator ready")
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
    except BaseException:
        down(config, say=lambda line: None)
        raise
    say(
        f"dev: stack up in {time.monotonic() - started:.1f} s (project {config.project}); "
        '`eval "$(bin/dev env)"` points your shell at it'
    )


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
    killed, or a service would not stop) are stopped from their recorded pids.

    Parameters
    ----------
    config : StackConfig
        The stack.
    say : callable
        Receives progress lines.
    """
    processes = _read_state(config).get("processes", {})
    if not processes:
        say("dev: nothing to stop")
        return
    supervisor = processes.get(SUPERVISOR)
    if supervisor is not None:
        # Its own grace for the services is 10 s; give it that and some.
        _terminate([supervisor["pid"]], 25)
        say(f"dev: stopped {SUPERVISOR}")
        processes = _read_state(config).get("processes", {})  # its last word on the pids
    rest = [(n, p["pid"]) for n, p in processes.items() if n != SUPERVISOR and p.get("pid")]
    _terminate([pid for _, pid in reversed(rest)], 10)
    for name, _ in rest:
        say(f"dev: stopped {name}")
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
    "up": "start the Firestore, Pub/Sub and Cloud Storage emulators, apply infra/, start the "
    "supervisor with every service and the scheduler, and return once all of them answer",
    "down": "stop exactly what up started, the supervisor first (its data is forgotten)",
    "status": "which of those processes run, with restarts and holds (exit status 3 when any "
    "is not running)",
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
        "Logs go to .dev/logs/<name>.log; what up started is recorded in .dev/stack.json.",
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


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/dev``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = _misused(args)
    if problem:
        parser.error(problem)
    config = StackConfig.load(args.project)
    state = _read_state(config)
    if args.project is None and state.get("project"):
        config = StackConfig.load(state["project"])
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
    if args.command in _SERVICE_COMMANDS:
        return _service_command(config, args)
    if args.command == "dead-letters":
        return _dead_letters(config, args)
    rows = status(config)
    if not rows:
        print("dev: stack is not running")
        return 3
    for name, row in rows.items():
        print(_status_line(name, row))
    return 0 if all(r["running"] for r in rows.values()) else 3


if __name__ == "__main__":
    sys.exit(main())
