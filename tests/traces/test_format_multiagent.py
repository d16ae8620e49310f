"""Multi-agent logs as text episodes: Who&When (`who-and-when`) and MAST / MAD (`mast-mad`), on their real
fixture files (tests/fixtures/who-and-when, tests/fixtures/mast-mad) and hand-built edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from rubricate.testing import assert_episode_invariants
from rubricate.traces import Episode, LoadIssue, Source, detect, get_format, load_episodes

from .conftest import FIXTURES, FORMAT_FIXTURES, roles as _roles

WW = FIXTURES / "who-and-when"
MAST = FIXTURES / "mast-mad"
MAST_SLICE = MAST / "MAD_human_labelled_slice.json"


def _one(path: Path) -> Episode:
    traces = load_episodes(path)
    episodes = list(traces)
    assert traces.issues == [] and len(episodes) == 1
    assert_episode_invariants(episodes[0])
    return episodes[0]


def _record(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _items(tmp_path: Path, fmt: str, records: list) -> list[Episode | LoadIssue]:
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return list(get_format(fmt).read(str(path)))


# ---------------------------------------------------------------- Who&When


class TestWhoAndWhenAlgorithmGenerated:
    path = WW / "Algorithm-Generated" / "84.json"

    def setup_method(self):
        self.ep = _one(self.path)
        self.rec = _record(self.path)

    def test_fields(self):
        ep, rec = self.ep, self.rec
        assert ep.format == "who-and-when"
        assert ep.source == Source("84.json") and ep.id == "84.json"
        assert ep.task_id == "cca530fc-4052-43b2-b130-b30968d8aa44"
        assert ep.question == rec["question"]
        assert ep.ground_truth == "Rd5"
        assert ep.reward == 0.0  # is_correct: false
        assert ep.raw and msgspec.json.decode(ep.raw) == rec

    def test_steps_system_prompts_then_history(self):
        ep, rec = self.ep, self.rec
        assert _roles(ep) == "SSAUAUATAAA"
        assert [(s.name, s.content) for s in ep.steps[:2]] == list(rec["system_prompt"].items())
        assert [s.name for s in ep.steps[2:]] == [m["name"] for m in rec["history"]]
        assert [s.content for s in ep.steps[2:]] == [m["content"] for m in rec["history"]]

    def test_code_execution_is_a_paired_tool_call(self):
        ep = self.ep
        (index, call), = ep.tool_calls()
        assert (index, call.name, call.result_step, call.id) == (6, "execute_code", 7, None)
        blocks = call.arguments["blocks"]
        assert len(blocks) == 1 and blocks[0]["language"] == "python"
        assert blocks[0]["code"] in ep.steps[6].content and "image_qa" in blocks[0]["code"]
        assert json.loads(call.arguments_raw) == call.arguments
        result = ep.steps[7]
        assert (result.role, result.name, result.tool_name, result.call_step) == (
            "tool", "Computer_terminal", "execute_code", 6)
        assert result.is_error and result.content.startswith("exitcode: 1 (execution failed)")

    def test_executor_without_code_is_a_user_message(self):
        for i in (3, 5):
            step = self.ep.steps[i]
            assert (step.role, step.name, step.is_error) == ("user", "Computer_terminal", False)
            assert step.content.startswith("There is no code from the last 1 message")

    def test_labels_and_decisive_step_in_our_numbering(self):
        ep, rec = self.ep, self.rec
        assert rec["mistake_step"] == "7"
        assert ep.metadata["annotated_step"] == 7
        assert ep.metadata["decisive_step"] == 9  # 2 system-prompt steps come first
        decisive = ep.steps[9]
        assert decisive.content == rec["history"][7]["content"]
        assert decisive.name == ep.metadata["responsible_agent"] == "Chess_Expert"
        assert ep.metadata["failure_reason"] == rec["mistake_reason"]
        assert ep.metadata["subset"] == "Algorithm-Generated"
        assert ep.metadata["system"] == "CaptainAgent (AG2)"
        assert ep.metadata["level"] == "1"

    def test_final_answer_skips_terminate(self):
        assert self.ep.steps[-1].content == "TERMINATE"
        assert self.ep.final_answer == self.ep.steps[9].content


def test_who_and_when_readme_example_decisive_step_zero():
    """The corpus README's record: mistake_step "0" is the first history message, our step 3."""
    ep = _one(WW / "Algorithm-Generated" / "1.json")
    assert ep.metadata["annotated_step"] == 0 and ep.metadata["decisive_step"] == 3
    assert ep.steps[3].name == "Excel_Expert" and ep.steps[3].content.startswith("You are given: (1) a task")
    assert ep.ground_truth == "8"
    assert [(i, c.name, c.result_step) for i, c in ep.tool_calls()] == [(3, "execute_code", 4),
                                                                        (5, "execute_code", 6)]
    assert [ep.steps[i].is_error for i in (4, 6)] == [False, False]
    assert ep.steps[6].content == "exitcode: 0 (execution succeeded)\nCode output: 4\n"


