"""rLLM episodes: `Episode.to_dict()` records (rLLM `rllm/agents/agent.py`: `id`, `task`,
`termination_reason`, `is_correct`, `trajectories[]`, `metrics`, `info`), one per JSONL line or JSON document,
and the files rLLM's `EpisodeLogger` writes (`rllm/utils/episode_logger.py`:
`<log_dir>/episodes/<mode>_step_<n>_epoch_<e>/episode_hash<h>_id<id>.json`, with `episode_id`,
`training_step`, `epoch`; the folder's `batch_summary.json` is a companion, not an episode).

One Episode per rLLM episode. A trajectory is one agent's thread: `steps[]`, each with `chat_completions` (the
chat history as of that step, so usually cumulative), `action`, `observation`, `model_response`, `reward`.
- Steps: for each step, the messages its `chat_completions` adds after the longest prefix it shares with the
  previous step's (so a cumulative history is taken once; a history that was rewritten, e.g. truncated, is
  taken again from where it differs). A step without `chat_completions` contributes its `observation` (user
  text, `{"question"}` or `{"tool_outputs": {call id: text}}`) and its `model_response`.
- Tool calls: an assistant message's own `tool_calls`, else its step's `action` when that is a list of
  OpenAI-style calls (rLLM's ToolAgent keeps them there and answers them with `tool` messages carrying
  `tool_call_id`). The synthetic `finish` call ToolAgent adds when the model made no call (`arguments ==
  {"response": <the reply>}`) is left out: it is not a call the model made.
- Several trajectories (multi-agent workflows): their steps follow each other in trajectory order and every
  step's `name` is its trajectory's `name`; `metadata["trajectories"]` lists `{name, reward, steps}` per
  trajectory. One trajectory: `metadata["agent"]` is its name (unless rLLM's default).
- reward: the sum over trajectories of the trajectory reward, or of its steps' rewards when the trajectory has
  none (rLLM's own `compute_trajectory_reward`, whose sum also decides `is_correct`); None without
  trajectories.
- metadata: `is_correct`, `termination_reason`, `metrics`, `signals`, `error` (`info.error` of a failed
  workflow, `Type: message`), the scalars of `info` / `metadata`, `step` / `epoch` (`training_step`, `epoch`,
  or the EpisodeLogger folder name) and `mode` (`train`/`val`, from the folder name).
- task: `task_id` is the part of the id before `:` (rLLM ids are `task_id:rollout_idx`); question and ground
  truth come from the task (`question`/`instruction`/`problem`, `ground_truth`/`answer`).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

from .._model import Episode, Source, ToolCall
from .._normalise import StepBuilder, as_float, scalar_text, text_of, tool_call
from .._registry import NotAnEpisode, RecordFormat, trace_format
from .chat import TRUTH_KEYS, add_chat_messages, first_of, first_user_text

_STEP_DIR = re.compile(r"^(?P<mode>[A-Za-z]+)_step_(?P<step>\d+)_epoch_(?P<epoch>\d+)$")
_DEFAULT_NAMES = frozenset(("default_traj_name", ""))
_QUESTION_KEYS = ("question", "instruction", "problem", "prompt")


def _calls_from_action(action: Any, reply: str) -> list[ToolCall] | None:
    """The OpenAI-style tool calls a step's `action` holds, or None when the action is something else."""
    if not isinstance(action, list) or not action:
        return None
    calls = []
    for item in action:
        fn = item.get("function", item) if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            return None
        if fn["name"] == "finish" and fn.get("arguments") == {"response": reply}:
            continue  # ToolAgent's stand-in when the model made no call
        calls.append(tool_call(fn["name"], fn.get("arguments"), item.get("id")))
    return calls


def _observation_messages(step: dict[str, Any]) -> list[dict[str, Any]]:
    """Messages of a step recorded without `chat_completions` (as rLLM's ToolAgent formats observations)."""
    obs, messages = step.get("observation"), []
    if isinstance(obs, str) and obs:
        messages.append({"role": "user", "content": obs})
    elif isinstance(obs, dict) and isinstance(obs.get("question"), str):
        messages.append({"role": "user", "content": obs["question"]})
    elif isinstance(obs, dict) and isinstance(obs.get("tool_outputs"), dict):
        for call_id, output in obs["tool_outputs"].items():
            messages.append({"role": "tool", "content": text_of(output), "tool_call_id": call_id})
    reply = step.get("model_response")
    if isinstance(reply, str) and reply:
        messages.append({"role": "assistant", "content": reply})
    return messages


