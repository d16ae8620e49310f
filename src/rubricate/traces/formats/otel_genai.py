"""OpenTelemetry GenAI semantic-convention spans: one episode per trace.

Chat spans carry `gen_ai.input.messages` / `gen_ai.output.messages` (JSON of `{role, parts}` with
`text`, `tool_call` and `tool_call_response` parts; a response under `response` or `result`) and
`gen_ai.system_instructions`, on the span or on an event. Older instrumentations write `gen_ai.prompt`
/ `gen_ai.completion` (OpenAI-style messages as JSON, on `gen_ai.content.prompt` / `.completion` events
or as indexed attributes `gen_ai.prompt.0.role`). `execute_tool` spans give `gen_ai.tool.name`,
`gen_ai.tool.call.id`, `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result`; status ERROR marks
a failed call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._normalise import text_of, tool_call
from .._registry import trace_format
from ._attrs import as_json, indexed
from ._spans import SpanFormat
from ._transcript import ROLES, Conversation, Msg, SpanRecord, ToolRun, call_id, text_value

_NOT_CHAT = frozenset(("execute_tool", "embeddings", "retrieval"))
_AGENT = frozenset(("invoke_agent", "create_agent"))


@trace_format("otel-genai", priority=25)
class OtelGenAI(SpanFormat):
    """OpenTelemetry GenAI spans (OTLP JSON or one span per line), one episode per trace id."""

    markers = (b'"gen_ai.',)
    meta_keys = {"model": ("gen_ai.response.model", "gen_ai.request.model"),
                 "provider": ("gen_ai.provider.name", "gen_ai.system"),
                 "agent": ("gen_ai.agent.name",), "conversation_id": ("gen_ai.conversation.id",)}

    def conversation(self, span: SpanRecord) -> Conversation | None:
        op = span.attrs.get("gen_ai.operation.name")
        if op in _NOT_CHAT or (op is None and span.name.startswith("execute_tool")):
            return None
        inp, out = span.value("gen_ai.input.messages"), span.value("gen_ai.output.messages")
        if inp is not None or out is not None:
            messages = _parsed(genai_messages, inp, "gen_ai.input.messages")
            output = _parsed(genai_messages, out, "gen_ai.output.messages")
        else:
            prompt, completion = _legacy(span, "gen_ai.prompt"), _legacy(span, "gen_ai.completion")
            if prompt is None and completion is None:
                return None
            messages = _parsed(openai_messages, _as_messages(prompt, "user"), "gen_ai.prompt")
            output = _parsed(openai_messages, _as_messages(completion, "assistant"), "gen_ai.completion")
        system = span.value("gen_ai.system_instructions")
        if system is not None and not (messages and messages[0].role == "system"):
            text = _parts_text(system)
            if text:
                messages.insert(0, Msg("system", text))
        return Conversation(messages, output[:1], agent=op in _AGENT)  # one message per choice: the first

    def tool_run(self, span: SpanRecord) -> ToolRun | None:
        a = span.attrs
        op = a.get("gen_ai.operation.name")
        if op != "execute_tool" and not (op is None and span.name.startswith("execute_tool")):
            return None
        name = a.get("gen_ai.tool.name") or span.name.removeprefix("execute_tool").strip()
        result = span.value("gen_ai.tool.call.result")
        if result is None:
            result = span.value("gen_ai.tool.call.response")
        error = span.error or bool(a.get("error.type"))
        text = text_value(result) if result is not None else (span.error_text() if error else "")
        return ToolRun(str(name), span.value("gen_ai.tool.call.arguments"),
                       call_id(a.get("gen_ai.tool.call.id")), text, error)


def _parsed(parse: Callable[[Any], list[Msg]], value: Any, key: str) -> list[Msg]:
    if value is None:
        return []
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _legacy(span: SpanRecord, key: str) -> Any:
    """`gen_ai.prompt` as a JSON attribute (on the span or its event), or OpenLLMetry's indexed form."""
    value = span.value(key)
    if value is not None:
        return value
    rows = indexed(span.attrs, key)
    if not rows:
        return None
    return [{**row, "tool_calls": indexed(row, "tool_calls")} for row in rows]


def _as_messages(value: Any, role: str) -> Any:
    """A legacy prompt or completion that is plain text (a completions API call) as one message."""
    if isinstance(value, str):
        try:
            as_json(value)
        except ValueError:
            return [{"role": role, "content": value}]
    return value


def _parts_text(value: Any) -> str:
    """System instructions: a list of `{type: text, content}` parts (as JSON or structured), or text."""
    if isinstance(value, str):
        try:
            value = as_json(value)
        except ValueError:  # plain text, as some instrumentations record it
            return value
    if isinstance(value, list):
        return "\n".join(text_value(p.get("content")) for p in value
                         if isinstance(p, dict) and p.get("type", "text") == "text")
    return text_value(value)


def genai_messages(value: Any) -> list[Msg]:
    """GenAI `{role, parts}` messages (a JSON string or structured) as transcript messages."""
    value = as_json(value)
    if not isinstance(value, list):
        raise ValueError(f"messages must be a JSON list, got a JSON {type(value).__name__}")
    out: list[Msg] = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise ValueError(f"message {i} is a JSON {type(m).__name__}, not an object")
        if "parts" not in m:  # OpenAI-style message in a GenAI attribute
            out.extend(openai_messages([m]))
            continue
        role = ROLES.get(str(m.get("role")).lower())
        if role is None:
            raise ValueError(f"message {i} has unknown role {m.get('role')!r}")
        texts, calls, results = [], [], []
        for part in m.get("parts") or ():
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                texts.append(text_value(part.get("content")))
            elif kind == "tool_call":
                calls.append(tool_call(part.get("name"), part.get("arguments"), call_id(part.get("id"))))
            elif kind == "tool_call_response":
                response = part["response"] if "response" in part else part.get("result")
                results.append(Msg("tool", text_value(response), call_id=call_id(part.get("id"))))
            # reasoning, blob, uri, file and server-side tool parts carry no step of their own
        text = "\n".join(texts)
        if role == "assistant":
            out.append(Msg("assistant", text, calls))
        elif role == "tool" and not results:
            out.append(Msg("tool", text, call_id=call_id(m.get("tool_call_id") or m.get("id"))))
        else:
            out.extend(results)
            if text or not results:
                out.append(Msg(role if role != "tool" else "user", text))
    return out


def openai_messages(value: Any) -> list[Msg]:
    """OpenAI-style messages (`gen_ai.prompt`, `gen_ai.completion`): role, content, tool_calls."""
    value = as_json(value)
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(f"messages must be a JSON list, got a JSON {type(value).__name__}")
    out: list[Msg] = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise ValueError(f"message {i} is a JSON {type(m).__name__}, not an object")
        role = ROLES.get(str(m.get("role", "assistant")).lower())
        if role is None:
            raise ValueError(f"message {i} has unknown role {m.get('role')!r}")
        content = text_of(m.get("content"))
        if role == "assistant":
            calls = []
            for c in m.get("tool_calls") or ():
                if isinstance(c, dict):
                    fn = c["function"] if isinstance(c.get("function"), dict) else c
                    calls.append(tool_call(fn.get("name"), fn.get("arguments"), call_id(c.get("id"))))
            out.append(Msg("assistant", content, calls))
        elif role == "tool":
            name = m.get("name")
            out.append(Msg("tool", content, call_id=call_id(m.get("tool_call_id")),
                           tool_name=name if isinstance(name, str) else None))
        else:
            out.append(Msg(role, content))
    return out
