"""verifiers: the rubric as a `vf.Rubric` for an environment (`vf.ToolEnv(..., rubric=...)`).

Contract (verifiers 0.2.x `verifiers/rubrics/rubric.py`; 0.3.x keeps it as `verifiers.legacy.Rubric`;
0.4 dropped the class for the v1 API): `Rubric(funcs, weights)`; each reward function is called with
the keyword arguments it names, among `prompt`, `completion`, `answer`, `state`, `info`, `task`, and
returns a float; the rollout's reward is `sum(weight * value)` and every function's value is recorded
under its `__name__` in `state["metrics"]`. A function that raises is logged and counted as 0.0.

Built here: `rubric_reward` (weight 1.0: the collapse) and, with `per_item`, one function per check
item (weight 0.0: a metric, 1.0 pass / 0.0 fail), the verifiers convention for "reported, not rewarded".
verifiers has no "not scorable" reward, so a None reward becomes `none_reward` (and an na or error item
becomes `none_reward` in its metric); the exact result, reason and verdicts are left in
`state["rubricate"]` for whoever reads the states.
"""

from __future__ import annotations

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
                          "pip install 'verifiers>=0.1.9,<0.4'") from exc
    cls = getattr(vf, "Rubric", None)
    if cls is None:
        try:
            from verifiers.legacy import Rubric as cls  # type: ignore[no-redef]  # verifiers 0.3.x
        except ImportError:
            version = getattr(vf, "__version__", "?")
            raise ImportError(f"verifiers {version} has no Rubric class (0.4 moved to the v1 API); "
                              "install 'verifiers>=0.1.9,<0.4'") from None
    return cls


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
                           none_reward: float = 0.0, per_item: bool = True,
                           **options: Any) -> tuple[list[Callable[..., float]], list[float]]:
    """(funcs, weights) for `vf.Rubric(funcs=..., weights=...)`, without importing verifiers."""
    scorer = scorer_of(rubric, **options)

    def rubric_reward(prompt: Any = None, completion: Any = None, answer: Any = None, state: Any = None,
                      **kwargs: Any) -> float:
        reward = _result(scorer, prompt, completion, answer, state).reward
        return none_reward if reward is None else reward

    funcs: list[Callable[..., float]] = [rubric_reward]
    if per_item:
        funcs += [_item_metric(scorer, item, none_reward) for item in scorer.item_ids]
    return funcs, [1.0] + [0.0] * (len(funcs) - 1)


def _item_metric(scorer: RewardScorer, item: str, none_reward: float) -> Callable[..., float]:
    def item_metric(prompt: Any = None, completion: Any = None, answer: Any = None, state: Any = None,
                    **kwargs: Any) -> float:
        score = _result(scorer, prompt, completion, answer, state).scores.get(item)
        return none_reward if score is None else score

    item_metric.__name__ = item_metric.__qualname__ = item
    return item_metric


def as_verifiers_rubric(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, none_reward: float = 0.0,
                        per_item: bool = True, **options: Any) -> Any:
    """A `verifiers.Rubric` whose reward is the rubric's collapse (weight 1) and whose metrics are its
    items (weight 0). `options` go to `RewardScorer`."""
    funcs, weights = verifiers_reward_funcs(rubric, none_reward=none_reward, per_item=per_item, **options)
    return _rubric_class()(funcs=funcs, weights=weights)
