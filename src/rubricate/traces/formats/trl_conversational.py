"""TRL conversational datasets: rows with `prompt` + `completion` message lists (or `messages`), assistant
`tool_calls` whose `arguments` are a JSON object (a dict, not a string), `tool` messages that carry the tool's
`name` but no `tool_call_id` (paired with calls by order), an optional `tools` column of JSON schemas, and the
dataset's own columns (`answer`, `solution`, ...).

Detection (see `TRLConversational.sniff_record`), disjoint from `verifiers-results`:
- `prompt` and `completion` are both lists of chat messages and the row has no `reward` (every verifiers
  `results.jsonl` row has one; a dataset row has none), or
- `messages` is a list of chat messages with a TRL tool-calling mark: a call whose `arguments` is a dict, or a
  `tool` message without `tool_call_id`. A plain `messages` row without tools has no TRL mark; it is detected
  as `openai-chat`, which normalises it the same way.
"""

from __future__ import annotations

from typing import Any

from .._model import Episode, Source
from .._normalise import StepBuilder, scalar_text
from .._registry import NotAnEpisode, RecordFormat, trace_format
from .chat import add_chat_messages, record_episode

_CONSUMED = frozenset(("prompt", "completion", "messages", "tools", "solution"))
_TRUTH_EXTRA = ("solution",)  # after record_episode's ground_truth/answer/expected/target/gold


def _is_messages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(m, dict) and "role" in m for m in value)


def _has_trl_tool_marks(messages: list[Any]) -> bool:
    """A tool call with dict arguments, or a tool result without a call id (TRL pairs results by order)."""
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        if msg.get("role") == "tool" and not msg.get("tool_call_id"):
            return True
        calls = msg.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                fn = call.get("function", call) if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), dict):
                    return True
    return False


def tool_names(tools: Any) -> list[str]:
    """Names of the tools in a `tools` column (JSON schemas `{"type": "function", "function": {...}}`)."""
    names = []
    if isinstance(tools, list):
        for tool in tools:
            fn = tool.get("function", tool) if isinstance(tool, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                names.append(fn["name"])
    return names


@trace_format("trl-conversational", priority=15)
class TRLConversational(RecordFormat):
    """TRL conversational dataset rows: `prompt`/`completion` (or `messages`) with dict tool arguments."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        if "reward" in record:  # a scored rollout (verifiers results.jsonl), not a dataset row
            return False
        if "prompt" in record or "completion" in record:
            return _is_messages(record.get("prompt")) and _is_messages(record.get("completion"))
        messages = record.get("messages")
        return _is_messages(messages) and _has_trl_tool_marks(messages)

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        builder = StepBuilder()
        if "messages" in record and "completion" not in record:
            add_chat_messages(builder, record["messages"])
        else:
            prompt, completion = record.get("prompt"), record.get("completion")
            if prompt is None or completion is None:
                keys = sorted(record)[:10]
                raise NotAnEpisode(f"needs 'prompt' and 'completion' or 'messages' (keys: {keys})")
            add_chat_messages(builder, prompt)
            add_chat_messages(builder, completion)
        episode = record_episode(record, builder, source, self.name, raw, _CONSUMED)
        if episode.ground_truth is None:
            extra = next((record[k] for k in _TRUTH_EXTRA if record.get(k) is not None), None)
            episode.ground_truth = scalar_text(extra)
        names = tool_names(record.get("tools"))
        if names:
            episode.metadata["tools"] = names
        return episode
