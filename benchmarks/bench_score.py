"""Scoring throughput against the parse floor, measured in the same run.

    python benchmarks/bench_score.py [--sizes 10000,200000] [--shared ../shared] [--out benchmarks/out]

For each corpus size: generate a synthetic OpenAI-chat JSONL corpus with shared/bench/gen_corpus.py
(~10 KB episodes, 12% tool errors), measure the parse floor P with shared/bench/floor.py (msgspec
decoding each line into typed structs), then time `rubricate score --rubric tool-discipline` end to
end (process start, reading, scoring, Parquet writes, run.json) with 1 and 2 workers, alternating,
`--repeat` times (medians), and with `--python-path` also 1 worker without the native kernel
(RUBRICATE_NO_KERNEL=1). Every round also runs two 1-worker runs side by side, one on each half of
the corpus (what two independent processes of this code reach: the most a two-worker run can), and
the floor once and twice side by side: how far the machine itself scales over two processes at that
moment (it drifts from hour to hour on a shared host). Prints a Markdown table and writes it, with every round, as JSON beside the corpora. Measures;
never asserts timings.
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


def halves(path: str) -> list[str]:
    """The corpus cut in two at the line nearest its middle byte (made once, beside it)."""
    out = [path.replace(".jsonl", f".half{k}.jsonl") for k in (0, 1)]
    if not all(os.path.exists(p) for p in out):
        with open(path, "rb") as f:
            f.seek(os.path.getsize(path) // 2)
            f.readline()
            cut = f.tell()
            f.seek(0)
            for part, size in zip(out, (cut, None)):
                with open(part + ".tmp", "wb") as w:
                    while chunk := f.read(min(1 << 24, size) if size is not None else 1 << 24):
                        w.write(chunk)
                        if size is not None:
                            size -= len(chunk)
                            if size == 0:
                                break
                os.replace(part + ".tmp", part)
    return out


def score_pair(parts: list[str], out: str) -> float:
    """Two 1-worker runs, one on each half, side by side: the wall until both are done. What two
    independent processes of this code achieve on this machine now: a two-worker run can match it,
    not beat it (each pays the start-up once)."""
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "rubricate", "score", part, "--rubric", "tool-discipline",
                               "--out", os.path.join(out, f"run-half{k}"), "--workers", "1", "--no-progress",
                               "--quiet"], env=ENV, stdout=subprocess.DEVNULL) for k, part in enumerate(parts)]
    if any(p.wait() for p in procs):
        raise SystemExit("a half run failed")
    return round(time.perf_counter() - t0, 2)


def warm(path: str) -> None:
    """Drop the corpus from the page cache and read it back once, so that every timed run reads it
    from the cache, laid out the way reading a file from disk leaves it. A corpus still cached as the
    generator wrote it (line by line: 4 KB pages) costs the kernel about twice the time per byte read
    (sys 0.7-1.0 s against 0.36-0.47 s for a 2-worker run at 200k episodes), and two workers reading
    it scale worse (1.75x against 1.82x end to end in the same ABBA rounds)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # written back first: a dirty page cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
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
        parts = halves(path)
        for part in parts:
            warm(part)
        ones, twos, floors, pairs, half_pairs = [], [], [], [], []
        for _ in range(args.repeat):  # the machine's own scaling is measured in every round: it drifts
            ones.append(score(path, args.out, 1))
            twos.append(score(path, args.out, 2))
            half_pairs.append(score_pair(parts, args.out))
            floors.append(floor(args.shared, path)["floor_MBps"])
            pairs.append(floor_pair(args.shared, path))
        one, two = median_run(ones), median_run(twos)
        p = {"floor_MBps": statistics.median(floors)}
        pair = statistics.median(pairs)
        rounds = [{"speedup_2w": round(a["wall_s"] / b["wall_s"], 3), "floor_pair_scaling": round(fp / f, 3),
                   "speedup_halves_side_by_side": round(a["wall_s"] / h, 3),
                   "startup_1w_s": round(a["wall_s"] - a["scoring_s"], 3),
                   "startup_2w_s": round(b["wall_s"] - b["scoring_s"], 3)}
                  for a, b, h, f, fp in zip(ones, twos, half_pairs, floors, pairs)]
        python = score(path, args.out, 1, kernel=False) if args.python_path else None
        rows.append({"episodes": n, "MB": round(os.path.getsize(path) / 1e6, 1), "floor_MBps": p["floor_MBps"],
                     "floor_pair_MBps": pair, "floor_pair_scaling": round(pair / p["floor_MBps"], 2),
                     "one_worker": one, "two_workers": two, "python_path_1w": python,
                     "ratio_1w_to_floor": round(one["MBps"] / p["floor_MBps"], 3),
                     "speedup_2w": round(two["MBps"] / one["MBps"], 2),
                     "speedup_2w_scoring": round(one["scoring_s_median"] / two["scoring_s_median"], 2),
                     "speedup_2w_paired_median": round(statistics.median(r["speedup_2w"] for r in rounds), 2),
                     "floor_pair_scaling_paired_median": round(statistics.median(r["floor_pair_scaling"] for r in rounds), 2),
                     "speedup_halves_side_by_side_paired_median": round(
                         statistics.median(r["speedup_halves_side_by_side"] for r in rounds), 2),
                     "startup_s_median": {"1w": round(statistics.median(r["startup_1w_s"] for r in rounds), 3),
                                          "2w": round(statistics.median(r["startup_2w_s"] for r in rounds), 3)},
                     "rounds": rounds})
        print(json.dumps(rows[-1]), file=sys.stderr)
    with open(os.path.join(args.out, "bench_score.json"), "w") as f:
        json.dump(rows, f, indent=2)
    print(f"Medians of {args.repeat} rounds (1 worker, 2 workers, one floor run, two floor runs side by side); "
          "2w / 1w end to end (process start to exit) as the ratio of the medians and as the median of each "
          "round's ratio, and of score_run alone (run.json timings.seconds, no process start-up). The floor "
          "pair's scaling, measured in the same rounds, is what the machine gives two processes.\n")
    print("| episodes | MB | floor P MB/s | 1 worker MB/s | 1w / P | 2 workers MB/s | 2w / 1w | 2w / 1w per round | "
          "2w / 1w score_run | two 1w runs on the halves, per round | two floors side by side | "
          "start-up 1w / 2w (s) | peak RSS per worker (MB) | by the kernel | Python path 1w MB/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
    for r in rows:
        one, two, python = r["one_worker"], r["two_workers"], r["python_path_1w"]
        print(f"| {r['episodes']:,} | {r['MB']:,} | {r['floor_MBps']} | {one['MBps']} | "
              f"{r['ratio_1w_to_floor']} | {two['MBps']} | {r['speedup_2w']} | {r['speedup_2w_paired_median']} | "
              f"{r['speedup_2w_scoring']} | {r['speedup_halves_side_by_side_paired_median']} | "
              f"{r['floor_pair_scaling_paired_median']}x | "
              f"{r['startup_s_median']['1w']} / {r['startup_s_median']['2w']} | "
              f"1w: {one['peak_rss_mb_per_worker']}, 2w: {two['peak_rss_mb_per_worker']} | "
              f"{one['kernel_episodes']:,} / {one['episodes']:,} | {python['MBps'] if python else '-'} |")


if __name__ == "__main__":
    main()
