"""Anthropic Messages records: `messages` whose content blocks hold `tool_use` / `tool_result`."""

from __future__ import annotations

from typing import Any

from .._model import Episode, Source, ToolCall
from .._normalise import StepBuilder, text_of, tool_call
from .._registry import NotAnEpisode, RecordFormat, trace_format
from .chat import record_episode

_BLOCK_TYPES = frozenset(("tool_use", "tool_result", "thinking", "redacted_thinking", "server_tool_use"))
_CONSUMED = frozenset(("messages", "system", "model"))


def _has_anthropic_blocks(messages: list[Any]) -> bool:
    for msg in messages:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") in _BLOCK_TYPES:
                    return True
    return False


@trace_format("anthropic-messages", priority=10)
class AnthropicMessages(RecordFormat):
    """Anthropic Messages API conversations (`tool_use`/`tool_result` blocks, top-level `system`)."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        messages = record.get("messages")
        if not isinstance(messages, list) or not messages:
            return False
        roles = {m.get("role") for m in messages if isinstance(m, dict)}
        if not roles <= {"user", "assistant"}:
            return False
        return _has_anthropic_blocks(messages) or ("system" in record and "model" in record)

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        messages = record.get("messages")
        if not isinstance(messages, list):
            raise NotAnEpisode("no 'messages' list")
        builder = StepBuilder()
        system = text_of(record.get("system"))
        if system:
            builder.message("system", system)
        for i, msg in enumerate(messages):
            if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
                raise ValueError(f"message {i} is not a user/assistant message")
            _add_message(builder, msg["role"], msg.get("content"))
        episode = record_episode(record, builder, source, self.name, raw, _CONSUMED)
        if isinstance(record.get("model"), str):
            episode.metadata["model"] = record["model"]
        return episode


def _add_message(builder: StepBuilder, role: str, content: Any) -> None:
    if not isinstance(content, list):
        if role == "assistant":
            builder.assistant(text_of(content), [])
        else:
            builder.message("user", text_of(content))
        return
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind in ("tool_use", "server_tool_use"):
            calls.append(tool_call(block.get("name"), block.get("input"), block.get("id")))
        elif kind == "tool_result":
            if texts and role == "user":
                builder.message("user", "\n".join(texts))
                texts = []
            err = block.get("is_error")
            builder.tool_result(text_of(block.get("content")), call_id=block.get("tool_use_id") or None,
                                is_error=err if isinstance(err, bool) else None)
    if role == "assistant":
        builder.assistant("\n".join(texts), calls)
    elif texts:
        builder.message("user", "\n".join(texts))
