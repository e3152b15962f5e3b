"""Sums of floats kept exactly, so that merging partial sums in any order gives one answer.

The analysis keeps each star's statistics as sums (of weights, magnitudes, squares ...) that
grow as processing runs arrive. A float sum rounds at every addition, so adding the runs in
another order (a rebuild of the archive against an incremental update, or a Beam combine
against a sequential one) gives a different last bit, and documents that should be identical
are not. An :class:`ExactSum` holds the exact value of a sum as a short list of
non-overlapping floats (an expansion: Shewchuk, "Adaptive precision floating-point arithmetic
and fast robust geometric predicates", Discrete Comput. Geom. 18, 1997), the representation
:func:`math.fsum` uses internally. Adding a float or merging another sum is exact, so the
value is that of the true sum of every term, independent of order and grouping;
:attr:`ExactSum.value` rounds it once, correctly (equal to :func:`math.fsum` of all terms).

An expansion stays short (one to three floats for sums of data like ours), and stores as a
list of floats in a document.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["ExactSum"]


def _grow(partials: list[float], x: float) -> list[float]:
    """Add ``x`` to a non-overlapping expansion exactly (Shewchuk's GROW-EXPANSION)."""
    out: list[float] = []
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            out.append(lo)
        x = hi
    out.append(x)
    return out


class ExactSum:
    """The exact sum of floats, merged in any order with the same result.

    Parameters
    ----------
    terms : iterable of float, optional
        Terms to start with (finite).

    Raises
    ------
    ValueError
        For a term that is not finite.
    """

    __slots__ = ("_partials",)

    def __init__(self, terms: Iterable[float] = ()) -> None:
        self._partials: list[float] = []
        for term in terms:
            self.add(term)

    def add(self, term: float) -> ExactSum:
        """Add one term exactly; return self.

        Raises
        ------
        ValueError
            For a term that is not finite.
        """
        value = float(term)
        if not math.isfinite(value):
            raise ValueError(f"an exact sum takes finite terms, not {term!r}")
        if value:
            self._partials = _grow(self._partials, value)
        return self

    def merge(self, other: ExactSum) -> ExactSum:
        """Add another sum exactly; return self."""
        for part in other._partials:
            self._partials = _grow(self._partials, part)
        return self

    def negated(self) -> ExactSum:
        """Return the exact negative (to take a sum out again: ``a.merge(b.negated())``)."""
        out = ExactSum()
        out._partials = [-p for p in self._partials]
        return out

    @property
    def value(self) -> float:
        """The sum, correctly rounded to a float (that of :func:`math.fsum` of the terms)."""
        return math.fsum(self._partials)

    def to_list(self) -> list[float]:
        """Return the expansion, canonical (the same value always gives the same list).

        Returns
        -------
        list of float
            Non-overlapping floats, smallest magnitude first, whose exact sum is the value.
        """
        canonical: list[float] = []
        for part in sorted(self._partials, key=abs):
            canonical = _grow(canonical, part)
        return _normalise(canonical)

    @classmethod
    def from_list(cls, parts: Sequence[float]) -> ExactSum:
        """Rebuild a sum stored with :meth:`to_list`."""
        return cls(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExactSum) and self.to_list() == other.to_list()

    def __hash__(self) -> int:
        return hash(tuple(self.to_list()))

    def __repr__(self) -> str:
        return f"ExactSum({self.value!r})"


def _normalise(partials: list[float]) -> list[float]:
    """Return the unique expansion of a value: each part the rounding of what is left.

    Two expansions of one value can differ (``[1.0, 2**-60]`` and ``[1.0 + 2**-52, ...]``
    cannot, but splits of the low bits can); taking the largest part as the correctly rounded
    total, then the next as the rounding of the remainder, and so on, gives one list per
    value.
    """
    out: list[float] = []
    rest = list(partials)
    while rest:
        head = math.fsum(rest)
        if not head:
            break
        out.append(head)
        rest = _grow(rest, -head)
        rest = [p for p in rest if p]
    return out[::-1]
