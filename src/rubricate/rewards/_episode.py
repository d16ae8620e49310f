"""A trainer's (prompt, completion) turned into an Episode through the readers' own StepBuilder.

Shapes accepted for the prompt and the completion, as trainers hand them over:
- chat messages: OpenAI-style dicts (or pydantic models with `model_dump`, as verifiers passes), with
  `tool_calls` whose `arguments` are a JSON string or a dict (TRL), `tool` messages with or without
  `tool_call_id` (without: paired with calls by order, as the verifiers and TRL readers do, except where a
  result names another tool than the call its position gives: see `results_by_name`), and tool
  failures as text such as TRL's `{'error': '...'}` (Python repr), which the error rules recognise;
- text (a `str`): a rollout rendered by a chat template is read back into messages by
  `rubricate.traces.toolcalls.parse_chat_text` (Hermes/Qwen, Llama 3, Mistral, DeepSeek, gpt-oss harmony;
  `tool_format` picks one, "auto" detects it, None reads text as text). A text prompt with template markup
  is read together with its completion (the completion continues the assistant turn the prompt opened);
  plain text is one user step (prompt) or one assistant step (completion).

The steps go through `add_chat_messages`, the function the openai-chat, verifiers and TRL readers use,
so an episode scored here equals the one `score_run` scores from the same messages.

**Text-only completions.** A completion given as text in which no tool markup is found, after a prompt
that declares no tools, has no tool protocol (`Rollout.text_only`): items whose check needs tool calls
(`TOOL_CHECKS`, or any item with `needs_tools = true`) are `na` for it, not `fail`; items about the text
(answers_question, answer_correct, ...) are scored as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..rubrics import Item
from ..traces import Episode, Source
from ..traces import StepBuilder, scalar_text
from ..traces.formats.chat import add_chat_messages, first_user_text
from ..traces.toolcalls import AUTO, detect_tool_format, parse_chat_text

_SOURCE = Source("<reward>")
EPISODE_ID = "completion"  # the id of every episode scored as a reward (its verdicts' `episode_id`)


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


def _messages(part: Any) -> list[Any]:
    if not isinstance(part, list):
        part = as_plain(part)
        part = [part] if isinstance(part, dict) else part
    if not isinstance(part, list):
        raise ValueError(f"expected text or a list of chat messages, got {type(part).__name__}")
    return [as_plain(m) for m in part]


@dataclass(frozen=True)
class Rollout:
    """One sample as an Episode, with what the text said about tools: `text_only` (True: a text rollout
    with no tool markup and no tools declared; False: tools were used or offered, or the rollout came as
    messages) and `tool_calls` (calls found)."""

    episode: Episode
    text_only: bool
    tool_calls: int


def _text_messages(prompt: Any, completion: str, tool_format: str | None) -> tuple[list[Any], list[Any], bool]:
    """(prompt messages, completion messages, tools offered) of a text completion."""
    fmt = tool_format
    if fmt == AUTO:
        fmt = detect_tool_format(prompt if isinstance(prompt, str) else "") or detect_tool_format(completion)
    if isinstance(prompt, str) and fmt is not None and detect_tool_format(prompt) is not None:
        read = parse_chat_text(prompt + completion, fmt, start_role="user")
        return [], read.messages, read.tools_offered
    read = parse_chat_text(completion, fmt, start_role="assistant")
    head, offered = _prompt_messages(prompt, tool_format)
    return head, read.messages, read.tools_offered or offered


def _prompt_messages(prompt: Any, tool_format: str | None) -> tuple[list[Any], bool]:
    """(messages, tools declared) of a prompt: messages as given, rendered template text read back (less
    the empty assistant turn a generation prompt opens), plain text as one user message."""
    if prompt is None:
        return [], False
    if not isinstance(prompt, str):
        return _messages(prompt), False
    read = parse_chat_text(prompt, tool_format, start_role="user")
    messages = read.messages
    if messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"] \
            and not messages[-1].get("tool_calls"):
        messages = messages[:-1]
    return messages, read.tools_offered


def rollout_messages(prompt: Any, completion: Any, tool_format: str | None = AUTO) -> tuple[list[Any], bool]:
    """The messages of one (prompt, completion) pair, as the Episode is built from them (id-less results
    answering calls by name: `results_by_name`), and whether the rollout is text-only (`Rollout`)."""
    if isinstance(completion, str):
        head, body, offered = _text_messages(prompt, completion, tool_format)
        text_only = not offered
    else:
        head = _prompt_messages(prompt, tool_format)[0]
        body, text_only = ([] if completion is None else _messages(completion)), False
    return results_by_name(head + body), text_only


def messages_episode(messages: list[Any], *, ground_truth: Any = None, episode_id: str = EPISODE_ID,
                     metadata: dict[str, Any] | None = None) -> Episode:
    """The Episode of `rollout_messages`' messages; raises ValueError when a message is malformed."""
    builder = StepBuilder()
    add_chat_messages(builder, messages)
    return Episode(
        id=episode_id, steps=builder.steps, source=_SOURCE, format="reward",
        question=first_user_text(builder), final_answer=builder.final_answer(),
        ground_truth=scalar_text(ground_truth) if ground_truth is not None else None,
        metadata=metadata or {},
    )


