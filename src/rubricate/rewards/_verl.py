"""verl: the rubric as a custom reward function (`custom_reward_function.path` / `.name`).

verl calls `compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)` once per
response; `solution_str` is the decoded response text, `ground_truth` the dataset's
`reward_model.ground_truth`, `extra_info` the row's `extra_info` dict. It accepts a float, or a dict
whose `score` is the reward and whose other keys are logged per sample (`reward_extra_info`).

The response text is a text-only completion: items that need tool calls are na (see `_episode`).
When a rollout keeps its messages, pass them instead: `solution_str` may be a list of chat messages,
and `extra_info["prompt"]` (messages or text; else `extra_info["question"]`) is the prompt. verl needs
a number, so a None reward becomes `none_score`; the dict says `scorable` 0.0 then.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..rubrics import Rubric
from ._scorer import RewardScorer
from ._trl import scorer_of


def as_verl_compute_score(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, none_score: float = 0.0,
                          return_dict: bool = True, **options: Any) -> Callable[..., Any]:
    """A verl `compute_score`. With `return_dict`: {"score", "scorable", "<item>": 1.0/0.0/NaN}; else
    the score alone. `options` go to `RewardScorer`."""
    scorer = scorer_of(rubric, **options)
    nan = float("nan")

    def compute_score(data_source: Any = None, solution_str: Any = None, ground_truth: Any = None,
                      extra_info: Any = None, **kwargs: Any) -> Any:
        info = extra_info if isinstance(extra_info, dict) else {}
        prompt = info.get("prompt", info.get("question"))
        result = scorer.score_many([(prompt, solution_str, ground_truth)])[0]
        score = none_score if result.reward is None else result.reward
        if not return_dict:
            return score
        out: dict[str, Any] = {"score": score, "scorable": 0.0 if result.reward is None else 1.0}
        for item in scorer.item_ids:
            value = result.scores.get(item)
            out[item] = nan if value is None else value
        return out

    compute_score.scorer = scorer  # type: ignore[attr-defined]
    return compute_score
