"""The lookup-field request, against a brute-force search of the same stars.

A synthetic catalog file (written with ``write_catalog``) holds stars spread over the sky plus
dense patches at the places that break naive searches: across RA 0/360, around both poles,
and around named targets. Every answer is compared with
:class:`~panoptes_network.catalog.star_catalog.InMemoryCatalog` (brute force over the same rows),
sorted by V magnitude then PICID. A few checks run against the real default catalog when
it exists, with a brute force over the whole file as the reference.
"""

from __future__ import annotations

import importlib.util
import math
import socket

import astropy.units as u
import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import Angle, SkyCoord
from astropy.coordinates.name_resolve import NameResolveError
from astropy.table import Table

from panoptes_network.catalog.field_lookup import (
    DEFAULT_MAX_SOURCES,
    MAX_REQUEST_BYTES,
    MAX_SEARCH_LENGTH,
    lookup_field,
    request_from_query,
)
from panoptes_network.catalog.local_file import LocalCatalog, default_catalog_path, write_catalog
from panoptes_network.catalog.picid_lookup import find_star, position_of_cell_id
from panoptes_network.catalog.sesame_resolver import ONLINE_ENV_VAR, SesameResolver, online_enabled
from panoptes_network.catalog.star_catalog import InMemoryCatalog, angular_separation
from panoptes_network.catalog.target_names import Target, TargetNames, bundled_target_names
from panoptes_network.catalog.tycho2_index import ID_OFFSET
from tests.conftest import ROOT

HD189733 = (300.1821375, 22.7108528)  # the table's position, a patch centre below
M42 = (83.8186667, -5.3896667)
# Patches of dense stars: (RA, Dec) centres, degrees.
PATCHES = [(0.2, 0.0), (359.8, 45.0), HD189733, M42]
CELL = 1.0 / 3600.0


