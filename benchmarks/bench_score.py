"""Scoring throughput against the parse floor, measured in the same run.

    python benchmarks/bench_score.py [--sizes 10000,200000] [--shared ../shared] [--out benchmarks/out]

For each corpus size: generate a synthetic OpenAI-chat JSONL corpus with shared/bench/gen_corpus.py
(~10 KB episodes, 12% tool errors), measure the parse floor P with shared/bench/floor.py (msgspec
decoding each line into typed structs), then time `rubricate score --rubric tool-discipline` end to
end (process start, reading, scoring, Parquet writes, run.json) with 1 and 2 workers, alternating,
`--repeat` times (medians), and with `--python-path` also 1 worker without the native kernel
(RUBRICATE_NO_KERNEL=1). Two floor runs side by side show how far the machine itself scales over two
processes. Prints a Markdown table and writes it as JSON beside the corpora. Measures; never asserts
timings.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# as an installed package runs: with its modules' bytecode cached (a sandbox may turn caching off)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - t0, done.stdout


def corpus(shared: str, out: str, n: int) -> str:
    path = os.path.join(out, f"corpus-{n}.jsonl")
    if not os.path.exists(path):
        tmp = path + ".tmp"
        run([sys.executable, os.path.join(shared, "bench", "gen_corpus.py"), "jsonl", "0", str(n), tmp])
        os.replace(tmp, path)
    return path


def warm(path: str) -> None:
    """Read the corpus once, so that every timed run reads it from the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def floor(shared: str, path: str) -> dict[str, float]:
    _, out = run([sys.executable, os.path.join(shared, "bench", "floor.py"), path])
    return json.loads(out)


def floor_pair(shared: str, path: str) -> float:
    """Two floor runs side by side: how far this machine scales pure decoding over two processes
    (the sum of their MB/s), the ceiling for any two-worker figure."""
    cmd = [sys.executable, os.path.join(shared, "bench", "floor.py"), path]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    return round(sum(json.loads(p.communicate()[0])["floor_MBps"] for p in procs), 1)


def score(path: str, out: str, workers: int, kernel: bool = True) -> dict[str, float]:
    run_dir = os.path.join(out, f"run-{os.path.basename(path)}-{workers}w{'' if kernel else '-python'}")
    env = ENV if kernel else {**ENV, "RUBRICATE_NO_KERNEL": "1"}
    wall, _ = run([sys.executable, "-m", "rubricate", "score", path, "--rubric", "tool-discipline", "--out", run_dir,
                   "--workers", str(workers), "--no-progress", "--quiet"], env)
    with open(os.path.join(run_dir, "run.json")) as f:
        info = json.load(f)
    size = os.path.getsize(path)
    return {"wall_s": round(wall, 2), "MBps": round(size / wall / 1e6, 1),
            "scoring_s": info["timings"]["seconds"],  # score_run alone: no process start-up
            "episodes_per_s": round(info["counts"]["episodes"] / wall),
            "workers_used": info["timings"]["workers"],
            "seconds_per_worker": info["timings"].get("seconds_per_worker"),
            "units_per_worker": info["timings"].get("units_per_worker"),
            "peak_rss_mb_per_worker": info["timings"]["peak_rss_mb_per_worker"],
            "kernel_episodes": info["counts"].get("kernel_episodes", 0), "episodes": info["counts"]["episodes"]}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time, with the range of all runs' wall and scoring times."""
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    return {**ordered[len(ordered) // 2], "wall_s_all": [r["wall_s"] for r in runs],
            "scoring_s_median": statistics.median(r["scoring_s"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,200000")
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    parser.add_argument("--out", default=os.path.join(HERE, "out"))
    parser.add_argument("--repeat", type=int, default=3, help="runs of 1 and 2 workers, alternating (medians)")
    parser.add_argument("--python-path", action="store_true",
                        help="also time 1 worker on the Python path (RUBRICATE_NO_KERNEL=1), the kernel's reference")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    run([sys.executable, "-c", "import rubricate.cli.score, rubricate.scoring._engine"], ENV)  # caches bytecode
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        path = corpus(args.shared, args.out, n)
        warm(path)
        p = floor(args.shared, path)
        pair = floor_pair(args.shared, path)
        ones, twos = [], []
        for _ in range(args.repeat):
            ones.append(score(path, args.out, 1))
            twos.append(score(path, args.out, 2))
        one, two = median_run(ones), median_run(twos)
        python = score(path, args.out, 1, kernel=False) if args.python_path else None
        rows.append({"episodes": n, "MB": round(os.path.getsize(path) / 1e6, 1), "floor_MBps": p["floor_MBps"],
                     "floor_pair_MBps": pair, "floor_pair_scaling": round(pair / p["floor_MBps"], 2),
                     "one_worker": one, "two_workers": two, "python_path_1w": python,
                     "ratio_1w_to_floor": round(one["MBps"] / p["floor_MBps"], 3),
                     "speedup_2w": round(two["MBps"] / one["MBps"], 2),
                     "speedup_2w_scoring": round(one["scoring_s_median"] / two["scoring_s_median"], 2)})
        print(json.dumps(rows[-1]), file=sys.stderr)
    with open(os.path.join(args.out, "bench_score.json"), "w") as f:
        json.dump(rows, f, indent=2)
    print(f"Medians of {args.repeat} alternating runs; 2w / 1w end to end (process start to run.json) and "
          "of score_run alone (run.json timings.seconds, no process start-up).\n")
    print("| episodes | MB | floor P MB/s | 1 worker MB/s | 1w / P | 2 workers MB/s | 2w / 1w | 2w / 1w score_run | "
          "two floors side by side | peak RSS per worker (MB) | by the kernel | Python path 1w MB/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for r in rows:
        one, two, python = r["one_worker"], r["two_workers"], r["python_path_1w"]
        print(f"| {r['episodes']:,} | {r['MB']:,} | {r['floor_MBps']} | {one['MBps']} | "
              f"{r['ratio_1w_to_floor']} | {two['MBps']} | {r['speedup_2w']} | {r['speedup_2w_scoring']} | "
              f"{r['floor_pair_scaling']}x | 1w: {one['peak_rss_mb_per_worker']}, 2w: {two['peak_rss_mb_per_worker']} | "
              f"{one['kernel_episodes']:,} / {one['episodes']:,} | {python['MBps'] if python else '-'} |")


if __name__ == "__main__":
    main()
