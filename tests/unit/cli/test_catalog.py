"""``bin/catalog`` (panoptes_network.cli.catalog): subcommands, output and exit codes."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from panoptes_network.catalog.local_file import LocalCatalog, write_catalog
from panoptes_network.catalog.tycho2_index import find_index_files, read_index_stars
from panoptes_network.cli.catalog import main
from tests.conftest import ROOT

COARSE_INDEX_FILES = [f for f in find_index_files() if f.name >= "index-tycho2-16"]


@pytest.fixture
def small_catalog(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    n = 5000
    path = tmp_path / "small.parquet"
    write_catalog(
        {
            "picid": np.arange(n, dtype=np.int64) + 100,
            "ra": rng.uniform(0, 360, n),
            "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, n))),
            "vmag": rng.uniform(5, 14, n).astype(np.float32),
        },
        path,
        source="synthetic test stars",
    )
    return path


def test_cone_prints_csv_rows(small_catalog: Path, capsys):
    args = ["cone", "20", "10", "12", "--vmag-min", "7", "--vmag-max", "11"]
    assert main([*args, "--catalog", str(small_catalog)]) == 0
    printed = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = LocalCatalog(small_catalog).cone_search(20.0, 10.0, 12.0, (7.0, 11.0))
    assert len(printed) == len(expected) > 5
    assert [int(r["picid"]) for r in printed] == list(expected["picid"])
    assert [float(r["ra"]) for r in printed] == list(expected["ra"])  # exact round trip
    assert [np.float32(r["vmag"]) for r in printed] == list(expected["vmag"])


def test_info(small_catalog: Path, capsys):
    assert main(["info", "--catalog", str(small_catalog)]) == 0
    out = capsys.readouterr().out
    assert f"path:        {small_catalog}" in out
    assert "rows:        5000" in out and "source:      synthetic test stars" in out
    assert " of 180, 1 deg high" in out and "format:      version 1" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["cone", "20", "10", "0"], "cone radius 0.0 must be in"),
        (["cone", "20", "100", "1"], "cone centre (20.0, 100.0)"),
        (["cone", "20", "10", "1", "--vmag-min", "12", "--vmag-max", "8"], "vmag range"),
    ],
)
def test_bad_cone_exits_2(small_catalog: Path, capsys, args, message):
    assert main([*args, "--catalog", str(small_catalog)]) == 2
    assert message in capsys.readouterr().err


def test_missing_catalog_exits_2_naming_path_and_command(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("PANOPTES_CATALOG", str(tmp_path / "none.parquet"))
    assert main(["info"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "none.parquet") in err and "bin/catalog build-tycho2" in err


def test_build_without_index_files(tmp_path: Path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    output = tmp_path / "out.parquet"
    assert main(["build-tycho2", "--index-folder", str(empty), "--output", str(output)]) == 2
    assert f"no Tycho-2 index files (index-tycho2-*.fits) in {empty}" in capsys.readouterr().err
    args = ["build-tycho2", "--index-folder", str(empty), "--output", str(output), "--if-missing"]
    assert main(args) == 0
    assert not output.exists()


@pytest.mark.skipif(not COARSE_INDEX_FILES, reason="astrometry.net Tycho-2 index files missing")
def test_build_tycho2_and_if_missing(tmp_path: Path, capsys):
    folder = tmp_path / "index"
    folder.mkdir()
    for path in COARSE_INDEX_FILES:
        (folder / path.name).symlink_to(path)
    output = tmp_path / "cat" / "tycho2.parquet"
    args = ["build-tycho2", "--index-folder", str(folder), "--output", str(output)]
    assert main(args) == 0
    expected = read_index_stars(COARSE_INDEX_FILES)
    assert f"wrote {len(expected)} stars from {len(COARSE_INDEX_FILES)} index files" in (
        capsys.readouterr().out
    )
    info = LocalCatalog(output).info
    assert info.rows == len(expected) and str(folder) in info.source
    before = output.stat().st_mtime_ns
    assert main([*args, "--if-missing"]) == 0
    assert output.stat().st_mtime_ns == before
    assert capsys.readouterr().out == ""  # quiet when there is nothing to do


def test_bin_catalog_wrapper(small_catalog: Path):
    result = subprocess.run(
        [str(ROOT / "bin" / "catalog"), "cone", "20", "10", "5", "--catalog", str(small_catalog)],
        capture_output=True,
        text=True,
        env={**os.environ, "PANOPTES_CATALOG": "/nonexistent"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("picid,ra,dec,vmag\n")
    bad = subprocess.run([str(ROOT / "bin" / "catalog"), "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice: 'nope'" in bad.stderr
