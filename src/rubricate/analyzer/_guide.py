"""Guidance from a run: the behaviors to train next, where they fail, failing and passing examples,
and a recommendation; `write_guide` turns it into JSONL for a data-generation pipeline.

Behaviors are chosen in attribution order (the principal failure mode first; behaviors that restate
the outcome, like correctness, last), else by how often they fail. Failing examples are spread over
tasks (one a task before a second of any), worst tasks first; passing examples come from the same
tasks where there are any, so each failure has a contrast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import msgspec

from ._analysis import FAIL, OUTCOME_BEHAVIORS, PASS, Session, analyze_session, as_run, cohort_sql, sql_list, \
    sql_str
from ._results import Run
from ._store import atomic_write_bytes

if TYPE_CHECKING:
    import polars as pl

RECOMMENDATIONS = {
    "discovery": "Generate tasks that require listing what exists (tables, pages) before querying it; "
                 "start with single-table tasks.",
    "schema-inspection": "Generate tasks whose column or section names cannot be guessed, so the schema must be "
                         "inspected before the first query; start with one table per task.",
    "error-recovery": "Generate tasks that provoke a tool error (a misspelled name, a missing section) and reward "
                      "a changed, successful retry; start with one injected error per task.",
    "grounding": "Generate tasks whose answer must be read or computed from tool output, with numbers absent "
                 "from the question; reward answers that cite the step they come from.",
    "correctness": "Add tasks with checkable ground truth like the failing ones, and check the answer's form "
                   "(units, precision, names) as well as its value.",
    "answering": "Generate tasks that must end in an explicit final answer within a turn budget; reward "
                 "stopping with an answer after the last tool result.",
    "efficiency": "Generate tasks solvable in a few tool calls and reward finishing within the budget; start "
                  "with tasks that need at most three calls.",
}
FALLBACK = ("Generate more tasks that exercise {behavior} like the failing ones below, and pair each with a "
            "passing episode of the same task as a contrast.")


class Where(msgspec.Struct, frozen=True):
    """A task or cohort where the behavior fails: fails, decided episodes (pass + fail), fail rate."""

    kind: str  # "task" or "cohort"
    name: str
    fail: int
    n: int
    fail_rate: float


class Example(msgspec.Struct, frozen=True):
    """One episode where the behavior fails (or passes): the items that say so, their evidence (step
    indices) and reasons."""

    episode_id: str
    task_id: str | None
    question: str | None
    items: list[str]
    evidence: list[int]
    reason: str
    cohort: str | None = None


class GuideEntry(msgspec.Struct, frozen=True):
    behavior: str
    items: list[str]
    fail_rate: float
    fails: int
    n: int
    where: list[Where]
    failing: list[Example]
    passing: list[Example]
    recommendation: str


def guide(run: Run | str, *, top: int = 3, examples: int = 5, by: str | None = None, outcome: str | None = None,
          threshold: float = 1.0) -> list[GuideEntry]:
    """The `top` behaviors to work on, each with where it fails (tasks, and cohorts by the metadata key
    `by`), up to `examples` failing and passing examples, and a recommendation."""
    s = Session(as_run(run))
    a = analyze_session(s, by=None, outcome=outcome, threshold=threshold)
    return [_entry(s, row, by, examples) for row in _choose(a.behaviors, a.attribution, top)]


def _choose(behaviors: pl.DataFrame, attribution: pl.DataFrame, top: int) -> list[dict[str, Any]]:
    import polars as pl

    ranks = dict(attribution.select("behavior", "rank").iter_rows())
    rows = behaviors.filter(pl.col("fail") > 0).with_row_index("_order").to_dicts()
    rows.sort(key=lambda r: (r["behavior"] in OUTCOME_BEHAVIORS, ranks.get(r["behavior"], 1 << 30), -r["fail"],
                             r["_order"]))
    return rows[:max(0, top)]


def _entry(s: Session, row: dict[str, Any], by: str | None, examples: int) -> GuideEntry:
    behavior = row["behavior"]
    n = row["pass"] + row["fail"]
    where = _where(s, behavior, "task_id", "task", 3)
    if by:
        where += _where(s, behavior, cohort_sql(by), "cohort", 3)
    failing = _examples(s, behavior, FAIL, by, examples, [])
    prefer = list(dict.fromkeys(e.task_id for e in failing if e.task_id is not None))
    passing = _examples(s, behavior, PASS, by, examples, prefer)
    return GuideEntry(behavior=behavior, items=list(s.groups.get(behavior, [])), fail_rate=row["fail"] / n,
                      fails=row["fail"], n=n, where=where, failing=failing, passing=passing,
                      recommendation=recommendation(behavior, row["fail"], n, where))


def _status(s: Session, behavior: str) -> str:
    return f"SELECT episode_id, s FROM {s.behaviors_table()} WHERE behavior = {sql_str(behavior)} " \
           f"AND s IN ({PASS}, {FAIL})"


def _where(s: Session, behavior: str, key: str, kind: str, limit: int) -> list[Where]:
    rows = s.con.sql(f"""
        SELECT {key} AS name, count(*) FILTER (s = {FAIL}) AS fail, count(*) AS n
        FROM ({_status(s, behavior)}) JOIN episodes USING (episode_id)
        WHERE name IS NOT NULL GROUP BY name HAVING fail > 0
        ORDER BY fail DESC, fail / n DESC, name LIMIT {int(limit)}""").fetchall()
    return [Where(kind, str(name), fail, total, fail / total) for name, fail, total in rows]


def _examples(s: Session, behavior: str, status: int, by: str | None, limit: int,
              prefer: list[str]) -> list[Example]:
    items = s.groups.get(behavior, [])
    verdict = "fail" if status == FAIL else "pass"
    reason = "string_agg(item || ': ' || coalesce(reason, ''), '; ' ORDER BY list_position(il, item))" if len(items) > 1 \
        else "any_value(reason)"
    rows = s.con.sql(f"""
        WITH st AS ({_status(s, behavior)}),
        e AS (SELECT episode_id, task_id, question, {cohort_sql(by) if by else 'NULL::VARCHAR'} AS cohort
              FROM episodes JOIN st USING (episode_id) WHERE s = {status}),
        t AS (SELECT task_id, count(*) FILTER (s = {FAIL}) AS tf FROM st JOIN episodes USING (episode_id)
              GROUP BY task_id),
        v AS (SELECT episode_id, list(item ORDER BY list_position(il, item)) AS items,
                     list_sort(list_distinct(flatten(list(evidence)))) AS evidence, {reason} AS reason
              FROM (SELECT *, {sql_list(items)} AS il FROM verdicts)
              WHERE item IN (SELECT unnest({sql_list(items)})) AND verdict = '{verdict}' GROUP BY episode_id),
        r AS (SELECT e.*, v.items, v.evidence, v.reason, coalesce(t.tf, 0) AS tf,
                     row_number() OVER (PARTITION BY e.task_id ORDER BY e.episode_id) AS k
              FROM e JOIN v USING (episode_id) LEFT JOIN t ON t.task_id IS NOT DISTINCT FROM e.task_id)
        SELECT episode_id, task_id, question, items, evidence, reason, cohort FROM r
        ORDER BY coalesce(list_contains({sql_list(prefer) if prefer else '[]::VARCHAR[]'}, task_id), false) DESC,
                 k, tf DESC, task_id NULLS LAST, episode_id
        LIMIT {max(0, int(limit))}""").fetchall()
    return [Example(eid, tid, q, list(it), [int(i) for i in ev], rs or "", c)
            for eid, tid, q, it, ev, rs, c in rows]


def recommendation(behavior: str, fails: int, n: int, where: list[Where]) -> str:
    """The behavior's default advice, then the numbers behind it and where to seed new tasks from."""
    base = RECOMMENDATIONS.get(behavior) or FALLBACK.format(behavior=behavior)
    data = f"It fails in {fails} of {n} episodes ({fails / n:.0%})"
    cohorts = [w for w in where if w.kind == "cohort"]
    if cohorts:
        data += f", most in {cohorts[0].name} ({cohorts[0].fail_rate:.0%})"
    tasks = [w.name for w in where if w.kind == "task"]
    if tasks:
        data += f"; seed new tasks from task{'s' if len(tasks) > 1 else ''} {', '.join(tasks)}"
    return f"{base} {data}."


def guide_rows(entries: list[GuideEntry]) -> list[dict[str, Any]]:
    """One row a (behavior, example task): task_id, prompt, behavior, evidence, cohort, recommendation."""
    rows = []
    for entry in entries:
        seen: set[str] = set()
        for ex in entry.failing:
            key = ex.task_id if ex.task_id is not None else "\0" + ex.episode_id
            if key in seen:
                continue
            seen.add(key)
            rows.append({"task_id": ex.task_id, "prompt": ex.question, "behavior": entry.behavior,
                         "items": ex.items, "evidence": ex.evidence, "cohort": ex.cohort,
                         "recommendation": entry.recommendation, "episode_id": ex.episode_id, "reason": ex.reason})
    return rows


def write_guide(entries: list[GuideEntry], path: str | os.PathLike[str]) -> int:
    """Write the guide as JSONL (see `guide_rows`), atomically; returns the number of lines."""
    rows = guide_rows(entries)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_bytes(path, b"".join(msgspec.json.encode(r) + b"\n" for r in rows))
    return len(rows)
