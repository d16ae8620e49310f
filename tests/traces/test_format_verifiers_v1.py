"""verifiers-traces: verifiers v1 `traces.jsonl` (a message graph per rollout, named weighted rewards)."""

from __future__ import annotations

import json
import shutil

import pytest

from rubricate.testing import assert_episode_invariants
from rubricate.traces import Episode, LoadIssue, detect, get_format, iter_traces, load_episodes

from .conftest import FORMAT_FIXTURES

TRACES = FORMAT_FIXTURES["verifiers-traces"]
RUN = TRACES.parent
RUN_META = {"model": "gpt-4.1-mini", "taskset": "wiki-search", "harness": "bash",
            "run": "0b7c9e2a4f6d4e1b9a3c5d7e8f901234"}


def _roles(ep: Episode) -> str:
    return "".join({"system": "S", "user": "U", "assistant": "A", "tool": "T"}[s.role] for s in ep.steps)


@pytest.fixture(scope="module")
def episodes() -> list[Episode]:
    traces = load_episodes(RUN.parent)
    eps = list(traces)
    assert traces.issues == []  # config.toml is not a trace file
    for ep in eps:
        assert_episode_invariants(ep)
    return eps


def test_tool_using_trace_golden(episodes):
    ep = episodes[0]
    assert ep.format == "verifiers-traces"
    assert str(ep.source) == "0b7c9e2a4f6d4e1b9a3c5d7e8f901234/traces.jsonl:1"
    assert ep.id == "5e0d3c1b9a7f4e2d8c6b4a2918f7e6d5"  # the trace's own id
    assert ep.task_id == "wiki-16"  # task.key
    assert ep.question == "Which character did Johnny Galecki portray in the CBS sitcom The Big Bang Theory?"
    assert ep.ground_truth == "Leonard Hofstadter"  # task.data.answer
    assert _roles(ep) == "SUATATATA"
    assert [(i, c.name, c.arguments, c.id, c.result_step) for i, c in ep.tool_calls()] == [
        (2, "search_pages", {"query": "Johnny Galecki"}, "call_a1", 3),
        (4, "read_section", {"section_id": "johnny_galecki"}, "call_a2", 5),
        (6, "read_section", {"section_id": "johnny_galecki:career"}, "call_a3", 7),
    ]
    assert ep.steps[4].tool_calls[0].arguments_raw == '{"section_id": "johnny_galecki"}'  # as the model wrote
    assert [(s.index, s.call_id, s.tool_name) for s in ep.steps if s.role == "tool"] == [
        (3, "call_a1", "search_pages"), (5, "call_a2", "read_section"), (7, "call_a3", "read_section")]
    assert [s.index for s in ep.steps if s.is_error] == [5]  # "Error: Invalid section_id format ..."
    assert ep.final_answer == "He portrayed Leonard Hofstadter."
    # Trace.reward: sum(score * weight) = 1.0 * 1.0 + 0.5 * 0.2
    assert ep.reward == pytest.approx(1.1)
    assert ep.metadata == {
        **RUN_META, "agent": "agent", "task_type": "WikiSearchTask",
        "rewards": {"judge_reward": 1.0, "tool_format": 0.5}, "reward_weights": {"tool_format": 0.2},
        "metrics": {"num_turns": 4.0, "total_tool_calls": 3.0},
        "ok": True, "is_completed": True, "stop_condition": "completed", "verifiers_version": "0.2.0",
    }


def test_failed_trace_has_no_reward_and_says_why(episodes):
    ep = episodes[1]
    assert _roles(ep) == "SUAT"
    assert ep.steps[2].content == "Let me look that up."
    assert ep.steps[2].tool_calls[0].result_step == 3
    assert ep.reward is None  # every reward is null: scoring did not run
    assert ep.final_answer is None  # it ends on a tool result
    assert ep.metadata["rewards"] == {"judge_reward": None, "tool_format": None}
    assert ep.metadata["ok"] is False and ep.metadata["stop_condition"] == "error"
    assert ep.metadata["error"] == "ProviderError: 429 Too Many Requests: rate limit reached for gpt-4.1-mini"
    assert "metrics" not in ep.metadata and "reward_weights" not in ep.metadata


def test_branched_trace_keeps_every_node_once_in_order(episodes):
    ep = episodes[2]
    # nodes: S U A(call) T A(cut by length) | U(summary, a second branch from the system node) A
    assert _roles(ep) == "SUATAUA"
    assert ep.metadata["branches"] == 2
    # root_reply
    assert ep.final_answer == "The Sydney Opera House was designed by the Danish architect Jørn Utzon."
    assert ep.reward == pytest.approx(1.2)
    assert ep.ground_truth == "Jørn Utzon"


def test_run_metadata_comes_from_config_toml(tmp_path):
    shutil.copy(TRACES, tmp_path / "traces.jsonl")  # no config.toml beside it
    [ep, *_] = list(load_episodes(tmp_path / "traces.jsonl"))
    assert ep.metadata["model"] == "gpt-4.1-mini"  # the agent's own model
    assert not {"taskset", "harness", "run"} & set(ep.metadata)


def test_detection_and_disjointness():
    assert detect(str(TRACES)).reason == "verifiers-traces (priority 20)"
    v1, v0 = get_format("verifiers-traces"), get_format("verifiers-results")
    first = json.loads(TRACES.read_text().splitlines()[0])
    row = json.loads(FORMAT_FIXTURES["verifiers-results"].read_text().splitlines()[0])
    assert v1.sniff_record(first) and not v0.sniff_record(first)
    assert v0.sniff_record(row) and not v1.sniff_record(row)


def test_damaged_lines_are_issues_and_the_other_traces_load(tmp_path):
    lines = TRACES.read_text().splitlines()
    broken = json.loads(lines[0])
    del broken["nodes"][3]["message"]
    negative = json.loads(lines[2])
    negative["rewards"] = [1.0]
    path = tmp_path / "traces.jsonl"
    rows = [lines[0], lines[1][:500], json.dumps(broken), lines[2], json.dumps(negative)]
    path.write_text("\n".join(rows) + "\n")
    items = list(iter_traces(path))
    assert [type(i).__name__ for i in items] == ["Episode", "LoadIssue", "LoadIssue", "Episode", "LoadIssue"]
    issues = [i for i in items if isinstance(i, LoadIssue)]
    assert [(i.path, i.line) for i in issues] == [("traces.jsonl", n) for n in (2, 3, 5)]
    assert issues[0].reason.startswith("invalid JSON")
    assert issues[1].reason == "not a verifiers-traces episode: ValueError: node 3 has no message object"
    assert issues[2].reason == ("not a verifiers-traces episode: ValueError: rewards must be an object, "
                                "got a JSON list")
