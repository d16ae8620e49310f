"""Small statistics without scipy: Wilson intervals, the binomial CDF, McNemar's exact test, the
two-proportion z-test, Newcombe's interval on a difference of proportions and the episodes a test
needs. Scalars here; `wilson_exprs` is the same interval as polars expressions. Exact tests of 2x2
tables are in `_exact`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile: two-sided 95%
_EXACT_UP_TO = 2000  # binomial sums in exact integers up to this n, in log space above


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion `successes / n`; (None, None) when n is 0."""
    if n <= 0:
        return None, None
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo = 0.0 if successes <= 0 else max(0.0, centre - half)  # exact bounds at the ends (no rounding dust)
    hi = 1.0 if successes >= n else min(1.0, centre + half)
    return lo, hi


def wilson_exprs(successes: pl.Expr, n: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """`wilson` as two polars expressions (lo, hi), null where n is 0."""
    import polars as pl

    nf = n.cast(pl.Float64)
    p = successes.cast(pl.Float64) / nf
    z2 = z * z
    denom = 1 + z2 / nf
    centre = (p + z2 / (2 * nf)) / denom
    half = z * (p * (1 - p) / nf + z2 / (4 * nf * nf)).sqrt() / denom
    ok = n > 0
    lo = pl.when(~ok).then(None).when(successes <= 0).then(0.0) \
        .otherwise(pl.max_horizontal(pl.lit(0.0), centre - half))
    hi = pl.when(~ok).then(None).when(successes >= n).then(1.0) \
        .otherwise(pl.min_horizontal(pl.lit(1.0), centre + half))
    return lo, hi


def binom_cdf(k: int, n: int, p: float = 0.5) -> float:
    """P(X <= k) for X ~ Binomial(n, p): exact integer sums for p = 0.5 and moderate n, log space else."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p == 0.5 and n <= _EXACT_UP_TO:
        return sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
            for i in range(k + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (b: only A passes, c: only B passes):
    the binomial test of min(b, c) against Binomial(b + c, 1/2). 1.0 with no discordant pair."""
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * binom_cdf(min(b, c), n, 0.5))


def normal_two_sided(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float | None, float | None]:
    """Pooled two-proportion z-test of x1/n1 against x2/n2: (z, two-sided p). (None, None) when a
    sample is empty; (0.0, 1.0) when the pooled proportion is 0 or 1 (no variance, no difference)."""
    if n1 <= 0 or n2 <= 0:
        return None, None
    pooled = (x1 + x2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(var)
    return z, normal_two_sided(z)


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float | None, float | None, float | None]:
    """x1/n1 - x2/n2 with Newcombe's hybrid score interval (his method 10, from the two Wilson
    intervals); Nones when a sample is empty."""
    if n1 <= 0 or n2 <= 0:
        return None, None, None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    assert l1 is not None and u1 is not None and l2 is not None and u2 is not None
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, lo), min(1.0, hi)


def episodes_to_detect(p1: float, p0: float, share: float, alpha: float, power: float = 0.8) -> int | None:
    """About how many episodes (both groups together) a two-sided two-proportion test at level
    `alpha` needs to detect rate p1 in a `share` of them against p0 in the rest with `power`
    (the normal approximation with pooled variance under the null); None without a difference."""
    from statistics import NormalDist

    if not 0 < share < 1 or p1 == p0 or not 0 < alpha < 1:
        return None
    za, zb = -NormalDist().inv_cdf(alpha / 2), NormalDist().inv_cdf(power)  # -q(alpha/2): exact for tiny alpha
    pbar = share * p1 + (1 - share) * p0
    null = za * math.sqrt(pbar * (1 - pbar) * (1 / share + 1 / (1 - share)))
    alt = zb * math.sqrt(p1 * (1 - p1) / share + p0 * (1 - p0) / (1 - share))
    return math.ceil(((null + alt) / (p1 - p0)) ** 2)
