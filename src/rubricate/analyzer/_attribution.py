"""Attribution: which behavior's failure goes with task failure, and the principal failure mode.

Among the episodes with an outcome (a reward, or a pass/fail verdict of the outcome item), per
behavior: how often the task fails when the behavior fails and when it passes, their ratio (lift),
and the behavior's share of the failed episodes. Behaviors are ranked by excess failures,
episodes_failing x (rate when it fails - rate when it passes): the task failures that would not have
happened had the episodes where it fails failed only as often as those where it passes. That weighs
how strongly a behavior goes with failure by how often it fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._session import DEFAULT_OUTCOME_ITEM, FAIL, OUTCOME_BEHAVIORS, PASS, Session, ordered, sql_str

if TYPE_CHECKING:
    import polars as pl

COLUMNS = ["behavior", "episodes_failing", "task_fail_rate_when_fails", "task_fail_rate_when_passes", "lift",
           "share_of_failed_episodes", "rank"]


def empty_attribution() -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema={"behavior": pl.String, "episodes_failing": pl.Int64,
                                "task_fail_rate_when_fails": pl.Float64, "task_fail_rate_when_passes": pl.Float64,
                                "lift": pl.Float64, "share_of_failed_episodes": pl.Float64, "rank": pl.Int64})


def attribution(s: Session, outcome: str | None, threshold: float) -> tuple[pl.DataFrame, dict[str, Any]]:
    """(the public attribution frame, details for the principal sentence: n, failed, full frame)."""
    import polars as pl

    if outcome is None:
        return empty_attribution(), {}
    failed = f"reward < {float(threshold)!r}" if outcome == "reward" else \
        f"CASE {s.item_code(outcome)} WHEN {FAIL} THEN true WHEN {PASS} THEN false END"
    source = f"(SELECT *, {failed} AS failed FROM {s.ew}) WHERE failed IS NOT NULL"
    n, n_failed = s.rows(f"SELECT count(*), count(*) FILTER (failed) FROM {source}")[0]
    parts = []
    for behavior in s.behavior_order:
        code = s.behavior_code(behavior, exclude=None if outcome == "reward" else outcome)
        if code is not None:
            parts.append(f"""
                SELECT {sql_str(behavior)} AS behavior, count(*) FILTER (c = {FAIL}) AS episodes_failing,
                       count(*) FILTER (c = {FAIL} AND failed) AS failed_when_fails,
                       count(*) FILTER (c = {PASS}) AS episodes_passing,
                       count(*) FILTER (c = {PASS} AND failed) AS failed_when_passes
                FROM (SELECT {code} AS c, failed FROM {source})""")
    if not parts:
        return empty_attribution(), {"n": n, "failed": n_failed, "frame": None}
    frame = s.sql(" UNION ALL ".join(parts))
    fails, passes = pl.col("episodes_failing"), pl.col("episodes_passing")
    rf = pl.when(fails > 0).then(pl.col("failed_when_fails") / fails).otherwise(None)
    rp = pl.when(passes > 0).then(pl.col("failed_when_passes") / passes).otherwise(None)
    frame = ordered(frame, "behavior", s.behavior_order).with_columns(
        task_fail_rate_when_fails=rf, task_fail_rate_when_passes=rp)
    rf, rp = pl.col("task_fail_rate_when_fails"), pl.col("task_fail_rate_when_passes")
    frame = frame.with_columns(
        lift=pl.when(rp > 0).then(rf / rp).otherwise(None),
        share_of_failed_episodes=pl.col("failed_when_fails") / n_failed if n_failed else pl.lit(None, pl.Float64),
        excess=fails * (rf - rp),
    ).with_row_index("_order")
    frame = frame.sort(["excess", "share_of_failed_episodes", "_order"], descending=[True, True, False],
                       nulls_last=True).drop("_order")
    frame = frame.with_columns(rank=pl.int_range(1, frame.height + 1, dtype=pl.Int64))
    return frame.select(COLUMNS), {"n": n, "failed": n_failed, "frame": frame}


def _pct(x: float) -> str:
    return f"{x:.0%}" if x == 0 or x >= 0.01 else f"{x:.1%}"


def failure_text(outcome: str, threshold: float) -> str:
    return f"reward < {threshold:g}" if outcome == "reward" else f"{outcome} fails"


def principal(outcome: str | None, threshold: float, behaviors: pl.DataFrame,
              details: dict[str, Any]) -> tuple[str, str | None]:
    """(one sentence naming the principal failure mode with its numbers, or saying why there is none;
    the behavior, or None)."""
    import polars as pl

    if outcome is None:
        why = (f"No outcome to attribute failures to: no episode has a reward and the rubric has no "
               f"{DEFAULT_OUTCOME_ITEM} item (name the item whose fail is a task failure as the outcome)")
        worst = behaviors.filter(pl.col("fail") > 0).sort("fail", descending=True, maintain_order=True)
        if worst.is_empty():
            return why + "; no behavior fails in any episode.", None
        row = worst.row(0, named=True)
        n = row["pass"] + row["fail"]
        return why + f"; the most frequent failing behavior is {row['behavior']}, failing in {row['fail']} of " \
                     f"{n} episodes ({_pct(row['fail'] / n)}).", None
    what = failure_text(outcome, threshold)
    n, failed = details.get("n", 0), details.get("failed", 0)
    if not n:
        return f"No episode has an outcome ({outcome} is na or error everywhere); nothing to attribute.", None
    if not failed:
        return f"No task failed ({what} in 0 of {n} episodes); nothing to attribute.", None
    frame: pl.DataFrame | None = details["frame"]
    top = None if frame is None else \
        frame.filter((pl.col("excess") > 0) & ~pl.col("behavior").is_in(list(OUTCOME_BEHAVIORS)))
    if top is None or top.is_empty():
        return (f"No behavior explains task failures: {failed} of {n} episodes failed ({what}), and no "
                f"behavior fails more often in them than in the others."), None
    r = top.row(0, named=True)
    lift = f" ({r['lift']:.1f}x)" if r["lift"] is not None else ""
    return (f"The principal failure mode is {r['behavior']}: it fails in {r['episodes_failing']} of {n} episodes "
            f"({_pct(r['episodes_failing'] / n)}); the task fails ({what}) in "
            f"{_pct(r['task_fail_rate_when_fails'])} of those against {_pct(r['task_fail_rate_when_passes'])} "
            f"when it passes{lift}, and it is present in {r['failed_when_fails']} of the {failed} failed "
            f"episodes ({_pct(r['share_of_failed_episodes'])})."), r["behavior"]
