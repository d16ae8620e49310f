"""verl: the rubric as a custom reward function (`custom_reward_function.path` / `.name`).

The contract, read from verl (main, January 2026: `verl/workers/reward_manager/naive.py`,
`verl/experimental/reward_loop/reward_manager/naive.py`, `verl/experimental/agent_loop/`): verl calls
`compute_score(data_source=, solution_str=, ground_truth=, extra_info=)` once per response.
- `solution_str` is the response decoded with `skip_special_tokens=True`. For an agent-loop rollout it
  holds every turn after the prompt: the model's turns and the tool responses the loop appended. With
  Qwen/Hermes templates `<tool_call>` and `<tool_response>` are ordinary tokens and survive decoding, so
  the calls and results are read from the text (`rubricate.traces.toolcalls`); Llama, Mistral and gpt-oss
  write their calls with special tokens, which this decoding removes (then pass messages, below).
- `extra_info` is the dataset row's `extra_info` plus what the rollout adds: `num_turns`,
  `rollout_reward_scores`, and, from the agent loop (`tool_extra_fields`), `raw_prompt` (the prompt as chat
  messages), and for `ToolAgentLoop` `turn_scores` and `tool_rewards`. Multi-turn datasets also put
  `tools_kwargs` there.
- It accepts a float, or a dict whose `score` is the reward and whose other keys are logged per sample
  (`reward_extra_info`).

Used here: `extra_info["messages"]` (a whole conversation as chat messages, which a custom agent loop can
put in its `extra_fields`) is scored instead of the text when present; else the prompt is
`extra_info["raw_prompt"]` (or `prompt`, or `question`) and the completion is `solution_str`. Tools count
as offered when `tool_rewards` / `turn_scores` (ToolAgentLoop) or `tools_kwargs` are present, so a
response without any call is judged (its tool items fail where they should) instead of being text-only.
verl needs a number, so a None reward becomes `none_score`; the dict says `scorable` 0.0 then. Item keys
are 1.0 pass / 0.0 fail / NaN (na, error). `tool_items_seen` is 1.0 when the rollout has a tool call; a
run of responses without one is warned about once through the `verl.rubricate` logger.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from ..rubrics import Rubric
from ._scorer import RewardScorer, Scored
from ._trl import scorer_of
from ._watch import METRIC, ToolWatch


def verl_sample(info: dict[str, Any], solution: Any) -> tuple[Any, Any, bool]:
    """(prompt, completion, tools offered) of one verl response and its `extra_info`."""
    messages = info.get("messages")
    offered = "tool_rewards" in info or "turn_scores" in info or bool(info.get("tools_kwargs"))
    if isinstance(messages, list) and messages:
        return None, messages, offered
    prompt = next((info[k] for k in ("raw_prompt", "prompt", "question") if info.get(k) is not None), None)
    if prompt is not None and not isinstance(prompt, (str, list)):
        prompt = list(prompt)  # a numpy array of messages, as verl's non-tensor batch holds them
    return prompt, solution, offered


def as_verl_compute_score(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, none_score: float = 0.0,
                          return_dict: bool = True, **options: Any) -> Callable[..., Any]:
    """A verl `compute_score`. With `return_dict`: {"score", "scorable", "tool_items_seen",
    "<item>": 1.0/0.0/NaN}; else the score alone. `options` go to `RewardScorer`."""
    scorer = scorer_of(rubric, **options)
    watch = ToolWatch(scorer, "verl.rubricate")
    nan = float("nan")

    def compute_score(data_source: Any = None, solution_str: Any = None, ground_truth: Any = None,
                      extra_info: Any = None, **kwargs: Any) -> Any:
        info = extra_info if isinstance(extra_info, dict) else {}
        prompt, completion, offered = verl_sample(info, solution_str)
        scored: Scored = scorer.score_sample(prompt, completion, ground_truth, tools_offered=offered,
                                             deadline=time.monotonic() + scorer.deadline_s)
        seen = watch.observe([scored])
        result = scored.result
        score = none_score if result.reward is None else result.reward
        if not return_dict:
            return score
        out: dict[str, Any] = {"score": score, "scorable": 0.0 if result.reward is None else 1.0}
        if seen is not None:
            out[METRIC] = seen
        for item in scorer.item_ids:
            value = result.scores.get(item)
            out[item] = nan if value is None else value
        return out

    compute_score.scorer = scorer  # type: ignore[attr-defined]
    return compute_score
