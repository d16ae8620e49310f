"""Coverage-guided fuzzing of the native kernel: build the libFuzzer harness, seed it from the fixtures
and the shared corpora, run it, and report what it did.

    python tests/fuzz/fuzz.py --seconds 120 [--out DIR] [--jobs 1]

Prints one JSON object: executions, executions/s, libFuzzer's coverage (`cov`: instrumented edges of
the kernel reached, of `edges`), features, corpus size, and the crash artifact if one was found
(a crash is a sanitizer report, a Python exception, or a difference between the kernel's rows and
the Python path's: see kernel_target.py). Needs clang with libFuzzer (Debian: clang-14 and
libclang-rt-14-dev). Every crash found goes into tests/fuzz/regressions/, which
test_fuzz_kernel.py replays on every run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
FORMAT_SELECTORS = {"openai-chat": (0, 2), "verifiers-results": (1, 3)}  # see kernel_target.split
MAX_LEN = 1 << 16
LINES_PER_FILE = 20
SEED_MAX = 16 << 10  # bytes of a seed line (the fuzzer may grow inputs to MAX_LEN)


def clang() -> str | None:
    return shutil.which("clang-14") or shutil.which("clang")


def build(out: Path) -> Path:
    subprocess.run([str(HERE / "build.sh"), str(out), sys.executable], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return out / "fuzz_kernel"


def seed(out: Path, corpora: Path | None) -> int:
    """One seed per JSONL line (under 64 KiB) of the kernel's formats, from the fixtures and the corpora,
    prefixed with the selector bytes of its format."""
    sys.path[:0] = [str(ROOT / "src")]
    from rubricate.traces import detect, find_trace_files

    out.mkdir(parents=True, exist_ok=True)
    roots = [ROOT / "tests" / "fixtures"] + ([corpora] if corpora is not None and corpora.is_dir() else [])
    n = 0
    for trace in find_trace_files([str(r) for r in roots]):
        if not trace.path.endswith(".jsonl"):
            continue
        chosen = detect(trace.path).chosen
        if chosen not in FORMAT_SELECTORS:
            continue
        with open(trace.path, "rb") as f:
            for k, line in enumerate(f):
                if k >= LINES_PER_FILE:
                    break
                if len(line) < SEED_MAX:
                    for selector in FORMAT_SELECTORS[chosen]:
                        (out / f"seed-{n:05d}").write_bytes(bytes([selector]) + line)
                        n += 1
    return n


def environment() -> dict[str, str]:
    paths = [str(HERE), str(ROOT / "src"), *site.getsitepackages()]
    return {**os.environ, "PYTHONHOME": sys.base_prefix, "PYTHONPATH": os.pathsep.join(paths),
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1", "UBSAN_OPTIONS": "print_stacktrace=1",
            "RUBRICATE_NO_PLUGINS": "1"}


def run(binary: Path, work: Path, seconds: int, inputs: list[Path] | None = None) -> dict[str, Any]:
    """Fuzz for `seconds` (or, with `inputs`, run just those files once); returns the figures."""
    corpus, seeds = work / "corpus", work / "seeds"
    corpus.mkdir(parents=True, exist_ok=True)
    args = [str(binary), f"-max_len={MAX_LEN}", "-timeout=30", "-rss_limit_mb=4096", f"-artifact_prefix={work}/",
            f"-dict={HERE / 'kernel.dict'}", "-print_final_stats=1"]
    args += [str(p) for p in inputs] if inputs is not None else [f"-max_total_time={seconds}", str(corpus), str(seeds)]
    done = subprocess.run(args, capture_output=True, text=True, env=environment(), timeout=seconds + 600)
    log = done.stderr
    crashes = sorted(str(p) for kind in ("crash", "leak", "timeout", "oom") for p in work.glob(f"{kind}-*"))
    stats = {k: int(v) for k, v in re.findall(r"stat::(\w+):\s+(\d+)", log)}
    last = re.findall(r"cov: (\d+) ft: (\d+)(?: corp: (\d+))?", log)
    edges = re.search(r"\((\d+) inline 8-bit counters\)", log)
    return {"returncode": done.returncode, "seconds": seconds, "executions": stats.get("number_of_executed_units"),
            "executions_per_s": stats.get("average_exec_per_sec"), "peak_rss_mb": stats.get("peak_rss_mb"),
            "cov": int(last[-1][0]) if last else None, "features": int(last[-1][1]) if last else None,
            "corpus": len(list(corpus.iterdir())), "edges": int(edges.group(1)) if edges else None,
            "crashes": crashes, "log_tail": log[-4000:] if done.returncode else ""}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--out", type=Path, default=None, help="Work directory (default: a temporary one).")
    parser.add_argument("--corpora", type=Path, default=Path(os.environ.get("RUBRICATE_CORPORA", ROOT.parent / "shared" / "corpora")))
    args = parser.parse_args(argv)
    work = args.out or Path(tempfile.mkdtemp(prefix="rubricate-fuzz-"))
    binary = build(work / "build")
    seeds = seed(work / "seeds", args.corpora)
    result = {"seeds": seeds, **run(binary, work, args.seconds)}
    print(json.dumps({k: v for k, v in result.items() if k != "log_tail"}))
    if result["returncode"]:
        print(result["log_tail"], file=sys.stderr)
    return result


if __name__ == "__main__":
    sys.exit(1 if main()["returncode"] else 0)
