"""bin/demo's progress: how many frames reached each step, from the image documents."""

from __future__ import annotations

from panoptes_network.cli.demo import stage_counts
from panoptes_network.pipeline.schema import ImageStatus


def test_stage_counts_follow_the_chain():
    images = [
        {"status": ImageStatus.UPLOADED, "solved": False},
        {"status": ImageStatus.SOLVED, "solved": True},
        {"status": ImageStatus.MEASURED, "solved": True},
        {"status": ImageStatus.MEASURE_ERROR, "solved": True},
        {"status": ImageStatus.SOLVE_ERROR, "solved": False},
        {"status": ImageStatus.RAW_RECEIVED},  # only the raw file so far: not recorded
    ]
    assert stage_counts(images) == {"recorded": 5, "solved": 3, "measured": 1, "failed": 2}
    assert stage_counts([]) == {"recorded": 0, "solved": 0, "measured": 0, "failed": 0}
