"""Keep the services of the local stack running, as Cloud Run does: restart what dies.

``bin/dev up`` starts ``python -m emulator.supervisor`` as one background process. It starts
every program of its plan (``.dev/supervisor/plan.json``, written by ``up``: each service
under functions-framework, and the scheduler), each in its own process group with its output
appended to ``.dev/logs/<name>.log``, and watches them. A program that exits is started again
after a backoff of 1 s, 2 s, 4 s ... at most 30 s; the backoff starts over once a program has
stayed up for 60 s. Every exit and restart is a line in ``.dev/logs/supervisor.log`` (the
supervisor's output) and in the program's own log. The supervisor keeps ``.dev/stack.json``
current: the pid, restart count and state of every program it runs.

Commands reach it through request files in ``.dev/supervisor/requests/`` (written by
:func:`send_request`, used by ``bin/dev restart | stop | start``), read at every tick:

- ``restart NAME``: stop the program's process group (SIGTERM, SIGKILL after a grace) and
  start it again at once, without backoff.
- ``stop NAME [--for SECONDS]``: stop it and keep it down, for SECONDS or until ``start``.
- ``start NAME``: end a hold and start it at once if it is not running.

The supervisor stops the old process group completely before it starts the new one, so
exactly one copy of a program runs. It acknowledges each request in the program's entry of
``.dev/stack.json`` (``handled``: the request id). On SIGTERM or SIGINT (``bin/dev down``) it
stops every program and exits.

The decisions (:class:`Backoff`, :func:`next_attempt`, :func:`should_start`,
:func:`describe_exit`) are plain functions, so tests drive them without processes.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from panoptes_network.cli import summary

__all__ = [
    "Backoff",
    "DEFAULT_BACKOFF",
    "SUPERVISOR",
    "Program",
    "Request",
    "ACTIONS",
    "next_attempt",
    "should_start",
    "describe_exit",
    "read_state",
    "update_state",
    "write_plan",
    "read_plan",
    "send_request",
    "read_requests",
    "Supervisor",
    "build_parser",
    "main",
]

#: What a request may ask of the supervisor.
ACTIONS = ("restart", "stop", "start")
#: Name of the supervisor's own entry in ``stack.json``.
SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Backoff:
    """When to start a program again after it exited: exponential, capped, reset by a long run.

    Attributes
    ----------
    first : float
        Delay before the first restart of a run of failures, in seconds.
    factor : float
        Each further restart of the run waits this many times longer.
    cap : float
        The longest delay, in seconds.
    reset_after : float
        A program that stayed up this many seconds before it exited starts a new run of
        failures: its next restart waits ``first`` again.
    """

    first: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    reset_after: float = 60.0

    def delay(self, attempt: int) -> float:
        """Return the wait before restart number ``attempt`` of a run of failures.

        Parameters
        ----------
        attempt : int
            1 for the first restart after a good run, 2 for the next, and so on.

        Returns
        -------
        float
            ``min(cap, first * factor ** (attempt - 1))``, in seconds.

        Raises
        ------
        ValueError
            If ``attempt`` is less than 1.
        """
        if attempt < 1:
            raise ValueError(f"restart attempts count from 1, got {attempt}")
        # Past ~1000 doublings the power overflows a float; the cap has long been reached.
        return min(self.cap, self.first * self.factor ** min(attempt - 1, 1000))


#: The policy of the stack: 1 s, 2 s, 4 s ... 30 s; a run of 60 s starts over.
DEFAULT_BACKOFF = Backoff()


def next_attempt(backoff: Backoff, previous: int, uptime: float) -> int:
    """Return the attempt number of the restart that follows an exit.

    Parameters
    ----------
    backoff : Backoff
        The policy.
    previous : int
        The attempt number of the restart that started the program that exited (0 when it
        was started on purpose: by ``up``, ``restart`` or ``start``).
    uptime : float
        How long it ran before it exited, in seconds.

    Returns
    -------
    int
        1 after a run of at least ``backoff.reset_after`` seconds, else ``previous + 1``.
    """
    return 1 if uptime >= backoff.reset_after else previous + 1


def should_start(now: float, restart_at: float | None, held_until: float | None) -> bool:
    """Return whether a program that is not running should be started now.

    Parameters
    ----------
    now : float
        The clock, in seconds (the same clock as the other two).
    restart_at : float or None
        When its restart is due; None when none is scheduled.
    held_until : float or None
        The end of a hold asked for by ``stop``; ``math.inf`` until ``start``; None for no
        hold.

    Returns
    -------
    bool
        True when a restart is due and no hold is in force.
    """
    if held_until is not None and now < held_until:
        return False
    return restart_at is not None and now >= restart_at


def describe_exit(returncode: int) -> str:
    """Return how a process ended, for the logs.

    Parameters
    ----------
    returncode : int
        ``Popen.returncode``: the exit status, or minus the number of the signal that killed
        the process.

    Returns
    -------
    str
        ``exited with status N`` or ``killed by signal SIGNAME``.
    """
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = str(-returncode)
    return f"killed by signal {name}"


@dataclass(frozen=True)
class Program:
    """One program the supervisor keeps running.

    Attributes
    ----------
    name : str
        Its name: the key of its entry in ``stack.json`` and of its log ``logs/<name>.log``.
    argv : tuple of str
        The command line.
    port : int or None
        The TCP port it serves HTTP on (None for a program without one, e.g. the scheduler).
    cwd : str or None
        Its working directory (the supervisor's when None).
    env : tuple of (str, str)
        Variables added to the supervisor's environment for this program alone.
    """

    name: str
    argv: tuple[str, ...]
    port: int | None = None
    cwd: str | None = None
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Request:
    """What a command asks of the supervisor about one program.

    Attributes
    ----------
    id : str
        Unique, and ordered by time of sending.
    name : str
        The program.
    action : str
        One of :data:`ACTIONS`.
    hold_for : float or None
        With ``stop``: seconds to keep it down (None: until ``start``).
    signal : str
        With ``stop`` and ``restart``: the signal that stops it first (``SIGTERM``,
        ``SIGKILL`` ...); SIGKILL follows after the grace period.
    """

    id: str
    name: str
    action: str
    hold_for: float | None = None
    signal: str = "SIGTERM"


# ---------------------------------------------------------------------------------------
# Files: the state of the stack, the plan, the requests.


def _state_file(state_dir: Path) -> Path:
    return state_dir / "stack.json"


def read_state(state_dir: Path) -> dict[str, Any]:
    """Return the content of ``stack.json`` (empty when there is none).

    Parameters
    ----------
    state_dir : Path
        The stack's state folder (``.dev``).

    Returns
    -------
    dict
        ``{"project": ..., "processes": {name: {"pid": ..., ...}}}``.
    """
    try:
        return json.loads(_state_file(state_dir).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "stack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def update_state(state_dir: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Change ``stack.json`` under a lock, so ``up`` and the supervisor never undo each other.

    The file is replaced whole (write, then rename), so a reader without the lock never sees
    half of it.

    Parameters
    ----------
    state_dir : Path
        The stack's state folder.
    change : callable
        Receives the state and changes it in place.

    Returns
    -------
    dict
        The state as written.
    """
    with _locked(state_dir):
        state = read_state(state_dir)
        change(state)
        temporary = state_dir / f"stack.json.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, _state_file(state_dir))
    return state


def _plan_file(state_dir: Path) -> Path:
    return state_dir / "supervisor" / "plan.json"


def _requests_dir(state_dir: Path) -> Path:
    return state_dir / "supervisor" / "requests"


def write_plan(
    state_dir: Path,
    programs: Sequence[Program],
    backoff: Backoff = DEFAULT_BACKOFF,
    grace: float = 10.0,
) -> Path:
    """Write what the supervisor is to run, and clear any old requests.

    Parameters
    ----------
    state_dir : Path
        The stack's state folder.
    programs : sequence of Program
        What to keep running, in start order.
    backoff : Backoff
        The restart policy.
    grace : float
        Seconds a program gets to exit after SIGTERM before SIGKILL.

    Returns
    -------
    Path
        The plan file, ``<state_dir>/supervisor/plan.json``.
    """
    path = _plan_file(state_dir)
    requests = _requests_dir(state_dir)
    requests.mkdir(parents=True, exist_ok=True)
    for old in requests.iterdir():
        old.unlink(missing_ok=True)
    plan = {
        "programs": [asdict(p) for p in programs],
        "backoff": asdict(backoff),
        "grace": grace,
    }
    path.write_text(json.dumps(plan, indent=2))
    return path


def read_plan(state_dir: Path) -> tuple[list[Program], Backoff, float]:
    """Return the programs, the backoff and the grace period of :func:`write_plan`.

    Parameters
    ----------
    state_dir : Path
        The stack's state folder.

    Returns
    -------
    tuple of (list of Program, Backoff, float)
        What :func:`write_plan` was given.

    Raises
    ------
    FileNotFoundError
        If no plan was written.
    """
    plan = json.loads(_plan_file(state_dir).read_text())
    programs = [
        Program(
            p["name"],
            tuple(p["argv"]),
            p.get("port"),
            p.get("cwd"),
            tuple((key, value) for key, value in p.get("env") or ()),
        )
        for p in plan["programs"]
    ]
    return programs, Backoff(**plan.get("backoff", {})), float(plan.get("grace", 10.0))


def send_request(
    state_dir: Path,
    name: str,
    action: str,
    *,
    hold_for: float | None = None,
    signal_name: str = "SIGTERM",
) -> str:
    """Leave a request for the supervisor; it is handled at its next tick.

    Parameters
    ----------
    state_dir : Path
        The stack's state folder.
    name : str
        The program.
    action : str
        One of :data:`ACTIONS`.
    hold_for : float, optional
        With ``stop``: seconds to keep it down (default: until ``start``).
    signal_name : str
        The signal that stops it first (``SIGTERM`` by default).

    Returns
    -------
    str
        The request id; the program's entry in ``stack.json`` shows it as ``handled`` once
        the supervisor has done it.

    Raises
    ------
    ValueError
        For an unknown action or signal, or a negative ``hold_for``.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
    if hold_for is not None and not hold_for >= 0:
        raise ValueError(f"a hold lasts zero or more seconds, got {hold_for}")
    _signal_number(signal_name)
    request = Request(f"{time.time_ns():020d}-{os.getpid()}", name, action, hold_for, signal_name)
    folder = _requests_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{request.id}.tmp"
    temporary.write_text(json.dumps(asdict(request)))
    os.replace(temporary, folder / f"{request.id}.json")
    return request.id


def read_requests(state_dir: Path) -> list[tuple[Path, Request | None]]:
    """Return the waiting requests, oldest first (None for a file that does not parse).

    Parameters
    ----------
    state_dir : Path
        The stack's state folder.

    Returns
    -------
    list of (Path, Request or None)
        Each request file and what it asks.
    """
    folder = _requests_dir(state_dir)
    if not folder.is_dir():
        return []
    found: list[tuple[Path, Request | None]] = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append((path, Request(**json.loads(path.read_text()))))
        except (OSError, ValueError, TypeError):
            found.append((path, None))
    return found


def _signal_number(name: str) -> int:
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        raise ValueError(f"unknown signal {name!r} (e.g. SIGTERM, SIGKILL)") from None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------
# The supervisor.


@dataclass
class _Slot:
    """The supervisor's record of one program (times on the monotonic clock)."""

    program: Program
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    attempt: int = 0
    restart_at: float | None = None
    held_until: float | None = None
    restarts: int = 0
    last_exit: str | None = None
    handled: str | None = None


class Supervisor:
    """Start programs, watch them, and start them again when they exit.

    Parameters
    ----------
    state_dir : Path
        The stack's state folder: ``stack.json``, ``logs/``, ``supervisor/``.
    programs : sequence of Program
        What to keep running.
    backoff : Backoff
        The restart policy.
    grace : float
        Seconds a program gets to exit after its first signal before SIGKILL.
    tick : float
        Seconds between two looks at the programs and the requests.
    say : callable
        Receives each log line (the supervisor's log).
    clock : callable
        The monotonic clock, in seconds.
    """

    def __init__(
        self,
        state_dir: Path,
        programs: Sequence[Program],
        backoff: Backoff = DEFAULT_BACKOFF,
        *,
        grace: float = 10.0,
        tick: float = 0.1,
        say: Callable[[str], None] = lambda line: print(line, flush=True),
        clock: Callable[[], float] = time.monotonic,
    ):
        self.state_dir = state_dir
        self.backoff = backoff
        self.grace = grace
        self.tick_seconds = tick
        self.say = say
        self.clock = clock
        self.slots = {p.name: _Slot(p) for p in programs}
        self.stopping = False
        #: Whether something changed since ``stack.json`` was last written.
        self.dirty = True

    # -- logging ------------------------------------------------------------------------

    def _log_path(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def _log(self, slot: _Slot, text: str) -> None:
        """Write a line to the supervisor's log and to the program's own log."""
        stamp = _utc_now()
        self.say(f"{stamp} {slot.program.name} {text}")
        with open(self._log_path(slot.program.name), "a") as log:
            log.write(f"--- supervisor {stamp}: {text} ---\n")

    # -- processes ------------------------------------------------------------------------

    def _launch(self, slot: _Slot) -> None:
        """Start the program; a program that cannot be started counts as one that exited."""
        self._log_path(slot.program.name).parent.mkdir(parents=True, exist_ok=True)
        with open(self._log_path(slot.program.name), "ab") as log:
            try:
                slot.process = subprocess.Popen(
                    list(slot.program.argv),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=slot.program.cwd,
                    env={**os.environ, **dict(slot.program.env)} if slot.program.env else None,
                    start_new_session=True,
                )
            except OSError as exc:
                slot.process = None
                self._after_exit(slot, f"could not be started ({exc})", uptime=0.0)
                return
        slot.started_at = self.clock()
        slot.restart_at = None
        self.dirty = True

    def _stop(self, slot: _Slot, signal_name: str = "SIGTERM") -> str | None:
        """Stop the program's whole process group and wait until it is gone.

        Returns how it ended, or None when it was not running.
        """
        process = slot.process
        if process is None:
            return None
        pgid = process.pid
        try:
            os.killpg(pgid, _signal_number(signal_name))
        except ProcessLookupError:
            pass
        deadline = self.clock() + self.grace
        while self.clock() < deadline:
            if process.poll() is not None and not _group_alive(pgid):
                break
            time.sleep(0.02)
        else:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            while _group_alive(pgid) and self.clock() < deadline + self.grace:
                time.sleep(0.02)
        slot.process = None
        return describe_exit(process.returncode)

    def _after_exit(self, slot: _Slot, how: str, uptime: float) -> None:
        """Log an exit nobody asked for and schedule the restart."""
        slot.attempt = next_attempt(self.backoff, slot.attempt, uptime)
        delay = self.backoff.delay(slot.attempt)
        slot.restart_at = self.clock() + delay
        slot.restarts += 1
        slot.last_exit = how
        self.dirty = True
        self._log(slot, f"{how} after {uptime:.1f} s; restart {slot.attempt} in {delay:.1f} s")

    def _reap(self, slot: _Slot) -> None:
        process = slot.process
        if process is None or process.poll() is None:
            return
        slot.process = None
        try:  # what the leader left behind in its group (e.g. gunicorn workers)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._after_exit(slot, describe_exit(process.returncode), self.clock() - slot.started_at)

    # -- requests -----------------------------------------------------------------------

    def _handle(self, request: Request) -> None:
        slot = self.slots.get(request.name)
        if slot is None:
            self.say(f"{_utc_now()} request {request.id}: no program {request.name!r}; ignored")
            return
        self._reap(slot)
        if request.action == "start":
            slot.held_until = None
            if slot.process is None:
                slot.attempt = 0
                self._log(slot, "start requested; starting")
                self._launch(slot)
            else:
                self._log(slot, "start requested; already running")
        elif request.action == "restart":
            how = self._stop(slot, request.signal)
            slot.held_until = None
            slot.attempt = 0
            self._log(slot, f"restart requested; {how or 'was not running'}; starting again")
            self._launch(slot)
        elif request.action == "stop":
            how = self._stop(slot, request.signal)
            slot.restart_at = None
            slot.attempt = 0
            if request.hold_for is None:
                slot.held_until = math.inf
                hold = "held until start"
            else:
                slot.held_until = self.clock() + request.hold_for
                hold = f"held for {request.hold_for:g} s"
            self._log(
                slot, f"stop requested ({request.signal}); {how or 'was not running'}; {hold}"
            )
        slot.handled = request.id
        self.dirty = True

    # -- the loop -------------------------------------------------------------------------

    def _entry(self, slot: _Slot) -> dict[str, Any]:
        """Return the program's entry in ``stack.json`` (times as Unix time, seconds)."""

        def wall(moment: float | None) -> float | None:
            if moment is None or math.isinf(moment):
                return None
            return time.time() + (moment - self.clock())

        if slot.process is not None:
            state = "running"
        elif self.stopping:
            state = "stopped"
        elif slot.held_until is not None:
            state = "held"
        else:
            state = "waiting"
        return {
            "pid": slot.process.pid if slot.process is not None else None,
            "argv": list(slot.program.argv),
            "port": slot.program.port,
            "supervised": True,
            "state": state,
            "restarts": slot.restarts,
            "last_exit": slot.last_exit,
            "restart_at": wall(slot.restart_at),
            "held_until": wall(slot.held_until),
            "handled": slot.handled,
        }

    def _publish(self) -> None:
        """Write every program's entry into ``stack.json`` if anything changed."""
        if not self.dirty:
            return
        self.dirty = False

        def change(state: dict[str, Any]) -> None:
            processes = state.setdefault("processes", {})
            for name, slot in self.slots.items():
                previous = processes.get(name, {})
                entry = self._entry(slot)
                if entry["pid"] is None:
                    # Keep the last pid: bin/dev status shows it as stopped.
                    entry["pid"] = previous.get("pid")
                processes[name] = entry

        update_state(self.state_dir, change)

    def start_all(self) -> None:
        """Start every program (its log is started afresh) and record them."""
        for slot in self.slots.values():
            path = self._log_path(slot.program.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
            self._launch(slot)
        self._publish()

    def tick(self) -> None:
        """Handle waiting requests, notice exits, start what is due; record the result."""
        for path, request in read_requests(self.state_dir):
            if request is not None:
                self._handle(request)
            path.unlink(missing_ok=True)
        for slot in self.slots.values():
            self._reap(slot)
            now = self.clock()
            if slot.held_until is not None and now >= slot.held_until:
                slot.held_until = None
                slot.attempt = 0
                slot.restart_at = now
                self.dirty = True
                self._log(slot, "hold over; starting")
            if slot.process is None and should_start(now, slot.restart_at, slot.held_until):
                self._launch(slot)
        self._publish()

    def stop_all(self) -> None:
        """Stop every program (SIGTERM to all at once, then SIGKILL after the grace)."""
        self.stopping = True
        running = [s for s in self.slots.values() if s.process is not None]
        for process in [s.process for s in running if s.process is not None]:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for slot in running:
            how = self._stop(slot, "SIGTERM")
            self._log(slot, f"supervisor stopping; {how}")
        self.dirty = True
        self._publish()

    def run(self) -> None:
        """Start everything and supervise until SIGTERM or SIGINT; then stop everything."""

        def stop(signum: int, frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.say(f"{_utc_now()} supervisor {os.getpid()} starting {', '.join(self.slots)}")
        self.start_all()
        while not self.stopping:
            time.sleep(self.tick_seconds)
            if self.stopping:
                break
            try:
                self.tick()
            except Exception:  # one bad tick must not leave the stack unwatched
                self.say(f"{_utc_now()} supervisor: tick failed:\n{traceback.format_exc()}")
                time.sleep(1.0)
        self.stop_all()
        self.say(f"{_utc_now()} supervisor {os.getpid()} stopped")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m emulator.supervisor``.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="python -m emulator.supervisor",
        description=summary(__doc__),
        epilog="bin/dev up starts it; bin/dev restart | stop | start NAME send it requests; "
        "bin/dev down stops it (and with it every program it runs).",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        required=True,
        help="the stack's state folder: stack.json, logs/, supervisor/plan.json",
    )
    parser.add_argument(
        "--tick",
        type=float,
        default=0.1,
        help="seconds between two looks at the programs and requests (default %(default)s)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line: supervise the plan of ``--state-dir`` until SIGTERM."""
    args = build_parser().parse_args(argv)
    try:
        programs, backoff, grace = read_plan(args.state_dir)
    except FileNotFoundError:
        print(
            f"supervisor: no plan in {_plan_file(args.state_dir)}; bin/dev up writes it",
            file=sys.stderr,
        )
        return 2
    Supervisor(args.state_dir, programs, backoff, grace=grace, tick=args.tick).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
