"""Exact sums: any order and any grouping of the same terms give the same stored sum."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from panoptes_network.analysis.exact_sum import ExactSum


def _terms(seed: int, n: int = 2000) -> list[float]:
    rng = np.random.default_rng(seed)
    # Magnitudes, their squares and weights over 12 decades: a float sum of these rounds.
    return list(rng.normal(0, 1, n) * 10.0 ** rng.uniform(-6, 6, n))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_order_and_grouping_gives_the_correctly_rounded_sum(seed):
    terms = _terms(seed)
    whole = ExactSum(terms)
    assert whole.value == math.fsum(terms)
    shuffled = terms[:]
    random.Random(seed).shuffle(shuffled)
    halves = ExactSum(shuffled[:700]).merge(ExactSum(shuffled[700:]))
    assert halves.to_list() == whole.to_list() and halves == whole
    # The plain float sum of the same terms in the two orders does differ (why this exists).
    assert sum(terms) != sum(shuffled) or sum(terms) != math.fsum(terms)


def test_a_stored_sum_merges_as_the_original():
    terms = _terms(4, 300)
    stored = ExactSum(terms[:100]).to_list()
    again = ExactSum.from_list(stored).merge(ExactSum(terms[100:]))
    assert again.value == math.fsum(terms) and again == ExactSum(terms)


def test_cancellation_keeps_the_small_remainder():
    total = ExactSum([1e20, 1.0, -1e20])
    assert total.value == 1.0
    assert ExactSum([0.1] * 10).value == 1.0 and sum([0.1] * 10) != 1.0
    assert ExactSum().value == 0.0 and ExactSum().to_list() == []


def test_non_finite_terms_are_refused():
    with pytest.raises(ValueError, match="finite"):
        ExactSum([1.0, math.nan])
    with pytest.raises(ValueError, match="finite"):
        ExactSum().add(math.inf)
