"""Comparing two runs item by item (before/after RL, two models, two checkpoints).

Where the runs share task ids the comparison is paired: episodes of the same task are matched (the
k-th episode of a task in A, by episode id, with the k-th in B) and McNemar's exact test runs on the
discordant pairs; the rates and counts are then those of the matched pairs. An item is compared
paired when its matched pairs hold at least half of each run's decided (pass or fail) verdicts;
otherwise (no shared tasks, or one run has many more rollouts a task) the two pass rates over all
episodes are compared with a pooled two-proportion z-test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._analysis import as_run, attach, ordered
from ._results import Run
from ._stats import mcnemar_exact, two_proportion_z

if TYPE_CHECKING:
    import polars as pl

PAIRED, UNPAIRED = "mcnemar-exact", "z-test"
DECIDED = "verdict IN ('pass', 'fail')"


def _pairs_sql(suffix: str) -> str:
    return f"""SELECT e.task_id, v.item, v.verdict = 'pass' AS ok,
                      row_number() OVER (PARTITION BY e.task_id, v.item ORDER BY v.episode_id) AS k
               FROM verdicts{suffix} v JOIN episodes{suffix} e USING (episode_id)
               WHERE v.{DECIDED} AND e.task_id IS NOT NULL"""


def _counts_sql(suffix: str) -> str:
    return f"""SELECT item, any_value(behavior) AS behavior, count(*) FILTER (verdict = 'pass') AS pass,
                      count(*) FILTER ({DECIDED}) AS n
               FROM verdicts{suffix} GROUP BY item"""


def compare(run_a: Run | str, run_b: Run | str) -> pl.DataFrame:
    """Per item: pass rate and decided count (pass + fail) in each run, delta = rate_b - rate_a, the
    p-value and which test gave it ("mcnemar-exact" on matched tasks, else "z-test"; null when a run
    has no decided verdict for the item), and the number of tasks with an episode in both runs (also
    when too few pairs made the test unpaired)."""
    import duckdb
    import polars as pl

    a, b = as_run(run_a), as_run(run_b)
    con = duckdb.connect()
    attach(con, a, "_a")
    attach(con, b, "_b")
    frame = con.sql(f"""
        WITH ca AS ({_counts_sql("_a")}), cb AS ({_counts_sql("_b")}),
        pa AS ({_pairs_sql("_a")}), pb AS ({_pairs_sql("_b")}),
        m AS (SELECT item, count(*) AS pairs, count(DISTINCT task_id) AS matched_tasks,
                     count(*) FILTER (pa.ok) AS pair_pass_a, count(*) FILTER (pb.ok) AS pair_pass_b,
                     count(*) FILTER (pa.ok AND NOT pb.ok) AS only_a, count(*) FILTER (pb.ok AND NOT pa.ok) AS only_b
              FROM pa JOIN pb USING (task_id, item, k) GROUP BY item)
        SELECT coalesce(ca.item, cb.item) AS item, coalesce(ca.behavior, cb.behavior) AS behavior,
               coalesce(ca.pass, 0) AS pass_a, coalesce(ca.n, 0) AS all_a,
               coalesce(cb.pass, 0) AS pass_b, coalesce(cb.n, 0) AS all_b,
               coalesce(m.pairs, 0) AS pairs, coalesce(m.matched_tasks, 0) AS matched_tasks,
               coalesce(m.pair_pass_a, 0) AS pair_pass_a, coalesce(m.pair_pass_b, 0) AS pair_pass_b,
               coalesce(m.only_a, 0) AS only_a, coalesce(m.only_b, 0) AS only_b
        FROM ca FULL OUTER JOIN cb ON ca.item = cb.item LEFT JOIN m ON m.item = coalesce(ca.item, cb.item)
    """).pl()
    rows = [_test(r) for r in frame.iter_rows(named=True)]  # one row an item: a handful of rows
    schema = {"item": pl.String, "behavior": pl.String, "rate_a": pl.Float64, "n_a": pl.Int64,
              "rate_b": pl.Float64, "n_b": pl.Int64, "delta": pl.Float64, "p_value": pl.Float64,
              "test": pl.String, "matched_tasks": pl.Int64}
    out = pl.DataFrame(rows, schema=schema, orient="row")
    order = a.item_order + [i for i in b.item_order if i not in a.item_order]
    return ordered(out, "item", order)


def _test(r: dict[str, Any]) -> tuple[Any, ...]:
    n = r["pairs"]
    if n and 2 * n >= max(r["all_a"], r["all_b"]):
        rate_a, rate_b = r["pair_pass_a"] / n, r["pair_pass_b"] / n
        return (r["item"], r["behavior"], rate_a, n, rate_b, n, rate_b - rate_a,
                mcnemar_exact(r["only_a"], r["only_b"]), PAIRED, r["matched_tasks"])
    na, nb = r["all_a"], r["all_b"]
    rate_a = r["pass_a"] / na if na else None
    rate_b = r["pass_b"] / nb if nb else None
    _, p = two_proportion_z(r["pass_a"], na, r["pass_b"], nb)
    delta = rate_b - rate_a if rate_a is not None and rate_b is not None else None
    return (r["item"], r["behavior"], rate_a, na, rate_b, nb, delta, p, UNPAIRED if p is not None else None,
            r["matched_tasks"])
