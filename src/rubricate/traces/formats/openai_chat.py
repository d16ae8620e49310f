"""OpenAI Chat Completions records: a `messages` list plus optional id, answer, reward, metadata."""

from __future__ import annotations

from typing import Any

from .._model import Episode, Source
from .._normalise import StepBuilder
from .._registry import NotAnEpisode, RecordFormat, trace_format
from .chat import add_chat_messages, record_episode

_CONSUMED = frozenset(("messages",))


@trace_format("openai-chat", priority=0)
class OpenAIChat(RecordFormat):
    """OpenAI Chat Completions messages (`messages` with `tool_calls` / `tool` results); the catch-all."""

    def sniff_record(self, record: dict[str, Any]) -> bool:
        messages = record.get("messages")
        return isinstance(messages, list) and bool(messages) and isinstance(messages[0], dict) \
            and "role" in messages[0]

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        if "messages" not in record:
            raise NotAnEpisode(f"no 'messages' list (keys: {sorted(record)[:10]})")
        builder = StepBuilder()
        add_chat_messages(builder, record["messages"])
        return record_episode(record, builder, source, self.name, raw, _CONSUMED)
