"""ShareGPT records (LLaMA-Factory's `sharegpt` formatting): `conversations` of `{from, value}` turns.

Turns come from `system`, `human`, `gpt`, `function_call` (the value is JSON `{"name", "arguments"}`,
or a list of them for parallel calls) and `observation` (the tool result, paired with the calls in
order; one observation answering several parallel calls is split on LLaMA-Factory's
`</tool_response><tool_response>` joiner). A top-level `system` is the system prompt when the first
turn is not one; `tools` (a JSON string or a list of definitions) lists the tools offered. `messages`
instead of `conversations` is accepted when its turns use `from`/`value`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..files import decode_json
from .._model import Episode, Source, ToolCall
from .._normalise import StepBuilder, text_of, tool_call
from .._registry import NotAnEpisode, RecordFormat, trace_format
from .chat import record_episode

_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
          "chatgpt": "assistant", "function_call": "call", "observation": "tool", "tool": "tool",
          "function_response": "tool"}
_CONSUMED = frozenset(("conversations", "messages", "system", "tools"))
# LLaMA-Factory joins the results of parallel calls into one observation with this separator
# (`OpenAIDatasetConverter` in src/llamafactory/data/converter.py); split, they pair with the calls in order.
_JOINER = "\n</tool_response>\n<tool_response>\n"


def _turns(record: dict[str, Any]) -> list[Any] | None:
    for key in ("conversations", "messages"):
        turns = record.get(key)
        if isinstance(turns, list) and turns and isinstance(turns[0], dict) and "from" in turns[0] \
                and "value" in turns[0]:
            return turns
    return None


@trace_format("sharegpt", priority=10)
class ShareGPT(RecordFormat):
    """ShareGPT `conversations` of `{from, value}` turns (human, gpt, function_call, observation)."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        return _turns(record) is not None

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        turns = _turns(record)
        if turns is None:
            raise NotAnEpisode("no 'conversations' list of {from, value} turns")
        builder = StepBuilder()
        system = record.get("system")
        first, pending = turns[0].get("from"), 0
        if isinstance(system, str) and system and first != "system":
            builder.message("system", system)
        for i, turn in enumerate(turns):
            if not isinstance(turn, dict):
                raise ValueError(f"turn {i} is a JSON {type(turn).__name__}, not an object")
            role = _ROLES.get(str(turn.get("from")).lower())
            if role is None:
                raise ValueError(f"turn {i} is from unknown role {turn.get('from')!r}")
            value = turn.get("value")
            if role == "call":
                calls = _calls(value)
                builder.assistant("", calls)
                pending = len(calls)
            elif role == "assistant":
                builder.assistant(text_of(value), [])
            elif role == "tool":
                text = value if isinstance(value, str) else "" if value is None else _json(value)
                pieces = text.split(_JOINER) if pending > 1 else [text]
                if len(pieces) != pending:
                    pieces = [text]
                for piece in pieces:
                    builder.tool_result(piece)
                pending = max(0, pending - len(pieces))
            else:
                builder.message(role, text_of(value))  # type: ignore[arg-type]
        episode = record_episode(record, builder, source, self.name, raw, _CONSUMED)
        tools = _tool_names(record.get("tools"))
        if tools:
            episode.metadata["tools"] = tools
        return episode


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _calls(value: Any) -> list[ToolCall]:
    """A function_call value: JSON `{"name", "arguments"}` or a list of them. Text that is not JSON stays
    one call with no name whose raw arguments keep the text and say why it could not be parsed."""
    parsed = value
    if isinstance(value, str):
        try:
            parsed = decode_json(value)
        except msgspec.DecodeError:
            return [tool_call(None, value)]
    items = parsed if isinstance(parsed, list) else [parsed]
    calls = []
    for item in items:
        if isinstance(item, dict) and "name" in item:
            calls.append(tool_call(item.get("name"), item.get("arguments"), item.get("id")))
        else:
            calls.append(tool_call(None, _json(item)))
    return calls


def _tool_names(tools: Any) -> list[str]:
    if isinstance(tools, str):
        try:
            tools = decode_json(tools)
        except msgspec.DecodeError:
            return []
    if not isinstance(tools, list):
        return []
    names = []
    for t in tools:
        if isinstance(t, dict):
            fn = t["function"] if isinstance(t.get("function"), dict) else t
            if isinstance(fn.get("name"), str):
                names.append(fn["name"])
    return names
