"""OpenRLHF: the rubric as a remote reward (`--remote_rm_url`), as a local `reward_func`, or as a server.

OpenRLHF posts `{"query": [...], "prompts": [...], "labels": [...]}` (query = prompt + response text,
labels from `--label_key`) and reads `rewards` (for the advantages), `scores` (dynamic filtering) and
`extra_logs` (one list per key, logged). A local reward file defines
`reward_func(queries, prompts, labels, **kwargs)` returning the same three keys as tensors.

OpenRLHF (`openrlhf/utils/agent.py`, `SingleTurnAgentExecutor`) decodes the query with
`skip_special_tokens=False` and calls the reward once per sample; `prompts` is the prompt text after the
chat template. So the query is the whole rendered conversation, and its tool calls and results are read
back from the template's markup (`rubricate.traces.toolcalls`): the prompt's tool declarations say that
tools were offered, and a response without any call is then judged, not text-only. A response is the query
with its prompt removed when the query starts with it. A query may also be a list of chat messages (then
the prompt, if a list of messages that begins the query, is cut off the front).

None becomes `none_reward` (JSON and tensors need numbers); `extra_logs["rubricate/scorable"]` is 0.0 for
those. `extra_logs["rubricate/<item>"]` is 1.0 pass / 0.0 fail / NaN na or error: OpenRLHF batches
`extra_logs` key by key across samples (`make_experience_batch`), so every sample must carry every key,
and a NaN, not a 0.0, keeps "not judged" apart from "failed". `rubricate/tool_items_seen` is 1.0 when the
sample has a tool call; a run of samples without one is warned about once (`openrlhf.rubricate` logger).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ..rubrics import Rubric
from ..rubrics import RewardResult
from ._scorer import RewardScorer, Scored
from ._trl import scorer_of
from ._watch import METRIC, ToolWatch

NAN = float("nan")


def split_query(query: Any, prompt: Any) -> tuple[Any, Any]:
    """(prompt, completion) of one OpenRLHF sample."""
    if isinstance(query, str):
        if isinstance(prompt, str) and prompt and query.startswith(prompt):
            return prompt, query[len(prompt):]
        return (prompt if isinstance(prompt, str) else None), query
    if isinstance(query, list) and isinstance(prompt, list) and prompt and query[:len(prompt)] == prompt:
        return prompt, query[len(prompt):]
    return prompt, query


def openrlhf_payload(scorer: RewardScorer, results: list[RewardResult], none_reward: float,
                     tool_calls: list[int] | None = None) -> dict[str, Any]:
    """The response body OpenRLHF reads: rewards, scores and per-sample extra logs (plain lists; an na or
    error item is NaN: a server must write it as JSON's `NaN`, which Python's json reads back)."""
    rewards = [none_reward if r.reward is None else r.reward for r in results]
    logs: dict[str, list[float]] = {"rubricate/scorable": [0.0 if r.reward is None else 1.0 for r in results]}
    for item in scorer.item_ids:
        logs[f"rubricate/{item}"] = [NAN if (s := r.scores.get(item)) is None else s for r in results]
    if tool_calls is not None and scorer.tool_item_ids:
        logs[f"rubricate/{METRIC}"] = [1.0 if c else 0.0 for c in tool_calls]
    return {"rewards": rewards, "scores": list(rewards), "extra_logs": logs}


def _watch(scorer: RewardScorer) -> ToolWatch:
    watch = getattr(scorer, "_openrlhf_watch", None)
    if watch is None:
        watch = ToolWatch(scorer, "openrlhf.rubricate")
        scorer._openrlhf_watch = watch  # type: ignore[attr-defined]
    return watch


def score_openrlhf(scorer: RewardScorer, queries: Any, prompts: Any = None, labels: Any = None, *,
                   none_reward: float = 0.0) -> dict[str, Any]:
    """Score one OpenRLHF batch (lists of equal length; prompts and labels may be missing)."""
    n = len(queries)
    prompts = list(prompts) if isinstance(prompts, (list, tuple)) and len(prompts) == n else [None] * n
    labels = list(labels) if isinstance(labels, (list, tuple)) and len(labels) == n else [None] * n
    samples = [(*split_query(q, p), label) for q, p, label in zip(queries, prompts, labels)]
    scored = scorer.score_batch(samples)
    scored += [Scored(RewardResult(None, "not scored"), 0)] * (n - len(scored))
    _watch(scorer).observe(scored)
    return openrlhf_payload(scorer, [s.result for s in scored], none_reward, [s.tool_calls for s in scored])


def as_openrlhf_reward_func(rubric: Rubric | RewardScorer | str | os.PathLike[str], *,
                            none_reward: float = 0.0, **options: Any) -> Callable[..., dict[str, Any]]:
    """A local OpenRLHF `reward_func(queries, prompts, labels, **kwargs)`; tensors when torch imports."""
    scorer = scorer_of(rubric, **options)

    def reward_func(queries: Any, prompts: Any = None, labels: Any = None, **kwargs: Any) -> dict[str, Any]:
        out = score_openrlhf(scorer, queries, prompts, labels, none_reward=none_reward)
        try:
            import torch
        except ImportError:
            return out
        return {"rewards": torch.tensor(out["rewards"], dtype=torch.float32),
                "scores": torch.tensor(out["scores"], dtype=torch.float32),
                "extra_logs": {k: torch.tensor(v, dtype=torch.float32) for k, v in out["extra_logs"].items()}}

    reward_func.scorer = scorer  # type: ignore[attr-defined]
    return reward_func
