"""`compare` baseline -> candidate: paired McNemar on matched tasks, the z-test on unmatched runs,
rollouts paired by order, items present in one run only, better/worse by what the rubric asks for
(pitfalls too), refusing runs of other rubrics, order invariance; and the real wiki-search example
before/after RL."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from _runs import episode_record, frame_run, scored_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from rubricate import load_rubric, score_run
from rubricate.analyzer import analyze, comparability, compare, matched_pairs, open_run
from rubricate.errors import AnalysisError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "wiki-search"
BEFORE, AFTER = "wiki-search--qwen--qwen3-4b-instruct-2507", "wiki-search--willcb--qwen3-4b-wiki-search"
ITEMS = [("d", "discovery"), ("s", "schema-inspection")]
COLUMNS = ["item", "behavior", "pitfall", "baseline_rate", "baseline_n", "candidate_rate", "candidate_n", "change",
           "direction", "p_value", "test", "matched_pairs", "matched_tasks"]


def _row(frame: pl.DataFrame, item: str) -> dict:
    return frame.filter(pl.col("item") == item).row(0, named=True)


def test_matched_tasks_use_exact_mcnemar(tmp_path: Path) -> None:
    # per task (A, B): 5 both pass, 3 only A passes, 10 only B passes, 2 both fail
    pairs = [("pass", "pass")] * 5 + [("pass", "fail")] * 3 + [("fail", "pass")] * 10 + [("fail", "fail")] * 2
    a = scored_run(tmp_path, [("d", "discovery"), ("g", "grounding")],
                   [episode_record(f"a{k}", {"d": x, "g": "pass"}, task=f"t{k:02d}")
                    for k, (x, _) in enumerate(pairs)],
                   name="a")
    b = scored_run(tmp_path, [("d", "discovery"), ("g", "grounding"), ("x", "efficiency")],
                   [episode_record(f"b{k}", {"d": y, "g": "na", "x": "pass"}, task=f"t{k:02d}")
                    for k, (_, y) in reversed(list(enumerate(pairs)))], name="b")
    frame = compare(a, b)
    assert frame.columns == COLUMNS
    assert frame["item"].to_list() == ["d", "g", "x"]  # A's items, then B's new ones
    d = _row(frame, "d")
    assert (d["baseline_rate"], d["baseline_n"], d["candidate_rate"], d["candidate_n"]) == (0.4, 20, 0.75, 20)
    assert d["change"] == pytest.approx(0.35)
    assert d["p_value"] == pytest.approx(2 * (1 + 13 + 78 + 286) / 2 ** 13)  # 0.0923: 3 vs 10 discordant
    assert (d["test"], d["matched_tasks"], d["behavior"]) == ("mcnemar-exact", 20, "discovery")
    g = _row(frame, "g")  # every B verdict na: nothing to test
    assert (g["baseline_rate"], g["baseline_n"], g["candidate_rate"], g["candidate_n"], g["change"], g["p_value"], g["test"]) == \
        (1.0, 20, None, 0, None, None, None)
    x = _row(frame, "x")  # only in B
    assert (x["baseline_n"], x["candidate_rate"], x["test"], x["behavior"]) == (0, 1.0, None, "efficiency")


def test_unmatched_runs_use_two_proportion_z(tmp_path: Path) -> None:
    a_records = [episode_record(f"a{k}", {"d": "pass" if k < 45 else "fail"}, task=f"a{k}") for k in range(100)]
    a_records += [episode_record(f"n{k}", {"d": "na"}, task=f"n{k}") for k in range(10)]  # na: not in n
    b_records = [episode_record(f"b{k}", {"d": "pass" if k < 60 else "fail"}, task=f"b{k}") for k in range(100)]
    a = scored_run(tmp_path, [("d", "discovery")], a_records, name="a")
    b = scored_run(tmp_path, [("d", "discovery")], b_records, name="b")
    d = compare(a, b).row(0, named=True)
    assert (d["baseline_rate"], d["baseline_n"], d["candidate_rate"], d["candidate_n"], d["test"], d["matched_tasks"]) == \
        (0.45, 100, 0.6, 100, "z-test", 0)
    assert d["p_value"] == pytest.approx(0.03367, abs=1e-5)  # prop.test(c(45, 60), c(100, 100), correct = FALSE)
    assert d["change"] == pytest.approx(0.15)


def test_rollouts_of_a_task_pair_in_episode_id_order(tmp_path: Path) -> None:
    # t0: A (pass, fail) vs B (fail, fail); t1: A (pass, pass) vs B (pass, fail): 2 only-A pairs, 0 only-B
    a = [("a0", "t0", "pass"), ("a1", "t0", "fail"), ("a2", "t1", "pass"), ("a3", "t1", "pass")]
    b = [("b3", "t1", "fail"), ("b0", "t0", "fail"), ("b2", "t1", "pass"), ("b1", "t0", "fail")]
    ra = scored_run(tmp_path, ITEMS[:1], [episode_record(e, {"d": v}, task=t) for e, t, v in a], name="a")
    rb = scored_run(tmp_path, ITEMS[:1], [episode_record(e, {"d": v}, task=t) for e, t, v in b], name="b")
    d = compare(ra, rb).row(0, named=True)
    assert (d["baseline_rate"], d["candidate_rate"], d["baseline_n"], d["test"], d["matched_tasks"]) == \
        (0.75, 0.25, 4, "mcnemar-exact", 2)
    assert d["p_value"] == pytest.approx(0.5)


def test_too_few_pairs_fall_back_to_the_z_test(tmp_path: Path) -> None:
    a = scored_run(tmp_path, [("d", "discovery")],
                   [episode_record(f"a{k}", {"d": "pass"}, task=f"t{k}") for k in range(10)], name="a")
    b = scored_run(tmp_path, [("d", "discovery")],
                   [episode_record(f"b{k}-{r}", {"d": "fail" if r else "pass"}, task=f"t{k}")
                    for k in range(10) for r in range(3)], name="b")
    d = compare(a, b).row(0, named=True)
    assert (d["test"], d["baseline_n"], d["candidate_n"], d["matched_tasks"]) == ("z-test", 10, 30, 10)
    assert d["candidate_rate"] == pytest.approx(1 / 3)


def _edit_rubric(run_dir: str | Path, **changes: object) -> None:
    path = Path(run_dir) / "run.json"
    info = json.loads(path.read_text())
    info["rubric"].update(changes)
    path.write_text(json.dumps(info))


def test_direction_is_better_or_worse_by_what_the_rubric_asks(tmp_path: Path) -> None:
    # a pitfall (weight < 0) passes when avoided: its pass rate rising is better, its hit rate falling
    items = [("up", "discovery"), ("down", "grounding"), ("trap", "error-recovery")]
    before = [("pass" if k < 10 else "fail", "pass" if k < 90 else "fail", "pass" if k < 50 else "fail")
              for k in range(100)]
    after = [("pass" if k < 90 else "fail", "pass" if k < 10 else "fail", "pass" if k < 95 else "fail")
             for k in range(100)]
    runs = []
    for name, rows in (("a", before), ("b", after)):
        eps = pl.DataFrame({"episode_id": [f"{name}{k}" for k in range(100)], "task_id": [f"t{k}" for k in range(100)]})
        verdicts = pl.DataFrame([(f"{name}{k}", i, v) for k, r in enumerate(rows) for (i, _), v in zip(items, r)],
                                schema={"episode_id": pl.String, "item": pl.String, "verdict": pl.String},
                                orient="row")
        run = frame_run(tmp_path / name, items, eps, verdicts)
        info = json.loads((tmp_path / name / "run.json").read_text())
        info["rubric"]["items"][2]["weight"] = -1.0
        (tmp_path / name / "run.json").write_text(json.dumps(info))
        runs.append(open_run(run.path))
    frame = compare(*runs)
    got = {r["item"]: (r["pitfall"], r["change"], r["direction"]) for r in frame.iter_rows(named=True)}
    assert got["up"] == (False, pytest.approx(0.8), "better")
    assert got["down"] == (False, pytest.approx(-0.8), "worse")
    assert got["trap"] == (True, pytest.approx(0.45), "better")  # hit 50% -> 5%: fewer pitfalls hit
    assert set(frame["matched_pairs"]) == {100} and matched_pairs(*runs) == (100, 100)


def test_runs_of_other_rubrics_are_refused_unless_forced(tmp_path: Path) -> None:
    rows = [episode_record(f"e{k}", {"d": "pass"}, task=f"t{k}") for k in range(4)]
    a = scored_run(tmp_path, ITEMS[:1], rows, name="a")
    b = scored_run(tmp_path, ITEMS[:1], rows, name="b")
    assert comparability(a, b) == []
    _edit_rubric(b.path, hash="sha256:0000")
    [warning] = comparability(open_run(a.path), open_run(b.path))
    assert "differs between the runs (content hash" in warning
    _edit_rubric(b.path, id="another")
    with pytest.raises(AnalysisError, match="different rubrics") as info:
        compare(a.path, b.path)
    assert "--force" in (info.value.hint or "")
    forced = compare(a.path, b.path, force=True)
    assert forced.height == 1
    assert comparability(open_run(a.path), open_run(b.path))[0].startswith("the runs were scored with different rubrics")


DECIDED = st.sampled_from(["pass", "fail", "na"])


def _frames(rows: list[tuple[str, str, str]], prefix: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    eps = pl.DataFrame({"episode_id": [f"{prefix}{k}" for k in range(len(rows))], "task_id": [r[0] for r in rows],
                        "metadata": [json.dumps({}) for _ in rows]})
    rows_v = [(f"{prefix}{k}", item, v) for k, r in enumerate(rows) for (item, _), v in zip(ITEMS, r[1:])]
    verdicts = pl.DataFrame(rows_v,
                            schema={"episode_id": pl.String, "item": pl.String, "verdict": pl.String}, orient="row")
    return eps, verdicts


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.lists(st.tuples(st.sampled_from(["t0", "t1", "t2"]), DECIDED, DECIDED), min_size=1, max_size=15),
       b=st.lists(st.tuples(st.sampled_from(["t0", "t1", "t3"]), DECIDED, DECIDED), min_size=1, max_size=15),
       seed=st.integers(0, 1000))
def test_compare_is_order_invariant(tmp_path_factory: pytest.TempPathFactory, a: list, b: list, seed: int) -> None:
    root = tmp_path_factory.mktemp("cmp")
    (ea, va), (eb, vb) = _frames(a, "a"), _frames(b, "b")
    first = compare(frame_run(root / "a", ITEMS, ea, va), frame_run(root / "b", ITEMS, eb, vb))
    shuffle = {"fraction": 1.0, "shuffle": True, "seed": seed}
    second = compare(frame_run(root / "a2", ITEMS, ea.sample(**shuffle), va.sample(**shuffle)),
                     frame_run(root / "b2", ITEMS, eb.sample(**shuffle), vb.sample(**shuffle)))
    assert_frame_equal(first, second)
    for row in first.iter_rows(named=True):
        for key in ("baseline_rate", "candidate_rate", "p_value"):
            assert row[key] is None or 0.0 <= row[key] <= 1.0


# the real example: RL taught the 4B model to search first and view sections first

@pytest.fixture(scope="module")
def qwen_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    rubric = load_rubric(EXAMPLE / "rubric.toml")
    root = tmp_path_factory.mktemp("wiki")
    before, after = (score_run(EXAMPLE / "traces" / name, rubric, root / name, workers=1).path
                     for name in (BEFORE, AFTER))
    return before, after


def test_wiki_search_before_and_after_rl(qwen_runs: tuple[str, str]) -> None:
    frame = compare(*qwen_runs)
    for item in ("searches_first", "views_sections_first"):
        row = _row(frame, item)
        assert row["test"] == "mcnemar-exact" and row["matched_tasks"] == 100 and row["baseline_n"] == row["candidate_n"] == 100
        assert row["candidate_rate"] > row["baseline_rate"] and row["p_value"] < 0.05, row
    assert _row(frame, "searches_first")["behavior"] == "discovery"
    assert _row(frame, "views_sections_first")["behavior"] == "schema-inspection"
    # the README's figures: 90% -> 100% searches first, i.e. 10 discordant pairs all in B's favour
    first = _row(frame, "searches_first")
    if (first["baseline_rate"], first["candidate_rate"]) == (0.9, 1.0):
        assert first["p_value"] == pytest.approx(2 / 2 ** 10)
    # the same runs analysed: discovery and schema-inspection rates rise
    before, after = (analyze(open_run(p)).behaviors.filter(pl.col("behavior").is_in(["discovery",
                                                                                     "schema-inspection"]))
                     for p in qwen_runs)
    assert (after["rate"] > before["rate"]).all()
