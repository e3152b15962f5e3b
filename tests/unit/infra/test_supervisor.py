"""The supervisor of the local stack: its backoff, its requests, and real processes it restarts.

The process tests run ``python -m emulator.supervisor`` on short-lived Python children under a
temporary state folder, with backoffs of a tenth of a second.
"""

from __future__ import annotations

import math
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from emulator.stack import StackConfig, down, start_supervisor, status
from emulator.supervisor import (
    DEFAULT_BACKOFF,
    Backoff,
    Program,
    describe_exit,
    next_attempt,
    read_requests,
    read_state,
    send_request,
    should_start,
)

#: Fast enough for unit tests, slow enough to measure: 0.1 s, 0.2 s, 0.4 s, 0.4 s ...
FAST = Backoff(first=0.1, factor=2.0, cap=0.4, reset_after=30.0)


def test_the_backoff_doubles_from_one_second_up_to_thirty():
    assert [DEFAULT_BACKOFF.delay(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert DEFAULT_BACKOFF.delay(100_000) == 30
    with pytest.raises(ValueError, match="count from 1"):
        DEFAULT_BACKOFF.delay(0)


def test_a_long_enough_run_starts_the_backoff_over():
    assert DEFAULT_BACKOFF.reset_after == 60
    assert next_attempt(DEFAULT_BACKOFF, previous=4, uptime=59.9) == 5
    assert next_attempt(DEFAULT_BACKOFF, previous=4, uptime=60.0) == 1
    # Started on purpose (attempt 0) and dead at once: the first delay, not a reset.
    assert next_attempt(DEFAULT_BACKOFF, previous=0, uptime=0.1) == 1


@pytest.mark.parametrize(
    ("now", "restart_at", "held_until", "start"),
    [
        (10.0, None, None, False),  # nothing scheduled (running, or stopped for good)
        (10.0, 10.5, None, False),  # restart not due yet
        (10.0, 10.0, None, True),  # due
        (10.0, 5.0, 20.0, False),  # due, but held
        (10.0, 5.0, math.inf, False),  # held until start
        (20.0, 5.0, 20.0, True),  # the hold is over
    ],
)
def test_should_start_waits_for_the_restart_and_honours_a_hold(now, restart_at, held_until, start):
    assert should_start(now, restart_at, held_until) is start


def test_exits_are_described_by_status_or_signal():
    assert describe_exit(3) == "exited with status 3"
    assert describe_exit(0) == "exited with status 0"
    assert describe_exit(-signal.SIGKILL) == "killed by signal SIGKILL"
    assert describe_exit(-250) == "killed by signal 250"


def test_requests_are_read_oldest_first_and_a_broken_one_is_skipped(tmp_path: Path):
    first = send_request(tmp_path, "web", "stop", hold_for=120)
    second = send_request(tmp_path, "web", "start")
    (tmp_path / "supervisor" / "requests" / f"{second}x.json").write_text("{not json")
    found = read_requests(tmp_path)
    assert [r.id if r else None for _, r in found] == [first, second, None]
    assert found[0][1] is not None and found[0][1].hold_for == 120
    with pytest.raises(ValueError, match="unknown action"):
        send_request(tmp_path, "web", "reboot")
    with pytest.raises(ValueError, match="unknown signal"):
        send_request(tmp_path, "web", "stop", signal_name="SIGNOPE")


# --- real processes ---------------------------------------------------------------------


def _eventually(what: str, check: Callable[[], object], timeout: float = 5.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _recording(script: str, starts: Path) -> tuple[str, ...]:
    """A Python child that appends ``<pid> <monotonic time>`` to ``starts``, then runs."""
    prologue = (
        "import os, sys, time; "
        "open(sys.argv[1], 'a').write(f'{os.getpid()} {time.monotonic()}\\n'); "
    )
    return (sys.executable, "-c", prologue + script, str(starts))


def _starts(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    complete = path.read_text().split("\n")[:-1]  # a line still being written is not counted
    return [(int(p), float(t)) for p, t in (line.split() for line in complete)]


def test_a_crashing_program_is_restarted_with_growing_delays_and_each_restart_is_logged(
    config: StackConfig, tmp_path: Path
):
    starts = tmp_path / "starts"
    crash = Program("crash", _recording("print('crashing', flush=True); sys.exit(3)", starts))
    start_supervisor(config, [crash], backoff=FAST, grace=2.0, tick=0.02)
    logs = config.state_dir / "logs"
    _eventually("the fifth start", lambda: len(_starts(starts)) >= 5)

    times = [t for _, t in _starts(starts)][:5]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Each gap is the backoff delay plus the child's own life (start-up, exit).
    for gap, delay in zip(gaps, [0.1, 0.2, 0.4, 0.4], strict=True):
        assert gap >= delay, f"restart after {gap:.3f} s, backoff says {delay} s: {gaps}"
    supervisor_log = (logs / "supervisor.log").read_text()
    exits = [line for line in supervisor_log.splitlines() if " crash exited with status 3 " in line]
    schedule = [re.search(r"restart (\d+) in ([\d.]+) s$", line).groups() for line in exits]
    assert schedule[:4] == [("1", "0.1"), ("2", "0.2"), ("3", "0.4"), ("4", "0.4")], exits
    own_log = (logs / "crash.log").read_text()
    assert own_log.count("crashing") >= 4
    assert "--- supervisor " in own_log and "exited with status 3" in own_log
    assert "restart 2 in 0.2 s" in own_log
    row = status(config)["crash"]
    assert row["restarts"] >= 4 and row["last_exit"] == "exited with status 3"


def test_a_killed_program_is_restarted_and_the_signal_is_named(config: StackConfig, tmp_path: Path):
    starts = tmp_path / "starts"
    sleeper = Program("sleeper", _recording("time.sleep(60)", starts))
    start_supervisor(config, [sleeper], backoff=FAST, grace=2.0, tick=0.02)
    _eventually("the first start", lambda: len(_starts(starts)) == 1)
    first = status(config)["sleeper"]["pid"]
    assert first == _starts(starts)[0][0]

    os.killpg(first, signal.SIGKILL)

    def restarted() -> bool:
        row = status(config)["sleeper"]
        return row["running"] and row["pid"] != first

    _eventually("the restart", restarted)
    _eventually("the second start", lambda: len(_starts(starts)) == 2)
    assert not _alive(first)
    assert _starts(starts)[1][0] == status(config)["sleeper"]["pid"]
    log = (config.state_dir / "logs" / "supervisor.log").read_text()
    assert "sleeper killed by signal SIGKILL after" in log and "restart 1 in 0.1 s" in log


def test_down_stops_the_supervisor_first_so_nothing_comes_back(config: StackConfig, tmp_path: Path):
    starts = tmp_path / "starts"
    programs = [
        Program("one", _recording("time.sleep(60)", starts)),
        Program("two", _recording("time.sleep(60)", starts)),
    ]
    supervisor = start_supervisor(config, programs, backoff=FAST, grace=2.0, tick=0.02)
    _eventually("both running", lambda: len(_starts(starts)) == 2)
    pids = [pid for pid, _ in _starts(starts)]
    assert all(_alive(pid) for pid in pids)

    down(config, say=lambda line: None)

    time.sleep(3 * FAST.first)  # long enough for a restart, had the supervisor been alive
    assert not _alive(supervisor)
    assert not any(_alive(pid) for pid in pids)
    assert len(_starts(starts)) == 2, "a program was started again after down"
    assert read_state(config.state_dir) == {}


def test_a_program_gets_its_own_variables_and_only_it(config: StackConfig, tmp_path: Path):
    seen = tmp_path / "seen"
    script = (
        "open(sys.argv[1], 'a').write(os.environ.get('PANOPTES_ACCESS', '-') + '\\n'); "
        "time.sleep(60)"
    )
    with_env = Program("with", _recording(script, seen), env=(("PANOPTES_ACCESS", "mine"),))
    other = tmp_path / "other"
    without = Program("without", _recording(script, other))
    start_supervisor(config, [with_env, without], backoff=FAST, grace=2.0, tick=0.02)
    try:
        _eventually("both children", lambda: len(_lines(seen)) >= 2 and len(_lines(other)) >= 2)
        assert _lines(seen)[1] == "mine"
        assert _lines(other)[1] == "-"
    finally:
        down(config)


def _lines(path: Path) -> list[str]:
    return path.read_text().split("\n")[:-1] if path.exists() else []
