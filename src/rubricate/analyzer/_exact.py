"""Exact tests of 2x2 tables and their multiplicity corrections.

A table is (a, b, c, d): a row "exposed" (the behavior fails) with a events (the task fails) and b
non-events, and a row "unexposed" (the behavior passes) with c events and d non-events.

- `fisher_exact`: Fisher's exact test, two-sided: the probability, under the hypergeometric law of
  the table given its margins, of every table at most as probable as the one observed (R's
  `fisher.test` and scipy's rule, with the same relative tolerance of 1e-7).
- `stratified_exact`: the exact conditional test of no association in a set of 2x2 tables (the
  exact Mantel-Haenszel test: the law of the sum of the tables' `a` given every margin is the
  convolution of their hypergeometric laws), two-sided by the same rule; one table gives Fisher's
  test, exactly at any size. When a convolution of several tables would be large (many episodes)
  the Cochran-Mantel-Haenszel chi-square with continuity correction stands in for it: at those
  counts the two agree.
- `mh_risk_difference`: the Mantel-Haenszel risk difference over the tables with the
  Greenland-Robins variance (Wald 95% interval).
- `adjust`: Holm's step-down or Benjamini-Hochberg's step-up adjusted p-values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ._stats import Z95

Table = tuple[int, int, int, int]
RELATIVE_TOLERANCE = 1 + 1e-7
EXACT_SUPPORT = 6000  # largest total support of the convolution computed exactly; CMH above
CORRECTIONS = ("holm", "bh")


@lru_cache(maxsize=8)
def _log_factorials(n: int) -> np.ndarray:
    out = np.zeros(n + 1)
    if n:
        out[1:] = np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))
    return out


def _log_factorial_table(n: int) -> np.ndarray:
    size = 1024
    while size < n:
        size *= 2
    return _log_factorials(size)


def hypergeometric(rows: int, other: int, events: int) -> tuple[int, np.ndarray]:
    """(lowest support value, probabilities) of X, the events in the first row of a 2x2 table with
    row totals `rows`, `other` and column total `events`: X ~ Hypergeometric."""
    lo, hi = max(0, events - other), min(rows, events)
    n = rows + other
    lf = _log_factorial_table(n)
    x = np.arange(lo, hi + 1)
    logp = (lf[rows] - lf[x] - lf[rows - x] + lf[other] - lf[events - x] - lf[other - events + x]
            - lf[n] + lf[events] + lf[n - events])
    p = np.exp(logp - logp.max())
    return lo, p / p.sum()


def _two_sided(probabilities: np.ndarray, observed: int) -> float:
    cut = probabilities[observed] * RELATIVE_TOLERANCE
    return float(min(1.0, probabilities[probabilities <= cut].sum()))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test of the table [[a, b], [c, d]]; 1.0 when a margin is 0."""
    return stratified_exact([(a, b, c, d)])


def stratified_exact(tables: Sequence[Table]) -> float:
    """Two-sided p-value of no association across strata (see the module); 1.0 when no table has
    both rows and both columns filled."""
    laws = []
    observed = 0
    for a, b, c, d in tables:
        if min(a + b, c + d, a + c, b + d) == 0:
            continue  # a degenerate table says nothing about the association
        laws.append(hypergeometric(a + b, c + d, a + c))
        observed += a
    if not laws:
        return 1.0
    support = sum(len(p) for _, p in laws)
    if len(laws) > 1 and support > EXACT_SUPPORT:
        return cmh_chi2([t for t in tables if min(t[0] + t[1], t[2] + t[3], t[0] + t[2], t[1] + t[3])])
    start = sum(lo for lo, _ in laws)
    total = np.ones(1)
    for _, p in laws:
        total = np.convolve(total, p)
    return _two_sided(total, observed - start)


def cmh_chi2(tables: Sequence[Table]) -> float:
    """Cochran-Mantel-Haenszel test with continuity correction (chi-square, 1 df): the two-sided p."""
    sum_a = expected = variance = 0.0
    for a, b, c, d in tables:
        n = a + b + c + d
        if n < 2:
            continue
        r1, r2, c1, c2 = a + b, c + d, a + c, b + d
        sum_a += a
        expected += r1 * c1 / n
        variance += r1 * r2 * c1 * c2 / (n * n * (n - 1))
    if variance <= 0:
        return 1.0
    statistic = max(0.0, abs(sum_a - expected) - 0.5) ** 2 / variance
    return math.erfc(math.sqrt(statistic / 2.0))  # the chi-square(1) upper tail


def mh_risk_difference(tables: Sequence[Table]) -> tuple[float | None, float | None, float | None]:
    """(Mantel-Haenszel risk difference, Wald 95% bounds with the Greenland-Robins variance); the
    difference is rate(a of a + b) - rate(c of c + d) pooled over strata. Nones when no stratum has
    both rows."""
    weight = num = var = 0.0
    for a, b, c, d in tables:
        n1, n0 = a + b, c + d
        if not n1 or not n0:
            continue
        n = n1 + n0
        weight += n1 * n0 / n
        num += (a * n0 - c * n1) / n
        var += (a * b * n0 ** 3 + c * d * n1 ** 3) / (n1 * n0 * n * n)
    if weight <= 0:
        return None, None, None
    rd = num / weight
    half = Z95 * math.sqrt(var) / weight
    return rd, max(-1.0, rd - half), min(1.0, rd + half)


def adjust(p_values: Sequence[float | None], method: str = "holm") -> list[float | None]:
    """Adjusted p-values over the family of the non-None ones (None stays None): Holm's step-down
    (family-wise error) or Benjamini-Hochberg's step-up (false discovery rate)."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}: use one of {', '.join(CORRECTIONS)}")
    idx = [k for k, p in enumerate(p_values) if p is not None]
    m = len(idx)
    out: list[float | None] = [None] * len(p_values)
    if not m:
        return out
    order = sorted(idx, key=lambda k: p_values[k])  # type: ignore[arg-type,return-value]
    if method == "holm":
        running = 0.0
        for rank, k in enumerate(order):
            running = max(running, min(1.0, (m - rank) * p_values[k]))  # type: ignore[operator]
            out[k] = running
    else:
        running = 1.0
        for rank in range(m - 1, -1, -1):
            k = order[rank]
            running = min(running, m * p_values[k] / (rank + 1))  # type: ignore[operator]
            out[k] = min(1.0, max(running, p_values[k]))  # type: ignore[type-var]  (never below p: rounding)
    return out
