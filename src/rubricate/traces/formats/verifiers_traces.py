"""verifiers v1 `traces.jsonl`: one `Trace` per line (verifiers `verifiers/v1/trace.py`, written by
`verifiers/v1/cli/output.py` to `outputs/<taskset>--<model>--<harness>/<uuid>/traces.jsonl` beside
`config.toml`).

A trace stores its conversation as a message graph: `nodes[]`, each `{parent, message, sampled, token_ids,
...}`, every distinct message once, in the order the rollout produced them. Steps are the nodes in that order,
so a trace with several branches (compaction, subagents: several leaves) keeps every message once;
`metadata["branches"]` counts the leaves when there is more than one. Messages are OpenAI-style (`tool_calls`
flattened to `{id, name, arguments}` with `arguments` a JSON string; `tool` messages carry `tool_call_id`).

- reward: the trace's total, `sum(score * weight)` over its named rewards (`Trace.reward`), None when no
  reward was scored (every entry `null`, e.g. after an error, or none at all); `metadata["rewards"]` has each
  score by name, `metadata["reward_weights"]` the weights that are not 1, `metadata["metrics"]` the unweighted
  metrics.
- final answer: `root_reply` when the trace has one, else the last assistant text.
- task: `task.key` (else `task.hash`) is the task id; the ground truth comes from `task.data` (`answer`, ...).
- metadata: `model` (the agent's, else the first model call's), `agent`, `task_type`, `ok`, `stop_condition`,
  `error` (the last one, `Type: message`), `verifiers_version`, and from `config.toml`: `model`, `taskset`,
  `harness`, `run` (the run folder).
"""

from __future__ import annotations

import math
import os
import tomllib
from functools import lru_cache
from typing import Any

from .._model import Episode, Source
from .._normalise import StepBuilder, as_float, scalar_text
from .._registry import NotAnEpisode, RecordFormat, trace_format
from .chat import TRUTH_KEYS, add_chat_messages, first_of, first_user_text


@lru_cache(maxsize=256)
def run_config(directory: str) -> dict[str, Any]:
    """model / taskset / harness of a v1 run, from the `config.toml` beside `traces.jsonl` (if any)."""
    try:
        with open(os.path.join(directory, "config.toml"), "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    meta: dict[str, Any] = {}
    if isinstance(data.get("model"), str):
        meta["model"] = data["model"]
    for section in ("taskset", "harness"):
        value = data.get(section)
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            meta[section] = value["name"]
    meta["run"] = os.path.basename(directory)
    return meta


def _rewards(raw: Any) -> tuple[float | None, dict[str, Any], dict[str, float]]:
    """(total, score by name, weights that are not 1) of a trace's `rewards`."""
    if not isinstance(raw, dict):
        raise ValueError(f"rewards must be an object, got a JSON {type(raw).__name__}")
    scores: dict[str, Any] = {}
    weights: dict[str, float] = {}
    total, scored = 0.0, False
    for name, entry in raw.items():
        if entry is None:  # scoring did not run
            scores[name] = None
            continue
        score = as_float(entry.get("score") if isinstance(entry, dict) else entry)
        weight = as_float(entry.get("weight", 1.0)) if isinstance(entry, dict) else 1.0
        weight = 1.0 if weight is None else weight
        scores[name] = score
        if weight != 1.0:
            weights[name] = weight
        if score is not None:
            total += score * weight
            scored = True
    return (total if scored and math.isfinite(total) else None), scores, weights


def _model(record: dict[str, Any]) -> str | None:
    agent = record.get("agent")
    config = agent.get("config") if isinstance(agent, dict) else None
    if isinstance(config, dict) and isinstance(config.get("model"), str):
        return config["model"]
    for call in record.get("calls") or ():
        if isinstance(call, dict) and isinstance(call.get("model"), str):
            return call["model"]
    return None


@trace_format("verifiers-traces", priority=20)
class VerifiersTraces(RecordFormat):
    """verifiers v1 `traces.jsonl`: a message graph (`nodes`), named weighted `rewards`, `metrics`, `task`."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        task = record.get("task")
        return isinstance(record.get("nodes"), list) and isinstance(task, dict) and "data" in task \
            and ("rewards" in record or "agent" in record)

    def file_metadata(self, path: str) -> dict[str, Any]:
        return run_config(os.path.dirname(os.path.abspath(path)))

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        nodes = record.get("nodes")
        if not isinstance(nodes, list):
            raise NotAnEpisode("no 'nodes' message graph")
        messages = []
        for i, node in enumerate(nodes):
            if not isinstance(node, dict) or not isinstance(node.get("message"), dict):
                raise ValueError(f"node {i} has no message object")
            messages.append(node["message"])
        builder = StepBuilder()
        add_chat_messages(builder, messages)
        reward, scores, weights = _rewards(record.get("rewards", {}))
        meta = self._metadata(record, nodes, scores, weights)
        task = record.get("task") if isinstance(record.get("task"), dict) else {}
        data = task.get("data") if isinstance(task.get("data"), dict) else {}
        task_id = task.get("key") or task.get("hash")
        reply = record.get("root_reply")
        return Episode(
            id=str(record["id"]) if isinstance(record.get("id"), str) and record["id"] else str(source),
            steps=builder.steps,
            source=source,
            format=self.name,
            task_id=None if task_id is None else str(task_id),
            question=scalar_text(data.get("question")) or first_user_text(builder),
            final_answer=reply.strip() if isinstance(reply, str) else builder.final_answer(),
            ground_truth=scalar_text(first_of(data, TRUTH_KEYS)),
            reward=reward,
            metadata=meta,
            raw=raw,
        )

    @staticmethod
    def _metadata(record: dict[str, Any], nodes: list[Any], scores: dict[str, Any],
                  weights: dict[str, float]) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        model = _model(record)
        if model:
            meta["model"] = model
        agent, task = record.get("agent"), record.get("task")
        if isinstance(agent, dict) and isinstance(agent.get("name"), str):
            meta["agent"] = agent["name"]
        if isinstance(task, dict) and isinstance(task.get("type"), str):
            meta["task_type"] = task["type"]
        if scores:
            meta["rewards"] = scores
        if weights:
            meta["reward_weights"] = weights
        metrics = record.get("metrics")
        if isinstance(metrics, dict) and metrics:
            meta["metrics"] = {k: as_float(v) for k, v in metrics.items()}
        for key in ("ok", "is_completed", "stop_condition"):
            if isinstance(record.get(key), (bool, str)):
                meta[key] = record[key]
        errors = record.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[-1], dict):
            last = errors[-1]
            meta["error"] = f"{last.get('type', 'Error')}: {last.get('message', '')}"
        version = record.get("verifiers")
        if isinstance(version, dict) and isinstance(version.get("version"), str):
            meta["verifiers_version"] = version["version"]
        parents = {n.get("parent") for n in nodes if isinstance(n, dict)}
        leaves = sum(1 for i in range(len(nodes)) if i not in parents)
        if leaves > 1:
            meta["branches"] = leaves
        return meta
