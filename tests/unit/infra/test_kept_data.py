"""What the local stack keeps between down and up, described even when a part is missing."""

from __future__ import annotations

from emulator.persistence import KeptData


def test_an_empty_data_folder_is_described_not_a_crash(tmp_path):
    kept = KeptData(tmp_path / "data")
    (tmp_path / "data").mkdir()
    lines = kept.describe()
    assert any(line.startswith("Cloud Storage: 0 object(s) in 0 of 0 bucket(s)") for line in lines)


def test_stored_objects_are_counted_per_bucket(tmp_path):
    kept = KeptData(tmp_path)
    (kept.storage / "panoptes-images" / "PAN001").mkdir(parents=True)
    (kept.storage / "panoptes-images" / "PAN001" / "a.fits.fz").write_bytes(b"x" * 2048)
    (kept.storage / "panoptes-calibrations").mkdir()
    storage = next(line for line in kept.describe() if line.startswith("Cloud Storage"))
    assert storage.startswith("Cloud Storage: 1 object(s) in 1 of 2 bucket(s)")
