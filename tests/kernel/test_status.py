"""run.json's `kernel` (used, which items natively, why not) and what `rubricate summary` prints of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rubricate.cli import EXIT_OK, main

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "tests" / "fixtures" / "openai-chat"


def _score(tmp_path: Path, rubric: str, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    out = tmp_path / rubric
    assert main(["score", str(CHAT), "--rubric", rubric, "--out", str(out), "--quiet"]) == EXIT_OK
    capsys.readouterr()
    assert main(["summary", str(out)]) == EXIT_OK
    info = json.loads((out / "run.json").read_text())
    return info, " ".join(capsys.readouterr().out.split())


def test_an_all_native_rubric_says_nothing(native: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info, printed = _score(tmp_path, "tool-discipline", capsys)
    assert info["kernel"] == {"used": True, "formats": ["openai-chat", "verifiers-results"]}
    assert info["counts"]["kernel_episodes"] == info["counts"]["episodes"] > 0
    assert "native kernel" not in printed


def test_a_mixed_rubric_names_the_items_run_in_python(native: Any, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    info, printed = _score(tmp_path, "agent-basics", capsys)
    kernel = info["kernel"]
    assert kernel["used"] is True
    assert kernel["native"] == ["recovers_from_errors", "no_repeated_failing_call", "grounded_answer"]
    assert kernel["python"] == {"answers_question": "check 'answers_question' has no native version",
                                "stays_within_step_budget": "check 'stays_within_step_budget' has no native version"}
    assert info["counts"]["kernel_episodes"] == info["counts"]["episodes"] > 0
    assert "native kernel partial: 3 of 5 items run natively; in Python: answers_question (check " \
           "'answers_question' has no native version), stays_within_step_budget (check " \
           "'stays_within_step_budget' has no native version)" in printed


def test_kernel_off_says_why(native: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBRICATE_NO_KERNEL", "1")
    info, printed = _score(tmp_path, "agent-basics", capsys)
    assert info["kernel"] == {"used": False, "why": "RUBRICATE_NO_KERNEL is set"}
    assert info["counts"]["kernel_episodes"] == 0
    assert "native kernel off: RUBRICATE_NO_KERNEL is set (every episode scored in Python)" in printed
