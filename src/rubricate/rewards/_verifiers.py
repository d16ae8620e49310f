"""verifiers: the rubric as a `vf.Rubric` for an environment (`vf.ToolEnv(..., rubric=...)`).

Contract (verifiers 0.2.x and 0.3.0 `verifiers/rubrics/rubric.py`; 0.3.1 moved the v0 stack to
`verifiers.legacy` and still answers `vf.Rubric`; 0.4 dropped it for the v1 `@reward` API):
`Rubric(funcs, weights)`; each reward function is called with the keyword arguments it names, among
`prompt`, `completion`, `answer`, `state`, `info`, `task`, and returns a float; the rollout's reward is
`sum(weight * value)` and every function's value is recorded under its `__name__` in `state["metrics"]`.
A function that raises is logged and counted as 0.0. `score_rollout(state)` scores one rollout,
`score_group(states)` a group (and sets each state's `advantage`).

Built here: `rubric_reward` (weight 1.0: the collapse) and, with `per_item`, one function per check
item (weight 0.0: a metric, 1.0 pass / 0.0 fail / NaN na or error), the verifiers convention for
"reported, not rewarded". verifiers multiplies every value by its weight, and 0.0 x NaN is NaN, so the
Rubric `as_verifiers_rubric` returns (a subclass of `vf.Rubric`) sums only the functions whose weight is
not 0 after scoring; with the bare `verifiers_reward_funcs` in a Rubric of your own, pass `per_item=False`
or `item_na=0.0`. verifiers has no "not scorable" reward, so a None reward becomes `none_reward`; the
exact result, reason and verdicts are left in `state["rubricate"]` for whoever reads the states.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from ..rubrics import Rubric
from ..rubrics import RewardResult
from ._scorer import RewardScorer
from ._trl import scorer_of


def _rubric_class() -> Any:
    try:
        import verifiers as vf
    except ImportError as exc:
        raise ImportError("as_verifiers_rubric needs the verifiers package: "
                          "pip install 'verifiers>=0.2,<0.4'") from exc
    cls = getattr(vf, "Rubric", None)
    if cls is None:
        try:
            from verifiers.legacy import Rubric as cls  # type: ignore[no-redef]  # verifiers 0.3.x
        except ImportError:
            version = getattr(vf, "__version__", "?")
            raise ImportError(f"verifiers {version} has no Rubric class (0.4 moved to the v1 API); "
                              "install 'verifiers>=0.2,<0.4'") from None
    return _finite_rubric(cls)


def _finite_rubric(base: type) -> type:
    """`base` (vf.Rubric) whose reward and advantages skip weight-0 metrics (an na item's NaN)."""

    class RubricateRubric(base):  # type: ignore[misc, valid-type]
        async def score_rollout(self, state: Any) -> None:
            await super().score_rollout(state)
            state["reward"] = self._weighted(state)

        async def score_group(self, states: list[Any]) -> None:
            await super().score_group(states)
            rewards = [self._weighted(s) for s in states]
            mean = sum(rewards) / len(rewards) if rewards else 0.0
            for state, reward in zip(states, rewards):
                state["reward"], state["advantage"] = reward, reward - mean
                for turn in state.get("trajectory") or ():
                    for key, value in (("reward", reward), ("advantage", reward - mean)):
                        if isinstance(turn.get(key), float) and math.isnan(turn[key]):
                            turn[key] = value

        def _weighted(self, state: Any) -> float:
            metrics = state.get("metrics") or {}
            return sum(w * metrics.get(getattr(f, "__name__", ""), 0.0)
                       for f, w in zip(self.funcs, self.weights) if w != 0)

    return RubricateRubric


def _result(scorer: RewardScorer, prompt: Any, completion: Any, answer: Any, state: Any) -> RewardResult:
    """Score once per rollout: the result is kept in the state, keyed by the completion object."""
    cached = state.get("_rubricate") if isinstance(state, dict) else None
    if cached is not None and cached[0] is completion:
        return cached[1]
    result = scorer.score_many([(prompt, completion, answer if answer != "" else None)])[0]
    if isinstance(state, dict):
        state["_rubricate"] = (completion, result)
        state["rubricate"] = {"reward": result.reward, "reason": result.reason,
                              "verdicts": dict(result.verdicts)}
    return result


def verifiers_reward_funcs(rubric: Rubric | RewardScorer | str | os.PathLike[str], *,
                           none_reward: float = 0.0, per_item: bool = True, item_na: float = math.nan,
                           **options: Any) -> tuple[list[Callable[..., float]], list[float]]:
    """(funcs, weights) for `vf.Rubric(funcs=..., weights=...)`, without importing verifiers. An na or
    error item's metric is `item_na` (NaN: see the module docstring before using a Rubric of your own)."""
    scorer = scorer_of(rubric, **options)

    def rubric_reward(prompt: Any = None, completion: Any = None, answer: Any = None, state: Any = None,
                      **kwargs: Any) -> float:
        reward = _result(scorer, prompt, completion, answer, state).reward
        return none_reward if reward is None else reward

    funcs: list[Callable[..., float]] = [rubric_reward]
    if per_item:
        funcs += [_item_metric(scorer, item, item_na) for item in scorer.item_ids]
    return funcs, [1.0] + [0.0] * (len(funcs) - 1)


def _item_metric(scorer: RewardScorer, item: str, na: float) -> Callable[..., float]:
    def item_metric(prompt: Any = None, completion: Any = None, answer: Any = None, state: Any = None,
                    **kwargs: Any) -> float:
        score = _result(scorer, prompt, completion, answer, state).scores.get(item)
        return na if score is None else score

    item_metric.__name__ = item_metric.__qualname__ = item
    return item_metric


def as_verifiers_rubric(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, none_reward: float = 0.0,
                        per_item: bool = True, **options: Any) -> Any:
    """A `verifiers.Rubric` whose reward is the rubric's collapse (weight 1) and whose metrics are its
    items (weight 0). `options` go to `RewardScorer`."""
    funcs, weights = verifiers_reward_funcs(rubric, none_reward=none_reward, per_item=per_item, **options)
    return _rubric_class()(funcs=funcs, weights=weights)
