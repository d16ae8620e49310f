"""Behavior-level failure analysis of a run: item and behavior pass rates with Wilson intervals, which
behavior's failure goes with task failure (attribution), co-occurrence, failure patterns, where in an
episode failures start, and cohorts. All of it DuckDB over the run's Parquet, one connection a run.

A behavior's status in an episode comes from its items: `fail` if any item fails, `pass` if some item
passes and none fails, `error` if some item errs and none passes or fails, `na` otherwise. That order
(fail > pass > error > na) makes the status the maximum of the items' codes.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AnalysisError
from ._results import Run
from ._stats import wilson_exprs
from ._store import EPISODES_FILE, VERDICTS_FILE

if TYPE_CHECKING:
    import duckdb
    import polars as pl

NA, ERROR, PASS, FAIL = 0, 1, 2, 3
STATUS = "CASE verdict WHEN 'fail' THEN 3 WHEN 'pass' THEN 2 WHEN 'error' THEN 1 ELSE 0 END"
NO_COHORT = "(none)"
DEFAULT_OUTCOME_ITEM = "answer_correct"
# Behaviors that restate the outcome (a wrong answer is the task failure): ranked in the attribution
# table, never named the principal failure mode.
OUTCOME_BEHAVIORS = frozenset({"correctness"})


@dataclass(frozen=True)
class Analysis:
    """What `analyze` found in a run. Rates are pass rates, pass / (pass + fail), with Wilson 95%
    bounds lo..hi; na and error are never in a denominator."""

    run: Run
    by: str | None
    outcome: str | None
    items: pl.DataFrame
    behaviors: pl.DataFrame
    attribution: pl.DataFrame
    principal: str | None
    cooccurrence: pl.DataFrame
    patterns: pl.DataFrame
    first_failing_step: pl.DataFrame
    cohorts: pl.DataFrame | None
    principal_behavior: str | None = None  # the behavior `principal` names, if any

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists of row dicts) for JSON."""
        frames = ("items", "behaviors", "attribution", "cooccurrence", "patterns", "first_failing_step", "cohorts")
        out: dict[str, Any] = {"run": self.run.path, "by": self.by, "outcome": self.outcome,
                               "principal": self.principal, "principal_behavior": self.principal_behavior}
        for name in frames:
            frame = getattr(self, name)
            out[name] = None if frame is None else frame.to_dicts()
        return out


def as_run(run: Run | str) -> Run:
    return run if isinstance(run, Run) else Run(run)


def sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join(sql_str(v) for v in values) + "]"


def cohort_sql(by: str, column: str = "metadata") -> str:
    """The cohort of an episode: its metadata value at key `by`, or '(none)'."""
    path = '$."' + by.replace('"', '\\"') + '"'
    return f"coalesce(json_extract_string({column}, {sql_str(path)}), {sql_str(NO_COHORT)})"


def attach(con: duckdb.DuckDBPyConnection, run: Run, suffix: str = "") -> None:
    """Views `verdicts{suffix}` and `episodes{suffix}` over the run's Parquet files."""
    for view, name in (("verdicts", VERDICTS_FILE), ("episodes", EPISODES_FILE)):
        con.execute(f"CREATE VIEW {view}{suffix} AS SELECT * FROM read_parquet({sql_str(run.file(name))})")


class Session:
    """One DuckDB connection over a run's Parquet (views `verdicts`, `episodes`) and the tables built
    from them once: `eb` (episode, behavior, status code) and `oc` (episode, task failed)."""

    def __init__(self, run: Run) -> None:
        import duckdb

        self.run = run
        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        attach(self.con, run)
        items = [(i["id"], i.get("behavior") or "") for i in run.info.get("rubric", {}).get("items", [])]
        if not items:  # a hand-made run without rubric items: read them from the verdicts
            items = [(r[0], r[1]) for r in self.con.sql(
                "SELECT item, any_value(behavior) FROM verdicts GROUP BY item ORDER BY item").fetchall()]
        self.item_ids = [i for i, _ in items]
        self.groups: dict[str, list[str]] = {}
        for item, behavior in items:
            self.groups.setdefault(behavior, []).append(item)
        self.behavior_order = list(self.groups)
        self.built: set[str] = set()

    def sql(self, query: str) -> pl.DataFrame:
        return self.con.sql(query).pl()

    def scalar(self, query: str) -> Any:
        return self.con.sql(query).fetchall()[0][0]

    def behavior_of(self, item: str) -> str | None:
        return next((b for b, items in self.groups.items() if item in items), None)

    def behaviors_table(self, exclude: str | None = None) -> str:
        """Name of the (episode_id, behavior, s) table, `exclude` left out of its behavior's status."""
        name = "eb" if exclude is None else "eb_x"
        if name in self.built:
            return name
        if exclude is None:
            parts = _status_parts(self.groups)
        else:
            bx = self.behavior_of(exclude)
            parts = [f"SELECT * FROM {self.behaviors_table()} WHERE behavior <> {sql_str(bx or '')}"]
            parts += _status_parts({bx: [i for i in self.groups.get(bx or "", []) if i != exclude]})
        query = " UNION ALL ".join(parts) or \
            "SELECT NULL::VARCHAR AS episode_id, NULL::VARCHAR AS behavior, NULL::UTINYINT AS s LIMIT 0"
        self.con.execute(f"CREATE TEMP TABLE {name} AS {query}")
        self.built.add(name)
        return name

    def outcome_table(self, outcome: str, threshold: float) -> str:
        if "oc" not in self.built:
            if outcome == "reward":
                query = f"SELECT episode_id, reward < {float(threshold)!r} AS failed FROM episodes " \
                        "WHERE reward IS NOT NULL"
            else:
                query = f"SELECT episode_id, verdict = 'fail' AS failed FROM verdicts " \
                        f"WHERE item = {sql_str(outcome)} AND verdict IN ('pass', 'fail')"
            self.con.execute(f"CREATE TEMP TABLE oc AS {query}")
            self.built.add("oc")
        return "oc"

    def failing(self) -> str:
        """(episode_id, behavior, o) of every failing behavior, o its position in rubric order."""
        return f"SELECT episode_id, behavior, coalesce(list_position({sql_list(self.behavior_order)}, behavior), " \
               f"999) AS o FROM {self.behaviors_table()} WHERE s = {FAIL}"


