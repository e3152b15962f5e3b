"""Where bin/upload puts a local file."""

from __future__ import annotations

import pytest

from panoptes_network.frames.fits_header import read_header_from_bytes
from panoptes_network.ingest.upload_plan import (
    PathOverrides,
    UploadPathError,
    bucket_path_for,
    uploadable_files,
)
from tests.unit.frame_files import unit_frame

HEADER = read_header_from_bytes(unit_frame())


def test_unit_folder_layout_is_kept(tmp_path):
    path = tmp_path / "PAN001" / "14d3bd" / "20180216T110623" / "20180216T112430.fits"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    assert bucket_path_for(path, None) == "PAN001/14d3bd/20180216T110623/20180216T112430.fits"


def test_legacy_field_folder_is_normalised(tmp_path):
    path = tmp_path / "PAN001" / "Wasp33" / "14d3bd" / "20180216T110623" / "20180216T112430.cr2"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    assert bucket_path_for(path, None) == "PAN001/14d3bd/20180216T110623/20180216T112430.cr2"


def test_loose_file_takes_its_path_from_the_header(tmp_path):
    path = tmp_path / "frame.fits"
    assert bucket_path_for(path, HEADER) == "PAN001/14d3bd/20180216T110623/20180216T112430.fits"


def test_overrides_win_and_bad_header_ids_name_the_fix(tmp_path):
    path = tmp_path / "frame.fits"
    header = read_header_from_bytes(unit_frame(INSTRUME="XXXXXX"))
    with pytest.raises(UploadPathError, match="--camera"):
        bucket_path_for(path, header)
    got = bucket_path_for(path, header, PathOverrides(camera_id="0a0b0c", unit_id="PAN012"))
    assert got == "PAN012/0a0b0c/20180216T110623/20180216T112430.fits"


def test_unknown_extension_and_missing_paths(tmp_path):
    with pytest.raises(UploadPathError, match="unknown extension"):
        bucket_path_for(tmp_path / "notes.txt", None)
    with pytest.raises(FileNotFoundError):
        uploadable_files([tmp_path / "missing"])
    (tmp_path / "a.fits").write_bytes(b"1")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.cr2").write_bytes(b"2")
    (tmp_path / "sub" / "c.txt").write_bytes(b"3")
    assert [p.name for p in uploadable_files([tmp_path])] == ["a.fits", "b.cr2"]
