"""`guide` and `write_guide`: which behaviors come first, where they fail, failing and passing
examples, recommendations, and the JSONL a data-generation pipeline reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _runs import episode_record, scored_run

from rubricate.analyzer import GuideEntry, Run, guide, write_guide
from rubricate.analyzer._guide import FALLBACK, RECOMMENDATIONS

ITEMS = [("d", "discovery"), ("s", "schema-inspection"), ("ok", "correctness"), ("z", "tool-hygiene")]


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


def test_order_principal_first_outcome_behaviors_last(run: Run) -> None:
    assert [e.behavior for e in guide(run)] == ["discovery", "schema-inspection", "tool-hygiene"]
    assert [e.behavior for e in guide(run, top=10)] == ["discovery", "schema-inspection", "tool-hygiene",
                                                        "correctness"]
    assert guide(run, top=0) == []


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


def test_recommendations(run: Run) -> None:
    entries = {e.behavior: e for e in guide(run, top=10, by="model")}
    rec = entries["discovery"].recommendation
    assert rec.startswith(RECOMMENDATIONS["discovery"])
    assert "It fails in 4 of 12 episodes (33%), most in m1 (38%); seed new tasks from tasks t0, t1." in rec
    assert entries["tool-hygiene"].recommendation.startswith(FALLBACK.format(behavior="tool-hygiene"))
    assert "seed new tasks from task t3." in entries["tool-hygiene"].recommendation
    assert set(RECOMMENDATIONS) == {"discovery", "schema-inspection", "error-recovery", "grounding", "correctness",
                                    "answering", "efficiency"}


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
        ("discovery", "t0"), ("discovery", "t1"), ("schema-inspection", "t2"), ("tool-hygiene", "t3")]
    first = lines[0]
    assert {"task_id", "prompt", "behavior", "evidence", "cohort", "recommendation"} <= set(first)
    assert (first["prompt"], first["evidence"], first["cohort"]) == ("Q0?", [2], "m1")
    assert first["recommendation"] == entries[0].recommendation
    assert write_guide([], path) == 0 and path.read_text() == ""
