"""Helpers shared by the rubrics tests: run one item of a rubric on one built episode."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from rubricate.rubrics import CheckContext, Outcome, Rubric, load_rubric, run_check
from rubricate.traces import Episode

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_RUBRIC = REPO / "examples" / "wiki-search" / "rubric.toml"
VERDICTS_OF_A_BUILTIN = ("pass", "fail", "na")


@cache
def tool_discipline() -> Rubric:
    return load_rubric("tool-discipline")


@cache
def wiki_rubric() -> Rubric:
    return load_rubric(EXAMPLE_RUBRIC)


def outcome(item_id: str, ep: Episode, *, rubric: Rubric | None = None, **params: Any) -> Outcome:
    """The item's outcome on `ep` (params override the rubric's), checked for the basic contract:
    a built-in never errors, always gives a reason, and cites only steps that exist."""
    item = (rubric or tool_discipline()).item(item_id)
    assert item.check is not None
    out = run_check(item.check.fn, CheckContext(ep, {**item.params, **params}))
    assert out.verdict in VERDICTS_OF_A_BUILTIN, out
    assert out.reason.strip(), out
    assert all(0 <= i < len(ep.steps) for i in out.evidence), out
    assert list(out.evidence) == sorted(set(out.evidence)), out
    return out


def verdict(item_id: str, ep: Episode, **params: Any) -> str:
    return outcome(item_id, ep, **params).verdict
