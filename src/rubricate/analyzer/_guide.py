"""Guidance from a run: the behaviors to train next, where they fail, failing and passing examples,
what the evidence says of each, and a recommendation; `write_guide` turns it into JSONL for a
data-generation pipeline.

Behaviors come in the diagnosis's order (`_diagnosis`, under the one evidence rule of `_evidence`):
the roots of task failure first, each followed by its symptoms, then the other drivers, then the
behaviors not shown to drive task failure by how often they fail; behaviors made only of outcome items
come last. A recommendation is written in the rubric's words (its items' descriptions) and names the
tools the failing episodes called at the cited steps; its evidence line says what the test found,
and claims nothing the evidence rule did not grant. Failing examples are spread over tasks (one a task
before a second of any), worst tasks first; passing examples come from the same tasks where there are
any, so each failure has a contrast.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING, Any

import msgspec

from ..redaction import redact as redact_value
from ..scoring import atomic_write_bytes
from ._analysis import Analysis, behaviors_frame, resolve_outcome
from ._attribution import attribution, candidates, failure_text
from ._claims import evidence_line
from ._diagnosis import Diagnosis
from ._evidence import EvidenceRule
from ._results import Run
from ._session import FAIL, PASS, Session, as_run, sql_list

if TYPE_CHECKING:
    import polars as pl

TOOLS_NAMED = 5


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
    fails most, failing and passing examples, a recommendation in the rubric's words, its role in the
    diagnosis ("root cause", "symptom of R", "downstream of A", "explained by upstream", "not shown",
    "outcome") with the evidence line behind it, and the tools the failing examples called at their
    cited steps."""

    behavior: str
    items: list[str]
    fail_rate: float
    fails: int
    n: int
    where: list[GuideWhere]
    failing: list[GuideExample]
    passing: list[GuideExample]
    recommendation: str
    role: str = "not shown"
    evidence: str = ""
    tools: list[str] = []


def guide(run: Run | str, *, top: int = 3, examples: int = 5, by: str | None = None, outcome: str | None = None,
          threshold: float = 1.0, rule: EvidenceRule | None = None, analysis: Analysis | None = None) -> list[GuideEntry]:
    """The `top` behaviors to work on, each with where it fails (tasks, and cohorts by the metadata key
    `by`), up to `examples` failing and passing examples, its role and evidence under `rule`, and a
    recommendation. `analysis`, an `analyze` of the same run, lends its diagnosis (and outcome and
    threshold) instead of computing it again."""
    s = Session(as_run(run), by=by, tasks=True, first_steps=analysis is None)
    behaviors = behaviors_frame(s)
    if analysis is not None:
        resolved, diagnosis = analysis.outcome, analysis.diagnosis
        threshold = analysis.threshold
    else:
        resolved = resolve_outcome(s, outcome)
        _, diagnosis = attribution(s, resolved, threshold, rule)
    process = candidates(s, resolved)
    chosen = _choose(behaviors, diagnosis, process, top)
    picks = {}
    for row in chosen:
        code = s.behavior_code(row["behavior"]) or "0"
        failing = _pick(s, code, FAIL, examples, [])
        prefer = list(dict.fromkeys(t for _, t in failing if t is not None))
        picks[row["behavior"]] = (failing, _pick(s, code, PASS, examples, prefer))
    details = _details(s, [e for f, p in picks.values() for e, _ in f + p])
    what = failure_text(resolved, threshold) if resolved else ""
    fail_examples = {row["behavior"]: _examples(details, row["behavior"], "fail", picks[row["behavior"]][0],
                                                len(s.groups[row["behavior"]])) for row in chosen}
    tools = tools_seen(s.run, fail_examples)
    out = []
    for row in chosen:
        behavior, (_, passing) = row["behavior"], picks[row["behavior"]]
        n = row["pass"] + row["fail"]
        where = _where(s, behavior, "task_id", "task", 3)
        where += _where(s, behavior, "cohort", "cohort", 3) if by else []
        failing = fail_examples[behavior]
        out.append(GuideEntry(
            behavior=behavior, items=list(s.groups.get(behavior, [])), fail_rate=row["fail"] / n, fails=row["fail"],
            n=n, where=where, failing=failing,
            passing=_examples(details, behavior, "pass", passing, len(s.groups[behavior])),
            recommendation=recommendation(behavior, _wording(s, behavior, failing), row["fail"], n, where,
                                          tools[behavior]),
            role=(diagnosis.role(behavior) if diagnosis else "not shown") if behavior in process else "outcome",
            evidence=evidence_line(behavior, diagnosis, what) if behavior in process else
            "It restates the outcome: reported as outcome, not weighed as a cause.",
            tools=tools[behavior]))
    return out