class TestWhoAndWhenHandCrafted:
    def test_magentic_one_speakers_and_final_answer(self):
        path = WW / "Hand-Crafted" / "24.json"
        ep, rec = _one(path), _record(path)
        assert _roles(ep) == "UAAAA"
        assert [s.name for s in ep.steps] == ["human"] + ["Orchestrator"] * 4
        assert ep.metadata["speaker_labels"] == {"1": "Orchestrator (thought)", "2": "Orchestrator (thought)",
                                                 "3": "Orchestrator (thought)",
                                                 "4": "Orchestrator (termination condition)"}
        assert ep.final_answer == "Maktay Zapple Mato"  # the FINAL ANSWER line of the last message
        assert ep.ground_truth == "Maktay mato apple" and ep.reward == 0.0  # is_corrected: false
        assert ep.question == rec["question"] and ep.task_id == rec["question_ID"]
        assert ep.metadata["subset"] == "Hand-Crafted" and ep.metadata["system"] == "Magentic-One"
        # no system prompts: history index == step index
        assert ep.metadata["annotated_step"] == ep.metadata["decisive_step"] == 1
        assert ep.steps[1].content == rec["history"][1]["content"]
        assert ep.metadata["level"] == 1
        assert ep.tool_calls() == []

    def test_computer_terminal(self):
        path = WW / "Hand-Crafted" / "14.json"
        ep, rec = _one(path), _record(path)
        assert len(ep.steps) == len(rec["history"]) == 32
        # step 10 asks the terminal to run a script but holds no code block: the terminal says so
        assert "```" not in ep.steps[10].content
        assert (ep.steps[12].role, ep.steps[12].name) == ("user", "ComputerTerminal")
        assert ep.steps[12].content.startswith("No code block detected")
        # step 14 holds the code; the terminal's report two steps later is its result
        assert [(i, c.name, c.result_step) for i, c in ep.tool_calls()] == [(14, "execute_code", 16)]
        assert "pd.read_csv" in ep.steps[14].tool_calls[0].arguments["blocks"][0]["code"]
        assert (ep.steps[16].role, ep.steps[16].call_step, ep.steps[16].is_error) == ("tool", 14, False)
        assert ep.steps[16].content.startswith("The script ran, then exited with Unix exit code: 0")
        assert ep.metadata["decisive_step"] == 14 and ep.metadata["responsible_agent"] == "Orchestrator"
        assert ep.final_answer == "0.00049" and ep.ground_truth == "0.00033"


def test_who_and_when_jsonl_rows_read_like_the_files():
    """The JSONL fixture holds the same two records (as a `datasets` export would): same episodes."""
    rows = list(load_episodes(FORMAT_FIXTURES["who-and-when"]))
    files = [_one(WW / "Algorithm-Generated" / "84.json"), _one(WW / "Hand-Crafted" / "24.json")]
    assert [r.source for r in rows] == [Source("who-and-when.jsonl", line=n) for n in (1, 2)]
    for row, file in zip(rows, files):
        assert row.steps == file.steps
        assert row.metadata == file.metadata
        assert (row.question, row.ground_truth, row.final_answer, row.reward, row.task_id) == (
            file.question, file.ground_truth, file.final_answer, file.reward, file.task_id)


def test_who_and_when_fixture_directory_is_detected_and_unambiguous():
    for path in sorted(WW.rglob("*.json*")):
        found = detect(str(path))
        assert found.chosen == "who-and-when" and found.claimed == ("who-and-when",), found.reason


