"""`rubricate score` and `rubricate summary` in-process through `main(argv)`, their exit codes and
messages, custom checks end to end, and one real run of the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

import rubricate
from rubricate.analyzer import open_run
from rubricate.cli import EXIT_FAILED, EXIT_OK, EXIT_THRESHOLD, EXIT_USAGE, main
from rubricate.rubrics import isolated_registry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "wiki-search"
TRACES = EXAMPLE / "traces"
RUBRIC = EXAMPLE / "rubric.toml"
ITEMS = ["searches_first", "views_sections_first", "recovers_from_errors", "no_repeated_failing_call",
         "grounded_answer", "answer_correct"]
RESULTS = sorted(TRACES.glob("*/*/results.jsonl"))


@pytest.fixture(autouse=True)
def _no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_NO_PLUGINS", "1")


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "wiki-search"
    assert main(["score", str(TRACES), "--rubric", str(RUBRIC), "--out", str(out), "--quiet"]) == EXIT_OK
    return out


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """Three good verifiers rows with two bad lines between them."""
    good = RESULTS[0].read_bytes().splitlines(keepends=True)[:3]
    path = tmp_path / "damaged.jsonl"
    path.write_bytes(good[0] + b"{broken\n" + good[1] + b"[]\n" + good[2])
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# 8. score + summary on the README example

def test_score_prints_summary_of_every_item(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "score", str(TRACES), "--rubric", str(RUBRIC), "--out", str(tmp_path / "run"))
    assert code == EXIT_OK, err
    for item in ITEMS:
        assert item in out
    assert "wiki-search-discipline 1.0.0" in out
    assert "400 episodes" in out
    assert "no load issues" in out
    assert "run written to" in err
    assert "Traceback" not in err
    assert (tmp_path / "run" / "run.json").exists()


def test_summary_table(example_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "summary", str(example_run))
    assert code == EXIT_OK, err
    positions = [out.index(item) for item in ITEMS]
    assert positions == sorted(positions), "items are not in rubric order"
    assert "no load issues" in out
    assert "pass rate" in out


def test_summary_json(example_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "summary", str(example_run), "--json")
    assert code == EXIT_OK, err
    data = json.loads(out)
    assert [row["item"] for row in data["items"]] == ITEMS
    for row in data["items"]:
        assert {"pass", "fail", "na", "error", "pass_rate", "behavior"} <= set(row)
        assert row["pass"] + row["fail"] + row["na"] + row["error"] == 400
        if row["pass"] + row["fail"]:
            assert row["pass_rate"] == pytest.approx(row["pass"] / (row["pass"] + row["fail"]))
        else:
            assert row["pass_rate"] is None
    assert data["run"]["counts"]["episodes"] == 400
    assert data["run"]["rubric"]["id"] == "wiki-search-discipline"
    assert data["issues"] == []
    # the same numbers as the Python API
    assert data["items"] == open_run(example_run).summary().to_dicts()


def test_summary_lists_load_issues(damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "run"
    code, out, err = _run(capsys, "score", str(damaged), "-r", str(RUBRIC), "-o", str(out_dir))
    assert code == EXIT_OK, err
    assert "3 episodes" in out
    assert "2 load issues" in out
    assert "damaged.jsonl:2" in out and "damaged.jsonl:4" in out
    code, out, _ = _run(capsys, "summary", str(out_dir), "--json")
    issues = json.loads(out)["issues"]
    assert [(i["path"], i["line"]) for i in issues] == [("damaged.jsonl", 2), ("damaged.jsonl", 4)]
    assert all(i["reason"] for i in issues)


# 9. exit codes and messages

def test_unknown_rubric(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "score", str(TRACES), "--rubric", "tool-disciplin", "--out", str(tmp_path / "r"))
    assert code == EXIT_USAGE == 2
    assert "error: no rubric file or built-in rubric named 'tool-disciplin'" in err
    assert "hint: did you mean 'tool-discipline'?" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_unknown_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "score", str(TRACES), "-r", "tool-discipline", "--format", "openai-chatt",
                        "--out", str(tmp_path / "r"))
    assert code == EXIT_USAGE
    assert "error: unknown trace format 'openai-chatt'" in err
    assert "hint: did you mean 'openai-chat'?" in err
    assert "Traceback" not in err


def test_rubric_file_with_unknown_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad-rubric.toml"
    bad.write_text(textwrap.dedent("""
        id = "bad"
        version = "1"

        [[items]]
        id = "discovers_tables"

        [[items]]
        id = "repeats"
        check = "no_repeated_failng_call"
    """))
    code, _, err = _run(capsys, "score", str(TRACES), "-r", str(bad), "-o", str(tmp_path / "r"))
    assert code == EXIT_USAGE
    assert f"error: {bad}: items[1].check: unknown check 'no_repeated_failng_call'" in err
    assert "hint: did you mean 'no_repeated_failing_call'?" in err
    assert "Traceback" not in err
    # `rubrics show` validates the same way
    code, _, err = _run(capsys, "rubrics", "show", str(bad))
    assert code == EXIT_USAGE and "items[1].check" in err


def test_rubric_file_with_schema_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad-schema.toml"
    bad.write_text('id = "bad"\nversion = "1"\n[[items]]\nid = "discovers_tables"\nweight = "heavy"\n')
    code, _, err = _run(capsys, "score", str(TRACES), "-r", str(bad), "-o", str(tmp_path / "r"))
    assert code == EXIT_USAGE
    assert f"error: {bad}: items[0].weight" in err
    assert "hint:" in err


def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "score", str(TRACES), "--out", str(tmp_path / "r"))
    assert code == EXIT_USAGE and "--rubric" in err
    code, _, err = _run(capsys, "score", str(TRACES), "-r", "tool-discipline", "-o", str(tmp_path / "r"),
                        "--workers", "0")
    assert code == EXIT_USAGE and "--workers" in err
    code, _, err = _run(capsys, "score", str(tmp_path / "missing"), "-r", "tool-discipline", "-o", str(tmp_path / "r"))
    assert code == EXIT_USAGE and "does not exist" in err
    code, _, err = _run(capsys, "no-such-command")
    assert code == EXIT_USAGE
    assert "Traceback" not in err


def test_strict_on_damaged_input(damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "run"
    code, _, err = _run(capsys, "score", str(damaged), "-r", str(RUBRIC), "-o", str(out_dir), "--strict")
    assert code == EXIT_THRESHOLD == 1
    assert "error: damaged.jsonl:2:" in err
    assert "hint:" in err
    assert "Traceback" not in err
    assert not (out_dir / "run.json").exists()


def test_debug_shows_traceback(damaged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # --debug is accepted anywhere on the line
    code, _, err = _run(capsys, "score", str(damaged), "-r", str(RUBRIC), "-o", str(tmp_path / "run"), "--strict",
                        "--debug")
    assert code == EXIT_THRESHOLD
    assert "Traceback" in err and "LoadIssueError" in err
    assert "error: damaged.jsonl:2:" in err
    code, _, err = _run(capsys, "--debug", "score", str(TRACES), "-r", "tool-disciplin", "-o", str(tmp_path / "r"))
    assert code == EXIT_USAGE
    assert "Traceback" in err and "hint: did you mean 'tool-discipline'?" in err


def test_summary_of_non_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "summary", str(tmp_path))
    assert code == EXIT_FAILED == 3
    assert "error:" in err and "not a run directory" in err and "hint:" in err
    assert "Traceback" not in err and out == ""
    code, _, err = _run(capsys, "summary", str(tmp_path / "missing"))
    assert code == EXIT_FAILED and "no such run directory" in err
    code, _, err = _run(capsys, "summary", str(tmp_path), "--debug")
    assert code == EXIT_FAILED and "Traceback" in err


def test_summary_of_other_run_format(example_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = json.loads((example_run / "run.json").read_text())
    info["run_format"] = 99
    (tmp_path / "run.json").write_text(json.dumps(info))
    code, _, err = _run(capsys, "summary", str(tmp_path))
    assert code == EXIT_FAILED and "run format 99" in err


# 11. custom checks end to end

CUSTOM_CHECKS = '''
from rubricate import check, failed, not_applicable, passed


@check(behavior="efficiency", params={"max_calls": 100})
def cli_test_few_tool_calls(ctx):
    """At most `max_calls` tool calls."""
    calls = [index for index, _ in ctx.calls()]
    if not calls:
        return not_applicable("no tool calls")
    limit = int(ctx.params["max_calls"])
    if len(calls) <= limit:
        return passed(f"{len(calls)} tool calls", *calls)
    return failed(f"{len(calls)} tool calls, more than {limit}", *calls[limit:])
'''

CUSTOM_RUBRIC = '''
id = "custom-efficiency"
version = "0.2.0"
description = "Search first, and do not make too many calls."

[params]
discovery_tools = ["search_pages"]
query_tools = ["read_section"]

[[items]]
id = "searches_first"
check = "discovers_tables"

[[items]]
id = "few_calls"
check = "cli_test_few_tool_calls"
params = { max_calls = 4 }
'''


def test_custom_checks_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checks = tmp_path / "my_checks.py"
    checks.write_text(CUSTOM_CHECKS)
    rubric_file = tmp_path / "custom.toml"
    rubric_file.write_text(CUSTOM_RUBRIC)
    out_dir = tmp_path / "run"
    with isolated_registry():
        # without --checks the rubric names an unknown check: a usage error with a hint
        code, _, err = _run(capsys, "score", str(RESULTS[0]), "-r", str(rubric_file), "-o", str(out_dir))
        assert code == EXIT_USAGE and "items[1].check: unknown check 'cli_test_few_tool_calls'" in err

        code, out, err = _run(capsys, "rubrics", "show", str(rubric_file), "--checks", str(checks))
        assert code == EXIT_OK, err
        assert "few_calls" in out and "[efficiency]" in out and "cli_test_few_tool_calls" in out

        code, out, err = _run(capsys, "score", str(RESULTS[0]), "-r", str(rubric_file), "-o", str(out_dir),
                              "--checks", str(checks))
        assert code == EXIT_OK, err
        assert "custom-efficiency 0.2.0" in out and "few_calls" in out and "efficiency" in out

        episodes = list(rubricate.load_episodes(RESULTS[0]))
    verdicts = open_run(out_dir).verdicts().filter(pl.col("item") == "few_calls")
    expected = ["na" if not ep.n_tool_calls else "pass" if ep.n_tool_calls <= 4 else "fail" for ep in episodes]
    assert verdicts["verdict"].to_list() == expected
    assert {"pass", "fail"} <= set(expected), "the example should exercise both outcomes"
    assert verdicts["behavior"].unique().to_list() == ["efficiency"]
    assert open_run(out_dir).info["rubric"]["items"][1]["check"] == "cli_test_few_tool_calls"


# a real run of the installed console script

def _console_script() -> list[str]:
    script = Path(sys.executable).with_name("rubricate")
    if script.exists():
        return [str(script)]
    found = shutil.which("rubricate")
    if found:
        return [found]
    pytest.skip("the rubricate console script is not installed")


def test_console_script(tmp_path: Path) -> None:
    cmd = _console_script()
    env = {**os.environ, "RUBRICATE_NO_PLUGINS": "1"}
    out_dir = tmp_path / "runs" / "wiki-search"
    done = subprocess.run([*cmd, "score", "examples/wiki-search/traces", "--rubric", "examples/wiki-search/rubric.toml",
                           "--out", str(out_dir)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for item in ITEMS:
        assert item in done.stdout
    assert "no load issues" in done.stdout
    assert "Traceback" not in done.stderr

    done = subprocess.run([*cmd, "summary", str(out_dir), "--json"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert [row["item"] for row in json.loads(done.stdout)["items"]] == ITEMS

    done = subprocess.run([*cmd, "score", "examples/wiki-search/traces", "-r", "tool-disciplin", "-o",
                           str(tmp_path / "x")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "error:" in done.stderr and "hint: did you mean 'tool-discipline'?" in done.stderr
    assert "Traceback" not in done.stderr

    done = subprocess.run([*cmd, "summary", str(tmp_path)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and "error:" in done.stderr and "Traceback" not in done.stderr


def test_paths_with_brackets_are_printed_as_they_are(damaged: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "score", "damaged.jsonl", "-r", str(RUBRIC), "-o", "[out]")
    assert code == EXIT_OK, err
    assert "all in [out]/issues" in out
    assert "run written to [out]" in err
