"""Measure the behavior-level analysis over a large synthetic run (measures, never asserts).

    python benchmarks/bench_analysis.py [--rows 10000000] [--dir DIR] [--repeat 3] [--compare]
    python benchmarks/bench_analysis.py --truth 500      # the diagnosis's hit rates on planted truth

Generates a run directory with polars directly (no traces, no scoring): episodes and verdicts as one
Parquet part each (format 2) in the run store's schemas, written in row groups of 4,096 episodes as
`score_run` writes them, and run.json with a six-item rubric of the tool-discipline behaviors; every
episode's metadata has a model and a training step (50 steps). Then times:

    items        per-item counts, pass rates and Wilson intervals (the aggregation; target <= 1 s)
    behaviors    per-episode behavior status (table built once) and per-behavior counts
    diagnosis    the cube, first failing steps, A -> B tests, attribution under the evidence rule
    training     behaviors over training by step, with the reward-hacking check
    analyze      the whole `analyze(run)`: all of the above, co-occurrence, patterns, first failing steps
    analyze --by the same with cohorts by a metadata key
    guide        `guide(run)` (the diagnosis plus examples for the top three behaviors)
    compare      `compare(run, run)` paired on task ids (with --compare; heavier)

`--truth SEEDS` instead draws SEEDS synthetic cohorts of each planted structure (see
`rubricate.analyzer._synthetic`) and planted training runs, and prints how often the diagnosis finds
the planted truth: the hit rates docs/analysis.md reports.
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

from rubricate.analyzer import analyze, compare, diagnose, guide, open_run
from rubricate.analyzer._analysis import Session, behaviors_frame, items_frame
from rubricate.analyzer._attribution import attribution
from rubricate.analyzer._synthetic import (
    CAUSES,
    DECOY,
    ROOT,
    SYMPTOMS,
    TRAINING_ITEMS,
    synthetic_cohort,
    synthetic_training,
    training_frame,
)
from rubricate.analyzer._training import over_training, training
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
        "metadata": pl.Series(np.array([f'{{"model":"{m}","step":' for m in MODELS])[rng.integers(0, len(MODELS), n)])
        + pl.Series(np.arange(n) * 50 // n).cast(pl.String) + "}",
    })
    for table in ("episodes", "verdicts", "issues"):
        os.makedirs(os.path.join(out, table), exist_ok=True)
    _write(episodes, os.path.join(out, "episodes", "part-00000.parquet"), EPISODE_SCHEMA, GROUP_EPISODES)
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
    _write(verdicts, os.path.join(out, "verdicts", "part-00000.parquet"), VERDICT_SCHEMA, GROUP_EPISODES * n_items)
    info = {"run_format": RUN_FORMAT, "rubric": {"id": "synthetic", "version": "1",
                                                 "items": [{"id": i, "behavior": b} for i, b in ITEMS]},
            "counts": {"episodes": n, "issues": 0}}
    with open(os.path.join(out, "run.json"), "wb") as f:
        f.write(msgspec.json.encode(info))
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
    parser.add_argument("--truth", type=int, default=0, metavar="SEEDS",
                        help="print the hit rates on planted truth over SEEDS seeds instead")
    args = parser.parse_args(argv)
    if args.truth:
        return truth(args.truth)
    root = args.dir or tempfile.mkdtemp(prefix="bench-analysis-")
    try:
        out = os.path.join(root, "run")
        n, seconds = generate(out, args.rows)
        size = sum(os.path.getsize(os.path.join(out, t, "part-00000.parquet")) for t in ("episodes", "verdicts"))
        print(f"generated {n * len(ITEMS):,} verdict rows ({n:,} episodes, {size / 1e6:.0f} MB Parquet) "
              f"in {seconds:.1f}s; {os.cpu_count()} cores")
        run = open_run(out)

        def behaviors() -> None:
            s = Session(run)
            behaviors_frame(s)

        figures = [("items (aggregation)", lambda: items_frame(Session(run))), ("behaviors", behaviors),
                   ("diagnosis", lambda: attribution(Session(run), "reward", 1.0)),
                   ("training", lambda: training(Session(run), None, None, None)),
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


def _share(hits: list[bool]) -> str:
    return f"{sum(hits) / len(hits):6.1%}"


def truth(seeds: int) -> int:
    """Hit rates of the diagnosis and of the reward-hacking check on planted truth (see --truth)."""
    started = time.perf_counter()
    print(f"planted cohorts, {seeds} seeds each (default evidence rule)")
    for kind, n in (("chain", 100), ("chain", 200), ("chain", 400), ("null", 200), ("null", 400),
                    ("two-causes", 200), ("two-causes", 400), ("chain", 20), ("null", 20), ("two-causes", 20)):
        found = [diagnose(synthetic_cohort(kind, n, seed).cube()) for seed in range(seeds)]
        line = f"  {kind:<10} n={n:<4} no claim {_share([not d.roots for d in found])}"
        if kind == "chain":
            line += (f"  root named {_share([d.roots == (ROOT,) for d in found])}"
                     f"  with its chain {_share([d.roots == (ROOT,) and d.chains[0].members == (ROOT, *SYMPTOMS) for d in found])}"
                     f"  decoy named {_share([DECOY in d.drivers for d in found])}"
                     f"  a symptom as root {_share([any(s in d.roots for s in SYMPTOMS) for d in found])}")
        elif kind == "two-causes":
            line += f"  both named {_share([set(d.roots) == set(CAUSES) for d in found])}"
        print(line, flush=True)
    print(f"planted training runs (16 steps x 32 episodes), {seeds} seeds each")
    process = [i for i, _ in TRAINING_ITEMS[1:]]
    for kind in ("honest", "flat", "hacking"):
        flags, near = [], []
        for seed in range(seeds):
            run, onset = synthetic_training(kind, seed)
            t = over_training(training_frame(run), key="step", behaviors=[b for _, b in TRAINING_ITEMS],
                              process_items=process, reward_name="reward", outcome_name="answer_correct")
            assert t.hacking is not None
            flags.append(t.hacking.flagged)
            if onset is not None and t.hacking.flagged and t.hacking.onset_step is not None:
                near.append(abs(t.hacking.onset_step - onset) <= 2)
        line = f"  {kind:<8} flagged {_share(flags)}"
        if near:
            line += f"  onset within 2 steps of the planted one {_share(near)} of flagged"
        print(line, flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
