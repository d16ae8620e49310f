"""Tool calls in rendered chat text: a conversation written out by a model's chat template, read back
into OpenAI-style chat messages (and so into the same Episode steps as the messages themselves).

Trainers that work on token ids (verl, OpenRLHF, TRL with text completions, completion tables that log
decoded text) hand a reward function the rollout as text. The markup is taken from the models' own chat
templates (`tokenizer_config.json` `chat_template`, as copied by llama.cpp into `models/templates/`,
llama.cpp commit shipped in llama-cpp-python 0.3.36; the copies used by the tests are in
`tests/fixtures/chat-templates/`), and from the parsers of the serving stacks for what models emit:

| format | models | calls | results |
|---|---|---|---|
| `hermes` | Qwen2.5, Qwen3, QwQ, Hermes 2/3 | `<tool_call>\\n{"name": N, "arguments": A}\\n</tool_call>` in an `<\\|im_start\\|>assistant` turn | `<tool_response>\\n...\\n</tool_response>` in a `user` (Qwen) or `tool` (Hermes) turn |
| `llama3` | Llama 3.1, 3.2, 3.3 | the whole assistant turn is `{"name": N, "parameters": A}` (or `"arguments"`), optionally after `<\\|python_tag\\|>`; built-in tools as `<\\|python_tag\\|>name.call(k="v")` | an `ipython` (or `tool`) turn; the template writes the content through `tojson` |
| `mistral` | Mistral Nemo (v3 tokenizer), Small 3.1/3.2, Devstral (v7+, v11) | `[TOOL_CALLS][{"name", "arguments", "id"}, ...]` or `[TOOL_CALLS]N[CALL_ID]id[ARGS]A` / `[TOOL_CALLS]N[ARGS]A` | `[TOOL_RESULTS]{"content": ..., "call_id": id}[/TOOL_RESULTS]` or `[TOOL_RESULTS]id[TOOL_CONTENT]...[/TOOL_RESULTS]` |
| `deepseek` | DeepSeek V3, R1 (and R1 distills), V3.1 | `<｜tool▁call▁begin｜>function<｜tool▁sep｜>N\\n```json\\nA\\n```<｜tool▁call▁end｜>` (V3/R1) or `<｜tool▁call▁begin｜>N<｜tool▁sep｜>A<｜tool▁call▁end｜>` (V3.1) | `<｜tool▁output▁begin｜>...<｜tool▁output▁end｜>` |
| `harmony` | gpt-oss | a message to `functions.N`: `<\\|start\\|>assistant<\\|channel\\|>commentary to=functions.N <\\|constrain\\|>json<\\|message\\|>A<\\|call\\|>` (the template writes `to=` before the channel) | `<\\|start\\|>functions.N to=assistant<\\|channel\\|>commentary<\\|message\\|>...<\\|end\\|>` |

`parse_chat_text(text)` detects the format from the markup (`tool_format="auto"`) or takes the one given.
Text that starts without a role marker continues the turn of `start_role` (a completion continues the
assistant turn its prompt opened). Arguments that a template wrote through `tojson` while they were a
JSON string (DeepSeek, Mistral, gpt-oss do this) are decoded twice. Reasoning (`<think>...</think>`)
harmony's `analysis` channel before a final answer) is kept as written, except harmony's analysis message
before a final answer in the same turn, which gpt-oss's own template drops from history.

Decoded with special tokens removed (verl's reward managers decode with `skip_special_tokens=True`), only
markup made of ordinary tokens survives: Qwen's `<tool_call>` / `<tool_response>` are ordinary added
tokens, so Hermes-style text still parses (the bare `user` / `assistant` lines between turns are
recognised); Llama, Mistral and gpt-oss markup is made of special tokens and is gone from such text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

TOOL_FORMATS = ("hermes", "llama3", "mistral", "deepseek", "harmony")
AUTO = "auto"

Message = dict[str, Any]

# The markup each format is recognised by, most specific first (a Hermes-2-Pro-on-Llama template mixes
# Llama headers with <tool_call>, so hermes is tried before llama3).
_SIGNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("harmony", re.compile(r"<\|channel\|>|<\|start\|>(?:assistant|functions\.|user|system|developer)")),
    ("deepseek", re.compile(r"<｜(?:tool▁calls?▁begin|tool▁outputs?▁begin|Assistant|User|begin▁of▁sentence)｜>")),
    ("mistral", re.compile(r"\[(?:TOOL_CALLS|TOOL_RESULTS|AVAILABLE_TOOLS|/?INST|SYSTEM_PROMPT)\]")),
    ("hermes", re.compile(r"<tool_call>|<tool_response>|<\|im_start\|>")),
    ("llama3", re.compile(r"<\|start_header_id\|>|<\|python_tag\|>|<\|eot_id\|>")),
)
_TOOLS_OFFERED = re.compile(
    r"<tools>|\[AVAILABLE_TOOLS\]|Environment: ipython|namespace functions \{|"
    r"Given the following functions, please respond"
)
from ._json import decode_json


def _loads(text: str) -> Any:
    """json.loads with the readers' nesting limit: JSON nested too deeply is a ValueError, never a
    RecursionError (a rollout is data, not a crash)."""
    return decode_json(text, json.loads)


@dataclass
class ChatText:
    """Rendered chat text read back: the messages, the format found, and whether tools were offered
    (a tool declaration, call or result appears in the text)."""

    messages: list[Message] = field(default_factory=list)
    tool_format: str | None = None
    tools_offered: bool = False

    @property
    def tool_calls(self) -> int:
        return sum(len(m.get("tool_calls") or ()) for m in self.messages)


def detect_tool_format(text: str) -> str | None:
    """The template family whose markup `text` carries, or None for plain text."""
    for name, sign in _SIGNS:
        if sign.search(text):
            return name
    if _llama_call(text.strip()) is not None:
        return "llama3"
    return None


def tools_offered(text: str) -> bool:
    """Whether `text` (a rendered prompt) declares tools to the model."""
    return bool(_TOOLS_OFFERED.search(text))


def parse_chat_text(text: str, tool_format: str | None = AUTO, *, start_role: str = "assistant") -> ChatText:
    """Read rendered chat text back into OpenAI-style messages (see the module docstring).

    `tool_format`: "auto" (detect), one of `TOOL_FORMATS`, or None (plain text: one message of
    `start_role`). Text without any recognised markup is one message of `start_role`."""
    if tool_format == AUTO:
        tool_format = detect_tool_format(text)
    elif tool_format is not None and tool_format not in TOOL_FORMATS:
        raise ValueError(f"unknown tool_format {tool_format!r}: one of auto, {', '.join(TOOL_FORMATS)}")
    if tool_format is None:
        messages = [{"role": start_role, "content": text}] if text else []
        return ChatText(messages, None, False)
    messages = _PARSERS[tool_format](text, start_role)
    messages = _merge_empty(messages)
    offered = tools_offered(text) or any(m["role"] == "tool" or m.get("tool_calls") for m in messages)
    return ChatText(messages, tool_format, offered)


# ---------------------------------------------------------------- shared pieces

def _arguments(raw: str) -> Any:
    """Arguments as the model wrote them: a JSON object when they parse as one (a JSON string holding
    JSON, as `tojson` writes a string argument, is decoded once more); else the raw text, which the
    Episode keeps with the reason it is not an object."""
    text = raw.strip()
    try:
        value = _loads(text)
    except ValueError:
        return text
    if isinstance(value, str):
        try:
            inner = _loads(value)
        except ValueError:
            return value
        return inner if isinstance(inner, dict) else value
    return value if isinstance(value, dict) else text


def _string(raw: str) -> str:
    """Tool output that a template wrote through `tojson` (a JSON string literal) as its text."""
    text = raw.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            value = _loads(text)
        except ValueError:
            return raw
        if isinstance(value, str):
            return value
    return raw


def _call(name: Any, arguments: Any, call_id: Any = None) -> Message:
    call: Message = {"type": "function", "function": {"name": "" if name is None else str(name),
                                                      "arguments": arguments}}
    if call_id not in (None, ""):
        call["id"] = str(call_id)
    return call


_EMPTY_THINK = re.compile(r"^\s*<think>\s*</think>\s*")


def _assistant(content: str, calls: list[Message]) -> Message:
    """An assistant message: its text as written (reasoning such as `<think>...</think>` included, as
    the messages would hold it; an empty think block, which Qwen3's template writes, left out), trimmed
    only around the calls the template wrote after it."""
    content = _EMPTY_THINK.sub("", content)
    msg: Message = {"role": "assistant", "content": content.strip() if calls else content}
    if calls:
        msg["tool_calls"] = calls
    return msg


def _merge_empty(messages: list[Message]) -> list[Message]:
    """Drop empty assistant messages without calls that follow another assistant message (templates
    that close a tool-call turn with an empty one); other messages are kept as read."""
    out: list[Message] = []
    for m in messages:
        if (m["role"] == "assistant" and not m.get("content") and not m.get("tool_calls") and out
                and out[-1]["role"] == "assistant"):
            continue
        out.append(m)
    return out


def _json_call(body: str) -> Message | None:
    """A `{"name": ..., "arguments"|"parameters": ...}` object as a call (None when it is not one)."""
    try:
        value = _loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    args = value.get("arguments", value.get("parameters"))
    if isinstance(args, str):
        args = _arguments(args)
    return _call(value["name"], {} if args is None else args, value.get("id"))


def _broken_call(body: str) -> Message:
    """A call whose JSON does not parse: its name if one can be read, and the raw text as arguments."""
    name = re.search(r'"name"\s*:\s*"([^"]*)"', body)
    return _call(name.group(1) if name else "", body.strip())


# ---------------------------------------------------------------- hermes (Qwen, Hermes)

_IM_TURN = re.compile(r"<\|im_start\|>([a-z_]+)\n?(.*?)(?:<\|im_end\|>|(?=<\|im_start\|>)|\Z)", re.DOTALL)
_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_TOOL_RESPONSE = re.compile(r"<tool_response>\n?(.*?)\n?</tool_response>", re.DOTALL)
# decoded without special tokens, `<|im_end|>\n<|im_start|>user\n` is left as `\nuser\n`
_BARE_USER = re.compile(r"(?:^|\n)user\n(?=<tool_response>)")
_BARE_ASSISTANT = re.compile(r"(?<=</tool_response>)\nassistant\n")


def _hermes(text: str, start_role: str) -> list[Message]:
    if "<|im_start|>" not in text:
        text = _BARE_USER.sub("<|im_end|>\n<|im_start|>user\n", text)
        text = _BARE_ASSISTANT.sub("<|im_end|>\n<|im_start|>assistant\n", text)
    messages: list[Message] = []
    first = text.find("<|im_start|>")
    head = text if first < 0 else text[:first]
    for token in ("<|im_end|>", "<|endoftext|>", "<|begin_of_text|>"):
        head = head.replace(token, "")
    if head.strip():
        messages += _hermes_turn(start_role, head)
    if first >= 0:
        for match in _IM_TURN.finditer(text, first):
            messages += _hermes_turn(match.group(1), match.group(2).replace("<|endoftext|>", ""))
    return messages


def _hermes_turn(role: str, body: str) -> list[Message]:
    if role == "assistant":
        calls = []
        for m in _TOOL_CALL.finditer(body):
            calls.append(_json_call(m.group(1).strip()) or _broken_call(m.group(1)))
        return [_assistant(_TOOL_CALL.sub("", body), calls)]
    responses = _TOOL_RESPONSE.findall(body)
    if responses:
        rest = _TOOL_RESPONSE.sub("", body).strip()
        out = [{"role": "tool", "content": r} for r in responses]
        return out + ([{"role": "user", "content": rest}] if rest else [])
    if role == "tool":
        return [{"role": "tool", "content": body.strip()}]
    return [{"role": role, "content": body}]


# ---------------------------------------------------------------- llama3

_HEADER = re.compile(r"<\|start_header_id\|>([a-z_]+)<\|end_header_id\|>\n\n(.*?)(?:<\|eot_id\|>|<\|eom_id\|>|"
                     r"(?=<\|start_header_id\|>)|\Z)", re.DOTALL)
_BUILTIN = re.compile(r"^([A-Za-z_][\w]*)\.call\((.*)\)\s*$", re.DOTALL)
_KWARG = re.compile(r'([A-Za-z_]\w*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def _llama3(text: str, start_role: str) -> list[Message]:
    text = text.replace("<|begin_of_text|>", "").replace("<|end_of_text|>", "")
    messages: list[Message] = []
    first = text.find("<|start_header_id|>")
    head = text if first < 0 else text[:first]
    head = head.replace("<|eot_id|>", "").replace("<|eom_id|>", "")
    if head.strip():
        messages.append(_llama_turn(start_role, head))
    if first >= 0:
        messages += [_llama_turn(m.group(1), m.group(2)) for m in _HEADER.finditer(text, first)]
    return messages


def _llama_turn(role: str, body: str) -> Message:
    if role in ("ipython", "tool"):
        return {"role": "tool", "content": _string(body)}
    if role != "assistant":
        return {"role": role, "content": body.strip() if role == "system" else body}
    calls = _llama_call(body.strip())
    if calls is None:
        return _assistant(body.replace("<|python_tag|>", ""), [])
    return _assistant("", calls)


def _llama_call(body: str) -> list[Message] | None:
    """The calls of a Llama assistant turn: JSON (one object, or several joined by `;`), or a built-in
    tool's `name.call(k="v")` after `<|python_tag|>`; None when the turn is text."""
    tagged = body.startswith("<|python_tag|>")
    if tagged:
        body = body[len("<|python_tag|>"):].strip()
        builtin = _BUILTIN.match(body)
        if builtin:
            args = {k: _loads(f'"{v}"') for k, v in _KWARG.findall(builtin.group(2))}
            return [_call(builtin.group(1), args)]
    if not body.startswith("{"):
        return None
    calls = [_json_call(part.strip()) for part in body.split(";")] if ";" in body else [_json_call(body)]
    if all(c is not None and _has_params(body) for c in calls):
        return calls  # type: ignore[return-value]
    return [_broken_call(body)] if tagged else None


def _has_params(body: str) -> bool:
    return '"parameters"' in body or '"arguments"' in body


# ---------------------------------------------------------------- mistral

_MISTRAL_MARK = re.compile(r"\[(?:INST|/INST|TOOL_CALLS|TOOL_RESULTS|/TOOL_RESULTS|AVAILABLE_TOOLS|"
                           r"/AVAILABLE_TOOLS|SYSTEM_PROMPT|/SYSTEM_PROMPT)\]|</s>|<s>")
_NEW_CALL = re.compile(r"([^\[\]{}\s]+)(?:\[CALL_ID\]([^\[]*))?\[ARGS\]")
_NEMO_RESULT = re.compile(r'^\{"content": (.*), "call_id": "([^"]*)"\}$', re.DOTALL)


def _mistral(text: str, start_role: str) -> list[Message]:
    messages: list[Message] = []
    role, pos = start_role, 0
    for mark in _MISTRAL_MARK.finditer(text):
        _mistral_chunk(messages, role, text[pos:mark.start()])
        token, pos = mark.group(0), mark.end()
        role = {"[INST]": "user", "[/INST]": "assistant", "[TOOL_CALLS]": "calls", "[TOOL_RESULTS]": "result",
                "[/TOOL_RESULTS]": "assistant", "[SYSTEM_PROMPT]": "system", "[AVAILABLE_TOOLS]": "skip",
                "[/AVAILABLE_TOOLS]": "skip", "</s>": "skip", "<s>": "skip",
                "[/SYSTEM_PROMPT]": "skip"}[token]
    _mistral_chunk(messages, role, text[pos:])
    return messages


def _mistral_chunk(messages: list[Message], role: str, chunk: str) -> None:
    if role == "skip":
        return
    if role == "calls":
        calls = _mistral_calls(chunk)
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).extend(calls)
        else:
            messages.append(_assistant("", calls))
    elif role == "result":
        messages.append(_mistral_result(chunk))
    elif role == "assistant":
        if chunk.strip():
            messages.append(_assistant(chunk, []))
    elif chunk or role != "user":
        messages.append({"role": role, "content": chunk})


