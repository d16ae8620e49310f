"""Episodes turned back into the shapes trainers hand to reward functions (for the parity tests).

`to_messages` writes an Episode as OpenAI chat messages; `trl_shape` rewrites them as TRL's tool
rollouts do: `tool_calls` as `{"type": "function", "function": {"name", "arguments": dict}}`, tool
messages with `name` and no `tool_call_id`, results in the order of their calls. An explicit error flag
that the text alone would not give is kept as `is_error` (TRL itself writes failures as
`{'error': '...'}` text, which the error rules read).
"""

from __future__ import annotations

from typing import Any

from rubricate.traces import Episode, looks_like_error


def to_messages(ep: Episode, *, error_flags: bool = True) -> list[dict[str, Any]]:
    """`error_flags=False` leaves `is_error` out, as chat templates (and TRL's messages) do."""
    out: list[dict[str, Any]] = []
    steps = ep.steps
    done: set[int] = set()
    for step in steps:
        if step.index in done:
            continue
        if step.role in ("system", "user"):
            out.append({"role": step.role, "content": step.content})
        elif step.role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": step.content}
            if step.tool_calls:
                msg["tool_calls"] = [
                    {
                        "type": "function",
                        "function": {
                            "name": c.name,
                            "arguments": c.arguments if c.arguments is not None else c.arguments_raw,
                        },
                    }
                    for c in step.tool_calls
                ]
            out.append(msg)
            # the results of this step's calls, in call order (as TRL appends them)
            for c in step.tool_calls:
                if c.result_step is not None and c.result_step not in done:
                    out.append(_tool(steps[c.result_step], error_flags))
                    done.add(c.result_step)
        else:
            out.append(_tool(step, error_flags))
        done.add(step.index)
    return out


def _tool(step: Any, error_flags: bool = True) -> dict[str, Any]:
    msg = {"role": "tool", "name": step.tool_name or "", "content": step.content}
    if error_flags and step.is_error != looks_like_error(step.content):
        msg["is_error"] = step.is_error
    return msg


def split(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(prompt, completion): the messages before the first assistant message, and the rest."""
    k = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), len(messages))
    return messages[:k], messages[k:]


def tool_schemas(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A function schema (name only) for each tool the messages call, as a trainer declares its tools."""
    names = sorted({c["function"]["name"] for m in messages for c in m.get("tool_calls") or ()}) or ["noop"]
    return [{"type": "function", "function": {"name": n, "description": "", "parameters": {"type": "object",
                                                                                        "properties": {}}}}
            for n in names]
