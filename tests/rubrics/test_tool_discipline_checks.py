"""discovers_tables, inspects_schema, recovers_from_errors, no_repeated_failing_call: pass / fail / na edges.

Episodes are built with rubricate.testing; step indices are written next to each step.
"""

from __future__ import annotations

import pytest

from rubricate.rubrics import CheckContext, run_check
from rubricate.testing import answer, assistant, call, episode, result, tc, user
from rubricate.traces import Episode, Source

from ._support import outcome, tool_discipline, verdict, wiki_rubric

Q = "What was total revenue in 2019?"


# ---------------------------------------------------------------- every item

@pytest.mark.parametrize("item", [i.id for i in tool_discipline().checks])
def test_an_episode_without_steps_is_na_for_every_item(item):
    empty = Episode(id="empty", steps=[], source=Source("<test>"), format="test", ground_truth="5")
    rubric_item = tool_discipline().item(item)
    out = run_check(rubric_item.check.fn, CheckContext(empty, rubric_item.params))
    assert out.verdict == "na" and out.reason


# ---------------------------------------------------------------- discovers_tables

def test_discovery_before_query_and_answer_passes():
    ep = episode(
        user(Q),                                                   # 0
        call("get_table_names"),                                   # 1
        result('["revenue"]'),                                     # 2
        call("sql_query", query="SELECT total FROM revenue"),      # 3
        result("total\n12.5"),                                     # 4
        answer("12.5"),                                            # 5
    )
    out = outcome("discovers_tables", ep)
    assert out.verdict == "pass"
    assert out.evidence == (1,)


def test_discovery_in_the_same_step_as_the_first_query_fails():
    ep = episode(
        user(Q),                                                                         # 0
        assistant("", tc("get_table_names"), tc("sql_query", query="SELECT * FROM t")),  # 1
        result('["t"]'),                                                                 # 2
        result("1"),                                                                     # 3
        answer("1"),                                                                     # 4
    )
    out = outcome("discovers_tables", ep)
    assert out.verdict == "fail"
    assert out.evidence == (1,)


def test_parallel_discovery_and_schema_then_query_passes():
    ep = episode(
        user(Q),
        assistant("", tc("get_table_names"), tc("get_table_info", table_name="t")),  # 1
        result('["t"]'), result("a INT"),
        call("sql_query", query="SELECT a FROM t"), result("1"),
        answer("1"),
    )
    assert outcome("discovers_tables", ep).evidence == (1,)
    assert verdict("discovers_tables", ep) == "pass"


def test_query_before_discovery_fails_citing_both_steps():
    ep = episode(
        user(Q),
        call("sql_query", query="SELECT * FROM t"), result("1"),  # 1, 2
        call("get_table_names"), result('["t"]'),                 # 3, 4
        answer("1"),
    )
    out = outcome("discovers_tables", ep)
    assert out.verdict == "fail"
    assert out.evidence == (1, 3)


def test_no_tool_at_all_fails():
    out = outcome("discovers_tables", episode(user(Q), answer("About 12.5 million.")))
    assert out.verdict == "fail"
    assert out.evidence == ()


def test_tools_but_no_discovery_fails_citing_the_first_query():
    ep = episode(user(Q), call("get_table_info", table_name="t"), result("a"),
                 call("sql_query", query="SELECT a FROM t"), result("1"), answer("1"))
    out = outcome("discovers_tables", ep)
    assert out.verdict == "fail"
    assert out.evidence == (3,)


def test_discovery_without_any_query_passes():
    ep = episode(user(Q), call("list_tables"), result("t"), answer("There is one table."))
    assert verdict("discovers_tables", ep) == "pass"


def test_a_discovery_call_that_errored_still_counts_as_called():
    ep = episode(user(Q), call("get_table_names"), result("Error: timeout", error=True),
                 call("sql_query", query="SELECT a FROM t"), result("1"), answer("1"))
    assert verdict("discovers_tables", ep) == "pass"


