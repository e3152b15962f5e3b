"""bin/analysis's command line: its own options, and the rest handed to Apache Beam."""

from __future__ import annotations

import json

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


def test_completeness_adds_up_the_runs_and_draws_them(monkeypatch, tmp_path, capsys):
    from panoptes_network.analysis.completeness import Completeness
    from panoptes_network.analysis.config import DEFAULT_ANALYSIS
    from panoptes_network.cli import analysis
    from panoptes_network.pipeline.schema import ANALYSIS_COMPLETENESS
    from tests.unit.fakes import MemoryDocuments

    documents = MemoryDocuments()
    stamp = DEFAULT_ANALYSIS.stamp()
    for k, recovered in enumerate((3, 1)):
        counts = Completeness()
        for n in range(4):
            counts.add("transit", 0.01, 3600.0, 12.0, n < recovered)
        documents.merge(
            ANALYSIS_COMPLETENESS,
            f"{stamp['analysis_hash']}_SEQ{k}_run",
            {**stamp, "sequence_id": f"SEQ{k}", **counts.to_record()},
        )
    documents.merge(
        ANALYSIS_COMPLETENESS,
        f"{stamp['analysis_hash']}_SEQ9_run",
        {**stamp, "sequence_id": "SEQ9", "error": "no injection-recovery: no tables"},
    )
    documents.merge(  # another configuration's counts are not added
        ANALYSIS_COMPLETENESS, "other_SEQ0_run", {"analysis_hash": "other", "bins": []}
    )
    monkeypatch.setattr(analysis, "firestore_documents", lambda: documents)
    png = tmp_path / "grid.png"
    assert analysis.main(["completeness", "--json", "--png", str(png)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["runs"], result["injected"], result["recovered"]) == (3, 8, 4)
    assert result["runs_without_counts"] == [
        f"{stamp['analysis_hash']}_SEQ9_run: no injection-recovery: no tables"
    ]
    (row,) = [r for r in result["by_kind_and_snr"] if r["injected"]]
    assert row["kind"] == "transit" and row["completeness"] == 0.5
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert analysis.main(["completeness", "--observation", "SEQ1"]) == 0
    text = capsys.readouterr().out
    assert "runs: 1" in text and "injected: 4" in text and "recovered: 1" in text
