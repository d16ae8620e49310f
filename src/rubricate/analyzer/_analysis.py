"""Behavior-level failure analysis of a run: item and behavior pass rates with Wilson intervals, which
behavior's failure goes with task failure (attribution), co-occurrence, failure patterns, where in an
episode failures start, and cohorts. All of it DuckDB over the run's Parquet (see `_session`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AnalysisError
from ._attribution import attribution, edges_frame, failure_text, no_outcome_sentence
from ._claims import principal_sentence
from ._diagnosis import Diagnosis
from ._evidence import EvidenceRule
from ._results import Run
from ._session import DEFAULT_OUTCOME_ITEM, FAIL, PASS, Session, as_run, ordered, sql_str
from ._stats import wilson_exprs
from ._training import Training, order_key, step_sql, training

if TYPE_CHECKING:
    import polars as pl

@dataclass(frozen=True, eq=False)  # frames do not compare with ==
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
    principal_behavior: str | None = None  # the root `principal` names first, if any
    diagnosis: Diagnosis | None = None  # roots, chains and every test behind the attribution
    edges: pl.DataFrame | None = None  # A -> B: does A's failure raise B's (see `_diagnosis`)
    outcome_items: tuple[str, ...] = ()  # items reported as outcome, never weighed as causes
    training: Training | None = None  # behaviors over training, when episodes carry a step
    threshold: float = 1.0  # with outcome "reward": a reward below it is a task failure

    @property
    def roots(self) -> tuple[str, ...]:
        """The principal failure modes (roots of their chains), most upstream first; () when none."""
        return self.diagnosis.roots if self.diagnosis else ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists of row dicts) for JSON."""
        frames = ("items", "behaviors", "attribution", "edges", "cooccurrence", "patterns", "first_failing_step",
                  "cohorts")
        d = self.diagnosis
        out: dict[str, Any] = {"run": self.run.path, "by": self.by, "outcome": self.outcome,
                               "principal": self.principal, "principal_behavior": self.principal_behavior,
                               "roots": list(self.roots), "outcome_items": list(self.outcome_items),
                               "chains": [{"root": c.root, "members": list(c.members),
                                           "links": [list(x) for x in c.links]} for c in d.chains] if d else [],
                               "evidence_rule": d.rule.describe() if d else None,
                               "episodes_to_detect": d.needed if d else None,
                               "training": self.training.to_dict() if self.training else None}
        for name in frames:
            frame = getattr(self, name)
            out[name] = None if frame is None else frame.to_dicts()
        return out


def with_rate(frame: pl.DataFrame) -> pl.DataFrame:
    """Add rate = pass / (pass + fail) and its Wilson bounds lo, hi (null where pass + fail is 0)."""
    import polars as pl

    n = pl.col("pass") + pl.col("fail")
    lo, hi = wilson_exprs(pl.col("pass"), n)
    rate = pl.when(n > 0).then(pl.col("pass") / n).otherwise(None)
    return frame.with_columns(rate=rate, lo=lo, hi=hi)


def default_outcome_item(s: Session) -> str | None:
    """answer_correct when the rubric has it, else the first item it marks `outcome = true`."""
    if DEFAULT_OUTCOME_ITEM in s.item_ids:
        return DEFAULT_OUTCOME_ITEM
    marked = [i["id"] for i in s.run.info.get("rubric", {}).get("items", []) if i.get("outcome") is True]
    return marked[0] if marked else None


