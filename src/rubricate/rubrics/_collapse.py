"""One episode's item verdicts collapsed into one reward, as the rubric's `[reward]` table says.

The same pure function serves the analysis (`rubric_reward` in episodes.parquet) and every trainer
export, so a reward seen in training is the reward seen in a run.

`weighted_mean` (the default). Over the items that take part (weight != 0) and got pass or fail:

    reward = sum(|w| * score) / sum(|w|)

with score 1 for a pass and 0 for a fail of a positive-weight item. A negative weight marks a
**pitfall**: failing it scores -1 (it takes |w| away and counts |w| in the denominator); passing it is
what is expected, so it is left out like an na item. Bounds: [0, 1] without pitfalls, [-1, 1] with
them; a hit pitfall always lowers the reward, a passed positive item always raises it.

`outcome_gated`: `outcome_item` says whether the answer is right; q = max(0, weighted mean of the
other rewarded items), or 1 when none of them applies. `shape_among = "correct"`: right 0.5 + 0.5 q,
wrong 0. `shape_among = "incorrect"`: right 1, wrong 0.5 q. An na outcome gives None.

`gates`: after the mode, each gate item that failed applies `gate`: `zero` -> min(reward, 0), `cap`
-> min(reward, cap). A gate never raises a reward; an na gate does not apply.

`judge_holistic` needs a judge that reads every item and gives one score; this version has none, so
the reward is None with that reason.

None, never 0, when the reward cannot be known: an item that takes part (weight != 0, a gate, the
outcome item) has an `error` verdict or was not scored; no rewarded item applies (all na), or the only
ones that apply are passed pitfalls; the outcome item is na (outcome_gated). Items with weight 0 are
reported, not rewarded: their verdicts (errors included) never change the reward.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from ._check import Outcome
from ._schema import RewardSpec

if TYPE_CHECKING:
    from ._rubric import Rubric

_SCORE = {"pass": 1.0, "fail": 0.0}
_DEFAULT_SPEC = RewardSpec()


class RewardResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """A collapsed reward: `reward` (None when it cannot be known), why, and every item's verdict and
    score (1.0 pass, 0.0 fail, None for na, error or not scored)."""

    reward: float | None
    reason: str
    scores: dict[str, float | None] = {}
    verdicts: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Plan:
    """A rubric's `[reward]` table resolved once: who takes part, with which weight."""

    mode: str
    positive: tuple[tuple[str, float], ...]   # (item id, weight > 0)
    pitfalls: tuple[tuple[str, float], ...]   # (item id, |weight|) of weight < 0
    gates: tuple[str, ...]
    gate: str
    cap: float | None
    outcome: str | None
    shape_among: str
    involved: tuple[str, ...]                 # items whose error or absence makes the reward None
    item_ids: tuple[str, ...]


_PLANS: dict[int, tuple[Rubric, Plan]] = {}


def reward_spec(rubric: Rubric) -> RewardSpec:
    """The rubric's `[reward]` table, or the default (weighted_mean, no gates)."""
    spec = rubric.spec.reward if rubric.spec is not None else None
    return spec if spec is not None else _DEFAULT_SPEC


def plan_for(rubric: Rubric) -> Plan:
    """The resolved plan of `rubric` (cached per rubric object)."""
    cached = _PLANS.get(id(rubric))
    if cached is not None and cached[0] is rubric:
        return cached[1]
    spec = reward_spec(rubric)
    positive = tuple((i.id, float(i.weight)) for i in rubric.items if i.weight > 0)
    pitfalls = tuple((i.id, -float(i.weight)) for i in rubric.items if i.weight < 0)
    involved = [i for i, _ in positive + pitfalls]
    for extra in (*spec.gates, spec.outcome_item):
        if extra is not None and extra not in involved:
            involved.append(extra)
    plan = Plan(spec.mode, positive, pitfalls, tuple(spec.gates), spec.gate, spec.cap, spec.outcome_item,
                spec.shape_among, tuple(involved), tuple(i.id for i in rubric.items))
    if len(_PLANS) > 256:
        _PLANS.clear()
    _PLANS[id(rubric)] = (rubric, plan)  # the rubric is kept alive, so its id is never reused while cached
    return plan


def _verdicts(outcomes: Iterable[Any] | Mapping[str, Any]) -> dict[str, str]:
    """{item id: verdict} from Verdict rows (as `Rubric.evaluate` gives), or a mapping of item id to an
    Outcome or a verdict string."""
    if not isinstance(outcomes, Mapping):
        return {v.item: v.verdict for v in outcomes}
    out: dict[str, str] = {}
    for item, outcome in outcomes.items():
        key = item if isinstance(item, str) else item.id
        out[key] = outcome if isinstance(outcome, str) else outcome.verdict
    return out


