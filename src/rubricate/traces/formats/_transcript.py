"""A trace's LLM conversations and tool executions to numbered steps (used by `_spans.py`).

Chat spans usually carry the whole history so far as their input. The transcript grows span by span:
an input that starts like the transcript (same first message and first non-system message) and is at
least as long replaces it (the history the model saw is authoritative); under other system
instructions (a handoff) only its system prompt and new messages are added; any other input is
appended after its overlap with the transcript; each span's output follows. Spans of an agent
(invoke_agent, an AGENT root) are used only when a trace has no LLM span.

Tool executions (execute_tool / TOOL spans) are then paired with the calls by call id (or by tool
name, in order, when either side has none): they supply results the transcript lacks (a run that
ended on a call) and the error flag (span status ERROR) that text does not carry. An execution that
no call accounts for becomes a call of its own, placed after the LLM call before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from .._model import ToolCall
from .._normalise import StepBuilder, tool_call

ROLES = {"system": "system", "developer": "system", "user": "user", "human": "user", "assistant": "assistant",
         "model": "assistant", "ai": "assistant", "tool": "tool", "function": "tool", "ipython": "tool"}


@dataclass(slots=True)
class SpanRecord:
    """One span, decoded: ids normalised (lower-case hex, no `0x`), attributes flat, start in ns."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start: float | None
    attrs: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    error: bool
    status_message: str
    kind: str  # a producer's own span-kind field (Phoenix `span_kind`), "" if none
    resource: dict[str, Any]
    line: int | None
    index: int | None
    order: int
    raw: Any  # the JSONL line (bytes), or the span object from a JSON document

    def value(self, key: str) -> Any:
        """An attribute of the span, or of one of its events (content may be recorded on events)."""
        if key in self.attrs:
            return self.attrs[key]
        return next((a[key] for _, a in self.events if key in a), None)

    def error_text(self) -> str:
        """Why the span failed: its status message, an `exception` event, or `error.type`."""
        if self.status_message:
            return self.status_message
        for _, a in self.events:
            kind, message = a.get("exception.type"), a.get("exception.message")
            if kind or message:
                return f"{kind}: {message}" if kind and message else str(kind or message)
        return str(self.attrs.get("error.type") or "error")


@dataclass(slots=True)
class Msg:
    role: str
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    call_id: str | None = None
    tool_name: str | None = None

    def key(self) -> tuple[Any, ...]:
        return self.role, self.text.strip(), tuple((c.name, c.id) for c in self.calls), self.call_id


@dataclass(slots=True)
class Conversation:
    """What one LLM (or agent) span shows: the messages it was given and the message it returned."""

    input: list[Msg]
    output: list[Msg]
    agent: bool = False


@dataclass(slots=True)
class ToolRun:
    """One tool execution span."""

    name: str
    arguments: Any
    call_id: str | None
    result: str
    is_error: bool


def call_id(value: Any) -> str | None:
    """A call id as text, stripped (the GenAI spec's own example has an id with a stray space)."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def text_value(value: Any) -> str:
    """A result or content value as text (objects are rendered as JSON)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def build_steps(parts: list[tuple[int, Conversation | ToolRun]]) -> StepBuilder:
    """Steps of one trace from its conversations and tool runs, each with its position in start order."""
    chats = [(pos, p) for pos, p in parts if isinstance(p, Conversation)]
    llm = [(pos, c) for pos, c in chats if not c.agent]
    runs = [(pos, p) for pos, p in parts if isinstance(p, ToolRun)]
    transcript, marks = _merge(llm or chats)
    transcript = _place_unaccounted(transcript, marks, runs)
    return _steps(transcript, [r for _, r in runs])


def _merge(chats: list[tuple[int, Conversation]]) -> tuple[list[Msg], list[tuple[int, int]]]:
    """The transcript, and for each span (position, transcript length once it is merged)."""
    transcript: list[Msg] = []
    marks: list[tuple[int, int]] = []
    for pos, conv in chats:
        transcript = _extend(transcript, conv.input)
        if conv.agent:  # an agent's tools run between its input and its output
            marks.append((pos, len(transcript)))
        transcript = transcript + conv.output
        if not conv.agent:
            marks.append((pos, len(transcript)))
    return transcript, marks


