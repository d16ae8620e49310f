"""Measure the behavior-level analysis over a large synthetic run (measures, never asserts).

    python benchmarks/bench_analysis.py [--rows 10000000] [--dir DIR] [--repeat 3] [--compare]

Generates a run directory with polars directly (no traces, no scoring): episodes.parquet and
verdicts.parquet in the run store's schemas, written in row groups of 4,096 episodes as `score_run`
writes them, and run.json with a six-item rubric of the tool-discipline behaviors. Then times:

    items        per-item counts, pass rates and Wilson intervals (the aggregation; target <= 1 s)
    behaviors    per-episode behavior status (table built once) and per-behavior counts
    analyze      the whole `analyze(run)`: items, behaviors, attribution, co-occurrence, patterns,
                 first failing steps
    analyze --by the same with cohorts by a metadata key
    guide        `guide(run)` (analysis plus examples for the top three behaviors)
    compare      `compare(run, run)` paired on task ids (with --compare; heavier)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import msgspec
import numpy as np
import polars as pl
import pyarrow.parquet as pq

from rubricate.analyzer import analyze, compare, guide, open_run
from rubricate.analyzer._analysis import Session, behaviors_frame, items_frame
from rubricate.scoring import EPISODE_SCHEMA, RUN_FORMAT, VERDICT_SCHEMA

ITEMS = [("discovers_tables", "discovery"), ("inspects_schema", "schema-inspection"),
         ("recovers_from_errors", "error-recovery"), ("no_repeated_failing_call", "error-recovery"),
         ("grounded_answer", "grounding"), ("answer_correct", "correctness")]
# per item: probabilities of pass, fail, na (the rest is error)
MIX = [(0.80, 0.20, 0.0), (0.70, 0.28, 0.0), (0.15, 0.10, 0.749), (0.22, 0.03, 0.749), (0.55, 0.10, 0.349),
       (0.60, 0.40, 0.0)]
MODELS = ["qwen3-4b", "qwen3-4b-rl", "gpt-4.1", "gpt-5-mini"]
GROUP_EPISODES = 4096


def generate(out: str, rows: int, seed: int = 0) -> tuple[int, float]:
    """Write the synthetic run into `out`; returns (episodes, seconds)."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    n_items = len(ITEMS)
    n = rows // n_items
    os.makedirs(out, exist_ok=True)
    ids = pl.Series("episode_id", np.arange(n)).cast(pl.String).str.zfill(9)
    reward = rng.random(n)
    episodes = pl.DataFrame({
        "episode_id": "ep-" + ids, "task_id": "task-" + pl.Series(np.arange(n) % 5000).cast(pl.String),
        "format": "synthetic", "n_steps": rng.integers(3, 40, n).astype(np.int32),
        "reward": np.where(reward < 0.3, 0.0, 1.0),
        "metadata": pl.Series(np.array([f'{{"model":"{m}"}}' for m in MODELS])[rng.integers(0, len(MODELS), n)]),
    })
    _write(episodes, os.path.join(out, "episodes.parquet"), EPISODE_SCHEMA, GROUP_EPISODES)
    u = rng.random((n, n_items))
    codes = np.full((n, n_items), 3, dtype=np.int8)  # error
    for k, (p_pass, p_fail, p_na) in enumerate(MIX):
        codes[:, k] = np.select([u[:, k] < p_pass, u[:, k] < p_pass + p_fail, u[:, k] < p_pass + p_fail + p_na],
                                [0, 1, 2], 3)
    verdict = pl.Series(np.array(["pass", "fail", "na", "error"])[codes.ravel()])
    first = rng.integers(1, 30, n * n_items).astype(np.int32)
    verdicts = pl.DataFrame({
        "episode_id": episodes["episode_id"].gather(np.repeat(np.arange(n), n_items)),
        "item": pl.Series([i for i, _ in ITEMS] * n), "behavior": pl.Series([b for _, b in ITEMS] * n),
        "verdict": verdict, "first": first,
    }).with_columns(
        score=pl.col("verdict").replace_strict({"pass": 1.0, "fail": 0.0}, default=None, return_dtype=pl.Float64),
        reason=pl.concat_str(pl.col("verdict"), pl.lit(" at step "), pl.col("first").cast(pl.String)),
        evidence=pl.when(pl.col("verdict").is_in(["pass", "fail"]))
        .then(pl.concat_list("first", pl.col("first") + 2)).otherwise(pl.lit([], dtype=pl.List(pl.Int32))),
    ).drop("first")
    _write(verdicts, os.path.join(out, "verdicts.parquet"), VERDICT_SCHEMA, GROUP_EPISODES * n_items)
    info = {"run_format": RUN_FORMAT, "rubric": {"id": "synthetic", "version": "1",
                                                 "items": [{"id": i, "behavior": b} for i, b in ITEMS]},
            "counts": {"episodes": n, "issues": 0}}
    with open(os.path.join(out, "run.json"), "wb") as f:
        f.write(msgspec.json.encode(info))
    open(os.path.join(out, "issues.jsonl"), "wb").close()
    return n, time.perf_counter() - started


def _write(frame: pl.DataFrame, path: str, schema: Any, group: int) -> None:
    columns = {f.name: frame[f.name] if f.name in frame.columns else pl.repeat(None, frame.height, eager=True)
               for f in schema}
    table = pl.DataFrame(columns).to_arrow().cast(schema)
    pq.write_table(table, path, compression="zstd", row_group_size=group)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="verdict rows (default 10M)")
    parser.add_argument("--dir", default=None, help="where to write the run (default: a temp dir, removed)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is shown")
    parser.add_argument("--compare", action="store_true", help="also time compare(run, run)")
    args = parser.parse_args(argv)
    root = args.dir or tempfile.mkdtemp(prefix="bench-analysis-")
    try:
        out = os.path.join(root, "run")
        n, seconds = generate(out, args.rows)
        size = sum(os.path.getsize(os.path.join(out, f)) for f in ("episodes.parquet", "verdicts.parquet"))
        print(f"generated {n * len(ITEMS):,} verdict rows ({n:,} episodes, {size / 1e6:.0f} MB Parquet) "
              f"in {seconds:.1f}s; {os.cpu_count()} cores")
        run = open_run(out)

        def behaviors() -> None:
            s = Session(run)
            behaviors_frame(s)

        figures = [("items (aggregation)", lambda: items_frame(Session(run))), ("behaviors", behaviors),
                   ("analyze", lambda: analyze(run)), ("analyze --by model", lambda: analyze(run, by="model")),
                   ("guide", lambda: guide(run))]
        if args.compare:
            figures.append(("compare (paired)", lambda: compare(run, run)))
        for name, fn in figures:
            best = timed(fn, args.repeat)
            print(f"{name:<22} {best:7.3f} s   {n * len(ITEMS) / best / 1e6:6.1f} M verdict rows/s", flush=True)
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
