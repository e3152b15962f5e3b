"""Offline names of common targets: bright named stars, Messier objects, exoplanet hosts.

The table ships with the package as ``data/targets.csv`` (columns ``name``, ``aliases``,
``ra_deg``, ``dec_deg``, ``vmag``, ``kind``, ``source``); it is written by
``data/build_targets.py`` and its sources, versions and licences are in
``data/TARGETS_SOURCES.md``. Names match whatever the case, spacing and punctuation
(:func:`normalise_name`): ``"hd189733"``, ``"HD 189733"``, ``"m 42"``, ``"M042"``,
``"Messier 42"``, ``"wasp-33"`` and ``"α Ori"`` all find their target.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = [
    "CSV_COLUMNS",
    "GREEK_LETTERS",
    "Target",
    "TargetNames",
    "bundled_target_names",
    "normalise_name",
]

#: Columns of the targets table, in order.
CSV_COLUMNS: tuple[str, ...] = ("name", "aliases", "ra_deg", "dec_deg", "vmag", "kind", "source")
#: Greek letters of Bayer designations: letter -> (full name, SIMBAD's three-letter form).
GREEK_LETTERS: dict[str, tuple[str, str]] = {
    "α": ("alpha", "alf"),
    "β": ("beta", "bet"),
    "γ": ("gamma", "gam"),
    "δ": ("delta", "del"),
    "ε": ("epsilon", "eps"),
    "ζ": ("zeta", "zet"),
    "η": ("eta", "eta"),
    "θ": ("theta", "tet"),
    "ι": ("iota", "iot"),
    "κ": ("kappa", "kap"),
    "λ": ("lambda", "lam"),
    "μ": ("mu", "mu."),
    "ν": ("nu", "nu."),
    "ξ": ("xi", "ksi"),
    "ο": ("omicron", "omi"),
    "π": ("pi", "pi."),
    "ρ": ("rho", "rho"),
    "σ": ("sigma", "sig"),
    "τ": ("tau", "tau"),
    "υ": ("upsilon", "ups"),
    "φ": ("phi", "phi"),
    "χ": ("chi", "chi"),
    "ψ": ("psi", "psi"),
    "ω": ("omega", "ome"),
}
# Variant Greek forms (final sigma, symbol forms) folded onto the letters above.
_GREEK_VARIANTS = {"ς": "σ", "ϑ": "θ", "ϕ": "φ", "ϖ": "π", "ϱ": "ρ", "ϐ": "β"}
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_NOT_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")
_ALIAS_SEPARATOR = ";"


def normalise_name(text: str) -> str:
    """Return the lookup key of a name: case, spacing, punctuation and leading zeros dropped.

    Greek letters become their names (``"α Ori"`` -> ``"alphaori"``), accents are dropped,
    everything but ``a-z`` and ``0-9`` is removed and leading zeros of numbers are dropped
    (``"M 042"`` -> ``"m42"``, ``"NGC 0224"`` -> ``"ngc224"``).

    Parameters
    ----------
    text : str
        A name as a person types it.

    Returns
    -------
    str
        The key (empty when nothing of the name is left).
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    spelled = []
    for char in text:
        char = _GREEK_VARIANTS.get(char, char)
        spelled.append(f" {GREEK_LETTERS[char][0]} " if char in GREEK_LETTERS else char)
    text = unicodedata.normalize("NFKD", "".join(spelled))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _NOT_ALPHANUMERIC.sub("", text)
    return _LEADING_ZEROS.sub("", text)


@dataclass(frozen=True)
class Target:
    """One named target of the table.

    Attributes
    ----------
    name : str
        Display name (``"HD 189733"``, ``"M 42"``, ``"Betelgeuse"``).
    aliases : tuple of str
        Other names it answers to.
    ra, dec : float
        Position in degrees (ICRS, epoch J2000).
    vmag : float or None
        V magnitude (integrated for extended objects), None when unknown.
    kind : str
        ``bright-star``, ``messier``, ``exoplanet-host`` or ``star``.
    source : str
        Where the position comes from.
    """

    name: str
    aliases: tuple[str, ...]
    ra: float
    dec: float
    vmag: float | None
    kind: str
    source: str

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by the aliases."""
        return (self.name, *self.aliases)

    def to_dict(self) -> dict[str, object]:
        """Return the target as JSON-ready values (angles in degrees)."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "ra": self.ra,
            "dec": self.dec,
            "vmag": self.vmag,
            "kind": self.kind,
            "source": self.source,
        }


