"""What the report shows, as plain data: the template's context and the JSON the page's script reads.

Numbers come from the analysis API (`analyze`, `compare`, `guide`) over all episodes; the episode
browser gets a bounded sample (see `_episodes`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from typing import Any

import polars as pl

from .. import __version__
from ..analyzer import EvidenceRule, Run, analyze, guide
from . import _diagnosis as dx
from . import _figures as fig
from ..redaction import redact as redact_value
from ._episodes import PER_GROUP, browser_episodes, sample_ids

ISSUES_SHOWN = 5
MAX_COHORT_ROWS = 200  # the largest cohorts; a key like task_id can have thousands
VERDICTS = ("pass", "fail", "na", "error")


def plain(value: Any) -> Any:
    """Dataclasses, structs, named tuples and frames as dicts and lists (for templates and JSON)."""
    if isinstance(value, pl.DataFrame):
        return value.to_dicts()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "__struct_fields__"):
        return {f: plain(getattr(value, f)) for f in value.__struct_fields__}
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def run_name(run: Run) -> str:
    return os.path.basename(os.path.normpath(run.path)) or run.path


def _names(baseline: Run, candidate: Run) -> tuple[str, str]:
    a, b = run_name(baseline), run_name(candidate)
    return (a, b) if a != b else (f"{a} (baseline)", f"{b} (candidate)")


def _principal(analysis: Any) -> dict[str, Any] | None:
    """The analysis's sentence about the principal failure mode, cut around the behavior's name (so
    the template can emphasise it), and the attribution row behind it."""
    sentence = getattr(analysis, "principal", None)
    if not sentence:
        return None
    behavior = getattr(analysis, "principal_behavior", None)
    before, found, after = sentence.partition(behavior) if behavior else (sentence, "", "")
    rows = plain(analysis.attribution) if analysis.attribution is not None else []
    row = next((r for r in rows if behavior and r.get("behavior") == behavior), None)
    return {"sentence": sentence, "before": before, "behavior": found, "after": after, "attribution": row}


def _behavior_rows(analysis: Any) -> list[dict[str, Any]]:
    items = plain(analysis.items)
    out = []
    for row in plain(analysis.behaviors):
        out.append({**row, "items": [i for i in items if i.get("behavior") == row["behavior"]]})
    known = {r["behavior"] for r in out}
    for item in items:  # items whose behavior the behaviors table does not list (should not happen)
        if item.get("behavior") not in known:
            out.append({"behavior": item.get("behavior"), "items": [item], **{k: None for k in VERDICTS}})
            known.add(item.get("behavior"))
    return out


def _cohort_table(cohorts: pl.DataFrame | None, items: list[str]) -> dict[str, Any] | None:
    """Cohorts as rows, items as columns: {"items": [...], "rows": [{"cohort", "episodes", "cells"}]}."""
    if cohorts is None or cohorts.height == 0:
        return None
    sizes = cohorts.group_by("cohort").agg(pl.col("episodes").max())
    shown_frame = fig.largest_cohorts(cohorts, MAX_COHORT_ROWS)
    hidden = sizes.join(shown_frame.select("cohort").unique(), on="cohort", how="anti")
    rows: dict[str, dict[str, Any]] = {}
    for r in shown_frame.to_dicts():
        row = rows.setdefault(r["cohort"], {"cohort": r["cohort"], "episodes": 0, "cells": {}})
        row["episodes"] = max(row["episodes"], r.get("episodes") or 0)
        row["cells"][r["item"]] = r
    present = [i for i in items if any(i in row["cells"] for row in rows.values())]
    present += sorted({i for row in rows.values() for i in row["cells"]} - set(present))
    ordered = sorted(rows.values(), key=lambda r: (-r["episodes"], str(r["cohort"])))
    return {"items": present, "rows": [{**r, "cells": [r["cells"].get(i) for i in present]} for r in ordered],
            "hidden": hidden.height, "hidden_episodes": int(hidden["episodes"].sum() or 0)}


def _outcome_stat(run: Run, outcome: str | None, items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Task success as the analysis defines it: the outcome item's pass rate, or reward >= 1."""
    if outcome == "reward":
        ok, n, mean = run.sql("SELECT count(*) FILTER (reward >= 1.0), count(reward), avg(reward) "
                              "FROM episodes").row(0)
        return {"rate": ok / n if n else None, "label": "reward \u2265 1", "mean_reward": mean, "n": n}
    row = next((r for r in items if r.get("item") == outcome), None)
    if row is None:
        return None
    return {"rate": row.get("rate"), "label": outcome, "n": (row.get("pass") or 0) + (row.get("fail") or 0)}


