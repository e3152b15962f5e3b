"""The catalog built from the real astrometry.net Tycho-2 index files (when installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from panoptes_network.catalog.local_file import LocalCatalog, write_catalog
from panoptes_network.catalog.star_catalog import angular_separation
from panoptes_network.catalog.tycho2_index import (
    INDEX_FOLDER,
    find_index_files,
    read_index_file,
    read_index_stars,
)

INDEX_FILES = find_index_files()
pytestmark = pytest.mark.skipif(
    len(INDEX_FILES) < 3,
    reason=f"astrometry.net Tycho-2 index files not found in {INDEX_FOLDER}: "
    "install the Debian package astrometry-data-tycho2 (bin/setup does, as root)",
)

# Well-known stars in the PANOPTES range, from SIMBAD: ICRS J2000 position (degrees) and
# Johnson V. The index stores Tycho VT, which differs from V by up to ~0.2 mag for these
# colours, and Tycho-2 positions (epoch J2000), within a few arcsec of these.
KNOWN_STARS = {
    "HD 209458": (330.79488, 18.88432, 7.65),
    "HD 189733": (300.18212, 22.70977, 7.67),
    "KELT-9": (307.85980, 39.93883, 7.56),
    "WASP-33": (36.71290, 37.55030, 8.30),
}
POSITION_TOLERANCE_ARCSEC = 10.0
VMAG_TOLERANCE = 0.35


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tycho2") / "tycho2.parquet"
    write_catalog(read_index_stars(INDEX_FILES), path, source="test build")
    return path


def _ids(path: Path) -> np.ndarray:
    return pq.read_table(path, columns=["picid"]).column("picid").to_numpy()


def test_size_and_unique_ids(built: Path):
    info = LocalCatalog(built).info
    assert info.rows > 1_500_000
    ids = _ids(built)
    assert len(np.unique(ids)) == len(ids) == info.rows


def test_ids_are_stable(built: Path, tmp_path: Path):
    again = tmp_path / "again.parquet"
    write_catalog(read_index_stars(INDEX_FILES), again, source="second build")
    assert np.array_equal(np.sort(_ids(again)), np.sort(_ids(built)))

    subset = tmp_path / "subset.parquet"
    write_catalog(read_index_stars(INDEX_FILES[2:]), subset, source="coarser files only")
    sub_ids, all_ids = _ids(subset), _ids(built)
    assert 0 < len(sub_ids) < len(all_ids)
    assert np.all(np.isin(sub_ids, all_ids))
    # The same id means the same star: same position and magnitude in both builds.
    full = pq.read_table(built).to_pydict()
    where = dict(zip(full["picid"], range(len(full["picid"])), strict=True))
    sub = pq.read_table(subset).slice(0, 2000).to_pydict()
    for picid, ra, dec, vmag in zip(sub["picid"], sub["ra"], sub["dec"], sub["vmag"], strict=True):
        i = where[picid]
        assert (full["ra"][i], full["dec"][i], full["vmag"][i]) == (ra, dec, vmag)


def test_raw_index_rows_are_found(built: Path):
    """Random rows of the finest index file are in the catalog with their position and VT."""
    raw = read_index_file(INDEX_FILES[0])
    rng = np.random.default_rng(11)
    catalog = LocalCatalog(built)
    for i in rng.choice(len(raw), 100, replace=False):
        ra, dec, vmag = float(raw["ra"][i]), float(raw["dec"][i]), float(raw["vmag"][i])
        found = catalog.cone_search(ra, dec, 1.5 / 3600, (-30.0, 30.0))
        separation = angular_separation(ra, dec, found["ra"], found["dec"]) * 3600
        assert np.min(separation) < 1e-3, (ra, dec)  # the same decoded position
        assert found["vmag"][np.argmin(separation)] == np.float32(vmag)


@pytest.mark.parametrize("name", list(KNOWN_STARS))
def test_known_bright_stars(built: Path, name: str):
    ra, dec, v = KNOWN_STARS[name]
    found = LocalCatalog(built).cone_search(ra, dec, POSITION_TOLERANCE_ARCSEC / 3600, (6.0, 9.0))
    assert len(found) == 1, f"{name}: {len(found)} stars of VT 6-9 within 10 arcsec"
    assert abs(float(found["vmag"][0]) - v) < VMAG_TOLERANCE
