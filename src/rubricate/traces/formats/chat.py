"""OpenAI Chat Completions messages to steps: shared by every format that stores chat messages."""

from __future__ import annotations

from typing import Any

import msgspec

from ..files import decode_json
from .._model import Episode, Source, ToolCall
from .._normalise import StepBuilder, as_float, scalar_text, text_of, tool_call

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
          "tool": "tool", "function": "tool", "ipython": "tool"}


def add_chat_messages(builder: StepBuilder, messages: Any) -> None:
    """Append OpenAI-style chat messages (dicts with role/content/tool_calls) to `builder`."""
    if not isinstance(messages, list):
        raise ValueError(f"messages must be a list, got a JSON {type(messages).__name__}")
    roles = _ROLES
    for i, msg in enumerate(messages):
        if type(msg) is not dict:
            raise ValueError(f"message {i} is a JSON {type(msg).__name__}, not an object")
        role = roles.get(msg.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise ValueError(f"message {i} has unknown role {msg.get('role')!r}")
        content = msg.get("content")
        if type(content) is not str:
            content = text_of(content)
        if role == "assistant":
            builder.assistant(content, _calls(msg, i) if msg.get("tool_calls") or "function_call" in msg else [])
        elif role == "tool":
            err = msg.get("is_error")
            builder.tool_result(content, msg.get("tool_call_id") or None, msg.get("name") or None,
                                err if isinstance(err, bool) else None)
        else:
            builder.message(role, content, msg.get("name") or None)  # type: ignore[arg-type]


def _calls(msg: dict[str, Any], i: int) -> list[ToolCall]:
    raw_calls = msg.get("tool_calls")
    calls: list[ToolCall] = []
    if raw_calls:
        if not isinstance(raw_calls, list):
            raise ValueError(f"message {i}: tool_calls must be a list")
        for raw in raw_calls:
            if isinstance(raw, str):  # verifiers stores each call as a JSON string
                try:
                    raw = decode_json(raw)
                except msgspec.DecodeError as exc:
                    raise ValueError(f"message {i}: tool call is not valid JSON: {exc}") from None
            if not isinstance(raw, dict):
                raise ValueError(f"message {i}: tool call is a JSON {type(raw).__name__}, not an object")
            fn = raw.get("function")
            if isinstance(fn, dict):
                calls.append(tool_call(fn.get("name"), fn.get("arguments"), raw.get("id")))
            else:  # flattened {name, arguments}
                calls.append(tool_call(raw.get("name"), raw.get("arguments"), raw.get("id")))
    legacy = msg.get("function_call")
    if isinstance(legacy, dict):
        calls.append(tool_call(legacy.get("name"), legacy.get("arguments")))
    return calls


def first_user_text(builder: StepBuilder) -> str | None:
    for step in builder.steps:
        if step.role == "user" and step.content:
            return step.content
    return None


def scalar_metadata(record: dict[str, Any], skip: frozenset[str]) -> dict[str, Any]:
    """The record's `metadata` object plus its other top-level scalar fields (model, trial, ...)."""
    meta = dict(record["metadata"]) if isinstance(record.get("metadata"), dict) else {}
    for key, value in record.items():
        if key not in skip and key not in meta and isinstance(value, (str, int, float, bool)):
            meta[key] = value
    return meta


ID_KEYS = ("id", "episode_id", "uid", "rollout_id")
TASK_KEYS = ("task_id", "example_id", "question_id")
TRUTH_KEYS = ("ground_truth", "answer", "expected", "expected_answer", "target", "gold")
RECORD_KEYS = frozenset(("metadata", "final_answer", "reward", "question", *ID_KEYS, *TASK_KEYS, *TRUTH_KEYS))


def first_of(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            return value
    return None


def record_episode(record: dict[str, Any], builder: StepBuilder, source: Source, fmt: str,
                   raw: bytes | None, consumed: frozenset[str]) -> Episode:
    """An Episode from built steps plus the conventional top-level fields of a record:
    id (`id`, `episode_id`, ...), task (`task_id`, `example_id`, ...), ground truth (`ground_truth`,
    `answer`, ...), `reward`, `final_answer`, `question`, and `metadata` with the other scalars."""
    record_id = first_of(record, ID_KEYS)
    task = first_of(record, TASK_KEYS)
    final = record.get("final_answer")
    return Episode(
        id=str(record_id) if record_id is not None else str(source),
        steps=builder.steps,
        source=source,
        format=fmt,
        task_id=None if task is None else str(task),
        question=scalar_text(record.get("question")) or first_user_text(builder),
        final_answer=scalar_text(final) if final is not None else builder.final_answer(),
        ground_truth=scalar_text(first_of(record, TRUTH_KEYS)),
        reward=as_float(record.get("reward")),
        metadata=scalar_metadata(record, consumed | RECORD_KEYS),
        raw=raw,
    )
