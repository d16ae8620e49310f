"""`guide` and `write_guide`: which behaviors come first (the diagnosis's roots and symptoms under the
one evidence rule, else by fails; outcome behaviors last), where they fail, failing and passing
examples, recommendations in the rubric's words, and the JSONL a data-generation pipeline reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _runs import episode_record, scored_run

from rubricate.analyzer import GuideEntry, Run, analyze, guide, open_run, write_guide
from rubricate.analyzer._synthetic import ROOT, SYMPTOMS, synthetic_cohort

ITEMS = [("d", "discovery", "Lists what exists before using it."), ("s", "schema-inspection"),
         ("ok", "correctness"), ("z", "tool-hygiene", "Closes what it opens.")]


def _verdicts(task: int, r: int) -> tuple[dict, float]:
    d_fails = task == 0 or (task == 1 and r == 0)
    v = {"d": ("fail", [2 + r]) if d_fails else ("pass", [1]),
         "s": ("fail", [4]) if (task, r) == (2, 0) else "pass",
         "ok": "fail" if d_fails or (task, r) == (3, 0) else "pass",
         "z": ("fail", [7]) if task == 3 and r > 0 else "pass"}
    return v, 0.0 if v["ok"] == "fail" else 1.0


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    records = []
    for task in range(4):
        for r in range(3):
            v, reward = _verdicts(task, r)
            records.append(episode_record(f"t{task}-r{r}", v, task=f"t{task}", reward=reward,
                                          model="m1" if r < 2 else "m2", question=f"Q{task}?"))
    return scored_run(tmp_path_factory.mktemp("guide"), ITEMS, records)


def test_order_without_evidence_is_by_fails_outcome_behaviors_last(run: Run) -> None:
    # 12 episodes: no behavior meets the evidence rule, so behaviors come by how often they fail
    entries = guide(run, top=10)
    assert [e.behavior for e in entries] == ["discovery", "tool-hygiene", "schema-inspection", "correctness"]
    assert [e.role for e in entries] == ["not shown", "not shown", "not shown", "outcome"]
    assert entries[0].evidence.startswith("Not shown to drive task failure under the evidence rule (not enough "
                                          "failures to test)")
    assert "reported as outcome, not weighed as a cause" in entries[-1].evidence
    assert [e.behavior for e in guide(run)] == ["discovery", "tool-hygiene", "schema-inspection"]
    assert guide(run, top=0) == []


def test_order_follows_the_diagnosis_root_then_symptoms(tmp_path: Path) -> None:
    run = open_run(synthetic_cohort("chain", 400, 1).write(tmp_path / "chain"))
    a = analyze(run)
    entries = guide(run, top=5, examples=1)
    assert [e.behavior for e in entries][:3] == [ROOT, *SYMPTOMS]
    roles = dict(zip(a.attribution["behavior"], a.attribution["role"]))
    assert [e.role for e in entries] == [roles[e.behavior] for e in entries]  # one rule, one verdict
    assert entries[0].role == "root cause" and entries[1].role == f"symptom of {ROOT}"
    assert entries[0].evidence.startswith("Root cause of task failure: it fails in ")
    assert "Fisher p = " in entries[0].evidence and "Holm-adjusted" in entries[0].evidence
    assert guide(run, top=5, examples=1, analysis=a) == entries  # the analysis's diagnosis, lent: the same guide


def test_entry_where_and_examples(run: Run) -> None:
    entry = guide(run, by="model")[0]
    assert isinstance(entry, GuideEntry)
    assert (entry.behavior, entry.items, entry.fails, entry.n) == ("discovery", ["d"], 4, 12)
    assert entry.fail_rate == pytest.approx(1 / 3)
    assert [(w.kind, w.name, w.fail, w.n) for w in entry.where] == [
        ("task", "t0", 3, 3), ("task", "t1", 1, 3), ("cohort", "m1", 3, 8), ("cohort", "m2", 1, 4)]
    # spread over tasks first (one a task), worst tasks first
    assert [e.episode_id for e in entry.failing] == ["t0-r0", "t1-r0", "t0-r1", "t0-r2"]
    first = entry.failing[0]
    assert (first.task_id, first.question, first.items, first.evidence, first.reason, first.cohort) == \
        ("t0", "Q0?", ["d"], [2], "scripted fail of d", "m1")
    # passing examples from the failing examples' tasks first (t0 has none), then spread over tasks
    assert [e.episode_id for e in entry.passing] == ["t1-r1", "t1-r2", "t2-r0", "t3-r0", "t2-r1"]
    assert entry.passing[0].evidence == [1] and entry.passing[0].reason == "scripted pass of d"
    assert [e.episode_id for e in guide(run, examples=2)[0].failing] == ["t0-r0", "t1-r0"]
    assert guide(run)[0].failing[0].cohort is None


def test_recommendations_in_the_rubrics_words(run: Run) -> None:
    entries = {e.behavior: e for e in guide(run, top=10, by="model")}
    rec = entries["discovery"].recommendation
    assert rec.startswith("Generate tasks that exercise discovery as the rubric defines it (d: Lists what exists "
                          "before using it)")
    assert "It fails in 4 of 12 episodes (33%), most in m1 (38%); seed new tasks from tasks t0, t1." in rec
    assert "(z: Closes what it opens)" in entries["tool-hygiene"].recommendation
    assert "seed new tasks from task t3." in entries["tool-hygiene"].recommendation
    assert "(s)" in entries["schema-inspection"].recommendation  # no description: the item id, nothing invented
    for e in entries.values():  # no other environment's wording
        for foreign in ("table", "section", "misspelled", "page", "column"):
            assert foreign not in e.recommendation.lower()
    assert all(e.tools == [] for e in entries.values())  # scripted episodes call no tool


def test_several_items_of_one_behavior(tmp_path: Path) -> None:
    records = [episode_record("e0", {"r1": ("fail", [3]), "r2": ("fail", [5, 3])}, task="t", reward=0.0),
               episode_record("e1", {"r1": "pass", "r2": "na"}, task="t", reward=1.0)]
    [entry] = guide(scored_run(tmp_path, [("r1", "error-recovery"), ("r2", "error-recovery")], records))
    [ex] = entry.failing
    assert (ex.items, ex.evidence, ex.reason) == (["r1", "r2"], [3, 5],
                                                  "r1: scripted fail of r1; r2: scripted fail of r2")
    assert [(p.episode_id, p.items) for p in entry.passing] == [("e1", ["r1"])]


def test_write_guide_jsonl(run: Run, tmp_path: Path) -> None:
    entries = guide(run, by="model")
    path = tmp_path / "out" / "guide.jsonl"
    n = write_guide(entries, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert n == len(lines) == 4  # one a (behavior, task): discovery t0, t1; schema-inspection t2; tool-hygiene t3
    assert [(r["behavior"], r["task_id"]) for r in lines] == [
        ("discovery", "t0"), ("discovery", "t1"), ("tool-hygiene", "t3"), ("schema-inspection", "t2")]
    first = lines[0]
    assert {"task_id", "prompt", "behavior", "evidence", "cohort", "recommendation", "role", "why"} <= set(first)
    assert (first["prompt"], first["evidence"], first["cohort"]) == ("Q0?", [2], "m1")
    assert first["recommendation"] == entries[0].recommendation
    assert write_guide([], path) == 0 and path.read_text() == ""