def _mistral_calls(chunk: str) -> list[Message]:
    body = chunk.strip()
    if body.startswith("["):
        try:
            value = _loads(body)
        except ValueError:
            return [_broken_call(body)]
        calls = [_json_call(json.dumps(v)) if isinstance(v, dict) else None for v in value] if isinstance(
            value, list) else [None]
        return [c if c is not None else _broken_call(body) for c in calls]
    head = _NEW_CALL.match(body)
    if head is None:
        return [_broken_call(body)]
    return [_call(head.group(1), _arguments(body[head.end():]), head.group(2))]


def _mistral_result(chunk: str) -> Message:
    if "[TOOL_CONTENT]" in chunk:
        call_id, content = chunk.split("[TOOL_CONTENT]", 1)
        return {"role": "tool", "content": content, "tool_call_id": call_id.strip()}
    nemo = _NEMO_RESULT.match(chunk.strip())
    if nemo:
        return {"role": "tool", "content": nemo.group(1), "tool_call_id": nemo.group(2)}
    return {"role": "tool", "content": chunk}


# ---------------------------------------------------------------- deepseek

_DS_MARK = re.compile(r"<｜(begin▁of▁sentence|end▁of▁sentence|User|Assistant|tool▁calls▁begin|tool▁calls▁end|"
                      r"tool▁call▁begin|tool▁call▁end|tool▁outputs▁begin|tool▁outputs▁end|tool▁output▁begin|"
                      r"tool▁output▁end)｜>")
