"""BigQueryCatalog: the SQL and parameters it would send, through a fake client (no cloud)."""

from __future__ import annotations

import math
import subprocess
import sys
import types

import numpy as np
import pytest

from panoptes_network.adapters.bigquery_catalog import BigQueryCatalog
from panoptes_network.catalog.star_catalog import angular_separation

TABLE = "panoptes-exp.catalog.pic"


class FakeBigQuery(types.ModuleType):
    """Stands in for ``google.cloud.bigquery``: records what the catalog builds."""

    def __init__(self, rows: list[dict]):
        super().__init__("google.cloud.bigquery")
        self.rows = rows
        self.clients: list[FakeClient] = []
        fake = self

        class ScalarQueryParameter:
            def __init__(self, name, type_, value):
                self.name, self.type_, self.value = name, type_, value

        class QueryJobConfig:
            def __init__(self, query_parameters):
                self.query_parameters = query_parameters

        class Client:
            def __new__(cls, project):
                client = FakeClient(fake.rows, project)
                fake.clients.append(client)
                return client

        self.ScalarQueryParameter = ScalarQueryParameter
        self.QueryJobConfig = QueryJobConfig
        self.Client = Client


class FakeClient:
    def __init__(self, rows: list[dict], project: str = "injected"):
        self.rows = rows
        self.project = project
        self.queries: list[tuple[str, object]] = []

    def query(self, sql, job_config):
        self.queries.append((sql, job_config))
        rows = self.rows
        return types.SimpleNamespace(result=lambda: iter(rows))


ROWS = [
    {"picid": 30, "ra": 10.5, "dec": 20.1, "vmag": 9.5, "tmag": 9.1},
    {"picid": 12, "ra": 10.4, "dec": 20.0, "vmag": 8.0, "tmag": 7.7},
]


@pytest.fixture
def fake_bigquery(monkeypatch) -> FakeBigQuery:
    fake = FakeBigQuery(ROWS)
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", fake)
    return fake


def test_query_text_and_parameters():
    query = BigQueryCatalog("my-project", TABLE).build_query(350.0, -20.0, 2.5, (6.0, 12.0))
    assert f"FROM `{TABLE}`" in query.sql
    assert "WHERE dec BETWEEN @dec_min AND @dec_max" in query.sql
    assert "vmag BETWEEN @vmag_min AND @vmag_max" in query.sql
    assert query.sql.rstrip().endswith("ORDER BY picid")
    params = {name: (kind, value) for name, kind, value in query.parameters}
    assert {kind for kind, _ in params.values()} == {"FLOAT64"}
    assert params["ra_rad"][1] == pytest.approx(math.radians(350.0), abs=1e-15)
    assert params["dec_rad"][1] == pytest.approx(math.radians(-20.0), abs=1e-15)
    assert params["radius_rad"][1] == pytest.approx(math.radians(2.5), abs=1e-15)
    assert params["dec_min"][1] == pytest.approx(-22.5, abs=1e-8)
    assert params["dec_max"][1] == pytest.approx(-17.5, abs=1e-8)
    assert params["dec_min"][1] < -22.5 and params["dec_max"][1] > -17.5  # never too tight
    assert (params["vmag_min"][1], params["vmag_max"][1]) == (6.0, 12.0)
    # Every @parameter in the SQL is sent, and nothing else: values never go into the text.
    used = set(__import__("re").findall(r"@(\w+)", query.sql))
    assert used == set(params)


def test_dec_prefilter_is_clamped_at_the_poles():
    params = {
        n: v for n, _, v in BigQueryCatalog("p", TABLE).build_query(0.0, 89.0, 3.0).parameters
    }
    assert params["dec_max"] == 90.0 and params["dec_min"] == pytest.approx(86.0)