def _choose(behaviors: pl.DataFrame, diagnosis: Diagnosis | None, process: list[str], top: int) -> list[dict[str, Any]]:
    """Roots, each followed by its symptoms, then other drivers, then the rest by fails; outcome-only
    behaviors last."""
    import polars as pl

    first: list[str] = []
    if diagnosis is not None:
        for chain in diagnosis.chains:
            first += [m for m in chain.members if m not in first]
        first += [b for b in diagnosis.drivers if b not in first]
    rows = behaviors.filter(pl.col("fail") > 0).with_row_index("_order").to_dicts()
    rows.sort(key=lambda r: (r["behavior"] not in process, first.index(r["behavior"]) if r["behavior"] in first
                             else len(first), -r["fail"], r["_order"]))
    return rows[:max(0, top)]


def _wording(s: Session, behavior: str, failing: list[GuideExample]) -> list[tuple[str, str]]:
    """(item, description) of the behavior's items, those failing most often in the examples first;
    the description is the rubric's, or the item id when the run does not record one."""
    described = descriptions(s.run)
    counts = Counter(i for ex in failing for i in ex.items)
    items = sorted(s.groups.get(behavior, []), key=lambda i: -counts.get(i, 0))
    return [(i, described.get(i) or "") for i in items if counts.get(i, 0) or not counts]


def descriptions(run: Run) -> dict[str, str]:
    """Item id -> description, from run.json; for a run written before runs recorded descriptions,
    from its rubric file when that file still has the run's content hash."""
    info = run.info.get("rubric", {})
    out = {i["id"]: (i.get("description") or "").strip() for i in info.get("items", [])}
    if any(out.values()) or not info.get("path"):
        return out
    from ..errors import RubricateError
    from ..rubrics import load_rubric

    path = str(info["path"]).removeprefix("builtin:")
    try:
        rubric = load_rubric(path)
    except (RubricateError, OSError):
        return out
    if rubric.hash != info.get("hash"):
        return out
    return {**out, **{i.id: i.description.strip() for i in rubric.items if i.id in out}}


def tools_seen(run: Run, failing: dict[str, list[GuideExample]], limit: int = TOOLS_NAMED) -> dict[str, list[str]]:
    """Per behavior, the tools its failing examples called at their cited steps (or answered there),
    most frequent first; every tool they called when no cited step holds one. The examples are re-read
    from their trace files in one pass; empty lists when those files are gone."""
    out: dict[str, list[str]] = {b: [] for b in failing}
    ids = [ex.episode_id for examples in failing.values() for ex in examples]
    if not ids:
        return out
    try:
        episodes = run.load_episodes(ids)
    except (OSError, ValueError):
        return out
    for behavior, examples in failing.items():
        cited, called = Counter[str](), Counter[str]()
        for ex in examples:
            ep = episodes.get(ex.episode_id)
            if ep is None:
                continue
            marks = set(ex.evidence)
            for step in ep.steps:
                names = [c.name for c in step.tool_calls] + ([step.tool_name] if step.tool_name else [])
                called.update(names)
                if step.index in marks:
                    cited.update(names)
        out[behavior] = [name for name, _ in (cited or called).most_common(limit)]
    return out


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


def recommendation(behavior: str, wording: list[tuple[str, str]], fails: int, n: int, where: list[GuideWhere],
                   tools: list[str]) -> str:
    """What to generate, in the rubric's words (its items' descriptions), the tools the failing
    episodes used, then the numbers behind it and where to seed new tasks from."""
    wants = "; ".join(f"{item}: {text.rstrip('.')}" if text else item for item, text in wording)
    base = (f"Generate tasks that exercise {behavior} as the rubric defines it ({wants}), and pair each failing "
            f"episode with a passing one of the same task.")
    if tools:
        base += f" The failing episodes called {', '.join(tools)} at the cited steps: build the new tasks around them."
    data = f"It fails in {fails} of {n} episodes ({fails / n:.0%})"
    cohorts = [w for w in where if w.kind == "cohort"]
    if cohorts:
        data += f", most in {cohorts[0].name} ({cohorts[0].fail_rate:.0%})"
    tasks = [w.name for w in where if w.kind == "task"]
    if tasks:
        data += f"; seed new tasks from task{'s' if len(tasks) > 1 else ''} {', '.join(tasks)}"
    return f"{base} {data}."


def guide_rows(entries: list[GuideEntry]) -> list[dict[str, Any]]:
    """One row a (behavior, example task): task_id, prompt, behavior, evidence (step indices), cohort,
    recommendation, role and why (the evidence line)."""
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
                         "recommendation": entry.recommendation, "role": entry.role,
                         "why": entry.evidence, "episode_id": ex.episode_id, "reason": ex.reason})
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
