"""The evidence rule: when a behavior may be named as a driver of task failure.

`weigh` is the one function that decides it; `analyze` (its principal sentence and attribution
table), the report (its banner, through `analyze`) and `guide` (which behaviors come first and what
their recommendation claims) all read its verdicts. A behavior is a driver only when all hold:

1. it fails in at least `min_failing` episodes that have an outcome, and the task failed in at
   least `min_failed_tasks` of them;
2. Fisher's exact test of task failure when it fails against when it passes is significant at
   `alpha` after correcting over every behavior tested (Holm, or Benjamini-Hochberg);
3. the difference of the two task-failure rates is positive, with a 95% interval (Newcombe) above 0.

It *carries the adjusted effect* when, besides, the same holds with the behaviors upstream of it held
fixed (the exact stratified test over the strata of their statuses, corrected over the behaviors, and
a Mantel-Haenszel difference whose 95% interval is above 0). Otherwise the tool says that no behavior
reliably explains task failure, with the strongest association's numbers and roughly how many
episodes would detect an effect that size (`episodes_to_detect`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import AnalysisError
from ._exact import CORRECTIONS, Table, adjust, fisher_exact, mh_risk_difference, stratified_exact
from ._stats import episodes_to_detect, newcombe


@dataclass(frozen=True)
class EvidenceRule:
    """The thresholds of the evidence rule (see the module)."""

    min_failing: int = 10
    min_failed_tasks: int = 5
    alpha: float = 0.05
    correction: str = "holm"
    power: float = 0.8  # for the episodes an effect would need

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise AnalysisError(f"unknown correction {self.correction!r}", name=self.correction,
                                hint=f"use one of: {', '.join(CORRECTIONS)}")
        if not 0 < self.alpha < 1:
            raise AnalysisError(f"alpha {self.alpha!r} is not between 0 and 1", name=str(self.alpha),
                                hint="e.g. 0.05")
        if self.min_failing < 1 or self.min_failed_tasks < 0:
            raise AnalysisError("min_failing must be at least 1 and min_failed_tasks at least 0",
                                name=str(self.min_failing), hint="e.g. 10 and 5")

    @property
    def correction_name(self) -> str:
        return "Holm" if self.correction == "holm" else "Benjamini-Hochberg"

    def describe(self) -> str:
        return (f"a behavior must fail in at least {self.min_failing} episodes with at least "
                f"{self.min_failed_tasks} failed tasks among them, pass Fisher's exact test at "
                f"{self.alpha:g} after {self.correction_name}'s correction over the behaviors tested, "
                f"and raise task failure with a 95% interval above 0")


@dataclass(frozen=True)
class Candidate:
    """One behavior to weigh: its marginal table (a: fails and the task failed, b: fails and the task
    succeeded, c: passes and failed, d: passes and succeeded) and its tables stratified by the
    statuses of `upstream` (one table when nothing is upstream)."""

    behavior: str
    table: Table
    strata: tuple[Table, ...]
    upstream: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """A candidate weighed: counts, the marginal difference with its interval and Fisher p (raw and
    corrected), the same adjusted for `upstream`, and whether the rule names it."""

    behavior: str
    failing: int
    failed_when_fails: int
    passing: int
    failed_when_passes: int
    difference: float | None
    difference_lo: float | None
    difference_hi: float | None
    p_value: float | None
    p_adjusted: float | None
    upstream: tuple[str, ...]
    adjusted_difference: float | None
    adjusted_lo: float | None
    adjusted_hi: float | None
    adjusted_p: float | None
    adjusted_p_adjusted: float | None
    enough: bool          # rule 1
    supported: bool       # rules 1-3: a driver of task failure
    carries_adjusted: bool  # a driver that keeps its effect with the upstream behaviors held fixed

    @property
    def rate_when_fails(self) -> float | None:
        return self.failed_when_fails / self.failing if self.failing else None

    @property
    def rate_when_passes(self) -> float | None:
        return self.failed_when_passes / self.passing if self.passing else None


def weigh(candidates: Sequence[Candidate], rule: EvidenceRule) -> list[Evidence]:
    """The evidence rule applied to every candidate at once (the corrections span them all)."""
    raw, adjusted_raw, diffs, adjusted = [], [], [], []
    for c in candidates:
        a, b, x, d = c.table
        tested = min(a + b, x + d, a + x, b + d) > 0
        raw.append(fisher_exact(a, b, x, d) if tested else None)
        diffs.append(newcombe(a, a + b, x, x + d))
        strata = c.strata or (c.table,)
        adjusted_raw.append(stratified_exact(strata) if tested else None)
        adjusted.append(mh_risk_difference(strata))
    p_adj = adjust(raw, rule.correction)
    q_adj = adjust(adjusted_raw, rule.correction)
    out = []
    for c, p, pa, (d, lo, hi), q, qa, (ad, alo, ahi) in zip(candidates, raw, p_adj, diffs, adjusted_raw, q_adj,
                                                              adjusted):
        a, b, x, dd = c.table
        enough = a + b >= rule.min_failing and a >= rule.min_failed_tasks
        supported = enough and pa is not None and pa < rule.alpha and lo is not None and lo > 0
        carries = supported and qa is not None and qa < rule.alpha and alo is not None and alo > 0
        out.append(Evidence(c.behavior, a + b, a, x + dd, x, d, lo, hi, p, pa, c.upstream, ad, alo, ahi, q, qa,
                            enough, supported, carries))
    return out


def significant(p_adjusted: float | None, rule: EvidenceRule) -> bool:
    return p_adjusted is not None and p_adjusted < rule.alpha


def needed_episodes(e: Evidence, tested: int, rule: EvidenceRule) -> int | None:
    """About how many episodes (at this run's mix) would detect `e`'s observed difference under the
    rule: the test at alpha / tested (the strictest step of the correction), and the rule's counts."""
    n = e.failing + e.passing
    if not n or not e.failing or not e.passing or e.difference is None or e.difference <= 0:
        return None
    share = e.failing / n
    p1, p0 = e.rate_when_fails or 0.0, e.rate_when_passes or 0.0
    test = episodes_to_detect(p1, p0, share, rule.alpha / max(1, tested), rule.power)
    if test is None:
        return None
    counts = max(rule.min_failing / share, rule.min_failed_tasks / (share * p1) if p1 else 0.0)
    return max(test, int(-(-counts // 1)))