def resolve_outcome(s: Session, outcome: str | None) -> str | None:
    has_rewards = s.rows("SELECT count(reward) FROM episodes")[0][0] > 0
    if outcome is None:
        return "reward" if has_rewards else default_outcome_item(s)
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
            threshold: float = 1.0, rule: EvidenceRule | None = None, over: str | None = None) -> Analysis:
    """Analyse a run: rates per item and behavior, attribution of task failures to behaviors under
    the evidence `rule` (default `EvidenceRule()`), the principal failure mode (the root of a chain of
    symptoms) or the plain statement that none is shown, co-occurrence, patterns, first failing
    steps, and cohorts when `by` names an episode metadata key. `outcome` is what task failure is:
    "reward" (reward < `threshold`) or an item id whose fail is a task failure; by default reward when
    episodes have rewards, else `answer_correct` or the first item the rubric marks as an outcome,
    else none (then attribution is empty). `over` names the metadata key that orders episodes in
    training (step, checkpoint); by default the first of `step`, `global_step`, `training_step`,
    `checkpoint` or `iteration` that does: then `training` holds behaviors over training and
    the reward-hacking check."""
    s = Session(as_run(run), by=by, first_steps=True)
    return analyze_session(s, outcome=outcome, threshold=threshold, rule=rule, over=over)


def analyze_session(s: Session, *, outcome: str | None, threshold: float,
                    rule: EvidenceRule | None = None, over: str | None = None) -> Analysis:
    key = order_key(s, over)
    if key is not None:
        s.order = step_sql(key)  # before `ew` is built: it carries each episode's step
    outcome = resolve_outcome(s, outcome)
    behaviors = behaviors_frame(s)
    attr, diagnosis = attribution(s, outcome, threshold, rule)
    if outcome is None or diagnosis is None:
        sentence = no_outcome_sentence(behaviors)
    else:
        sentence = principal_sentence(diagnosis, failure_text(outcome, threshold))
    return Analysis(
        run=s.run, by=s.by, outcome=outcome, items=items_frame(s), behaviors=behaviors, attribution=attr,
        principal=sentence, principal_behavior=diagnosis.roots[0] if diagnosis and diagnosis.roots else None,
        cooccurrence=cooccurrence_frame(s), patterns=patterns_frame(s),
        first_failing_step=first_failing_step_frame(s), cohorts=cohorts_frame(s) if s.by else None,
        diagnosis=diagnosis, edges=edges_frame(diagnosis), training=training(s, key, outcome, rule),
        outcome_items=tuple(dict.fromkeys([*s.outcome_items, *([outcome] if outcome not in (None, "reward")
                                                                else [])])),
    )


def items_frame(s: Session) -> pl.DataFrame:
    frame = s.sql("""
        SELECT item, any_value(behavior) AS behavior,
               count(*) FILTER (verdict = 'pass') AS pass, count(*) FILTER (verdict = 'fail') AS fail,
               count(*) FILTER (verdict = 'na') AS na, count(*) FILTER (verdict = 'error') AS error
        FROM verdicts GROUP BY item""")
    return ordered(with_rate(frame), "item", s.item_ids)


def _union(parts: list[str], empty: str) -> str:
    return " UNION ALL ".join(parts) if parts else empty


def behaviors_frame(s: Session) -> pl.DataFrame:
    parts = [f"""SELECT {sql_str(b)} AS behavior, count(*) FILTER (c = {PASS}) AS pass,
                        count(*) FILTER (c = {FAIL}) AS fail, count(*) FILTER (c = 0) AS na,
                        count(*) FILTER (c = 1) AS error FROM (SELECT {s.behavior_code(b)} AS c FROM {s.ew})"""
             for b in s.behavior_order]
    frame = s.sql(_union(parts, "SELECT NULL::VARCHAR AS behavior, 0::BIGINT AS pass, 0::BIGINT AS fail, "
                                "0::BIGINT AS na, 0::BIGINT AS error LIMIT 0"))
    return ordered(with_rate(frame), "behavior", s.behavior_order)


