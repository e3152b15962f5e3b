"""StageTimer: the seconds of each stage, in order, for every step."""

from __future__ import annotations

import time

from panoptes_network.pipeline.timing import StageTimer


def test_each_stage_is_timed_from_the_end_of_the_previous_one():
    timer = StageTimer()
    time.sleep(0.02)
    timer.done("read")
    time.sleep(0.05)
    timer.done("solve")
    assert list(timer.seconds) == ["read_s", "solve_s"]
    assert 0.015 <= timer.seconds["read_s"] < timer.seconds["solve_s"]
    assert timer.seconds["solve_s"] >= 0.045
    assert timer.total() >= timer.seconds["read_s"] + timer.seconds["solve_s"] - 1e-3
