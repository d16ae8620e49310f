"""tau-bench: tau-bench trajectories (real fixture + the whole corpus file) and tau2-bench results."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest
import zstandard

from rubricate.traces import Episode, LoadIssue, Source, Span, detect, formats, get_format, load_episodes
from rubricate.traces.files import split_jsonl
from rubricate.traces._loader import find_trace_files
from rubricate.traces._registry import Sample

from .conftest import CORPORA, FIXTURES, roles as _roles, load_checked

TAU1 = FIXTURES / "tau-bench" / "gpt-4o-airline.json"
TAU2 = FIXTURES / "tau-bench" / "tau2-results.json"


_load = load_checked


class TestTauBenchFixture:
    def setup_method(self):
        self.episodes, issues = _load(TAU1)
        assert issues == []

    def test_ids_sources_and_outcomes(self):
        assert [e.id for e in self.episodes] == \
            ["gpt-4o-airline/13/1", "gpt-4o-airline/44/1", "gpt-4o-airline/48/1"]
        assert [e.source for e in self.episodes] == [Source("gpt-4o-airline.json", index=i) for i in range(3)]
        assert [e.task_id for e in self.episodes] == ["13", "44", "48"]
        assert [e.reward for e in self.episodes] == [1.0, 0.0, 1.0]
        assert all(e.format == "tau-bench" for e in self.episodes)

    def test_failed_update_then_recovery(self):
        ep = self.episodes[0]
        assert _roles(ep) == "SUAUATAUAUATAUATAUATAUATAUAU"
        assert [(i, c.name, c.result_step) for i, c in ep.tool_calls()] == [
            (4, "get_reservation_details", 5), (10, "update_reservation_flights", 11),
            (14, "search_direct_flight", 15), (18, "search_direct_flight", 19),
            (22, "search_onestop_flight", 23)]
        assert ep.steps[10].tool_calls[0].arguments["reservation_id"] == "XEWRD9"
        assert [(s.index, s.is_error) for s in ep.steps if s.role == "tool"] == [
            (5, False), (11, True), (15, False), (19, False), (23, False)]
        assert ep.steps[11].content == "Error: flight HAT030 not available on date 2024-05-13"
        assert ep.steps[11].call_id == ep.steps[10].tool_calls[0].id and ep.steps[11].tool_name == \
            "update_reservation_flights"
        assert ep.question == "Hi! I'd like to modify my upcoming flight reservation."
        assert ep.final_answer.startswith("You're welcome! Feel free to reach out")  # before ###STOP###
        assert json.loads(ep.ground_truth) == [{"name": "transfer_to_human_agents", "arguments": {
            "summary": "User wants to change my upcoming one stop flight from ATL to LAX within reservation "
                       "XEWRD9 to a nonstop flight from ATL to LAS (Las Vegas). The reservation is partially "
                       "used."}}]
        meta = ep.metadata
        assert (meta["trial"], meta["user_id"], meta["r_actions"]) == (1, "james_lee_6136", 1.0)
        assert meta["user_instruction"].startswith("You are james_lee_6136.")
        assert "expected_outputs" not in meta

    def test_outputs_task_and_ending_on_a_tool_result(self):
        outputs, transfer = self.episodes[1], self.episodes[2]
        assert outputs.metadata["expected_outputs"] == ["4"] and outputs.metadata["r_outputs"] == 0.0
        assert [a["name"] for a in json.loads(outputs.ground_truth)] == \
            [a["name"] for a in json.loads(TAU1.read_text())[1]["info"]["task"]["actions"]]
        assert transfer.steps[-1].role == "tool" and transfer.final_answer is None
        assert transfer.tool_calls()[-1][1].name == "transfer_to_human_agents"

    def test_raw_is_the_record(self):
        records = json.loads(TAU1.read_text())
        assert [json.loads(e.raw) for e in self.episodes] == records


@pytest.mark.parametrize("codec", ["gz", "zst"])
def test_compressed_files(tmp_path, codec):
    for src in (TAU1, TAU2):
        data = src.read_bytes()
        (tmp_path / f"{src.name}.{codec}").write_bytes(
            gzip.compress(data) if codec == "gz" else zstandard.ZstdCompressor().compress(data))
    episodes, issues = _load(tmp_path)
    expected = _load(TAU1)[0] + _load(TAU2)[0]
    assert issues == []
    assert [(e.id, e.steps, e.ground_truth) for e in episodes] == \
        [(e.id, e.steps, e.ground_truth) for e in expected]


def test_tau_bench_corpus_counts():
    """README: 200 episodes = 50 tasks x 4 trials, 84 with reward 1; 1,164 tool results, 73 `Error:`."""
    episodes, issues = _load(CORPORA / "tau-bench")
    assert issues == []
    assert len(episodes) == 200 and len({e.id for e in episodes}) == 200
    assert Counter(e.reward for e in episodes) == {1.0: 84, 0.0: 116}
    assert len({e.task_id for e in episodes}) == 50
    assert Counter(e.metadata["trial"] for e in episodes) == {0: 50, 1: 50, 2: 50, 3: 50}
    assert sum(e.n_tool_calls for e in episodes) == 1164
    assert sum(1 for e in episodes for s in e.steps if s.role == "tool") == 1164
    assert sum(1 for e in episodes for _, c in e.tool_calls() if c.result_step is None) == 0
    errors = [s.content for e in episodes for s in e.steps if s.is_error]
    assert len(errors) == 73 and all(c.startswith("Error:") for c in errors)
    assert all(e.ground_truth is not None for e in episodes)
    assert sum(e.ground_truth == "[]" for e in episodes) == 28  # tasks whose gold is to change nothing
    assert sum("expected_outputs" in e.metadata for e in episodes) == 16


class TestTau2Results:
    def setup_method(self):
        self.episodes, issues = _load(TAU2)
        assert issues == []

    def test_episode_fields(self):
        [ep] = self.episodes
        assert ep.format == "tau-bench"
        assert ep.id == "tau2-results/50/8b833b70-5692-4c4d-9bcb-ca7de5e5a316"  # trial is null here
        assert ep.source == Source("tau2-results.json", index=0)
        assert (ep.task_id, ep.reward) == ("50", 1.0)
        assert ep.question.startswith("I need help urgently")
        assert ep.final_answer == "YOU ARE BEING TRANSFERRED TO A HUMAN AGENT. PLEASE HOLD ON."
        assert [a["name"] for a in json.loads(ep.ground_truth)] == ["transfer_to_human_agents"]
        meta = ep.metadata
        assert {k: meta[k] for k in ("model", "agent", "domain", "termination_reason", "simulation_id",
                                     "reward_breakdown")} == {
            "model": "dummy", "agent": "llm_agent", "domain": "retail", "termination_reason": "user_stop",
            "simulation_id": "8b833b70-5692-4c4d-9bcb-ca7de5e5a316", "reward_breakdown": {"DB": 1.0}}
        assert meta["user_instruction"]["known_info"] == "You're Chen Smith, living in Jacksonville 32278."

    def test_steps(self):
        [ep] = self.episodes
        assert _roles(ep) == "AUATATATATAU"  # tau2 stores no system prompt; the agent greets first
        assert [(i, c.name, c.id, c.result_step) for i, c in ep.tool_calls()] == [
            (2, "find_user_id_by_name_zip", "chatcmpl-tool-80277e896ba27ff9", 3),
            (4, "get_user_details", "chatcmpl-tool-8c9d4347d0925dd7", 5),
            (6, "get_order_details", "chatcmpl-tool-b7b5a476d33eba50", 7),
            (8, "transfer_to_human_agents", "chatcmpl-tool-90efce0c18826617", 9)]
        assert ep.steps[2].tool_calls[0].arguments == \
            {"first_name": "Chen", "last_name": "Smith", "zip": "32278"}
        results = [s.content for s in ep.steps if s.role == "tool"]
        assert (results[0], results[-1]) == ("chen_smith_8425", "Transfer successful")
        assert not any(s.is_error for s in ep.steps)


def _sim(sim_id: str, task_id: str, messages, **extra) -> dict:
    return {"id": sim_id, "task_id": task_id, "start_time": "t0", "end_time": "t1", "duration": 1.0,
            "termination_reason": "user_stop", "reward_info": {"reward": 1.0}, "messages": messages,
            "trial": 0, **extra}


def _telecom_messages() -> list[dict]:
    return [
        {"role": "assistant", "content": "Hi! How can I help you today?"},
        {"role": "user", "content": "My phone has no service."},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "a1", "name": "get_customer_by_phone", "arguments": {"phone": "555"},
             "requestor": "assistant"},
            {"id": "a2", "name": "suspend_line", "arguments": {"line": "L9"}, "requestor": "assistant"}]},
        {"role": "tool", "tool_messages": [
            {"id": "a1", "role": "tool", "content": "{\"customer_id\": \"C1\"}", "requestor": "assistant",
             "error": False},
            {"id": "a2", "role": "tool", "content": "Error: line L9 not found", "requestor": "assistant",
             "error": True}]},
        {"role": "assistant", "content": "Please toggle airplane mode."},
        {"role": "user", "content": None, "tool_calls": [
            {"id": "", "name": "toggle_airplane_mode", "arguments": {}, "requestor": "user"}]},
        {"role": "tool", "id": "", "content": "Airplane mode is now OFF.", "requestor": "user",
         "error": False},
        {"role": "user", "content": "Done, it works. ###STOP###"},
    ]


def test_tau2_hand_built_errors_user_tools_and_terminations(tmp_path):
    tasks = [{"id": "t1", "evaluation_criteria": {
        "actions": [{"action_id": "0", "requestor": "assistant", "name": "get_customer_by_phone",
                     "arguments": {"phone": "555"}},
                    {"action_id": "1", "requestor": "user", "name": "toggle_airplane_mode", "arguments": {}}],
        "communicate_info": ["C1"], "nl_assertions": ["Agent asks to toggle airplane mode"]}}]
    sims = [_sim("s1", "t1", _telecom_messages()),
            _sim("s2", "t1", _telecom_messages()[:2], termination_reason="infrastructure_error",
                 reward_info={"reward": 0.0}),
            _sim("s3", "t1", None, ticks=[{"tick_id": 0, "timestamp": "t0"}]),
            _sim("s4", "t1", _telecom_messages()[:2])]  # the same (task, trial) as s1
    doc = {"timestamp": "t", "info": {"git_commit": "abc", "agent_info": {"implementation": "llm_agent",
                                                                          "llm": "gpt-4.1"},
                                      "environment_info": {"domain_name": "telecom", "policy": ""}},
           "tasks": tasks, "simulations": sims}
    (tmp_path / "results.json").write_text(json.dumps(doc))
    episodes, issues = _load(tmp_path / "results.json")
    [voice] = issues
    assert voice.index == 2 and "full-duplex" in voice.reason
    full, infra, _ = episodes
    assert [e.id for e in episodes] == ["results/t1/0", "results/t1/0#2", "results/t1/0#3"]
    assert _roles(full) == "AUATTAUUU"
    assert [(s.content, s.is_error, s.call_step) for s in full.steps if s.role == "tool"] == [
        ('{"customer_id": "C1"}', False, 2), ("Error: line L9 not found", True, 2)]
    # the simulated user's own tool use is the environment's: user steps, not agent calls or results
    assert [(s.name, s.content) for s in full.steps[6:9]] == [
        ("user-tool-call", "toggle_airplane_mode({})"), ("user-tool-result", "Airplane mode is now OFF."),
        (None, "Done, it works. ###STOP###")]
    assert full.n_tool_calls == 2
    assert json.loads(full.ground_truth) == [
        {"name": "get_customer_by_phone", "arguments": {"phone": "555"}},
        {"name": "toggle_airplane_mode", "arguments": {}, "requestor": "user"}]
    assert full.metadata["expected_outputs"] == ["C1"] and full.metadata["domain"] == "telecom"
    assert full.metadata["model"] == "gpt-4.1"
    # tau2 leaves a non-evaluable run out of its metrics: no reward, the recorded one kept aside
    assert infra.reward is None and infra.metadata["reward_recorded"] == 0.0


def test_lone_simulation_file_reads_without_its_task(tmp_path):
    path = tmp_path / "simulations" / "s1.json"
    path.parent.mkdir()
    path.write_text(json.dumps(_sim("s1", "t1", _telecom_messages()), indent=2))
    found = detect(str(path))
    assert found.chosen == "tau-bench" and found.claimed[0] == "tau-bench"
    [ep] = _load(path)[0]
    assert (ep.id, ep.task_id, ep.reward, ep.ground_truth) == ("s1/t1/0", "t1", 1.0, None)


def test_crashed_and_repeated_tau_bench_runs(tmp_path):
    """run.py's record for a task that raised: empty traj, reward 0, info = {error, traceback}."""
    records = json.loads(TAU1.read_text())
    crashed = {"task_id": 7, "reward": 0.0, "info": {"error": "RateLimitError: 429", "traceback": "..."},
               "traj": [], "trial": 0}
    (tmp_path / "run.json").write_text(json.dumps([records[0], crashed, records[0]], indent=2))
    (tmp_path / "run.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    episodes, issues = _load(tmp_path)
    assert issues == []
    by_file = Counter(e.source.path for e in episodes)
    assert by_file == {"run.json": 3, "run.jsonl": 3}
    first, crash, again = episodes[:3]
    assert [e.id for e in episodes[:3]] == ["run/13/1", "run/7/0", "run/13/1#2"]
    assert crash.steps == [] and crash.reward == 0.0 and crash.ground_truth is None
    assert crash.metadata == {"trial": 0, "error": "RateLimitError: 429"}
    assert again.steps == first.steps
    assert [e.source.line for e in episodes[3:]] == [1, 2, 3]  # JSONL of records reads too


def test_ids_stay_unique_across_same_named_files(tmp_path):
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        (tmp_path / run / TAU1.name).write_bytes(TAU1.read_bytes())
    episodes, _ = _load(tmp_path)
    assert [e.id for e in episodes][::3] == ["a/gpt-4o-airline/13/1", "b/gpt-4o-airline/13/1"]
    assert len({e.id for e in episodes}) == 6


def test_damaged_tau_files_are_issues(tmp_path):
    data = TAU1.read_bytes()
    (tmp_path / "cut.json").write_bytes(data[: len(data) // 3])
    (tmp_path / "mixed.json").write_text(json.dumps([json.loads(data)[2], 5, {"task_id": 1, "traj": "x",
                                                                                "reward": 1, "info": {}}]))
    traces = load_episodes(tmp_path)
    episodes = list(traces)
    assert [e.id for e in episodes] == ["mixed/48/1"]
    reasons = sorted((i.path, i.index, i.reason.split(":")[0]) for i in traces.issues)
    assert reasons[0][0] == "cut.json"
    assert reasons[1:] == [("mixed.json", 1, "record is a JSON int, not an object"),
                           ("mixed.json", 2, "not a tau-bench episode")]
    tau = get_format("tau-bench")
    for cut in range(0, len(data), len(data) // 50):
        (tmp_path / "cut.json").write_bytes(data[:cut])
        items = list(tau.read(str(tmp_path / "cut.json")))
        assert all(isinstance(i, (Episode, LoadIssue)) for i in items)


def test_large_json_documents_are_never_split_into_line_spans(tmp_path):
    """Parallel scoring cuts big JSONL files into line ranges; a JSON document (tau-bench array, Inspect log)
    must stay one unit, or every range would read the whole document again."""
    corpus = CORPORA / "tau-bench" / "gpt-4o-airline.json"  # 4 MB
    assert split_jsonl(str(corpus), 4) == [Span()]
    lines = tmp_path / "same.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in json.loads(corpus.read_bytes())))
    assert len(split_jsonl(str(lines), 4)) == 4


def test_sniff_uses_the_head_when_the_file_is_too_large_to_parse():
    tau = get_format("tau-bench")
    assert tau.sniff(Sample(str(TAU1), TAU1.read_bytes()[:65536], "json", None))
    assert tau.sniff(Sample(str(TAU2), TAU2.read_bytes()[:65536], "json", None))
    assert not tau.sniff(Sample("x.json", b'[{"task_id": 1, "messages": []}]', "json", None))


def test_detection_over_the_corpora_is_unambiguous():
    """Every corpus file: no tie; Inspect logs and tau-bench read by their formats, NeMo Gym's tau2 records
    still by openai-responses (their embedded SimulationRun is not claimed)."""
    suffixes = tuple(s for f in formats().values() for s in f.suffixes)
    chosen = {}
    for trace in find_trace_files(CORPORA):
        found = detect(trace.path)
        assert found.chosen is not None or not found.claimed, found.reason  # claimed but unchosen = a tie
        chosen[trace.path] = found.chosen
    by_format = Counter(chosen.values())
    assert by_format["inspect-eval"] == 3 and by_format["tau-bench"] == 1
    assert chosen[str(CORPORA / "tau-bench" / "gpt-4o-airline.json")] == "tau-bench"
    assert chosen[str(CORPORA / "nemo-gym-rollouts" / "tau2.example_rollouts.jsonl")] == "openai-responses"
    assert ".eval" in suffixes
