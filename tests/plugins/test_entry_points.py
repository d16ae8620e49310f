"""Third-party plugins arrive through real entry points: a distribution on sys.path whose
entry_points.txt names a reader (`rubricate.formats`) and a check module (`rubricate.checks`).

Each test runs a fresh interpreter with the plugin's folder on PYTHONPATH, so discovery goes through
importlib.metadata exactly as for an installed package, and nothing leaks into this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = '''
from rubricate import check, passed, failed
from rubricate.traces import Episode, RecordFormat, StepBuilder, trace_format

@trace_format("acme/agent-log", priority=15)
class AcmeLog(RecordFormat):
    """Acme agent logs: a task and a list of (tool, output) pairs."""

    def sniff_record(self, record):
        return "acme_trace" in record

    def episode(self, record, source, raw):
        steps = StepBuilder()
        steps.message("user", record["task"])
        for tool, output in record["calls"]:
            from rubricate.traces import tool_call
            steps.assistant("", [tool_call(tool, {})])
            steps.tool_result(output)
        steps.assistant(record["answer"], [])
        return Episode(id=str(source), steps=steps.steps, source=source, format=self.name,
                       final_answer=steps.final_answer(), raw=raw)

@check(behavior="efficiency")
def few_calls(ctx):
    calls = ctx.calls()
    return passed(f"{len(calls)} calls") if len(calls) <= 2 else failed(f"{len(calls)} calls")
'''

SCRIPT = '''
import json, sys
from rubricate.traces import formats
from rubricate.rubrics import registered_checks, parse_rubric
from rubricate.testing import assert_format_contract
import rubricate
eps = assert_format_contract("acme/agent-log", sys.argv[1])
rubric = parse_rubric(\'\'\'id = "acme"\nversion = "1"\n[[items]]\nid = "few"\ncheck = "acme/few_calls"\n\'\'\')
verdicts = rubricate.score(rubricate.load_episodes(sys.argv[1]), rubric)
print(json.dumps({"formats": list(formats()), "checks": [c for c in registered_checks() if "/" in c],
                  "episodes": len(eps), "verdicts": [v.verdict for v in verdicts]}))
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    (tmp_path / "acme_rubricate.py").write_text(PLUGIN)
    dist = tmp_path / "acme_rubricate-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-rubricate\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[rubricate.formats]\nacme = acme_rubricate\n\n[rubricate.checks]\nacme = acme_rubricate\n")
    (tmp_path / "log.jsonl").write_text(
        json.dumps({"acme_trace": 1, "task": "t", "calls": [["ls", "a b"]], "answer": "a"}) + "\n" +
        json.dumps({"acme_trace": 1, "task": "t", "calls": [["ls", "a"], ["cat", "x"], ["cat", "y"]],
                    "answer": "b"}) + "\n")
    return tmp_path


def _run(plugin_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(plugin_path), **env}
    environ.pop("RUBRICATE_NO_PLUGINS", None)
    environ.update(env)
    return subprocess.run([sys.executable, "-c", SCRIPT, str(plugin_path / "log.jsonl")],
                          capture_output=True, text=True, env=environ, timeout=120)


def test_plugin_reader_and_check_through_entry_points(plugin_path: Path) -> None:
    done = _run(plugin_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert "acme/agent-log" in data["formats"]
    assert "acme/few_calls" in data["checks"]  # the check is namespaced by its entry point
    assert data["episodes"] == 2
    assert data["verdicts"] == ["pass", "fail"]


def test_no_plugins_switch(plugin_path: Path) -> None:
    done = _run(plugin_path, RUBRICATE_NO_PLUGINS="1")
    assert done.returncode != 0
    assert "unknown trace format 'acme/agent-log'" in done.stderr
