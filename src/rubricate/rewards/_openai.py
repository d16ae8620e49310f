"""OpenAI reinforcement fine-tuning: the rubric as a Python grader, `grade(sample, item) -> float`.

`sample` is the model's output (`output_text`, and `output_tools`: tool calls as
`{"type": "function", "function": {"name", "arguments"}}` or flattened `{"name", "arguments"}`);
`item` is the dataset row: its `messages` (or `prompt` / `question`) are the prompt, and its
ground truth is the first of `reference_answer`, `ground_truth`, `answer`, ... that it has.
A completion without tool calls is text-only (items needing tool calls are na). None becomes
`none_score`.

The grader runs wherever rubricate is installed. OpenAI's hosted grader sandbox does not install
rubricate, so there the exported file must be run behind your own endpoint (or the sandbox must be
given the package); this module does not inline the checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..rubrics import Rubric
from ._scorer import RewardScorer
from ._trl import TRUTH_COLUMNS, scorer_of

_TRUTH = ("reference_answer", *TRUTH_COLUMNS)


def _completion(sample: dict[str, Any]) -> Any:
    text = sample.get("output_text")
    text = text if isinstance(text, str) else ""
    tools = sample.get("output_tools")
    if isinstance(tools, list) and tools:
        return [{"role": "assistant", "content": text, "tool_calls": tools}]
    return text


def as_openai_grader(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, none_score: float = 0.0,
                     **options: Any) -> Callable[[dict[str, Any], dict[str, Any]], float]:
    """An OpenAI Python grader `grade(sample, item) -> float`. `options` go to `RewardScorer`."""
    scorer = scorer_of(rubric, **options)

    def grade(sample: dict[str, Any], item: dict[str, Any]) -> float:
        sample = sample if isinstance(sample, dict) else {}
        item = item if isinstance(item, dict) else {}
        prompt = item.get("messages", item.get("prompt", item.get("question")))
        truth = next((item[k] for k in _TRUTH if item.get(k) is not None), None)
        reward = scorer.score_many([(prompt, _completion(sample), truth)])[0].reward
        return none_score if reward is None else reward

    grade.scorer = scorer  # type: ignore[attr-defined]
    return grade
