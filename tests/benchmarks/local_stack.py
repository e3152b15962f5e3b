"""Run a benchmark's measurement on the local emulator stack, starting it when none runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator.components import MissingComponent
from emulator.stack import StackConfig, down, stack_environment, status, up

__all__ = ["on_local_stack"]


def on_local_stack(
    measure: Callable[[StackConfig], dict[str, Any]], say: Callable[[str], None]
) -> dict[str, Any]:
    """Run ``measure`` with the stack's environment set; start and stop the stack if needed.

    A running stack is used as it is and left running; a stopped one is started (its storage
    in memory) and stopped at the end, whatever ``measure`` does.

    Parameters
    ----------
    measure : callable
        Takes the stack's configuration and returns the benchmark's figures.
    say : callable
        Prints a progress line.

    Returns
    -------
    dict
        The figures with ``stack_started_here``; or ``{"skipped": reason}`` when the stack
        is only partly running or cannot be started.
    """
    config = StackConfig.load()
    rows = status(config)
    alive = [row["running"] for row in rows.values()]
    started_here = False
    if rows and all(alive):
        say("using the running stack")
    elif any(alive):
        stopped = ", ".join(name for name, row in rows.items() if not row["running"])
        return {"skipped": f"the stack is only partly running ({stopped} stopped): bin/dev down"}
    else:
        say("starting the stack ...")
        try:
            up(config, say=say)
        except (MissingComponent, RuntimeError) as exc:
            return {"skipped": f"the local stack could not be started: {exc}"}
        started_here = True
    try:
        with stack_environment(config):
            figures = measure(config)
    finally:
        if started_here:
            down(config, say=say)
    figures["stack_started_here"] = started_here
    return figures
