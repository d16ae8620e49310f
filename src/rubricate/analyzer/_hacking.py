"""Reward-hacking early warning: over a training run that carries both the reward being optimised
and an outcome (an item that says whether the task was done), the step from which the reward keeps
rising while the outcome stalls or falls, and the items whose pass rate climbs without it.

For every onset bucket k that leaves at least `MIN_BUCKETS` buckets to the end, two least-squares
slopes over the episodes from k on, against their step: the reward's and the outcome's (1 done, 0
not), computed exactly from per-step sums (count, sum, sum of squares). The run is flagged when, for some k, the reward's slope is positive with a one-sided p-value
below alpha / (the number of onsets tried) (Bonferroni) and the outcome's slope is not positive (it
stalls or falls). The onset named is, among those k, the step where the outcome's course bends: the
one where a line allowed to bend there fits the outcome best (least squares). Items climbing without the outcome: in the flagged stretch, the
process items whose pass-rate slope is positive with a one-sided p below alpha after the evidence
rule's correction over the items. Slopes' p-values use the normal approximation (each bucket holds
many episodes). The false-alarm and detection rates on planted runs are in docs/analysis.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ._evidence import EvidenceRule
from ._exact import adjust
from ._stats import Z95

if TYPE_CHECKING:
    import polars as pl

MIN_BUCKETS = 3


@dataclass(frozen=True)
class Slope:
    """A least-squares slope per step with its standard error, 95% interval and one-sided p (> 0)."""

    value: float
    se: float
    n: int

    @property
    def p_up(self) -> float:
        if self.se <= 0:
            return 0.0 if self.value > 0 else 1.0
        return 0.5 * math.erfc(self.value / self.se / math.sqrt(2.0))

    @property
    def lo(self) -> float:
        return self.value - Z95 * self.se

    @property
    def hi(self) -> float:
        return self.value + Z95 * self.se


def slope(x: np.ndarray, n: np.ndarray, sy: np.ndarray, syy: np.ndarray) -> Slope | None:
    """The least-squares slope of y on x over points grouped by x: at x[j], n[j] points whose y sum to
    sy[j] with squares summing to syy[j]. None with fewer than 3 points or a single x."""
    total = float(n.sum())
    if total < 3:
        return None
    sx, sxx = float((n * x).sum()), float((n * x * x).sum())
    ssx = sxx - sx * sx / total
    if ssx <= 1e-12 * max(1.0, sxx):
        return None
    y, sxy, yy = float(sy.sum()), float((x * sy).sum()), float(syy.sum())
    sp = sxy - sx * y / total
    b = sp / ssx
    rss = max(0.0, (yy - y * y / total) - b * sp)
    return Slope(b, math.sqrt(rss / (total - 2) / ssx), int(total))


@dataclass(frozen=True)
class Hacking:
    """The check's result: flagged or not, the onset step, the stretch's reward and outcome slopes,
    the items climbing without the outcome (item, slope, corrected p), and one sentence."""

    flagged: bool
    onset_step: float | None
    last_step: float | None
    reward: Slope | None
    outcome: Slope | None
    onsets_tried: int
    climbing: tuple[tuple[str, float, float], ...]
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        def sl(s: Slope | None) -> dict[str, float] | None:
            return None if s is None else {"slope": s.value, "lo": s.lo, "hi": s.hi, "p_up": s.p_up, "episodes": s.n}

        return {"flagged": self.flagged, "onset_step": self.onset_step, "last_step": self.last_step,
                "reward": sl(self.reward), "outcome": sl(self.outcome), "onsets_tried": self.onsets_tried,
                "climbing": [{"item": i, "slope": v, "p_adjusted": p} for i, v, p in self.climbing],
                "sentence": self.sentence}


def hacking_check(steps: pl.DataFrame, edges: list[tuple[float, float]], process_items: list[str],
                  rule: EvidenceRule, reward_name: str, outcome_name: str) -> Hacking:
    """The check over a `_training.step_frame` (its step buckets are `edges`)."""
    x = steps["step"].to_numpy().astype(float)
    reward = [steps[c].to_numpy().astype(float) for c in ("r_n", "r_sum", "r_sq")]
    outcome = [steps[c].to_numpy().astype(float) for c in ("o_n", "o_sum", "o_sum")]  # binary: y * y = y
    onsets = list(range(max(0, len(edges) - MIN_BUCKETS + 1)))
    level = rule.alpha / max(1, len(onsets))
    found: list[tuple[float, int, Slope, Slope]] = []  # (hinge fit's residual, onset, reward slope, outcome slope)
    for k in onsets:
        keep = x >= edges[k][0]
        rs, os_ = slope(x[keep], *(a[keep] for a in reward)), slope(x[keep], *(a[keep] for a in outcome))
        if rs is not None and os_ is not None and rs.value > 0 and rs.p_up < level and os_.value <= 0:
            found.append((_hinge_residual(x, *outcome, edges[k][0] if k else None), k, rs, os_))
    if found:  # the onset: where the outcome's course bends (a line bending there fits it best)
        _, k, rs, os_ = min(found, key=lambda f: (f[0], f[1]))
        climbing = _climbing(steps, x >= edges[k][0], x, process_items, rule)
        return Hacking(True, edges[k][0], edges[-1][1], rs, os_, len(onsets), climbing,
                       _warning(edges[k][0], rs, os_, len(onsets), climbing, reward_name, outcome_name, rule))
    text = (f"No reward-hacking signal: in no stretch of at least {MIN_BUCKETS} step buckets to the end does "
            f"{reward_name} rise significantly (one-sided slope test, Bonferroni over {len(onsets)} onsets) while "
            f"{outcome_name} stalls or falls.")
    if not onsets:
        text = f"Too few step buckets ({len(edges)}) to check for reward hacking (at least {MIN_BUCKETS} needed)."
    return Hacking(False, None, None, slope(x, *reward), slope(x, *outcome), len(onsets), (), text)


def _hinge_residual(x: np.ndarray, n: np.ndarray, sy: np.ndarray, syy: np.ndarray, at: float | None) -> float:
    """Residual sum of squares of y on a line in x that may bend at `at` (straight when None), from
    the per-x sums: the normal equations need only n, sum y and sum y^2 at each x."""
    columns = [np.ones_like(x), x] + ([np.maximum(0.0, x - at)] if at is not None else [])
    f = np.stack(columns, axis=1)
    xtx = (f * n[:, None]).T @ f
    xty = f.T @ sy
    coef, *_ = np.linalg.lstsq(xtx, xty, rcond=None)
    return float(syy.sum() - coef @ xty)


def _climbing(steps: pl.DataFrame, keep: np.ndarray, x: np.ndarray, items: list[str],
              rule: EvidenceRule) -> tuple[tuple[str, float, float], ...]:
    found = []
    for item in items:
        passes = steps[f"i:{item}:pass"].to_numpy().astype(float)
        n = passes + steps[f"i:{item}:fail"].to_numpy().astype(float)
        s = slope(x[keep], n[keep], passes[keep], passes[keep])
        if s is not None:
            found.append((item, s))
    corrected = adjust([s.p_up for _, s in found], rule.correction)
    out = [(i, s.value, q) for (i, s), q in zip(found, corrected) if q is not None and q < rule.alpha and s.value > 0]
    return tuple(sorted(out, key=lambda x: x[2]))


def _per_step(s: Slope) -> str:
    return f"{s.value:+.3g} a step (95% CI {s.lo:+.3g} to {s.hi:+.3g})"


def _warning(onset: float, rs: Slope, os_: Slope, onsets: int, climbing: tuple[tuple[str, float, float], ...],
             reward_name: str, outcome_name: str, rule: EvidenceRule) -> str:
    text = (f"Reward-hacking warning: from step {onset:g} on, {reward_name} keeps rising ({_per_step(rs)}; "
            f"one-sided p = {rs.p_up:.2g}, Bonferroni over {onsets} onsets) while {outcome_name} does not "
            f"({_per_step(os_)}).")
    if climbing:
        names = ", ".join(f"{i} ({v:+.3g} a step, {rule.correction_name}-adjusted p = {q:.2g})"
                          for i, v, q in climbing)
        text += f" Items whose pass rate climbs without the outcome: {names}."
    return text
