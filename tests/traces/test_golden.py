"""One episode per format checked field by field against its real fixture record."""

from __future__ import annotations

import json

from rubricate.testing import assert_episode_invariants
from rubricate.traces import Episode, Source, load_episodes

from .conftest import FORMAT_FIXTURES, VERIFIERS_DIR


def _load(path) -> list[Episode]:
    traces = load_episodes(path)
    episodes = list(traces)
    assert traces.issues == []
    for ep in episodes:
        assert_episode_invariants(ep)
    return episodes


def _roles(ep: Episode) -> str:
    return "".join({"system": "S", "user": "U", "assistant": "A", "tool": "T"}[s.role] for s in ep.steps)


def _calls(ep: Episode) -> list[tuple[int, str, str | None, int | None]]:
    return [(i, c.name, c.id, c.result_step) for i, c in ep.tool_calls()]


class TestVerifiersResults:
    def setup_method(self):
        self.episodes = _load(VERIFIERS_DIR)

    def test_directory_order_and_sources(self):
        # sorted walk: run 50fa4920 before 8d8aecd4; line numbers are 1-based within each file
        assert [str(ep.source) for ep in self.episodes] == [
            "wiki-search--gpt-4.1-nano/50fa4920/results.jsonl:1",
            "wiki-search--gpt-4.1-nano/8d8aecd4/results.jsonl:1",
            "wiki-search--gpt-4.1-nano/8d8aecd4/results.jsonl:2",
            "wiki-search--gpt-4.1-nano/8d8aecd4/results.jsonl:3",
        ]
        assert all(ep.format == "verifiers-results" for ep in self.episodes)
        assert all(ep.id == str(ep.source) for ep in self.episodes)

    def test_invalid_section_id_then_recovery(self):
        ep = self.episodes[1]
        assert ep.source == Source("wiki-search--gpt-4.1-nano/8d8aecd4/results.jsonl", line=1)
        assert ep.task_id == "16"  # example_id
        assert ep.reward == 1.0
        assert ep.ground_truth == "Leonard Hofstadter"
        assert ep.question == ("Which character did Johnny Galecki portray in the CBS sitcom "
                               "The Big Bang Theory?")
        assert ep.final_answer == ("Johnny Galecki portrayed the character Leonard Hofstadter "
                                   "in the CBS sitcom The Big Bang Theory.")
        assert _roles(ep) == "SUATATATATA"
        assert ep.steps[0].content == "Use the provided Wikipedia search tools to help answer questions."
        assert _calls(ep) == [
            (2, "search_pages", "call_Mszhk5glLcUGkJR8Zkp6fJDe", 3),
            (4, "read_section", "call_6I1SR60gzygxx3T1BjxEIItU", 5),
            (6, "view_sections", "call_5nmrIeVk8tGJX2nnbba0uxME", 7),
            (8, "read_section", "call_KfTZn2I6XVyNuYjVSgc4Um0m", 9),
        ]
        bad = ep.steps[4].tool_calls[0]
        assert bad.arguments == {"section_id": "johnny_galecki"}
        assert bad.arguments_raw == '{"section_id":"johnny_galecki"}'
        assert bad.arguments_error is None
        # tool messages carry no tool_call_id: pairing by order fills call_id and tool_name from the call
        err = ep.result_of(bad)
        assert err is ep.steps[5]
        assert err.content == "Invalid section_id format. Expected: page_id:section_name"
        assert (err.is_error, err.call_step, err.call_id, err.tool_name) == (
            True, 4, "call_6I1SR60gzygxx3T1BjxEIItU", "read_section")
        # the recovery: view_sections, then a read_section with a valid id that succeeds
        assert ep.steps[8].tool_calls[0].arguments == {"section_id": "johnny_galecki:television"}
        assert [s.is_error for s in ep.steps if s.role == "tool"] == [False, True, False, False]
        assert ep.steps[9].content == "### Television\n"

    def test_run_metadata_from_metadata_json(self):
        ep = self.episodes[1]
        keys = ("env_id", "model", "num_examples", "rollouts_per_example", "run")
        assert {k: ep.metadata[k] for k in keys} == {
            "env_id": "wiki-search", "model": "gpt-4.1-nano", "num_examples": 100,
            "rollouts_per_example": 1, "run": "8d8aecd4"}
        assert ep.metadata["task"] == "default"
        assert ep.metadata["generation_ms"] == 5392.2789096832  # a scalar of the record
        assert "info" not in ep.metadata and "prompt" not in ep.metadata

    def test_parallel_calls_pair_by_order(self):
        ep = self.episodes[2]
        assert ep.task_id == "42"
        assert _roles(ep) == "SUATTA"
        assert _calls(ep) == [
            (2, "search_pages", "call_skaFhgCVJYigNtpXMxAaUfsy", 3),
            (2, "search_pages", "call_XjdE9P8NQuIGdFs5WK7WhIbB", 4),
        ]
        assert [c.arguments for c in ep.steps[2].tool_calls] == [
            {"query": "Russian composer member of The Five, known for Scheherazade"},
            {"query": "Scheherazade orchestral suite"},
        ]
        assert [(s.call_step, s.call_id) for s in ep.steps[3:5]] == [
            (2, "call_skaFhgCVJYigNtpXMxAaUfsy"), (2, "call_XjdE9P8NQuIGdFs5WK7WhIbB")]

    def test_no_final_answer(self):
        ep = self.episodes[3]
        assert ep.task_id == "47"
        assert ep.reward == 0.0
        assert ep.ground_truth == "Violin"
        assert ep.final_answer is None
        assert ep.steps[-1].role == "assistant" and ep.steps[-1].content == ""
        last = ep.steps[-1].tool_calls[0]
        assert (last.name, last.arguments, last.result_step) == ("read_section", {"section_id": "Plot"}, None)
        assert ep.n_tool_calls == 11
        assert sum(s.is_error for s in ep.steps) == 3

    def test_older_run_uses_id_and_old_metadata(self):
        ep = self.episodes[0]
        assert ep.task_id == "12"  # from `id`, as older runs have no `example_id`
        assert ep.question == "In which city was Norah O'Donnell born?"
        assert ep.ground_truth == "Washington, D.C."
        assert ep.reward == 0.0
        assert _roles(ep) == "UATTA"
        assert [c.name for _, c in ep.tool_calls()] == ["search_pages", "search_pages"]
        assert ep.metadata["model"] == "gpt-4.1-nano"
        assert ep.metadata["num_examples"] == 50
        assert ep.metadata["run"] == "50fa4920"


