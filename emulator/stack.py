"""The local emulator stack: Firestore, Pub/Sub, Cloud Storage and every service.

``bin/dev up`` starts the Firestore and Pub/Sub emulators of the Google Cloud CLI and
fake-gcs-server (publishing OBJECT_FINALIZE notifications to the Pub/Sub emulator), waits
until each answers, applies ``infra/resources.yaml``, then starts every service under
functions-framework on its own port, and returns with all of it running in the background.
``bin/dev down`` stops exactly the processes ``up`` started (their process groups, recorded in
``.dev/stack.json``). Logs go to ``.dev/logs/<name>.log``. Data lives in memory: ``down``
forgets it.
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
from infra.spec import Resources, load
from panoptes_network.cli import summary

__all__ = ["StackConfig", "stack_env", "stack_environment", "up", "down", "status"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROJECT = "demo-panoptes"


@dataclass(frozen=True)
class StackConfig:
    """Where the stack runs.

    Attributes
    ----------
    project : str
        Project id of the emulators (``PANOPTES_DEV_PROJECT``, default ``demo-panoptes``).
    firestore_port, pubsub_port, storage_port : int
        Ports from the ``emulators`` block of ``firebase.json``.
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
        """Read ports from firebase.json and the project from the environment."""
        emulators = json.loads((ROOT / "firebase.json").read_text())["emulators"]
        return cls(
            project=project or os.environ.get("PANOPTES_DEV_PROJECT", DEFAULT_PROJECT),
            firestore_port=int(emulators["firestore"]["port"]),
            pubsub_port=int(emulators["pubsub"]["port"]),
            storage_port=int(emulators["storage"]["port"]),
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
        ``GOOGLE_CLOUD_PROJECT`` and ``PANOPTES_PUBLIC_BASE_URL``.
    """
    storage = f"http://{config.host}:{config.storage_port}"
    return {
        "FIRESTORE_EMULATOR_HOST": f"{config.host}:{config.firestore_port}",
        "PUBSUB_EMULATOR_HOST": f"{config.host}:{config.pubsub_port}",
        "STORAGE_EMULATOR_HOST": storage,
        "GOOGLE_CLOUD_PROJECT": config.project,
        "PANOPTES_PUBLIC_BASE_URL": storage,
    }


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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_state(config: StackConfig) -> dict:
    try:
        return json.loads(config.state_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_state(config: StackConfig, state: dict) -> None:
    config.state_dir.mkdir(parents=True, exist_ok=True)
    config.state_file.write_text(json.dumps(state, indent=2))


def _start(config: StackConfig, state: dict, name: str, argv: list[str], env: dict) -> None:
    logs = config.state_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child
    process = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    state.setdefault("processes", {})[name] = {"pid": process.pid, "argv": argv}
    _write_state(config, state)


def _wait(
    name: str, ready: Callable[[], bool], timeout: float, config: StackConfig, state: dict
) -> None:
    deadline = time.monotonic() + timeout
    pid = state["processes"][name]["pid"]
    while time.monotonic() < deadline:
        if ready():
            return
        if not _alive(pid) or _exited(pid):
            raise RuntimeError(
                f"{name} exited during start-up; see {config.state_dir / 'logs' / (name + '.log')}"
            )
        time.sleep(0.2)
    raise RuntimeError(
        f"{name} did not answer within {timeout:.0f} s; see its log in {config.state_dir / 'logs'}"
    )


def _exited(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


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


def up(config: StackConfig, *, services: bool = True, say: Callable[[str], None] = print) -> None:
    """Start the stack and return with it running in the background.

    Parameters
    ----------
    config : StackConfig
        Where to run it.
    services : bool
        Also start every service of ``infra/resources.yaml``.
    say : callable
        Receives progress lines.

    Raises
    ------
    MissingComponent
        If a program is not installed (the message says how to install it).
    RuntimeError
        If a port is taken by something else or a component does not start; everything this
        call started is stopped again.
    """
    state = _read_state(config)
    running = {n: p for n, p in state.get("processes", {}).items() if _alive(p["pid"])}
    if running:
        say(f"dev: stack already running ({', '.join(running)}); `bin/dev down` first to restart")
        return
    resources = load()
    commands = _emulator_commands(config, resources)
    ports = [config.firestore_port, config.pubsub_port, config.storage_port]
    if services:
        ports += [s.local_port for s in resources.services.values()]
    taken = [p for p in ports if _port_open(config.host, p)]
    if taken:
        raise RuntimeError(
            f"port(s) {', '.join(map(str, taken))} on {config.host} are in use by "
            "another program; stop it or change firebase.json / infra ports"
        )
    env = {**os.environ, **stack_env(config), "PYTHONUNBUFFERED": "1"}
    state = {"project": config.project, "processes": {}}
    started = time.monotonic()
    try:
        for name, argv, _ in commands:
            _start(config, state, name, argv, env)
        for name, _, url in commands:
            _wait(name, lambda url=url: _http_answers(url), 60, config, state)
            say(f"dev: {name} emulator ready")
        from infra.apply import apply

        with stack_environment(config):
            apply(
                resources,
                config.project,
                emulator=True,
                endpoint=lambda name: resources.local_endpoint(name, config.host),
                say=lambda line: None,
            )
        say("dev: applied infra/resources.yaml")
        if services:
            for service in resources.services.values():
                argv = [
                    sys.executable,
                    "-m",
                    "functions_framework",
                    "--source",
                    str(ROOT / "services" / service.name / "main.py"),
                    "--target",
                    service.entry_point,
                    "--signature-type",
                    service.signature,
                    "--host",
                    config.host,
                    "--port",
                    str(service.local_port),
                ]
                _start(config, state, service.name, argv, env)
            for service in resources.services.values():
                _wait(
                    service.name,
                    lambda s=service: _http_answers(f"http://{config.host}:{s.local_port}/"),
                    60,
                    config,
                    state,
                )
            if resources.schedules:
                _start(
                    config,
                    state,
                    "scheduler",
                    [sys.executable, "-m", "emulator.scheduler", "--host", config.host],
                    env,
                )
            say(
                f"dev: {len(resources.services)} services ready: "
                + ", ".join(f"{s.name}:{s.local_port}" for s in resources.services.values())
            )
    except BaseException:
        down(config, say=lambda line: None)
        raise
    say(
        f"dev: stack up in {time.monotonic() - started:.1f} s (project {config.project}); "
        '`eval "$(bin/dev env)"` points your shell at it'
    )


def down(config: StackConfig, *, say: Callable[[str], None] = print) -> None:
    """Stop exactly the processes ``up`` started.

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
    for proc in reversed(list(processes.values())):
        pid = proc["pid"]
        if not _alive(pid):
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 10
    for name, proc in processes.items():
        pid = proc["pid"]
        while _alive(pid) and not _exited(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid) and not _exited(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
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
        Name to ``{"pid", "running"}``.
    """
    state = _read_state(config)
    return {
        name: {"pid": proc["pid"], "running": _alive(proc["pid"])}
        for name, proc in state.get("processes", {}).items()
    }


def _dead_letters(config: StackConfig, limit: int) -> int:
    """Print and acknowledge up to ``limit`` messages of the dead-letter subscription."""
    with stack_environment(config):
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        path = subscriber.subscription_path(config.project, "dead-letter")
        response = subscriber.pull(subscription=path, max_messages=limit, timeout=10)
        for received in response.received_messages:
            message = received.message
            print(
                json.dumps(
                    {
                        "attributes": dict(message.attributes),
                        "data": message.data.decode("utf-8", "replace"),
                    }
                )
            )
        if response.received_messages:
            ack_ids = [r.ack_id for r in response.received_messages]
            subscriber.acknowledge(subscription=path, ack_ids=ack_ids)
        else:
            print("dev: the dead-letter subscription is empty", file=sys.stderr)
    return 0


#: The commands of ``bin/dev``, each with the line its help shows.
COMMANDS = {
    "up": "start the Firestore, Pub/Sub and Cloud Storage emulators, apply infra/, start every "
    "service and the scheduler, and return with all of it running",
    "down": "stop exactly what up started (its data is forgotten)",
    "status": "which of those processes run (exit status 3 when any is not running)",
    "env": 'export lines for your shell: eval "$(bin/dev env)"',
    "dead-letters": "print (and acknowledge) messages that failed every delivery attempt",
}


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
        epilog=f"commands:\n{listing}\n\n"
        "Logs go to .dev/logs/<name>.log; what up started is recorded in .dev/stack.json.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", choices=list(COMMANDS), metavar="COMMAND", help="one of the commands below"
    )
    parser.add_argument("--project", help=f"emulator project id (default {DEFAULT_PROJECT})")
    parser.add_argument(
        "--no-services",
        action="store_true",
        help="with up: start only the emulators, not the services",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line of ``bin/dev``."""
    args = build_parser().parse_args(argv)
    config = StackConfig.load(args.project)
    if args.command == "env":
        state = _read_state(config)
        if state.get("project"):
            config = StackConfig.load(state["project"])
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
    if args.command == "dead-letters":
        return _dead_letters(config, 100)
    rows = status(config)
    if not rows:
        print("dev: stack is not running")
        return 3
    for name, row in rows.items():
        print(f"{name:20s} pid {row['pid']:>7}  {'running' if row['running'] else 'stopped'}")
    return 0 if all(r["running"] for r in rows.values()) else 3


if __name__ == "__main__":
    sys.exit(main())
