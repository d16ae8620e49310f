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

from ._analysis import behaviors_frame, resolve_outcome
from ._attribution import attribution
from ._results import Run
from ._session import FAIL, OUTCOME_BEHAVIORS, PASS, Session, as_run, sql_list
from ..redaction import redact as redact_value
from ..scoring import atomic_write_bytes

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
FALLBACK = ("Generate more tasks that exercise {behavior} like the failing examples, and pair each with a "
            "passing episode of the same task as a contrast.")


class GuideWhere(msgspec.Struct, frozen=True):
    """A task or cohort where the behavior fails: fails, decided episodes (pass + fail), fail rate."""

    kind: str  # "task" or "cohort"
    name: str
    fail: int
    n: int
    fail_rate: float


class GuideExample(msgspec.Struct, frozen=True):
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
    """One behavior to work on: its items, how often it fails (fails of n decided episodes), where it
    fails most, failing and passing examples, and a recommendation in plain words."""

    behavior: str
    items: list[str]
    fail_rate: float
    fails: int
    n: int
    where: list[GuideWhere]
    failing: list[GuideExample]
    passing: list[GuideExample]
    recommendation: str


def guide(run: Run | str, *, top: int = 3, examples: int = 5, by: str | None = None, outcome: str | None = None,
          threshold: float = 1.0) -> list[GuideEntry]:
    """The `top` behaviors to work on, each with where it fails (tasks, and cohorts by the metadata key
    `by`), up to `examples` failing and passing examples, and a recommendation."""
    s = Session(as_run(run), by=by, tasks=True)
    behaviors = behaviors_frame(s)
    attr, _ = attribution(s, resolve_outcome(s, outcome), threshold)
    chosen = _choose(behaviors, attr, top)
    picks = {}
    for row in chosen:
        code = s.behavior_code(row["behavior"]) or "0"
        failing = _pick(s, code, FAIL, examples, [])
        prefer = list(dict.fromkeys(t for _, t in failing if t is not None))
        picks[row["behavior"]] = (failing, _pick(s, code, PASS, examples, prefer))
    details = _details(s, [e for f, p in picks.values() for e, _ in f + p])
    out = []
    for row in chosen:
        behavior, (failing, passing) = row["behavior"], picks[row["behavior"]]
        n = row["pass"] + row["fail"]
        where = _where(s, behavior, "task_id", "task", 3)
        where += _where(s, behavior, "cohort", "cohort", 3) if by else []
        out.append(GuideEntry(
            behavior=behavior, items=list(s.groups.get(behavior, [])), fail_rate=row["fail"] / n, fails=row["fail"],
            n=n, where=where, failing=_examples(details, behavior, "fail", failing, len(s.groups[behavior])),
            passing=_examples(details, behavior, "pass", passing, len(s.groups[behavior])),
            recommendation=recommendation(behavior, row["fail"], n, where)))
    return out


def _choose(behaviors: pl.DataFrame, attribution: pl.DataFrame, top: int) -> list[dict[str, Any]]:
    import polars as pl

    ranks = dict(attribution.select("behavior", "rank").iter_rows())
    rows = behaviors.filter(pl.col("fail") > 0).with_row_index("_order").to_dicts()
    rows.sort(key=lambda r: (r["behavior"] in OUTCOME_BEHAVIORS, ranks.get(r["behavior"], 1 << 30), -r["fail"],
                             r["_order"]))
    return rows[:max(0, top)]


def _where(s: Session, behavior: str, key: str, kind: str, limit: int) -> list[GuideWhere]:
    rows = s.rows(f"""
        SELECT {key} AS name, count(*) FILTER (c = {FAIL}) AS fail, count(*) AS n
        FROM (SELECT {key}, {s.behavior_code(behavior)} AS c FROM {s.ew}) WHERE c IN ({PASS}, {FAIL})
        AND name IS NOT NULL GROUP BY name HAVING fail > 0
        ORDER BY fail DESC, fail / n DESC, name LIMIT {int(limit)}""")
    return [GuideWhere(kind, str(name), fail, total, fail / total) for name, fail, total in rows]