def weighted_mean(verdicts: Mapping[str, str], positive: Iterable[tuple[str, float]],
                  pitfalls: Iterable[tuple[str, float]]) -> tuple[float | None, int]:
    """(sum(|w| * score) / sum(|w|), number of items counted); (None, 0) when nothing counts."""
    num = den = 0.0
    counted = 0
    for item_id, w in positive:
        v = verdicts.get(item_id)
        if v == "pass":
            num += w
            den += w
            counted += 1
        elif v == "fail":
            den += w
            counted += 1
    for item_id, w in pitfalls:
        if verdicts.get(item_id) == "fail":
            num -= w
            den += w
            counted += 1
    if den <= 0.0:
        return None, 0
    return num / den, counted


def collapse(outcomes: Iterable[Any] | Mapping[str, Any], rubric: Rubric) -> RewardResult:
    """Collapse one episode's outcomes into its reward with the rubric's `[reward]` table (pure,
    deterministic). `outcomes`: Verdict rows as `Rubric.evaluate` returns, or {item id: Outcome or
    verdict string}."""
    plan = plan_for(rubric)
    verdicts = _verdicts(outcomes)
    scores = {i: _SCORE.get(verdicts.get(i, ""), None) for i in plan.item_ids}
    reward, reason = _reward(plan, verdicts, outcomes)
    return RewardResult(reward, reason, scores, {i: verdicts[i] for i in plan.item_ids if i in verdicts})


def _reward(plan: Plan, verdicts: Mapping[str, str], outcomes: Any) -> tuple[float | None, str]:
    if plan.mode == "judge_holistic":
        return None, ("mode judge_holistic needs a judge that reads every item and gives one score; "
                      "this version of rubricate has no such judge")
    for item_id in plan.involved:
        v = verdicts.get(item_id)
        if v == "error":
            return None, f"item {item_id} could not be scored (error{_why(outcomes, item_id)})"
        if v not in ("pass", "fail", "na"):
            return None, f"item {item_id} takes part in the reward but was not scored"
    if plan.mode == "outcome_gated":
        reward, reason = _outcome_gated(plan, verdicts)
    else:
        value, counted = weighted_mean(verdicts, plan.positive, plan.pitfalls)
        if value is None:
            if not plan.positive and not plan.pitfalls:
                return None, "no item has a non-zero weight"
            return None, "no rewarded item applies (all na, or only passed pitfalls)"
        reward, reason = value, f"weighted mean of {counted} item{'s' if counted != 1 else ''}"
    if reward is None:
        return None, reason
    for gate in plan.gates:
        if verdicts.get(gate) == "fail":
            limit = 0.0 if plan.gate == "zero" else float(plan.cap)  # type: ignore[arg-type]
            reward = min(reward, limit)
            reason += f"; gate {gate} failed: at most {limit:g}"
    return reward, reason


def _outcome_gated(plan: Plan, verdicts: Mapping[str, str]) -> tuple[float | None, str]:
    outcome = plan.outcome
    right = verdicts.get(outcome)  # type: ignore[arg-type]
    if right == "na":
        return None, f"outcome item {outcome} is na: the outcome-gated reward needs the outcome"
    positive = tuple(p for p in plan.positive if p[0] != outcome)
    pitfalls = tuple(p for p in plan.pitfalls if p[0] != outcome)
    value, counted = weighted_mean(verdicts, positive, pitfalls)
    q = 1.0 if value is None else max(0.0, value)
    shaped = f"process q={q:.3g} over {counted} item{'s' if counted != 1 else ''}"
    if plan.shape_among == "correct":
        if right == "pass":
            return 0.5 + 0.5 * q, f"{outcome} passed; {shaped}"
        return 0.0, f"{outcome} failed"
    if right == "pass":
        return 1.0, f"{outcome} passed"
    return 0.5 * q, f"{outcome} failed; {shaped}"


def _why(outcomes: Any, item_id: str) -> str:
    if isinstance(outcomes, Mapping):
        value = outcomes.get(item_id)
        return f": {value.reason}" if isinstance(value, Outcome) and value.reason else ""
    for verdict in outcomes:
        if verdict.item == item_id:
            return f": {verdict.reason}" if verdict.reason else ""
    return ""


def reward_bounds(rubric: Rubric) -> tuple[float, float]:
    """The least and greatest reward the rubric's collapse can give (None aside)."""
    plan = plan_for(rubric)
    if plan.mode == "outcome_gated":
        lo, hi = 0.0, 1.0
    else:
        lo = -1.0 if plan.pitfalls else 0.0
        hi = 1.0 if plan.positive else (-1.0 if plan.pitfalls else 0.0)
    if plan.gates:
        limit = 0.0 if plan.gate == "zero" else float(plan.cap)  # type: ignore[arg-type]
        lo = min(lo, limit)
    return lo, hi
