"""Run ``gcloud`` and read its JSON: the one door of ``infra.apply`` to a real project."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Gcloud", "GcloudError", "Outcome", "Shell"]


@dataclass(frozen=True)
class Outcome:
    """What one command did: exit status and its output."""

    status: int
    stdout: str = ""
    stderr: str = ""


class GcloudError(RuntimeError):
    """A ``gcloud`` command failed; the message names the command and gcloud's words."""


class Gcloud(Protocol):
    """Something that runs ``gcloud`` command lines (the real CLI, or a fake project)."""

    def __call__(self, argv: list[str]) -> Outcome:
        """Run one command line (``argv[0] == "gcloud"``) and return what it did."""
        ...


class Shell:
    """Runs the installed ``gcloud``, without prompts.

    Parameters
    ----------
    timeout : float
        Seconds one command may take.
    """

    def __init__(self, timeout: float = 600.0) -> None:
        self.timeout = timeout

    def __call__(self, argv: list[str]) -> Outcome:
        """Run ``argv`` and return its status and output (never raises on a failure)."""
        env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.timeout, env=env
            )
        except FileNotFoundError:
            return Outcome(127, "", "gcloud is not installed (https://cloud.google.com/sdk)")
        except subprocess.TimeoutExpired:
            return Outcome(124, "", f"timed out after {self.timeout:.0f} s")
        return Outcome(done.returncode, done.stdout, done.stderr)


def read_json(gcloud: Gcloud, argv: list[str], *, missing_ok: bool = False) -> Any:
    """Run a describe or list command with ``--format=json`` and parse its answer.

    Parameters
    ----------
    gcloud : Gcloud
        The runner.
    argv : list of str
        The command, without ``--format``.
    missing_ok : bool
        Return None when gcloud says the resource does not exist (NOT_FOUND, 404).

    Returns
    -------
    object
        The parsed JSON (None for an empty answer, or a missing resource with ``missing_ok``).

    Raises
    ------
    GcloudError
        If the command fails for any other reason.
    """
    outcome = gcloud([*argv, "--format=json"])
    if outcome.status != 0:
        words = outcome.stderr.strip()
        if missing_ok and any(
            s in words for s in ("NOT_FOUND", "404", "not found", "does not exist")
        ):
            return None
        raise GcloudError(
            f"{' '.join(argv)}: {words.splitlines()[-1] if words else outcome.status}"
        )
    return json.loads(outcome.stdout) if outcome.stdout.strip() else None
