"""`rubricate.traces.toolcalls`: rendered chat text read back into messages, per template family.

Each case renders one tool rollout (two calls, an error and a retry, a final answer) through a real chat
template (`tests/fixtures/chat-templates/`) and reads it back; the corpus-wide parity of rewards is in
tests/rewards/test_template_parity.py."""

from __future__ import annotations

import pytest

from rubricate.traces.toolcalls import TOOL_FORMATS, detect_tool_format, parse_chat_text, tools_offered

from ._render import FAMILIES, render

TOOLS = [{"type": "function", "function": {"name": "search", "description": "s",
                                           "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]
ROLLOUT = [
    {"role": "system", "content": "Use tools."},
    {"role": "user", "content": "When was X founded?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "abcdefghi", "type": "function", "function": {"name": "search", "arguments": {"q": "X"}}}]},
    {"role": "tool", "tool_call_id": "abcdefghi", "name": "search", "content": "Error: not found"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "bcdefghij", "type": "function", "function": {"name": "search", "arguments": {"q": "X corp"}}}]},
    {"role": "tool", "tool_call_id": "bcdefghij", "name": "search", "content": "X was founded in 1901."},
    {"role": "assistant", "content": "X was founded in 1901."},
]


@pytest.mark.parametrize("template", sorted(FAMILIES))
def test_a_rendered_rollout_reads_back_into_its_messages(template):
    fmt = FAMILIES[template][0]
    full = render(template, ROLLOUT, tools=TOOLS)
    assert detect_tool_format(full) == fmt
    read = parse_chat_text(full)
    assert read.tool_format == fmt and read.tools_offered and read.tool_calls == 2
    calls = [c["function"] for m in read.messages for c in m.get("tool_calls") or ()]
    assert calls == [{"name": "search", "arguments": {"q": "X"}}, {"name": "search", "arguments": {"q": "X corp"}}]
    tools = [m["content"] for m in read.messages if m["role"] == "tool"]
    assert tools == ["Error: not found", "X was founded in 1901."]
    assert read.messages[-1] == {"role": "assistant", "content": "X was founded in 1901."}
    assert parse_chat_text(full, fmt).messages == read.messages  # the explicit format reads the same


def test_hermes_text_decoded_without_special_tokens():
    """verl decodes with skip_special_tokens=True: `<|im_start|>`/`<|im_end|>` are gone, `<tool_call>` stays."""
    text = ('<tool_call>\n{"name": "search", "arguments": {"q": "X"}}\n</tool_call>\nuser\n<tool_response>\n'
            'X was founded in 1901.\n</tool_response>\nassistant\nIt was 1901.')
    read = parse_chat_text(text)
    assert [m["role"] for m in read.messages] == ["assistant", "tool", "assistant"]
    assert read.messages[-1]["content"] == "It was 1901."


def test_model_output_shapes_beyond_the_templates():
    # gpt-oss writes `to=` after the channel and `<|constrain|>json` (harmony's own format)
    harmony = ('<|channel|>analysis<|message|>I should search.<|end|><|start|>assistant<|channel|>commentary '
               'to=functions.search <|constrain|>json<|message|>{"q": "X"}<|call|>')
    read = parse_chat_text(harmony)
    assert read.messages[-1]["tool_calls"][0]["function"] == {"name": "search", "arguments": {"q": "X"}}
    # Llama 3.1 built-in tools after <|python_tag|>
    llama = '<|python_tag|>brave_search.call(query="X founded")<|eom_id|>'
    assert parse_chat_text(llama, "llama3").messages[0]["tool_calls"][0]["function"] == {
        "name": "brave_search", "arguments": {"query": "X founded"}}
    # Devstral / Mistral v11 without call ids
    mistral = '[TOOL_CALLS]search[ARGS]{"q": "X"}</s>'
    assert parse_chat_text(mistral).messages[0]["tool_calls"][0]["function"]["arguments"] == {"q": "X"}


def test_broken_calls_are_kept_with_their_raw_text():
    read = parse_chat_text('<tool_call>\n{"name": "search", "arguments": {"q": \n</tool_call>')
    call = read.messages[0]["tool_calls"][0]["function"]
    assert call["name"] == "search" and isinstance(call["arguments"], str)


def test_plain_text_and_explicit_none():
    assert detect_tool_format("It was founded in 1901.") is None
    read = parse_chat_text("It was founded in 1901.")
    assert read.messages == [{"role": "assistant", "content": "It was founded in 1901."}] and not read.tools_offered
    assert parse_chat_text("<tool_call>{}</tool_call>", None).tool_calls == 0
    assert tools_offered(render("Qwen-Qwen2.5-7B-Instruct", ROLLOUT[:2], tools=TOOLS))
    with pytest.raises(ValueError, match="unknown tool_format"):
        parse_chat_text("x", "chatml")
    assert set(TOOL_FORMATS) == {f for f, _ in FAMILIES.values()}


def test_trl_completion_tables_with_rendered_text_read_the_calls():
    """A `log_completions` table row holds decoded text; its tool calls become steps."""
    from rubricate.traces import Source, get_format

    template = "Qwen-Qwen2.5-7B-Instruct"
    prompt = render(template, ROLLOUT[:2], tools=TOOLS, add_generation_prompt=True)
    completion = render(template, ROLLOUT, tools=TOOLS)[len(prompt):]
    row = {"step": 3, "prompt": prompt, "completion": completion, "rubric_reward": 1.0}
    episode = get_format("trl-completions").episode(row, Source("completions_00003.parquet", index=0),
                                                    ["rubric_reward"], 3)
    assert [s.role for s in episode.steps] == ["system", "user", "assistant", "tool", "assistant", "tool",
                                               "assistant"]
    assert episode.n_tool_calls == 2 and episode.steps[3].is_error and episode.final_answer == "X was founded in 1901."