def _shared_prefix(a: list[Any], b: list[Any]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _add_step(builder: StepBuilder, messages: list[Any], step: dict[str, Any]) -> None:
    last = next((i for i in range(len(messages) - 1, -1, -1)
                 if isinstance(messages[i], dict) and messages[i].get("role") == "assistant"), None)
    if last is None or messages[last].get("tool_calls"):
        add_chat_messages(builder, messages)
        return
    reply = text_of(messages[last].get("content"))
    calls = _calls_from_action(step.get("action"), step.get("model_response") or reply)
    if calls is None:
        add_chat_messages(builder, messages)
        return
    add_chat_messages(builder, messages[:last])
    builder.assistant(reply, calls)
    add_chat_messages(builder, messages[last + 1:])


def _add_trajectory(builder: StepBuilder, traj: dict[str, Any], k: int) -> list[Any]:
    steps = traj.get("steps") or []
    if not isinstance(steps, list):
        raise ValueError(f"trajectory {k}: steps must be a list")
    previous: list[Any] = []
    for j, step in enumerate(steps):
        if not isinstance(step, dict):
            raise ValueError(f"trajectory {k} step {j} is a JSON {type(step).__name__}, not an object")
        history = step.get("chat_completions")
        if isinstance(history, list) and history:
            new = history[_shared_prefix(previous, history):]
            previous = history
        else:
            new = _observation_messages(step)
        _add_step(builder, new, step)
    return steps


def _trajectory_reward(traj: dict[str, Any], steps: list[Any]) -> float | None:
    reward = as_float(traj.get("reward"))
    if reward is not None or not steps:
        return reward
    return sum(as_float(s.get("reward")) or 0.0 for s in steps)


@trace_format("rllm", priority=20)
class RLLMEpisodes(RecordFormat):
    """rLLM episodes (`Episode.to_dict()`, EpisodeLogger files): `trajectories[].steps[]`, chat histories."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        trajs = record.get("trajectories")
        if not isinstance(trajs, list) or not ("is_correct" in record or "termination_reason" in record):
            return False
        return not trajs or isinstance(trajs[0], dict) and "steps" in trajs[0]

    def companion(self, path: str) -> bool:
        return os.path.basename(path) == "batch_summary.json" and \
            bool(_STEP_DIR.match(os.path.basename(os.path.dirname(os.path.abspath(path)))))

    def file_metadata(self, path: str) -> dict[str, Any]:
        match = _STEP_DIR.match(os.path.basename(os.path.dirname(os.path.abspath(path))))
        if not match:
            return {}
        return {"mode": match["mode"], "step": int(match["step"]), "epoch": int(match["epoch"])}

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        trajs = record.get("trajectories")
        if not isinstance(trajs, list):
            raise NotAnEpisode("no 'trajectories' list")
        builder = StepBuilder()
        summary, total = [], None
        for k, traj in enumerate(trajs):
            if not isinstance(traj, dict):
                raise ValueError(f"trajectory {k} is a JSON {type(traj).__name__}, not an object")
            start = len(builder.steps)
            steps = _add_trajectory(builder, traj, k)
            name = traj.get("name") if isinstance(traj.get("name"), str) else ""
            if len(trajs) > 1:
                for step in builder.steps[start:]:
                    step.name = name
            reward = _trajectory_reward(traj, steps)
            if reward is not None:
                total = reward if total is None else total + reward
            entry: dict[str, Any] = {"name": name, "reward": reward, "steps": len(steps)}
            if isinstance(traj.get("signals"), dict) and traj["signals"]:
                entry["signals"] = traj["signals"]
            summary.append(entry)
        meta = self._metadata(record, summary)
        episode_id = first_of(record, ("episode_id", "id"))
        task = record.get("task")
        task_id = str(episode_id).split(":")[0] if episode_id is not None and ":" in str(episode_id) else \
            first_of(task, ("id", "task_id", "uid")) if isinstance(task, dict) else None
        question = first_of(task, _QUESTION_KEYS) if isinstance(task, dict) else task
        return Episode(
            id=str(episode_id) if episode_id is not None else str(source),
            steps=builder.steps,
            source=source,
            format=self.name,
            task_id=None if task_id is None else str(task_id),
            question=(question if isinstance(question, str) else None) or first_user_text(builder),
            final_answer=builder.final_answer(),
            ground_truth=scalar_text(first_of(task, TRUTH_KEYS)) if isinstance(task, dict) else None,
            reward=total if total is None or math.isfinite(total) else None,
            metadata=meta,
            raw=raw,
        )

    @staticmethod
    def _metadata(record: dict[str, Any], summary: list[dict[str, Any]]) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        for source_key in ("info", "metadata"):
            extra = record.get(source_key)
            if isinstance(extra, dict):
                meta.update((k, v) for k, v in extra.items() if isinstance(v, (str, int, float, bool)))
                error = extra.get("error")  # Workflow.postprocess_episode: {error_type, error_message, ...}
                if isinstance(error, dict):
                    meta["error"] = f"{error.get('error_type', 'Error')}: {error.get('error_message', '')}"
        if isinstance(record.get("is_correct"), bool):
            meta["is_correct"] = record["is_correct"]
        if isinstance(record.get("termination_reason"), str):
            meta["termination_reason"] = record["termination_reason"]
        if isinstance(record.get("metrics"), dict) and record["metrics"]:
            meta["metrics"] = record["metrics"]
        for key, name in (("training_step", "step"), ("epoch", "epoch")):
            if isinstance(record.get(key), int) and not isinstance(record[key], bool):
                meta[name] = record[key]
        if len(summary) > 1:
            meta["trajectories"] = summary
        elif summary:
            if summary[0]["name"] not in _DEFAULT_NAMES:
                meta["agent"] = summary[0]["name"]
            if "signals" in summary[0]:
                meta["signals"] = summary[0]["signals"]
        return meta