def _float(value: str, column: str, line: int) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"targets line {line}: {column} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"targets line {line}: {column} {value!r} is not finite")
    return number


class TargetNames:
    """A table of named targets, looked up by normalised name.

    Parameters
    ----------
    targets : iterable of Target
        The targets. Every name and alias must give a key (:func:`normalise_name`) that no
        other target has.

    Raises
    ------
    ValueError
        When two targets share a name, naming both.
    """

    def __init__(self, targets: Iterable[Target]):
        self._targets = tuple(targets)
        self._by_key: dict[str, Target] = {}
        for target in self._targets:
            for name in target.names:
                key = normalise_name(name)
                if not key:
                    raise ValueError(f"target {target.name!r} has a name without letters: {name!r}")
                other = self._by_key.setdefault(key, target)
                if other is not target:
                    raise ValueError(
                        f"name {name!r} of {target.name!r} is also a name of {other.name!r}"
                    )

    @classmethod
    def read_csv(cls, text: str) -> TargetNames:
        """Read a table in the ``targets.csv`` layout.

        Parameters
        ----------
        text : str
            The CSV text (header ``name,aliases,ra_deg,dec_deg,vmag,kind,source``; aliases
            separated by ``;``; an empty ``vmag`` is unknown).

        Returns
        -------
        TargetNames
            The table.

        Raises
        ------
        ValueError
            Naming the line of a bad row.
        """
        reader = csv.DictReader(io.StringIO(text))
        if tuple(reader.fieldnames or ()) != CSV_COLUMNS:
            raise ValueError(
                f"targets table columns are {reader.fieldnames}, expected {list(CSV_COLUMNS)}"
            )
        targets = []
        for row in reader:
            line = reader.line_num
            ra = _float(row["ra_deg"], "ra_deg", line)
            dec = _float(row["dec_deg"], "dec_deg", line)
            if not (0 <= ra < 360 and -90 <= dec <= 90):
                raise ValueError(f"targets line {line}: ({ra}, {dec}) is not a sky position")
            vmag = _float(row["vmag"], "vmag", line) if row["vmag"].strip() else None
            aliases = tuple(a.strip() for a in row["aliases"].split(_ALIAS_SEPARATOR) if a.strip())
            targets.append(
                Target(
                    name=row["name"].strip(),
                    aliases=aliases,
                    ra=ra,
                    dec=dec,
                    vmag=vmag,
                    kind=row["kind"].strip(),
                    source=row["source"].strip(),
                )
            )
        return cls(targets)

    @classmethod
    def from_file(cls, path: str | Path) -> TargetNames:
        """Read a ``targets.csv`` file (see :meth:`read_csv`)."""
        return cls.read_csv(Path(path).read_text(encoding="utf-8"))

    def resolve(self, text: str) -> Target | None:
        """Return the target named ``text`` (any case, spacing and punctuation), or None."""
        return self._by_key.get(normalise_name(text))

    def __len__(self) -> int:
        return len(self._targets)

    def __iter__(self) -> Iterator[Target]:
        return iter(self._targets)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.resolve(text) is not None

    def kinds(self) -> dict[str, int]:
        """Return the number of targets of each kind."""
        return dict(Counter(t.kind for t in self._targets))

    @property
    def name_count(self) -> int:
        """Number of distinct lookup keys (names and aliases)."""
        return len(self._by_key)


@functools.lru_cache(maxsize=1)
def bundled_target_names() -> TargetNames:
    """Return the table shipped with the package (``panoptes_network/catalog/data/targets.csv``).

    Read once per process.

    Returns
    -------
    TargetNames
        The table.
    """
    text = (resources.files("panoptes_network.catalog") / "data" / "targets.csv").read_text("utf-8")
    return TargetNames.read_csv(text)
