"""Importing TESS Input Catalog rows (CSV and parquet) into a catalog file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from panoptes_network.catalog.local_file import LocalCatalog
from panoptes_network.catalog.tic_import import TicImportError, import_tic, read_tic_rows
from panoptes_network.cli.catalog import main as catalog_main

# TIC column names as MAST exports them; empty fields are missing values.
CSV_TEXT = """\
ID,ra,dec,Tmag,Vmag,Teff,Bmag,Jmag,RA_orig,Dec_orig,objType
25155310,63.37296,-69.22669,9.345,10.12,5600.5,10.81,8.71,63.372901,-69.226701,STAR
261136679,84.29125,-80.46912,5.105,5.65,6042,6.18,4.87,84.291176,-80.469116,STAR
38846515,,,10.23,10.98,,11.7,9.6,95.1503,-61.4041,STAR
1000000001,120.5,10.25,12.5,,4800,13.1,11.0,120.5,10.25,STAR
1000000002,,,11.0,11.5,5000,12.0,10.0,,,STAR
,130.0,20.0,11.0,11.5,5000,12.0,10.0,130.0,20.0,STAR
25155310,63.4,-69.2,9.9,10.5,5500,11.0,9.0,63.4,-69.2,STAR
1000000003,140.0,95.0,11.0,11.5,5000,12.0,10.0,140.0,95.0,STAR
1000000004,359.999,-0.5,8.0,8.4,7000,8.8,7.5,359.999,-0.5,STAR
"""
KEPT = {  # id: (ra, dec, vmag, tmag, teff) as written above
    25155310: (63.37296, -69.22669, 10.12, 9.345, 5600.5),
    261136679: (84.29125, -80.46912, 5.65, 5.105, 6042.0),
    38846515: (95.1503, -61.4041, 10.98, 10.23, np.nan),  # ra/dec from RA_orig/Dec_orig
    1000000004: (359.999, -0.5, 8.4, 8.0, 7000.0),
}
DROPPED = {"no id": 1, "no position": 2, "no vmag": 1, "duplicate id": 1}


def _rows(path: Path) -> dict[int, dict]:
    table = pq.read_table(path).to_pylist()
    return {row["picid"]: row for row in table}


def _check_kept(output: Path) -> None:
    rows = _rows(output)
    assert set(rows) == set(KEPT)
    for picid, (ra, dec, vmag, tmag, teff) in KEPT.items():
        row = rows[picid]
        assert (row["ra"], row["dec"], row["vmag"], row["tmag"]) == (ra, dec, vmag, tmag)
        assert row["teff"] == teff or (np.isnan(teff) and row["teff"] is None)
        assert row["objtype"] == "STAR"
    # other columns are kept, lower-cased; the ones used for picid/ra/dec/vmag are not doubled
    assert {"bmag", "jmag", "ra_orig", "dec_orig"} <= set(rows[25155310])
    assert not {"id", "Vmag", "Tmag"} & set(rows[25155310])


def test_csv_import(tmp_path: Path):
    source = tmp_path / "tic.csv"
    source.write_text(CSV_TEXT)
    output = tmp_path / "catalog.parquet"
    report = import_tic(source, output)
    assert report.rows_read == 9
    assert report.rows_kept == 4
    assert report.dropped == DROPPED
    assert report.rows_read == report.rows_kept + sum(report.dropped.values())
    assert "9 rows read, 4 kept, 5 dropped" in str(report)
    _check_kept(output)
    assert LocalCatalog(output).info.source == "TIC import of tic.csv"


def test_compressed_csv_import(tmp_path: Path):
    source = tmp_path / "tic.csv.gz"
    source.write_bytes(gzip.compress(CSV_TEXT.encode()))
    report = import_tic(source, tmp_path / "catalog.parquet")
    assert (report.rows_kept, report.dropped) == (4, DROPPED)
    _check_kept(tmp_path / "catalog.parquet")


def test_parquet_import_with_other_column_names(tmp_path: Path):
    table = pa.table(
        {
            "TIC": pa.array([5, 6, 7, 8], pa.int64()),
            "RA_orig": [10.0, 20.0, None, 30.0],
            "Dec_orig": [1.0, 2.0, 3.0, 4.0],
            "VMAG": [9.5, None, 9.7, 9.8],
            "Teff": [5000.0, 5100.0, 5200.0, 5300.0],
        }
    )
    source = tmp_path / "tic.parquet"
    pq.write_table(table, source)
    output = tmp_path / "out.parquet"
    report = import_tic(source, output, source="region around M44")
    assert report.rows_kept == 2
    assert report.dropped == {"no id": 0, "no position": 1, "no vmag": 1, "duplicate id": 0}
    rows = _rows(output)
    assert rows[5] == {"picid": 5, "ra": 10.0, "dec": 1.0, "vmag": 9.5, "teff": 5000.0}
    assert rows[8]["ra"] == 30.0
    catalog = LocalCatalog(output)
    assert catalog.info.source == "region around M44"
    found = catalog.cone_search(10.0, 1.0, 0.1)
    assert list(found["picid"]) == [5] and found["teff"][0] == 5000.0


@pytest.mark.parametrize(
    "header, missing",
    [
        ("ID,ra,dec,Tmag", "V magnitude \\(Vmag\\)"),
        ("ID,dec,Vmag", "RA"),
        ("ID,ra,Vmag", "declination"),
        ("name,ra,dec,Vmag", "TIC id"),
    ],
)
def test_missing_column_names_file_and_column(tmp_path: Path, header: str, missing: str):
    source = tmp_path / "bad.csv"
    source.write_text(header + "\n" + ",".join("1" for _ in header.split(",")) + "\n")
    with pytest.raises(TicImportError, match=f"bad.csv has no {missing} column") as caught:
        import_tic(source, tmp_path / "out.parquet")
    assert "columns found" in str(caught.value)
    assert not (tmp_path / "out.parquet").exists()


def test_other_bad_inputs(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        import_tic(tmp_path / "nothing.csv", tmp_path / "out.parquet")
    clash = tmp_path / "clash.csv"
    clash.write_text("ID,ra,RA,dec,Vmag\n1,2,3,4,5\n")
    with pytest.raises(TicImportError, match="clash.csv: column names differ only by case: ra"):
        read_tic_rows(clash)
    text_ids = tmp_path / "text.csv"
    text_ids.write_text("ID,ra,dec,Vmag\nTIC 5,2,3,4\n")
    with pytest.raises(TicImportError, match="text.csv: column 'id' is not numeric"):
        read_tic_rows(text_ids)
    empty = tmp_path / "empty.csv"
    empty.write_text("ID,ra,dec,Vmag\n1,2,3,\n")
    with pytest.raises(TicImportError, match="no row left to import .*1 no vmag"):
        import_tic(empty, tmp_path / "out.parquet")


def test_cli_import_tic(tmp_path: Path, capsys):
    source = tmp_path / "tic.csv"
    source.write_text(CSV_TEXT)
    output = tmp_path / "cat.parquet"
    assert catalog_main(["import-tic", str(source), "--output", str(output)]) == 0
    out = capsys.readouterr().out
    assert "9 rows read, 4 kept, 5 dropped" in out and "1 duplicate id" in out
    assert set(_rows(output)) == set(KEPT)
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,ra,dec\n1,2,3\n")
    assert catalog_main(["import-tic", str(bad), "--output", str(output)]) == 2
    assert "bad.csv has no V magnitude" in capsys.readouterr().err
