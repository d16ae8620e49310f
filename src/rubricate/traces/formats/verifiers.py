"""verifiers `results.jsonl` (vf-eval outputs): prompt/completion message lists, `tool_calls` as JSON
strings, tool messages without `tool_call_id` (paired by order), a sibling `metadata.json` per run."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import msgspec

from ..files import decode_json, open_regular
from .._model import Episode, Source
from .._normalise import StepBuilder, as_float, scalar_text
from .._registry import NotAnEpisode, RecordFormat, trace_format
from .chat import add_chat_messages, first_user_text, scalar_metadata

_CONSUMED = frozenset(("prompt", "completion", "answer", "reward", "info", "example_id", "id", "task",
                       "metadata", "state"))
_RUN_KEYS = ("env_id", "env", "model", "num_examples", "rollouts_per_example")


@lru_cache(maxsize=256)
def run_metadata(directory: str) -> dict[str, Any]:
    """model / env of a vf-eval run, from the `metadata.json` beside `results.jsonl` (if any)."""
    path = os.path.join(directory, "metadata.json")
    try:
        with open_regular(path) as f:  # (never a FIFO: it would block)
            data = decode_json(f.read())
    except (OSError, msgspec.DecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    meta = {k: data[k] for k in _RUN_KEYS if isinstance(data.get(k), (str, int, float))}
    meta["run"] = os.path.basename(directory)
    return meta


@trace_format("verifiers-results", priority=20)
class VerifiersResults(RecordFormat):
    """verifiers v0 `results.jsonl` rows: `prompt` + `completion` message lists, reward, answer."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        # vf-eval writes a `reward` on every row; a dataset row with prompt/completion (TRL) has none
        return "prompt" in record and "completion" in record and "reward" in record and \
            isinstance(record["completion"], (list, str)) and isinstance(record["prompt"], (list, str))

    def companion(self, path: str) -> bool:
        return os.path.basename(path) == "metadata.json" and \
            os.path.exists(os.path.join(os.path.dirname(path), "results.jsonl"))

    def file_metadata(self, path: str) -> dict[str, Any]:
        return run_metadata(os.path.dirname(os.path.abspath(path)))

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        prompt, completion = record.get("prompt"), record.get("completion")
        if prompt is None or completion is None:
            raise NotAnEpisode("needs both 'prompt' and 'completion'")
        builder = StepBuilder()
        for part, role in ((prompt, "user"), (completion, "assistant")):
            if isinstance(part, str):
                builder.message(role, part) if role == "user" else builder.assistant(part, [])
            else:
                add_chat_messages(builder, part)
        task = record.get("example_id", record.get("id"))
        meta = scalar_metadata(record, _CONSUMED)
        if isinstance(record.get("task"), str):
            meta["task"] = record["task"]
        return Episode(
            id=str(source),
            steps=builder.steps,
            source=source,
            format=self.name,
            task_id=None if task is None else str(task),
            question=first_user_text(builder),
            final_answer=builder.final_answer(),
            ground_truth=scalar_text(record.get("answer")),
            reward=as_float(record.get("reward")),
            metadata=meta,
            raw=raw,
        )
