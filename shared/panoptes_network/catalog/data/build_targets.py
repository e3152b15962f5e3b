"""Build ``targets.csv`` and ``TARGETS_SOURCES.md``: the offline names of the field lookup.

Run by hand, from the repository root, when a source changes (it is not part of the
package's runtime, and its inputs are not runtime dependencies)::

    .venv/bin/pip install ephem==4.2.1 pyongc==1.2.2
    .venv/bin/python shared/panoptes_network/data/build_targets.py

Sources:

- bright named stars: PyEphem's ``ephem.stars`` (Hipparcos positions moved to epoch 2000,
  IAU star names; ``ephem`` on PyPI, MIT licence). Stars listed under two spellings there
  (Adara/Adhara ...) become one target with an alias. Bayer and Flamsteed designations
  (``BAYER`` below) are added by hand; this script checks that each one's constellation is
  the one astropy finds at the star's position (Roman 1987 boundaries, offline);
- Messier objects: OpenNGC through ``pyongc`` (database CC-BY-SA-4.0, code MIT), with their
  NGC/IC numbers and common names as aliases;
- exoplanet hosts and KIC 8462852 (``HOSTS`` below): ICRS J2000 positions of SIMBAD's basic
  data, transcribed by hand; the constellation of each is checked here, and the unit tests
  check the brighter ones against the local Tycho-2 catalog.

The script writes the CSV beside itself, reads it back through
:class:`.target_names.TargetNames` (which refuses a name shared by two
targets), and writes ``TARGETS_SOURCES.md`` with the versions used and the counts.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from pathlib import Path

import astropy
import astropy.units as u
import ephem
import ephem.stars
import numpy as np
import pyongc
from astropy.coordinates import SkyCoord, get_constellation
from pyongc import ongc

from panoptes_network.catalog.target_names import (
    CSV_COLUMNS,
    GREEK_LETTERS,
    TargetNames,
    normalise_name,
)

HERE = Path(__file__).resolve().parent
CSV_PATH = HERE / "targets.csv"
SOURCES_PATH = HERE / "TARGETS_SOURCES.md"

#: Second spellings in ``ephem.stars`` -> the IAU name (as in PyEphem's bin/rebuild-star-data).
EPHEM_VARIANTS = {
    "Adara": "Adhara",
    "Agena": "Hadar",
    "Albereo": "Albireo",
    "Alcaid": "Alkaid",
    "Etamin": "Eltanin",
    "Formalhaut": "Fomalhaut",
    "Gienah Corvi": "Gienah",
    "Sirrah": "Alpheratz",
}

#: Bayer (Greek letter, optional component number) or Flamsteed designations of the named
#: stars of ephem.stars, and a few common English names.
BAYER: dict[str, tuple[str, ...]] = {
    "Acamar": ("theta1 Eri", "theta Eri"),
    "Achernar": ("alpha Eri",),
    "Acrux": ("alpha Cru",),
    "Adhara": ("epsilon CMa",),
    "Albireo": ("beta Cyg",),
    "Alcor": ("80 UMa",),
    "Alcyone": ("eta Tau", "25 Tau"),
    "Aldebaran": ("alpha Tau",),
    "Alderamin": ("alpha Cep",),
    "Alfirk": ("beta Cep",),
    "Algenib": ("gamma Peg",),
    "Algieba": ("gamma1 Leo", "gamma Leo"),
    "Algol": ("beta Per",),
    "Alhena": ("gamma Gem",),
    "Alioth": ("epsilon UMa",),
    "Alkaid": ("eta UMa",),
    "Almach": ("gamma And",),
    "Alnair": ("alpha Gru",),
    "Alnilam": ("epsilon Ori",),
    "Alnitak": ("zeta Ori",),
    "Alphard": ("alpha Hya",),
    "Alphecca": ("alpha CrB",),
    "Alpheratz": ("alpha And",),
    "Alshain": ("beta Aql",),
    "Altair": ("alpha Aql",),
    "Ankaa": ("alpha Phe",),
    "Antares": ("alpha Sco",),
    "Arcturus": ("alpha Boo",),
    "Arkab Posterior": ("beta2 Sgr",),
    "Arkab Prior": ("beta1 Sgr",),
    "Arneb": ("alpha Lep",),
    "Atlas": ("27 Tau",),
    "Atria": ("alpha TrA",),
    "Avior": ("epsilon Car",),
    "Bellatrix": ("gamma Ori",),
    "Betelgeuse": ("alpha Ori",),
    "Canopus": ("alpha Car",),
    "Capella": ("alpha Aur",),
    "Caph": ("beta Cas",),
    "Castor": ("alpha Gem",),
    "Cebalrai": ("beta Oph",),
    "Deneb": ("alpha Cyg",),
    "Denebola": ("beta Leo",),
    "Diphda": ("beta Cet",),
    "Dubhe": ("alpha UMa",),
    "Electra": ("17 Tau",),
    "Elnath": ("beta Tau",),
    "Eltanin": ("gamma Dra",),
    "Enif": ("epsilon Peg",),
    "Fomalhaut": ("alpha PsA",),
    "Gacrux": ("gamma Cru",),
    "Gienah": ("gamma Crv",),
    "Hadar": ("beta Cen",),
    "Hamal": ("alpha Ari",),
    "Izar": ("epsilon Boo",),
    "Kaus Australis": ("epsilon Sgr",),
    "Kochab": ("beta UMi",),
    "Maia": ("20 Tau",),
    "Markab": ("alpha Peg",),
    "Megrez": ("delta UMa",),
    "Menkalinan": ("beta Aur",),
    "Menkar": ("alpha Cet",),
    "Menkent": ("theta Cen",),
    "Merak": ("beta UMa",),
    "Merope": ("23 Tau",),
    "Miaplacidus": ("beta Car",),
    "Mimosa": ("beta Cru",),
    "Minkar": ("epsilon Crv",),
    "Mintaka": ("delta Ori",),
    "Mirach": ("beta And",),
    "Mirfak": ("alpha Per",),
    "Mirzam": ("beta CMa",),
    "Mizar": ("zeta UMa",),
    "Naos": ("zeta Pup",),
    "Nihal": ("beta Lep",),
    "Nunki": ("sigma Sgr",),
    "Peacock": ("alpha Pav",),
    "Phecda": ("gamma UMa",),
    "Polaris": ("alpha UMi", "North Star", "Pole Star"),
    "Pollux": ("beta Gem",),
    "Procyon": ("alpha CMi",),
    "Rasalgethi": ("alpha1 Her", "alpha Her"),
    "Rasalhague": ("alpha Oph",),
    "Regulus": ("alpha Leo",),
    "Rigel": ("beta Ori",),
    "Rigil Kentaurus": ("alpha1 Cen", "alpha Cen", "Alpha Centauri"),
    "Rukbat": ("alpha Sgr",),
    "Sabik": ("eta Oph",),
    "Sadalmelik": ("alpha Aqr",),
    "Sadr": ("gamma Cyg",),
    "Saiph": ("kappa Ori",),
    "Scheat": ("beta Peg",),
    "Schedar": ("alpha Cas",),
    "Shaula": ("lambda Sco",),
    "Sheliak": ("beta Lyr",),
    "Sirius": ("alpha CMa",),
    "Spica": ("alpha Vir",),
    "Suhail": ("lambda Vel",),
    "Sulafat": ("gamma Lyr",),
    "Tarazed": ("gamma Aql",),
    "Taygeta": ("19 Tau",),
    "Thuban": ("alpha Dra",),
    "Unukalhai": ("alpha Ser",),
    "Vega": ("alpha Lyr",),
    "Vindemiatrix": ("epsilon Vir",),
    "Wezen": ("delta CMa",),
    "Zaurak": ("gamma Eri",),
    "Zubenelgenubi": ("alpha2 Lib", "alpha Lib"),
}

#: Curated targets: name, aliases, RA (h m s), Dec (d m s), V magnitude, constellation, kind.
#: ICRS J2000 positions transcribed from SIMBAD's basic data.
HOSTS: list[tuple[str, tuple[str, ...], str, str, float, str, str]] = [
    ("HD 189733", ("V452 Vul",), "20 00 43.713", "+22 42 39.07", 7.67, "Vul", "exoplanet-host"),
    ("HD 209458", ("V376 Peg",), "22 03 10.773", "+18 53 03.55", 7.65, "Peg", "exoplanet-host"),
    ("WASP-33", ("HD 15082",), "02 26 51.058", "+37 33 01.73", 8.14, "And", "exoplanet-host"),
    ("WASP-12", (), "06 30 32.794", "+29 40 20.27", 11.57, "Aur", "exoplanet-host"),
    ("HAT-P-7", ("Kepler-2", "KOI-2"), "19 28 59.362", "+47 58 10.23", 10.5, "Cyg",
     "exoplanet-host"),
    ("KELT-9", ("HD 195689",), "20 31 26.352", "+39 56 19.77", 7.56, "Cyg", "exoplanet-host"),
    ("TrES-2", ("Kepler-1", "KOI-1"), "19 07 14.035", "+49 18 59.07", 11.41, "Dra",
     "exoplanet-host"),
    ("HAT-P-11", ("Kepler-3", "KOI-3"), "19 50 50.247", "+48 04 51.10", 9.47, "Cyg",
     "exoplanet-host"),
    ("Kepler-21", ("HD 179070",), "19 09 26.836", "+38 42 50.46", 8.27, "Lyr", "exoplanet-host"),
    ("Kepler-444", (), "19 19 00.549", "+41 38 04.58", 8.86, "Lyr", "exoplanet-host"),
    ("Kepler-22", ("KOI-87", "KIC 10593626", "2MASS J19165219+4753040"), "19 16 52.190",
     "+47 53 03.96", 11.66, "Cyg", "exoplanet-host"),
    ("Kepler-452", ("KOI-7016", "KIC 8311864", "2MASS J19440088+4416392"), "19 44 00.886",
     "+44 16 39.17", 13.4, "Cyg", "exoplanet-host"),
    ("Kepler-186", ("KOI-571", "KIC 8120608", "2MASS J19543665+4357180"), "19 54 36.653",
     "+43 57 18.03", 15.29, "Cyg", "exoplanet-host"),
    ("Kepler-16", ("2MASS J19161817+5145267",), "19 16 18.176", "+51 45 26.78", 11.9, "Cyg",
     "exoplanet-host"),
    ("HD 149026", ("Ogma",), "16 30 29.619", "+38 20 50.31", 8.15, "Her", "exoplanet-host"),
    ("HD 80606", (), "09 22 37.577", "+50 36 13.43", 9.0, "UMa", "exoplanet-host"),
    ("HD 17156", (), "02 49 44.487", "+71 45 11.63", 8.17, "Cas", "exoplanet-host"),
    ("51 Peg", ("51 Pegasi", "Helvetios"), "22 57 27.980", "+20 46 07.78", 5.46, "Peg",
     "exoplanet-host"),
    ("55 Cnc", ("55 Cancri", "rho1 Cnc", "Copernicus"), "08 52 35.811", "+28 19 50.95", 5.95,
     "Cnc", "exoplanet-host"),
    ("HD 97658", (), "11 14 33.162", "+25 42 37.39", 7.7, "Leo", "exoplanet-host"),
    ("XO-1", (), "16 02 11.843", "+28 10 10.42", 11.2, "CrB", "exoplanet-host"),
    ("WASP-18", ("HD 10069",), "01 37 25.033", "-45 40 40.38", 9.3, "Phe", "exoplanet-host"),
    ("WASP-121", (), "07 10 24.061", "-39 05 50.57", 10.5, "Pup", "exoplanet-host"),
    ("WASP-76", (), "01 46 31.859", "+02 42 02.05", 9.5, "Psc", "exoplanet-host"),
    ("HAT-P-2", ("HD 147506",), "16 20 36.357", "+41 02 53.11", 8.7, "Her", "exoplanet-host"),
    ("HAT-P-1", (), "22 57 46.844", "+38 40 30.33", 10.4, "Lac", "exoplanet-host"),
    ("KELT-11", ("HD 93396",), "10 46 49.743", "-09 23 56.49", 8.0, "Sex", "exoplanet-host"),
    ("KELT-1", (), "00 01 26.917", "+39 23 01.74", 10.7, "And", "exoplanet-host"),
    ("WASP-3", (), "18 34 31.625", "+35 39 41.49", 10.6, "Lyr", "exoplanet-host"),
    ("tau Boo", ("tau Bootis", "HD 120136"), "13 47 15.743", "+17 27 24.86", 4.5, "Boo",
     "exoplanet-host"),
    ("HD 219134", (), "23 13 16.976", "+57 10 06.08", 5.57, "Cas", "exoplanet-host"),
    ("HAT-P-32", (), "02 04 10.278", "+46 41 16.21", 11.3, "And", "exoplanet-host"),
    ("XO-3", (), "04 21 52.700", "+57 49 01.0", 9.9, "Cam", "exoplanet-host"),
    ("WASP-17", (), "15 59 50.948", "-28 03 42.30", 11.6, "Sco", "exoplanet-host"),
    ("TrES-1", ("2MASS J19040985+3637574",), "19 04 09.844", "+36 37 57.45", 11.79, "Lyr",
     "exoplanet-host"),
    ("TRAPPIST-1", ("2MASS J23062928-0502285",), "23 06 29.368", "-05 02 29.04", 18.8, "Aqr",
     "exoplanet-host"),
    ("WASP-43", ("2MASS J10193800-0948225",), "10 19 38.008", "-09 48 22.59", 12.4, "Sex",
     "exoplanet-host"),
    ("WASP-39", ("2MASS J14291840-0326403",), "14 29 18.400", "-03 26 40.20", 12.1, "Vir",
     "exoplanet-host"),
    ("WASP-19", ("2MASS J09534008-4539330",), "09 53 40.077", "-45 39 33.06", 12.3, "Vel",
     "exoplanet-host"),
    ("KIC 8462852", ("Boyajian's Star", "Tabby's Star", "TYC 3162-665-1",
                     "2MASS J20061546+4427248"), "20 06 15.453", "+44 27 24.79", 11.7, "Cyg",
     "star"),
]  # fmt: skip

#: Curated entries taken out because the local Tycho-2 catalog could not confirm them.
DROPPED = {
    "ups And": "V 4.1; no star within 60 arcsec in the local Tycho-2 catalog (its brightest "
    "stars are thinned out)",
    "Kepler-10": "V 11.0; no star within 60 arcsec in the local Tycho-2 catalog",
    "GJ 436": "V 10.6; no star within 60 arcsec in the local Tycho-2 catalog",
    "Proxima Cen": "V 11.1; no star within 60 arcsec in the local Tycho-2 catalog",
}

#: What the catalog checks changed or showed about kept entries.
NOTES = {
    "Kepler-444": "a first RA (19 19 01.0) was 5 arcsec off, found by the Tycho-2 check and "
    "corrected to SIMBAD's 19 19 00.549",
    "HAT-P-1": "a visual binary: the Tycho-2 star 11 arcsec away (VT 9.8) is its brighter "
    "companion ADS 16402 A, within the check's 20 arcsec and 1 magnitude",
}

HOST_SOURCE = "SIMBAD basic data, ICRS J2000 (transcribed)"
_BAYER = re.compile(r"([a-z]+)(\d*) ([A-Za-z]{2,3})$")
_FLAMSTEED = re.compile(r"\d+ ([A-Za-z]{2,3})$")
_GREEK_BY_NAME = {full: (letter, short) for letter, (full, short) in GREEK_LETTERS.items()}


def _constellation(ra: float, dec: float) -> str:
    return str(get_constellation(SkyCoord(ra * u.deg, dec * u.deg), short_name=True))


def _designation_forms(designation: str, ra: float, dec: float) -> list[str]:
    """Spell a designation the usual ways, after checking its constellation."""
    bayer, flamsteed = _BAYER.match(designation), _FLAMSTEED.match(designation)
    if (bayer is None or bayer.group(1) not in _GREEK_BY_NAME) and flamsteed is None:
        return [designation]  # a plain name ("North Star")
    constellation = (bayer or flamsteed).groups()[-1]
    found = _constellation(ra, dec)
    if found != constellation:
        raise SystemExit(f"{designation}: the position ({ra}, {dec}) is in {found}")
    if flamsteed:
        return [designation]
    letter, short = _GREEK_BY_NAME[bayer.group(1)]
    number = bayer.group(2)
    simbad = f"{short.rstrip('.')}{number.zfill(2) if number else ''}"
    return [designation, f"{simbad} {constellation}", f"{letter}{number} {constellation}"]


def _unique(names: list[str], primary: str) -> list[str]:
    """Drop aliases whose lookup key repeats the name's or an earlier alias's."""
    seen = {normalise_name(primary)}
    kept = []
    for name in names:
        key = normalise_name(name)
        if key and key not in seen:
            seen.add(key)
            kept.append(name)
    return kept


def bright_stars() -> list[dict[str, object]]:
    """Return the named stars of ``ephem.stars``, spellings of one star merged."""
    source = f"PyEphem {ephem.__version__} ephem.stars (Hipparcos, epoch 2000)"
    rows: dict[str, dict[str, object]] = {}
    variants: dict[str, list[str]] = defaultdict(list)
    for line in ephem.stars.db.strip().splitlines():
        name, _, ra_field, dec_field, mag = line.split(",")
        if name in EPHEM_VARIANTS:
            variants[EPHEM_VARIANTS[name]].append(name)
            continue
        ra = float(ra_field.split("|")[0]) * 15.0
        dec = float(dec_field.split("|")[0])
        rows[name] = {"name": name, "ra": ra, "dec": dec, "vmag": float(mag), "source": source}
    for name, row in rows.items():
        designations = [
            form
            for designation in BAYER[name]
            for form in _designation_forms(designation, row["ra"], row["dec"])
        ]
        row["aliases"] = _unique(variants[name] + designations, name)
        row["kind"] = "bright-star"
    missing = set(BAYER) - set(rows)
    if missing or set(variants) - set(rows):
        raise SystemExit(f"designations or variants for stars not in ephem.stars: {missing}")
    return list(rows.values())


def _spaced(identifier: str) -> str:
    """``NGC0224`` -> ``NGC 224``, ``Mel022`` -> ``Mel 22``, ``IC4715`` -> ``IC 4715``."""
    match = re.fullmatch(r"([A-Za-z]+)0*(\d+.*)", identifier)
    return f"{match.group(1)} {match.group(2)}" if match else identifier


def messier_objects() -> list[dict[str, object]]:
    """Return the 110 Messier objects of OpenNGC (M102 is NGC 5457 there, as M101)."""
    source = f"OpenNGC {ongc.DBDATE} via pyongc {pyongc.__version__} (CC-BY-SA-4.0)"
    groups: dict[str, list[tuple[int, object]]] = defaultdict(list)
    for number in range(1, 111):
        obj = ongc.get(f"M{number}")
        groups[obj.name].append((number, obj))
    rows = []
    for members in groups.values():
        number, obj = members[0]
        name = f"M {number}"
        messier, ngc, ic, common, _ = obj.identifiers
        aliases = [f"Messier {n}" for n, _ in members]
        aliases += [f"M {n}" for n, _ in members[1:]]
        if not re.fullmatch(r"M\d+", obj.name):
            aliases.append(_spaced(obj.name))
        if obj.name.startswith("Mel"):
            aliases.append(_spaced(obj.name).replace("Mel", "Melotte"))
        aliases += [_spaced(i) for i in (ngc or []) + (ic or [])]
        aliases += list(common or [])
        ra, dec = (float(v) for v in np.degrees(obj.rad_coords))
        vmag = obj.magnitudes[1]
        rows.append(
            {
                "name": name,
                "aliases": _unique(aliases, name),
                "ra": ra % 360.0,
                "dec": dec,
                "vmag": vmag,
                "kind": "messier",
                "source": source,
            }
        )
    return rows


def curated_targets() -> list[dict[str, object]]:
    """Return the exoplanet hosts and KIC 8462852, constellations checked."""
    rows = []
    for name, aliases, ra_text, dec_text, vmag, constellation, kind in HOSTS:
        position = SkyCoord(ra_text, dec_text, unit=(u.hourangle, u.deg), frame="icrs")
        ra, dec = float(position.ra.deg), float(position.dec.deg)
        found = _constellation(ra, dec)
        if found != constellation:
            raise SystemExit(f"{name}: ({ra_text}, {dec_text}) is in {found}, not {constellation}")
        rows.append(
            {
                "name": name,
                "aliases": _unique(list(aliases), name),
                "ra": ra,
                "dec": dec,
                "vmag": vmag,
                "kind": kind,
                "source": HOST_SOURCE,
            }
        )
    return rows


def to_csv(rows: list[dict[str, object]]) -> str:
    """Write rows in the ``targets.csv`` layout."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        vmag = row["vmag"]
        writer.writerow(
            [
                row["name"],
                ";".join(row["aliases"]),
                f"{row['ra']:.7f}",
                f"{row['dec']:.7f}",
                "" if vmag is None else f"{vmag:.2f}",
                row["kind"],
                row["source"],
            ]
        )
    return out.getvalue()


