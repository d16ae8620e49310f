"""`rubricate score --judge-*` and `rubricate summary` with a judge: flags, ledger output, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubricate.cli import EXIT_OK, EXIT_USAGE, main
from rubricate.testing import ScriptedJudge

ROOT = Path(__file__).resolve().parents[2]
TRACES = ROOT / "tests" / "fixtures" / "openai-chat"


@pytest.fixture(autouse=True)
def _no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_NO_PLUGINS", "1")


def test_score_with_a_judge_then_summary_prints_the_ledger(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test-secret")
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."scripted-judge"]\ninput = 1.0\noutput = 2.0\n')
    with ScriptedJudge() as server:
        args = ["score", str(TRACES), "-r", "tool-discipline", "-o", str(tmp_path / "run"), "-q",
                "--judge-model", "scripted-judge", "--judge-base-url", server.base_url,
                "--judge-api-key-env", "MY_JUDGE_KEY", "--judge-cache", str(tmp_path / "cache"),
                "--judge-prices", str(prices), "--judge-concurrency", "2"]
        assert main(args) == EXIT_OK
        n_calls = len(server.requests)
        assert main(args) == EXIT_OK
        assert len(server.requests) == n_calls, "the second run is answered from the cache"
    capsys.readouterr()
    assert main(["summary", str(tmp_path / "run")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "judge scripted-judge at http://127.0.0.1:" in out and "cache hits" in out
    assert "judge ledger per item" in out and "acknowledges_tool_errors" in out
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["judge"]["ledger"]["calls"] == 0 and info["judge"]["ledger"]["cache_hits"] == 3 * n_calls
    assert info["judge"]["price_per_mtok"] == {"input": 1.0, "output": 2.0}
    assert "sk-test-secret" not in (tmp_path / "run" / "run.json").read_text()
    assert main(["summary", str(tmp_path / "run"), "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["run"]["judge"]["status"] == "configured"


def test_without_a_judge_summary_says_which_items_were_skipped(tmp_path: Path, capsys):
    assert main(["score", str(TRACES), "-r", "tool-discipline", "-o", str(tmp_path / "run")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "judge items not scored: acknowledges_tool_errors, answer_follows_from_data, no_fabricated_entities" in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--judge-base-url", "http://127.0.0.1:9/v1"], "--judge-base-url needs --judge-model"),
    (["--judge-model", "m", "--judge-api-key-env", "RUBRICATE_SURELY_UNSET_VAR"],
     "RUBRICATE_SURELY_UNSET_VAR (--judge-api-key-env) is not set"),
    (["--judge-model", "m", "--judge-base-url", "ftp://x"], "is not an http(s) URL"),
])
def test_judge_usage_errors(tmp_path: Path, capsys, extra, message):
    code = main(["score", str(TRACES), "-r", "tool-discipline", "-o", str(tmp_path / "run"), *extra])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and message in err and "hint:" in err
