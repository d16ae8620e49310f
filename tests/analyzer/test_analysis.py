"""`analyze` on small scored runs with hand-computed expectations: item and behavior counts and
Wilson intervals (na and error never in a denominator), attribution and the principal failure mode,
outcome detection, co-occurrence, patterns, first failing steps, cohorts; and order invariance."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from _runs import episode_record, frame_run, scored_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from rubricate.analyzer import Analysis, analyze
from rubricate.analyzer._stats import wilson
from rubricate.errors import AnalysisError

ITEMS = [("d1", "discovery"), ("s1", "schema-inspection"), ("r1", "error-recovery"), ("r2", "error-recovery"),
         ("ok", "correctness")]
# (id, task, reward, model, verdicts): failed tasks (reward 0) are e2, e3, e5
SMALL = [
    ("e1", "t1", 1.0, "a", {"d1": "pass", "s1": "pass", "r1": "na", "r2": "na", "ok": "pass"}),
    ("e2", "t1", 0.0, "a", {"d1": ("fail", [2]), "s1": ("fail", [3]), "r1": "na", "r2": "na", "ok": ("fail", [9])}),
    ("e3", "t2", 0.0, "a", {"d1": ("fail", [4]), "s1": "pass", "r1": ("fail", [5]), "r2": "pass", "ok": "fail"}),
    ("e4", "t2", 1.0, "b", {"d1": "pass", "s1": "pass", "r1": "pass", "r2": "pass", "ok": "pass"}),
    ("e5", "t3", 0.0, "b", {"d1": ("fail", [6, 1]), "s1": "error", "r1": "error", "r2": "na", "ok": "fail"}),
    ("e6", "t3", 1.0, "b", {"d1": "pass", "s1": "na", "r1": "na", "r2": "error", "ok": "pass"}),
]


def _records(rewards: bool = True) -> list[dict]:
    return [episode_record(eid, v, task=task, reward=reward if rewards else None, model=model)
            for eid, task, reward, model, v in SMALL]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    run = scored_run(tmp_path_factory.mktemp("analysis"), ITEMS, _records())
    return analyze(run, by="model")


def _rows(frame: pl.DataFrame, *columns: str) -> list[tuple]:
    return [tuple(r) for r in frame.select(*columns).iter_rows()]


def test_items_counts_rates_and_wilson(small: Analysis) -> None:
    assert _rows(small.items, "item", "behavior", "pass", "fail", "na", "error") == [
        ("d1", "discovery", 3, 3, 0, 0), ("s1", "schema-inspection", 3, 1, 1, 1),
        ("r1", "error-recovery", 1, 1, 3, 1), ("r2", "error-recovery", 2, 0, 3, 1),
        ("ok", "correctness", 3, 3, 0, 0)]
    # na and error are never in a denominator: s1 is 3 of 4, not 3 of 6
    assert small.items["rate"].to_list() == [0.5, 0.75, 0.5, 1.0, 0.5]
    for row in small.items.iter_rows(named=True):
        lo, hi = wilson(row["pass"], row["pass"] + row["fail"])
        assert row["lo"] == pytest.approx(lo) and row["hi"] == pytest.approx(hi)
    d1 = small.items.row(0, named=True)
    assert (d1["lo"], d1["hi"]) == pytest.approx((0.18761, 0.81239), abs=1e-5)  # Wilson 95% of 3/6


def test_behaviors_combine_items_per_episode(small: Analysis) -> None:
    # error-recovery: e3 fail+pass = fail, e4 pass+pass = pass, e5 error+na = error, e6 na+error = error,
    # e1 and e2 na+na = na
    assert _rows(small.behaviors, "behavior", "pass", "fail", "na", "error", "rate") == [
        ("discovery", 3, 3, 0, 0, 0.5), ("schema-inspection", 3, 1, 1, 1, 0.75),
        ("error-recovery", 1, 1, 2, 2, 0.5),
        ("correctness", 3, 3, 0, 0, 0.5)]
    assert (small.behaviors["pass"] + small.behaviors["fail"] + small.behaviors["na"]
            + small.behaviors["error"]).to_list() == [6] * 4


def test_attribution_and_principal_with_reward_outcome(small: Analysis) -> None:
    assert small.outcome == "reward"
    a = small.attribution
    assert a.columns[:6] == ["behavior", "role", "episodes_failing", "failed_when_fails", "task_fail_rate_when_fails",
                             "task_fail_rate_when_passes"]
    assert a.columns[-1] == "rank"
    # correctness restates the outcome: reported as outcome, never weighed as a cause
    assert "correctness" not in a["behavior"].to_list() and small.outcome_items == ("ok",)
    # discovery: fails in e2, e3, e5 (all failed), passes in e1, e4, e6 (none failed): Fisher p = 0.1
    d = a.row(0, named=True)
    assert (d["behavior"], d["episodes_failing"], d["failed_when_fails"], d["rank"]) == ("discovery", 3, 3, 1)
    assert (d["task_fail_rate_when_fails"], d["task_fail_rate_when_passes"]) == (1.0, 0.0)
    assert d["p_value"] == pytest.approx(0.1) and d["p_adjusted"] == pytest.approx(0.3)  # Holm over 3 tested
    assert d["difference"] == 1.0 and d["difference_lo"] is not None and 0 < d["difference_lo"] < 1
    assert d["supported"] is False and d["role"] == "not shown"
    by = {r["behavior"]: r for r in a.iter_rows(named=True)}
    assert by["schema-inspection"]["task_fail_rate_when_passes"] == pytest.approx(1 / 3)
    assert by["schema-inspection"]["lift"] == pytest.approx(3.0)
    assert by["schema-inspection"]["share_of_failed_episodes"] == pytest.approx(1 / 3)
    assert small.principal_behavior is None and small.roots == ()
    # 6 episodes: no claim; the strongest association with its numbers and the episodes it would need
    assert small.principal is not None
    assert small.principal.startswith("No behavior reliably explains task failure in this run (reward < 1 in 3 of "
                                      "6 episodes)")
    assert ("discovery does, but fails in only 3 of 6 episodes, too few to test: the task fails (reward < 1) in 100% "
            "of those against 0% when it passes, a difference of +100 pts") in small.principal
    # 20 = the rule's 10 failing episodes at this mix (half the episodes fail discovery)
    assert small.principal.endswith("Fisher p = 0.1, Holm-adjusted 0.3); about 20 episodes at this mix would detect "
                                    "a difference that size.")


def test_cooccurrence_and_patterns(small: Analysis) -> None:
    third = pytest.approx(1 / 3)
    assert _rows(small.cooccurrence, "behavior_a", "behavior_b", "both_fail", "either_fail", "jaccard") == [
        ("discovery", "correctness", 3, 3, 1.0), ("discovery", "schema-inspection", 1, 3, third),
        ("discovery", "error-recovery", 1, 3, third), ("schema-inspection", "correctness", 1, 3, third),
        ("error-recovery", "correctness", 1, 3, third), ("schema-inspection", "error-recovery", 0, 2, 0.0)]
    assert _rows(small.patterns, "pattern", "episodes") == [
        ("discovery + correctness", 1), ("discovery + error-recovery + correctness", 1),
        ("discovery + schema-inspection + correctness", 1)]
    assert small.patterns["share"].to_list() == [third] * 3


def test_first_failing_step_from_evidence(small: Analysis) -> None:
    # d1 first steps 2, 4, 1: median 2, p90 = 2 + 0.8 * (4 - 2); ok: only e2 cites a step
    assert _rows(small.first_failing_step, "item", "fails", "median_first_step", "p90_first_step") == [
        ("d1", 3, 2.0, pytest.approx(3.6)), ("s1", 1, 3.0, 3.0), ("r1", 1, 5.0, 5.0), ("ok", 3, 9.0, 9.0)]


def test_cohorts_by_metadata_key(small: Analysis) -> None:
    assert small.cohorts is not None
    assert _rows(small.cohorts, "cohort", "item", "pass", "fail", "episodes") == [
        ("a", "d1", 1, 2, 3), ("b", "d1", 2, 1, 3), ("a", "s1", 2, 1, 3), ("b", "s1", 1, 0, 3),
        ("a", "r1", 0, 1, 3), ("b", "r1", 1, 0, 3), ("a", "r2", 1, 0, 3), ("b", "r2", 1, 0, 3),
        ("a", "ok", 1, 2, 3), ("b", "ok", 2, 1, 3)]
    row = small.cohorts.row(0, named=True)
    assert row["rate"] == pytest.approx(1 / 3)
    assert (row["lo"], row["hi"]) == pytest.approx(wilson(1, 3))
    assert analyze(small.run).cohorts is None


def test_outcome_item_leaves_itself_out(small: Analysis) -> None:
    a = analyze(small.run, outcome="ok")
    assert a.outcome == "ok" and a.outcome_items == ("ok",)
    assert sorted(a.attribution["behavior"].to_list()) == ["discovery", "error-recovery", "schema-inspection"]
    assert "ok fails" in (a.principal or "")
    # any other item named as the outcome is left out of its behavior too
    b = analyze(small.run, outcome="d1")
    assert "discovery" not in b.attribution["behavior"].to_list() and b.outcome_items == ("ok", "d1")


def test_threshold(tmp_path: Path) -> None:
    records = [episode_record(f"e{i}", {"d1": "fail" if i < 2 else "pass"}, reward=r)
               for i, r in enumerate([0.5, 0.0, 1.0, 0.5])]
    run = scored_run(tmp_path, [("d1", "discovery")], records)
    strict = analyze(run).attribution.row(0, named=True)       # reward < 1: e0, e1, e3 failed
    assert strict["task_fail_rate_when_fails"] == 1.0 and strict["task_fail_rate_when_passes"] == 0.5
    loose = analyze(run, threshold=0.5).attribution.row(0, named=True)  # reward < 0.5: only e1
    assert loose["task_fail_rate_when_fails"] == 0.5 and loose["task_fail_rate_when_passes"] == 0.0
    assert "reward < 0.5" in (analyze(run, threshold=0.5).principal or "")


def test_lift_when_one_behavior_explains_failure(tmp_path: Path) -> None:
    # discovery fails in episodes 0-9, grounding in every 4th; tasks fail in 0-8 and 10-12
    records = [episode_record(f"e{i:02d}", {"d": "fail" if i < 10 else "pass",
                                            "g": "fail" if i % 4 == 0 else "pass"},
                              reward=0.0 if i < 9 or 10 <= i < 13 else 1.0) for i in range(40)]
    a = analyze(scored_run(tmp_path, [("d", "discovery"), ("g", "grounding")], records))
    d, g = a.attribution.row(0, named=True), a.attribution.row(1, named=True)
    assert (d["behavior"], d["rank"], g["behavior"], g["rank"]) == ("discovery", 1, "grounding", 2)
    assert d["task_fail_rate_when_fails"] == pytest.approx(0.9)
    assert d["task_fail_rate_when_passes"] == pytest.approx(0.1)
    assert d["lift"] == pytest.approx(9.0) and d["share_of_failed_episodes"] == pytest.approx(0.75)
    assert g["task_fail_rate_when_fails"] == pytest.approx(0.4) and g["lift"] == pytest.approx(1.5)
    assert (d["role"], d["supported"], g["role"], g["supported"]) == ("root cause", True, "not shown", False)
    assert a.principal_behavior == "discovery" and a.roots == ("discovery",)
    assert a.principal is not None and a.principal.startswith(
        "The principal failure mode is discovery: it fails in 10 of 40 episodes; the task fails (reward < 1) in "
        "90% of those against 10% when it passes, a difference of +80 pts (95% CI ")
    assert f"Fisher p = {d['p_value']:.2g}, Holm-adjusted {d['p_adjusted']:.2g})" in a.principal


def test_outcome_detection_and_errors(tmp_path: Path) -> None:
    no_reward = scored_run(tmp_path, ITEMS, _records(rewards=False), name="plain")
    none = analyze(no_reward)
    assert none.outcome is None and none.attribution.is_empty() and none.principal_behavior is None
    assert none.attribution.columns[-1] == "rank"
    assert none.principal is not None and none.principal.startswith("No outcome to attribute failures to")
    assert "most frequent failing behavior is discovery, failing in 3 of 6 episodes" in none.principal
    with pytest.raises(AnalysisError, match="no episode has a reward") as info:
        analyze(no_reward, outcome="reward")
    assert "--outcome" in (info.value.hint or "")
    with pytest.raises(AnalysisError, match="outcome 'okk'") as info:
        analyze(no_reward, outcome="okk")
    assert info.value.hint == "did you mean 'ok'?"

    renamed = [("answer_correct" if i == "ok" else i, b) for i, b in ITEMS]
    records = [episode_record(eid, {("answer_correct" if k == "ok" else k): x for k, x in v.items()}, task=task)
               for eid, task, _, _, v in SMALL]
    auto = analyze(scored_run(tmp_path, renamed, records, name="correct"))
    assert auto.outcome == "answer_correct" and "correctness" not in auto.attribution["behavior"].to_list()

    marked = [(i, b, "the task is done", "outcome") if i == "ok" else (i, b) for i, b in ITEMS]
    by_marker = analyze(scored_run(tmp_path, marked, _records(rewards=False), name="marked"))
    assert by_marker.outcome == "ok"  # the item the rubric marks `outcome = true`


def test_no_failed_task(tmp_path: Path) -> None:
    run = scored_run(tmp_path, [("d1", "discovery")], [episode_record("e", {"d1": "fail"}, reward=1.0)])
    a = analyze(str(run.path))
    assert a.principal == "No task failed (reward < 1 in 0 of 1 episodes); nothing to attribute."
    assert a.attribution["task_fail_rate_when_fails"].to_list() == [0.0]


def test_to_dict_is_json(small: Analysis) -> None:
    data = json.loads(json.dumps(small.to_dict()))
    assert data["outcome"] == "reward" and data["principal_behavior"] is None and data["roots"] == []
    assert data["outcome_items"] == ["ok"] and "Fisher" in data["evidence_rule"]
    assert isinstance(data["episodes_to_detect"], int)
    assert [r["item"] for r in data["items"]] == ["d1", "s1", "r1", "r2", "ok"]
    assert len(data["cohorts"]) == 10


# order invariance and bounds on random runs (written as frames: many runs, quickly)

FRAME_ITEMS = [("a", "x"), ("b", "y"), ("c", "y"), ("d", "z")]
VERDICT = st.sampled_from(["pass", "fail", "na", "error"])
EPISODE = st.tuples(st.lists(st.tuples(VERDICT, st.lists(st.integers(0, 20), max_size=3)), min_size=4, max_size=4),
                    st.sampled_from([None, 0.0, 0.5, 1.0]), st.sampled_from(["t0", "t1", "t2", None]),
                    st.sampled_from(["m1", "m2"]))


def _frames(episodes: list) -> tuple[pl.DataFrame, pl.DataFrame]:
    eps = pl.DataFrame({"episode_id": [f"e{k}" for k in range(len(episodes))],
                        "task_id": [e[2] for e in episodes], "reward": [e[1] for e in episodes],
                        "metadata": [json.dumps({"model": e[3]}) for e in episodes]},
                       schema={"episode_id": pl.String, "task_id": pl.String, "reward": pl.Float64,
                               "metadata": pl.String})
    rows = [(f"e{k}", item, v, ev) for k, e in enumerate(episodes) for (item, _), (v, ev) in zip(FRAME_ITEMS, e[0])]
    verdicts = pl.DataFrame(rows, schema={"episode_id": pl.String, "item": pl.String, "verdict": pl.String,
                                          "evidence": pl.List(pl.Int32)}, orient="row")
    return eps, verdicts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(episodes=st.lists(EPISODE, min_size=1, max_size=25), seed=st.integers(0, 2 ** 16))
def test_rates_bounded_and_order_invariant(tmp_path_factory: pytest.TempPathFactory, episodes: list,
                                           seed: int) -> None:
    root = tmp_path_factory.mktemp("prop")
    eps, verdicts = _frames(episodes)
    first = analyze(frame_run(root / "a", FRAME_ITEMS, eps, verdicts), by="model")
    second = analyze(frame_run(root / "b", FRAME_ITEMS, eps.sample(fraction=1.0, shuffle=True, seed=seed),
                               verdicts.sample(fraction=1.0, shuffle=True, seed=seed + 1)), by="model")
    for name in ("items", "behaviors", "attribution", "cooccurrence", "patterns", "first_failing_step", "cohorts"):
        assert_frame_equal(getattr(first, name), getattr(second, name), check_exact=False, rel_tol=1e-12)
    assert (first.principal, first.outcome) == (second.principal, second.outcome)
    for frame in (first.items, first.behaviors, first.cohorts):
        assert frame is not None
        for row in frame.iter_rows(named=True):
            if row["rate"] is None:
                assert row["pass"] + row["fail"] == 0 and row["lo"] is None
            else:
                assert 0.0 <= row["lo"] <= row["rate"] <= row["hi"] <= 1.0
    for col in ("task_fail_rate_when_fails", "task_fail_rate_when_passes", "share_of_failed_episodes"):
        assert all(0.0 <= x <= 1.0 for x in first.attribution[col].drop_nulls())
    assert all(0.0 <= x <= 1.0 for x in first.cooccurrence["jaccard"])
    totals = first.behaviors.select(pl.sum_horizontal("pass", "fail", "na", "error"))
    assert totals.to_series().to_list() == [len(episodes)] * first.behaviors.height
