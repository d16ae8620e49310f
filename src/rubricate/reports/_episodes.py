"""The episodes the report's browser embeds: a bounded sample per (item, verdict), re-read in full
from their trace files, with every text clipped so the whole sample stays under a byte budget.

Every number in the report is computed on all episodes; only the browser works on this sample.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import polars as pl

from ..analyzer import COHORT_COLUMNS, Run
from ..traces import Episode
from ._safe import script_json

PER_GROUP = 20  # episodes per (item, verdict)
BUDGET_BYTES = 8_000_000  # of JSON, for all embedded episodes together
MAX_TEXT = 20_000  # characters of one text (step content, arguments) before clipping
MIN_TEXT = 1_000
NONE_COHORT = "(none)"


def sample_ids(run: Run, *, per_group: int = PER_GROUP, by: str | None = None,
               extra: Iterable[str] = ()) -> list[str]:
    """Up to `per_group` episodes for every (item, verdict), spread over cohorts when `by` is given
    (round robin over cohorts, pseudo-random but stable within cohorts), plus the `extra` ids."""
    cohort = run.cohort_sql(by, "e.") if by else "''"
    join = "JOIN episodes e USING (episode_id)" if by else ""
    frame = run.sql(f"""
        WITH v AS (SELECT v.episode_id, v.item, v.verdict, {cohort} AS cohort, hash(v.episode_id) AS h
                   FROM verdicts v {join}),
             r AS (SELECT *, row_number() OVER (PARTITION BY item, verdict, cohort ORDER BY h, episode_id) AS rc
                   FROM v),
             s AS (SELECT episode_id, h,
                          row_number() OVER (PARTITION BY item, verdict ORDER BY rc, h, cohort) AS rn FROM r)
        SELECT episode_id, min(h) AS h FROM s WHERE rn <= {int(per_group)} GROUP BY episode_id ORDER BY h, episode_id
    """)
    return list(dict.fromkeys([*frame["episode_id"].to_list(), *extra]))


def _rows(run: Run, ids: list[str], by: str | None) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Episode rows (from episodes.parquet) and each episode's verdicts by item, for `ids`."""
    wanted = pl.lit(pl.Series(ids, dtype=pl.String)).implode()
    episodes = pl.scan_parquet(run.parquet("episodes"), glob=False).filter(pl.col("episode_id").is_in(wanted)).collect()
    verdicts = pl.scan_parquet(run.parquet("verdicts"), glob=False).filter(pl.col("episode_id").is_in(wanted)) \
        .select("episode_id", "item", "verdict", "reason", "evidence").collect()
    rows = {r["episode_id"]: r for r in episodes.iter_rows(named=True)}
    by_episode: dict[str, dict[str, Any]] = {}
    for eid, item, verdict, reason, evidence in verdicts.iter_rows():
        by_episode.setdefault(eid, {})[item] = [verdict, reason or "", list(evidence or [])]
    return rows, by_episode


def _metadata(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _cohort(row: dict[str, Any], metadata: dict[str, Any], by: str | None) -> str | None:
    if not by:
        return None
    value = row.get(by) if by in COHORT_COLUMNS else metadata.get(by)
    if value is None:
        return NONE_COHORT
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _clip(text: str | None, limit: int) -> tuple[str, int]:
    """`text` cut to `limit` characters, and its full length when it was cut (else 0)."""
    text = text or ""
    return (text, 0) if len(text) <= limit else (text[:limit], len(text))


def _arguments(call: Any) -> str:
    if call.arguments is not None:
        return json.dumps(call.arguments, indent=2, ensure_ascii=False, default=str)
    return call.arguments_raw


def _steps(episode: Episode, limit: int) -> list[dict[str, Any]]:
    out = []
    for step in episode.steps:
        content, full = _clip(step.content, limit)
        s: dict[str, Any] = {"i": step.index, "role": step.role, "content": content}
        if full:
            s["clipped"] = full
        if step.tool_calls:
            calls = []
            for call in step.tool_calls:
                args, args_full = _clip(_arguments(call), limit)
                c: dict[str, Any] = {"name": call.name, "args": args, "result": call.result_step}
                if args_full:
                    c["clipped"] = args_full
                if call.arguments_error:
                    c["args_error"] = call.arguments_error
                calls.append(c)
            s["calls"] = calls
        if step.role == "tool":
            s.update(tool=step.tool_name, error=step.is_error, call=step.call_step)
        if step.name:
            s["name"] = step.name
        out.append(s)
    return out


def _metadata_pairs(metadata: dict[str, Any], limit: int) -> list[list[str]]:
    pairs = []
    for key, value in metadata.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        pairs.append([str(key), _clip(text, limit)[0]])
    return pairs


def _episode(eid: str, row: dict[str, Any], verdicts: dict[str, Any], full: Episode | None,
             by: str | None, limit: int) -> dict[str, Any]:
    metadata = full.metadata if full is not None else _metadata(row.get("metadata"))
    source = row.get("source_path") or ""
    if row.get("source_line") is not None:
        source += f":{row['source_line']}"
    elif row.get("source_index") is not None:
        source += f"[{row['source_index']}]"
    return {
        "id": eid, "task": row.get("task_id"), "reward": row.get("reward"), "cohort": _cohort(row, metadata, by),
        "source": source, "format": row.get("format"),
        "question": _clip(row.get("question"), limit)[0], "answer": _clip(row.get("final_answer"), limit)[0],
        "truth": _clip(row.get("ground_truth"), limit)[0],
        "metadata": _metadata_pairs(metadata, limit), "verdicts": verdicts,
        "steps": None if full is None else _steps(full, limit),
    }


def browser_episodes(run: Run, ids: list[str], *, by: str | None = None,
                     budget: int = BUDGET_BYTES) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The sampled episodes as plain data for the browser, within `budget` bytes of JSON.

    Texts are clipped to MAX_TEXT characters, halved until the sample fits; if it still does not fit
    at MIN_TEXT, the last episodes keep their verdicts but lose their steps. Returns the episodes and
    counts (embedded, with_steps, missing = not found in their source file any more, dropped)."""
    rows, verdicts = _rows(run, ids, by)
    ids = [i for i in ids if i in rows]
    full = run.load_episodes(ids) if ids else {}
    limit = MAX_TEXT
    while True:
        out = [_episode(i, rows[i], verdicts.get(i, {}), full.get(i), by, limit) for i in ids]
        sizes = [len(script_json(e)) for e in out]
        if sum(sizes) <= budget or limit <= MIN_TEXT:
            break
        limit = max(MIN_TEXT, limit // 2)
    dropped, total = 0, sum(sizes)
    for k in range(len(out) - 1, -1, -1):
        if total <= budget:
            break
        if out[k]["steps"] is not None:
            slim = {**out[k], "steps": None, "dropped": True}
            total += len(script_json(slim)) - sizes[k]
            out[k] = slim
            dropped += 1
    missing = sum(1 for i in ids if i not in full)
    stats = {"embedded": len(out), "with_steps": len(out) - missing - dropped, "missing": missing,
             "dropped": dropped, "text_limit": limit}
    return out, stats

