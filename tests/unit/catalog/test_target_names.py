"""The offline target table: name matching, its contents, and checks against independent data.

The curated exoplanet hosts are checked against the local Tycho-2 catalog (skipped when the
catalog file is missing) and against their 2MASS designations; Bayer and Flamsteed
designations against astropy's constellation boundaries.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import Angle, SkyCoord, get_constellation

from panoptes_network.catalog.local_file import default_catalog_path, open_catalog
from panoptes_network.catalog.star_catalog import angular_separation
from panoptes_network.catalog.target_names import (
    CSV_COLUMNS,
    GREEK_LETTERS,
    Target,
    TargetNames,
    bundled_target_names,
    normalise_name,
)
from tests.conftest import ROOT

DATA = ROOT / "shared" / "panoptes_network" / "catalog" / "data"
KINDS = {"bright-star", "messier", "exoplanet-host", "star"}
CURATED = {"exoplanet-host", "star"}


@pytest.fixture(scope="module")
def names() -> TargetNames:
    return bundled_target_names()


def target(name: str, ra: float = 10.0, dec: float = 20.0, aliases=()) -> Target:
    return Target(name, tuple(aliases), ra, dec, None, "star", "test")


# --- name normalisation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("HD 189733", "hd189733"),
        ("hd189733", "hd189733"),
        ("  HD-189733 ", "hd189733"),
        ("M 42", "m42"),
        ("M042", "m42"),
        ("NGC 0224", "ngc224"),
        ("WASP-33", "wasp33"),
        ("wasp 33", "wasp33"),
        ("HAT-P-7", "hatp7"),
        ("α Ori", "alphaori"),
        ("ALPHA ori", "alphaori"),
        ("β1 Sgr", "beta1sgr"),
        ("Boyajian's Star", "boyajiansstar"),
        ("Bételgeuse", "betelgeuse"),
        ("M 100", "m100"),
        ("M 10", "m10"),
        ("0", "0"),
        ("--", ""),
    ],
)
def test_normalise_name(text, key):
    assert normalise_name(text) == key


def test_every_greek_letter_spells_to_its_name():
    for letter, (full, _) in GREEK_LETTERS.items():
        assert normalise_name(f"{letter} Cyg") == f"{full}cyg"
        assert normalise_name(f"{letter.upper()} Cyg") == f"{full}cyg"


# --- the table class ---------------------------------------------------------------------


def test_a_name_shared_by_two_targets_is_refused():
    with pytest.raises(ValueError, match="also a name of 'A'"):
        TargetNames([target("A", aliases=["Same"]), target("B", aliases=["same"])])
    with pytest.raises(ValueError, match="without letters"):
        TargetNames([target("--")])


def test_resolve_len_contains_and_kinds():
    table = TargetNames([target("Vega", aliases=["alpha Lyr"]), target("M 1", ra=83.6)])
    assert table.resolve("ALPHA  lyr").name == "Vega"
    assert table.resolve("m1").ra == 83.6
    assert table.resolve("M 2") is None
    assert "vega" in table and "Deneb" not in table and 42 not in table
    assert len(table) == 2 and table.name_count == 3
    assert table.kinds() == {"star": 2}


def test_read_csv_checks_rows():
    header = ",".join(CSV_COLUMNS)
    good = f'{header}\nVega,alpha Lyr;α Lyr,279.2347,38.7837,0.03,bright-star,"x, y"\n'
    table = TargetNames.read_csv(good)
    vega = table.resolve("vega")
    assert vega.aliases == ("alpha Lyr", "α Lyr") and vega.vmag == 0.03 and vega.source == "x, y"
    assert TargetNames.read_csv(f"{header}\nA,,1,2,,star,s\n").resolve("a").vmag is None
    with pytest.raises(ValueError, match="columns"):
        TargetNames.read_csv("name,ra\nA,1\n")
    with pytest.raises(ValueError, match="line 2: ra_deg 'x'"):
        TargetNames.read_csv(f"{header}\nA,,x,2,,star,s\n")
    with pytest.raises(ValueError, match="not a sky position"):
        TargetNames.read_csv(f"{header}\nA,,360,2,,star,s\n")
    with pytest.raises(ValueError, match="not finite"):
        TargetNames.read_csv(f"{header}\nA,,1,2,nan,star,s\n")


# --- the bundled table -------------------------------------------------------------------


def test_bundled_table_size_and_kinds(names):
    kinds = names.kinds()
    assert set(kinds) == KINDS
    assert kinds["bright-star"] >= 100
    assert kinds["messier"] == 109  # M 102 is an alias of M 101 in OpenNGC
    assert kinds["exoplanet-host"] >= 12
    assert len(names) == sum(kinds.values())
    assert names.name_count > 2 * len(names)


def test_bundled_table_is_the_committed_csv(names):
    assert names.name_count == TargetNames.from_file(DATA / "targets.csv").name_count
    text = (DATA / "TARGETS_SOURCES.md").read_text()
    assert "CC-BY-SA-4.0" in text and "OpenNGC" in text and "SIMBAD" in text
    for kind, count in names.kinds().items():
        assert f"| {kind} | {count} |" in text, kind


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("hd189733", "HD 189733"),
        ("HD 189733", "HD 189733"),
        ("HD 209458", "HD 209458"),
        ("m 42", "M 42"),
        ("M42", "M 42"),
        ("Messier 42", "M 42"),
        ("NGC 1976", "M 42"),
        ("orion nebula", "M 42"),
        ("M31", "M 31"),
        ("Andromeda Galaxy", "M 31"),
        ("M 45", "M 45"),
        ("Pleiades", "M 45"),
        ("M 102", "M 101"),
        ("wasp-33", "WASP-33"),
        ("WASP 12", "WASP-12"),
        ("HD 15082", "WASP-33"),
        ("hat-p-7", "HAT-P-7"),
        ("KELT-9", "KELT-9"),
        ("Kepler-452", "Kepler-452"),
        ("KOI-1", "TrES-2"),
        ("TRAPPIST-1", "TRAPPIST-1"),
        ("KIC 8462852", "KIC 8462852"),
        ("kic8462852", "KIC 8462852"),
        ("Tabby's Star", "KIC 8462852"),
        ("Betelgeuse", "Betelgeuse"),
        ("BETELGEUSE", "Betelgeuse"),
        ("alpha Ori", "Betelgeuse"),
        ("alf Ori", "Betelgeuse"),
        ("α Ori", "Betelgeuse"),
        ("Alpha Centauri", "Rigil Kentaurus"),
        ("Polaris", "Polaris"),
        ("North Star", "Polaris"),
        ("Vega", "Vega"),
        ("Adara", "Adhara"),
        ("Sirrah", "Alpheratz"),
        ("27 Tau", "Atlas"),
    ],
)
def test_common_names_resolve(names, text, name):
    assert names.resolve(text).name == name


def test_every_messier_number_resolves(names):
    found = {names.resolve(f"M{n}").name for n in range(1, 111)}
    assert len(found) == 109
    for n in range(1, 111):
        assert names.resolve(f"Messier {n:03d}") is names.resolve(f"m {n}")


def test_rows_are_well_formed(names):
    for t in names:
        assert t.kind in KINDS, t
        assert 0 <= t.ra < 360 and -90 <= t.dec <= 90, t
        assert t.source, t
        if t.kind in CURATED or t.kind == "bright-star":
            assert t.vmag is not None and -2 < t.vmag < 20, t


@pytest.mark.parametrize(
    ("name", "ra", "dec", "tolerance_arcsec"),
    [
        # Well-known positions (ICRS J2000) to a few arcsec; independent of the table's sources.
        ("Betelgeuse", "05h55m10.31s", "+07d24m25.4s", 2),
        ("Vega", "18h36m56.34s", "+38d47m01.3s", 2),
        ("Polaris", "02h31m49.09s", "+89d15m50.8s", 2),
        ("Sirius", "06h45m08.92s", "-16d42m58.0s", 2),
        ("M 31", "00h42m44.3s", "+41d16m09s", 30),
        ("M 42", "05h35m17.3s", "-05d23m28s", 60),
        ("M 13", "16h41m41.2s", "+36d27m36s", 30),
        ("M 1", "05h34m31.94s", "+22d00m52.2s", 30),
    ],
)
def test_known_positions(names, name, ra, dec, tolerance_arcsec):
    t = names.resolve(name)
    separation = angular_separation(t.ra, t.dec, Angle(ra).degree, Angle(dec).degree) * 3600
    assert separation < tolerance_arcsec, (name, separation)


_BAYER = re.compile(r"^([a-z]+)\d* ([A-Za-z]{3})$")
_FLAMSTEED = re.compile(r"^\d+ ([A-Za-z]{2,3})$")
_GREEK_NAMES = {full for full, _ in GREEK_LETTERS.values()}


def test_designations_lie_in_their_constellation(names):
    checked = 0
    for t in names:
        if t.kind != "bright-star":
            continue
        here = str(get_constellation(SkyCoord(t.ra * u.deg, t.dec * u.deg), short_name=True))
        for alias in t.aliases:
            bayer, flamsteed = _BAYER.match(alias), _FLAMSTEED.match(alias)
            if bayer and bayer.group(1) in _GREEK_NAMES:
                assert bayer.group(2) == here, (t.name, alias, here)
                checked += 1
            elif flamsteed:
                assert flamsteed.group(1) == here, (t.name, alias, here)
                checked += 1
    assert checked >= 100


# 2MASS Jhhmmss.ss+ddmmss.s without the decimal points.
_TWO_MASS = re.compile(r"2MASS J(\d\d)(\d\d)(\d\d)(\d\d)([+-])(\d\d)(\d\d)(\d\d)(\d)")


def test_positions_agree_with_their_2mass_designations(names):
    checked = 0
    for t in names:
        for alias in t.aliases:
            match = _TWO_MASS.fullmatch(alias)
            if not match:
                continue
            h, m, s, cs, sign, d, am, asec, dasec = match.groups()
            ra = Angle(f"{h}h{m}m{s}.{cs}s").degree
            dec = Angle(f"{sign}{d}d{am}m{asec}.{dasec}s").degree
            # Designations truncate (0.15 s, 0.1 arcsec) at the 2MASS epoch (about 2000).
            assert angular_separation(t.ra, t.dec, ra, dec) * 3600 < 3, (t.name, alias)
            checked += 1
    assert checked >= 8


# --- curated targets against the local Tycho-2 catalog -----------------------------------

VALIDATED_BRIGHTER_THAN = 11.5
MATCH_RADIUS_ARCSEC = 20.0
MATCH_MAGNITUDES = 1.0


@pytest.fixture(scope="module")
def tycho2():
    path = default_catalog_path()
    if not path.is_file():
        pytest.skip(f"no local catalog at {path} (bin/catalog build-tycho2 builds it)")
    with open_catalog(path) as catalog:
        yield catalog


def test_curated_targets_match_a_tycho2_star(names, tycho2):
    """Every curated target brighter than V 11.5 has a Tycho-2 star near, of similar V."""
    curated = [t for t in names if t.kind in CURATED and t.vmag < VALIDATED_BRIGHTER_THAN]
    assert len(curated) >= 12
    failures = []
    for t in curated:
        near = tycho2.cone_search(
            t.ra,
            t.dec,
            MATCH_RADIUS_ARCSEC / 3600,
            (t.vmag - MATCH_MAGNITUDES, t.vmag + MATCH_MAGNITUDES),
        )
        if len(near) == 0:
            failures.append(t.name)
    assert not failures, f"no Tycho-2 star within 20 arcsec and 1 mag of {failures}"


def test_most_curated_targets_sit_on_their_star(names, tycho2):
    """The match is no accident: most curated positions are within 2 arcsec of the star."""
    curated = [t for t in names if t.kind in CURATED and t.vmag < VALIDATED_BRIGHTER_THAN]
    offsets = []
    for t in curated:
        near = tycho2.cone_search(t.ra, t.dec, MATCH_RADIUS_ARCSEC / 3600, (-5.0, 20.0))
        offsets.append(np.min(angular_separation(t.ra, t.dec, near["ra"], near["dec"])) * 3600)
    assert np.mean(np.array(offsets) < 2.0) > 0.9, offsets


# --- packaging ---------------------------------------------------------------------------


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_csv_is_package_data():
    import tomllib

    pyproject = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["panoptes_network.catalog"]
    assert any(Path("data/targets.csv").match(p) for p in patterns)


def test_deploy_staging_ships_the_csv(tmp_path):
    from infra.bundle import stage

    staged = stage("lookup-field", (), tmp_path)
    csv_path = staged / "panoptes_network" / "catalog" / "data" / "targets.csv"
    assert csv_path.read_bytes() == (DATA / "targets.csv").read_bytes()
    assert (staged / "main.py").is_file() and (staged / "requirements.txt").is_file()
