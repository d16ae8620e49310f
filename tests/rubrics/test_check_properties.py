"""Property tests: on random episodes every built-in item gives pass/fail/na (never error, never an
exception), cites steps that exist, and is deterministic."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rubricate.rubrics import CheckContext, Rubric, builtin_rubrics, load_rubric, run_check
from rubricate.rubrics.checks.tool_discipline import ENTITIES
from rubricate.testing import StepSpec, answer, assistant, episode, result, tc, user
from rubricate.traces import Episode

from ._support import EXAMPLE_RUBRIC

SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@cache
def rubrics() -> tuple[Rubric, ...]:
    return tuple(load_rubric(n) for n in builtin_rubrics()) + (load_rubric(EXAMPLE_RUBRIC),)


TOOLS = sorted({t for key, tools in ENTITIES.items() if key.endswith("_tools") for t in tools}
               | {"search_pages", "view_sections", "read_section", "Get_Table_Names", "weather"})
TABLES = ["revenue", "costs", "Balance Sheet", "t", "x", "main.revenue", "p"]

numbers_text = st.one_of(
    st.integers(-10**6, 10**12).map(str),
    st.integers(0, 10**9).map(lambda n: f"{n:,}"),
    st.floats(-1e9, 1e9, allow_nan=False).map(lambda f: f"{f:.{abs(int(f)) % 5}f}"),
    st.sampled_from(["12.5%", "$3.4 billion", "3.4bn", "5k", "0.125", "-7", "\u221212", ".5", "2019", "1e5",
                     "9" * 320, "0." + "0" * 330 + "1", "0", "0%", "100 percent", "3 trillion"]),
)
words = st.sampled_from(["the", "total", "revenue", "was", "in", "million", "answer", "is", "final", "table",
                         "Error:", "not found", "Traceback (most recent call last)", "\\boxed{", "}", "|", "\n",
                         '{"error": "x"}', "from", "percent", "%", "$", ",", "."])
texts = st.one_of(
    st.lists(st.one_of(words, numbers_text), max_size=12).map(" ".join),
    st.text(max_size=40),
)
sql = st.builds(
    lambda cols, tables, extra: f"SELECT {cols} FROM {', '.join(tables)}{extra}",
    st.sampled_from(["*", "a", "EXTRACT(YEAR FROM d)", "SUM(total)"]),
    st.lists(st.sampled_from(TABLES).map(lambda t: f'"{t}"' if " " in t else t), min_size=1, max_size=3),
    st.sampled_from(["", " WHERE year = 2019", " JOIN costs c ON 1 = 1", " WHERE a IN (SELECT a FROM u)"]),
) | st.sampled_from(["SELECT 1", "WITH r AS (SELECT * FROM revenue) SELECT * FROM r", "", "DROP TABLE t"])
values = st.one_of(sql, texts, st.integers(-5, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                   st.booleans(), st.none(), st.lists(st.sampled_from(TABLES), max_size=3))
arguments = st.dictionaries(
    st.sampled_from(["query", "sql", "table_name", "table", "table_names", "answer", "page_id", "section_id",
                     "limit", "x"]),
    values, max_size=4,
)
tool_calls = st.lists(
    st.builds(lambda name, args, raw: tc(name, raw) if raw is not None else tc(name, **args),
              st.sampled_from(TOOLS), arguments, st.none() | st.sampled_from(["not json {", "[1, 2]", "  "])),
    min_size=1, max_size=3,
)
steps = st.one_of(
    texts.map(user),
    texts.map(answer),
    st.builds(lambda text, calls: assistant(text, *calls), st.sampled_from(["", "let me look"]), tool_calls),
    st.builds(lambda content, error: result(content, error=error), texts, st.sampled_from([None, True, False])),
)


@st.composite
def episodes(draw) -> Episode:
    specs: list[StepSpec] = draw(st.lists(steps, max_size=14))
    truth = draw(st.none() | numbers_text | st.sampled_from(["Paris", "", "  ", "12.5 million", "The Eiffel Tower"]))
    question = draw(st.none() | texts)
    return episode(*specs, ground_truth=truth, question=question)


def _check_outcome(ep: Episode, out) -> None:
    assert out.verdict in ("pass", "fail", "na"), out
    assert out.reason.strip(), out
    assert all(0 <= i < len(ep.steps) for i in out.evidence), out


@SETTINGS
@given(episodes())
def test_every_builtin_item_decides_cites_existing_steps_and_is_deterministic(ep):
    for rubric in rubrics():
        shared = rubric.evaluate(ep)          # facts shared by all items, as every scorer does
        again = rubric.evaluate(ep)
        assert shared == again
        for item, out in zip(rubric.checks, shared):
            _check_outcome(ep, out)
            alone = run_check(item.check.fn, CheckContext(ep, item.params))  # fresh facts per item
            assert (alone.verdict, alone.reason, alone.evidence) == (out.verdict, out.reason, out.evidence), \
                (rubric.id, item.id)


@SETTINGS
@given(episodes())
def test_outcomes_survive_a_round_trip_of_the_episode(ep):
    import msgspec

    copy = msgspec.json.decode(msgspec.json.encode(ep), type=Episode)
    for rubric in rubrics():
        assert rubric.evaluate(ep) == rubric.evaluate(copy)


def test_strategies_reach_the_interesting_shapes():
    """The generated episodes are not all trivial: some have tool errors, answers and parallel calls."""
    seen = {"error": False, "parallel": False, "answer": False}

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)  # the same draws every run
    @given(episodes())
    def probe(ep):
        seen["error"] |= any(s.is_error for s in ep.steps)
        seen["parallel"] |= any(len(s.tool_calls) > 1 for s in ep.steps)
        seen["answer"] |= ep.final_answer is not None

    probe()
    assert all(seen.values()), seen
