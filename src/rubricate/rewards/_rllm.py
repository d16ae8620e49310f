"""rLLM: the rubric as an rLLM evaluator and as a workflow reward function.

The contracts, read from rLLM (`rllm-org/rllm` main, August 2026):
- `Evaluator` (`rllm/types.py`, `rllm/eval/types.py`): `evaluate(task, episode) -> EvalOutput(reward,
  is_correct, signals=[Signal(name, value)], metadata)`. `AgentFlowEngine._finish_episode`
  (`rllm/engine/agentflow_engine.py`) calls it with the `Task` (`id`, `instruction`, `metadata`) and the
  enriched `Episode` (`trajectories[].steps[]` with `chat_completions`), sets every trajectory's reward
  to `reward` and its `signals` to `{name: value}`, and adds `metadata` and the signals to the episode's
  metrics (rLLM's trainer logs them). A dict task (legacy evaluators) is accepted too.
- `RewardFunction` (`rllm/rewards/reward_fn.py`): `reward_fn(task_info: dict, action: str | Action) ->
  RewardOutput(reward, metadata, is_correct)`, as `SimpleWorkflow` calls it.

The rLLM Episode becomes our Episode through the `rllm` trace reader (the one `score_run` uses on rLLM
logs), so training and analysis agree. Signals: one per item with a pass (1.0) or fail (0.0), na and error
left out, plus `scorable` and `tool_items_seen`. rLLM needs a float reward, so None becomes `none_reward`.
rLLM's classes are used when rllm is importable; else plain dataclasses with the same fields.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..rubrics import RewardResult, Rubric
from ..traces import Source, get_format
from ._scorer import RewardScorer, Scored
from ._trl import TRUTH_COLUMNS, scorer_of
from ._watch import METRIC, ToolWatch

_SOURCE = Source("<rllm>")


@dataclass
class _Signal:
    name: str
    value: float
    metadata: dict = field(default_factory=dict)


@dataclass
class _EvalOutput:
    reward: float
    is_correct: bool
    signals: list = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


@dataclass
class _RewardOutput:
    reward: float
    metadata: dict = field(default_factory=dict)
    is_correct: bool | None = None


def _classes() -> tuple[Any, Any, Any]:
    try:
        from rllm.eval.types import EvalOutput, Signal
        from rllm.rewards.reward_types import RewardOutput
    except ImportError:
        return _EvalOutput, _Signal, _RewardOutput
    return EvalOutput, Signal, RewardOutput


def _task_fields(task: Any) -> dict[str, Any]:
    if isinstance(task, dict):
        return task
    fields = dict(getattr(task, "metadata", None) or {})
    instruction = getattr(task, "instruction", None)
    if instruction is not None:
        fields.setdefault("question", instruction)
    return fields


def _truth(fields: dict[str, Any]) -> Any:
    return next((fields[k] for k in TRUTH_COLUMNS if fields.get(k) is not None), None)


def _record(episode: Any) -> dict[str, Any]:
    for name in ("to_dict", "model_dump"):
        method = getattr(episode, name, None)
        if callable(method):
            return method()
    if isinstance(episode, dict):
        return episode
    raise ValueError(f"not an rLLM Episode: {type(episode).__name__}")


def _correct(scorer: RewardScorer, result: RewardResult) -> bool:
    outcome = next((i for i in ("answer_correct", "task_completed") if i in scorer.item_ids), None)
    return result.verdicts.get(outcome) == "pass" if outcome else bool(result.reward and result.reward >= 1.0)


class RubricEvaluator:
    """An rLLM `Evaluator` whose reward is the rubric's collapse."""

    def __init__(self, scorer: RewardScorer, none_reward: float = 0.0) -> None:
        self.scorer, self.none_reward = scorer, none_reward
        self.watch = ToolWatch(scorer, "rllm.rubricate")

    def score(self, task: Any, episode: Any) -> Scored:
        try:
            ours = get_format("rllm").episode(_record(episode), _SOURCE, None)
        except Exception as exc:  # noqa: BLE001  (a bad rollout is data, not a crash)
            reason = f"could not read the rLLM episode: {type(exc).__name__}: {exc}"[:300]
            return Scored(RewardResult(None, reason, {i: None for i in self.scorer.item_ids}), 0)
        fields = _task_fields(task)
        ours.ground_truth = ours.ground_truth or _text(_truth(fields))
        return Scored(self.scorer.score_episode(ours, text_only=False), ours.n_tool_calls)

    def evaluate(self, task: Any, episode: Any) -> Any:
        EvalOutput, Signal, _ = _classes()
        scored = self.score(task, episode)
        result = scored.result
        signals = [Signal(name=i, value=s) for i in self.scorer.item_ids if (s := result.scores.get(i)) is not None]
        signals.append(Signal(name="scorable", value=0.0 if result.reward is None else 1.0))
        seen = self.watch.observe([scored])
        if seen is not None:
            signals.append(Signal(name=METRIC, value=seen))
        reward = self.none_reward if result.reward is None else result.reward
        return EvalOutput(reward=reward, is_correct=_correct(self.scorer, result), signals=signals,
                          metadata={"rubricate_reason": result.reason})

    __call__ = evaluate


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else str(value)


def as_rllm_evaluator(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, none_reward: float = 0.0,
                      **options: Any) -> RubricEvaluator:
    """An rLLM `Evaluator` (`evaluate(task, episode) -> EvalOutput`). `options` go to `RewardScorer`."""
    return RubricEvaluator(scorer_of(rubric, **options), none_reward)


def as_rllm_reward_fn(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, none_reward: float = 0.0,
                      **options: Any) -> Callable[[dict, Any], Any]:
    """An rLLM `RewardFunction` (`reward_fn(task_info, action) -> RewardOutput`): the action is the model's
    text (or an `Action`), read back through its chat template's tool markup."""
    scorer = scorer_of(rubric, **options)
    watch = ToolWatch(scorer, "rllm.rubricate")

    def reward_fn(task_info: dict, action: Any) -> Any:
        _, _, RewardOutput = _classes()
        fields = _task_fields(task_info)
        text = getattr(action, "action", action)
        prompt = fields.get("messages") or fields.get("question") or fields.get("prompt")
        scored = scorer.score_batch([(prompt, text if isinstance(text, (str, list)) else str(text), _truth(fields))])[0]
        seen = watch.observe([scored])
        result = scored.result
        metadata = {"reason": result.reason, "verdicts": dict(result.verdicts)}
        if seen is not None:
            metadata[METRIC] = seen
        reward = none_reward if result.reward is None else result.reward
        return RewardOutput(reward=reward, metadata=metadata, is_correct=_correct(scorer, result))

    reward_fn.scorer = scorer  # type: ignore[attr-defined]
    return reward_fn