def test_openai_responses_golden():
    ep = _load(FORMAT_FIXTURES["openai-responses"])[0]
    assert ep.format == "openai-responses"
    assert ep.source == Source("nemo-gym-rollouts.jsonl", line=1)
    assert ep.id == "nemo-gym-rollouts.jsonl:1"
    assert ep.task_id is None and ep.ground_truth is None
    assert ep.reward == 1.0
    assert ep.question == "Get me the value for cos((6.0 - 2.0)) using only the given tools."
    assert ep.final_answer == "The value for cos(6.0 - 2.0) is approximately 0.8415."
    assert ep.metadata == {"model": "gpt-4.1-2025-04-14"}
    assert _roles(ep) == "UATATA"
    assert _calls(ep) == [(1, "subtract", "call_4Yonpt3rqiaZhEG8dS9e16Wa", 2),
                          (3, "cos", "call_Whl2HbLBgLzw1Ja3bqNB1AF2", 4)]
    first = ep.steps[1].tool_calls[0]
    assert first.arguments == {"a": 6.0, "b": 2.0}
    assert first.arguments_raw == '{"a":6.0,"b":2.0}'
    assert ep.steps[2].content == '{"solution": 1.0}'
    assert (ep.steps[2].call_id, ep.steps[2].tool_name, ep.steps[2].call_step, ep.steps[2].is_error) == (
        "call_4Yonpt3rqiaZhEG8dS9e16Wa", "subtract", 1, False)
    assert ep.steps[4].content == '{"solution": 0.8414709848078965}'


def test_openai_responses_untyped_input_items_and_text_before_call():
    episodes = _load(FORMAT_FIXTURES["openai-responses"])
    ep = episodes[2]  # pinchbench: input items without `type`; an assistant "\n" message before the call
    assert ep.metadata["model"] == "nvidia/nvidia/Nemotron-3-Nano-30B-A3B"
    assert _roles(ep) == "UATA"
    call = ep.steps[1].tool_calls[0]
    assert (call.name, call.id, call.result_step) == ("write", "call_852494bc9ad4421ea12e4d55", 2)
    assert call.arguments["path"] == "project_sync.ics"
    assert call.arguments["content"].startswith("BEGIN:VCALENDAR\nVERSION:2.0\n")
    assert ep.steps[2].content == "Successfully wrote 374 bytes to project_sync.ics"
    assert ep.final_answer.endswith("MEDIA:project_sync.ics")
    assert [e.reward for e in episodes] == [1.0, 1.0, 1.0, 0.89]


