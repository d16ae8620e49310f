"""The inspection commands: `traces detect|formats` and `rubrics list|show|schema|checks`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubricate.cli import EXIT_OK, EXIT_USAGE, main
from rubricate.rubrics import builtin_rubrics, load_rubric, registered_checks

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "examples" / "wiki-search" / "traces"
TOOL_DISCIPLINE = ["discovers_tables", "inspects_schema", "recovers_from_errors", "no_repeated_failing_call",
                   "grounded_answer", "answer_correct", "acknowledges_tool_errors", "answer_follows_from_data",
                   "no_fabricated_entities"]


@pytest.fixture(autouse=True)
def _no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_NO_PLUGINS", "1")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# 10. traces

def test_detect_wiki_search_example(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)  # relative paths keep the lines short enough not to wrap
    code, out, err = _run(capsys, "traces", "detect", "examples/wiki-search/traces")
    assert code == EXIT_OK, err
    lines = [line for line in out.splitlines() if line.strip()]
    results = sorted(TRACES.glob("*/*/results.jsonl"))
    assert len(results) == 4
    for path in results:
        line = next(line for line in lines if str(path.relative_to(ROOT)) in line)
        assert line.startswith("ok ") and "verifiers-results" in line
    assert "metadata.json" not in out, "companion files are not trace files"
    assert "LICENSE" not in out
    assert lines[-1] == "4 files, 4 readable, 0 not"
    assert len(lines) == 5


def test_detect_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "traces", "detect", str(TRACES), "--json")
    assert code == EXIT_OK
    found = json.loads(out)
    assert len(found) == 4
    assert {d["format"] for d in found} == {"verifiers-results"}
    assert all(d["path"].endswith("results.jsonl") and d["reason"] for d in found)
    assert all("verifiers-results" in d["claimed_by"] for d in found)


def test_detect_file_no_format_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("odd.jsonl").write_text('{"foo": 1, "bar": [2]}\n{"foo": 3}\n')
    Path("good").mkdir()
    Path("good", "results.jsonl").write_bytes(next(TRACES.glob("*/*/results.jsonl")).read_bytes())
    code, out, err = _run(capsys, "traces", "detect", "odd.jsonl", "good")
    assert code == 1, err  # some file is unreadable: scripts can tell
    line = next(line for line in out.splitlines() if "odd.jsonl" in line)
    assert line.startswith("no odd.jsonl: ")
    assert "no format recognises it" in line and "foo" in line
    assert "ok good/results.jsonl: verifiers-results" in out
    assert "2 files, 1 readable, 1 not" in out
    code, out, _ = _run(capsys, "traces", "detect", "odd.jsonl", "--json")
    assert code == 1
    [found] = json.loads(out)
    assert found["format"] is None and found["claimed_by"] == [] and "no format" in found["reason"]


def test_detect_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "traces", "detect", str(tmp_path / "missing.jsonl"))
    assert code == EXIT_USAGE and "does not exist" in err


def test_formats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "traces", "formats")
    assert code == EXIT_OK
    names = [line.split(" (priority")[0] for line in out.splitlines() if "(priority" in line]
    assert {"openai-chat", "openai-responses", "anthropic-messages", "verifiers-results"} <= set(names)
    priorities = [int(line.split("(priority ")[1].split(")")[0]) for line in out.splitlines() if "(priority" in line]
    assert priorities == sorted(priorities, reverse=True), "highest priority first"
    assert names[-1] == "openai-chat"
    assert "openai-chat (priority 0): " in out


# 10. rubrics

def test_rubrics_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "rubrics", "list")
    assert code == EXIT_OK
    lines = out.splitlines()
    assert f"sql-agent: {builtin_rubrics()['sql-agent']}" in lines
    assert "tool-discipline: the old name of sql-agent" in lines
    assert [line.split(": ")[0] for line in lines] == [*sorted(builtin_rubrics()), "tool-discipline"]


def test_rubrics_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "rubrics", "show", "tool-discipline")
    assert code == EXIT_OK
    rubric = load_rubric("tool-discipline")
    assert rubric.id == "sql-agent" and rubric.path == "builtin:sql-agent"
    assert out.startswith(f"sql-agent {rubric.version} ({rubric.hash})")
    items = [line[2:].split(" ")[0] for line in out.splitlines() if line.startswith("- ")]
    assert items == TOOL_DISCIPLINE
    assert "- discovers_tables [discovery] weight 1, check discovers_tables" in out
    assert "- answer_correct [correctness] weight 2, check answer_correct" in out
    assert "- acknowledges_tool_errors [error-recovery] weight 0, judge (yes/no)" in out


def test_rubrics_show_json_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "rubrics", "show", "tool-discipline", "--json")
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["id"] == "sql-agent"
    assert [i["id"] for i in data["items"]] == TOOL_DISCIPLINE
    code, _, err = _run(capsys, "rubrics", "show", "tool-disiplne")
    assert code == EXIT_USAGE
    assert "error: no rubric file or built-in rubric named 'tool-disiplne'" in err
    assert "hint: did you mean 'tool-discipline'?" in err


def test_rubrics_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "rubrics", "schema")
    assert code == EXIT_OK
    schema = json.loads(out)
    assert "properties" in schema
    assert {"id", "version", "items"} <= set(schema["properties"])


def test_rubrics_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "rubrics", "checks")
    assert code == EXIT_OK
    for name in TOOL_DISCIPLINE[:6]:  # the checks; the rest are judge items
        chk = registered_checks()[name]
        assert f"{name} [{chk.behavior}]: " in out


def test_detect_shows_paths_with_brackets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("[exp1]").mkdir()
    Path("[exp1]", "results.jsonl").write_bytes(next(TRACES.glob("*/*/results.jsonl")).read_bytes())
    code, out, _ = _run(capsys, "traces", "detect", ".")
    assert code == EXIT_OK
    assert "ok ./[exp1]/results.jsonl: verifiers-results" in out
