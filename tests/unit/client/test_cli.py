"""``bin/panoptes-data``: tables on the terminal, CSV and Parquet files, downloads, errors.

One test runs the real command (bin/panoptes-data) as a subprocess; the others call its
``main`` in this process, against the real explorer app over HTTP.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from datetime import datetime, timezone

import pandas as pd
import pytest

from panoptes_network.catalog.target_names import bundled_target_names
from panoptes_network.cli.panoptes_data import build_parser, main
from panoptes_network.client import OBSERVATION_COLUMNS
from tests.conftest import ROOT
from tests.unit.client.conftest import POINTINGS, Network, Served, Star, sequence_of
from tests.unit.client.servers import free_port
from tests.unit.client.test_lightcurves import NEWEST_FIRST, assert_run_points
from tests.unit.client.test_search import EXPECTED, separation
from tests.unit.explorer.network import SOLVED_SEQUENCE
from tests.unit.explorer.star_records import PICID, RUNS, star_series

PAN001 = sorted(s for s in EXPECTED if s.startswith("PAN001_"))


def test_search_prints_a_table_and_writes_csv_from_the_shell(explorer: str, tmp_path):
    out = tmp_path / "found.csv"
    done = subprocess.run(
        [str(ROOT / "bin" / "panoptes-data"), "search", "--url", explorer, "--unit", "PAN001",
         "--csv", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == [
        "sequence_id", "time", "field_name", "num_images", "exptime", "ra", "dec", "status"
    ]  # fmt: skip
    rows = {line.split()[0]: line for line in lines[1:] if line.startswith("PAN")}
    assert sorted(rows) == PAN001
    for sequence_id, row in rows.items():
        start, frames, exptime = EXPECTED[sequence_id]
        assert f" {start:%Y-%m-%d %H:%M:%S} " in row
        ra, dec = ("40.6200", "37.4100") if sequence_id == SOLVED_SEQUENCE else ("-", "-")
        assert re.search(rf" {frames} +{exptime:g} +{ra} +{dec} +receiving_files$", row), row
    assert "3 observations" in lines
    assert f"wrote 3 rows to {out}" in lines
    written = pd.read_csv(out)
    assert sorted(written["sequence_id"]) == PAN001
    assert list(written.columns[: len(OBSERVATION_COLUMNS)]) == list(OBSERVATION_COLUMNS)


def test_search_csv_to_standard_output_and_a_short_table(explorer: str, capsys):
    assert main(["search", "--url", explorer, "--csv", "-"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("sequence_id,unit_id,camera_id,time,")
    assert len(out.splitlines()) == 1 + len(EXPECTED)
    assert err.strip() == "4 observations"
    assert main(["search", "--url", explorer, "--show", "1", "--max-rows", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4  # header, one row, the rest counted, the count
    assert out[2] == "... and 2 more rows (--show N shows more; --csv FILE writes them all)"
    assert out[3] == "3 observations; stopped at --max-rows 3: more match"


def test_download_with_a_progress_bar(explorer: str, network: Network, tmp_path, capsys):
    args = ["download", SOLVED_SEQUENCE, "--url", explorer, "--to", str(tmp_path)]
    assert main([*args, "--kind", "previews"]) == 0
    out, err = capsys.readouterr()
    folder = tmp_path / SOLVED_SEQUENCE
    size = sum(len(data) for data in network.previews.values())
    assert out.strip() == f"2 previews ({size / 1e3:.1f} kB) in {folder}"
    assert "2/2" in err and "file" in err  # the files' bar, on stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == network.previews


def test_lightcurves_prints_the_runs_and_writes_csv_and_parquet(star: Star, tmp_path, capsys):
    args = ["lightcurves", str(PICID), "--url", star.url]
    assert main([*args, "--csv", str(tmp_path / "p.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert main([*args, "--parquet", str(tmp_path / "p.pq")]) == 0
    header = ["run_id", "sequence_id", "unit_id", "camera_id", "points", "first", "last"]
    assert out[0].split() == header
    for run, line in zip(NEWEST_FIRST, out[1:4], strict=True):
        unit, camera, _, frames, _, _ = RUNS[run]
        first, last = (
            datetime.fromtimestamp(t, tz=timezone.utc) for t in star_series(run)["time"][[0, -1]]
        )
        assert line.split() == [
            star.run_ids[run], sequence_of(star.run_ids[run]), unit, camera, str(frames),
            *f"{first:%Y-%m-%d %H:%M:%S}".split(), *f"{last:%Y-%m-%d %H:%M:%S}".split(),
        ]  # fmt: skip
    assert f"37 points of PICID {PICID} in 3 runs" in out
    from_csv = pd.read_csv(tmp_path / "p.csv")
    from_csv["time_utc"] = pd.to_datetime(from_csv["time_utc"], utc=True)
    from_parquet = pd.read_parquet(tmp_path / "p.pq")
    for written in (from_csv, from_parquet):
        assert len(written) == 37
        for run, run_id in enumerate(star.run_ids):
            assert_run_points(written[written["run_id"] == run_id], run, run_id)


def test_search_by_name_shows_the_distance(sky: Served, capsys):
    assert main(["search", "--name", "Wasp 33", "--radius", "1", "--url", sky.url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-2:] == ["distance_deg", "status"]
    rows = {line.split()[0]: line.split() for line in lines[1:] if line.startswith("PAN")}
    assert sorted(rows) == PAN001  # the observation near M 42 is not near WASP-33
    centre = bundled_target_names().resolve("WASP-33")
    for sequence_id, row in rows.items():
        ra, dec, _ = POINTINGS[sequence_id]
        assert row[-2] == f"{separation(centre.ra, centre.dec, ra, dec):.3f}"
    assert lines[-1] == "3 observations"


@pytest.mark.parametrize(
    ("args", "status", "text"),
    [
        (["download", "PAN001_14d3bd_20000101T000000"], 2, "no observation"),
        (["search", "--min-images", "2000000"], 2, "min_images: must be a whole number"),
        (["search", "--ra", "10"], 2, "ra and dec go together"),
        (["lightcurves", "TIC-1"], 2, "picid must be a whole number"),
    ],
)
def test_bad_input_is_one_line_and_status_2(explorer: str, tmp_path, capsys, args, status, text):
    folder = ["--to", str(tmp_path)] if args[0] == "download" else []
    assert main([*args, "--url", explorer, *folder]) == status
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("panoptes-data: ") and text in err[0]


def test_no_explorer_is_one_line_saying_what_to_do_and_status_1(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["search", "--url", url, "--timeout", "2"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"cannot reach the Data Explorer at {url}" in err[0]
    assert "bin/dev up" in err[0]


def _parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_argument_has_plain_help():
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            assert (action.help or "").strip(), f"{parser.prog}: no help for {action.dest}"
        assert "``" not in parser.format_help() and ":mod:" not in parser.format_help()