def cooccurrence_frame(s: Session) -> pl.DataFrame:
    """Every pair of behaviors that fail somewhere (in rubric order): episodes where both fail, where
    either fails, and their Jaccard index; most similar pairs first."""
    import polars as pl

    bs = s.behavior_order
    codes = ", ".join(f"{s.behavior_code(b)} = {FAIL} AS f{k}" for k, b in enumerate(bs))
    counts = [f"count(*) FILTER (f{k})" for k in range(len(bs))]
    pairs = [(i, j) for i in range(len(bs)) for j in range(i + 1, len(bs))]
    counts += [f"count(*) FILTER (f{i} AND f{j})" for i, j in pairs]
    row = s.rows(f"SELECT {', '.join(counts)} FROM (SELECT {codes} FROM {s.ew})")[0] if bs else ()
    fails, both = row[:len(bs)], row[len(bs):]
    out = [(bs[i], bs[j], x, fails[i] + fails[j] - x, x / (fails[i] + fails[j] - x))
           for (i, j), x in zip(pairs, both) if fails[i] and fails[j]]
    frame = pl.DataFrame(out, schema={"behavior_a": pl.String, "behavior_b": pl.String, "both_fail": pl.Int64,
                                      "either_fail": pl.Int64, "jaccard": pl.Float64}, orient="row")
    return frame.sort(["jaccard", "both_fail"], descending=True, maintain_order=True)


def patterns_frame(s: Session) -> pl.DataFrame:
    """The sets of behaviors that fail together in an episode ("discovery + grounding"), most common
    first; share is of the episodes where at least one behavior fails."""
    import polars as pl

    names = ", ".join(f"CASE WHEN {s.behavior_code(b)} = {FAIL} THEN {sql_str(b)} END" for b in s.behavior_order)
    frame = s.sql(f"""SELECT pattern, count(*) AS episodes FROM (SELECT concat_ws(' + ', {names or "NULL"}) AS
                      pattern FROM {s.ew}) WHERE pattern <> '' GROUP BY pattern""")
    total = frame["episodes"].sum()
    return (frame.with_columns(share=pl.col("episodes") / total if total else pl.lit(None, pl.Float64))
            .sort(["episodes", "pattern"], descending=[True, False]))


def first_failing_step_frame(s: Session) -> pl.DataFrame:
    """Per item with fails: how many, and the median and 90th percentile of the first step its fail
    verdicts cite (the lowest evidence index; fails without evidence are left out of the quantiles)."""
    if not s.first_steps:
        frame = s.sql("""
            SELECT item, count(*) AS fails,
                   quantile_cont(list_min(evidence), 0.5)::DOUBLE AS median_first_step,
                   quantile_cont(list_min(evidence), 0.9)::DOUBLE AS p90_first_step
            FROM verdicts WHERE verdict = 'fail' GROUP BY item""")
        return ordered(frame, "item", s.item_ids)
    parts = [f"""SELECT {sql_str(i)} AS item, count(*) AS fails, quantile_cont(x, 0.5)::DOUBLE AS median_first_step,
                        quantile_cont(x, 0.9)::DOUBLE AS p90_first_step
                 FROM (SELECT {s.item_first_step(i)} AS x FROM {s.ew} WHERE {s.item_code(i)} = {FAIL})
                 HAVING count(*) > 0""" for i in s.item_ids]
    frame = s.sql(_union(parts, "SELECT NULL::VARCHAR AS item, 0::BIGINT AS fails, NULL::DOUBLE AS median_first_step, "
                                "NULL::DOUBLE AS p90_first_step LIMIT 0"))
    return ordered(frame, "item", s.item_ids)


def cohorts_frame(s: Session) -> pl.DataFrame:
    """Per cohort (the episode metadata value at `s.by`) and item: counts, pass rate and its interval,
    and the cohort's number of episodes."""
    parts = [f"""SELECT cohort, {sql_str(i)} AS item, {sql_str(b)} AS behavior,
                        count(*) FILTER ({s.item_code(i)} = {PASS}) AS pass,
                        count(*) FILTER ({s.item_code(i)} = {FAIL}) AS fail, count(*) AS episodes
                 FROM {s.ew} GROUP BY cohort""" for b, items in s.groups.items() for i in items]
    frame = s.sql(_union(parts, "SELECT NULL::VARCHAR AS cohort, NULL::VARCHAR AS item, NULL::VARCHAR AS behavior, "
                                "0::BIGINT AS pass, 0::BIGINT AS fail, 0::BIGINT AS episodes LIMIT 0"))
    frame = with_rate(frame).select("cohort", "item", "behavior", "pass", "fail", "rate", "lo", "hi", "episodes")
    return ordered(frame, "item", s.item_ids, "cohort")