def _status_parts(groups: dict[str, list[str]]) -> list[str]:
    single = [items[0] for items in groups.values() if len(items) == 1]
    multi = [i for items in groups.values() if len(items) > 1 for i in items]
    parts = []
    if single:
        parts.append(f"SELECT episode_id, behavior, ({STATUS})::UTINYINT AS s FROM verdicts "
                     f"WHERE item IN (SELECT unnest({sql_list(single)}))")
    if multi:
        parts.append(f"SELECT episode_id, behavior, max({STATUS})::UTINYINT AS s FROM verdicts "
                     f"WHERE item IN (SELECT unnest({sql_list(multi)})) GROUP BY episode_id, behavior")
    return parts


def with_rate(frame: pl.DataFrame) -> pl.DataFrame:
    """Add rate = pass / (pass + fail) and its Wilson bounds lo, hi (null where pass + fail is 0)."""
    import polars as pl

    n = pl.col("pass") + pl.col("fail")
    lo, hi = wilson_exprs(pl.col("pass"), n)
    rate = pl.when(n > 0).then(pl.col("pass") / n).otherwise(None)
    return frame.with_columns(rate=rate, lo=lo, hi=hi)


def ordered(frame: pl.DataFrame, column: str, order: list[str], *then: str) -> pl.DataFrame:
    """Sort by position of `column` in `order` (unknown values last, by name), then by `then`."""
    import polars as pl

    index = {v: k for k, v in enumerate(order)}
    key = pl.col(column).replace_strict(index, default=len(index), return_dtype=pl.Int64)
    return frame.with_columns(_o=key).sort(["_o", column, *then]).drop("_o")