_DS_V3_CALL = re.compile(r"^\s*function<｜tool▁sep｜>(.*?)\n```(?:json)?\n(.*?)\n```\s*$", re.DOTALL)


def _deepseek(text: str, start_role: str) -> list[Message]:
    messages: list[Message] = []
    role, pos = start_role, 0
    for mark in _DS_MARK.finditer(text):
        role = _ds_chunk(messages, role, text[pos:mark.start()])
        token, pos = mark.group(1), mark.end()
        if token == "User":
            role = "user"
        elif token in ("Assistant", "tool▁output▁end", "tool▁outputs▁end"):
            role = "assistant"
        elif token == "tool▁call▁begin":
            role = "call"
        elif token == "tool▁output▁begin":
            role = "output"
        elif token in ("end▁of▁sentence", "begin▁of▁sentence", "tool▁call▁end"):
            role = "between" if token == "tool▁call▁end" else "none"
    _ds_chunk(messages, role, text[pos:])
    return _ds_content_after_calls(messages)


def _ds_content_after_calls(messages: list[Message]) -> list[Message]:
    """The R1/V3 template writes an assistant message's text after its calls, as a turn of its own
    (`<｜Assistant｜>text`); it belongs to the message that made the calls."""
    out: list[Message] = []
    for m in messages:
        prev = out[-1] if out else None
        if (prev is not None and m["role"] == "assistant" and not m.get("tool_calls") and prev["role"] == "assistant"
                and prev.get("tool_calls") and not prev["content"]):
            prev["content"] = m["content"]
            continue
        out.append(m)
    return out


