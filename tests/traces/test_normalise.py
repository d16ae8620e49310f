"""Tool-call arguments and tool-error detection, directly and through the readers."""

from __future__ import annotations

import pytest

from rubricate.testing import assert_episode_invariants, call, episode, result, user
from rubricate.traces import Episode, Source, get_format, load_episodes, looks_like_error, parse_arguments

from .conftest import DAMAGED


class TestArguments:
    def test_json_string_is_parsed_and_kept_raw(self):
        raw = '{"query": "x", "k": 3}'
        assert parse_arguments(raw) == ({"query": "x", "k": 3}, raw, None)

    def test_dict_is_kept_parsed_with_its_json_text(self):
        parsed, raw, error = parse_arguments({"location": "Paris", "days": [1, 2]})
        assert parsed == {"location": "Paris", "days": [1, 2]}
        assert raw == '{"location":"Paris","days":[1,2]}'
        assert error is None

    def test_empty_or_missing_is_an_empty_object(self):
        assert parse_arguments(None) == ({}, "", None)
        assert parse_arguments("") == ({}, "", None)

    @pytest.mark.parametrize("raw", ['{"order_id": 7', "{'a': 1}", "order_id=7", '{"a": 1}}'])
    def test_invalid_json_is_kept_raw_with_an_error(self, raw):
        parsed, kept, error = parse_arguments(raw)
        assert parsed is None
        assert kept == raw
        assert error and error.startswith("arguments are not valid JSON")

    @pytest.mark.parametrize(("raw", "kind"), [("[1, 2]", "list"), ('"text"', "str"), ("42", "int")])
    def test_json_that_is_not_an_object(self, raw, kind):
        parsed, kept, error = parse_arguments(raw)
        assert (parsed, kept) == (None, raw)
        assert error == f"arguments are a JSON {kind}, not an object"

    def test_non_string_non_dict_value(self):
        assert parse_arguments([1, 2]) == (None, "[1,2]", "arguments are a JSON list, not an object")

    def test_reader_keeps_invalid_arguments_raw(self):
        traces = load_episodes(DAMAGED)
        ep = next(e for e in traces if e.id == "raw-args")
        call_ = ep.steps[1].tool_calls[0]
        assert call_.name == "get_order"
        assert call_.arguments is None
        assert call_.arguments_raw == '{"order_id": 7'
        assert call_.arguments_error.startswith("arguments are not valid JSON")
        # the call still pairs with its result; the bad arguments are not a load issue
        assert call_.result_step == 2 and ep.steps[2].call_step == 1
        assert all(i.line != 9 for i in traces.issues)

    def test_responses_reader_keeps_invalid_arguments_raw(self):
        record = {"input": "Add 1 and 2", "output": [
            {"type": "function_call", "call_id": "c1", "name": "add", "arguments": '{"a": 1, "b": '},
            {"type": "function_call_output", "call_id": "c1", "output": "Error: bad arguments"}]}
        ep = get_format("openai-responses").episode(record, Source("x.jsonl", line=1), None)
        c = ep.steps[1].tool_calls[0]
        assert (c.arguments, c.arguments_raw) == (None, '{"a": 1, "b": ')
        assert c.arguments_error
        assert ep.steps[2].is_error


POSITIVES = [
    "Error: flight HAT030 not available on date 2024-05-13",
    "error: no such table",
    "OperationalError: no such column: revenue",
    "sqlite3.OperationalError: near \"SELEC\": syntax error",
    '{"error": "x"}',
    '{"status": 500, "error": "internal"}',
    "{'error': 'x'}",
    "Traceback (most recent call last):\n  File \"tool.py\", line 3, in <module>\nKeyError: 'a'",
    "result so far\nTraceback (most recent call last):\n  File \"x\", line 1\nZeroDivisionError: oops",
    "Invalid section_id format. Expected: page_id:section_name",
    "Section not found: quran:quran_96",
    "  Exception: timeout after 30s",
    "Failed to connect to database",
    "Unknown table 'revenue'",
    "No such file or directory: 'data.csv'",
    "Permission denied",
    "Could not resolve host",
]
NEGATIVES = [
    "",
    '{"error": null}',
    '{"error": ""}',
    '{"error": false, "rows": 3}',
    "{'error': None, 'result': 4}",
    "metric | 2023 | 2024\nrevenue | 64,069 | 71,230",
    "[{'page_id': 'johnny_galecki', 'title': 'Johnny Galecki'}]",
    "The function returned no error and the total is 42.",
    "Mean squared error was 0.12 on the validation set.",
    "### Television\n",
    '{"solution": -0.6536436208636119}',
    "Transfer successful",
    "[]",
]


@pytest.mark.parametrize("text", POSITIVES)
def test_looks_like_error_positives(text):
    assert looks_like_error(text)


@pytest.mark.parametrize("text", NEGATIVES)
def test_looks_like_error_negatives(text):
    assert not looks_like_error(text)


def test_heuristics_apply_only_without_an_explicit_flag():
    ep = episode(
        user("q"),
        call("a"), result("Error: boom"),                   # heuristics: error
        call("b"), result("Error: in the log", error=False),  # explicit flag wins
        call("c"), result("all fine", error=True),           # explicit flag wins
        call("d"), result("all fine"),
    )
    assert_episode_invariants(ep)
    assert [s.is_error for s in ep.steps if s.role == "tool"] == [True, False, True, False]


@pytest.mark.parametrize(("flag", "expected"), [(False, False), (True, True), (None, True), ("yes", True)])
def test_chat_tool_message_is_error_flag(flag, expected):
    """A boolean `is_error` on a chat tool message wins; anything else falls back to the heuristics."""
    tool = {"role": "tool", "tool_call_id": "c1", "content": "Error: text that reads like a failure"}
    if flag is not None:
        tool["is_error"] = flag
    record = {"messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        tool]}
    ep = get_format("openai-chat").episode(record, Source("x.jsonl", line=1), None)
    assert isinstance(ep, Episode)
    assert ep.steps[2].is_error is expected


@pytest.mark.parametrize(("flag", "expected"), [(False, False), (True, True), (None, True)])
def test_anthropic_is_error_flag_wins(flag, expected):
    block = {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "Error: x"}]}
    if flag is not None:
        block["is_error"] = flag
    record = {"messages": [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [block]}]}
    ep = get_format("anthropic-messages").episode(record, Source("x.jsonl", line=1), None)
    assert ep.steps[2].is_error is expected
    assert ep.steps[1].tool_calls[0].arguments == {} and ep.steps[1].tool_calls[0].arguments_raw == "{}"
