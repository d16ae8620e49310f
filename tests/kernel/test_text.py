"""text.c against its Python references, differentially: tables_in (rubricate.rubrics._sql),
looks_like_error (rubricate.traces._normalise), marked_answer and _normal_text
(rubricate.rubrics.checks.correctness); the ASCII stand-ins of non-ASCII text (against the
references run on both) and _normal_text of non-ASCII text.

Inputs: SQL generated from a grammar (ordinary SQL: the kernel must never fall back on it), the
same SQL mutated and random token soup (any result but a difference is fine there, a fallback
included), error texts built around every alternative of the error patterns, answers with boxed and
marked parts, and every ASCII string of the real corpora and test fixtures.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rubricate.rubrics._numbers import candidate_values, id_tail_at, numbers, quantities
from rubricate.rubrics._sql import tables_in
from rubricate.rubrics.checks.correctness import _normal_text, marked_answer
from rubricate.rubrics.checks.tool_discipline import _number_at
from rubricate.traces._normalise import looks_like_error

tables_ref = tables_in.__wrapped__  # no lru_cache: millions of distinct statements


def cfg(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


ROOT = Path(__file__).resolve().parents[2]
from _shared import CORPORA  # noqa: E402


def check_tables(kernel: ModuleType, sql: str, *, fallback_ok: bool = False) -> None:
    got = kernel._debug_tables(sql)
    if got is None:
        assert fallback_ok, f"fallback on ordinary SQL: {sql!r}"
        return
    assert got == tables_ref(sql), sql


def check_text(kernel: ModuleType, text: str) -> None:
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text
    assert kernel._debug_marked_answer(text) == marked_answer(text), text
    assert kernel._debug_normal_text(text) == _normal_text(text), text


# ---------------------------------------------------------------- SQL from a grammar

SPACE = st.sampled_from([" "] * 12 + ["  ", "\n", "\n    ", "\t", " \r\n  ", "\x0b", "\x0c", "\x1c", "\x1f "])
OPT_SPACE = st.one_of(st.just(""), SPACE)
IDENTS = [
    "orders", "customers", "order_items", "t", "t1", "x", "a", "b", "Users", "SALES", "tbl$1", "my-table",
    "from_date", "joined", "withdrawals", "fromage", "trimmed", "positions", "extracts", "overlays", "dual",
    "select_log", "on_call", "_tmp", "lateral_view", "a1b2", "Sub_Q", "r", "s", "n", "revenue", "Balance",
    "unnest", "lateral", "using", "select", "where", "on", "with_x", "recursive", "as_of", "asc", "join_t",
    "substring_idx", "window_log", "limits", "x$", "$x", "-x", "1abc", "2020_sales", "x-1", "WITH", "From",
]


def _variants(word: str) -> list[str]:
    """The word in lower, upper and title case and in two mixed cases."""
    mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(word.lower()))
    return list(dict.fromkeys([word.lower(), word.upper(), word.title(), mixed, mixed.swapcase()]))


def cased(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from(_variants(word))


@cache
def kw(*words: str) -> st.SearchStrategy[str]:
    """Keywords in random case joined by random whitespace."""
    if len(words) == 1:
        return cased(words[0])
    return st.tuples(*(st.tuples(cased(w), SPACE) for w in words)).map(
        lambda parts: "".join(w + s for w, s in parts[:-1]) + parts[-1][0])


LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
WORD_CHARS = LETTERS + "0123456789"
word_ident = st.tuples(st.sampled_from(LETTERS), st.text(WORD_CHARS, max_size=9)).map("".join)
plain_ident = st.one_of(st.sampled_from(IDENTS), word_ident)
QUOTED_BODY = st.tuples(st.sampled_from(WORD_CHARS), st.text(WORD_CHARS + " .$-", max_size=12)).map("".join)
quoted = st.one_of(
    QUOTED_BODY.map(lambda s: f"`{s}`"),
    QUOTED_BODY.map(lambda s: f'"{s}"'),
    QUOTED_BODY.map(lambda s: f"[{s}]"),
)
part = st.one_of(plain_ident, plain_ident, quoted)
qualified = st.lists(part, min_size=1, max_size=3).map(".".join)
column = st.one_of(word_ident, st.tuples(word_ident, word_ident).map(".".join), st.just("*"))
value_column = st.one_of(word_ident, st.tuples(word_ident, word_ident).map(".".join))
literal = st.one_of(st.integers(0, 999).map(str), st.just("'x'"), st.just("'a, b'"), st.just("NULL"))


ALIAS = st.one_of(
    st.just(""),
    st.tuples(SPACE, word_ident).map("".join),
    st.tuples(SPACE, kw("as"), SPACE, word_ident).map("".join),
)


@st.composite
def _select_item(draw, depth: int) -> str:
    col = draw(value_column)
    kind = draw(st.integers(0, 14))
    if kind == 0:
        return draw(column)
    if kind == 1:
        return f"{draw(kw('extract'))}{draw(OPT_SPACE)}({draw(kw('year'))}{draw(SPACE)}{draw(kw('from'))}{draw(SPACE)}{col})"
    if kind == 2:
        lead = draw(st.sampled_from(["", "LEADING ' ' ", "both 'x' ", "trailing "]))
        return f"{draw(kw('trim'))}({lead}{draw(kw('from'))}{draw(SPACE)}{col})"
    if kind == 3:
        return f"{draw(kw('substring'))}({col}{draw(SPACE)}{draw(kw('from'))} 2 {draw(kw('for'))} 3)"
    if kind == 4:
        return f"{draw(kw('position'))}('a' {draw(kw('in'))} {col})"
    if kind == 5:
        return f"{draw(kw('overlay'))}({col} {draw(kw('placing'))} 'x' {draw(kw('from'))} 2)"
    if kind == 6:
        return f"{draw(st.sampled_from(['COUNT', 'sum', 'Avg', 'max']))}({draw(column)}){draw(ALIAS)}"
    if kind == 7 and depth > 0:
        return f"({draw(select_s(depth - 1))}){draw(ALIAS)}"
    if kind == 8:
        return f"{col}{draw(ALIAS)}"
    return col


@st.composite
def _table_ref(draw, depth: int) -> str:
    if depth > 0 and draw(st.integers(0, 7)) == 0:
        return f"({draw(OPT_SPACE)}{draw(select_s(depth - 1))}{draw(OPT_SPACE)}){draw(ALIAS)}"
    return draw(qualified) + draw(ALIAS)


@st.composite
def _condition(draw, depth: int) -> str:
    kind = draw(st.integers(0, 7))
    left = draw(value_column)
    if kind == 0 and depth > 0:
        return f"{left} {draw(kw('in'))} ({draw(select_s(depth - 1))})"
    if kind == 1 and depth > 0:
        return f"{draw(kw('exists'))}{draw(OPT_SPACE)}({draw(select_s(depth - 1))})"
    if kind == 2:
        return f"{left} {draw(kw('between'))} 1 {draw(kw('and'))} 5"
    op = draw(st.sampled_from(["=", ">", "<=", "<>", " LIKE ", " = "]))
    right = draw(st.one_of(literal, value_column))
    return f"{left}{op}{right}"


JOINS = [("join",), ("inner", "join"), ("left", "join"), ("left", "outer", "join"), ("right", "join"),
         ("full", "outer", "join"), ("cross", "join"), ("natural", "join")]


@st.composite
def _from_clause(draw, depth: int) -> str:
    refs = draw(st.lists(table_ref_s(depth), min_size=1, max_size=3))
    seps = [draw(st.tuples(OPT_SPACE, OPT_SPACE).map(lambda t: f"{t[0]},{t[1]}")) for _ in refs[1:]]
    text = draw(kw("from")) + draw(SPACE) + refs[0] + "".join(s + r for s, r in zip(seps, refs[1:]))
    for _ in range(draw(st.integers(0, 3))):
        text += draw(SPACE) + draw(kw(*draw(st.sampled_from(JOINS)))) + draw(SPACE) + draw(table_ref_s(depth))
        how = draw(st.integers(0, 2))
        if how == 0:
            text += f"{draw(SPACE)}{draw(kw('on'))}{draw(SPACE)}{draw(condition_s(depth))}"
        elif how == 1:
            text += f"{draw(SPACE)}{draw(kw('using'))}{draw(OPT_SPACE)}({draw(word_ident)})"
    return text


@st.composite
def _select(draw, depth: int) -> str:
    items = draw(st.lists(select_item_s(depth), min_size=1, max_size=4))
    text = draw(kw("select")) + draw(st.sampled_from(["", " DISTINCT", " distinct"])) + draw(SPACE)
    text += ", ".join(items)
    if draw(st.integers(0, 9)):
        text += draw(SPACE) + draw(from_clause_s(depth))
    if draw(st.booleans()):
        text += draw(SPACE) + draw(kw("where")) + draw(SPACE) + draw(condition_s(depth))
        if draw(st.booleans()):
            text += f" {draw(kw('and'))} {draw(condition_s(depth))}"
    if draw(st.booleans()):
        text += draw(SPACE) + draw(kw("group", "by")) + draw(SPACE) + draw(column)
        if draw(st.booleans()):
            text += f" {draw(kw('having'))} {draw(condition_s(0))}"
    if draw(st.booleans()):
        text += draw(SPACE) + draw(kw("order", "by")) + draw(SPACE) + draw(column) + draw(
            st.sampled_from(["", " DESC", " asc"]))
    if draw(st.booleans()):
        text += draw(SPACE) + draw(kw("limit")) + draw(SPACE) + str(draw(st.integers(0, 100)))
    return text


@cache
def select_item_s(depth: int) -> st.SearchStrategy[str]:
    return _select_item(depth)


@cache
def table_ref_s(depth: int) -> st.SearchStrategy[str]:
    return _table_ref(depth)


@cache
def condition_s(depth: int) -> st.SearchStrategy[str]:
    return _condition(depth)


@cache
def from_clause_s(depth: int) -> st.SearchStrategy[str]:
    return _from_clause(depth)


@cache
def select_s(depth: int) -> st.SearchStrategy[str]:
    return _select(depth)


@st.composite
def cte_name(draw) -> str:
    name = draw(st.one_of(word_ident, st.sampled_from(["r", "n", "orders", "t", "recursive", "tmp"])))
    return draw(st.sampled_from(["{}", "`{}`", '"{}"', "[{}]"])).format(name)


@st.composite
def statement(draw) -> str:
    kind = draw(st.integers(0, 9))
    if kind <= 3:
        return draw(select_s(draw(st.sampled_from([1, 1, 2]))))
    if kind <= 5:
        head = draw(kw("with"))
        if draw(st.booleans()):
            head += draw(SPACE) + draw(kw("recursive"))
        ctes = []
        for _ in range(draw(st.integers(1, 3))):
            ctes.append(f"{draw(cte_name())}{draw(SPACE)}{draw(kw('as'))}{draw(OPT_SPACE)}"
                        f"({draw(OPT_SPACE)}{draw(select_s(1))}{draw(OPT_SPACE)})")
        sep = draw(st.sampled_from([", ", ",\n", " , ", ","]))
        return f"{head}{draw(SPACE)}{sep.join(ctes)}{draw(SPACE)}{draw(select_s(1))}"
    if kind == 6:
        glue = draw(kw(*draw(st.sampled_from([("union",), ("union", "all"), ("except",), ("intersect",)]))))
        return f"{draw(select_s(1))}{draw(SPACE)}{glue}{draw(SPACE)}{draw(select_s(1))}"
    if kind == 7:
        return f"{draw(kw('insert', 'into'))} {draw(qualified)} {draw(select_s(1))}"
    if kind == 8:
        return (f"{draw(kw('update'))} {draw(qualified)} {draw(kw('set'))} a = 1 "
                f"{draw(from_clause_s(1))} {draw(kw('where'))} {draw(condition_s(1))}")
    return f"{draw(kw('delete'))} {draw(from_clause_s(0))} {draw(kw('where'))} {draw(condition_s(1))}"


REAL_SQL = [
    "SELECT * FROM revenue",
    'SELECT * FROM "Balance Sheet" b',
    "SELECT * FROM [dbo].[Costs]",
    'SELECT * FROM "main"."Revenue" AS r',
    "SELECT * FROM a, b AS bb, c",
    "SELECT r.total FROM revenue r JOIN costs c ON r.year = c.year",
    "SELECT * FROM revenue AS r LEFT OUTER JOIN costs AS c USING (year)",
    "SELECT * FROM t1 INNER JOIN t2 ON t1.a = t2.a CROSS JOIN t3",
    "SELECT * FROM (SELECT x FROM inner_t) sub",
    "SELECT EXTRACT(YEAR FROM CAST(d AS DATE)) AS y FROM sales",
    "SELECT TRIM(BOTH ' ' FROM name) FROM people",
    "WITH r AS (SELECT * FROM t), s AS (SELECT * FROM r) SELECT * FROM s JOIN u ON 1 = 1",
    "WITH RECURSIVE n AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT * FROM n",
    "SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.singer_id WHERE T2.year = 2014",
    "SELECT count(*) FROM head WHERE age  >  56",
    "SELECT name FROM employee WHERE employee_id NOT IN (SELECT employee_id FROM evaluation)",
    ("select c.customer_id, sum(o.total) from customers c left join orders o on o.customer_id = c.customer_id "
    "group by 1 order by 2 desc limit 10"),
    "SELECT strftime('%Y', date) AS y, COUNT(*) FROM trips WHERE date BETWEEN '2013-01-01' AND '2013-12-31' GROUP BY y",
    "SELECT * FROM information_schema.columns WHERE table_name = 'orders'",
    "SELECT name FROM sqlite_master WHERE type='table'",
    "PRAGMA table_info(orders)",
    "SELECT * FROM `project.dataset.table` LIMIT 5",
    "SELECT * FROM db.schema.tbl t1, db.schema.tbl2 AS t2 WHERE t1.k = t2.k",
    "SELECT a FROM t WHERE b = 'from x' OR c = 'join y'",
    "SELECT SUBSTRING(name FROM 1 FOR 3), POSITION('a' IN name) FROM people p",
    "SELECT x FROM t -- from comment_table\nWHERE y > 1",
    "SELECT * FROM t /* join other */ WHERE 1",
    "SELECT * FROM LATERAL (SELECT 1) x",
    "SELECT * FROM UNNEST(ARRAY[1, 2]) AS u",
    "SELECT 1 FROM dual",
    "SELECT * FROM t1 NATURAL JOIN t2 WHERE t1.a > 0",
    "SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)",
    ("with totals as (select region, sum(amount) s from sales group by region) select * from totals "
    "where s > (select avg(s) from totals)"),
    "SELECT * FROM a JOIN b USING(id) JOIN c ON c.id=b.id",
    "SELECT * FROM schema1.\"My Table\" mt",
    "SELECT * FROM t WHERE d > DATE '2020-01-01'",
    "SELECT id FROM t WHERE name LIKE '%from%'",
    "select extract(epoch from now() - created_at) from events",
    "SELECT * FROM t1, t2, t3 WHERE t1.a = t2.a AND t2.b = t3.b",
    "SELECT * FROM t1 , t2 WHERE 1",
    "DELETE FROM logs WHERE ts < 5",
    "UPDATE t SET a = b FROM u WHERE t.id = u.id",
    "INSERT INTO archive SELECT * FROM live",
    "SELECT * FROM t$1 JOIN x$ ON 1",
    "SELECT * FROM a-b JOIN c.d-e ON 1",
    "select * from t where x = 1\n  and y in (select y from u)\n  and z in (select z from v join w on v.a=w.a)",
]


@pytest.mark.parametrize("sql", REAL_SQL)
def test_tables_real_sql(kernel, sql):
    check_tables(kernel, sql)


@pytest.mark.parametrize("sql", [
    "", "from", "join", "FROM x", "x from", "select from", "a from b", "fromjoin x", "from(x)", "from (x) y",
    "from x.", "from x,", "from x$", "from x$.y", "from x$y.z", "from a$$b", "from 1a", "from $a", "from _a",
    "join a, b", "join a x, b y", "from `a,b`", "from `a, b` c", "from `a`.`b`.c", "from \"a\".[b].`c`",
    "from [a].b-c", "from [a.[b]", "from ``", "from `]`", "from [", "from [[x]", "from \"x", "from `x",
    "from a as join b", "from a as on", "from a join_x", "from a as as", "from a as asc", "from a ascending",
    "from a left", "from a lefty", "from a inner", "from a\tas\nb , c", "from a,b,c,d,e",
    "with x as (select 1) select * from x", "with`x` as (select 1) select * from x", "withx as (select 1) from x",
    "with recursive as (select 1) from recursive", "with recursivex as (select 1) from x",
    "WITH a AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a, b, c",
    ", x as ( from x", "x, y as (select 1) from y", "with [x] as (select 1) from [x]", 'with "x` as ( from x',
    "extract(year from t) from u", "extract (year from t)", "trim(from x)", "xtrim(from x)", "trim(x) from y",
    "position(x from y", "substring(\nfrom t", "extract(from t (from u", "extract(from t) (from u",
    "select from from from", "from select", "from where", "from dual", "from lateral", "from unnest x",
    "select * from t where x in (1, 2)", "select a.b from t", "join t on t.a = b.c", "join t\n",
    "from a, (select 1) b", "from a, 1b", "from 1.5", "from a.1", "from a -- c, d", "x.from y", "x_from y",
    "from\u000bx", "from\x1cx, y", "FROM x\x1f,\x1fy",
])
def test_tables_corner_cases(kernel, sql):
    check_tables(kernel, sql, fallback_ok=True)


@cfg(2000)
@given(statement())
def test_tables_generated_sql_never_falls_back(kernel, sql):
    check_tables(kernel, sql)


MUTATIONS = ["from", "FROM ", " join ", "with ", " as ", "(", ")", ",", ".", "`", '"', "[", "]", " ", "\n",
             "$", "-", "extract(", "trim", "position (", "recursive", " on ", "select", "dual", "1", "_",
             "x", "as(", " AS\t", "'", "left ", "union", "from(", "from\n(", "join`", ";"]


@cfg(1500)
@given(statement(), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), st.sampled_from(MUTATIONS)),
                             min_size=1, max_size=6))
def test_tables_mutated_sql(kernel, sql, edits):
    for where, cut, text in edits:
        i = int(where * len(sql))
        sql = sql[:i] + text + sql[i + cut:]
    check_tables(kernel, sql, fallback_ok=True)


SQL_TOKENS = MUTATIONS + ["a", "b1", "t", "ON", "where", "AS", "WITH", "Join", "  ", "\t", "\r", "x$y",
                          "overlay", "substring", "(select 1)", "`a b`", '"a.b"', "[c d]", ".", "..", "0"]


@cfg(4000)
@given(st.lists(st.sampled_from(SQL_TOKENS), max_size=30).map("".join))
def test_tables_token_soup(kernel, sql):
    check_tables(kernel, sql, fallback_ok=True)


@cfg(1500)
@given(st.text(st.characters(max_codepoint=127), max_size=80))
def test_tables_random_ascii(kernel, sql):
    check_tables(kernel, sql, fallback_ok=True)


@cfg(300)
@given(st.integers(150, 260), st.sampled_from(["extract(", "trim (", "SUBSTRING\n(", "position(", "overlay("]),
       st.sampled_from(["", ")", "(", "x)"]), st.sampled_from([" ", "a", "("]))
def test_tables_function_window_of_200(kernel, gap, func, inside, before):
    """The FROM inside a function call is looked for in the 200 characters before the FROM."""
    sql = f"select{before}{func}x{inside}" + "y" * gap + " from t, u"
    check_tables(kernel, sql, fallback_ok=True)
    sql = f"select x{before}{func}" + " " * gap + "from t, u"
    check_tables(kernel, sql, fallback_ok=True)


@cfg(150)
@given(st.lists(statement(), min_size=1, max_size=8))
def test_names_accumulate_without_duplicates(kernel, statements):
    """sql_tables appends to one KNames across statements: the union, each name once."""
    got = kernel._debug_tables(statements)
    assert got is not None
    assert len(got) == len(set(got))
    want = frozenset().union(*(tables_ref(s) for s in statements))
    assert frozenset(got) == want


def test_names_buffer_growth(kernel):
    """Many long names: the names buffer moves while names point into it."""
    statements = [f"select * from t{i}_{'x' * (i % 300)}, `Q {i}` join s{i}.u{i}" for i in range(400)]
    got = kernel._debug_tables(statements + statements)
    want = frozenset().union(*(tables_ref(s) for s in statements))
    assert len(got) == len(set(got)) and frozenset(got) == want


def test_many_ctes(kernel):
    """More CTEs than the kernel tracks: a fallback, or the exact result."""
    for count in (10, 64, 65, 200):
        sql = "with " + ", ".join(f"c{i} as (select * from base{i})" for i in range(count)) + \
              " select * from " + ", ".join(f"c{i}" for i in range(0, count, 3))
        check_tables(kernel, sql, fallback_ok=count > 64)


# ---------------------------------------------------------------- real text: corpora, fixtures, bench

def _walk(value, out: list[str]) -> None:
    if isinstance(value, str):
        if value.isascii():
            out.append(value)
        head = value.lstrip()[:1]
        if head in ("{", "[") and len(value) < 1_000_000:
            try:
                _walk(json.loads(value), out)
            except ValueError:
                pass
    elif isinstance(value, dict):
        for v in value.values():
            _walk(v, out)
    elif isinstance(value, list):
        for v in value:
            _walk(v, out)


def _json_files(root: Path) -> Iterator[Path]:
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.suffix in (".json", ".jsonl") and path.is_file():
                yield path


@cache
def real_strings() -> tuple[str, ...]:
    """Every distinct ASCII string value (and those of JSON held in strings) of the corpora and fixtures."""
    out: list[str] = []
    for root in (CORPORA, ROOT / "tests" / "fixtures"):
        for path in _json_files(root):
            text = path.read_text(errors="replace")
            docs = text.splitlines() if path.suffix == ".jsonl" else [text]
            for doc in docs:
                try:
                    _walk(json.loads(doc), out)
                except ValueError:
                    continue
    return tuple(dict.fromkeys(out))


@cache
def bench_sql(path: Path) -> tuple[str, ...]:
    out: list[str] = []
    with path.open() as f:
        for line in f:
            _walk(json.loads(line), out)
    return tuple(dict.fromkeys(s for s in out if "from" in s.lower() or "join" in s.lower()))


def test_real_strings_as_sql(kernel):
    strings = real_strings()
    if not strings:
        pytest.skip("no corpora or fixtures here")
    fallbacks = 0
    for s in strings:
        low = s.lower()
        if "from" not in low and "join" not in low:
            continue
        got = kernel._debug_tables(s)
        if got is None:
            fallbacks += 1
        else:
            assert got == tables_ref(s), s
    assert fallbacks == 0


def test_bench_sql(kernel, bench_chat):
    statements = bench_sql(bench_chat)
    assert statements
    for s in statements:
        check_tables(kernel, s)


def test_real_strings_as_text(kernel):
    strings = real_strings()
    if not strings:
        pytest.skip("no corpora or fixtures here")
    for s in strings:
        check_text(kernel, s)


def test_non_ascii_is_refused(kernel):
    for shim in (kernel._debug_tables, kernel._debug_looks_like_error, kernel._debug_marked_answer,
                 kernel._debug_normal_text):
        with pytest.raises(ValueError):
            shim("select * from caf\u00e9")


# ---------------------------------------------------------------- looks_like_error

ERROR_STARTS = [
    "error", "Error", "ERROR", "ValueError:", "ValueError :", "sqlite3.OperationalError:", "error:", "Error\n:",
    "java.lang.NullPointerException:", "exception", "Exception", "MyException  :", "RuntimeException", "errors:",
    "invalid", "Invalid", "failed", "FAILED", "failure", "could not", "Could Not", "cannot", "unable to",
    "Unable To", "permission denied", "Permission Denied", "no such", "No such", "unknown tool",
    "unknown function", "Unknown Table", "unknown column", "unknown  table", "unknown tables", "not found",
    "Not Found", "file not found", "x' - _ not found", "errorexception:", "x.error.y:", ".error:", "error.:",
    "Errno", "exceptional", "invalidate", "failedX", "couldnot", "could  not", "unable_to", "permission",
    "unknown", "no_such", "notfound", "not foundx", "_not found", "'not found'", "-not found",
]
ERROR_PREFIXES = st.one_of(
    st.sampled_from(["", " ", "   ", "\n", "\t", "\n\n  ", "\x0b", "\x1c", "x", "_", ".", "'", "-", "1"]),
    st.text(st.sampled_from(" \t\n'-_aZ9.:"), max_size=45),
)
ERROR_SUFFIXES = st.sampled_from(["", " ", ":", " : x", "s", "x", "_", "1", ".", "\n", "-", "'", "ed", "(", " found",
                                  "\t:", ":\n", " table", " tool x"])


@cfg(3000)
@given(ERROR_PREFIXES, st.sampled_from(ERROR_STARTS), ERROR_SUFFIXES, st.sampled_from(["", "rest of text", "\n."]))
def test_error_start(kernel, prefix, body, suffix, rest):
    text = prefix + body + suffix + rest
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text


@cfg(2000)
@given(st.integers(0, 3), st.text(st.sampled_from("ab_9' -\t\n."), max_size=60), st.sampled_from(
    ["not found", "NOT FOUND", "Not found", "not  found", "not foundx", "not found!", "xnot found"]))
def test_error_not_found_window(kernel, spaces, lead, tail):
    """[\\w' -]{0,40}\\bnot found\\b after leading whitespace: lengths around 40."""
    text = " " * spaces + lead + tail
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text


@pytest.mark.parametrize("n", range(48))
def test_error_not_found_lengths(kernel, n):
    for lead in ("a" * n, " " * n, "\n" + "a" * n, "  " + "a" * n, " " * n + "a", "a" * n + " "):
        for tail in ("not found", "not found.", "not foundx"):
            text = lead + tail
            assert kernel._debug_looks_like_error(text) == looks_like_error(text), text


KEY_QUOTES = ["\"error\"", "'error'", "\"error'", "'error\"", "\"Error\"", "error", "\"errors\"", "\"error \""]
KEY_VALUES = ["None", "null", "False", "false", '""', "''", "[]", "{}", "Nonesuch", "nullx", "falsey", "False_",
              "None1", "none", "NULL", "true", "0", '"x"', "'x'", "[1]", '{"a": 1}', "[ ]", "{ }", '" "',
              "Null", "", "None,", "null}", "\"\"\"", "[]]"]


@cfg(3000)
@given(st.sampled_from(["{", " {", "\n{", "[{", "x{", "{ \"a\": 1, "]), st.sampled_from(KEY_QUOTES),
       st.sampled_from(["", " ", "\n", "  \t"]), st.sampled_from([":", " :", ""]),
       st.sampled_from(["", " ", "\n", "\t "]), st.sampled_from(KEY_VALUES), st.sampled_from(["}", "", ", \"b\": 2}"]))
def test_error_key(kernel, head, key, ws1, colon, ws2, value, tail):
    text = head + key + ws1 + colon + ws2 + value + tail
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text


@cfg(3000)
@given(st.integers(1960, 2010), st.sampled_from(["\"error\"", "'error'"]), st.sampled_from(["", " ", "  "]),
       st.sampled_from(["", " ", "   "]), st.sampled_from(KEY_VALUES), st.sampled_from(["}", "", "x"]))
def test_error_key_at_2000(kernel, at, key, ws1, ws2, value, tail):
    """The key is searched in content[:2000] as if the text ended there (\\b and lookahead included)."""
    body = key + ws1 + ":" + ws2 + value + tail
    text = "{" + "x" * max(0, at - 1) + body
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text
    text = "{" + " " * max(0, at - len(key) - 2) + body  # whitespace before the colon straddles 2000
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text


@pytest.mark.parametrize("text", [
    "", " ", "ok", "Traceback (most recent call last):\n  File", "result\nTraceback (most recent call last)",
    "Traceback (most recent call last", "traceback (most recent call last)", ("{\"error\": null} Traceback (most "
    "recent call last)"), "{}", "{\"error\"", "{'error':", "{'error':None}", "{'error': None }", "{\"error\":\"\"}",
    "  {\"status\": \"ok\", \"error\": \"boom\"}", "[{\"error\": \"x\"}]", "Errors found", "Error", "error",
    "\x0b\x0cerror", "\x1c\x1d\x1e\x1ferror", "\x1ferror", "Error:", "404 not found", "The table was not found",
    "a" * 41 + " not found", "a" * 40 + " not found", " " * 3000 + "x not found", "\n" * 3000 + "error",
    " " * 3000 + "a" * 40 + " not found", " " * 3000 + "a" * 41 + " not found", " " * 2500 + "{\"error\": 1}",
    "{" + " " * 1990 + "'error': 1", "{" + " " * 1993 + "'error':", "{" + " " * 1992 + "'error': None",
])
def test_error_examples(kernel, text):
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text


ERROR_TOKENS = ["error", "Error", "exception", ":", " ", "\n", "{", "}", "\"", "'", "None", "null", "false",
                "[]", "{}", "not found", "x", ".", "_", "-", "Traceback (most recent call last)", "unknown ",
                "table", "no such", "could not", "invalid", "failed"]


@cfg(3000)
@given(st.lists(st.sampled_from(ERROR_TOKENS), max_size=16).map("".join))
def test_error_token_soup(kernel, text):
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text


@cfg(1500)
@given(st.text(st.characters(max_codepoint=127), max_size=60))
def test_error_random_ascii(kernel, text):
    assert kernel._debug_looks_like_error(text) == looks_like_error(text), text


# ---------------------------------------------------------------- marked_answer

ANSWER_TOKENS = ["\\boxed{", "\\boxed", "{", "}", "answer", "Answer", "ANSWER", "final answer", "Final Answer",
                 "final  answer", " is ", "is", "IS", ":", "=", " ", "\n", "\n\n", "\t", "\r", "42", "x", "3.5%",
                 "The ", "\\", "boxed{", "answers", "final result", "Final Results", "results", "s", "final"]


@cfg(5000)
@given(st.lists(st.sampled_from(ANSWER_TOKENS), max_size=20).map("".join))
def test_marked_answer_token_soup(kernel, text):
    assert kernel._debug_marked_answer(text) == marked_answer(text), text


@cfg(1500)
@given(st.text(st.characters(max_codepoint=127), max_size=60))
def test_marked_answer_random_ascii(kernel, text):
    assert kernel._debug_marked_answer(text) == marked_answer(text), text


@pytest.mark.parametrize("text", [
    "", "42", "The answer is 42.", "Final Answer: $\\boxed{\\frac{1}{2}}$", "\\boxed{a}\\boxed{b}",
    "\\boxed{{a}{b}}", "\\boxed{{{a}}}", "\\boxed{a", "\\boxed{\\boxed{x}}", "\\boxed{ {\\boxed{x}} ",
    "answer:\n\n", "answer: \n", "answer:  \n\n", "answer:\t\n \n", "answer is\n\n answer: 5",
    "Answer: 1\nAnswer: 2\nsome text", "the final answer is 7 and the answer = 8", "answer island",
    "answer\n=\n\n7", "answer: \r\n", "answer:\r", "answer", "Answer:", "answeris5", "\\boxed{}",
    # ../shared/corpora/who-and-when Algorithm-Generated/40.json: the conclusion under "Final results:"
    "- Iteration 2: x\n\nFinal results:\n- The smallest n: 3\n- The value: -4.9361\n\nTERMINATE",
    "final result is 5", "Final Result: 5", "final results = 5", "final resultss: 5", "final result  \n 5",
    "final results", "the answer: 4, final result: 5", "final result: 5, the answer is 6", "final resultis 7",
])
def test_marked_answer_examples(kernel, text):
    assert kernel._debug_marked_answer(text) == marked_answer(text), text


# ---------------------------------------------------------------- _normal_text

TEXT_TOKENS = ["the", "The", "THE", "a", "A", "an", "An", "and", "then", "theme", "a_", "_a", "a1", " ", "  ",
               "\n", "\t", ".", "..", "%", "-", ",", "'", "Paris", "3.5", "42%", "x", "(", ")", "$", "\x0b",
               "7", "7.", ".7", "D.C."]


@cfg(5000)
@given(st.lists(st.sampled_from(TEXT_TOKENS), max_size=20).map("".join))
@example(" . the . ")
@example("a.a.a")
@example("%the%")
@example("Russ Armstrong. They have 3.5 sons. 4.x .5 5.")  # full stops go, decimal points stay
def test_normal_text_token_soup(kernel, text):
    assert kernel._debug_normal_text(text) == _normal_text(text), text


@cfg(2000)
@given(st.text(st.characters(max_codepoint=127), max_size=80))
def test_normal_text_random_ascii(kernel, text):
    assert kernel._debug_normal_text(text) == _normal_text(text), text


# ---------------------------------------------------------------- non-ASCII text: stand-ins and _normal_text
#
# verifiers records keep non-ASCII text; the checks match their patterns on an ASCII stand-in (one
# byte per character: '_' for a letter, '\x01' for another symbol; None when a character has none).
# The claim, checked here on the Python references themselves: every pattern the kernel reproduces
# gives the same answer on the stand-in as on the text. _normal_text reads the real text (UTF-8).

_W, _D, _S = re.compile(r"\w"), re.compile(r"\d"), re.compile(r"\s")
_CASED = re.compile(r"[a-z]", re.IGNORECASE)  # every ASCII letter of every pattern, under IGNORECASE


def _expected_stand_in(ch: str) -> str | None:
    """What the stand-in of one non-ASCII character must be, from Python's own view of it."""
    if ch.isspace() or ch.isdigit() or _D.match(ch) or ch == "\u2212" or _CASED.match(ch) or ch.lower().isascii():
        return None
    return "_" if _W.match(ch) else "\x01"


def _numbers_view(text: str) -> list[tuple]:
    return [(n.text, n.value, n.decimals, n.scale, n.percent) for n in numbers(text)]


def check_stand_in(kernel: ModuleType, text: str) -> str | None:
    """The kernel's stand-in of text, and the claim above for it."""
    stand = kernel._debug_stand_in(text)
    if stand is None:
        assert any(_expected_stand_in(c) is None for c in text if not c.isascii()), text
        return None
    assert stand.isascii() and len(stand) == len(text), (text, stand)
    assert all(s == c if c.isascii() else s == _expected_stand_in(c) for c, s in zip(text, stand)), (text, stand)
    assert looks_like_error(stand) == looks_like_error(text), text
    assert _numbers_view(stand) == _numbers_view(text), text
    assert _quantities_view(stand) == _quantities_view(text), text
    assert candidate_values(stand) == candidate_values(text), text
    assert _numbers_view(marked_answer(stand)) == _numbers_view(marked_answer(text)), text
    assert bool(stand.strip()) == bool(text.strip()), text
    for digits in {n.text.lstrip("$-").split()[0].rstrip("%") for n in numbers(text)} | {"1", "12", "2020", "3.5", "1,000"}:
        if digits:
            assert _number_at(stand, digits) == _number_at(text, digits), (text, digits)
            if digits.isdigit():
                assert id_tail_at(stand, digits) == id_tail_at(text, digits), (text, digits)
    return stand


def _quantities_view(text: str) -> list[tuple]:
    return [(n.text, n.value, n.decimals, n.scale, n.percent) for n in quantities(text)]


def test_stand_in_of_every_character(kernel):
    """Every code point but the surrogates: the stand-in the character classes call for, and the
    classes themselves (\\w, \\d, \\s, isdigit, IGNORECASE letters) the same as its stand-in's."""
    refused = {"\u00a0", "\u2212", "\u0130", "\u0131", "\u017f", "\u212a", "\u0663", "\u00b2", "\u2028", "\u3000"}
    for cp in range(0x80, sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        got = kernel._debug_stand_in(ch)
        assert got == _expected_stand_in(ch), hex(cp)
        if got is not None:
            for p in (_W, _D, _S, _CASED):
                assert bool(p.match(ch)) == bool(p.match(got)), hex(cp)
            assert ch.isdigit() == got.isdigit() and ch.isspace() == got.isspace(), hex(cp)
        else:
            refused.discard(ch)
    assert not refused, refused  # these have no stand-in
    assert kernel._debug_stand_in("caf\u00e9 \u2013 \u00df\u03bb\u2019") == "caf_ \x01 __\x01"


NON_ASCII = ["\u00e9", "\u014d", "\u00df", "\u03bb", "\u0440", "\u4e94", "\u00bd", "\u2167", "\u0301", "\u2013",
             "\u2014", "\u2019", "\u201c", "\u20ac", "\u00d7", "\ufeff", "\U0001f600", "\u24b6", "\u00b5",
             "\u00aa", "\u0345", "\u03a3", "\u2c65", "\u023a", "\u1e9e", "\u01c5",
             # no stand-in
             "\u00a0", "\u2212", "\u0130", "\u0131", "\u017f", "\u212a", "\u0663", "\u00b2", "\u2028", "\u0085"]
TEXT_PIECES = ["Error", "error:", " not found", "Exception", "ValueError :", "unknown table", "could not", "{",
               '{"error": "x"}', '"error"', "Traceback (most recent call last)", " ", "\n", "12", "3.5", "1,234",
               "$", "-", "%", " percent", " million", "bn", "k", "answer is ", "Final answer: ", "\\boxed{",
               "}", ".", ",", "the", "a", "x", "_", "2020", "\t", "1. ", "\n2) ", "May 5", "5th of June, ", "2024-05-15",
               "15:00", "60RX9", "PUR-", "-4", "gift_card_1591784", "1784", "Sept. "]


@cfg(3000)
@given(st.lists(st.one_of(st.sampled_from(TEXT_PIECES), st.sampled_from(NON_ASCII), st.characters()), max_size=24)
       .map("".join).filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)))
