"""Attribution of task failures to behaviors over a run: the `Cube` of its episodes read with DuckDB,
the diagnosis (`_diagnosis`, under the evidence rule of `_evidence`), the attribution table, and
the sentence about the principal failure mode.

Task failure is reward < threshold, or a fail of the outcome item. Only process behaviors are weighed:
outcome items (`_session.outcome_items`, and the outcome item itself) are left out of every behavior.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._diagnosis import FAILS, OTHER, PASSES, Cube, Diagnosis, diagnose
from ._evidence import Evidence, EvidenceRule
from ._session import DEFAULT_OUTCOME_ITEM, FAIL, PASS, Session

if TYPE_CHECKING:
    import polars as pl

COLUMNS = ["behavior", "role", "episodes_failing", "failed_when_fails", "task_fail_rate_when_fails",
           "task_fail_rate_when_passes", "difference", "difference_lo", "difference_hi", "lift", "p_value",
           "p_adjusted", "adjusted_for", "adjusted_difference", "adjusted_lo", "adjusted_hi", "adjusted_p_value",
           "adjusted_p_adjusted", "supported", "share_of_failed_episodes", "median_first_step", "rank"]


def empty_attribution() -> pl.DataFrame:
    import polars as pl

    f, i, s = pl.Float64, pl.Int64, pl.String
    types = {"behavior": s, "role": s, "episodes_failing": i, "failed_when_fails": i, "adjusted_for": pl.List(s),
             "supported": pl.Boolean, "rank": i}
    return pl.DataFrame(schema={c: types.get(c, f) for c in COLUMNS})


def failed_sql(s: Session, outcome: str, threshold: float) -> str:
    """SQL over `ew`: true when the task failed, false when it succeeded, NULL when unknown."""
    if outcome == "reward":
        return f"reward < {float(threshold)!r}"
    return f"CASE {s.item_code(outcome)} WHEN {FAIL} THEN true WHEN {PASS} THEN false END"


def left_out(s: Session, outcome: str | None) -> list[str]:
    """The items no behavior is weighed by: the outcome items and the outcome item."""
    return [*s.outcome_items, *([outcome] if outcome not in (None, "reward") else [])]


def candidates(s: Session, outcome: str | None) -> list[str]:
    out = left_out(s, outcome)
    return [b for b in s.behavior_order if any(i not in out for i in s.groups[b])]


def cube(s: Session, outcome: str, threshold: float) -> Cube:
    """The run's cube: episodes with an outcome by behavior status and task failure, first steps and
    precedence (see `_diagnosis.Cube`). The session needs `first_steps`."""
    if not s.first_steps:
        raise ValueError("the cube needs a Session(..., first_steps=True)")
    out = left_out(s, outcome)
    names = candidates(s, outcome)
    codes = [s.behavior_code(b, exclude=out) for b in names]
    cols = [f"CASE {c} WHEN {FAIL} THEN {FAILS} WHEN {PASS} THEN {PASSES} ELSE {OTHER} END AS c{k}"
            for k, c in enumerate(codes)]
    keys = [f"c{k}" for k in range(len(names))]
    rows = s.rows(f"""SELECT {', '.join(keys + ['failed'])}, count(*) FROM (SELECT {', '.join(cols + [
        f'{failed_sql(s, outcome, threshold)} AS failed'])} FROM {s.ew}) WHERE failed IS NOT NULL
        GROUP BY ALL""") if names else []
    cells = tuple((tuple(int(x) for x in r[:-2]), bool(r[-2]), int(r[-1])) for r in rows)
    first, precedence = _first_steps(s, names, out)
    return Cube(tuple(names), cells, first, precedence)


def _first_steps(s: Session, names: list[str], out: list[str]) -> tuple[dict[str, float | None],
                                                                        dict[tuple[str, str], tuple[int, int, int]]]:
    """Per behavior the median first failing step; per pair (in name order) the episodes where both
    fail with a cited step and the first fails first, later, or at the same step. One scan of `ew`."""
    steps = {b: s.first_step(b, out) for b in names}
    codes = {b: s.behavior_code(b, exclude=out) for b in names}
    known = [b for b in names if steps[b] is not None]
    fails = {b: f"({codes[b]} = {FAIL} AND {steps[b]} IS NOT NULL)" for b in known}
    cols = [f"median({steps[b]}) FILTER ({fails[b]})::DOUBLE" for b in known]
    pairs = [(a, b) if a < b else (b, a) for i, a in enumerate(known) for b in known[i + 1:]]
    for a, b in pairs:
        both = f"{fails[a]} AND {fails[b]}"
        cols += [f"count(*) FILTER ({both} AND {steps[a]} < {steps[b]})",
                 f"count(*) FILTER ({both} AND {steps[a]} > {steps[b]})",
                 f"count(*) FILTER ({both} AND {steps[a]} = {steps[b]})"]
    row = s.rows(f"SELECT {', '.join(cols)} FROM {s.ew}")[0] if cols else ()
    first = {b: None for b in names} | dict(zip(known, row[:len(known)]))
    rest = row[len(known):]
    precedence = {p: tuple(rest[3 * k:3 * k + 3]) for k, p in enumerate(pairs) if sum(rest[3 * k:3 * k + 3])}
    return first, precedence  # type: ignore[return-value]


def attribution(s: Session, outcome: str | None, threshold: float,
                rule: EvidenceRule | None = None) -> tuple[pl.DataFrame, Diagnosis | None]:
    """(the attribution table, the diagnosis); an empty table and None without an outcome."""
    if outcome is None:
        return empty_attribution(), None
    d = diagnose(cube(s, outcome, threshold), rule)
    return frame(d), d


def _rank_key(d: Diagnosis, e: Evidence) -> tuple[Any, ...]:
    position = d.order.index(e.behavior)
    if e.behavior in d.roots:
        return 0, position, 0.0
    if e.supported:
        return 1, position, 0.0
    positive = e.difference is not None and e.difference > 0
    return 2 if positive else 3, e.p_value if e.p_value is not None else 2.0, position


def frame(d: Diagnosis) -> pl.DataFrame:
    """One row a process behavior: its evidence, role and rank (roots first, then the other drivers
    in order, then the rest by p-value)."""
    import polars as pl

    ranked = sorted(d.evidence, key=lambda e: _rank_key(d, e))
    rows = []
    for rank, e in enumerate(ranked, 1):
        r1, r0 = e.rate_when_fails, e.rate_when_passes
        rows.append({
            "behavior": e.behavior, "role": d.role(e.behavior), "episodes_failing": e.failing,
            "failed_when_fails": e.failed_when_fails, "task_fail_rate_when_fails": r1,
            "task_fail_rate_when_passes": r0, "difference": e.difference, "difference_lo": e.difference_lo,
            "difference_hi": e.difference_hi, "lift": r1 / r0 if r1 is not None and r0 else None,
            "p_value": e.p_value, "p_adjusted": e.p_adjusted, "adjusted_for": list(e.upstream),
            "adjusted_difference": e.adjusted_difference, "adjusted_lo": e.adjusted_lo,
            "adjusted_hi": e.adjusted_hi, "adjusted_p_value": e.adjusted_p,
            "adjusted_p_adjusted": e.adjusted_p_adjusted, "supported": e.supported,
            "share_of_failed_episodes": e.failed_when_fails / d.failed if d.failed else None,
            "median_first_step": d.first_step.get(e.behavior), "rank": rank})
    if not rows:
        return empty_attribution()
    return pl.DataFrame(rows, schema=empty_attribution().schema)


def edges_frame(d: Diagnosis | None) -> pl.DataFrame:
    """A -> B tests: rates of B failing when A fails and when A passes, difference and interval, p
    (raw and corrected), significant, and how often A's first failure comes first where both fail."""
    import polars as pl

    f, i = pl.Float64, pl.Int64
    schema = {"upstream": pl.String, "downstream": pl.String, "episodes_upstream_fails": i,
              "rate_when_fails": f, "rate_when_passes": f, "difference": f, "difference_lo": f, "difference_hi": f,
              "p_value": f, "p_adjusted": f, "significant": pl.Boolean, "upstream_first": i, "downstream_first": i,
              "same_step": i}
    rows = [(e.upstream, e.downstream, e.table[0] + e.table[1], e.rate_when_fails, e.rate_when_passes, e.difference,
             e.lo, e.hi, e.p_value, e.p_adjusted, e.significant, e.upstream_first, e.downstream_first, e.same_step)
            for e in (d.edges if d else ())]
    return pl.DataFrame(rows, schema=schema, orient="row")


def failure_text(outcome: str, threshold: float) -> str:
    return f"reward < {threshold:g}" if outcome == "reward" else f"{outcome} fails"


def no_outcome_sentence(behaviors: pl.DataFrame) -> str:
    import polars as pl

    why = (f"No outcome to attribute failures to: no episode has a reward and the rubric has no "
           f"{DEFAULT_OUTCOME_ITEM} item (name the item whose fail is a task failure as the outcome)")
    worst = behaviors.filter(pl.col("fail") > 0).sort("fail", descending=True, maintain_order=True)
    if worst.is_empty():
        return why + "; no behavior fails in any episode."
    row = worst.row(0, named=True)
    n = row["pass"] + row["fail"]
    return why + f"; the most frequent failing behavior is {row['behavior']}, failing in {row['fail']} of " \
                 f"{n} episodes ({row['fail'] / n:.0%})."

