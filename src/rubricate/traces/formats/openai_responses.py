"""OpenAI Responses API items: `message`, `function_call` and `function_call_output` items paired by
`call_id`, as a record with `input`/`output` (or `items`), or NeMo Gym's
`responses_create_params.input` + `response.output`."""

from __future__ import annotations

from typing import Any

from .._model import Episode, Source, ToolCall
from .._normalise import StepBuilder, text_of, tool_call
from .._registry import NotAnEpisode, RecordFormat, trace_format
from .chat import record_episode

_ITEM_TYPES = frozenset(("function_call", "function_call_output", "message", "reasoning",
                         "custom_tool_call", "custom_tool_call_output"))
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_CONSUMED = frozenset(("input", "output", "items", "responses_create_params", "response"))


def _item_lists(record: dict[str, Any]) -> list[Any] | None:
    """Every item of the episode, in order, from whichever shape the record uses."""
    params, response = record.get("responses_create_params"), record.get("response")
    if isinstance(params, dict) or isinstance(response, dict):
        first = params.get("input") if isinstance(params, dict) else None
        last = response.get("output") if isinstance(response, dict) else None
        return _as_items(first) + _as_items(last)
    if isinstance(record.get("items"), list):
        return record["items"]
    if "output" in record and isinstance(record["output"], list):
        return _as_items(record.get("input")) + record["output"]
    return None


def _as_items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if isinstance(value, list):
        return value
    raise ValueError(f"input must be a string or a list of items, got a JSON {type(value).__name__}")


@trace_format("openai-responses", priority=10)
class OpenAIResponses(RecordFormat):
    """OpenAI Responses API items (`function_call` / `function_call_output` by `call_id`), NeMo Gym rollouts."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        try:
            items = _item_lists(record)
        except ValueError:
            return False
        return bool(items) and any(isinstance(i, dict) and i.get("type") in _ITEM_TYPES for i in items)

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        items = _item_lists(record)
        if items is None:
            raise NotAnEpisode("no Responses items (input/output, items, or response.output)")
        builder = StepBuilder()
        text: list[str] = []
        calls: list[ToolCall] = []

        def flush() -> None:
            if text or calls:
                builder.assistant("\n".join(text), list(calls))
                text.clear()
                calls.clear()

        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ValueError(f"item {i} is a JSON {type(item).__name__}, not an object")
            kind = item.get("type", "message")
            if kind in ("function_call", "custom_tool_call"):
                args = item.get("arguments", item.get("input"))
                calls.append(tool_call(item.get("name"), args, item.get("call_id") or item.get("id")))
            elif kind in ("function_call_output", "custom_tool_call_output"):
                flush()
                builder.tool_result(text_of(item.get("output")), call_id=item.get("call_id") or None)
            elif kind == "message":
                role = _ROLES.get(item.get("role", "assistant"))
                if role is None:
                    raise ValueError(f"item {i} has unknown role {item.get('role')!r}")
                if role == "assistant":
                    if calls:
                        flush()
                    text.append(text_of(item.get("content")))
                else:
                    flush()
                    builder.message(role, text_of(item.get("content")))  # type: ignore[arg-type]
            # reasoning and other item types carry no step of their own
        flush()
        episode = record_episode(record, builder, source, self.name, raw, _CONSUMED)
        response = record.get("response")
        if isinstance(response, dict) and isinstance(response.get("model"), str):
            episode.metadata.setdefault("model", response["model"])
        return episode
