"""A rollout's messages as one verifiers-results record, for the native kernel under `RewardScorer`.

The kernel (`rubricate.scoring.NativeItems`) scores the rubric's built-in items from a record's bytes,
the way `score_run` scores a mixed rubric's native items; it reads a verifiers-results record exactly as
the Python reader does, non-ASCII text included (an OpenAI-chat record must be ASCII). The messages
`rollout_messages` gives, those the Python path builds its Episode from, are written as

    {"prompt": [], "completion": messages, "answer": scalar_text(ground truth)}

from which the verifiers-results reader builds the same steps (`add_chat_messages`), question, final
answer and ground truth as `messages_episode` does; only the episode's id, format and source differ, and
no check reads them. Tool-call arguments given as a dict (TRL) are written as msgspec's JSON text of the
dict, which is the `arguments_raw` the Python path gives them; a call whose text does not decode back to
an equal dict (a NaN, a tuple, a non-str key) leaves the record to the Python path (`record_of` gives
None), as does anything msgspec cannot encode.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from ..traces import scalar_text
from ..traces.files import decode_json

_encode = msgspec.json.encode


class Record(NamedTuple):
    """The record's JSON bytes and the tool calls the Episode built from it would hold."""

    data: bytes
    tool_calls: int


def record_of(messages: list[Any], ground_truth: Any = None) -> Record | None:
    """The verifiers-results record of a rollout's messages, or None when it cannot stand for them."""
    try:
        out, calls = _record_messages(messages)
        record: dict[str, Any] = {"prompt": [], "completion": out}
        if ground_truth is not None:
            record["answer"] = scalar_text(ground_truth)
        return Record(_encode(record), calls)
    except Exception:  # noqa: BLE001  (not encodable as it is: the Python path scores it, or says why not)
        return None


def _record_messages(messages: list[Any]) -> tuple[list[Any], int]:
    """The messages with dict arguments as JSON text, and the number of tool calls `add_chat_messages`
    would make of them (right whenever the kernel accepts the record: it declines malformed calls)."""
    out = []
    calls = 0
    for m in messages:
        if type(m) is dict and m.get("role") == "assistant":
            raw = m.get("tool_calls")
            legacy = m.get("function_call")
            if raw and type(raw) is list:
                m = {**m, "tool_calls": [_text_arguments(c) for c in raw]}
                calls += len(raw)
            if type(legacy) is dict:
                m = {**m, "function_call": _text_arguments(legacy)}
                calls += 1
        out.append(m)
    return out, calls


def _text_arguments(call: Any) -> Any:
    """A tool call (`{"function": {"name", "arguments"}}`, or flattened) with dict arguments as JSON text;
    other calls as they are (the kernel reads them as the Python reader does, or declines them)."""
    if type(call) is not dict:
        return call
    fn = call.get("function")
    target = fn if isinstance(fn, dict) else call
    args = target.get("arguments")
    if not isinstance(args, dict):
        return call
    text = _encode(args).decode()
    if decode_json(text) != args:
        raise ValueError("the arguments do not survive JSON")
    written = {**target, "arguments": text}
    return {**call, "function": written} if target is fn else written
