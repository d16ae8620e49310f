"""HTML report time and size on a large synthetic run.

    python benchmarks/bench_report.py [--episodes 100000] [--shared ../shared] [--out benchmarks/out]

Generates a synthetic OpenAI-chat corpus with shared/bench/gen_corpus.py (~10 KB episodes, three
models, 12% tool errors; needs orjson), scores it with the built-in `tool-discipline` rubric, then
measures `rubricate report RUN --by model` end to end (process start to the file written), twice
(cold and warm page cache), and the phases in-process: the analysis, the guidance, choosing and
re-reading the sampled episodes from the trace files, and rendering. Prints a Markdown table and
writes it as JSON beside the run. Measures; never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def prepare(shared: str, out: str, n: int, workers: int) -> tuple[str, float | None]:
    corpus = os.path.join(out, f"corpus-{n}.jsonl")
    if not os.path.exists(corpus):
        tmp = corpus + ".tmp"
        timed([sys.executable, os.path.join(shared, "bench", "gen_corpus.py"), "jsonl", "0", str(n), tmp])
        os.replace(tmp, corpus)
    run_dir = os.path.join(out, f"report-run-{n}")
    scored = None
    if not os.path.exists(os.path.join(run_dir, "run.json")):
        scored = timed([sys.executable, "-m", "rubricate", "score", corpus, "--rubric", "tool-discipline",
                        "--out", run_dir, "--workers", str(workers), "--no-progress", "--quiet"])
    return run_dir, scored


def phases(run_dir: str, by: str) -> dict[str, float]:
    from rubricate.analyzer import analyze, guide, open_run
    from rubricate.reports import render_report
    from rubricate.reports._episodes import browser_episodes, sample_ids

    run = open_run(run_dir)
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    analyze(run, by=by)
    out["analyze_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    guide(run, by=by)
    out["guide_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ids = sample_ids(run, by=by)
    out["sample_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, stats = browser_episodes(run, ids, by=by)
    out["episodes_s"] = time.perf_counter() - t0
    out["sampled_episodes"] = stats["embedded"]
    t0 = time.perf_counter()
    html = render_report(run, by=by)
    out["render_total_s"] = time.perf_counter() - t0
    out["html_mb"] = len(html.encode("utf-8")) / 1e6
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=100_000)
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    parser.add_argument("--out", default=os.path.join(HERE, "out"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--by", default="model")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    run_dir, scored = prepare(args.shared, args.out, args.episodes, args.workers)
    report = os.path.join(args.out, f"report-{args.episodes}.html")
    cmd = [sys.executable, "-m", "rubricate", "report", run_dir, "--by", args.by, "--out", report]
    walls = [timed(cmd), timed(cmd)]
    result = {"episodes": args.episodes, "score_s": None if scored is None else round(scored, 1),
              "report_cold_s": round(walls[0], 2), "report_warm_s": round(walls[1], 2),
              "file_mb": round(os.path.getsize(report) / 1e6, 2), **phases(run_dir, args.by)}
    with open(os.path.join(args.out, f"bench-report-{args.episodes}.json"), "w") as f:
        json.dump(result, f, indent=2)
    print("| " + " | ".join(result) + " |")
    print("|" + "---:|" * len(result))
    print("| " + " | ".join("-" if v is None else str(v) for v in result.values()) + " |")


if __name__ == "__main__":
    main()