def _hand_built(history, **extra):
    return {"question": "q?", "ground_truth": "a", "is_correct": False, "question_ID": "t1",
            "history": history,
            "mistake_agent": "Coder", "mistake_step": "1", "mistake_reason": "wrong", **extra}


def test_who_and_when_edge_cases(tmp_path):
    code = "Run this:\n```sh\nls /nope\n```\nand this:\n```python\nprint(1)\n```"
    history = [
        {"role": "user", "name": "user", "content": "q?"},
        {"role": "assistant", "name": "Coder", "content": code},
        {"role": "user", "name": "Computer_terminal",
         "content": "exitcode: 2 (execution failed)\nCode output: no"},
        {"role": "user", "name": "Computer_terminal",
         "content": "exitcode: 0 (execution succeeded)\nCode output: 1"},
    ]
    ep, out_of_range, unnumbered, bad, websurfer = _items(tmp_path, "who-and-when", [
        _hand_built(history),
        _hand_built(history, mistake_step="9"),
        _hand_built(history, mistake_step="the second one"),
        _hand_built("not a list"),
        _hand_built([{"role": "WebSurfer", "content": "I clicked"}], mistake_agent="Websurfer",
                    mistake_step=0),
    ])
    assert_episode_invariants(ep)
    assert _roles(ep) == "UATU"
    call = ep.steps[1].tool_calls[0]
    assert call.arguments == {"blocks": [{"language": "sh", "code": "ls /nope\n"},
                                         {"language": "python", "code": "print(1)\n"}]}
    assert ep.steps[2].is_error and ep.steps[2].call_step == 1
    # a second report with no fresh code before it answers no call: a user message from the executor
    assert (ep.steps[3].role, ep.steps[3].name, ep.steps[3].call_step) == ("user", "Computer_terminal", None)
    assert ep.metadata["decisive_step"] == 1 and ep.final_answer is None  # a tool result comes after the text
    assert out_of_range.metadata["annotated_step"] == 9 and "decisive_step" not in out_of_range.metadata
    assert "annotated_step" not in unnumbered.metadata and "decisive_step" not in unnumbered.metadata
    assert isinstance(bad, LoadIssue) and "'history' must be a list" in bad.reason and bad.line == 4
    # an integer mistake_step reads too; the agent's spelling follows the speaker it names
    assert websurfer.metadata["responsible_agent"] == "WebSurfer" and websurfer.metadata["decisive_step"] == 0


# ---------------------------------------------------------------- MAST / MAD


class TestMastSlice:
    def setup_method(self):
        traces = load_episodes(MAST_SLICE)
        self.episodes = list(traces)
        assert traces.issues == []
        self.records = json.loads(MAST_SLICE.read_text(encoding="utf-8"))

    def test_sources_and_ids(self):
        assert [e.source for e in self.episodes] == [Source("MAD_human_labelled_slice.json", index=0),
                                                     Source("MAD_human_labelled_slice.json", index=1)]
        assert [e.id for e in self.episodes] == [f"MAD_human_labelled_slice.json[{i}]" for i in (0, 1)]
        assert all(e.format == "mast-mad" for e in self.episodes)

    def test_ag2_trace_splits_into_messages(self):
        ep, rec = self.episodes[0], self.records[0]
        assert_episode_invariants(ep)
        trace = json.loads(rec["trace"])
        assert ep.metadata["layout"] == "messages"
        assert len(ep.steps) == len(trace["trajectory"]) == 10
        assert _roles(ep) == "A" * 10  # the data's role is relative to the logging agent
        assert [s.name for s in ep.steps] == ["mathproxyagent", "assistant"] * 5
        assert ep.steps[1].content == "\n".join(trace["trajectory"][1]["content"])
        assert ep.question == trace["problem_statement"][0]
        assert ep.task_id == "02da9c1f-7c36-5739-b723-33a7d4f8e7e7"
        assert ep.reward == 1.0  # other_data.correct
        assert ep.ground_truth == "None"  # the perturbed question has no answer
        assert ep.final_answer == '\\text{"Data insufficient to solve the problem"}'
        assert ep.metadata["note"].startswith("The solution is correct.")

    def test_labels(self):
        ep, rec = self.episodes[0], self.records[0]
        names = [a["failure mode"].split("\n")[0].strip() for a in rec["annotations"]]
        assert ep.metadata["failure_modes_rated"] == names and len(names) == 18
        for annotator in ("annotator_1", "annotator_2", "annotator_3"):
            expected = [n for n, a in zip(names, rec["annotations"]) if a[annotator] is True]
            assert ep.metadata["failure_modes"][annotator] == expected
        assert ep.metadata["failure_modes"]["annotator_1"] == [
            "1.5 Unaware of stopping conditions", "3.3 Ignoring suggestions from agents"]
        assert "failure_modes_missing" not in ep.metadata
        assert {k: ep.metadata[k] for k in ("system", "benchmark", "round", "trace_id")} == {
            "system": "AG2", "benchmark": "GSM-Plus", "round": "Round 1", "trace_id": 2}

    def test_log_trace_is_one_step(self):
        ep, rec = self.episodes[1], self.records[1]
        assert ep.metadata["layout"] == "log" and ep.metadata["system"] == "MetaGPT"
        assert [(s.role, s.name, s.content) for s in ep.steps] == [("assistant", "MetaGPT", rec["trace"])]
        assert ep.question == "develop a program that detects palindromes in a text file"
        assert ep.final_answer is None and ep.reward is None and ep.ground_truth is None
        assert len(ep.metadata["failure_modes"]["annotator_1"]) == 9


