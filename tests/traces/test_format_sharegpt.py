"""sharegpt: LLaMA-Factory ShareGPT records (`conversations` of `{from, value}` turns with function_call
and observation; hand-built fixture, see tests/fixtures/sharegpt/README.md)."""

from __future__ import annotations

import json

from rubricate.traces import Source, detect, get_format

from .conftest import FIXTURES, FORMAT_FIXTURES, roles as _roles, load_checked

FIXTURE = FIXTURES / "sharegpt" / "toolcall.jsonl"


_load = load_checked


def _write(path, records) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


class TestFixture:
    def setup_method(self):
        self.episodes, issues = _load(FIXTURE)
        assert issues == []
        assert all(ep.format == "sharegpt" for ep in self.episodes)

    def test_ids_and_sources(self):
        assert [ep.id for ep in self.episodes] == \
            ["toolcall.jsonl:1", "toolcall.jsonl:2", "sharegpt-quicksort-17"]
        assert [ep.source for ep in self.episodes] == [Source("toolcall.jsonl", line=i) for i in (1, 2, 3)]

    def test_function_calls_observations_and_a_failed_call(self):
        ep = self.episodes[0]
        assert _roles(ep) == "SUATAUATA"
        # the top-level `system` comes first
        assert ep.steps[0].content == "You are a helpful assistant with access to currency tools."
        assert ep.question == "What is the exchange rate from US dollars to euros today?"
        rate, convert = ep.steps[2].tool_calls[0], ep.steps[6].tool_calls[0]
        assert (rate.name, rate.arguments, rate.id, rate.result_step) == \
            ("get_exchange_rate", {"base_currency": "USD", "target_currency": "EUR"}, None, 3)
        assert (convert.name, convert.arguments, convert.result_step) == \
            ("convert_currency", {"amount": 250, "from": "GBP", "to": "JPY"}, 7)
        assert (ep.steps[3].content, ep.steps[3].tool_name, ep.steps[3].is_error) == \
            ('{"exchange_rate": 0.8524}', "get_exchange_rate", False)
        assert ep.steps[7].content == '{"error": "Currency pair GBP/JPY is not supported"}'
        assert (ep.steps[7].call_step, ep.steps[7].is_error) == (6, True)  # a non-empty `error` key
        assert ep.final_answer.startswith("I'm sorry, I can't convert British pounds")
        assert ep.metadata == {"tools": ["get_exchange_rate", "convert_currency"]}

    def test_parallel_calls_answered_by_one_joined_observation(self):
        ep = self.episodes[1]
        assert _roles(ep) == "SUATTA"
        assert ep.steps[0].content == "Answer weather questions with the get_current_weather tool."
        assert [(c.arguments, c.result_step) for c in ep.steps[2].tool_calls] == [
            ({"city": "Madrid"}, 3), ({"city": "Oslo"}, 4)]
        assert [ep.steps[i].content for i in (3, 4)] == ['{"city": "Madrid", "temperature_c": 24}',
                                                         '{"city": "Oslo", "temperature_c": 9}']
        assert ep.final_answer == "Madrid is warmer: 24 °C against 9 °C in Oslo."

    def test_messages_key_with_from_value_turns(self):
        ep = self.episodes[2]
        assert _roles(ep) == "UAUA"
        assert ep.n_tool_calls == 0
        assert ep.final_answer.startswith("O(n^2)")
        assert ep.metadata == {}


def test_sniff_wants_from_value_turns():
    fmt = get_format("sharegpt")
    assert fmt.sniff_record({"conversations": [{"from": "human", "value": "hi"}]})
    assert fmt.sniff_record({"messages": [{"from": "gpt", "value": "hi"}]})
    assert not fmt.sniff_record({"messages": [{"role": "user", "content": "hi"}]})
    assert not fmt.sniff_record({"conversations": []})
    assert detect(str(FORMAT_FIXTURES["openai-chat"])).chosen == "openai-chat"


def test_edge_cases(tmp_path):
    path = tmp_path / "edge.jsonl"
    _write(path, [
        # not JSON in a function_call; tools as a list; a top-level system ignored after a system turn
        {"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "go"},
                           {"from": "function_call", "value": "search(q='x')"},
                           {"from": "observation", "value": "ok"}],
         "system": "ignored", "tools": [{"type": "function", "function": {"name": "search"}}], "reward": 0.5},
        # a joined observation whose pieces do not match the calls stays one result
        {"conversations": [{"from": "human", "value": "two"},
                           {"from": "function_call", "value": json.dumps([{"name": "a", "arguments": {}},
                                                                          {"name": "b", "arguments": "{}"}])},
                           {"from": "observation", "value": "only one result"},
                           {"from": "observation", "value": "second"}]},
    ])
    (first, second), issues = _load(path)
    assert issues == []
    assert [(s.role, s.content) for s in first.steps[:2]] == [("system", "S"), ("user", "go")]
    call = first.steps[2].tool_calls[0]
    assert (call.name, call.arguments, call.arguments_raw) == ("", None, "search(q='x')")
    assert call.arguments_error and call.arguments_error.startswith("arguments are not valid JSON")
    assert first.steps[3].call_step == 2 and first.final_answer is None
    assert (first.reward, first.metadata) == (0.5, {"tools": ["search"]})
    assert [(s.role, s.content, s.call_step) for s in second.steps[2:]] == [
        ("tool", "only one result", 1), ("tool", "second", 1)]
    assert [c.result_step for c in second.steps[1].tool_calls] == [2, 3]


def test_damaged_records_are_issues_with_lines(tmp_path):
    path = tmp_path / "damaged.jsonl"
    good = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
    _write(path, [good, '{"conversations": [{"from": "human"', "",
                  {"conversations": [{"from": "human", "value": "x"}, {"from": "robot", "value": "y"}]},
                  {"conversations": [{"from": "human", "value": "x"}, "not a turn"]}, good])
    episodes, issues = _load(path)
    assert [ep.source.line for ep in episodes] == [1, 6]
    assert [(i.line, i.format) for i in issues] == [(2, "sharegpt"), (4, "sharegpt"), (5, "sharegpt")]
    assert issues[0].reason.startswith("invalid JSON")
    assert "turn 1 is from unknown role 'robot'" in issues[1].reason
    assert "turn 1 is a JSON str, not an object" in issues[2].reason


def test_a_file_starting_with_messages_turns_is_detected(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_bytes(FIXTURE.read_bytes().splitlines(keepends=True)[2])  # the `messages` record
    found = detect(str(path))
    assert (found.chosen, found.claimed) == ("sharegpt", ("sharegpt",))
