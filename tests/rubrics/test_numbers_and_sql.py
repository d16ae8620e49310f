"""_numbers.numbers() / close() / NumberPool and _sql.tables_in()."""

from __future__ import annotations

import pytest

from rubricate.rubrics._numbers import NumberPool, close, numbers
from rubricate.rubrics._sql import tables_in


# ---------------------------------------------------------------- numbers()

@pytest.mark.parametrize(("text", "value", "decimals", "scale", "percent"), [
    ("12.5", 12.5, 1, 1.0, False),
    ("total 42 rows", 42.0, 0, 1.0, False),
    ("1,234,567.89", 1234567.89, 2, 1.0, False),
    ("$3.4 billion", 3.4, 1, 1e9, False),
    ("3.4bn", 3.4, 1, 1e9, False),
    ("3.4B", 3.4, 1, 1e9, False),
    ("2 million", 2.0, 0, 1e6, False),
    ("2m", 2.0, 0, 1e6, False),
    ("5k", 5.0, 0, 1e3, False),
    ("7 thousand", 7.0, 0, 1e3, False),
    ("1.5 trillion", 1.5, 1, 1e12, False),
    ("12.5%", 12.5, 1, 1.0, True),
    ("12.5 %", 12.5, 1, 1.0, True),
    ("12.5 percent", 12.5, 1, 1.0, True),
    ("-5", -5.0, 0, 1.0, False),
    ("\u22125.25", -5.25, 2, 1.0, False),
    (".5", 0.5, 1, 1.0, False),
    ("12.50", 12.5, 2, 1.0, False),
])
def test_one_number(text, value, decimals, scale, percent):
    (n,) = numbers(text)
    assert (n.value, n.decimals, n.scale, n.percent) == (value, decimals, scale, percent)


@pytest.mark.parametrize("text", ["", "no digits here", "v1.2.3", "abc123", "x_5"])
def test_no_number(text):
    assert numbers(text) == []


@pytest.mark.parametrize(("text", "values"), [
    ("In 2019 revenue was $12.5 million, up 3% from 2018.", [2019, 12.5, 3, 2018]),
    ("a|b\n10|32", [10, 32]),
    ("5 kg, 4 MB and 50 km", [5, 4, 50]),          # units that are not scales
    ("It ended at 12.5.", [12.5]),                  # a full stop is not a decimal point
    ("1,234 and 5,678", [1234, 5678]),
])
def test_numbers_in_text(text, values):
    assert [n.value for n in numbers(text)] == values


def test_units_that_are_not_scales_keep_scale_one():
    assert all(n.scale == 1.0 for n in numbers("5 kg, 4 MB and 50 km"))


def test_candidates_undo_units_and_percent():
    (pct,) = numbers("12.5%")
    assert pct.candidates() == (12.5, 0.125)
    (bn,) = numbers("$3.4 billion")
    assert set(bn.candidates()) >= {3.4, 3.4e9, 3.4e6, 3400.0}
    (plain,) = numbers("7")
    assert plain.candidates() == (7.0,)


def test_close_at_the_stated_precision_or_one_percent():
    assert close(12.3456, 12.35, 2)
    assert close(12.3456, 12.3, 1)
    assert not close(12.3456, 12.4, 2, rel=0.0)
    assert close(0.46, 0.5, 1)
    assert not close(0.46, 0.50, 2)
    assert close(101.0, 100.0, 12, rel=0.01)
    assert not close(101.5, 100.0, 12, rel=0.01)
    assert close(0.029, 0.02, 12, abs_tol=0.01)


def test_number_pool_finds_and_derives():
    pool = NumberPool([(10.0, 2), (32.0, 4), (float("inf"), 6), (10.0, 8)])
    assert len(pool) == 2                                   # non-finite dropped, first step kept
    assert pool.steps[pool.find(10.0, 0)] == 2
    assert pool.find(11.0, 0) is None
    for target, op in [(42.0, "sum"), (22.0, "difference"), (3.2, "ratio"), (320.0, "product"),
                       (220.0, "percent change")]:
        derived = pool.derive(target, 1)
        assert derived is not None, op
        i, j, _ = derived
        assert {pool.values[i], pool.values[j]} <= {10.0, 32.0}
    assert pool.derive(126.0, 0) is None
    assert NumberPool([]).derive(1.0, 0) is None


# ---------------------------------------------------------------- tables_in()

@pytest.mark.parametrize(("sql", "tables"), [
    ("SELECT * FROM revenue", {"revenue"}),
    ("select total from Revenue where year = 2019", {"revenue"}),
    ('SELECT * FROM "revenue"', {"revenue"}),
    ('SELECT * FROM "Balance Sheet" b', {"balance sheet"}),
    ("SELECT * FROM `income_statement`", {"income_statement"}),
    ("SELECT * FROM [dbo].[Costs]", {"costs"}),
    ("SELECT * FROM main.revenue", {"revenue"}),
    ('SELECT * FROM "main"."Revenue" AS r', {"revenue"}),
    ("SELECT * FROM `s`.`t`", {"t"}),
    ("SELECT * FROM a, b AS bb, c", {"a", "b", "c"}),
    ("SELECT * FROM a x, b y WHERE x.id = y.id", {"a", "b"}),
    ("SELECT r.total FROM revenue r JOIN costs c ON r.year = c.year", {"revenue", "costs"}),
    ("SELECT * FROM revenue AS r LEFT OUTER JOIN costs AS c USING (year)", {"revenue", "costs"}),
    ("SELECT * FROM t1 INNER JOIN t2 ON t1.a = t2.a CROSS JOIN t3", {"t1", "t2", "t3"}),
    ("SELECT * FROM (SELECT x FROM inner_t) sub", {"inner_t"}),
    ("SELECT * FROM t WHERE a IN (SELECT a FROM u)", {"t", "u"}),
    ("SELECT * FROM a, (SELECT 1) z", {"a"}),
    ("SELECT EXTRACT(YEAR FROM date_col) FROM sales", {"sales"}),
    ("SELECT EXTRACT(YEAR FROM CAST(d AS DATE)) AS y FROM sales", {"sales"}),
    ("SELECT TRIM(BOTH ' ' FROM name) FROM people", {"people"}),
    ("SELECT substring(x from 2) from t", {"t"}),
    ("WITH r AS (SELECT * FROM revenue) SELECT * FROM r", {"revenue"}),
    ("WITH r AS (SELECT * FROM t), s AS (SELECT * FROM r) SELECT * FROM s JOIN u ON 1 = 1", {"t", "u"}),
    ("WITH RECURSIVE n AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT * FROM n", set()),
    ("SELECT * FROM t1 UNION SELECT * FROM t2", {"t1", "t2"}),
    ("SELECT 1", set()),
    ("SELECT 1 + 1 AS two", set()),
    ("", set()),
    ("SHOW TABLES", set()),
])
def test_tables_in(sql, tables):
    assert tables_in(sql) == frozenset(tables)


def test_tables_in_is_cached_and_returns_frozensets():
    sql = "SELECT * FROM a JOIN b ON a.id = b.id"
    first = tables_in(sql)
    assert isinstance(first, frozenset)
    assert tables_in(sql) is first
