"""Every folder of ../shared/corpora loads: episode counts against each corpus README, no load issue where the
data is clean, one golden episode per corpus checked field by field, and the generic `agent-basics` rubric
scores every corpus without an `error` verdict.

A corpus whose reader is not registered fails here with a message naming the format (never skipped).
`finqa/` holds tables, not traces: loading it yields no episode and exactly one load issue per JSON file
("no format recognises it"), so a folder of non-traces is reported, never silently read as nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from rubricate.analyzer import open_run
from rubricate.cli import EXIT_FAILED, EXIT_OK, main
from rubricate.testing import assert_episode_invariants
from rubricate.traces import Episode, LoadIssue, detect, find_trace_files, formats, load_episodes

from .conftest import CORPORA
from _shared import need


@pytest.fixture(autouse=True, scope="module")
def _corpora_here() -> None:
    """Every test here reads ../shared/corpora: skipped without it (failed under RUBRICATE_REQUIRE_SHARED)."""
    need(CORPORA)

# corpus folder -> (format every file is read as, episodes the corpus README states)
CORPUS = {
    "tau-bench": ("tau-bench", 200),
    "verifiers-wiki-search": ("verifiers-results", 1250),
    "nemo-gym-rollouts": ("openai-responses", 65),
    "inspect-logs": ("inspect-eval", 7),  # 1 + 3 + 3 samples (README table)
    "who-and-when": ("who-and-when", 184),
    "mast-mad-human": ("mast-mad", 19),
}
NOT_TRACES = "finqa"
FINQA_JSON_FILES = 784  # 783 tables + tables_cleaned_all_companies.json (README)


def _require(fmt: str) -> None:
    if fmt not in formats():
        pytest.fail(f"no '{fmt}' trace format is registered: its reader is not in "
                    f"rubricate.traces.formats yet "
                    f"(registered: {', '.join(formats())})", pytrace=False)


@lru_cache(maxsize=None)
def _load(corpus: str) -> tuple[tuple[Episode, ...], tuple[LoadIssue, ...]]:
    traces = load_episodes(CORPORA / corpus)
    episodes = tuple(traces)
    return episodes, tuple(traces.issues)


def _clean(corpus: str) -> list[Episode]:
    fmt, _ = CORPUS[corpus]
    _require(fmt)
    episodes, issues = _load(corpus)
    assert list(issues) == [], f"{corpus}: {len(issues)} load issues, first: {issues[0]}"
    return list(episodes)


def _golden(episodes: list[Episode], path: str, *, line: int | None = None,
            index: int | None = None) -> Episode:
    found = [e for e in episodes
             if e.source.path == path and e.source.line == line and e.source.index == index]
    assert len(found) == 1, f"no single episode from {path} line={line} index={index}"
    return found[0]


def _paired(ep: Episode) -> None:
    """Every call of the episode got its result, and every tool step answers a call."""
    assert all(c.result_step is not None for _, c in ep.tool_calls())
    assert all(s.call_step is not None for s in ep.steps if s.role == "tool")


def test_every_corpus_folder_is_covered():
    folders = {p.name for p in CORPORA.iterdir() if p.is_dir()}
    assert folders == set(CORPUS) | {NOT_TRACES}


@pytest.mark.parametrize("corpus", sorted(CORPUS))
def test_corpus_loads_with_readme_count_and_no_issues(corpus):
    fmt, count = CORPUS[corpus]
    episodes = _clean(corpus)
    assert len(episodes) == count
    assert {e.format for e in episodes} == {fmt}
    assert len({e.id for e in episodes}) == count, "episode ids are not unique"
    for ep in episodes:
        assert_episode_invariants(ep)
        assert ep.steps


def test_detection_is_unambiguous_on_every_corpus_file():
    """`rubricate traces detect ../shared/corpora`: every trace file gets one format, never a tie."""
    for corpus, (fmt, _) in CORPUS.items():
        _require(fmt)
    for trace in find_trace_files(CORPORA):  # companions (a vf-eval run's metadata.json) left out
        found = detect(trace.path)
        path = Path(trace.path)
        corpus = path.relative_to(CORPORA).parts[0]
        if corpus == NOT_TRACES:
            assert found.chosen is None and found.claimed == (), found.reason
        else:
            assert found.chosen == CORPUS[corpus][0], f"{path}: {found.reason}"


def test_tau_bench():
    episodes = _clean("tau-bench")
    assert Counter(e.reward for e in episodes) == {1.0: 84, 0.0: 116}
    tool_steps = [s for e in episodes for s in e.steps if s.role == "tool"]
    assert len(tool_steps) == 1164 and sum(s.is_error for s in tool_steps) == 73  # README
    assert all(s.content.startswith("Error:") for s in tool_steps if s.is_error)
    ep = _golden(episodes, "gpt-4o-airline.json", index=63)  # task 13, trial 1
    assert ep.task_id == "13" and ep.reward == 1.0
    assert ep.ground_truth  # the gold actions
    assert [(i, c.name, c.result_step) for i, c in ep.tool_calls()] == [
        (4, "get_reservation_details", 5), (10, "update_reservation_flights", 11),
        (14, "search_direct_flight", 15),
        (18, "search_direct_flight", 19), (22, "search_onestop_flight", 23)]
    _paired(ep)
    assert [(s.index, s.content) for s in ep.steps if s.is_error] == [
        (11, "Error: flight HAT030 not available on date 2024-05-13")]
    assert ep.steps[0].role == "system" and ep.question


def test_verifiers_wiki_search():
    episodes = _clean("verifiers-wiki-search")
    assert sum(e.reward == 1.0 for e in episodes) == 968
    ep = _golden(episodes, "wiki-search--gpt-4.1-nano/8d8aecd4/results.jsonl", line=17)
    assert ep.task_id == "16" and ep.reward == 1.0 and ep.ground_truth == "Leonard Hofstadter"
    assert [c.name for _, c in ep.tool_calls()] == ["search_pages", "read_section", "view_sections",
                                                    "read_section"]
    _paired(ep)
    assert [s.content.startswith("Invalid section_id format") for s in ep.steps if s.is_error] == [True]
    assert "Leonard Hofstadter" in ep.final_answer


def test_nemo_gym_rollouts():
    episodes = _clean("nemo-gym-rollouts")
    assert all(e.reward is not None for e in episodes)
    ep = _golden(episodes, "ns_tools.example_rollouts.jsonl", line=4)  # AIME 2025, one failing call
    assert ep.id == "aime25-4" and ep.reward == 1.0
    assert ep.ground_truth == "279"  # expected_answer
    assert ep.final_answer.endswith("\\boxed{279}\n\\]")
    calls = ep.tool_calls()
    assert [i for i, _ in calls] == [1, 3, 5, 7, 9, 11, 13]
    assert {c.name for _, c in calls} == {"stateful_python_code_exec"}
    _paired(ep)
    assert [s.index for s in ep.steps if s.is_error] == [12]
    assert ep.steps[12].content.startswith("Traceback (most recent call last):")
    assert ep.steps[12].call_id == calls[5][1].id


def test_inspect_logs():
    episodes = _clean("inspect-logs")
    per_file = Counter(e.source.path for e in episodes)
    assert per_file == {"2025-05-12T20-27-36-04-00_browser.json": 1,
                        "2025-05-12T20-28-26-04-00_security-guide.json": 3,
                        "2025-05-12T20-28-13-04-00_popularity.json": 3}
    assert Counter(e.reward for e in episodes) == {1.0: 6, 0.0: 1}  # scores C x6, I x1
    (ep,) = [e for e in episodes if e.source.path.endswith("_browser.json")]
    assert [c.name for _, c in ep.tool_calls()] == ["web_browser_go"] + ["web_browser_click"] * 3
    _paired(ep)
    assert not any(s.is_error for s in ep.steps)
    assert ep.reward == 1.0 and ep.final_answer
    assert ep.ground_truth is None  # the browser sample's target is ""
    guide = sorted((e for e in episodes if "security-guide" in e.source.path), key=lambda e: str(e.source))
    assert [e.ground_truth for e in guide] == ["use parameterized queries and prepared statements"] * 2 + [
        "output encoding with secure by default libraries and input validation"]


def test_who_and_when():
    episodes = _clean("who-and-when")
    assert Counter(e.metadata["subset"] for e in episodes) == {"Algorithm-Generated": 126, "Hand-Crafted": 58}
    assert {e.reward for e in episodes} == {0.0}  # every run failed
    for ep in episodes:
        assert ep.question and ep.ground_truth and ep.task_id
        assert {"responsible_agent", "decisive_step", "failure_reason"} <= set(ep.metadata)
        assert ep.metadata["decisive_step"] - ep.metadata["annotated_step"] == sum(
            s.role == "system" for s in ep.steps)
    # the annotated step is spoken by the responsible agent in all but 6 records (annotation slips)
    spoken = [e.steps[e.metadata["decisive_step"]].name == e.metadata["responsible_agent"] for e in episodes]
    assert sum(spoken) == 178
    calls = [(e, c) for e in episodes for _, c in e.tool_calls()]
    assert len(calls) == 243 and {c.name for _, c in calls} == {"execute_code"}
    for ep in episodes:
        _paired(ep)
    assert sum(s.is_error for e in episodes for s in e.steps) == 90  # "exitcode: 1 (execution failed)", ...
    # one execution report re-runs older code (no fresh code message): kept as the terminal's user message
    reruns = [(e.id, s.index) for e in episodes for s in e.steps
              if s.role == "user" and s.name == "ComputerTerminal" and s.content.startswith("The script ran")]
    assert reruns == [("Hand-Crafted/58.json", 79)]

    ep = _golden(episodes, "Algorithm-Generated/123.json")
    record = json.loads((CORPORA / "who-and-when" / "Algorithm-Generated" / "123.json").read_text())
    prompts = len(record["system_prompt"])
    assert ep.question == record["question"] and ep.ground_truth == record["ground_truth"]
    assert ep.task_id == record["question_ID"] and ep.reward == 0.0
    assert [s.content for s in ep.steps[prompts:]] == [m["content"] for m in record["history"]]
    assert ep.metadata["decisive_step"] == prompts + int(record["mistake_step"])
    assert ep.metadata["responsible_agent"] == record["mistake_agent"] == "Paintball_Expert"
    assert ep.metadata["failure_reason"] == record["mistake_reason"]
    errors = [s for s in ep.steps if s.is_error]
    assert len(errors) == 2 and all(s.content.startswith("exitcode: 1 (execution failed)") for s in errors)
    assert all(s.role == "tool" and s.tool_name == "execute_code" for s in errors)


def test_mast_mad():
    episodes = _clean("mast-mad-human")
    meta = [e.metadata for e in episodes]
    assert Counter(m["system"] for m in meta) == {"ChatDev": 4, "MetaGPT": 4, "AppWorld": 3, "HyperAgent": 3,
                                                  "AG2": 3, "Magentic": 1, "OpenManus": 1}
    assert Counter(m["round"] for m in meta) == {"Round 1": 5, "Round 2": 5, "Round 3": 5,
                                                 "Generlazability": 4}
    assert Counter(len(m["failure_modes_rated"]) for m in meta) == {18: 5, 17: 10, 14: 4}
    assert Counter(m["layout"] for m in meta) == {"messages": 3, "log": 16}
    assert [m.get("failure_modes_missing") for m in meta if "failure_modes_missing" in m] == [
        {"annotator_3": ["3.2 No or Incomplete Verification", "3.3 Incorrect Verification"]}]
    assert [e.reward for e in episodes if e.reward is not None] == [1.0, 0.0, 0.0]  # AG2 only
    for ep in episodes:
        if ep.metadata["layout"] == "log":
            assert len(ep.steps) == 1 and ep.final_answer is None

    ep = _golden(episodes, "MAD_human_labelled_dataset.json", index=12)
    record = json.loads((CORPORA / "mast-mad-human" / "MAD_human_labelled_dataset.json").read_text())[12]
    trace = json.loads(record["trace"])
    assert ep.metadata["system"] == "AG2" and ep.metadata["trace_id"] == 12
    assert [(s.name, s.content) for s in ep.steps] == [(m["name"], "\n".join(m["content"]))
                                                       for m in trace["trajectory"]]
    assert ep.question == trace["problem_statement"][0]
    assert (ep.reward, ep.ground_truth, ep.final_answer) == (0.0, "2", "0")
    counts = {a: len(v) for a, v in ep.metadata["failure_modes"].items()}
    assert counts == {"annotator_1": 6, "annotator_2": 4, "annotator_3": 4}
    assert ep.tool_calls() == []  # raw logs: no structured tool calls


def test_finqa_tables_are_load_issues_not_episodes():
    episodes, issues = _load(NOT_TRACES)
    json_files = sorted(p for p in (CORPORA / NOT_TRACES).rglob("*.json"))
    assert len(json_files) == FINQA_JSON_FILES
    assert episodes == ()
    assert len(issues) == FINQA_JSON_FILES
    assert sorted(i.path for i in issues) == sorted(str(p.relative_to(CORPORA / NOT_TRACES))
                                                    for p in json_files)
    assert all(i.reason.startswith("no format recognises it (json; first record has keys") for i in issues)
    assert all(i.format is None for i in issues)


@pytest.mark.parametrize("corpus", sorted([*CORPUS, NOT_TRACES]))
def test_agent_basics_scores_every_corpus(corpus, tmp_path: Path):
    """`rubricate score <corpus> --rubric agent-basics` completes: every episode scored, no `error`
    verdict; a folder with no episode (finqa's tables) is written but exits 3, naming its load issues."""
    if corpus in CORPUS:
        _require(CORPUS[corpus][0])
    out = tmp_path / "run"
    argv = ["score", str(CORPORA / corpus), "--rubric", "agent-basics", "--out", str(out), "--quiet",
            "--workers", "1", "--no-progress"]
    assert main(argv) == (EXIT_OK if corpus in CORPUS else EXIT_FAILED)
    run = open_run(out)
    counts = run.info["counts"]
    expected = CORPUS[corpus][1] if corpus in CORPUS else 0
    assert counts["episodes"] == expected
    assert counts["issues"] == (FINQA_JSON_FILES if corpus == NOT_TRACES else 0)
    assert counts["verdicts"]["error"] == 0, run.verdicts().filter(verdict="error").head(5)
    assert sum(counts["verdicts"].values()) == expected * len(run.item_order)
