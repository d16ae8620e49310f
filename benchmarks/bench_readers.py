"""Reader throughput per JSONL-like format against a decode floor measured on the same bytes.

    python benchmarks/bench_readers.py [--mb 20]

For every registered format whose test fixture is JSONL, the fixture's lines are repeated into a
~`--mb` MB file; the floor is msgspec decoding every line into Python objects (the least any reader
must do), and the reader is `rubricate.traces.read_file` producing Episodes. Prints ratio = reader
MB/s / floor MB/s. Measures; never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import msgspec

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from traces.conftest import FORMAT_FIXTURES  # noqa: E402

from rubricate.traces import TraceFile, get_format, read_file  # noqa: E402


def best_of(fn, repeats: int = 3) -> float:
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=20)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, fixture in sorted(FORMAT_FIXTURES.items()):
            if fixture.suffix != ".jsonl" or not get_format(name).splittable:
                continue
            lines = [line for line in fixture.read_bytes().splitlines(keepends=True) if line.strip()]
            block = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
            path = os.path.join(tmp, f"{name}.jsonl")
            with open(path, "wb") as f:
                for _ in range(max(1, int(args.mb * 1e6 / len(block)))):
                    f.write(block)
            size = os.path.getsize(path)

            def floor() -> None:
                with open(path, "rb") as f:
                    for line in f:
                        msgspec.json.decode(line)

            trace = TraceFile(path, tmp, size)

            def read() -> None:
                for _ in read_file(trace, name):
                    pass

            p, r = size / best_of(floor) / 1e6, size / best_of(read) / 1e6
            rows.append((name, round(size / 1e6, 1), round(p, 1), round(r, 1), round(r / p, 2)))
            print(rows[-1], file=sys.stderr)
    print("| format | MB | floor MB/s | reader MB/s | reader / floor |")
    print("|---|---:|---:|---:|---:|")
    for name, mb, p, r, ratio in rows:
        print(f"| {name} | {mb} | {p} | {r} | {ratio} |")


if __name__ == "__main__":
    main()