def _judge(info: dict[str, Any]) -> list[dict[str, Any]]:
    """Stat tiles for the judge, only from what run.json's `judge` entry states (nothing invented)."""
    judge = info.get("judge")
    if not isinstance(judge, dict):
        return []
    if judge.get("status") != "configured":
        skipped = judge.get("skipped_items") or []
        return [{"value": "not run", "label": "judge", "sub": f"{len(skipped)} judge items skipped", "warn": True}]
    ledger = judge.get("ledger") if isinstance(judge.get("ledger"), dict) else {}
    tiles = []
    if ledger.get("calls") is not None:
        tiles.append({"value": f"{ledger['calls']:,}", "label": "judge calls", "sub": str(judge.get("model") or "")})
    if ledger.get("error_verdicts") is not None:
        tiles.append({"value": f"{ledger['error_verdicts']:,}", "label": "judge errors",
                      "warn": bool(ledger["error_verdicts"])})
    if ledger.get("cost_usd") is not None:
        tokens = [ledger.get("tokens_in"), ledger.get("tokens_out")]
        sub = f"{tokens[0]:,.0f} in, {tokens[1]:,.0f} out tokens" if None not in tokens else ""
        tiles.append({"value": f"${ledger['cost_usd']:,.2f}", "label": "judge spend", "sub": sub})
    return [{"sub": "", "warn": False, **t} for t in tiles]


def _guide(run: Run, by: str | None, analysis: Any) -> list[dict[str, Any]]:
    """The guidance, from the analysis's own diagnosis: the banner and the guidance share one rule."""
    return [plain(e) for e in guide(run, by=by, analysis=analysis)]


def build(run: Run, *, compare_to: Run | None = None, by: str | None = None, outcome: str | None = None,
          per_group: int = PER_GROUP, title: str | None = None, rule: EvidenceRule | None = None,
          over: str | None = None, force: bool = False, redact: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(template context, data for the page's script). `compare_to` is the baseline and `run` the
    candidate; `rule` is the evidence rule the banner, attribution and guidance share. With `redact`
    (the default) every text in both has its secrets, emails and phone numbers replaced (see
    rubricate.redaction): the report is shared."""
    analysis = analyze(run, by=by, outcome=outcome, rule=rule, over=over)
    info = run.info
    counts = info.get("counts", {})
    items_meta = info.get("rubric", {}).get("items", [])
    item_ids = [i["id"] for i in items_meta]
    guidance = _guide(run, by, analysis)
    comparison = dx.comparison_context(compare_to, run, force) if compare_to is not None else None
    names = _names(compare_to, run) if compare_to is not None else ("", run_name(run))

    examples = [ex["episode_id"] for g in guidance for key in ("failing", "passing") for ex in g.get(key) or []]
    ids = sample_ids(run, per_group=per_group, by=by, extra=examples)
    episodes, stats = browser_episodes(run, ids, by=by)
    totals = {v: int(counts.get("verdicts", {}).get(v, 0)) for v in VERDICTS}
    judged = totals["pass"] + totals["fail"]
    items = plain(analysis.items)
    outcome_name = getattr(analysis, "outcome", None)

    rubric = info.get("rubric", {})
    context = {
        "title": title or f"{rubric.get('id', 'rubric')} failure report: {run_name(run)}",
        "run_name": run_name(run), "rubric": rubric, "info": info, "version": __version__,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "episodes": int(counts.get("episodes", 0)), "issues_count": int(counts.get("issues", 0)),
        "issues": [str(i) for i in run.issues(limit=ISSUES_SHOWN)], "issues_file": run.issues_path,
        "totals": totals, "overall_rate": totals["pass"] / judged if judged else None,
        "outcome": outcome_name, "outcome_stat": _outcome_stat(run, outcome_name, items), "principal": _principal(analysis),
        "judge": _judge(info), "behaviors": _behavior_rows(analysis), "items": items,
        "attribution": plain(analysis.attribution) if analysis.attribution is not None else [],
        "diagnosis": dx.diagnosis_context(analysis), "training": dx.training_context(analysis),
        "patterns": plain(analysis.patterns) if analysis.patterns is not None else [],
        "first_failing_step": plain(analysis.first_failing_step) if analysis.first_failing_step is not None else [],
        "by": by, "cohorts": _cohort_table(analysis.cohorts, item_ids) if by else None,
        "comparison": comparison,
        "compare_names": names, "compare_info": compare_to.info if compare_to is not None else None,
        "guidance": guidance, "browser": {**stats, "per_group": per_group},
        "rubric_flags": {"na_everywhere": run.na_everywhere(), "error_reasons": run.error_reasons()},
    }
    figures = {
        "rates": fig.rates_figure(analysis.items),
        "attribution": dx.attribution_figure(analysis),
        "chain": dx.chain_figure(analysis),
        "training": dx.training_figure(analysis),
        "reward": dx.reward_figure(analysis),
        "cooccurrence": fig.cooccurrence_figure(analysis.cooccurrence),
        "cohorts": fig.cohort_figure(analysis.cohorts) if by else None,
        "compare": fig.compare_figure(comparison["rows"], *names) if comparison is not None else None,
    }
    context["figures"] = {k: v is not None for k, v in figures.items()}
    behavior_of = {i["id"]: i.get("behavior") for i in items_meta}
    cohorts = sorted({e["cohort"] for e in episodes if e.get("cohort") is not None})
    data = {
        "figures": {k: v for k, v in figures.items() if v is not None},
        "items": [{"id": i, "behavior": behavior_of.get(i)} for i in item_ids],
        "verdicts": list(VERDICTS), "by": by, "cohorts": cohorts, "episodes": episodes,
        "browser": context["browser"], "total_episodes": context["episodes"],
    }
    if redact:
        context, data = redact_value(context), redact_value(data)
    return context, data
