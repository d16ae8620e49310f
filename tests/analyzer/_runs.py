"""Runs with verdicts chosen by the test, for hand-computed expectations.

`scored_run` writes OpenAI-chat JSONL traces whose metadata carries each item's verdict and evidence,
and scores them with `score_run` and a rubric of `analysis_scripted` items (one check that reads the
script back), so the run goes through the real scoring path. `frame_run` writes a run directory from
polars frames directly, for property tests that need many runs quickly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from rubricate import CheckContext, Outcome, check, failed, not_applicable, passed
from rubricate.analyzer import Run, open_run
from rubricate.rubrics import isolated_registry, parse_rubric
from rubricate.scoring import EPISODE_SCHEMA, RUN_FORMAT, VERDICT_SCHEMA, score_run

STEPS = 10  # every scripted episode has steps 0..9, so evidence up to 9 exists


def _scripted(ctx: CheckContext) -> Outcome:
    spec = ctx.episode.metadata["v"].get(ctx.params["key"], "na")
    verdict, evidence = (spec, []) if isinstance(spec, str) else (spec[0], spec[1])
    if verdict == "error":
        raise RuntimeError("scripted error")
    if verdict == "na":
        return not_applicable("scripted na")
    make = passed if verdict == "pass" else failed
    return make(f"scripted {verdict} of {ctx.params['key']}", *evidence)


def episode_record(eid: str, verdicts: dict[str, Any], *, task: str | None = None, reward: float | None = None,
                   question: str | None = None, **metadata: Any) -> dict[str, Any]:
    """One trace record; `verdicts` maps item id to "pass"/"fail"/"na"/"error" or (verdict, [evidence])."""
    messages = [{"role": "user", "content": question or f"question of {eid}"}]
    messages += [{"role": "assistant" if k % 2 else "user", "content": f"step {k}"} for k in range(1, STEPS)]
    record: dict[str, Any] = {"id": eid, "messages": messages, "metadata": {**metadata, "v": verdicts}}
    if task is not None:
        record["task_id"] = task
    if reward is not None:
        record["reward"] = reward
    return record


def rubric_text(items: Sequence[tuple[str, ...]]) -> str:
    """Items as (id, behavior) or (id, behavior, description) or (id, behavior, description, "outcome")."""
    lines = ['id = "scripted"', 'version = "1.0.0"']
    for item, behavior, *rest in items:
        lines += ["[[items]]", f'id = "{item}"', 'check = "analysis_scripted"', f'behavior = "{behavior}"',
                  f'params = {{ key = "{item}" }}']
        if rest:
            lines.append(f"description = {json.dumps(rest[0])}")
        if rest[1:] == ["outcome"]:
            lines.append("outcome = true")
    return "\n".join(lines) + "\n"


def scored_run(root: Path, items: Sequence[tuple[str, ...]], records: Sequence[dict[str, Any]],
               name: str = "run") -> Run:
    """Score `records` (see `episode_record`) with scripted `items` ((id, behavior) pairs) into root/name."""
    traces = root / f"{name}-traces"
    traces.mkdir(parents=True, exist_ok=True)
    (traces / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with isolated_registry():
        check(behavior="scripted", name="analysis_scripted")(_scripted)
        rubric = parse_rubric(rubric_text(items))
        summary = score_run(traces, rubric, root / name, workers=1)
    return open_run(summary.path)


def frame_run(root: Path, items: Sequence[tuple[str, str]], episodes: pl.DataFrame, verdicts: pl.DataFrame) -> Run:
    """A run directory from frames: `episodes` needs episode_id (task_id, reward, metadata optional),
    `verdicts` needs episode_id, item, verdict (evidence optional); behavior comes from `items`."""
    root.mkdir(parents=True, exist_ok=True)
    behavior = dict(items)
    verdicts = verdicts.with_columns(
        behavior=pl.col("item").replace_strict(behavior, return_dtype=pl.String),
        score=pl.col("verdict").replace_strict({"pass": 1.0, "fail": 0.0}, default=None, return_dtype=pl.Float64),
        reason=pl.lit("r"))
    if "evidence" not in verdicts.columns:
        verdicts = verdicts.with_columns(evidence=pl.lit([], dtype=pl.List(pl.Int32)))
    for name, frame, schema in (("episodes", episodes, EPISODE_SCHEMA), ("verdicts", verdicts, VERDICT_SCHEMA)):
        columns = {f.name: frame[f.name].to_list() if f.name in frame.columns else [None] * frame.height
                   for f in schema}
        (root / name).mkdir()
        pq.write_table(pa.Table.from_pydict(columns, schema=schema), root / name / "part-00000.parquet")
    info = {"run_format": RUN_FORMAT, "rubric": {"id": "frames", "version": "1",
                                                 "items": [{"id": i, "behavior": b} for i, b in items]},
            "counts": {"episodes": episodes.height, "issues": 0}}
    (root / "run.json").write_bytes(msgspec.json.encode(info))
    (root / "issues").mkdir()
    return open_run(root)
