"""Comparing two runs item by item (before/after RL, two models, two checkpoints).

Where the runs share task ids the comparison is paired: the episodes of a task are matched in
episode-id order (the k-th episode of the task in A with the k-th in B), and McNemar's exact test
runs on the discordant pairs of the pairs where both verdicts are pass or fail; the rates and counts
are then those of the pairs. An item is compared paired when its pairs hold at least half of each
run's decided (pass or fail) verdicts; otherwise (no shared tasks, or one run has many more rollouts
a task) the pass rates over all episodes are compared with a pooled two-proportion z-test.
Both runs are read through their per-episode tables (see `_session`), in one DuckDB connection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._results import Run
from ._session import FAIL, PASS, Session, as_run, ordered
from ._stats import mcnemar_exact, two_proportion_z

if TYPE_CHECKING:
    import polars as pl

PAIRED, UNPAIRED = "mcnemar-exact", "z-test"
PAIR_KEYS = ("pairs", "matched_tasks", "pair_pass_a", "pair_pass_b", "only_a", "only_b")


def compare(run_a: Run | str, run_b: Run | str) -> pl.DataFrame:
    """Per item: pass rate and decided count (pass + fail) in each run, delta = rate_b - rate_a, the
    p-value and which test gave it ("mcnemar-exact" on matched tasks, else "z-test"; null when a run
    has no decided verdict for the item), and the number of tasks with a decided pair (also when too
    few pairs made the test unpaired)."""
    import duckdb
    import polars as pl

    con = duckdb.connect()
    sa = Session(as_run(run_a), tasks=True, con=con, suffix="_a")
    sb = Session(as_run(run_b), tasks=True, con=con, suffix="_b")
    behavior = {i: name for s in (sb, sa) for name, items in s.groups.items() for i in items}
    counts_a, counts_b = _counts(sa), _counts(sb)
    pairs = _pairs(sa, sb)
    order = sa.item_ids + [i for i in sb.item_ids if i not in sa.item_ids]
    rows = [_test(item, behavior[item], counts_a.get(item, (0, 0)), counts_b.get(item, (0, 0)),
                  pairs.get(item, dict.fromkeys(PAIR_KEYS, 0))) for item in order]
    schema = {"item": pl.String, "behavior": pl.String, "rate_a": pl.Float64, "n_a": pl.Int64,
              "rate_b": pl.Float64, "n_b": pl.Int64, "delta": pl.Float64, "p_value": pl.Float64,
              "test": pl.String, "matched_tasks": pl.Int64}
    return ordered(pl.DataFrame(rows, schema=schema, orient="row"), "item", order)


def _counts(s: Session) -> dict[str, tuple[int, int]]:
    """item -> (passes, pass + fail) over all the run's episodes."""
    if not s.item_ids:
        return {}
    cols = [f"count(*) FILTER ({s.item_code(i)} = {PASS}), count(*) FILTER ({s.item_code(i)} IN ({PASS}, {FAIL}))"
            for i in s.item_ids]
    row = s.rows(f"SELECT {', '.join(cols)} FROM {s.ew}")[0]
    return {i: (row[2 * k], row[2 * k + 1]) for k, i in enumerate(s.item_ids)}


def _pairs(sa: Session, sb: Session) -> dict[str, dict[str, int]]:
    """item -> counts over the episode pairs of shared tasks where both verdicts are pass or fail."""
    common = [i for i in sa.item_ids if i in sb.item_ids]
    if not common:
        return {}
    codes = ", ".join(f"{sa.item_code(i, 'a.')} AS a{k}, {sb.item_code(i, 'b.')} AS b{k}"
                      for k, i in enumerate(common))
    cols = []
    for k in range(len(common)):
        both = f"a{k} IN ({PASS}, {FAIL}) AND b{k} IN ({PASS}, {FAIL})"
        cols += [f"count(*) FILTER ({both})", f"count(DISTINCT task_id) FILTER ({both})",
                 f"count(*) FILTER ({both} AND a{k} = {PASS})", f"count(*) FILTER ({both} AND b{k} = {PASS})",
                 f"count(*) FILTER (a{k} = {PASS} AND b{k} = {FAIL})",
                 f"count(*) FILTER (a{k} = {FAIL} AND b{k} = {PASS})"]
    row = sa.rows(f"""
        WITH pa AS (SELECT *, row_number() OVER (PARTITION BY task_id ORDER BY episode_id) AS k FROM {sa.ew}
                    WHERE task_id IS NOT NULL),
        pb AS (SELECT *, row_number() OVER (PARTITION BY task_id ORDER BY episode_id) AS k FROM {sb.ew}
               WHERE task_id IS NOT NULL),
        m AS (SELECT a.task_id, {codes} FROM pa AS a JOIN pb AS b ON a.task_id = b.task_id AND a.k = b.k)
        SELECT {', '.join(cols)} FROM m""")[0]
    n = len(PAIR_KEYS)
    return {i: dict(zip(PAIR_KEYS, row[n * k:n * (k + 1)])) for k, i in enumerate(common)}


def _test(item: str, behavior: str, a: tuple[int, int], b: tuple[int, int], p: dict[str, int]) -> tuple[Any, ...]:
    n = p["pairs"]
    if n and 2 * n >= max(a[1], b[1]):
        rate_a, rate_b = p["pair_pass_a"] / n, p["pair_pass_b"] / n
        return (item, behavior, rate_a, n, rate_b, n, rate_b - rate_a, mcnemar_exact(p["only_a"], p["only_b"]),
                PAIRED, p["matched_tasks"])
    (pass_a, na), (pass_b, nb) = a, b
    rate_a = pass_a / na if na else None
    rate_b = pass_b / nb if nb else None
    _, pv = two_proportion_z(pass_a, na, pass_b, nb)
    delta = rate_b - rate_a if rate_a is not None and rate_b is not None else None
    return (item, behavior, rate_a, na, rate_b, nb, delta, pv, UNPAIRED if pv is not None else None,
            p["matched_tasks"])
