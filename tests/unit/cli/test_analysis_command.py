"""bin/analysis's command line: its own options, and the rest handed to Apache Beam."""

from __future__ import annotations

import pytest

from panoptes_network.cli.analysis import build_parser


@pytest.mark.parametrize(
    "argv", [["backfill", "--json"], ["--json", "backfill"], ["status", "--json"]]
)
def test_json_is_understood_before_or_after_the_command(argv):
    args, beam = build_parser().parse_known_args(argv)
    assert args.json is True and beam == []


def test_options_it_does_not_know_go_to_beam_and_its_own_do_not():
    argv = [
        "backfill",
        "--observation",
        "PAN001_14d3bd_20160909T081152",
        "--batch-runs",
        "5",
        "--runner",
        "DataflowRunner",
        "--project",
        "p",
    ]
    args, beam = build_parser().parse_known_args(argv)
    assert args.observation == ["PAN001_14d3bd_20160909T081152"] and args.batch_runs == 5
    assert args.json is False
    assert beam == ["--runner", "DataflowRunner", "--project", "p"]