def test_tool_names_are_matched_case_insensitively():
    ep = episode(user(Q), call("Get_Table_Names"), result("t"), call("SQL_QUERY", query="SELECT 1"), result("1"),
                 answer("1"))
    assert verdict("discovers_tables", ep) == "pass"
    ep = episode(user(Q), call("SQL_Query", query="SELECT 1"), result("1"), call("GET_TABLE_NAMES"), result("t"),
                 answer("1"))
    assert verdict("discovers_tables", ep) == "fail"


def _submit_then_discover() -> Episode:
    return episode(
        user(Q),                               # 0
        call("submit_answer", answer="12.5"),  # 1
        result("submitted"),                   # 2
        call("get_table_names"),               # 3
        result('["t"]'),                       # 4
        answer("I answered 12.5."),            # 5
    )


def test_the_answer_tool_is_the_answer_when_configured():
    out = outcome("discovers_tables", _submit_then_discover())
    assert out.verdict == "fail"
    assert out.evidence == (1, 3)


def test_without_answer_tools_the_last_assistant_text_is_the_answer():
    ep = _submit_then_discover()
    assert ep.final_answer == "I answered 12.5."
    assert verdict("discovers_tables", ep, answer_tools=()) == "pass"


def test_discovery_in_the_same_step_as_the_answer_tool_fails():
    ep = episode(user(Q), assistant("", tc("get_table_names"), tc("submit_answer", answer="1")),
                 result("t"), result("ok"))
    assert verdict("discovers_tables", ep) == "fail"


def test_discovery_tools_are_a_parameter():
    ep = episode(user(Q), call("search_pages", query="x"), result("[]"), call("read_section", section_id="a:b"),
                 result("text"), answer("done"))
    assert verdict("discovers_tables", ep) == "fail"
    assert verdict("discovers_tables", ep, discovery_tools=frozenset({"search_pages"}),
                   query_tools=frozenset({"read_section"})) == "pass"


# ---------------------------------------------------------------- inspects_schema

def test_inspection_before_query_passes_citing_both():
    ep = episode(
        user(Q),                                                    # 0
        call("get_table_info", table_name="revenue"),               # 1
        result("total REAL, year INT"),                             # 2
        call("sql_query", query="SELECT total FROM revenue"),       # 3
        result("12.5"),                                             # 4
        answer("12.5"),                                             # 5
    )
    out = outcome("inspects_schema", ep)
    assert out.verdict == "pass"
    assert out.evidence == (1, 3)


def test_query_before_inspection_fails_citing_the_query():
    ep = episode(user(Q), call("sql_query", query="SELECT total FROM revenue"), result("12.5"),   # 1
                 call("get_table_info", table_name="revenue"), result("total REAL"),              # 3
                 call("sql_query", query="SELECT total FROM revenue"), result("12.5"), answer("12.5"))
    out = outcome("inspects_schema", ep)
    assert out.verdict == "fail"
    assert out.evidence == (1,)
    assert "revenue" in out.reason


def test_an_inspection_that_errored_does_not_count():
    ep = episode(user(Q), call("get_table_info", table_name="revenue"), result("Error: no such table: revenue"),
                 call("sql_query", query="SELECT total FROM revenue"), result("12.5"), answer("12.5"))
    assert ep.steps[2].is_error
    out = outcome("inspects_schema", ep)
    assert out.verdict == "fail"
    assert out.evidence == (3,)


def test_inspection_in_the_same_step_as_the_query_fails():
    ep = episode(user(Q), assistant("", tc("get_table_info", table_name="t"), tc("sql_query", query="SELECT a FROM t")),
                 result("a INT"), result("1"), answer("1"))
    assert verdict("inspects_schema", ep) == "fail"


