"""Exact tests and corrections against known values (R's fisher.test and scipy.stats.fisher_exact,
statsmodels' multipletests and Newcombe's 1998 worked example) and against brute-force enumeration
in exact fractions, written here independently of the module."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricate.analyzer._exact import adjust, cmh_chi2, fisher_exact, mh_risk_difference, stratified_exact
from rubricate.analyzer._stats import episodes_to_detect, newcombe


@pytest.mark.parametrize(("table", "p"), [
    ((3, 1, 1, 3), 0.48571428571428565),          # Fisher's tea tasting; R: 0.4857
    ((8, 2, 1, 5), 0.034965034965034975),         # scipy.stats.fisher_exact's documented example
    ((10, 0, 0, 10), 1.082508822446903e-05),
    ((1, 9, 11, 3), 0.0027594561852200836),       # R's fisher.test docs (Agresti's job satisfaction is larger)
    ((0, 5, 5, 0), 0.007936507936507938),
    ((30, 70, 15, 85), 0.01714902276840841),
    ((3, 0, 65, 17), 1.0),                        # tau-bench's grounding: 3 failing episodes, all failed tasks
])
def test_fisher_known_values(table: tuple[int, int, int, int], p: float) -> None:
    assert fisher_exact(*table) == pytest.approx(p, rel=1e-9)


def _hyper(r1: int, r2: int, c1: int, x: int) -> Fraction:
    return Fraction(math.comb(r1, x) * math.comb(r2, c1 - x), math.comb(r1 + r2, c1))


def _brute_stratified(tables: list[tuple[int, int, int, int]]) -> float:
    """The exact conditional law of sum(a) enumerated over every combination of tables (fractions)."""
    supports = []
    for a, b, c, d in tables:
        r1, r2, c1 = a + b, c + d, a + c
        supports.append([(x, _hyper(r1, r2, c1, x)) for x in range(max(0, c1 - r2), min(r1, c1) + 1)])
    law: dict[int, Fraction] = {}
    for combo in itertools.product(*supports):
        s = sum(x for x, _ in combo)
        law[s] = law.get(s, Fraction(0)) + math.prod((p for _, p in combo), start=Fraction(1))
    observed = law[sum(t[0] for t in tables)]
    return float(sum(p for p in law.values() if p <= observed * Fraction(10 ** 7 + 1, 10 ** 7)))


TABLE = st.tuples(*[st.integers(0, 7)] * 4).filter(lambda t: min(t[0] + t[1], t[2] + t[3], t[0] + t[2],
                                                                 t[1] + t[3]) > 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(TABLE, min_size=1, max_size=3))
def test_stratified_exact_is_the_enumerated_law(tables: list[tuple[int, int, int, int]]) -> None:
    assert stratified_exact(tables) == pytest.approx(_brute_stratified(tables), rel=1e-9, abs=1e-12)


@given(TABLE)
def test_fisher_symmetries(t: tuple[int, int, int, int]) -> None:
    a, b, c, d = t
    p = fisher_exact(a, b, c, d)
    assert 0.0 <= p <= 1.0
    assert fisher_exact(c, d, a, b) == pytest.approx(p, rel=1e-9)   # rows swapped
    assert fisher_exact(a, c, b, d) == pytest.approx(p, rel=1e-9)   # transposed
    assert stratified_exact([t]) == p


def test_degenerate_tables_say_nothing() -> None:
    assert fisher_exact(0, 0, 4, 5) == 1.0 and fisher_exact(3, 0, 4, 0) == 1.0
    assert stratified_exact([(0, 0, 3, 3), (5, 0, 0, 5)]) == fisher_exact(5, 0, 0, 5)
    assert stratified_exact([]) == 1.0


def test_large_strata_use_cmh_and_agree_with_exact_at_moderate_counts() -> None:
    tables = [(40, 60, 20, 80), (35, 65, 25, 75), (50, 50, 30, 70)]
    assert cmh_chi2(tables) == pytest.approx(stratified_exact(tables), rel=0.25)
    big = [(1200 + k, 1800, 900, 2100 - k) for k in range(4)]  # support above EXACT_SUPPORT: the CMH stands in
    assert stratified_exact(big) == cmh_chi2(big) < 1e-6


def test_adjust_matches_statsmodels() -> None:
    ps = [0.01, 0.04, 0.03, 0.005, 0.2]
    # statsmodels.stats.multitest.multipletests(ps, method="holm" | "fdr_bh")
    assert adjust(ps, "holm") == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.2])
    assert adjust(ps, "bh") == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.2])
    assert adjust([None, 0.02, None], "holm") == [None, 0.02, None]
    with pytest.raises(ValueError, match="unknown correction"):
        adjust(ps, "bonf")


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_adjusted_p_values_are_bounded_and_monotone(ps: list[float]) -> None:
    for method in ("holm", "bh"):
        out = adjust(ps, method)
        assert all(p <= q <= 1.0 for p, q in zip(ps, out))  # type: ignore[operator]
        ranked = sorted(zip(ps, out))
        assert all(x[1] <= y[1] + 1e-15 for x, y in itertools.pairwise(ranked))  # type: ignore[operator]


def test_newcombe_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80, method 10
    d, lo, hi = newcombe(56, 70, 48, 80)
    assert (d, lo, hi) == pytest.approx((0.2, 0.0524, 0.3339), abs=5e-5)
    assert newcombe(0, 0, 3, 4) == (None, None, None)


def test_mh_risk_difference() -> None:
    # one stratum: the plain difference with the Wald interval
    rd, lo, hi = mh_risk_difference([(30, 70, 15, 85)])
    se = math.sqrt(0.3 * 0.7 / 100 + 0.15 * 0.85 / 100)
    assert (rd, lo, hi) == pytest.approx((0.15, 0.15 - 1.959964 * se, 0.15 + 1.959964 * se), rel=1e-6)
    # two strata with the same difference in each: the pooled difference is that difference
    rd, lo, hi = mh_risk_difference([(6, 4, 2, 8), (30, 70, 10, 90)])
    assert rd == pytest.approx(0.4 * (10 * 10 / 20) / (10 * 10 / 20 + 100 * 100 / 200)
                               + 0.2 * (100 * 100 / 200) / (10 * 10 / 20 + 100 * 100 / 200))
    assert lo < rd < hi
    assert mh_risk_difference([(3, 2, 0, 0)]) == (None, None, None)


def test_episodes_to_detect() -> None:
    # the classic two-proportion sample size: 0.30 vs 0.15 at 5% and 80% power is 121 a group (Fleiss,
    # no continuity correction)
    assert episodes_to_detect(0.30, 0.15, 0.5, 0.05) in (241, 242)
    smaller = episodes_to_detect(0.30, 0.15, 0.5, 0.05 / 6)
    assert smaller is not None and smaller > 242  # a stricter level needs more
    assert episodes_to_detect(0.3, 0.3, 0.5, 0.05) is None
    assert episodes_to_detect(0.3, 0.1, 0.0, 0.05) is None