def resolve_outcome(s: Session, outcome: str | None) -> str | None:
    has_rewards = s.scalar("SELECT count(reward) FROM episodes") > 0
    if outcome is None:
        if has_rewards:
            return "reward"
        return DEFAULT_OUTCOME_ITEM if DEFAULT_OUTCOME_ITEM in s.item_ids else None
    if outcome == "reward":
        if not has_rewards:
            raise AnalysisError(f"{s.run.path}: no episode has a reward", name=outcome,
                                hint=f"name the item whose fail is a task failure instead, e.g. --outcome "
                                     f"{DEFAULT_OUTCOME_ITEM if DEFAULT_OUTCOME_ITEM in s.item_ids else 'ITEM'}")
        return outcome
    if outcome not in s.item_ids:
        close = difflib.get_close_matches(outcome, s.item_ids, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use 'reward' or one of: {', '.join(s.item_ids)}"
        raise AnalysisError(f"{s.run.path}: outcome {outcome!r} is neither 'reward' nor an item of rubric "
                            f"{s.run.info.get('rubric', {}).get('id', '?')!r}", name=outcome, hint=hint)
    return outcome


def analyze(run: Run | str, *, by: str | None = None, outcome: str | None = None,
            threshold: float = 1.0) -> Analysis:
    """Analyse a run: rates per item and behavior, attribution of task failures to behaviors, the
    principal failure mode, co-occurrence, patterns, first failing steps, and cohorts when `by` names
    an episode metadata key. `outcome` is what task failure is: "reward" (reward < `threshold`) or an
    item id whose fail is a task failure; by default reward when episodes have rewards, else the
    `answer_correct` item when the rubric has one, else none (then attribution is empty)."""
    return analyze_session(Session(as_run(run)), by=by, outcome=outcome, threshold=threshold)


def analyze_session(s: Session, *, by: str | None, outcome: str | None, threshold: float) -> Analysis:
    from ._attribution import attribution, principal

    outcome = resolve_outcome(s, outcome)
    behaviors = behaviors_frame(s)
    attr, counts = attribution(s, outcome, threshold)
    sentence, principal_behavior = principal(outcome, threshold, behaviors, counts)
    return Analysis(
        run=s.run, by=by, outcome=outcome, items=items_frame(s), behaviors=behaviors, attribution=attr,
        principal=sentence, principal_behavior=principal_behavior,
        cooccurrence=cooccurrence_frame(s), patterns=patterns_frame(s),
        first_failing_step=first_failing_step_frame(s), cohorts=cohorts_frame(s, by) if by else None,
    )


def items_frame(s: Session) -> pl.DataFrame:
    frame = s.sql("""
        SELECT item, any_value(behavior) AS behavior,
               count(*) FILTER (verdict = 'pass') AS pass, count(*) FILTER (verdict = 'fail') AS fail,
               count(*) FILTER (verdict = 'na') AS na, count(*) FILTER (verdict = 'error') AS error
        FROM verdicts GROUP BY item""")
    return ordered(with_rate(frame), "item", s.item_ids)


def behaviors_frame(s: Session) -> pl.DataFrame:
    frame = s.sql(f"""
        SELECT behavior, count(*) FILTER (s = {PASS}) AS pass, count(*) FILTER (s = {FAIL}) AS fail,
               count(*) FILTER (s = {NA}) AS na, count(*) FILTER (s = {ERROR}) AS error
        FROM {s.behaviors_table()} GROUP BY behavior""")
    return ordered(with_rate(frame), "behavior", s.behavior_order)


def cooccurrence_frame(s: Session) -> pl.DataFrame:
    """Every pair of behaviors that fail somewhere: episodes where both fail, where either fails, and
    their Jaccard index; most similar pairs first."""
    import polars as pl

    frame = s.sql(f"""
        WITH f AS ({s.failing()}),
        n AS (SELECT behavior, any_value(o) AS o, count(*) AS n FROM f GROUP BY behavior),
        p AS (SELECT a.behavior AS a, b.behavior AS b, count(*) AS both_fail
              FROM f a JOIN f b ON a.episode_id = b.episode_id AND a.o < b.o GROUP BY ALL)
        SELECT x.behavior AS behavior_a, y.behavior AS behavior_b, coalesce(p.both_fail, 0) AS both_fail,
               x.n + y.n - coalesce(p.both_fail, 0) AS either_fail, x.o AS oa, y.o AS ob
        FROM n x JOIN n y ON x.o < y.o LEFT JOIN p ON p.a = x.behavior AND p.b = y.behavior""")
    return (frame.with_columns(jaccard=pl.col("both_fail") / pl.col("either_fail"))
            .sort(["jaccard", "both_fail", "oa", "ob"], descending=[True, True, False, False])
            .drop("oa", "ob"))


def patterns_frame(s: Session) -> pl.DataFrame:
    """The sets of behaviors that fail together in an episode ("discovery + grounding"), most common
    first; share is of the episodes where at least one behavior fails."""
    import polars as pl

    frame = s.sql(f"""
        WITH per AS (SELECT episode_id, string_agg(behavior, ' + ' ORDER BY o) AS pattern
                     FROM ({s.failing()}) GROUP BY episode_id)
        SELECT pattern, count(*) AS episodes FROM per GROUP BY pattern""")
    total = frame["episodes"].sum()
    return (frame.with_columns(share=pl.col("episodes") / total if total else pl.lit(None, pl.Float64))
            .sort(["episodes", "pattern"], descending=[True, False]))


def first_failing_step_frame(s: Session) -> pl.DataFrame:
    """Per item with fails: how many, and the median and 90th percentile of the first step its fail
    verdicts cite (the lowest evidence index; fails without evidence are left out of the quantiles)."""
    frame = s.sql("""
        SELECT item, count(*) AS fails,
               quantile_cont(list_min(evidence), 0.5)::DOUBLE AS median_first_step,
               quantile_cont(list_min(evidence), 0.9)::DOUBLE AS p90_first_step
        FROM verdicts WHERE verdict = 'fail' GROUP BY item""")
    return ordered(frame, "item", s.item_ids)


def cohorts_frame(s: Session, by: str) -> pl.DataFrame:
    """Per cohort (the episode metadata value at `by`) and item: counts, pass rate and its interval,
    and the cohort's number of episodes."""
    frame = s.sql(f"""
        WITH e AS (SELECT episode_id, {cohort_sql(by)} AS cohort FROM episodes),
        c AS (SELECT cohort, count(*) AS episodes FROM e GROUP BY cohort),
        v AS (SELECT cohort, item, any_value(behavior) AS behavior,
                     count(*) FILTER (verdict = 'pass') AS pass, count(*) FILTER (verdict = 'fail') AS fail
              FROM verdicts JOIN e USING (episode_id) GROUP BY cohort, item)
        SELECT v.*, c.episodes FROM v JOIN c USING (cohort)""")
    frame = with_rate(frame).select("cohort", "item", "behavior", "pass", "fail", "rate", "lo", "hi", "episodes")
    return ordered(frame, "item", s.item_ids, "cohort")