def _ds_chunk(messages: list[Message], role: str, chunk: str) -> str:
    if role == "call":
        v3 = _DS_V3_CALL.match(chunk)
        if v3:
            call = _call(v3.group(1).strip(), _arguments(v3.group(2)))
        elif "<｜tool▁sep｜>" in chunk:
            name, args = chunk.split("<｜tool▁sep｜>", 1)
            call = _call(name.strip(), _arguments(args))
        else:
            call = _broken_call(chunk)
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append(_assistant("", [call]))
    elif role == "output":
        messages.append({"role": "tool", "content": chunk})
    elif role == "assistant" and chunk:
        messages.append(_assistant(chunk, []))
    elif role == "user":
        messages.append({"role": "user", "content": chunk})
    elif role == "none" and chunk.strip():
        messages.append({"role": "system", "content": chunk})
    return role


# ---------------------------------------------------------------- harmony (gpt-oss)

_HARMONY_MSG = re.compile(r"(?:<\|start\|>)?([^<]*?(?:<\|channel\|>[^<]*)?(?:<\|constrain\|>[^<]*)?)<\|message\|>"
                          r"(.*?)(?:<\|end\|>|<\|call\|>|<\|return\|>|(?=<\|start\|>)|\Z)", re.DOTALL)
_RECIPIENT = re.compile(r"to=(functions\.[^\s<]+|[^\s<]+)")


