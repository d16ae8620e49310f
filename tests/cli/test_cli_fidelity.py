"""Mistakes that used to pass silently now fail loudly, through `main(argv)`: a misspelled parameter,
nothing scored, a raising check (its reason names the user's line; --strict fails), an item that
never applies, calibrating a run that has no judge verdicts; and what `rubrics show` and
`rubrics init` tell a user about a rubric's parameters and their own traces."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from rubricate.analyzer import open_run
from rubricate.cli import EXIT_FAILED, EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, main
from rubricate.rubrics import isolated_registry, parse_rubric

from _shared import CORPORA, need

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "examples" / "wiki-search" / "traces"
FIXTURES = ROOT / "tests" / "fixtures"

CHECKS = '''
from rubricate import check


@check(behavior="custom")
def uses_auth(ctx):
    return bool(ctx.calls("auth"))


@check(behavior="custom")
def reads_metadata(ctx):
    return ctx.episode.metadata["nonexistent"]
'''


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def checks(tmp_path: Path) -> Path:
    path = tmp_path / "my_checks.py"
    path.write_text(CHECKS, encoding="utf-8")
    return path


def _rubric(tmp_path: Path, params: str, *items: str) -> Path:
    path = tmp_path / "mine.toml"
    body = "".join(f'[[items]]\nid = "{i}"\n' for i in items)
    path.write_text(f'id = "mine"\nversion = "1"\n{params}\n{body}', encoding="utf-8")
    return path


def test_a_misspelled_parameter_is_a_usage_error_with_the_right_name(capsys, tmp_path, checks):
    rubric = _rubric(tmp_path, '[params]\nauth_tool = ["get_user_details"]', "uses_auth")
    with isolated_registry():
        code, _, err = _run(capsys, "score", str(TRACES), "-r", str(rubric), "--checks", str(checks),
                            "-o", str(tmp_path / "run"), "-q")
    assert code == EXIT_USAGE
    assert f"error: {rubric}: params.auth_tool: no item of the rubric reads parameter 'auth_tool'" in err
    assert "hint: did you mean 'auth_tools'?" in err
    assert not (tmp_path / "run").exists()


def test_a_raising_check_keeps_error_verdicts_naming_the_line_and_strict_fails(capsys, tmp_path, checks):
    rubric = _rubric(tmp_path, "", "reads_metadata")
    run_dir = tmp_path / "run"
    with isolated_registry():
        code, out, err = _run(capsys, "score", str(TRACES), "-r", str(rubric), "--checks", str(checks),
                              "-o", str(run_dir), "--strict", "--no-progress")
    line = CHECKS.splitlines().index('    return ctx.episode.metadata["nonexistent"]') + 1
    reason = f"check raised KeyError: 'nonexistent' (at {checks}:{line}, in reads_metadata)"
    assert code == EXIT_THRESHOLD
    assert "error: --strict: 400 error verdicts (a check raised or a judge failed); e.g. reads_metadata: " in err
    assert "hint: `rubricate summary" in err
    run = open_run(run_dir)  # the run is kept: the errors are data
    assert set(run.verdicts()["reason"]) == {reason}
    assert "error verdicts by item and reason" in out and f"reads_metadata: 400 x {reason}" in out.replace("\n", "")
    with isolated_registry():
        code, _, _ = _run(capsys, "score", str(TRACES), "-r", str(rubric), "--checks", str(checks),
                          "-o", str(run_dir), "-q")
    assert code == EXIT_OK  # without --strict, error verdicts are reported, not fatal
    code, out, _ = _run(capsys, "summary", str(run_dir), "--json")
    data = json.loads(out)
    assert data["error_reasons"] == [{"item": "reads_metadata", "reason": reason, "count": 400,
                                      "example": data["error_reasons"][0]["example"], "reasons": 1}]


def test_an_item_that_never_applies_is_flagged_with_its_reason(capsys, tmp_path):
    rubric = _rubric(tmp_path, "[params]\nschema_tools = []", "inspects_schema")
    code, out, _ = _run(capsys, "score", str(TRACES), "-r", str(rubric), "-o", str(tmp_path / "run"),
                        "--no-progress")
    assert code == EXIT_OK
    text = " ".join(out.split())
    assert ("note: inspects_schema is na in all 400 episodes (the rubric names no schema tools (parameter "
            "schema_tools)): check its parameters") in text
    code, out, _ = _run(capsys, "summary", str(tmp_path / "run"), "--json")
    assert json.loads(out)["na_everywhere"] == [{
        "item": "inspects_schema", "reason": "the rubric names no schema tools (parameter schema_tools)",
        "reason_count": 400, "episodes": 400}]


def test_scoring_no_episode_exits_3_naming_the_load_issues(capsys, tmp_path):
    folder = tmp_path / "tables"
    folder.mkdir()
    (folder / "table.json").write_text('{"metric": {"0": "revenue"}, "2024": {"0": "$1"}}', encoding="utf-8")
    code, _, err = _run(capsys, "score", str(folder), "-r", "agent-basics", "-o", str(tmp_path / "run"), "-q")
    assert code == EXIT_FAILED
    assert "error: no episodes scored (1 file read, 1 load issue; the first: table.json: no format recognises" in err
    assert "hint:" in err


def test_calibrating_a_run_without_judge_verdicts_says_why_and_exits_1(capsys, tmp_path):
    run_dir = tmp_path / "run"
    assert main(["score", str(TRACES), "-r", "sql-agent", "-o", str(run_dir), "-q"]) == EXIT_OK
    episode = open_run(run_dir).episodes()["episode_id"][0]
    labels = tmp_path / "labels.csv"
    labels.write_text(f"episode_id,item,label\n{episode},acknowledges_tool_errors,yes\n", encoding="utf-8")
    capsys.readouterr()
    code, _, err = _run(capsys, "calibrate", str(run_dir), "--labels", str(labels))
    assert code == EXIT_THRESHOLD
    assert ("error: no verdicts to compare with the labels: the judge items acknowledges_tool_errors were not "
            "asked when the run was scored (no judge model was given (--judge-model))") in " ".join(err.split())
    labels.write_text(f"episode_id,item,label\n{episode},acknowledges_tool_errors,yes\n{episode},no_such_item,yes\n"
                      f"{episode},discovers_tables,pass\n", encoding="utf-8")
    code, out, err = _run(capsys, "calibrate", str(run_dir), "--labels", str(labels))
    assert code == EXIT_OK  # some labels have verdicts: the others are noted
    assert "note: no verdicts for the labelled item no_such_item: the run's rubric has no item no_such_item" in err


# ---------------------------------------------------------------- rubrics show / init

def test_rubrics_show_prints_every_parameter_with_default_and_meaning(capsys):
    code, out, _ = _run(capsys, "rubrics", "show", "customer-service")
    assert code == EXIT_OK
    text = " ".join(out.split())
    assert "parameters (value, where it is set, the check's default; what it means; items that read it):" in text
    assert "auth_tools = [" in text and "(set in the rubric; the check's default: [" in text
    assert "confirm_words = [" in text and "(the check's default)" in text
    assert "read by: authenticates_before_write" in text
    code, out, _ = _run(capsys, "rubrics", "show", "customer-service", "--json")
    rows = json.loads(out)["parameters"]
    assert {r["name"] for r in rows} >= {"auth_tools", "write_tools", "confirm_words", "handoff_tools",
                                         "max_tool_calls"}
    assert all(r["meaning"] and "default" in r and r["set_in"] in {"default", "rubric", "item"} for r in rows)


def test_rubrics_init_drafts_a_rubric_that_loads_and_is_not_overwritten(capsys, tmp_path):
    out_file = tmp_path / "draft.toml"
    code, _, err = _run(capsys, "rubrics", "init", str(TRACES), "-o", str(out_file))
    assert code == EXIT_OK and "drafted" in err
    text = out_file.read_text("utf-8")
    assert "#   search_pages" in text and "discover" in text
    spec = tomllib.loads(text)
    assert spec["params"]["discovery_tools"] == ["search_pages"]
    assert spec["params"]["schema_tools"] == ["view_sections"]
    assert spec["params"]["entity_separator"] == ":"
    assert parse_rubric(text).item("inspects_first").check.name == "inspects_schema"  # type: ignore[union-attr]
    code, _, err = _run(capsys, "rubrics", "init", str(TRACES), "-o", str(out_file))
    assert code == EXIT_USAGE and "already exists" in err


def test_rubrics_init_on_tau_bench_drafts_customer_service_items_that_apply(capsys, tmp_path):
    corpus = need(CORPORA / "tau-bench")
    draft = tmp_path / "tau.toml"
    assert main(["rubrics", "init", str(corpus), "-o", str(draft)]) == EXIT_OK
    spec = tomllib.loads(draft.read_text("utf-8"))
    assert spec["params"]["handoff_tools"] == ["transfer_to_human_agents"]
    assert spec["params"]["auth_tools"] == ["get_user_details"]
    assert "cancel_reservation" in spec["params"]["write_tools"] and "think" not in spec["params"]["write_tools"]
    assert "answer_correct" not in {i["id"] for i in spec["items"]}  # tau-bench's truth is a log of gold actions
    run_dir = tmp_path / "run"
    assert main(["score", str(corpus), "-r", str(draft), "-o", str(run_dir), "-q"]) == EXIT_OK
    assert open_run(run_dir).na_everywhere() == []
    capsys.readouterr()


def test_rubrics_init_with_no_episodes_is_an_error(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = _run(capsys, "rubrics", "init", str(empty))
    assert code == EXIT_USAGE and "nothing to draft a rubric from" in err


def test_the_report_lists_items_that_never_applied_and_error_reasons(capsys, tmp_path, checks):
    rubric = _rubric(tmp_path, "[params]\nschema_tools = []", "inspects_schema", "reads_metadata")
    with isolated_registry():
        assert main(["score", str(TRACES), "-r", str(rubric), "--checks", str(checks),
                     "-o", str(tmp_path / "run"), "-q"]) == EXIT_OK
    html = tmp_path / "report.html"
    assert main(["report", str(tmp_path / "run"), "--out", str(html)]) == EXIT_OK
    page = html.read_text("utf-8")
    assert 'id="na-everywhere"' in page and "the rubric names no schema tools" in page
    assert 'id="error-reasons"' in page and "KeyError: &#39;nonexistent&#39;" in page
    capsys.readouterr()


def test_old_rubric_name_still_scores(capsys, tmp_path):
    assert main(["score", str(FIXTURES / "openai-chat"), "-r", "tool-discipline", "-o", str(tmp_path / "r"),
                 "-q"]) == EXIT_OK
    assert open_run(tmp_path / "r").info["rubric"]["id"] == "sql-agent"
    capsys.readouterr()


def test_check_errors_in_a_checks_file_stay_readable_in_summary_text(capsys, tmp_path, checks):
    rubric = _rubric(tmp_path, "", "reads_metadata")
    with isolated_registry():
        assert main(["score", str(TRACES), "-r", str(rubric), "--checks", str(checks), "-o",
                     str(tmp_path / "run"), "-q"]) == EXIT_OK
    code, out, _ = _run(capsys, "summary", str(tmp_path / "run"))
    text = " ".join(out.split())
    assert code == EXIT_OK and "reads_metadata: 400 x check raised KeyError: 'nonexistent'" in text
    assert f"(e.g. {open_run(tmp_path / 'run').verdicts()['episode_id'].min()})" in text


def test_rubrics_init_on_multi_agent_traces_suggests_the_judge_items(capsys):
    code, out, _ = _run(capsys, "rubrics", "init", str(FIXTURES / "who-and-when"))
    assert code == EXIT_OK
    assert "Items: those of the `multi-agent` rubric" in out and "rubricate rubrics show multi-agent" in out
    items = {i.id for i in parse_rubric(out).items}
    assert "grounded_answer" not in items and {"recovers_from_errors", "answer_correct"} <= items
