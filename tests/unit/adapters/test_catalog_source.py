"""A service finds its catalog: a local path, or a gs:// URI it would download."""

from __future__ import annotations

from pathlib import Path

from panoptes_network.adapters.catalog_source import catalog_path


def test_local_paths_are_used_as_they_are(tmp_path):
    assert catalog_path({"PANOPTES_CATALOG": str(tmp_path / "c.parquet")}) == tmp_path / "c.parquet"
    default = catalog_path({"XDG_CACHE_HOME": str(tmp_path)})
    assert default == tmp_path / "panoptes-network" / "catalog" / "tycho2.parquet"


def test_a_downloaded_catalog_is_reused(tmp_path):
    cached = tmp_path / "panoptes-catalog" / "tic.parquet"
    cached.parent.mkdir()
    cached.write_bytes(b"already here")
    # Present in the cache: no client is created, nothing is fetched.
    got = catalog_path({"PANOPTES_CATALOG": "gs://bucket/catalogs/tic.parquet"}, tmp_path)
    assert got == cached and Path(got).read_bytes() == b"already here"