def _extend(transcript: list[Msg], inp: list[Msg]) -> list[Msg]:
    if not transcript or not inp:
        return list(transcript or inp)
    have, new = [m.key() for m in transcript], [m.key() for m in inp]
    body = [m for m in inp if m.role != "system"]
    known = [k for k in have if k[0] != "system"]
    if known and len(body) >= len(known) and body[0].key() == known[0]:
        if new[0] == have[0]:  # the history so far, as this call saw it
            return list(inp)
        # the same conversation under other system instructions (a handoff to another agent): its
        # system prompt goes after the results of the calls that led to it
        prompts = [m for m in inp if m.role == "system" and m.key() not in have]
        rest = body[len(known):]
        i = next((i for i, m in enumerate(rest) if m.role != "tool"), len(rest))
        return transcript + rest[:i] + prompts + rest[i:]
    for k in range(min(len(have), len(new)), 0, -1):  # a continuation that repeats only the latest messages
        if have[-k:] == new[:k]:
            return transcript + inp[k:]
    return transcript + inp


def _accounted(run: ToolRun, calls: list[ToolCall], ids: set[str]) -> bool:
    if run.call_id in ids:
        return True
    return any(c.name == run.name and (c.id is None or run.call_id is None) for c in calls)


def _place_unaccounted(transcript: list[Msg], marks: list[tuple[int, int]],
                       runs: list[tuple[int, ToolRun]]) -> list[Msg]:
    calls = [c for m in transcript for c in m.calls]
    ids = {c.id for c in calls if c.id}
    at: dict[int, list[Msg]] = {}
    for pos, run in runs:
        if _accounted(run, calls, ids):
            continue
        i = max((n for p, n in marks if p < pos), default=0)
        while i < len(transcript) and transcript[i].role == "tool":
            i += 1
        at.setdefault(i, []).append(Msg("assistant", "", [tool_call(run.name, run.arguments, run.call_id)]))
    if not at:
        return transcript
    out: list[Msg] = []
    for i, msg in enumerate(transcript):
        out.extend(at.pop(i, ()))
        out.append(msg)
    for rest in at.values():
        out.extend(rest)
    return out


def _steps(transcript: list[Msg], runs: list[ToolRun]) -> StepBuilder:
    builder = StepBuilder()
    unused = list(runs)
    ids = {c.id for m in transcript for c in m.calls if c.id}

    def take(cid: str | None, name: str | None) -> ToolRun | None:
        for i, r in enumerate(unused):
            if cid and r.call_id == cid:
                return unused.pop(i)
        for i, r in enumerate(unused):
            if r.name == name and not (cid and r.call_id) and r.call_id not in ids:
                return unused.pop(i)
        return None

    pending: list[ToolCall] = []

    def flush() -> None:
        for c in pending:
            run = take(c.id, c.name)
            if run is not None:
                builder.tool_result(run.result, c.id, run.name or c.name, True if run.is_error else None)
        pending.clear()

    for msg in transcript:
        if msg.role == "tool":
            call = next((c for c in pending if c.id == msg.call_id), None) if msg.call_id else \
                (pending[0] if pending else None)
            if call is not None:
                pending.remove(call)
            name = msg.tool_name or (call.name if call is not None else None)
            run = take(msg.call_id or (call.id if call is not None else None), name)
            builder.tool_result(msg.text or (run.result if run else ""), msg.call_id, name,
                                True if run is not None and run.is_error else None)
            continue
        flush()
        if msg.role == "assistant":
            calls = [msgspec.structs.replace(c) for c in msg.calls]
            builder.assistant(msg.text, calls)
            pending.extend(calls)
        else:
            builder.message(msg.role, msg.text)  # type: ignore[arg-type]
    flush()
    for run in unused:  # more executions than calls of that name: each still becomes a call and result
        builder.assistant("", [tool_call(run.name, run.arguments, run.call_id)])
        builder.tool_result(run.result, run.call_id, run.name, True if run.is_error else None)
    return builder