def test_every_joined_table_needs_its_inspection():
    sql = "SELECT r.total FROM revenue r JOIN costs c ON r.year = c.year"
    ep = episode(user(Q), call("get_table_info", table_name="revenue"), result("total"),
                 call("sql_query", query=sql), result("1"), answer("1"))
    out = outcome("inspects_schema", ep)
    assert out.verdict == "fail"
    assert "costs" in out.reason and "revenue (" not in out.reason
    ep = episode(user(Q), call("get_table_info", table_names=["revenue", "COSTS"]), result("total / year"),
                 call("sql_query", query=sql), result("1"), answer("1"))
    assert verdict("inspects_schema", ep) == "pass"


def test_a_later_query_on_an_uninspected_table_fails_citing_that_query():
    ep = episode(user(Q), call("get_table_info", table_name="a"), result("x"),      # 1
                 call("sql_query", query="SELECT x FROM a"), result("1"),           # 3
                 call("sql_query", query="SELECT y FROM b"), result("2"),           # 5
                 answer("3"))
    out = outcome("inspects_schema", ep)
    assert out.verdict == "fail"
    assert out.evidence == (5,)


def test_quoted_schema_qualified_names_match_the_inspected_table_case_insensitively():
    ep = episode(user(Q), call("describe_table", table="Revenue"), result("total"),
                 call("run_sql", sql='SELECT total FROM main."REVENUE" WHERE year = 2019'), result("1"),
                 answer("1"))
    assert verdict("inspects_schema", ep) == "pass"


def test_table_name_argument_of_a_query_tool_is_a_queried_table():
    ep = episode(user(Q), call("get_table_info", table_name="costs"), result("x"),
                 call("sql_query", table_name="costs", query="SELECT 1"), result("1"), answer("1"))
    assert verdict("inspects_schema", ep) == "pass"
    ep = episode(user(Q), call("get_table_info", table_name="costs"), result("x"),
                 call("sql_query", table_name="other"), result("1"), answer("1"))
    out = outcome("inspects_schema", ep)
    assert out.verdict == "fail" and "other" in out.reason


def test_cte_names_are_not_tables():
    sql = "WITH r AS (SELECT total FROM revenue), s AS (SELECT * FROM r) SELECT * FROM s JOIN r ON 1 = 1"
    ep = episode(user(Q), call("get_table_info", table_name="revenue"), result("total"),
                 call("sql_query", query=sql), result("1"), answer("1"))
    assert verdict("inspects_schema", ep) == "pass"


def test_without_queries_an_inspection_before_the_answer_passes():
    ep = episode(user(Q), call("get_table_info", table_name="t"), result("a INT"), answer("t has a column a"))
    out = outcome("inspects_schema", ep)
    assert out.verdict == "pass" and out.evidence == (1,)


@pytest.mark.parametrize("steps", [
    pytest.param((call("get_table_names"), result("t"), answer("one table")), id="no-inspection"),
    pytest.param((call("get_table_info", table_name="t"), result("Error: unknown table t", error=True),
                  answer("no idea")), id="errored-inspection"),
    pytest.param((call("submit_answer", answer="x"), result("ok"), call("get_table_info", table_name="t"),
                  result("a INT")), id="inspection-after-answer-tool"),
    pytest.param((answer("nothing"),), id="no-tools"),
])
def test_without_queries_no_inspection_before_the_answer_fails(steps):
    assert verdict("inspects_schema", episode(user(Q), *steps)) == "fail"


def test_a_query_that_names_no_table_needs_no_inspection():
    ep = episode(user(Q), call("sql_query", query="SELECT 1 + 1"), result("2"), answer("2"))
    assert verdict("inspects_schema", ep) == "pass"


def test_wiki_parameters_page_of_a_section_id_is_the_entity():
    rubric = wiki_rubric()
    ok = episode(user("Who?"), call("search_pages", query="x"), result("[{'page_id': 'p'}]"),
                 call("view_sections", page_id="p"), result("['p:intro']"),
                 call("read_section", section_id="p:intro"), result("text"), answer("Someone"))
    assert outcome("views_sections_first", ok, rubric=rubric).verdict == "pass"
    guessed = episode(user("Who?"), call("search_pages", query="x"), result("[{'page_id': 'p'}]"),
                      call("view_sections", page_id="p"), result("['p:intro']"),
                      call("read_section", section_id="q:intro"), result("text"), answer("Someone"))
    out = outcome("views_sections_first", guessed, rubric=rubric)
    assert out.verdict == "fail" and out.evidence == (5,)