@example("Erdo\u011fan not found")
@example("\u00e9rror: x")
@example("12\u00e9 and 3.5\u2013m")
@example("\u03bb12 mn\u00e9")
@example("answer is \u2013 7")
@example("K12")
def test_stand_in_matches_as_the_text(kernel, text):
    check_stand_in(kernel, text)


def check_normal_text_utf8(kernel: ModuleType, text: str) -> None:
    got = kernel._debug_normal_text_utf8(text)
    if got is None:
        assert "\u03a3" in text or kernel._debug_stand_in(text) is None, text
    else:
        assert got == _normal_text(text), text


@cfg(3000)
@given(st.lists(st.one_of(st.sampled_from(TEXT_TOKENS), st.sampled_from(NON_ASCII), st.characters()), max_size=20)
       .map("".join).filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)))
@example("the \u00e9 a\u00e9 an\u2013the")
@example("\u023a\u023a the")
@example("\u0130stanbul")
def test_normal_text_utf8(kernel, text):
    check_normal_text_utf8(kernel, text)


def test_normal_text_utf8_every_character(kernel):
    """Every code point, alone and between letters and articles (its lower case and word class)."""
    chars = [chr(cp) for cp in range(0x80, sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF]
    for i in range(0, len(chars), 400):
        chunk = chars[i:i + 400]
        text = " ".join(f"a{c} {c}the q{c}R. {c}.7 7.{c}" for c in chunk)  # a '.' beside it: digit or not
        if kernel._debug_normal_text_utf8(text) is not None:
            check_normal_text_utf8(kernel, text)
            continue
        for c in chunk:
            check_normal_text_utf8(kernel, f"a{c} {c}the q{c}R. {c}.7 7.{c}")
    for text in ("", "abc", "The Paris.", "x" * 50):
        assert kernel._debug_normal_text_utf8(text) == kernel._debug_normal_text(text) == _normal_text(text)


def check_strip_lower(kernel: ModuleType, text: str) -> None:
    """text_strip + text_lower (entities of non-ASCII arguments) against text.strip().lower()."""
    got = kernel._debug_strip_lower(text)
    if got is None:
        assert "\u0130" in text or "\u03a3" in text, text
    else:
        assert got == text.strip().lower(), text


def test_strip_lower_every_character(kernel):
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        for text in (c, f"{c}x{c}", f" x{c}Y "):
            check_strip_lower(kernel, text)


@cfg(2000)
@given(st.lists(st.one_of(st.sampled_from(TEXT_PIECES), st.sampled_from(NON_ASCII), st.characters()), max_size=12)
       .map("".join).filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t)))
@example("\u00a0\u2028 Caf\u00c9 \u3000")
@example("\u0085")
def test_strip_lower(kernel, text):
    check_strip_lower(kernel, text)
