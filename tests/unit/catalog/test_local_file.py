"""LocalCatalog against the brute-force reference (InMemoryCatalog) on synthetic skies.

The reference scans every star with the same exact distance, so the expected tolerance is
zero: both must return the identical set of picids (and identical rows).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.table import Table
from astropy.wcs import WCS

from panoptes_network.catalog.local_file import (
    METADATA_KEY,
    LocalCatalog,
    default_catalog_path,
    open_catalog,
    write_catalog,
)
from panoptes_network.catalog.star_catalog import InMemoryCatalog, angular_separation

N_RANDOM = 200_000
ALL_MAGS = (-30.0, 30.0)
FRAME_SHAPE = (3476, 5208)  # rows, columns
PIXEL_SCALE_DEG = 10.3 / 3600


def _synthetic_sky(seed: int = 42) -> Table:
    """Stars uniform on the sphere plus awkward ones: poles, RA 0/360, band edges, a cluster."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, N_RANDOM)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, N_RANDOM)))
    edge_ra = [0.0, 123.0, 0.0, 77.7, 0.0, 359.9999999, 10.0, 10.0, 10.0, 200.0, 300.0, 45.5]
    edge_dec = [90.0, 90.0, -90.0, -90.0, 0.0, 0.0, -89.0, 1.0, 45.0, 89.0, 89.5, -0.7]
    cluster = 400  # around RA 0 on the equator, to make the wrap-around matter
    cluster_ra = np.mod(rng.uniform(-0.5, 0.5, cluster), 360.0)
    cluster_dec = rng.uniform(-1, 1, cluster)
    polar = 400  # close to each pole
    polar_dec = np.r_[rng.uniform(89.0, 90.0, polar // 2), rng.uniform(-90.0, -89.0, polar // 2)]
    ra = np.r_[ra, edge_ra, cluster_ra, rng.uniform(0, 360, polar)]
    dec = np.r_[dec, edge_dec, cluster_dec, polar_dec]
    n = len(ra)
    return Table(
        {
            "picid": (rng.permutation(n) * 7 + 1000).astype(np.int64),
            "ra": ra,
            "dec": dec,
            "vmag": np.round(rng.uniform(4.0, 15.0, n), 2),  # exact ties at range bounds
            "tmag": rng.normal(10, 2, n).astype(np.float32),
            "name": np.array([f"star{i}" for i in range(n)]),
        }
    )


@pytest.fixture(scope="module")
def sky() -> Table:
    return _synthetic_sky()


@pytest.fixture(scope="module")
def reference(sky: Table) -> InMemoryCatalog:
    return InMemoryCatalog(sky)


@pytest.fixture(
    scope="module",
    params=[(1.0, 256), (0.7, 2048)],
    ids=["band1deg-small-groups", "band0.7deg-default-groups"],
)
def catalog(request, sky: Table, tmp_path_factory) -> LocalCatalog:
    band_height, group_rows = request.param
    path = tmp_path_factory.mktemp("catalog") / "sky.parquet"
    write_catalog(sky, path, source="synthetic", band_height=band_height, group_rows=group_rows)
    return LocalCatalog(path)


def _same(local: Table, brute: Table) -> None:
    assert local.colnames == brute.colnames
    assert np.array_equal(local["picid"], brute["picid"])
    for name in local.colnames:
        assert np.array_equal(np.asarray(local[name]), np.asarray(brute[name])), name


def _random_centres(rng: np.random.Generator, n: int) -> list[tuple[float, float, float]]:
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    radius = 10 ** rng.uniform(-2, 1.5, n)  # 0.01 to ~32 degrees
    return list(zip(ra.tolist(), dec.tolist(), radius.tolist(), strict=True))


def test_random_cones_match_brute_force(catalog: LocalCatalog, reference: InMemoryCatalog):
    rng = np.random.default_rng(7)
    vmag_ranges = [(6.0, 13.0), ALL_MAGS, (8.5, 10.0)]
    nonempty = 0
    for i, (ra, dec, radius) in enumerate(_random_centres(rng, 200)):
        vmag_range = vmag_ranges[i % 3]
        local = catalog.cone_search(ra, dec, radius, vmag_range)
        brute = reference.cone_search(ra, dec, radius, vmag_range)
        assert np.array_equal(local["picid"], brute["picid"]), (ra, dec, radius, vmag_range)
        nonempty += len(brute) > 0
    assert nonempty > 120  # the comparison is not vacuous


def test_rows_and_extra_columns_are_kept(catalog: LocalCatalog, reference: InMemoryCatalog):
    local = catalog.cone_search(150.0, -30.0, 5.0, ALL_MAGS)
    brute = reference.cone_search(150.0, -30.0, 5.0, ALL_MAGS)
    assert len(local) > 50
    _same(local, brute)
    assert local["picid"].dtype == np.int64
    assert list(local["picid"]) == sorted(local["picid"])


@pytest.mark.parametrize("ra", [0.2, 359.8, 0.0, 360.0, -0.3])
@pytest.mark.parametrize("radius", [1.0, 2.5, 5.0])
@pytest.mark.parametrize("dec", [0.0, 45.0, -60.0])
def test_ra_wrap_around(catalog, reference, ra, dec, radius):
    local = catalog.cone_search(ra, dec, radius, ALL_MAGS)
    brute = reference.cone_search(ra, dec, radius, ALL_MAGS)
    _same(local, brute)
    if dec == 0.0:  # the cluster straddles RA 0 here: both sides must be found
        assert np.any(local["ra"] > 359.0) and np.any(local["ra"] < 1.0)


@pytest.mark.parametrize(
    "ra, dec, radius",
    [
        (10.0, 89.9, 2.0),
        (250.0, -89.9, 2.0),
        (0.0, 90.0, 2.0),
        (0.0, -90.0, 2.0),
        (123.0, 88.5, 2.0),  # contains the north pole
        (300.0, -88.0, 3.0),  # contains the south pole
        (45.0, 87.9, 2.0),  # just misses the pole
        (45.0, 85.0, 20.0),
    ],
)
def test_poles(catalog, reference, ra, dec, radius):
    local = catalog.cone_search(ra, dec, radius, ALL_MAGS)
    brute = reference.cone_search(ra, dec, radius, ALL_MAGS)
    _same(local, brute)
    assert len(brute) > 10
    if abs(dec) + radius >= 90:
        assert np.any(np.abs(local["dec"]) == 90.0)  # the stars on the pole itself


def test_tiny_radius_finds_the_star(catalog: LocalCatalog, sky: Table):
    for index in (0, 1234, len(sky) - 1, N_RANDOM + 5):  # N_RANDOM + 5: RA 359.9999999
        star = sky[index]
        found = catalog.cone_search(star["ra"], star["dec"], 1e-8, ALL_MAGS)
        assert list(found["picid"]) == [star["picid"]]
        assert found["ra"][0] == star["ra"] and found["dec"][0] == star["dec"]


@pytest.mark.parametrize(
    "args",
    [(10.0, 0.0, 0.0), (10.0, 0.0, -1.0), (10.0, 0.0, 181.0), (10.0, 91.0, 1.0)],
    ids=["radius0", "negative", "radius>180", "dec>90"],
)
def test_bad_cone_is_rejected(catalog: LocalCatalog, args):
    with pytest.raises(ValueError, match="cone"):
        catalog.cone_search(*args)


def test_bad_vmag_range_is_rejected(catalog: LocalCatalog):
    with pytest.raises(ValueError, match="vmag range"):
        catalog.cone_search(10.0, 0.0, 1.0, (13.0, 6.0))


@pytest.mark.parametrize("ra, dec", [(0.0, 0.0), (200.0, 30.0), (90.0, -75.0)])
@pytest.mark.parametrize("radius", [60.0, 120.0, 180.0])
def test_large_cones(catalog, reference, ra, dec, radius):
    local = catalog.cone_search(ra, dec, radius, (8.0, 9.0))
    brute = reference.cone_search(ra, dec, radius, (8.0, 9.0))
    assert np.array_equal(local["picid"], brute["picid"])
    if radius == 180.0:
        assert catalog.last_query.rows_read == len(reference.table)


@pytest.mark.parametrize("vmag_range", [(6.0, 13.0), (10.0, 10.0), (4.0, 4.5), (14.99, 15.0)])
def test_vmag_range(catalog, reference, vmag_range):
    local = catalog.cone_search(40.0, 20.0, 15.0, vmag_range)
    brute = reference.cone_search(40.0, 20.0, 15.0, vmag_range)
    _same(local, brute)
    assert len(local) > 0
    assert np.all((local["vmag"] >= vmag_range[0]) & (local["vmag"] <= vmag_range[1]))


def test_one_degree_cone_reads_few_row_groups(catalog: LocalCatalog, reference):
    total_groups = catalog.info.row_groups
    index = json.loads(pq.ParquetFile(catalog.path).schema_arrow.metadata[METADATA_KEY])
    band_rows = {
        int(b): sum(g[3] for g in index["row_groups"] if g[0] == int(b)) for b in index["bands"]
    }
    for ra, dec in [(100.0, 10.0), (0.1, -30.0), (250.0, 70.0)]:
        found = catalog.cone_search(ra, dec, 1.0)
        stats = catalog.last_query
        assert stats.rows_returned == len(found)
        assert len(stats.bands) <= 4 and len(stats.row_groups) <= 12, stats
        assert len(stats.row_groups) < total_groups / 20
        assert stats.rows_read < 0.03 * len(reference.table), stats
        in_bands = sum(band_rows.get(b, 0) for b in stats.bands)
        if catalog.info.row_groups > 2 * catalog.info.bands:  # bands cut by RA: only a part read
            assert stats.rows_read < in_bands / 2, stats


def _frame_wcs(ra: float, dec: float, rotation_deg: float = 0.0) -> WCS:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(FRAME_SHAPE[1] + 1) / 2, (FRAME_SHAPE[0] + 1) / 2]
    turn = np.radians(rotation_deg)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    wcs.wcs.cd = PIXEL_SCALE_DEG * np.diag([-1.0, 1.0]) @ rotation
    return wcs


def _brute_footprint(sky: Table, wcs: WCS, vmag_range: tuple[float, float]) -> np.ndarray:
    """Project every star in front of the frame and keep those on it: no cone involved."""
    ra0, dec0 = wcs.wcs.crval
    vmag = np.asarray(sky["vmag"])
    keep = (vmag >= vmag_range[0]) & (vmag <= vmag_range[1])
    keep &= angular_separation(ra0, dec0, sky["ra"], sky["dec"]) < 90
    x, y = wcs.all_world2pix(np.asarray(sky["ra"])[keep], np.asarray(sky["dec"])[keep], 0)
    rows, cols = FRAME_SHAPE
    on = (x >= -0.5) & (x <= cols - 0.5) & (y >= -0.5) & (y <= rows - 0.5)
    return np.sort(np.asarray(sky["picid"])[keep][on])


@pytest.mark.parametrize(
    "ra, dec, rotation",
    [(120.0, 30.0, 0.0), (0.5, 10.0, 0.0), (359.0, -20.0, 35.0), (45.0, 85.0, 0.0), (0, -88, 10)],
    ids=["plain", "straddles-ra0", "straddles-ra0-rotated", "contains-north-pole", "south-pole"],
)
def test_footprint_search_matches_brute_force(catalog, sky, ra, dec, rotation):
    wcs = _frame_wcs(ra, dec, rotation)
    found = catalog.footprint_search(wcs, FRAME_SHAPE, vmag_range=(6.0, 13.0))
    expected = _brute_footprint(sky, wcs, (6.0, 13.0))
    assert len(expected) > 300  # ~150 square degrees at ~5 stars per square degree
    assert np.array_equal(found["picid"], expected)
    assert np.all((found["x"] >= -0.5) & (found["x"] <= FRAME_SHAPE[1] - 0.5))
    assert np.all((found["y"] >= -0.5) & (found["y"] <= FRAME_SHAPE[0] - 0.5))
    if ra in (0.5, 359.0):  # straddles RA 0: stars from both sides
        assert np.any(found["ra"] > 350) and np.any(found["ra"] < 10)


def test_file_layout(catalog: LocalCatalog, sky: Table):
    """Read the file with pyarrow alone: bands, RA order and the index agree with the rows."""
    handle = pq.ParquetFile(catalog.path)
    index = json.loads(handle.schema_arrow.metadata[METADATA_KEY])
    assert index["format_version"] == 1
    height = index["band_height"]
    assert handle.metadata.num_rows == len(sky) == index["rows"]
    assert len(index["row_groups"]) == handle.metadata.num_row_groups
    seen = 0
    for band, (first, stop) in index["bands"].items():
        band_rows = pa.concat_tables(handle.read_row_group(g) for g in range(first, stop))
        dec = band_rows.column("dec").to_numpy()
        ra = band_rows.column("ra").to_numpy()
        assert np.all(np.floor((dec + 90) / height).clip(max=index["band_count"] - 1) == int(band))
        assert np.all(np.diff(ra) >= 0)
        for g in range(first, stop):
            group_band, ra_min, ra_max, rows = index["row_groups"][g]
            group = handle.read_row_group(g).column("ra").to_numpy()
            assert (group_band, ra_min, ra_max, rows) == (
                int(band),
                group[0],
                group[-1],
                len(group),
            )
        seen += band_rows.num_rows
    assert seen == len(sky)


def test_concurrent_searches(catalog: LocalCatalog, reference: InMemoryCatalog):
    centres = _random_centres(np.random.default_rng(3), 40)
    expected = [reference.cone_search(*c)["picid"] for c in centres]
    fresh = LocalCatalog(catalog.path)  # first use (opening) also races
    errors: list[str] = []

    def work(offset: int) -> None:
        for k in range(len(centres)):
            i = (k + offset) % len(centres)
            if not np.array_equal(fresh.cone_search(*centres[i])["picid"], expected[i]):
                errors.append(f"cone {centres[i]}")

    threads = [threading.Thread(target=work, args=(n * 5,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --- writing -------------------------------------------------------------------------------


def _small() -> dict[str, np.ndarray]:
    return {
        "picid": np.array([3, 1, 2], dtype=np.int64),
        "ra": np.array([10.0, 20.0, 359.5]),
        "dec": np.array([0.0, -90.0, 90.0]),
        "vmag": np.array([7.0, 8.0, 9.0]),
    }


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("ra", 360.0, "'ra' must be in \\[0, 360\\)"),
        ("ra", -0.1, "'ra' must be in"),
        ("dec", 90.5, "'dec' must be in \\[-90, 90\\]"),
        ("vmag", np.nan, "'vmag' must be finite"),
        ("picid", 1, "'picid' must be unique"),
    ],
)
def test_write_rejects_bad_rows(tmp_path: Path, column, value, message):
    rows = _small()
    rows[column] = rows[column].copy()
    rows[column][0] = value
    with pytest.raises(ValueError, match=message):
        write_catalog(rows, tmp_path / "c.parquet", source="test")
    assert list(tmp_path.iterdir()) == []


def test_write_rejects_missing_column_and_float_ids(tmp_path: Path):
    rows = _small()
    del rows["vmag"]
    with pytest.raises(ValueError, match="lack required column.*vmag"):
        write_catalog(rows, tmp_path / "c.parquet", source="test")
    rows = _small() | {"picid": np.array([1.0, 2.0, 3.0])}
    with pytest.raises(ValueError, match="'picid' must be integers"):
        write_catalog(rows, tmp_path / "c.parquet", source="test")


def test_failed_write_keeps_the_old_file(tmp_path: Path):
    path = tmp_path / "c.parquet"
    write_catalog(_small(), path, source="first")
    before = path.read_bytes()
    bad = _small() | {"dec": np.array([0.0, 0.0, 95.0])}
    with pytest.raises(ValueError):
        write_catalog(bad, path, source="second")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.parquet"]
    info = write_catalog(_small() | {"vmag": np.array([1.0, 2.0, 3.0])}, path, source="second")
    assert info.source == "second" and LocalCatalog(path).info.source == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["c.parquet"]  # no temporary file left


def test_small_catalog_round_trip(tmp_path: Path):
    path = tmp_path / "deep" / "folder" / "c.parquet"
    info = write_catalog(Table(_small()), path, source="test", band_height=180.0)
    assert (info.rows, info.bands, info.band_count, info.row_groups) == (3, 1, 1, 1)
    catalog = open_catalog(path)
    everything = catalog.cone_search(0.0, 0.0, 180.0, ALL_MAGS)
    assert list(everything["picid"]) == [1, 2, 3]
    assert list(catalog.cone_search(0.0, 90.0, 0.5, ALL_MAGS)["picid"]) == [2]
    assert len(catalog.cone_search(100.0, 0.0, 1.0, ALL_MAGS)) == 0


def test_empty_result_has_the_columns(catalog: LocalCatalog):
    empty = catalog.cone_search(10.0, 0.0, 1e-7, ALL_MAGS)
    assert len(empty) == 0
    assert empty.colnames == ["picid", "ra", "dec", "vmag", "tmag", "name"]


# --- finding and opening -----------------------------------------------------------------


def test_default_catalog_path():
    assert default_catalog_path({"PANOPTES_CATALOG": "/data/c.parquet"}) == Path("/data/c.parquet")
    assert default_catalog_path({"XDG_CACHE_HOME": "/xdg"}) == Path(
        "/xdg/panoptes-network/catalog/tycho2.parquet"
    )
    assert default_catalog_path({}) == (
        Path.home() / ".cache/panoptes-network/catalog/tycho2.parquet"
    )


def test_open_catalog_missing_names_path_and_command(tmp_path: Path, monkeypatch):
    missing = tmp_path / "nothing.parquet"
    with pytest.raises(FileNotFoundError, match="bin/catalog build-tycho2") as caught:
        open_catalog(missing)
    assert str(missing) in str(caught.value)
    monkeypatch.setenv("PANOPTES_CATALOG", str(missing))
    with pytest.raises(FileNotFoundError, match="nothing.parquet"):
        open_catalog()


def test_open_is_lazy_and_checks_the_file(tmp_path: Path):
    catalog = LocalCatalog(tmp_path / "later.parquet")  # nothing there yet: fine until used
    with pytest.raises(FileNotFoundError, match="later.parquet"):
        catalog.cone_search(0.0, 0.0, 1.0)
    write_catalog(_small(), tmp_path / "later.parquet", source="test")
    assert len(catalog.cone_search(10.0, 0.0, 1.0, ALL_MAGS)) == 1
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table(_small()), plain)
    with pytest.raises(ValueError, match="without a catalog index"):
        LocalCatalog(plain).cone_search(0.0, 0.0, 1.0)
