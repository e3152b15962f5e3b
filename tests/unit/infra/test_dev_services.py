"""bin/dev restart | stop | start NAME on a supervisor of small local HTTP servers.

Each test runs ``python -m emulator.supervisor`` under a temporary state folder, with one
``python -m http.server`` on a free port standing in for a service.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator import stack
from emulator.stack import (
    ROOT,
    NotRunning,
    StackConfig,
    UnknownService,
    _misused,
    _service_programs,
    _status_line,
    build_parser,
    restart_service,
    start_service,
    start_supervisor,
    status,
    stop_service,
    wait_until_serving,
)
from emulator.supervisor import Backoff, Program
from infra.spec import load

#: Restarts after a crash wait 0.1 s.
FAST = Backoff(first=0.1, factor=2.0, cap=0.4, reset_after=30.0)
#: Restarts after a crash wait 5 s: anything quicker did not go through the backoff.
SLOW = Backoff(first=5.0, factor=2.0, cap=30.0, reset_after=60.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
            return True
    except OSError:
        return False


def _pids(starts: Path) -> list[int]:
    return [int(line) for line in starts.read_text().split()] if starts.exists() else []


def _web(port: int, starts: Path, root: Path) -> Program:
    """An HTTP server on ``port`` that appends its pid to ``starts`` when it starts."""
    script = (
        "import os, runpy, sys; "
        "open(sys.argv[1], 'a').write(f'{os.getpid()}\\n'); "
        "port, root = sys.argv[2:4]; "
        "sys.argv = ['http.server', port, '--bind', '127.0.0.1', '--directory', root]; "
        "runpy.run_module('http.server', run_name='__main__')"
    )
    return Program("web", (sys.executable, "-c", script, str(starts), str(port), str(root)), port)


@pytest.fixture
def web(config: StackConfig, tmp_path: Path) -> Callable[[Backoff], tuple[int, Path]]:
    """Start a supervisor of one HTTP server "web"; return its port and its starts file."""

    def start(backoff: Backoff) -> tuple[int, Path]:
        port, starts = _free_port(), tmp_path / "starts"
        start_supervisor(
            config, [_web(port, starts, tmp_path)], backoff=backoff, grace=2.0, tick=0.02
        )
        wait_until_serving(config, {"web": 0}, timeout=10)
        assert _answers(port) and len(_pids(starts)) == 1
        return port, starts

    return start


def test_restart_leaves_exactly_one_copy_answering_without_backoff(config, web):
    port, starts = web(SLOW)
    before = status(config)["web"]["pid"]

    began = time.monotonic()
    entry = restart_service(config, "web")
    took = time.monotonic() - began

    assert took < SLOW.first, f"restart took {took:.1f} s: it went through the backoff"
    assert entry["pid"] != before and not _alive(before)
    pids = _pids(starts)
    assert len(pids) == 2
    assert [pid for pid in pids if _alive(pid)] == [entry["pid"]]
    assert _answers(port)
    assert status(config)["web"]["restarts"] == 0  # a restart on request is not a crash
    log = (config.state_dir / "logs" / "supervisor.log").read_text()
    assert "web restart requested" in log


def test_stop_keeps_a_service_down_until_start(config, web):
    port, starts = web(FAST)
    before = status(config)["web"]["pid"]

    entry = stop_service(config, "web")

    assert entry["state"] == "held" and not _alive(before)
    time.sleep(5 * FAST.first)  # a crash would have been restarted by now
    assert _pids(starts) == [before] and not _answers(port)
    row = status(config)["web"]
    assert not row["running"] and row["state"] == "held" and row["held_until"] is None
    assert "bin/dev start web" in _status_line("web", row)

    entry = start_service(config, "web")

    assert entry["pid"] != before and _answers(port)
    assert len(_pids(starts)) == 2


def test_stop_for_brings_the_service_back_when_the_hold_ends(config, web):
    port, starts = web(FAST)
    before = status(config)["web"]["pid"]
    hold = 1.0

    began = time.monotonic()
    stop_service(config, "web", hold_for=hold)

    time.sleep(hold / 2)
    assert not _answers(port) and _pids(starts) == [before]
    assert status(config)["web"]["held_until"] > time.time()
    wait_until_serving(config, {"web": 0}, timeout=5)
    assert time.monotonic() - began >= hold
    assert _answers(port) and len(_pids(starts)) == 2
    log = (config.state_dir / "logs" / "supervisor.log").read_text()
    assert "web stop requested (SIGTERM)" in log and "web hold over; starting" in log


def test_stop_with_sigkill_stops_it_like_a_crash_would(config, web):
    _, starts = web(FAST)
    stop_service(config, "web", hold_for=60, signal_name="SIGKILL")
    assert not _alive(_pids(starts)[0])
    log = (config.state_dir / "logs" / "web.log").read_text()
    assert "killed by signal SIGKILL; held for 60 s" in log


def test_a_service_that_dies_at_start_up_fails_the_wait_at_once(config, tmp_path):
    broken = Program("broken", (sys.executable, "-c", "raise SystemExit(7)"), port=_free_port())
    start_supervisor(config, [broken], backoff=SLOW, grace=2.0, tick=0.02)
    began = time.monotonic()
    with pytest.raises(
        RuntimeError, match=r"broken exited with status 7 during start-up.*broken\.log"
    ):
        wait_until_serving(config, {"broken": 0}, timeout=30)
    assert time.monotonic() - began < 5


def test_requests_without_a_stack_or_for_an_unknown_service_say_what_to_do(config, web):
    with pytest.raises(NotRunning, match="bin/dev up"):
        restart_service(StackConfig("unit", 1, 2, 3, state_dir=config.state_dir / "none"), "web")
    web(FAST)
    with pytest.raises(
        UnknownService, match="no service 'record-image'; the supervised ones are: web"
    ):
        stop_service(config, "record-image")


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["restart"], "needs the NAME"),
        (["status", "web"], "takes no NAME"),
        (["up", "--for", "3"], "--for goes with stop"),
        (["stop", "web", "--for", "-1"], "zero or more seconds"),
        (["start", "web", "--signal", "SIGKILL"], "--signal goes with stop and restart"),
        (["stop", "web", "--signal", "SIGNOPE"], "unknown signal"),
        (["status", "--redrive"], "go with dead-letters"),
        (["dead-letters", "--redrive", "--ack"], "do not go together"),
    ],
)
def test_the_command_line_refuses_options_that_do_not_fit(argv, says):
    problem = _misused(build_parser().parse_args(argv))
    assert problem is not None and says in problem


@pytest.mark.parametrize(
    "argv",
    [
        ["stop", "record-image", "--for", "120"],
        ["stop", "record-image", "--signal", "KILL"],
        ["restart", "record-image"],
        ["dead-letters", "--redrive"],
        ["dead-letters", "--redrive", "1234"],
        ["status"],
    ],
)
def test_the_command_line_takes_what_fits(argv):
    assert _misused(build_parser().parse_args(argv)) is None


def test_up_has_the_supervisor_run_every_service_on_its_port_and_the_scheduler(tmp_path):
    resources = load()
    assert resources.schedules  # else there is no scheduler to run
    config = dataclasses.replace(StackConfig.load(), state_dir=tmp_path)
    programs = {p.name: p for p in _service_programs(config, resources)}
    assert set(programs) == {*resources.services, "scheduler", "push-relay"}
    relay = programs["push-relay"]
    assert relay.port == resources.push_relay_port
    assert (tmp_path / "identity" / "key.pem").is_file()  # the stack's signing key
    assert relay.argv[relay.argv.index("--identity") + 1] == str(tmp_path / "identity")
    record = programs["record-image"]
    assert record.port == resources.services["record-image"].local_port
    assert record.argv[1:3] == ("-m", "functions_framework")
    assert record.argv[record.argv.index("--port") + 1] == str(record.port)
    assert record.argv[record.argv.index("--source") + 1] == str(
        ROOT / "services" / "record-image" / "main.py"
    )
    assert programs["scheduler"].port is None
    assert programs["scheduler"].argv[1:3] == ("-m", "emulator.scheduler")


@pytest.fixture
def no_stack(monkeypatch, tmp_path) -> StackConfig:
    """``bin/dev``'s configuration, pointed at an empty state folder under tmp_path."""
    config = StackConfig("unit", 1, 2, 3, state_dir=tmp_path / "empty")
    monkeypatch.setattr(stack.StackConfig, "load", classmethod(lambda cls, project=None: config))
    return config


def test_bin_dev_names_the_services_when_asked_for_an_unknown_one(no_stack, capsys):
    assert stack.main(["restart", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no service 'nope'" in err and "record-image" in err and "scheduler" in err
    assert not (no_stack.state_dir / "supervisor" / "requests").exists()


def test_bin_dev_says_when_the_stack_is_not_running(no_stack, capsys):
    assert stack.main(["stop", "record-image", "--for", "120"]) == 3
    assert "not running" in capsys.readouterr().err
    assert not (no_stack.state_dir / "supervisor" / "requests").exists()
