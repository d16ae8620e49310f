"""Comparing two runs item by item: a baseline and a candidate (before and after RL, two models, two
checkpoints). Everything reads baseline -> candidate: `change` is the candidate's rate minus the
baseline's, and `direction` says whether that is better or worse. Every item's pass means the agent did
what the rubric asks (a pitfall, weight < 0, passes when it is avoided), so a pass rate that rises is
better and one that falls is worse, pitfalls included; shown as a pitfall's hit rate (1 - pass rate),
a fall is better.

Runs scored with different rubric ids are not comparable (`compare` refuses them unless
`force=True`); `comparability` names what else differs (the rubric's content hash or version, no task
in common) for the caller to warn about.

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

from ..errors import AnalysisError
from ._results import Run
from ._session import FAIL, PASS, Session, as_run, ordered
from ._stats import mcnemar_exact, two_proportion_z

if TYPE_CHECKING:
    import polars as pl

PAIRED, UNPAIRED = "mcnemar-exact", "z-test"
PAIR_KEYS = ("pairs", "matched_tasks", "pair_pass_a", "pair_pass_b", "only_a", "only_b")


def rubric_of(run: Run) -> dict[str, Any]:
    return run.info.get("rubric", {})


def comparability(baseline: Run, candidate: Run) -> list[str]:
    """What makes the two runs' numbers less comparable, in words (empty when nothing does): a
    different rubric id, content hash or version."""
    a, b = rubric_of(baseline), rubric_of(candidate)
    out = []
    if a.get("id") != b.get("id"):
        out.append(f"the runs were scored with different rubrics: {a.get('id')!r} (baseline) and {b.get('id')!r} "
                   f"(candidate); items of the same id may not mean the same")
    elif a.get("hash") != b.get("hash"):
        out.append(f"rubric {a.get('id')!r} differs between the runs (content hash {a.get('hash')} in the baseline, "
                   f"{b.get('hash')} in the candidate; versions {a.get('version')} and {b.get('version')}): an item "
                   f"may have changed meaning")
    return out


def compare(baseline: Run | str, candidate: Run | str, *, force: bool = False) -> pl.DataFrame:
    """Per item, baseline -> candidate: pass rate and decided count (pass + fail) in each run, change
    = candidate rate - baseline rate, direction ("better", "worse", "same"; null without both rates),
    whether the item is a pitfall (weight < 0), the p-value and which test gave it ("mcnemar-exact" on
    matched tasks, else "z-test"; null when a run has no decided verdict for the item), the matched
    episode pairs the paired test used, and the number of tasks with a decided pair.

    Raises AnalysisError when the runs were scored with different rubric ids, unless `force`."""
    import duckdb
    import polars as pl

    run_a, run_b = as_run(baseline), as_run(candidate)
    ids = rubric_of(run_a).get("id"), rubric_of(run_b).get("id")
    if ids[0] != ids[1] and not force:
        raise AnalysisError(f"{run_a.path} and {run_b.path} were scored with different rubrics ({ids[0]!r} and "
                            f"{ids[1]!r}): their items are not the same measurements", name=str(ids[1]),
                            hint="score both runs with the same rubric, or pass --force to compare them anyway")
    con = duckdb.connect()
    sa = Session(run_a, tasks=True, con=con, suffix="_a")
    sb = Session(run_b, tasks=True, con=con, suffix="_b")
    behavior = {i: name for s in (sb, sa) for name, items in s.groups.items() for i in items}
    weight = {i["id"]: i.get("weight", 1.0) for r in (run_b, run_a) for i in rubric_of(r).get("items", [])}
    counts_a, counts_b = _counts(sa), _counts(sb)
    pairs = _pairs(sa, sb)
    order = sa.item_ids + [i for i in sb.item_ids if i not in sa.item_ids]
    rows = [_test(item, behavior[item], (weight.get(item) or 0) < 0, counts_a.get(item, (0, 0)),
                  counts_b.get(item, (0, 0)), pairs.get(item, dict.fromkeys(PAIR_KEYS, 0))) for item in order]
    schema = {"item": pl.String, "behavior": pl.String, "pitfall": pl.Boolean, "baseline_rate": pl.Float64,
              "baseline_n": pl.Int64, "candidate_rate": pl.Float64, "candidate_n": pl.Int64, "change": pl.Float64,
              "direction": pl.String, "p_value": pl.Float64, "test": pl.String, "matched_pairs": pl.Int64,
              "matched_tasks": pl.Int64}
    return ordered(pl.DataFrame(rows, schema=schema, orient="row"), "item", order)


def direction(change: float | None) -> str | None:
    """'better' when the pass rate rose, 'worse' when it fell, 'same'; None without a change. A pass is
    what the rubric asks for, for a pitfall too (it passes when avoided)."""
    if change is None:
        return None
    return "better" if change > 0 else "worse" if change < 0 else "same"


def matched_pairs(baseline: Run | str, candidate: Run | str) -> tuple[int, int]:
    """(episode pairs, tasks) matched between the runs: the k-th episode of a task in one with the k-th
    in the other, in episode-id order, over the tasks both have (read from the episodes tables only)."""
    import duckdb

    con = duckdb.connect()
    runs = [as_run(baseline), as_run(candidate)]
    for run in runs:  # a run on object storage: its file system
        run.register(con)
    ranked = [f"""(SELECT task_id, row_number() OVER (PARTITION BY task_id ORDER BY episode_id) AS k
                   FROM {run.parquet_sql('episodes')} WHERE task_id IS NOT NULL)""" for run in runs]
    return con.sql(f"SELECT count(*), count(DISTINCT a.task_id) FROM {ranked[0]} AS a JOIN {ranked[1]} AS b "
                   f"USING (task_id, k)").fetchall()[0]


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


def _test(item: str, behavior: str, pitfall: bool, a: tuple[int, int], b: tuple[int, int],
          p: dict[str, int]) -> tuple[Any, ...]:
    n = p["pairs"]
    if n and 2 * n >= max(a[1], b[1]):
        rate_a, rate_b = p["pair_pass_a"] / n, p["pair_pass_b"] / n
        return (item, behavior, pitfall, rate_a, n, rate_b, n, rate_b - rate_a, direction(rate_b - rate_a),
                mcnemar_exact(p["only_a"], p["only_b"]), PAIRED, n, p["matched_tasks"])
    (pass_a, na), (pass_b, nb) = a, b
    rate_a = pass_a / na if na else None
    rate_b = pass_b / nb if nb else None
    _, pv = two_proportion_z(pass_a, na, pass_b, nb)
    change = rate_b - rate_a if rate_a is not None and rate_b is not None else None
    return (item, behavior, pitfall, rate_a, na, rate_b, nb, change, direction(change), pv,
            UNPAIRED if pv is not None else None, 0, p["matched_tasks"])