# ---------------------------------------------------------------- recovers_from_errors

def test_no_error_is_na_for_recovery():
    ep = episode(user(Q), call("sql_query", query="SELECT 1"), result("1"), answer("1"))
    assert verdict("recovers_from_errors", ep) == "na"
    assert verdict("no_repeated_failing_call", ep) == "na"


def test_retry_with_changed_arguments_recovers_citing_error_and_fix():
    ep = episode(
        user(Q),                                                  # 0
        call("sql_query", query="SELECT totl FROM revenue"),      # 1
        result("Error: no such column: totl"),                    # 2
        call("sql_query", query="SELECT total FROM revenue"),     # 3
        result("12.5"),                                           # 4
        answer("12.5"),                                           # 5
    )
    assert ep.steps[2].is_error
    out = outcome("recovers_from_errors", ep)
    assert out.verdict == "pass"
    assert out.evidence == (2, 3)


def test_retry_with_the_same_arguments_is_not_recovery():
    ep = episode(user(Q), call("sql_query", query="SELECT total FROM revenue"), result("Error: database is locked"),
                 call("sql_query", query="SELECT total FROM revenue"), result("12.5"), answer("12.5"))
    out = outcome("recovers_from_errors", ep)
    assert out.verdict == "fail"
    assert out.evidence == (1, 2)


def test_same_arguments_in_another_key_order_is_not_recovery():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t", limit=5), result("Error: busy", error=True),
                 call("sql_query", limit=5, query="SELECT a FROM t"), result("1"), answer("1"))
    assert verdict("recovers_from_errors", ep) == "fail"


def test_success_of_another_tool_is_not_recovery():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t"), result("Error: no such table: t"),
                 call("get_table_names"), result('["u"]'), answer("I could not find it"))
    assert verdict("recovers_from_errors", ep) == "fail"


def test_a_changed_retry_that_fails_again_is_not_recovery():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t"), result("Error: no such table: t"),
                 call("sql_query", query="SELECT a FROM u"), result("Error: no such table: u"), answer("none"))
    assert verdict("recovers_from_errors", ep) == "fail"


def test_recovery_after_the_answer_fails():
    ep = episode(
        user(Q),                                                 # 0
        call("sql_query", query="SELECT a FROM t"),              # 1
        result("Error: no such table: t"),                       # 2
        call("submit_answer", answer="12"),                      # 3
        result("ok"),                                            # 4
        call("sql_query", query="SELECT a FROM u"),              # 5
        result("12"),                                            # 6
        answer("done"),                                          # 7
    )
    assert verdict("recovers_from_errors", ep) == "fail"
    # the same episode without an answer tool: the answer is the last text, after the fix
    assert verdict("recovers_from_errors", ep, answer_tools=()) == "pass"


def test_every_failure_needs_its_own_recovery():
    ep = episode(user(Q),
                 call("sql_query", query="SELECT a FROM t"), result("Error: no such table: t"),        # 1, 2
                 call("sql_query", query="SELECT a FROM u"), result("1"),                              # 3, 4
                 call("get_table_info", table_name="v"), result("Error: unknown table v"),             # 5, 6
                 answer("1"))
    out = outcome("recovers_from_errors", ep)
    assert out.verdict == "fail"
    assert out.evidence == (5, 6)


def test_recovery_of_a_failed_parallel_call():
    ep = episode(
        user(Q),                                                                                    # 0
        assistant("", tc("get_table_info", table_name="a"), tc("get_table_info", table_name="bb")),  # 1
        result("x INT"),                                                                            # 2
        result("Error: no such table: bb"),                                                         # 3
        call("get_table_info", table_name="b"),                                                     # 4
        result("y INT"),                                                                            # 5
        answer("ok"),                                                                               # 6
    )
    out = outcome("recovers_from_errors", ep)
    assert out.verdict == "pass"
    assert out.evidence == (3, 4)


