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


def builder_episodes() -> list[Episode]:
    """Hand-built episodes covering the shapes the built-in items branch on."""
    from rubricate.testing import answer, assistant, call, episode, result, system, tc, user

    q = "What was total revenue in 2019, in $ millions?"
    return [
        episode(user(q), id="b-answer-only", ground_truth="12.5"),
        episode(user(q), answer("It was 12.5 million."), id="b-no-tools", ground_truth="12.5"),
        episode(system("You are a data agent."), user(q), call("get_table_names"), result('["revenue"]'),
                call("get_table_info", table_name="revenue"), result("year INT, total REAL"),
                call("sql_query", query="SELECT total FROM revenue WHERE year = 2019"), result("total\n12.5"),
                answer(r"Revenue was \boxed{12.5} million."), id="b-clean", ground_truth="12.5"),
        episode(user(q), call("sql_query", query="SELECT totl FROM revenue"), result("Error: no such column: totl"),
                call("sql_query", query="SELECT totl FROM revenue"), result("Error: no such column: totl"),
                call("sql_query", query="SELECT total FROM revenue"), result("12.5"),
                call("submit_answer", answer="12.5"), result("ok"), id="b-errors", ground_truth="12.5"),
        episode(user(q), assistant("thinking", tc("get_table_names"), tc("sql_query", query="SELECT * FROM a, b")),
                result("a, b"), result("Traceback (most recent call last):\n  boom"), id="b-parallel-no-answer"),
        episode(user(q), call("sql_query", "not json {"), result('{"error": "bad arguments"}'),
                answer("Perhaps 99%?"), id="b-raw-args", ground_truth="The answer"),
        episode(user(q), call("submit_answer"), result("ok"), id="b-empty-submit", ground_truth="5"),
        episode(user("Who?"), call("search_pages", query="x"), result("[{'page_id': 'p'}]"),
                call("view_sections", page_id="p"), result("['p:intro']"),
                call("read_section", section_id="p:intro"), result("Born in 1950; 3 albums."),
                answer("Someone born in 1950"), id="b-wiki", ground_truth="Someone"),
        episode(user(q), result("orphan result 7"), answer("7"), id="b-orphan-result", ground_truth="7"),
        episode(user(q), call("sql_query", query="SELECT v FROM t"), result("v\n" + "9" * 400),
                answer("It was " + "9" * 400 + "% or 1e308 trillion"), id="b-huge-numbers", ground_truth="1" * 400),
    ]