def rollout_episode(prompt: Any, completion: Any, *, ground_truth: Any = None, tool_format: str | None = AUTO,
                    episode_id: str = EPISODE_ID, metadata: dict[str, Any] | None = None) -> Rollout:
    """The Rollout of one (prompt, completion) pair; raises ValueError when a message is malformed."""
    messages, text_only = rollout_messages(prompt, completion, tool_format)
    episode = messages_episode(messages, ground_truth=ground_truth, episode_id=episode_id, metadata=metadata)
    return Rollout(episode, text_only, episode.n_tool_calls)


def _call_name(call: Any) -> Any:
    fn = call.get("function")
    return (fn if isinstance(fn, dict) else call).get("name")


def _out_of_call_order(messages: list[Any]) -> bool:
    """True when no call or result carries an id and a result names another tool than the oldest unanswered
    call, while a call of its name is waiting (so that pairing by position would answer the wrong call)."""
    pending: list[Any] = []
    found = False
    for m in messages:
        if type(m) is not dict:
            return False
        role = m.get("role")
        if role == "assistant":
            for call in m.get("tool_calls") or ():
                if type(call) is not dict or call.get("id"):
                    return False
                pending.append(_call_name(call))
        elif role == "tool":
            if m.get("tool_call_id"):
                return False
            name = m.get("name")
            if pending:
                found = found or bool(name and name != pending[0] and name in pending)
                pending.pop(0)
    return found


def results_by_name(messages: list[Any]) -> list[Any]:
    """`messages`, with each id-less tool result answering the oldest unanswered call of the tool it names.

    TRL (1.16, `GRPOTrainer._tool_call_loop`) runs the sync tools of a turn in call order and gathers its
    async tools after them, and appends the results in that order, each with the tool's `name` and no call
    id: by position, a result would answer another call. Only then are the messages rewritten (copies, with
    ids `rubricate-<message>-<call>` on the calls and their results); a result whose name matches no
    waiting call still answers the oldest one. Messages already in call order are returned as they are."""
    if not _out_of_call_order(messages):
        return messages
    out: list[Any] = []
    pending: list[tuple[str, Any]] = []  # (id, tool name) of the unanswered calls, oldest first
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "assistant" and m.get("tool_calls"):
            calls = []
            for j, call in enumerate(m["tool_calls"]):
                calls.append({**call, "id": f"rubricate-{i}-{j}"})
                pending.append((calls[-1]["id"], _call_name(call)))
            m = {**m, "tool_calls": calls}
        elif role == "tool" and pending:
            name = m.get("name")
            k = next((k for k, (_, n) in enumerate(pending) if n == name), 0) if name else 0
            m = {**m, "tool_call_id": pending.pop(k)[0]}
        out.append(m)
    return out


def episode_from_messages(prompt: Any, completion: Any, *, ground_truth: Any = None, tool_format: str | None = AUTO,
                          episode_id: str = EPISODE_ID, metadata: dict[str, Any] | None = None) -> Episode:
    """The Episode of one (prompt, completion) pair; raises ValueError when a message is malformed."""
    return rollout_episode(prompt, completion, ground_truth=ground_truth, tool_format=tool_format,
                           episode_id=episode_id, metadata=metadata).episode


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
