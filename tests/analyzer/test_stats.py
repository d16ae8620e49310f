"""The statistics helpers against known values (textbook Wilson intervals, binomial sums by hand,
R's prop.test without continuity correction)."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rubricate.analyzer._stats import (
    binom_cdf,
    mcnemar_exact,
    normal_two_sided,
    two_proportion_z,
    wilson,
    wilson_exprs,
)


@pytest.mark.parametrize(("k", "n", "lo", "hi"), [
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
    (8, 10, 0.4902, 0.9433),
    (10, 10, 0.7225, 1.0),
])
def test_wilson_known_values(k: int, n: int, lo: float, hi: float) -> None:
    assert wilson(k, n) == pytest.approx((lo, hi), abs=5e-5)


def test_wilson_empty_and_ends_exact() -> None:
    assert wilson(0, 0) == (None, None)
    assert wilson(0, 7)[0] == 0.0 and wilson(7, 7)[1] == 1.0


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=1, max_size=20))
def test_wilson_exprs_match_scalar(pairs: list[tuple[int, int]]) -> None:
    rows = [(min(a, b), max(a, b)) for a, b in pairs]
    frame = pl.DataFrame(rows, schema={"k": pl.Int64, "n": pl.Int64}, orient="row")
    lo, hi = wilson_exprs(pl.col("k"), pl.col("n"))
    out = frame.select(lo=lo, hi=hi)
    for (k, n), (elo, ehi) in zip(rows, out.iter_rows()):
        slo, shi = wilson(k, n)
        if n == 0:
            assert elo is None and ehi is None
        else:
            assert elo == pytest.approx(slo, abs=1e-12) and ehi == pytest.approx(shi, abs=1e-12)
            assert 0.0 <= elo <= k / n <= ehi <= 1.0


def test_binomial_cdf() -> None:
    assert binom_cdf(3, 13) == (1 + 13 + 78 + 286) / 8192
    assert binom_cdf(-1, 5) == 0.0 and binom_cdf(5, 5) == 1.0
    assert binom_cdf(2, 10, 0.3) == pytest.approx(0.3827827864)  # sum of C(10,i) .3^i .7^(10-i), i <= 2
    # the log-space path agrees with exact integers
    exact = sum(math.comb(3000, i) for i in range(1451)) / 2 ** 3000
    assert binom_cdf(1450, 3000) == pytest.approx(exact, rel=1e-9)


def test_mcnemar_exact() -> None:
    assert mcnemar_exact(3, 10) == pytest.approx(2 * 378 / 8192)  # 0.0923
    assert mcnemar_exact(10, 3) == mcnemar_exact(3, 10)
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0


def test_two_proportion_z() -> None:
    z, p = two_proportion_z(45, 100, 60, 100)  # prop.test(c(45, 60), c(100, 100), correct = FALSE)
    assert z == pytest.approx(-2.12398, abs=1e-5)
    assert z * z == pytest.approx(4.5113, abs=1e-4)
    assert p == pytest.approx(0.03367, abs=1e-5)
    assert two_proportion_z(60, 100, 45, 100)[1] == p
    assert two_proportion_z(0, 10, 0, 20) == (0.0, 1.0)
    assert two_proportion_z(1, 0, 1, 2) == (None, None)
    assert normal_two_sided(1.959963984540054) == pytest.approx(0.05)
