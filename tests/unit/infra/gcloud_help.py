"""Check gcloud command lines against ``gcloud ... --help`` of the installed Google Cloud CLI."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Command path to the flags its help lists, for every command checked so far.
_KNOWN: dict[tuple[str, ...], frozenset[str]] = {}


def needs_gcloud() -> None:
    """Skip the calling test when the Google Cloud CLI is not installed."""
    if shutil.which("gcloud") is None:
        pytest.skip("the Google Cloud CLI (gcloud) is not installed on this machine")


@functools.cache
def _help(words: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset[str]]:
    """Return the command path gcloud names for ``words`` and the flags its help lists."""
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "PAGER": "cat"}
    done = subprocess.run(
        ["gcloud", *words, "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    text = ANSI.sub("", done.stdout)
    assert done.returncode == 0, f"gcloud {' '.join(words)} --help: {done.stderr[-500:]}"
    name = text.split("NAME\n", 1)[1].strip().split(" - ", 1)[0].split()
    flags: set[str] = set()
    for negatable, flag in re.findall(r"--(\[no-\])?([a-z0-9][a-z0-9-]*)", text):
        flags.add(flag)
        if negatable:
            flags.add(f"no-{flag}")
    return tuple(name[1:]), frozenset(flags)


def problems(argv: list[str] | tuple[str, ...]) -> list[str]:
    """Return what gcloud's help says is wrong with a command line (empty when it is right).

    The command path must be a real gcloud command, and every ``--flag`` one its help lists.
    """
    assert argv[0] == "gcloud"
    words = tuple(a for a in argv[1:] if not a.startswith("--"))
    known = [path for path in _KNOWN if words[: len(path)] == path]
    if known:  # a leaf command is never a prefix of another: its help serves every name
        path, flags = known[0], _KNOWN[known[0]]
    else:
        path, flags = _help(words)
        _KNOWN[path] = flags
    found = []
    if tuple(words[: len(path)]) != path:
        found.append(f"{' '.join(words)} is not a gcloud command (help names {' '.join(path)})")
    for arg in argv[1:]:
        if arg.startswith("--"):
            flag = arg[2:].split("=", 1)[0]
            if flag not in flags:
                found.append(f"gcloud {' '.join(path)} has no --{flag}")
    return found
