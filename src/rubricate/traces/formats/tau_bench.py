"""tau-bench and tau2-bench results.

- tau-bench (`run.py` checkpoints, `historical_trajectories/*.json`): a JSON array of EnvRunResult records
  `{task_id, trial, reward, info, traj}`, `traj` being OpenAI chat messages. A tool result is an error when
  it starts with `Error:` (a tool raised) or `Unknown action ` (no such tool): tau-bench's own conventions.
- tau2-bench (`Results.save`, text runs): one JSON document `{timestamp, info, tasks, simulations}`; each
  SimulationRun has `messages` with flat tool calls (`name`, `arguments` object, `requestor`) and tool
  messages with `id`, `requestor` and an `error` flag. A lone SimulationRun file (the `simulations/` of a
  dir-format run) reads too, without its task.

Ground truth is the task's gold actions as JSON text, normalised for both benchmarks to
`[{"name": ..., "arguments": {...}}]` (tau2 adds `"requestor": "user"` to actions the user must take), so one
judge item can compare them with the agent's calls. tau2 tool calls and results whose requestor is the
simulated user (telecom: the user acting on their phone) are the environment's, not the agent's: they become
`user` steps named `user-tool-call` / `user-tool-result`, so agent tool metrics count only the agent's calls.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import msgspec

from ..files import READ_ERRORS, Span, container_of, read_document, read_head
from .._model import Episode, LoadIssue, Source, ToolCall
from .._normalise import StepBuilder, as_float, text_of, tool_call
from .._registry import NotAnEpisode, RecordFormat, Sample, display_path, trace_format
from .chat import add_chat_messages, first_user_text

_encode = msgspec.json.encode
_TAU_ERRORS = ("Error:", "Unknown action ")
# tau2 termination reasons its metrics leave out of the denominators: no evaluable rollout, so no reward.
_NOT_EVALUABLE = frozenset(("infrastructure_error", "context_window_exceeded"))
# The start of a file too large to parse for sniffing (keys in the order the producers write them).
_TAU1_HEAD = re.compile(rb'\s*\[\s*\{\s*"task_id"\s*:\s*[^,{]*,\s*"reward"\s*:')
_TAU2_HEAD = re.compile(rb'\s*\{\s*"timestamp"\s*:\s*("[^"]*"|null)\s*,\s*"info"\s*:\s*\{\s*"git_commit"')


def _is_tau1(rec: dict[str, Any]) -> bool:
    return isinstance(rec.get("traj"), list) and "task_id" in rec and "reward" in rec and \
        isinstance(rec.get("info"), dict)


def _is_results(rec: dict[str, Any]) -> bool:
    return isinstance(rec.get("simulations"), list) and isinstance(rec.get("tasks"), list) and \
        isinstance(rec.get("info"), dict)


def _is_simulation(rec: dict[str, Any]) -> bool:
    return "termination_reason" in rec and "task_id" in rec and \
        (isinstance(rec.get("messages"), list) or isinstance(rec.get("ticks"), list))


# 20: above trl-conversational (15), which also claims a lone SimulationRun (tool messages carry `id`,
# not `tool_call_id`); no other format at 20 claims these shapes.
@trace_format("tau-bench", priority=20)
class TauBench(RecordFormat):
    """tau-bench trajectories (`traj` + reward + gold actions) and tau2-bench results (`simulations`)."""

    def sniff(self, sample: Sample) -> bool:
        rec = sample.record
        if isinstance(rec, dict):
            return _is_tau1(rec) or _is_results(rec) or _is_simulation(rec)
        return rec is None and (_TAU1_HEAD.match(sample.head) or _TAU2_HEAD.match(sample.head)) is not None

    def read(self, path: str, span: Span = Span(), root: str | None = None) -> Iterator[Episode | LoadIssue]:
        seen: dict[str, int] = {}
        for item in self._items(path, span, root):
            if isinstance(item, Episode):  # ids unique within a file even when a (task, trial) repeats
                n = seen[item.id] = seen.get(item.id, 0) + 1
                if n > 1:
                    item.id = f"{item.id}#{n}"
            yield item

    def _items(self, path: str, span: Span, root: str | None) -> Iterator[Episode | LoadIssue]:
        try:
            is_doc = container_of(path, read_head(path, 4096)) == "json"
            doc = read_document(path, keep=True) if is_doc else None  # kept: RecordFormat.read reuses it
        except READ_ERRORS:
            doc = None  # RecordFormat.read reports it
        if isinstance(doc, dict) and _is_results(doc):
            read_document(path)  # let go of the kept document
            yield from self._results(doc, display_path(path, root))
        else:
            yield from super().read(path, span, root)

    def _results(self, doc: dict[str, Any], rel: str) -> Iterator[Episode | LoadIssue]:
        tasks = {str(t.get("id")): t for t in doc["tasks"] if isinstance(t, dict)}
        shared = _run_metadata(doc.get("info"))
        for i, sim in enumerate(doc["simulations"]):
            source = Source(rel, index=i)
            item = self._convert(sim, source, None)
            if isinstance(item, Episode):
                task = tasks.get(str(sim.get("task_id")))
                if task is not None:
                    _add_tau2_task(item, task)
                item.metadata = {**shared, **item.metadata}
            yield item

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        raw = raw if raw is not None else _encode(record)
        if _is_tau1(record):
            return _tau1_episode(record, source, raw, self.name)
        if _is_simulation(record):
            return _tau2_episode(record, source, raw, self.name)
        raise NotAnEpisode("neither a tau-bench result (task_id, reward, info, traj) nor a tau2 simulation")


def _stem(rel: str) -> str:
    """The file's path (relative to the load's root) without its suffixes: the prefix of its episode ids,
    unique within a load as the paths are."""
    for suffix in (".gz", ".zst"):
        rel = rel.removesuffix(suffix)
    return os.path.splitext(rel)[0]


def _tau1_episode(rec: dict[str, Any], source: Source, raw: bytes, fmt: str) -> Episode:
    builder = StepBuilder()
    add_chat_messages(builder, rec["traj"])
    for step in builder.steps:
        if step.role == "tool":
            step.is_error = step.content.startswith(_TAU_ERRORS)
    info = rec["info"]
    task = info.get("task") if isinstance(info.get("task"), dict) else {}
    meta: dict[str, Any] = {"trial": rec.get("trial")}
    for key, name in (("user_id", "user_id"), ("instruction", "user_instruction")):
        if isinstance(task.get(key), str):
            meta[name] = task[key]
    if task.get("outputs"):
        meta["expected_outputs"] = task["outputs"]
    for key in ("user_cost", "error"):
        if info.get(key) is not None:
            meta[key] = info[key]
    checks = (info.get("reward_info") or {}).get("info")
    if isinstance(checks, dict):
        meta.update({k: v for k, v in checks.items() if k in ("r_actions", "r_outputs")})
    actions = task.get("actions")
    gold = [{"name": a.get("name"), "arguments": a.get("kwargs") or {}} for a in actions
            if isinstance(a, dict)] if isinstance(actions, list) else None
    return Episode(
        id=f"{_stem(source.path)}/{rec['task_id']}/{rec.get('trial')}",
        steps=builder.steps,
        source=source,
        format=fmt,
        task_id=str(rec["task_id"]),
        question=first_user_text(builder),
        final_answer=builder.final_answer(),
        ground_truth=None if gold is None else _encode(gold).decode(),
        reward=as_float(rec.get("reward")),
        metadata=meta,
        raw=raw,
    )


def _tau2_episode(sim: dict[str, Any], source: Source, raw: bytes, fmt: str) -> Episode:
    messages = sim.get("messages")
    if messages is None:
        raise NotAnEpisode("a full-duplex (voice) simulation stores `ticks`, not `messages`; "
                           "ticks are not read")
    builder = StepBuilder()
    _add_tau2_messages(builder, messages)
    meta: dict[str, Any] = {k: sim[k] for k in ("trial", "termination_reason", "agent_cost", "user_cost",
                                               "duration", "seed", "mode") if sim.get(k) is not None}
    meta["simulation_id"] = sim.get("id")
    reward_info = sim.get("reward_info") if isinstance(sim.get("reward_info"), dict) else {}
    reward = as_float(reward_info.get("reward"))
    if isinstance(reward_info.get("reward_breakdown"), dict):
        meta["reward_breakdown"] = reward_info["reward_breakdown"]
    if sim.get("termination_reason") in _NOT_EVALUABLE and reward is not None:
        meta["reward_recorded"], reward = reward, None
    trial = sim.get("trial")
    return Episode(
        id=f"{_stem(source.path)}/{sim['task_id']}/{trial if trial is not None else sim.get('id')}",
        steps=builder.steps,
        source=source,
        format=fmt,
        task_id=str(sim["task_id"]),
        question=first_user_text(builder),
        final_answer=builder.final_answer(),
        reward=reward,
        metadata=meta,
        raw=raw,
    )


def _add_tau2_messages(builder: StepBuilder, messages: Any) -> None:
    if not isinstance(messages, list):
        raise ValueError(f"messages must be a list, got a JSON {type(messages).__name__}")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise ValueError(f"message {i} is a JSON {type(msg).__name__}, not an object")
        role, content = msg.get("role"), text_of(msg.get("content"))
        if role == "tool":
            for result in msg.get("tool_messages") or [msg]:  # a MultiToolMessage holds several
                _tau2_result(builder, result)
        elif role == "assistant":
            builder.assistant(content, [_tau2_call(c, i) for c in msg.get("tool_calls") or []])
        elif role == "user":
            if content or not msg.get("tool_calls"):
                builder.message("user", content)
            for call in msg.get("tool_calls") or []:
                c = _tau2_call(call, i)
                builder.message("user", f"{c.name}({c.arguments_raw})", name="user-tool-call")
        elif role == "system":
            builder.message("system", content)
        else:
            raise ValueError(f"message {i} has unknown role {role!r}")


def _tau2_call(raw: Any, i: int) -> ToolCall:
    if not isinstance(raw, dict):
        raise ValueError(f"message {i}: tool call is a JSON {type(raw).__name__}, not an object")
    return tool_call(raw.get("name"), raw.get("arguments"), raw.get("id"))


def _tau2_result(builder: StepBuilder, msg: Any) -> None:
    if not isinstance(msg, dict):
        raise ValueError(f"tool message is a JSON {type(msg).__name__}, not an object")
    content = text_of(msg.get("content"))
    if msg.get("requestor") == "user":
        builder.message("user", content, name="user-tool-result")
    else:
        builder.tool_result(content, msg.get("id") or None, is_error=bool(msg.get("error")))


def _add_tau2_task(episode: Episode, task: dict[str, Any]) -> None:
    """Gold actions as ground truth; what the agent must say and the user's instructions into metadata."""
    criteria = task.get("evaluation_criteria") if isinstance(task.get("evaluation_criteria"), dict) else {}
    actions = criteria.get("actions")
    if isinstance(actions, list):
        gold = []
        for a in actions:
            if isinstance(a, dict):
                gold.append({"name": a.get("name"), "arguments": a.get("arguments") or {}})
                if a.get("requestor") == "user":
                    gold[-1]["requestor"] = "user"
        episode.ground_truth = _encode(gold).decode()
    for key, name in (("communicate_info", "expected_outputs"), ("nl_assertions", "nl_assertions")):
        if criteria.get(key):
            episode.metadata[name] = criteria[key]
    scenario = task.get("user_scenario")
    if isinstance(scenario, dict) and scenario.get("instructions"):
        episode.metadata["user_instruction"] = scenario["instructions"]


def _run_metadata(info: Any) -> dict[str, Any]:
    """model / user model / agent / domain of a tau2 run, from the results' `info`."""
    if not isinstance(info, dict):
        return {}
    meta: dict[str, Any] = {}
    for part, key, name in (("agent_info", "llm", "model"), ("agent_info", "implementation", "agent"),
                            ("user_info", "llm", "user_model"),
                            ("environment_info", "domain_name", "domain")):
        value = info.get(part, {}).get(key) if isinstance(info.get(part), dict) else None
        if isinstance(value, str):
            meta[name] = value
    return meta
