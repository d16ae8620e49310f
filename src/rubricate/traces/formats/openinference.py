"""OpenInference spans (Arize Phoenix and the openinference-instrumentation-* packages): one episode
per trace.

Every span has `openinference.span.kind`. LLM spans flatten their messages into attributes:
`llm.input_messages.N.message.role` / `.message.content` (or `.message.contents.K.message_content.text`),
`...message.tool_calls.M.tool_call.{id, function.name, function.arguments}`, `...message.tool_call_id`,
and the same under `llm.output_messages`. TOOL spans give `tool.name`, `input.value` (the arguments),
`output.value` (the result) and `tool.id` / `tool_call.id`; status ERROR marks a failed call. When a
trace has no LLM span, a root AGENT or CHAIN span's `input.value` / `output.value` are the question
and the answer.
"""

from __future__ import annotations

from typing import Any

from .._normalise import tool_call
from .._registry import trace_format
from ._attrs import indexed
from ._spans import SpanFormat
from ._transcript import ROLES, Conversation, Msg, SpanRecord, ToolRun, call_id, text_value


def span_kind(span: SpanRecord) -> str:
    return str(span.attrs.get("openinference.span.kind") or span.kind).upper()


@trace_format("openinference", priority=30)
class OpenInference(SpanFormat):
    """OpenInference spans (`llm.input_messages.N.message.*`, TOOL spans), one episode per trace id."""

    markers = (b'"openinference.span.kind"', b'"span_kind"')
    meta_keys = {"model": ("llm.model_name",), "provider": ("llm.provider", "llm.system"),
                 "agent": ("agent.name",), "session_id": ("session.id",), "user_id": ("user.id",)}

    def conversation(self, span: SpanRecord) -> Conversation | None:
        kind, a = span_kind(span), span.attrs
        if kind == "LLM":
            inp = [_message(row, i) for i, row in enumerate(indexed(a, "llm.input_messages"))]
            out = [_message(row, i) for i, row in enumerate(indexed(a, "llm.output_messages"))]
            if not inp and not out:  # the completions API: llm.prompts, llm.choices
                inp = [Msg("user", text_value(p.get("prompt.text"))) for p in indexed(a, "llm.prompts")]
                out = [Msg("assistant", text_value(c.get("completion.text")))
                       for c in indexed(a, "llm.choices")]
            return Conversation(inp, out[:1]) if inp or out else None
        if kind in ("AGENT", "CHAIN") and not span.parent_id:
            question, answer = a.get("input.value"), a.get("output.value")
            if question is None and answer is None:
                return None
            asked = [Msg("user", text_value(question))] if question is not None else []
            answered = [Msg("assistant", text_value(answer))] if answer is not None else []
            return Conversation(asked, answered, agent=True)
        return None

    def tool_run(self, span: SpanRecord) -> ToolRun | None:
        if span_kind(span) != "TOOL":
            return None
        a = span.attrs
        result = a.get("output.value")
        text = text_value(result) if result is not None else (span.error_text() if span.error else "")
        arguments = a.get("input.value", a.get("tool_call.function.arguments"))
        return ToolRun(str(a.get("tool.name") or span.name), arguments,
                       call_id(a.get("tool.id") or a.get("tool_call.id")), text, span.error)


def _message(row: dict[str, Any], i: int) -> Msg:
    """One flattened `message.*` object as a transcript message."""
    role = ROLES.get(str(row.get("message.role")).lower())
    if role is None:
        raise ValueError(f"message {i} has unknown role {row.get('message.role')!r}")
    content = row.get("message.content")
    if content is None:
        content = "\n".join(text_value(c.get("message_content.text"))
                            for c in indexed(row, "message.contents")
                            if c.get("message_content.type", "text") == "text")
    text = text_value(content)
    if role == "tool":
        name = row.get("message.name")
        return Msg("tool", text, call_id=call_id(row.get("message.tool_call_id")),
                   tool_name=name if isinstance(name, str) else None)
    if role != "assistant":
        return Msg(role, text)
    calls = [tool_call(c.get("tool_call.function.name"), c.get("tool_call.function.arguments"),
                       call_id(c.get("tool_call.id"))) for c in indexed(row, "message.tool_calls")]
    if row.get("message.function_call_name"):  # legacy single function call
        calls.append(tool_call(row["message.function_call_name"],
                               row.get("message.function_call_arguments_json")))
    return Msg("assistant", text, calls)