def test_openai_chat_golden_tau_bench():
    ep = _load(FORMAT_FIXTURES["openai-chat"])[0]
    assert ep.format == "openai-chat"
    assert ep.id == "gpt-4o-airline/13/1"
    assert ep.task_id == "13"
    assert ep.reward == 1.0
    assert ep.ground_truth is None
    assert ep.metadata == {"trial": 1}
    assert ep.source == Source("tau-bench-gpt-4o-airline.jsonl", line=1)
    assert ep.question == "Hi! I'd like to modify my upcoming flight reservation."
    assert _roles(ep) == "SUAUATAUAUATAUATAUATAUATAUAU"
    assert ep.steps[0].content.startswith("# Airline Agent Policy")
    assert _calls(ep) == [
        (4, "get_reservation_details", "call_aHFvcOCBnUSBGb47m72g1qAH", 5),
        (10, "update_reservation_flights", "call_12ZKvycpF90C5LBULDtq0YVV", 11),
        (14, "search_direct_flight", "call_Td4HrgeMPuBcDgM5tKBto3Ym", 15),
        (18, "search_direct_flight", "call_JeXGcGSK0Q5mRcbZc2bjoxqd", 19),
        (22, "search_onestop_flight", "call_sumFTucxMOyQNc2iud9dAHdy", 23),
    ]
    update = ep.steps[10].tool_calls[0]
    assert update.arguments["cabin"] == "economy"
    assert update.arguments["flights"][0] == {"flight_number": "HAT030", "date": "2024-05-13"}
    assert json.loads(update.arguments_raw) == update.arguments
    assert update.arguments_raw.startswith('{"reservation_id":"XEWRD9","cabin":"economy"')
    err = ep.steps[11]
    assert err.content == "Error: flight HAT030 not available on date 2024-05-13"
    assert (err.is_error, err.call_step, err.tool_name) == (True, 10, "update_reservation_flights")
    assert [s.index for s in ep.steps if s.is_error] == [11]
    assert ep.steps[15].content == "[]" and not ep.steps[15].is_error
    # the last message is the simulated user's ###STOP###: the final answer is the last assistant text
    assert ep.steps[-1].role == "user" and ep.steps[-1].content == "###STOP###"
    assert ep.final_answer.startswith("You're welcome! Feel free to reach out")


def test_openai_chat_ends_on_tool_result_has_no_final_answer():
    ep = _load(FORMAT_FIXTURES["openai-chat"])[1]
    assert ep.id == "gpt-4o-airline/48/1"
    assert ep.steps[-1].role == "tool" and ep.steps[-1].content == "Transfer successful"
    assert ep.final_answer is None


def test_anthropic_golden():
    ep = _load(FORMAT_FIXTURES["anthropic-messages"])[0]
    assert ep.format == "anthropic-messages"
    assert ep.id == "claude-weather-001"
    assert ep.task_id == "weather-sf"
    assert ep.reward == 1.0
    assert ep.ground_truth == "15 degrees"
    assert ep.metadata == {"model": "claude-sonnet-4-5"}
    assert ep.source == Source("messages.jsonl", line=1)
    assert _roles(ep) == "SUATATA"
    assert ep.steps[0].content == "You are a helpful assistant. Use the weather tool for current conditions."
    assert ep.steps[2].content == "I'll check the current weather in San Francisco for you."
    assert _calls(ep) == [(2, "get_weather", "toolu_01A09q90qw90lq917835lq9", 3),
                          (4, "get_weather", "toolu_01B7Kx2mQ9wVn3Rz8PcL4sTy", 5)]
    call = ep.steps[2].tool_calls[0]
    # dict input: kept parsed, with its JSON text as arguments_raw
    assert call.arguments == {"location": "San Francisco", "unit": "celsius"}
    assert call.arguments_raw == '{"location":"San Francisco","unit":"celsius"}'
    assert call.arguments_error is None
    # is_error true on a result whose text the heuristics would not flag: the explicit flag wins
    assert ep.steps[3].is_error is True
    assert ep.steps[3].content.startswith("Location 'San Francisco' is ambiguous")  # list of text blocks
    assert (ep.steps[3].call_id, ep.steps[3].tool_name, ep.steps[3].call_step) == (
        "toolu_01A09q90qw90lq917835lq9", "get_weather", 2)
    assert ep.steps[5].content == "15 degrees, partly cloudy" and not ep.steps[5].is_error
    assert ep.final_answer == "It is currently 15 \u00b0C and partly cloudy in San Francisco, CA."


def test_anthropic_parallel_results_pair_by_id_and_is_error_false_wins():
    ep = _load(FORMAT_FIXTURES["anthropic-messages"])[1]
    assert ep.steps[0].content == "You are an SRE assistant. Use the tools to inspect hosts."  # system blocks
    assert _roles(ep) == "SUATTUA"
    # results arrive in the other order than the calls: pairing follows tool_use_id, not order
    assert _calls(ep) == [(2, "grep_logs", "toolu_01Gr3pLogs9a8b7c6d5e4f3g", 4),
                          (2, "disk_usage", "toolu_01Dk5Usage1h2i3j4k5l6m7n", 3)]
    assert ep.steps[3].content == "/backups 100% used (500G of 500G)"
    logs = ep.steps[4]
    assert logs.content.startswith("Error: disk quota exceeded")
    assert logs.is_error is False, "is_error: false must win over the 'Error:' text"
    assert ep.steps[5].content == "Keep the answer short, please."  # user text after the tool results
    assert ep.task_id == "backup-db-2" and ep.ground_truth is None


def test_anthropic_thinking_block_and_string_content():
    ep = _load(FORMAT_FIXTURES["anthropic-messages"])[2]
    assert _roles(ep) == "UA"
    assert ep.steps[1].content == "Canberra."  # the thinking block is not part of the answer text
    assert ep.final_answer == "Canberra."
    assert ep.ground_truth == "Canberra"
    assert ep.metadata == {"model": "claude-haiku-4-5"}