def test_explicit_error_flag_wins_over_the_text():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t"), result("a\n1", error=True),
                 call("sql_query", query="SELECT b FROM t"), result("Error: looks bad", error=False), answer("1"))
    assert verdict("recovers_from_errors", ep) == "pass"


# ---------------------------------------------------------------- no_repeated_failing_call

def test_repeating_a_failed_call_fails_citing_error_and_repeat():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t"), result("Error: no such table: t"),  # 1, 2
                 call("sql_query", query="SELECT a FROM t"), result("Error: no such table: t"),           # 3, 4
                 answer("none"))
    out = outcome("no_repeated_failing_call", ep)
    assert out.verdict == "fail"
    assert out.evidence == (2, 3)


def test_repeat_with_arguments_in_another_key_order_is_a_repeat():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t", limit=5, opts={"x": 1, "y": 2}),
                 result("Error: busy", error=True),
                 call("sql_query", opts={"y": 2, "x": 1}, limit=5, query="SELECT a FROM t"), result("1"), answer("1"))
    assert verdict("no_repeated_failing_call", ep) == "fail"


def test_repeat_of_raw_text_arguments_is_a_repeat():
    ep = episode(user(Q), call("sql_query", "SELECT a FROM t"), result("Error: syntax"),
                 call("sql_query", "SELECT a FROM t "), result("Error: syntax"), answer("none"))
    assert ep.steps[1].tool_calls[0].arguments is None
    assert verdict("no_repeated_failing_call", ep) == "fail"


def test_changed_arguments_after_an_error_pass():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t"), result("Error: no such table: t"),
                 call("sql_query", query="SELECT a FROM u"), result("1"), answer("1"))
    out = outcome("no_repeated_failing_call", ep)
    assert out.verdict == "pass"


def test_same_arguments_to_another_tool_is_not_a_repeat():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t"), result("Error: no such table: t"),
                 call("run_sql", query="SELECT a FROM t"), result("1"), answer("1"))
    assert verdict("no_repeated_failing_call", ep) == "pass"


def test_repeating_a_call_that_succeeded_is_not_a_failing_repeat():
    ep = episode(user(Q), call("sql_query", query="SELECT a FROM t"), result("1"),
                 call("sql_query", query="SELECT a FROM t"), result("1"),
                 call("get_table_info", table_name="zz"), result("Error: unknown table zz"), answer("1"))
    assert verdict("no_repeated_failing_call", ep) == "pass"


def test_identical_parallel_calls_had_not_failed_yet():
    ep = episode(user(Q), assistant("", tc("sql_query", query="SELECT a FROM t"), tc("sql_query", query="SELECT a FROM t")),
                 result("Error: busy"), result("Error: busy"), answer("none"))
    assert verdict("no_repeated_failing_call", ep) == "pass"
    assert verdict("recovers_from_errors", ep) == "fail"


# ---------------------------------------------------------------- unconfigured roles

def test_discovery_and_schema_items_are_na_without_configured_roles():
    ep = episode(user(Q), call("get_table_names"), result("t"), call("sql_query", query="SELECT a FROM t"), result("1"),
                 answer("1"))
    assert verdict("discovers_tables", ep, discovery_tools=frozenset()) == "na"
    assert verdict("inspects_schema", ep, schema_tools=frozenset()) == "na"


# ---------------------------------------------------------------- no_repeated_failing_call: a retry after a fix

def _repeats(*steps):
    from rubricate.testing import episode
    from ._support import outcome
    out = outcome("no_repeated_failing_call", episode(*steps))
    return out.verdict, out.reason, out.evidence


