"""Shared normalisation: message content, tool-call arguments, tool-error detection, step building.

Every reader funnels its messages through `StepBuilder`, so pairing of calls with results, step
numbering, error flags and the final answer follow one set of rules for every format.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .files import decode_json
from ._model import Role, Step, ToolCall

_json_decode = decode_json
_json_encode = msgspec.json.encode


def text_of(content: Any) -> str:
    """Text of a message content: a string, None, or a list of parts (`text`/`input_text`/...)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif isinstance(part.get("content"), (str, list)):
                    parts.append(text_of(part["content"]))
        return "\n".join(parts)
    if isinstance(content, dict):
        text = content.get("text")
        return text if isinstance(text, str) else _json_encode(content).decode()
    return str(content)


def parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str, str | None]:
    """(parsed object or None, raw text, parse error or None) for tool-call arguments.

    Arguments arrive as a JSON string (OpenAI), a dict (Anthropic, TRL) or nothing. Text that is
    not a JSON object is kept verbatim with the reason it could not be parsed.
    """
    if raw is None or raw == "":
        return {}, "", None
    if isinstance(raw, dict):
        return raw, _json_encode(raw).decode(), None
    if not isinstance(raw, str):
        return None, _json_encode(raw).decode(), f"arguments are a JSON {type(raw).__name__}, not an object"
    try:
        value = _json_decode(raw)
    except msgspec.DecodeError as exc:
        return None, raw, f"arguments are not valid JSON: {exc}"
    if isinstance(value, dict):
        return value, raw, None
    return None, raw, f"arguments are a JSON {type(value).__name__}, not an object"


# Tool results in text-only formats carry no error flag; these are the shapes errors take.
_ERROR_START = re.compile(
    r"\s*(?:error\b|[\w.]*(?:error|exception)\s*:|exception\b|invalid\b|failed\b|failure\b|"
    r"could not\b|cannot\b|unable to\b|permission denied|no such\b|unknown (?:tool|function|table|column)\b|"
    r"[\w' -]{0,40}\bnot found\b)",
    re.IGNORECASE,
)
_ERROR_KEY = re.compile(
    r"""['"]error['"]\s*:(?!\s*(?:None\b|null\b|False\b|false\b|""|''|\[\]|\{\}))""",
)


def looks_like_error(content: str) -> bool:
    """True when a tool result's text reads as a failure.

    Recognised: text starting with `Error`, `<Something>Error:`, `Exception`, `Invalid`, `Failed`,
    `... not found`, `No such ...`, `Unknown table ...`; a JSON (or Python-repr) object with a
    non-empty `error` key; a Python traceback anywhere.
    """
    if not content:
        return False
    if _ERROR_START.match(content):
        return True
    head = content.lstrip()[:1]
    if head == "{" and "error" in content[:2000] and _ERROR_KEY.search(content, 0, 2000):
        return True
    return "Traceback (most recent call last)" in content


class StepBuilder:
    """Accumulates steps of one episode, pairing tool results with calls.

    Pairing: a result with a call id goes to the pending call with that id; a result without one
    (verifiers, TRL) goes to the oldest pending call. A result that matches nothing stays
    unpaired (`call_step` None) and is still a step.
    """

    __slots__ = ("steps", "_pending")

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self._pending: list[tuple[int, ToolCall]] = []

    def message(self, role: Role, content: str = "", name: str | None = None) -> Step:
        step = Step(len(self.steps), role, content, name=name)
        self.steps.append(step)
        return step

    def assistant(self, content: str, calls: list[ToolCall]) -> Step:
        index = len(self.steps)
        step = Step(index, "assistant", content, calls)
        self.steps.append(step)
        if calls:
            pending = self._pending
            for c in calls:
                pending.append((index, c))
        return step

    def tool_result(
        self,
        content: str,
        call_id: str | None = None,
        tool_name: str | None = None,
        is_error: bool | None = None,
    ) -> Step:
        index = len(self.steps)
        paired = self._pair(call_id, tool_name)
        call_step = None
        if paired is not None:
            call_step, call = paired
            call.result_step = index
            call_id = call_id or call.id
            tool_name = tool_name or call.name
        if is_error is None:
            is_error = looks_like_error(content)
        step = Step(index, "tool", content, [], call_id, tool_name, is_error, call_step)
        self.steps.append(step)
        return step

    def _pair(self, call_id: str | None, tool_name: str | None) -> tuple[int, ToolCall] | None:
        pending = self._pending
        if not pending:
            return None
        if call_id:
            for i, (_, call) in enumerate(pending):
                if call.id == call_id:
                    return pending.pop(i)
            return None
        return pending.pop(0)

    def final_answer(self) -> str | None:
        """The last assistant text, if no tool result comes after it."""
        for step in reversed(self.steps):
            if step.role == "tool":
                return None
            if step.role == "assistant" and step.content.strip():
                return step.content
        return None


def tool_call(name: Any, arguments: Any, call_id: Any = None) -> ToolCall:
    parsed, raw, error = parse_arguments(arguments)
    return ToolCall(
        name=str(name) if name is not None else "",
        arguments=parsed,
        arguments_raw=raw,
        arguments_error=error,
        id=str(call_id) if call_id not in (None, "") else None,
    )


def scalar_text(value: Any) -> str | None:
    """A ground truth / answer value as text (numbers and lists are rendered as JSON)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _json_encode(value).decode()


def as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