def test_mast_jsonl_rows():
    rows = list(load_episodes(FORMAT_FIXTURES["mast-mad"]))
    assert [(r.metadata["trace_id"], r.metadata["layout"], r.reward) for r in rows] == [
        (7, "messages", 0.0), (14, "log", None)]
    assert rows[0].ground_truth == "30" and rows[0].final_answer == "29"


def test_mast_nan_labels_and_non_strict_json(tmp_path):
    """The corpus file holds `NaN` labels (not JSON; msgspec refuses the whole file): detected from the
    head, decoded with Python's json, NaN read as a missing label."""
    text = MAST_SLICE.read_text(encoding="utf-8")
    first = text.index('"annotator_3": false')
    damaged = text[:first] + '"annotator_3": NaN' + text[first + len('"annotator_3": false'):]
    path = tmp_path / "MAD_nan.json"
    path.write_text(damaged, encoding="utf-8")
    found = detect(str(path))
    assert found.chosen == "mast-mad", found.reason
    traces = load_episodes(path)
    episodes = list(traces)
    assert traces.issues == [] and len(episodes) == 2
    first_mode = episodes[0].metadata["failure_modes_rated"][0]
    assert episodes[0].metadata["failure_modes_missing"] == {"annotator_3": [first_mode]}
    assert first_mode not in episodes[0].metadata["failure_modes"]["annotator_3"]


def test_mast_edge_cases(tmp_path):
    base = json.loads(FORMAT_FIXTURES["mast-mad"].read_text().splitlines()[1])  # the MetaGPT log
    swapped = {**base, "mas_name": "GAIA", "benchmark_name": "OpenManus", "trace": "INFO plain log"}
    no_labels = {**base, "annotations": "none"}
    not_text = {**base, "trace": ["a", "b"]}
    items = _items(tmp_path, "mast-mad", [swapped, no_labels, not_text])
    ep = items[0]
    assert (ep.metadata["system"], ep.metadata["benchmark"]) == ("OpenManus", "GAIA")
    assert ep.steps[0].name == "OpenManus"
    assert ep.question is None and ep.metadata["layout"] == "log"
    assert isinstance(items[1], LoadIssue) and "'annotations' must be a list" in items[1].reason
    assert isinstance(items[2], LoadIssue) and "'trace' must be a string" in items[2].reason
    bad = tmp_path / "bad.json"
    bad.write_text('[{"mas_name": "AG2", "trace": "x", "annotations": [}]')
    (issue,) = get_format("mast-mad").read(str(bad))
    assert isinstance(issue, LoadIssue) and issue.reason.startswith("cannot read JSON document")


@pytest.mark.parametrize("fixture", ["who-and-when", "mast-mad"])
def test_multiagent_formats_claim_no_other_fixture(fixture):
    fmt = get_format(fixture)
    from rubricate.traces._registry import sample_of

    for name, path in FORMAT_FIXTURES.items():
        if name != fixture:
            assert not fmt.sniff(sample_of(str(path))), name