def test_a_rerun_after_a_new_call_that_creates_the_file_is_a_retry_after_a_fix() -> None:
    """Who&When Algorithm-Generated/118.json, steps 4-11: the analysis fails (no data file), a mock-data
    script fails, the fixed mock-data script creates the file (8, a new execute_code call that
    succeeds), then the unchanged analysis runs (10). Hand-checked: pass."""
    from rubricate.testing import call, result, user
    analysis = "# filename: analyze_houston_weather.py\nimport pandas as pd\ndata = pd.read_csv(csv_file)"
    verdict, reason, evidence = _repeats(
        user("percentage of June days above 95F"),
        call("execute_code", code=analysis), result("exitcode: 1 (execution failed)\nTraceback (most recent call last):"
                                                    "\nFileNotFoundError: houston_weather_june_2020_2023.csv"),
        call("execute_code", code="# filename: create_mock_houston_weather_data.py\ndates = generate_dates(31)"),
        result("exitcode: 1 (execution failed)\nTraceback (most recent call last):\nValueError: day is out of range"),
        call("execute_code", code="# filename: create_mock_houston_weather_data.py\ndates = generate_dates(30)"),
        result("exitcode: 0 (execution succeeded)\nCode output: Mock data created"),
        call("execute_code", code=analysis), result("exitcode: 0 (execution succeeded)\nCode output: 35.00%"))
    assert verdict == "pass" and "after a fix" in reason and evidence == (2, 5, 7)


def test_a_think_or_the_same_edit_between_is_no_fix() -> None:
    """tau-bench gpt-4o-airline/8/1 (steps 30-38): book_reservation fails, the agent calls `think`, and
    books again unchanged; NeMo Gym mini_swe_agent_2 line 5: the same sed edit, then the same failing
    test run. Both stay blind repeats: `think` changes nothing, and an edit already made is not new."""
    from rubricate.testing import call, result, user
    booking = {"user_id": "u", "payment_methods": [{"payment_id": "gift_card_1", "amount": 1625}]}
    verdict, _, evidence = _repeats(
        user("book it"), call("book_reservation", **booking),
        result("Error: payment amount does not add up, total price is 4875, but paid 1625"),
        call("think", thought="The total should be 4875"), result(""),
        call("book_reservation", **booking),
        result("Error: payment amount does not add up, total price is 4875, but paid 1625"))
    assert (verdict, evidence) == ("fail", (2, 5))
    edit, test = "sed -i 's/a/b/' pprint.py", "python3 test_pprint.py"
    verdict, reason, _ = _repeats(
        user("fix it"), call("bash", command=edit), result("<returncode>0</returncode>"),
        call("bash", command=test), result("<returncode>1</returncode>\nTraceback (most recent call last):"),
        call("bash", command=edit), result("<returncode>0</returncode>"),
        call("bash", command=test), result("<returncode>1</returncode>\nTraceback (most recent call last):"))
    assert verdict == "fail" and "repeats the bash call" in reason


def test_an_episode_cut_off_before_any_use_is_na_to_views_sections_first() -> None:
    """verifiers-wiki-search gpt-5-nano/9a37a8bd results.jsonl:57: nine searches, then the run is cut
    off at its first view_sections call (no result, no read, no answer). Nothing was used without
    looking: na. With an answer after the same searches, it still fails (answered from search
    results alone)."""
    from rubricate import load_rubric
    from rubricate.testing import call, episode, result, user
    from rubricate.testing import answer as say
    rubric = load_rubric("search-agent")
    steps = [user("Which album ...?")]
    for k in range(3):
        steps += [call("search_pages", query=f"album {k}"), result('[{"page_id": "desire_i_want"}]')]
    cut = episode(*steps, call("view_sections", page_id="desire_i_want"))
    verdict = {v.item: v for v in rubric.evaluate(cut)}["views_sections_first"]
    assert verdict.verdict == "na" and "cut off" in verdict.reason
    answered = episode(*steps, say("Desire, I Want to Turn Into You"))
    assert {v.item: v for v in rubric.evaluate(answered)}["views_sections_first"].verdict == "fail"