def _sql_distance_filter(sql: str, parameters, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Evaluate the SQL's great-circle condition in Python, function by function."""
    start = sql.index("2 * ASIN(")
    expression = sql[start : sql.index("\nORDER BY")].replace("@", "p_")
    functions = {
        "ASIN": np.arcsin,
        "SQRT": np.sqrt,
        "POW": np.power,
        "SIN": np.sin,
        "COS": np.cos,
        "ACOS": np.arccos,
        "LEAST": np.minimum,
    }
    names = {f"p_{n}": v for n, _, v in parameters}
    return eval(expression, {"__builtins__": {}}, {**functions, **names, "ra": ra, "dec": dec})


@pytest.mark.parametrize(
    "ra, dec, radius", [(350.0, -20.0, 2.5), (0.5, 0.0, 5.0), (180.0, 89.0, 3.0), (40.0, 10, 60)]
)
def test_sql_distance_matches_angular_separation(ra, dec, radius):
    """The haversine in the SQL selects what the exact separation selects (seeded points)."""
    query = BigQueryCatalog("p", TABLE).build_query(ra, dec, radius)
    rng = np.random.default_rng(5)
    star_ra = np.mod(ra + rng.uniform(-3 * radius, 3 * radius, 20000), 360.0)
    star_dec = np.clip(dec + rng.uniform(-1.5 * radius, 1.5 * radius, 20000), -90, 90)
    inside = _sql_distance_filter(query.sql, query.parameters, star_ra, star_dec)
    separation = angular_separation(ra, dec, star_ra, star_dec)
    clear = np.abs(separation - radius) > 1e-9  # rounding may decide exactly on the edge
    assert np.array_equal(inside[clear], (separation <= radius)[clear])
    assert 100 < inside.sum() < len(inside) - 100


def test_cone_search_through_a_fake_client(fake_bigquery: FakeBigQuery):
    client = FakeClient(ROWS)
    catalog = BigQueryCatalog("proj", TABLE, extra_columns=["tmag"], client=client)
    found = catalog.cone_search(10.45, 20.05, 0.5)
    ((sql, config),) = client.queries
    assert sql == catalog.build_query(10.45, 20.05, 0.5).sql
    assert sql.startswith("SELECT picid, ra, dec, vmag, tmag\n")
    sent = {(p.name, p.type_, p.value) for p in config.query_parameters}
    assert sent == set(catalog.build_query(10.45, 20.05, 0.5).parameters)
    assert list(found["picid"]) == [12, 30]  # sorted by picid
    assert found.colnames == ["picid", "ra", "dec", "vmag", "tmag"]
    assert found["picid"].dtype == np.int64 and list(found["tmag"]) == [7.7, 9.1]
    assert fake_bigquery.clients == []  # the injected client was used


def test_client_is_created_lazily_for_the_project(fake_bigquery: FakeBigQuery):
    catalog = BigQueryCatalog("proj-x", TABLE)
    assert fake_bigquery.clients == []
    catalog.cone_search(10.0, 20.0, 1.0)
    catalog.cone_search(11.0, 20.0, 1.0)
    assert [c.project for c in fake_bigquery.clients] == ["proj-x"]
    assert len(fake_bigquery.clients[0].queries) == 2


def test_missing_library_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)
    catalog = BigQueryCatalog("p", TABLE)
    with pytest.raises(ImportError, match=r"pip install 'panoptes-network\[bigquery\]'"):
        catalog.cone_search(10.0, 20.0, 1.0)


@pytest.mark.parametrize("table", ["pic", "a.b`; DROP TABLE x; --", "a b.c"])
def test_bad_table_id_is_rejected(table):
    with pytest.raises(ValueError, match="table id"):
        BigQueryCatalog("p", table)


def test_bad_cone_is_rejected_before_any_query():
    client = FakeClient([])
    with pytest.raises(ValueError, match="radius"):
        BigQueryCatalog("p", TABLE, client=client).cone_search(1.0, 2.0, 0.0)
    assert client.queries == []


def test_domain_modules_import_no_cloud_client():
    # The google / google.cloud namespace packages are preloaded by a .pth file: the baseline.
    code = (
        "import sys; before = set(sys.modules); "
        "import panoptes_network.catalog.local_file, panoptes_network.catalog.tic_import, "
        "panoptes_network.adapters.bigquery_catalog, panoptes_network.cli.catalog; "
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('google')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