def sources_text(table: TargetNames) -> str:
    """Return the text of ``TARGETS_SOURCES.md``."""
    kinds = table.kinds()
    dropped = "\n".join(f"- {name}: {why}." for name, why in DROPPED.items())
    notes = "\n".join(f"- {name}: {note}." for name, note in NOTES.items())
    entries = len(ephem.stars.db.strip().splitlines())
    return f"""# Sources of `targets.csv`

`targets.csv` is the offline name table of the lookup-field service
(`panoptes_network.catalog.target_names`). It is generated; do not edit it by hand. Rebuild it with

```bash
.venv/bin/pip install ephem=={ephem.__version__} pyongc=={pyongc.__version__}
.venv/bin/python shared/panoptes_network/data/build_targets.py
```

`ephem` and `pyongc` are needed only to run that script, never at runtime.

Built {dt.date.today().isoformat()} with Python packages ephem {ephem.__version__},
pyongc {pyongc.__version__} (OpenNGC database {ongc.DBDATE}) and astropy {astropy.__version__}.
{len(table)} targets, {table.name_count} names and aliases:

| kind | targets | source of the positions |
|---|---|---|
| bright-star | {kinds.get("bright-star", 0)} | PyEphem `ephem.stars` |
| messier | {kinds.get("messier", 0)} | OpenNGC (via pyongc) |
| exoplanet-host | {kinds.get("exoplanet-host", 0)} | SIMBAD basic data, transcribed |
| star | {kinds.get("star", 0)} | SIMBAD basic data, transcribed (KIC 8462852) |

Columns: `name`, `aliases` (separated by `;`), `ra_deg` and `dec_deg` (ICRS, epoch J2000,
degrees), `vmag` (V magnitude; integrated for extended objects; empty when unknown), `kind`,
`source`. Names match whatever the case, spacing and punctuation, and leading zeros of
numbers do not matter (`M042` is `M 42`).

## Bright named stars: PyEphem

- Package `ephem` {ephem.__version__} on PyPI (PyEphem, MIT licence), module `ephem.stars`:
  {entries} entries naming {kinds.get("bright-star", 0)} stars (IAU Catalog of Star Names
  spellings and a few older ones), positions from the Hipparcos
  catalogue (ESA 1997) with proper motion applied to epoch 2000.0 (PyEphem's
  `bin/rebuild-star-data`), V magnitudes from Hipparcos.
- Second spellings that `ephem.stars` lists as separate entries (Adara, Agena, Albereo,
  Alcaid, Etamin, Formalhaut, Gienah Corvi, Sirrah) are aliases of one target here.
- Bayer and Flamsteed designations (`alpha Ori`, `alf Ori`, `α Ori`, `27 Tau`, ...) and
  three English names (North Star, Pole Star, Alpha Centauri) are not in `ephem`: they were
  added by hand (`BAYER` in `build_targets.py`). The build and the unit tests check that each
  designation's constellation is the constellation at the star's position (astropy's
  `get_constellation`, Roman 1987 boundaries).

## Messier objects: OpenNGC

- Package `pyongc` {pyongc.__version__} on PyPI, which bundles the OpenNGC database
  ({ongc.DBDATE}) by Mattia Verga, <https://github.com/mattiaverga/OpenNGC>.
- **Licence: OpenNGC is licensed under CC-BY-SA-4.0**
  (<https://creativecommons.org/licenses/by-sa/4.0/>); pyongc's code is MIT. The Messier
  rows of `targets.csv` (positions, NGC/IC cross-identifications and common names) are
  derived from OpenNGC and are shared under the same licence, with attribution to OpenNGC.
- Each of M 1 to M 110 is one target with its OpenNGC position; aliases are `Messier N`,
  its NGC/IC (or Melotte) identifiers and OpenNGC's common names. OpenNGC identifies M 102
  with NGC 5457 (the same object as M 101), so `M 102` is an alias of `M 101` here (other
  lists use NGC 5866 for M 102).

## Exoplanet hosts and KIC 8462852: SIMBAD, transcribed

- No offline published list of these was available, and the machine that built the table
  had no network access: their ICRS J2000 positions (and V magnitudes, aliases) were
  transcribed by hand as SIMBAD's basic data gives them (<https://simbad.cds.unistra.fr>,
  CDS, Strasbourg), not downloaded or re-queried. So they are checked rather than trusted.
  `HOSTS` in `build_targets.py` holds them as sexagesimal text.
- Checks: the build checks each position's constellation; the unit tests
  (`tests/unit/catalog/test_target_names.py`) check that every curated target brighter than V 11.5
  has a star of the local Tycho-2 catalog within 20 arcsec and 1 magnitude, and that the
  positions agree within 3 arcsec with their 2MASS designations where one is an alias (the
  fainter targets, which Tycho-2 does not reach).
- Entries that the catalog could not confirm were dropped:

{dropped}

- Notes on kept entries:

{notes}
"""


def main() -> None:
    """Build the table and its sources note."""
    rows = bright_stars() + messier_objects() + curated_targets()
    text = to_csv(rows)
    table = TargetNames.read_csv(text)  # refuses names shared by two targets
    CSV_PATH.write_text(text, encoding="utf-8")
    SOURCES_PATH.write_text(sources_text(table), encoding="utf-8")
    print(f"wrote {CSV_PATH} ({len(table)} targets: {table.kinds()}) and {SOURCES_PATH}")


if __name__ == "__main__":
    main()