def cell_id(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Position-derived ids, computed as tycho2_index does (a 1-arcsecond grid)."""
    row = np.floor((dec + 90.0) / CELL).astype(np.int64)
    col = np.floor(ra / CELL).astype(np.int64)
    return ID_OFFSET + row * 1_296_000 + col


def synthetic_rows(seed: int = 7) -> Table:
    rng = np.random.default_rng(seed)
    ras, decs = [rng.uniform(0, 360, 20_000)], [np.degrees(np.arcsin(rng.uniform(-1, 1, 20_000)))]
    for ra0, dec0 in PATCHES:
        offset_dec = rng.uniform(-1.5, 1.5, 1500)
        dec = np.clip(dec0 + offset_dec, -90, 90)
        ras.append((ra0 + rng.uniform(-1.5, 1.5, 1500) / max(np.cos(np.radians(dec0)), 0.05)) % 360)
        decs.append(dec)
    for pole in (90.0, -90.0):  # polar caps: every RA, within 2 degrees of the pole
        ras.append(rng.uniform(0, 360, 2000))
        decs.append(pole - np.sign(pole) * rng.uniform(0, 2.0, 2000))
    # Stars on either side of RA 0 at the equator, and at the poles themselves.
    ras.append(np.array([359.95, 359.999, 0.001, 0.05, 0.0, 10.0, 190.0]))
    decs.append(np.array([0.0, 0.1, -0.1, 0.0, 90.0, 89.99, -89.99]))
    ra, dec = np.concatenate(ras) % 360.0, np.concatenate(decs)
    ids = cell_id(ra, dec)
    # A third of the stars get small TIC-like ids instead of position-derived ones.
    tic = rng.random(len(ra)) < 1 / 3
    ids[tic] = 1000 + np.flatnonzero(tic)
    ids, first = np.unique(ids, return_index=True)
    vmag = rng.uniform(3.0, 16.0, len(ra)).astype(np.float32)
    return Table({"picid": ids, "ra": ra[first], "dec": dec[first], "vmag": vmag[first]})


@pytest.fixture(scope="module")
def rows() -> Table:
    return synthetic_rows()


@pytest.fixture(scope="module")
def catalog(rows, tmp_path_factory) -> LocalCatalog:
    path = tmp_path_factory.mktemp("catalog") / "synthetic.parquet"
    write_catalog(rows, path, source="synthetic", group_rows=256)
    with LocalCatalog(path) as local:
        yield local


@pytest.fixture(scope="module")
def brute(rows) -> InMemoryCatalog:
    return InMemoryCatalog(rows)


@pytest.fixture(scope="module")
def names() -> TargetNames:
    return bundled_target_names()


def expected_sources(brute, ra, dec, radius=1.0, vmag=(6.0, 13.0), cap=DEFAULT_MAX_SOURCES):
    found = brute.cone_search(ra, dec, radius, vmag)
    order = sorted(range(len(found)), key=lambda i: (float(found["vmag"][i]), found["picid"][i]))
    return [int(found["picid"][i]) for i in order][:cap], len(found)


def check_sources(body, brute, ra, dec, radius=1.0, vmag=(6.0, 13.0), cap=DEFAULT_MAX_SOURCES):
    picids, total = expected_sources(brute, ra, dec, radius, vmag, cap)
    assert [s["picid"] for s in body["sources"]] == picids
    assert body["total"] == total and body["count"] == len(picids)
    assert body["truncated"] is (total > len(picids))
    table = brute.table
    index = {int(p): i for i, p in enumerate(table["picid"])}
    for source in body["sources"]:
        row = table[index[source["picid"]]]
        assert source["ra"] == pytest.approx(float(row["ra"]), abs=1e-7)
        assert source["dec"] == pytest.approx(float(row["dec"]), abs=1e-7)
        assert source["vmag"] == pytest.approx(float(row["vmag"]), abs=1e-3)
    return picids


def ok(request, catalog, names, **kwargs):
    status, body = lookup_field(request, catalog, names, **kwargs)
    assert status == 200, body
    return body


# --- every form of search string ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("HD 189733", "HD 189733"),
        ("hd189733", "HD 189733"),
        ("  V452 Vul ", "HD 189733"),
        ("M42", "M 42"),
        ("m 42", "M 42"),
        ("Messier 42", "M 42"),
        ("orion nebula", "M 42"),
    ],
)
def test_names(catalog, brute, names, text, name):
    body = ok({"search_string": text}, catalog, names)
    target = names.resolve(name)
    assert (body["ra"], body["dec"]) == pytest.approx((target.ra, target.dec), abs=1e-7)
    assert body["resolved_as"] == {
        "type": "name",
        "name": name,
        "kind": target.kind,
        "source": target.source,
    }
    assert body["search_string"] == text.strip()
    picids = check_sources(body, brute, target.ra, target.dec)
    assert len(picids) > 50  # the dense patch is there


@pytest.mark.parametrize(
    ("text", "ra", "dec", "form"),
    [
        ("300.1821375 22.7108528", 300.1821375, 22.7108528, "decimal degrees"),
        ("300.1821375, +22.7108528", 300.1821375, 22.7108528, "decimal degrees"),
        ("20h00m43.713s +22d42m39.07s", "20h00m43.713s", "22d42m39.07s", "sexagesimal"),
        ("20:00:43.713 +22:42:39.07", "20h00m43.713s", "22d42m39.07s", "sexagesimal"),
        ("20 00 43.713 +22 42 39.07", "20h00m43.713s", "22d42m39.07s", "sexagesimal"),
        ("05 35 16.48 -05 23 22.8", "05h35m16.48s", "-5d23m22.8s", "sexagesimal"),
    ],
)
def test_coordinates(catalog, brute, names, text, ra, dec, form):
    ra = Angle(ra).degree if isinstance(ra, str) else ra
    dec = Angle(dec).degree if isinstance(dec, str) else dec
    body = ok({"search_string": text}, catalog, names)
    assert (body["ra"], body["dec"]) == pytest.approx((ra, dec), abs=1e-7)
    assert body["resolved_as"] == {"type": "coordinates", "form": form}
    check_sources(body, brute, ra, dec)


def test_picid_forms_centre_on_the_star(catalog, brute, names, rows):
    first = ok({"search_string": "HD 189733", "radius_deg": 0.5}, catalog, names)
    position_ids = [s["picid"] for s in first["sources"] if s["picid"] >= ID_OFFSET]
    tic_ids = [s["picid"] for s in first["sources"] if s["picid"] < ID_OFFSET]
    assert position_ids and tic_ids
    index = {int(p): i for i, p in enumerate(rows["picid"])}
    for picid in (position_ids[0], tic_ids[0]):
        star = rows[index[picid]]
        for text in (f"PICID {picid}", f"TIC {picid}", f"tic-{picid}", str(picid)):
            body = ok({"search_string": text, "radius_deg": 0.3}, catalog, names)
            assert (body["ra"], body["dec"]) == pytest.approx(
                (float(star["ra"]), float(star["dec"])), abs=1e-7
            )
            assert body["resolved_as"] == {
                "type": "picid",
                "picid": picid,
                "vmag": pytest.approx(float(star["vmag"]), abs=1e-3),
            }
            check_sources(body, brute, float(star["ra"]), float(star["dec"]), radius=0.3)


def test_find_star_on_every_backend_agrees_with_the_rows(catalog, brute, rows):
    rng = np.random.default_rng(3)
    for i in rng.choice(len(rows), 40, replace=False):
        picid = int(rows["picid"][i])
        for backend in (catalog, brute):
            star = find_star(backend, picid)
            assert star.picid == picid
            assert (star.ra, star.dec) == (float(rows["ra"][i]), float(rows["dec"][i]))
    missing = int(rows["picid"].max()) + 1
    assert find_star(catalog, missing) is None and find_star(brute, 999) is None


def test_cell_ids_decode_to_their_cell():
    for ra, dec in [(0.0, -90.0), (359.9999, 89.9999), (300.18, 22.71), (0.2, 0.0)]:
        centre = position_of_cell_id(int(cell_id(np.array([ra]), np.array([dec]))[0]))
        assert abs(centre[0] - ra) <= CELL and abs(centre[1] - dec) <= CELL
    assert position_of_cell_id(42) is None
    assert position_of_cell_id(ID_OFFSET + 180 * 3600 * 1_296_000) is None


# --- geometry: RA wrap-around and the poles ----------------------------------------------


def test_cone_across_ra_zero(catalog, brute, names):
    body = ok({"search_string": "0.2 0", "vmag_min": -2, "vmag_max": 25}, catalog, names)
    picids = check_sources(body, brute, 0.2, 0.0, vmag=(-2, 25))
    ras = [s["ra"] for s in body["sources"]]
    assert any(ra > 359.0 for ra in ras) and any(ra < 1.0 for ra in ras)
    assert 359.95 in ras and 359.999 in ras  # the stars placed just west of RA 0
    assert len(picids) > 100


@pytest.mark.parametrize(("ra", "dec"), [(0.0, 89.9), (123.4, 89.9), (250.0, -89.9), (0.0, 90.0)])
def test_cones_at_the_poles(catalog, brute, names, ra, dec):
    request = {"search_string": f"{ra} {dec:+}", "radius_deg": 1.5, "vmag_min": -2, "vmag_max": 25}
    body = ok(request, catalog, names)
    check_sources(body, brute, ra, dec, radius=1.5, vmag=(-2, 25))
    ras = np.array([s["ra"] for s in body["sources"]])
    assert np.ptp(ras) > 300  # a polar cap spans every RA
    assert all(abs(s["dec"]) > 88.4 - 1e-9 for s in body["sources"])


def test_wide_cone_and_magnitude_range(catalog, brute, names):
    request = {"search_string": "M 42", "radius_deg": 10, "vmag_min": 8.5, "vmag_max": 9.5}
    body = ok(request, catalog, names)
    check_sources(body, brute, *M42, radius=10, vmag=(8.5, 9.5))
    assert all(8.5 <= s["vmag"] <= 9.5 for s in body["sources"])
    assert (body["radius_deg"], body["vmag_min"], body["vmag_max"]) == (10.0, 8.5, 9.5)


def test_answers_are_capped_to_the_brightest(catalog, brute, names):
    request = {"search_string": "HD 189733", "radius_deg": 2, "max_sources": 25}
    body = ok(request, catalog, names)
    picids = check_sources(body, brute, *HD189733, radius=2, cap=25)
    assert len(picids) == 25 and body["truncated"] and body["total"] > 25
    vmags = [s["vmag"] for s in body["sources"]]
    assert vmags == sorted(vmags)
    everything = ok({**request, "max_sources": 5000}, catalog, names)
    assert not everything["truncated"] and everything["count"] == body["total"]
    assert max(vmags) <= everything["sources"][25]["vmag"]


def test_an_empty_field_is_an_answer(catalog, names):
    body = ok({"search_string": "HD 189733", "vmag_min": 20, "vmag_max": 25}, catalog, names)
    assert body["sources"] == [] and body["count"] == body["total"] == 0
    assert body["truncated"] is False


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "status", "words"),
    [
        (["M 42"], 400, "JSON object"),
        ("M 42", 400, "JSON object"),
        ({}, 400, "search_string is required"),
        ({"search_string": ""}, 400, "search_string is required"),
        ({"search_string": "   "}, 400, "search_string is required"),
        ({"search_string": 42}, 400, "search_string is required"),
        ({"search_string": "x" * (MAX_SEARCH_LENGTH + 1)}, 400, "longer than 200"),
        ({"search_string": "M 42", "radius": 1}, 400, "unknown field(s) 'radius'"),
        ({"search_string": "M 42", "radius_deg": "1"}, 400, "radius_deg must be a number"),
        ({"search_string": "M 42", "radius_deg": True}, 400, "radius_deg must be a number"),
        ({"search_string": "M 42", "radius_deg": None}, 400, "radius_deg must be a number"),
        ({"search_string": "M 42", "radius_deg": 0}, 400, "radius_deg must be above 0"),
        ({"search_string": "M 42", "radius_deg": -1}, 400, "radius_deg -1 must be from"),
        (
            {"search_string": "M 42", "radius_deg": 10.5},
            400,
            "radius_deg 10.5 must be from 0 to 10",
        ),
        ({"search_string": "M 42", "radius_deg": math.inf}, 400, "radius_deg inf"),
        ({"search_string": "M 42", "radius_deg": math.nan}, 400, "radius_deg nan"),
        ({"search_string": "M 42", "radius_deg": 10**400}, 400, "radius_deg inf must be"),
        ({"search_string": "M 42", "vmag_min": 10, "vmag_max": 8}, 400, "vmag_min 10 is above"),
        ({"search_string": "M 42", "vmag_max": 30}, 400, "vmag_max 30 must be from -2 to 25"),
        ({"search_string": "M 42", "vmag_min": "bright"}, 400, "vmag_min must be a number"),
        ({"search_string": "M 42", "max_sources": 0}, 400, "max_sources 0 must be from 1"),
        ({"search_string": "M 42", "max_sources": 2.5}, 400, "whole number"),
        ({"search_string": "M 42", "max_sources": 6000}, 400, "max_sources 6000"),
        ({"search_string": "400 10"}, 400, "below 360"),
        ({"search_string": "20 06 15 +95 00 00"}, 400, "within +-90"),
        ({"search_string": "20 75 00 +10 00 00"}, 400, "minutes 75"),
        ({"search_string": "12.5"}, 400, "one number"),
        ({"search_string": "PICID 0"}, 400, "PICID 0 must be from 1"),
        ({"search_string": "Unobtainium Prime"}, 404, "no target named 'Unobtainium Prime'"),
        ({"search_string": "HD 1"}, 404, "give coordinates or a PICID"),
        ({"search_string": "PICID 5"}, 404, "no star with PICID 5 in the catalog"),
        ({"search_string": "5"}, 404, "a lone integer is read as a PICID"),
    ],
)
def test_errors_have_a_status_and_a_message(catalog, names, request_body, status, words):
    answer_status, body = lookup_field(request_body, catalog, names)
    assert answer_status == status
    assert set(body) == {"error"} and words in body["error"]


def test_missing_catalog_answers_503(tmp_path, names):
    status, body = lookup_field({"search_string": "M 42"}, LocalCatalog(tmp_path / "no"), names)
    assert status == 503 and "catalog" in body["error"] and "bin/catalog" in body["error"]
    status, body = lookup_field({"search_string": "TIC 5"}, LocalCatalog(tmp_path / "no"), names)
    assert status == 503


def test_query_parameters_become_numbers(catalog, names):
    args = {"search_string": "M 42", "radius_deg": "0.5", "vmag_max": "12", "max_sources": "10"}
    request = request_from_query(args)
    assert request == {
        "search_string": "M 42",
        "radius_deg": 0.5,
        "vmag_max": 12.0,
        "max_sources": 10.0,
    }
    assert ok(request, catalog, names)["count"] <= 10
    status, body = lookup_field(request_from_query({**args, "radius_deg": "wide"}), catalog, names)
    assert status == 400 and "radius_deg must be a number, not 'wide'" in body["error"]
    status, body = lookup_field(request_from_query({**args, "max_sources": "2.5"}), catalog, names)
    assert status == 400 and "max_sources must be a whole number" in body["error"]
    assert (
        ok(request_from_query({**args, "max_sources": "10.0"}), catalog, names)["max_sources"] == 10
    )


# --- the optional online resolver --------------------------------------------------------


class FakeResolver:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, name):
        self.calls.append(name)
        return self.answers.get(name)


def test_online_resolver_is_a_fallback_only(catalog, brute, names):
    resolver = FakeResolver({"Sadalsuud": (322.8897, -5.5712)})
    body = ok({"search_string": "Sadalsuud"}, catalog, names, resolver=resolver)
    assert body["resolved_as"]["kind"] == "online" and body["ra"] == 322.8897
    check_sources(body, brute, 322.8897, -5.5712)
    ok({"search_string": "HD 189733"}, catalog, names, resolver=resolver)
    ok({"search_string": "10 20"}, catalog, names, resolver=resolver)
    assert resolver.calls == ["Sadalsuud"]  # never asked for table names or coordinates
    status, body = lookup_field({"search_string": "Nowhere"}, catalog, names, resolver=resolver)
    assert status == 404 and "online resolver" in body["error"]


def test_online_switch_and_unreachable_host(monkeypatch):
    assert online_enabled({ONLINE_ENV_VAR: "1"}) and online_enabled({ONLINE_ENV_VAR: " Yes "})
    assert not online_enabled({}) and not online_enabled({ONLINE_ENV_VAR: "0"})
    attempts = []

    def refuse(address, timeout):
        attempts.append((address, timeout))
        raise OSError("network is unreachable")

    def never(*args, **kwargs):
        raise AssertionError("Sesame must not be queried when its host is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(SkyCoord, "from_name", never)
    resolver = SesameResolver(timeout_s=0.5)
    assert resolver("Sadalsuud") is None and resolver("Sadalmelik") is None
    assert len(attempts) == 1  # the answer is kept, not asked again per lookup
    assert attempts[0][0][0] == "cds.unistra.fr" and attempts[0][1] == 0.5


def test_sesame_answers_and_unknown_names(monkeypatch):
    resolver = SesameResolver()
    monkeypatch.setattr(resolver, "reachable", lambda: True)

    def from_name(name, parse=False, cache=False):
        if name == "Sadalsuud":
            return SkyCoord(322.8897 * u.deg, -5.5712 * u.deg)
        raise NameResolveError(f"Unable to find coordinates for name {name!r}")

    monkeypatch.setattr(SkyCoord, "from_name", from_name)
    assert resolver("Sadalsuud") == pytest.approx((322.8897, -5.5712))
    assert resolver("Nowhere") is None


# --- a table of our own, for names the bundled one lacks ---------------------------------


def test_custom_name_table(catalog, brute):
    table = TargetNames([Target("Pole Patch", ("NCP",), 0.0, 90.0, None, "star", "test")])
    body = ok({"search_string": "ncp", "radius_deg": 1}, catalog, table)
    check_sources(body, brute, 0.0, 90.0)
    assert lookup_field({"search_string": "M 42"}, catalog, table)[0] == 404


# --- the HTTP handler (services/lookup-field/main.py) ------------------------------------


@pytest.fixture(scope="module")
def service(catalog):
    path = ROOT / "services" / "lookup-field" / "main.py"
    spec = importlib.util.spec_from_file_location("lookup_field_main", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.RUNTIME._catalog = catalog  # as if opened on the first request
    module.RESOLVER = None  # never the network in tests, whatever the environment says
    return module


def call(service, method, path="/", **kwargs):
    import flask

    app = flask.Flask("test")
    with app.test_request_context(path, method=method, **kwargs):
        return service.handle(flask.request)


def test_handler_get_post_options_and_errors(service, brute):
    response = call(service, "GET", "/?search_string=M%2042&radius_deg=0.5")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    check_sources(response.get_json(), brute, *M42, radius=0.5)
    posted = call(service, "POST", json={"search_string": "M 42", "radius_deg": 0.5})
    assert posted.get_json() == response.get_json()
    plain = call(service, "POST", data='{"search_string": "M 42", "radius_deg": 0.5}')
    assert plain.status_code == 200  # a browser's "simple" text/plain POST
    options = call(service, "OPTIONS")
    assert options.status_code == 204 and "GET" in options.headers["Access-Control-Allow-Methods"]
    for method, kwargs, status in [
        ("PUT", {"json": {"search_string": "M 42"}}, 405),
        ("DELETE", {}, 405),
        ("POST", {"data": b"{nope"}, 400),
        ("POST", {"json": {"search_string": "x" * (MAX_REQUEST_BYTES + 10)}}, 413),
        ("GET", {"path": "/?search_string=Unobtainium"}, 404),
        ("GET", {"path": "/?search_string=M42&radius_deg=99"}, 400),
        ("GET", {"path": "/"}, 400),
    ]:
        path = kwargs.pop("path", "/")
        answer = call(service, method, path, **kwargs)
        assert answer.status_code == status, (method, kwargs)
        assert answer.headers["Access-Control-Allow-Origin"] == "*"
        assert answer.get_json()["error"]


def test_handler_without_catalog_answers_503(service, tmp_path, monkeypatch):
    monkeypatch.setattr(service.RUNTIME, "_catalog", None)
    monkeypatch.setenv("PANOPTES_CATALOG", str(tmp_path / "none.parquet"))
    answer = call(service, "GET", "/?search_string=M42")
    assert answer.status_code == 503 and "catalog" in answer.get_json()["error"]


# --- the real default catalog, when present ----------------------------------------------


@pytest.fixture(scope="module")
def real():
    path = default_catalog_path()
    if not path.is_file():
        pytest.skip(f"no local catalog at {path} (bin/catalog build-tycho2 builds it)")
    whole = pq.read_table(path, columns=["picid", "ra", "dec", "vmag"])
    with LocalCatalog(path) as local:
        yield local, {name: whole.column(name).to_numpy() for name in whole.column_names}


def brute_force_band(columns, dec, radius) -> InMemoryCatalog:
    """Brute force over the rows of the declination band a cone spans (a plain filter)."""
    keep = np.abs(columns["dec"] - dec) <= radius + 0.01
    return InMemoryCatalog(Table({name: values[keep] for name, values in columns.items()}))


@pytest.mark.parametrize(
    ("text", "radius"),
    [("HD 189733", 1.0), ("0.2 -0.5", 1.0), ("12 00 00 +89 54 00", 1.5), ("Polaris", 2.0)],
)
def test_real_catalog_matches_brute_force(real, names, text, radius):
    local, columns = real
    body = ok({"search_string": text, "radius_deg": radius}, local, names)
    whole = brute_force_band(columns, body["dec"], radius)
    check_sources(body, whole, body["ra"], body["dec"], radius=radius)
    assert body["count"] > 10


def test_real_catalog_picid_round_trip(real, names):
    local, _ = real
    body = ok({"search_string": "HD 189733", "radius_deg": 0.01}, local, names)
    (star,) = body["sources"]  # HD 189733 itself, V 7.7, alone within 36 arcsec
    assert abs(star["vmag"] - 7.67) < 0.3
    assert angular_separation(star["ra"], star["dec"], *HD189733) * 3600 < 1.0
    again = ok({"search_string": f"PICID {star['picid']}", "radius_deg": 0.01}, local, names)
    assert (again["ra"], again["dec"]) == (star["ra"], star["dec"])
    assert again["sources"] == [star]
