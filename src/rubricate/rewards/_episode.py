"""A trainer's (prompt, completion) turned into an Episode through the readers' own StepBuilder.

Shapes accepted for the prompt and the completion, as trainers hand them over:
- text (a `str`): one user step (prompt) or one assistant step (completion);
- chat messages: OpenAI-style dicts (or pydantic models with `model_dump`, as verifiers passes), with
  `tool_calls` whose `arguments` are a JSON string or a dict (TRL), `tool` messages with or without
  `tool_call_id` (without: paired with calls by order, as the verifiers and TRL readers do), and tool
  failures as text such as TRL's `{'error': '...'}` (Python repr), which the error rules recognise.

The steps go through `add_chat_messages`, the function the openai-chat, verifiers and TRL readers use,
so an episode scored here equals the one `score_run` scores from the same messages.

**Text-only completions.** A completion given as text has no tool protocol: items whose check needs tool
calls (`TOOL_CHECKS`, or any item with the parameter `needs_tools = true`) are `na` for it, not `fail`;
items about the text (answers_question, answer_correct, stays_within_step_budget, ...) are scored as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rubrics import TOOL_CHECKS, Item
from ..traces import Episode, Source
from ..traces import StepBuilder, scalar_text
from ..traces.formats.chat import add_chat_messages, first_user_text

_SOURCE = Source("<reward>")


def needs_tools(item: Item) -> bool:
    """True when the item can only be judged on an episode that could call tools (`Item.needs_tools`)."""
    return item.needs_tools


def as_plain(message: Any) -> Any:
    """A message as a plain dict: dicts stay, pydantic models are dumped, other mappings are copied."""
    if type(message) is dict:
        return message
    dump = getattr(message, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True)
    if isinstance(message, Mapping):
        return dict(message)
    return message


def _add(builder: StepBuilder, part: Any, role: str) -> None:
    if part is None:
        return
    if isinstance(part, str):
        if role == "user":
            builder.message("user", part)
        else:
            builder.assistant(part, [])
        return
    if not isinstance(part, list):
        part = as_plain(part)
        part = [part] if isinstance(part, dict) else part
    if isinstance(part, list):
        part = [as_plain(m) for m in part]
    add_chat_messages(builder, part)


def episode_from_messages(prompt: Any, completion: Any, *, ground_truth: Any = None,
                          episode_id: str = "completion", metadata: dict[str, Any] | None = None) -> Episode:
    """The Episode of one (prompt, completion) pair; raises ValueError when a message is malformed."""
    builder = StepBuilder()
    _add(builder, prompt, "user")
    _add(builder, completion, "assistant")
    return Episode(
        id=episode_id, steps=builder.steps, source=_SOURCE, format="reward",
        question=first_user_text(builder), final_answer=builder.final_answer(),
        ground_truth=scalar_text(ground_truth) if ground_truth is not None else None,
        metadata=metadata or {},
    )


def input_chars(value: Any, limit: int) -> int:
    """The characters of text in a prompt or completion, counted until `limit` is passed (cheap on huge
    input: nothing is copied or parsed)."""
    total = 0
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (str, bytes, bytearray)):
            total += len(v)
        elif isinstance(v, Mapping):
            stack.extend(v.values())
            total += len(v)
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
            total += len(v)
        else:
            dump = getattr(v, "model_dump", None)
            if callable(dump):
                stack.append(dump())
            else:
                total += 8
        if total > limit:
            return total
    return total
