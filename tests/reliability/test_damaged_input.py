"""No input sinks a run: 1,005 good files of every format beside 150 damaged or adversarial files of
30 kinds (see _damage.py), scored by the real `rubricate score` (native kernel and Python readers,
two workers), read by `rubricate traces detect` and by `load_episodes`.

Every good record must be scored, every bad one reported with its path and line or index (where one
exists), the exit code must be 0 (1 with --strict), and no traceback may be printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rubricate.traces import load_episodes

from _damage import KINDS, build_damaged, build_good
from traces.conftest import FORMAT_FIXTURES

GOOD_COPIES = 67   # x 15 formats = 1,005 good files
DAMAGED_COPIES = 5  # x 31 kinds = 155 damaged files (+5 partners of the symlink loops)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("damage")
    good = build_good(root / "good", FORMAT_FIXTURES, GOOD_COPIES)
    damaged = build_damaged(root / "damaged", DAMAGED_COPIES)
    return root, good, damaged


@pytest.fixture(scope="module")
def fixture_counts() -> dict[str, tuple[int, int]]:
    """(episodes, issues) of each format's fixture, read where it lies."""
    out = {}
    for fmt, path in FORMAT_FIXTURES.items():
        traces = load_episodes(path)
        out[fmt] = (sum(1 for _ in traces), len(traces.issues))
    return out


def _rubricate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rubricate", *args], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "COLUMNS": "200"})


def _issues(run: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((run / "issues").glob("*.jsonl")) for line in p.read_text().splitlines()]


def test_the_corpus_is_as_large_as_promised(corpus):
    _, good, damaged = corpus
    assert len(good) >= 1000 and len(damaged) >= 100 and len(KINDS) >= 20
    assert len({f for f in good.values()}) == len(FORMAT_FIXTURES)


def test_score_scores_every_good_record_and_reports_every_bad_one(corpus, fixture_counts, tmp_path):
    root, good, damaged = corpus
    run = tmp_path / "run"
    done = _rubricate("score", str(root), "-r", "tool-discipline", "-o", str(run), "--no-progress", "-w", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr and "internal error" not in done.stderr

    episodes = Counter(pq.read_table(run / "episodes", columns=["source_path"]).column(0).to_pylist())
    issues = _issues(run)
    for rel, fmt in good.items():
        assert episodes[f"good/{rel}"] == fixture_counts[fmt][0], rel
    by_file: dict[str, list[tuple]] = {}
    for issue in issues:
        by_file.setdefault(issue["path"], []).append((issue.get("line"), issue.get("index")))
    assert sum(len(v) for k, v in by_file.items() if k.startswith("good/")) == \
        sum(fixture_counts[fmt][1] for fmt in good.values())
    for rel, expect in damaged.items():
        path = f"damaged/{rel}"
        assert episodes[path] == expect.good, (rel, expect)
        assert sorted(by_file.get(path, []), key=str) == sorted(expect.issues, key=str), (rel, by_file.get(path))
    info = json.loads((run / "run.json").read_text())
    assert info["counts"]["issues"] == len(issues)


def test_strict_stops_with_exit_1_and_no_traceback(corpus, tmp_path):
    root, _, _ = corpus
    done = _rubricate("score", str(root / "damaged"), "-r", "tool-discipline", "-o", str(tmp_path / "run"),
                      "--no-progress", "--strict")
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.startswith("error: damaged/") or "error: " in done.stderr
    assert "Traceback" not in done.stderr


def test_traces_detect_explains_every_file_without_a_traceback(corpus):
    root, good, damaged = corpus
    done = _rubricate("traces", "detect", str(root), "--json")
    assert done.returncode == 1  # some files cannot be read in any format
    assert "Traceback" not in done.stderr
    found = {os.path.relpath(d["path"], root): d for d in json.loads(done.stdout)}
    assert set(found) == {f"good/{r}" for r in good} | {f"damaged/{r}" for r in damaged}
    assert all(found[f"good/{r}"]["format"] == fmt for r, fmt in good.items())
    assert found[next(f"damaged/{r}" for r in damaged if r.startswith("k09-"))]["reason"].startswith("a FIFO")
    assert "nested deeper than 256" in found[next(f"damaged/{r}" for r in damaged if r.startswith("k06-"))]["reason"]


def test_the_python_readers_agree_without_the_kernel(corpus):
    """load_episodes (the readers alone, no kernel) on the damaged files: the same counts and issues."""
    root, _, damaged = corpus
    traces = load_episodes(root / "damaged")
    episodes = Counter(ep.source.path for ep in traces)
    by_file: dict[str, list[tuple]] = {}
    for issue in traces.issues:
        by_file.setdefault(issue.path, []).append((issue.line, issue.index))
    for rel, expect in damaged.items():
        assert episodes[rel] == expect.good, rel
        assert sorted(by_file.get(rel, []), key=str) == sorted(expect.issues, key=str), (rel, by_file.get(rel))