def _harmony(text: str, start_role: str) -> list[Message]:
    messages: list[Message] = []
    for match in _HARMONY_MSG.finditer(text):
        header, body = match.group(1), match.group(2)
        role_part, _, rest = header.partition("<|channel|>")
        role = role_part.split(" to=")[0].strip() or start_role
        channel = rest.split(" ")[0].split("<")[0].strip() if rest else ""
        recipient = _RECIPIENT.search(header)
        target = recipient.group(1) if recipient else ""
        if role.startswith("functions."):
            messages.append({"role": "tool", "name": role[len("functions."):], "content": _string(body)})
        elif role == "assistant" and target.startswith("functions."):
            _harmony_call(messages, _call(target[len("functions."):], _arguments(body)))
        elif role == "assistant":
            _harmony_text(messages, channel, body)
        elif role in ("system", "developer", "user"):
            messages.append({"role": "user" if role == "user" else "system", "content": body})
    for m in messages:
        m.pop("_analysis", None)
    return messages


def _harmony_call(messages: list[Message], call: Message) -> None:
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and (last.get("_analysis") or last.get("tool_calls")):
        last.setdefault("tool_calls", []).append(call)
    else:
        messages.append(_assistant("", [call]))


def _harmony_text(messages: list[Message], channel: str, body: str) -> None:
    last = messages[-1] if messages else None
    if channel == "analysis":
        messages.append({**_assistant(body, []), "_analysis": True})
    elif last is not None and last.get("_analysis") and not last.get("tool_calls"):
        messages[-1] = _assistant(body, [])  # reasoning before the answer is not answer text
    else:
        messages.append(_assistant(body, []))


_PARSERS = {"hermes": _hermes, "llama3": _llama3, "mistral": _mistral, "deepseek": _deepseek,
            "harmony": _harmony}
