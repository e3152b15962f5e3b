"""Fixtures of the local-stack tests: a stack under tmp_path that leaves no process behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.stack import StackConfig, down
from emulator.supervisor import read_state


def _started_pids(config: StackConfig, tmp_path: Path) -> set[int]:
    """Every pid the stack recorded, every pid a test child wrote to a ``starts`` file, and
    every process whose command line names this test's state folder (the supervisor)."""
    pids = {p.get("pid") for p in read_state(config.state_dir).get("processes", {}).values()}
    for starts in tmp_path.glob("starts*"):
        pids.update(int(line.split()[0]) for line in starts.read_text().splitlines() if line)
    marker = str(config.state_dir).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes():
                pids.add(int(cmdline.parent.name))
        except OSError:
            continue
    return {pid for pid in pids if pid and pid != os.getpid()}


@pytest.fixture
def config(tmp_path: Path) -> Iterator[StackConfig]:
    """A stack whose state and logs live under tmp_path.

    At the end ``down`` stops it; whatever is still alive afterwards (``down`` is what a test
    may have broken) is killed, so a failing test leaves no process behind.
    """
    config = StackConfig("unit", 1, 2, 3, state_dir=tmp_path / "dev")
    yield config
    pids = _started_pids(config, tmp_path)
    down(config, say=lambda line: None)
    for pid in pids | _started_pids(config, tmp_path):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
