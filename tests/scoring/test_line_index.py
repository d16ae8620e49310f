"""The line index (`scoring._lineindex`): newlines counted ahead by a forked process while `score`
starts, so a job that starts mid-file takes its first line number from it. It may change when a line
number is known, never what it is: these compare every number with a plain count, and a run that used
it with one that did not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rubricate.scoring import _engine, _lineindex, _units, _workers, score_run
from rubricate.scoring._lineindex import LineIndex, start_line_index
from rubricate.traces.files import count_lines

from test_score_run_workers import _same_runs, rubric  # noqa: F401  (the module's fixtures)

BLOCK = 1 << 12


@pytest.fixture(scope="module")
def jsonl(tmp_path_factory: pytest.TempPathFactory, corpus) -> Path:
    path = tmp_path_factory.mktemp("index") / "a.jsonl"
    corpus.write_jsonl(path, range(300), pad=3000, bad_every=29)
    return path


def _offsets(path: Path) -> list[int]:
    size = path.stat().st_size
    return sorted({0, 1, BLOCK - 1, BLOCK, BLOCK + 1, size // 3, size // 2, size - 1, size,
                   *range(0, size, 7919)})


def _wait(index: LineIndex) -> None:
    assert index.pid is not None
    _, status = os.waitpid(index.pid, 0)
    index.pid = None
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_complete_index_gives_every_count(jsonl: Path) -> None:
    index = LineIndex([str(jsonl)], block=BLOCK)
    index.start()
    _wait(index)
    assert index.counted_until(str(jsonl)) == jsonl.stat().st_size
    for offset in _offsets(jsonl):
        assert index.lines_before(str(jsonl), offset) == count_lines(str(jsonl), 0, offset), offset


def test_a_counter_stopped_part_way_leaves_counts_the_jobs_complete(jsonl: Path) -> None:
    """The counter dies after 5 blocks (as when `stop` kills it): the jobs count the rest themselves."""
    calls = []

    def failing(view: memoryview) -> int:
        calls.append(1)
        if len(calls) > 5:
            raise OSError("stopped")
        return bytes(view).count(b"\n")

    index = LineIndex([str(jsonl)], block=BLOCK)
    index.start(failing)
    assert index.pid is not None
    _, status = os.waitpid(index.pid, 0)
    index.pid = None
    assert os.waitstatus_to_exitcode(status) == 1
    assert index.counted_until(str(jsonl)) == 5 * BLOCK
    for offset in _offsets(jsonl):
        assert index.lines_before(str(jsonl), offset) == count_lines(str(jsonl), 0, offset), offset


def test_only_large_plain_jsonl_inputs_are_indexed(jsonl: Path, tmp_path: Path, monkeypatch) -> None:
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"{}\n" * 10)
    (tmp_path / "big.json").write_bytes(b" " * (1 << 20))
    (tmp_path / "loop.jsonl").symlink_to(tmp_path / "loop.jsonl")  # damaged inputs: left to the readers
    (tmp_path / "broken.jsonl").symlink_to(tmp_path / "nowhere.jsonl")
    os.mkfifo(tmp_path / "fifo.jsonl")
    monkeypatch.setattr(_lineindex, "MIN_BYTES", 1 << 10)
    monkeypatch.setattr(_lineindex, "BLOCK", BLOCK)
    index = LineIndex.for_inputs([str(jsonl), str(tmp_path)], jobs=2)
    assert index is not None and set(index.files) == {os.path.realpath(jsonl)}
    assert index.lines_before(str(small), 3) is None and index.counted_until(str(small)) is None
    half = index.files[os.path.realpath(jsonl)]
    assert half.blocks * index.block >= jsonl.stat().st_size // 2  # what the second of two jobs needs
    assert half.blocks * index.block < jsonl.stat().st_size  # and not the last half
    assert LineIndex.for_inputs([str(jsonl)], jobs=1) is None


STOP_SCRIPT = """
import json, os, sys
from rubricate.scoring import _lineindex
from rubricate.scoring._lineindex import start_line_index, stop_line_index

_lineindex.MIN_BYTES, _lineindex.BLOCK = 1 << 10, 1 << 12
os.sched_getaffinity = lambda pid: {0, 1}  # two cores, whatever this machine has
index = start_line_index([sys.argv[1]], workers=2)
pid = index.pid
started = _lineindex.ACTIVE is index and pid is not None
stop_line_index()
try:
    os.waitpid(pid, os.WNOHANG)
    reaped = False
except ChildProcessError:
    reaped = True
print(json.dumps({"started": started, "cleared": _lineindex.ACTIVE is None and index.pid is None,
                  "reaped": reaped}))
"""


def test_start_forks_the_counter_and_stop_reaps_it(jsonl: Path) -> None:
    """In a single-threaded process (as `rubricate score` is when it starts; a test process has
    threads, and then nothing is forked)."""
    done = subprocess.run([sys.executable, "-c", STOP_SCRIPT, str(jsonl)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"started": True, "cleared": True, "reaped": True}


def test_nothing_is_forked_beside_other_threads(jsonl: Path, monkeypatch) -> None:
    monkeypatch.setattr(_lineindex, "MIN_BYTES", 1 << 10)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert start_line_index([str(jsonl)], workers=2) is None and _lineindex.ACTIVE is None
    finally:
        stop.set()
        thread.join()


def test_a_run_with_the_index_numbers_lines_as_one_without(jsonl: Path, rubric, tmp_path: Path,  # noqa: F811
                                                           monkeypatch) -> None:
    """Three forked jobs find their first line numbers in the index: none counts the share before its
    own (counting a unit fails the run here), and every row is as in a one-worker run."""
    monkeypatch.setattr(_workers, "START_METHOD", "fork")
    monkeypatch.setitem(_engine.BYTES_PER_WORKER, "fork", 1 << 16)
    monkeypatch.setattr(_engine, "available_cores", lambda: 3)
    one = score_run(jsonl, rubric, tmp_path / "one", workers=1)
    index = LineIndex([str(jsonl)], block=BLOCK)
    index.start()
    _wait(index)
    monkeypatch.setattr(_lineindex, "ACTIVE", index)

    def no_counting(*args: object, **kwargs: object) -> int:
        raise AssertionError("a job counted a unit's lines though the index has them")

    monkeypatch.setattr(_units, "unit_lines", no_counting)
    three = score_run(jsonl, rubric, tmp_path / "three", workers=3, chunk_bytes=1 << 16)
    _same_runs(one.path, three.path, workers=3)
    assert _lineindex.ACTIVE is None  # the run is over: the index is let go