def _pick(s: Session, code: str, status: int, limit: int, prefer: list[str]) -> list[tuple[str, str | None]]:
    """(episode_id, task_id) of up to `limit` episodes where the behavior has `status`: tasks in `prefer`
    first, then one episode a task (lowest episode id first) before a second of any, tasks where the
    behavior fails most first. Per task only the `limit` lowest ids can be picked: a top-N aggregate."""
    limit = max(0, int(limit))
    if not limit:
        return []
    return s.rows(f"""
        WITH st AS (SELECT episode_id, task_id, {code} AS c FROM {s.ew} WHERE {code} IN ({PASS}, {FAIL})),
        g AS (SELECT task_id, count(*) FILTER (c = {FAIL}) AS tf,
                     min(episode_id, {limit}) FILTER (c = {status}) AS ids FROM st GROUP BY task_id),
        u AS (SELECT task_id, tf, unnest(ids) AS episode_id, unnest(range(1, len(ids) + 1)) AS k FROM g
              WHERE ids IS NOT NULL)
        SELECT episode_id, task_id FROM u
        ORDER BY coalesce(list_contains({sql_list(prefer)}, task_id), false) DESC, k, tf DESC, task_id NULLS LAST,
                 episode_id
        LIMIT {limit}""")


def _details(s: Session, ids: list[str]) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    """(episode_id, behavior, verdict) -> (question, cohort, items, evidence, reasons) for these episodes."""
    if not ids:
        return {}
    wanted = f"episode_id IN (SELECT unnest({sql_list(ids)}))"
    cohort = "cohort" if s.by else "NULL::VARCHAR AS cohort"
    rows = s.rows(f"""
        WITH v AS (SELECT episode_id, behavior, verdict, list(item ORDER BY pos) AS items,
                          list_sort(list_distinct(flatten(list(evidence)))) AS evidence,
                          list(coalesce(reason, '') ORDER BY pos) AS reasons
                   FROM (SELECT *, list_position({sql_list(s.item_ids)}, item) AS pos FROM verdicts
                         WHERE {wanted} AND verdict IN ('pass', 'fail'))
                   GROUP BY episode_id, behavior, verdict)
        SELECT v.*, e.question, c.cohort FROM v
        LEFT JOIN (SELECT episode_id, question FROM episodes WHERE {wanted}) e USING (episode_id)
        LEFT JOIN (SELECT episode_id, {cohort} FROM {s.ew} WHERE {wanted}) c USING (episode_id)""")
    return {(eid, b, v): (q, c, items, ev, reasons) for eid, b, v, items, ev, reasons, q, c in rows}


def _examples(details: dict[tuple[str, str, str], tuple[Any, ...]], behavior: str, verdict: str,
              picked: list[tuple[str, str | None]], n_items: int) -> list[GuideExample]:
    out = []
    for eid, task in picked:
        question, cohort, items, evidence, reasons = details.get((eid, behavior, verdict), (None, None, [], [], []))
        reason = reasons[0] if n_items == 1 and reasons else "; ".join(f"{i}: {r}" for i, r in zip(items, reasons))
        out.append(GuideExample(eid, task, question, list(items), [int(i) for i in evidence], reason, cohort))
    return out


def recommendation(behavior: str, fails: int, n: int, where: list[GuideWhere]) -> str:
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


def write_guide(entries: list[GuideEntry], path: str | os.PathLike[str], *, redact: bool = True) -> int:
    """Write the guide as JSONL (see `guide_rows`), atomically; returns the number of lines. Its texts
    are redacted (secrets, emails, phone numbers: see rubricate.redaction) unless `redact=False`."""
    rows = guide_rows(entries)
    if redact:
        rows = redact_value(rows)
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_bytes(path, b"".join(msgspec.json.encode(r) + b"\n" for r in rows))
    return len(rows)
