"""`rubricate analyze | compare | guide | sql` in-process on the wiki-search example: output, JSON,
and exit codes (2 usage, 3 could not complete)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rubricate
from rubricate.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "wiki-search"
BEFORE, AFTER = "wiki-search--qwen--qwen3-4b-instruct-2507", "wiki-search--willcb--qwen3-4b-wiki-search"


@pytest.fixture(autouse=True)
def _no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_NO_PLUGINS", "1")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli-analysis")
    rubric = rubricate.load_rubric(EXAMPLE / "rubric.toml")
    out = {"all": rubricate.score_run(EXAMPLE / "traces", rubric, root / "all", workers=1).path}
    for key, name in (("before", BEFORE), ("after", AFTER)):
        out[key] = rubricate.score_run(EXAMPLE / "traces" / name, rubric, root / key, workers=1).path
    return out


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_commands_are_registered(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == EXIT_OK
    for command in ("analyze", "compare", "guide", "sql"):
        assert command in out


def test_analyze_tables_and_principal(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "analyze", runs["all"], "--by", "model")
    assert code == EXIT_OK, err
    for text in ("task failure: reward < 1", "Behaviors", "95% interval", "Attribution of task failures",
                 "The principal failure mode is discovery", "Top failure patterns", "Pass rate by model", "gpt-4.1",
                 "Outcome items (reported as outcome, never weighed as causes): answer_correct",
                 "Chain: discovery (13) -> schema-inspection (13)", "root cause", "symptom of"):
        assert text in " ".join(out.split()), text
    assert "Behaviors over training" not in out  # no step in these episodes
    for behavior in ("discovery", "schema-inspection", "error-recovery", "grounding", "correctness"):
        assert behavior in out


def test_analyze_json(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "analyze", runs["all"], "--outcome", "answer_correct", "--json")
    assert code == EXIT_OK, err
    data = json.loads(out)
    assert data["outcome"] == "answer_correct" and data["cohorts"] is None and data["threshold"] == 1.0
    assert [r["behavior"] for r in data["behaviors"]] == ["discovery", "schema-inspection", "error-recovery",
                                                          "grounding", "correctness"]
    assert "correctness" not in [r["behavior"] for r in data["attribution"]]  # the outcome item is left out
    assert sorted(r["rank"] for r in data["attribution"]) == list(range(1, len(data["attribution"]) + 1))
    assert data["principal"].startswith("The principal failure mode is ")


def test_analyze_evidence_rule_options(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "analyze", runs["all"], "--min-failing", "50", "--json")
    assert code == EXIT_OK, err
    data = json.loads(out)
    assert data["roots"] == [] and data["principal"].startswith("No behavior reliably explains task failure")
    assert "at least 50 episodes" in data["evidence_rule"]
    code, out, err = _run(capsys, "analyze", runs["all"], "--correction", "bh", "--alpha", "0.01", "--json")
    assert code == EXIT_OK, err
    assert "Benjamini-Hochberg" in json.loads(out)["evidence_rule"]
    code, _, err = _run(capsys, "analyze", runs["all"], "--correction", "bonferroni")
    assert code == EXIT_USAGE
    code, _, err = _run(capsys, "analyze", runs["all"], "--over", "checkpoint")
    assert code == EXIT_USAGE and "no episode has a step at metadata key 'checkpoint'" in err


def test_analyze_over_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rubricate.analyzer._synthetic import synthetic_training, write_training

    run, _ = synthetic_training("hacking", seed=1)
    path = write_training(run, tmp_path / "run")
    code, out, err = _run(capsys, "analyze", path, "--over", "step")
    assert code == EXIT_OK, err
    assert "Behaviors over training by step (pass rate [95% interval])" in out
    assert "first significant change at step" in out and "Reward-hacking warning: from step " in out
    code, out, err = _run(capsys, "analyze", path, "--json")
    assert code == EXIT_OK, err
    assert json.loads(out)["training"]["hacking"]["flagged"] is True


def test_analyze_usage_errors(runs: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "analyze", runs["all"], "--outcome", "answer_corect")
    assert code == EXIT_USAGE
    assert "error:" in err and "outcome 'answer_corect'" in err and "hint: did you mean 'answer_correct'?" in err
    assert "Traceback" not in err
    code, _, err = _run(capsys, "analyze", str(tmp_path / "missing"))
    assert code == EXIT_FAILED and "no such run directory" in err


def test_compare_before_and_after_rl(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "compare", runs["before"], runs["after"])
    assert code == EXIT_OK, err
    flat = " ".join(out.split())
    assert f"baseline {runs['before']} -> candidate {runs['after']}: 100 matched episode pairs on 100 tasks" in flat
    assert "mcnemar-exact" in out and "searches_first" in out and "+30.0 pts" in out and "better" in out
    assert "worse" not in out.split("better/worse")[0]  # RL's gains read as gains
    code, out, err = _run(capsys, "compare", runs["before"], runs["after"], "--json")
    assert code == EXIT_OK, err
    data = json.loads(out)
    assert (data["matched_pairs"], data["matched_tasks"], data["warnings"]) == (100, 100, [])
    items = {r["item"]: r for r in data["items"]}
    for item in ("searches_first", "views_sections_first", "answer_correct"):
        row = items[item]
        assert row["candidate_rate"] > row["baseline_rate"] and row["p_value"] < 0.05 and row["direction"] == "better"


def test_compare_refuses_another_rubric(runs: dict[str, str], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(runs["after"], other)
    info = json.loads((other / "run.json").read_text())
    info["rubric"]["id"] = "agent-basics"
    (other / "run.json").write_text(json.dumps(info))
    code, _, err = _run(capsys, "compare", runs["before"], str(other))
    assert code == EXIT_USAGE and "different rubrics" in err and "hint:" in err and "--force" in err
    code, _, err = _run(capsys, "compare", runs["before"], str(other), "--force")
    assert code == EXIT_OK and "warning: the runs were scored with different rubrics" in err


def test_guide_writes_jsonl(runs: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "guide.jsonl"
    code, out, err = _run(capsys, "guide", runs["all"], "--out", str(path), "--top", "2", "--by", "model")
    assert code == EXIT_OK, err
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines and f"wrote {len(lines)} lines to {path}" in err
    assert len({line["behavior"] for line in lines}) == 2
    assert all(line["prompt"] and line["recommendation"] and line["cohort"] for line in lines)
    assert "1. discovery (searches_first; root cause)" in out and "Generate tasks" in out
    assert "Evidence: Root cause of task failure:" in out
    code, out, err = _run(capsys, "guide", runs["all"], "--json", "--top", "1", "--examples", "2")
    assert code == EXIT_OK, err
    [entry] = json.loads(out)
    assert len(entry["failing"]) == 2 and entry["recommendation"]


def test_sql(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    query = "SELECT item, count(*) FILTER (verdict = 'pass') AS passes FROM verdicts GROUP BY item ORDER BY item"
    code, out, err = _run(capsys, "sql", runs["before"], query)
    assert code == EXIT_OK, err
    assert "searches_first" in out and "(6 rows)" in out
    code, out, err = _run(capsys, "sql", runs["before"], query, "--json")
    assert code == EXIT_OK, err
    assert {r["item"]: r["passes"] for r in json.loads(out)}["searches_first"] == 90
    code, out, err = _run(capsys, "sql", runs["before"], "SELECT count(*) AS n FROM episodes", "--max-rows", "1")
    assert code == EXIT_OK and "100" in out
    code, _, err = _run(capsys, "sql", runs["before"], "SELEC 1")
    assert code == EXIT_USAGE and "error:" in err and "hint:" in err and "verdicts" in err
