"""score_run with worker processes: the same run as one process (many files, and one JSONL file cut
into byte ranges), strict mode across workers, and a check that raises inside a worker. The parent
scores the first share itself; the workers are forked or spawned (`start_method`): both are run.

The corpora are just big enough (> 8 MB) that score_run really starts two workers.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from rubricate.analyzer import open_run
from rubricate.scoring import _engine, _workers, score_run, staging_path
from rubricate.scoring._units import Dealer, Unit
from rubricate.traces import Span, TraceFile
from rubricate.errors import LoadIssueError, RunError
from rubricate.rubrics import Rubric, isolated_registry, load_checks_file, load_rubric

CHUNK = 1 << 20


@pytest.fixture(params=["fork", "spawn"])
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(_workers, "START_METHOD", request.param)
    return request.param


@pytest.fixture(scope="module")
def rubric():
    return load_rubric("tool-discipline")


@pytest.fixture(scope="module")
def big_jsonl(tmp_path_factory: pytest.TempPathFactory, corpus) -> tuple[Path, list[tuple[int, str]]]:
    path = tmp_path_factory.mktemp("big") / "episodes.jsonl"
    bad = corpus.write_jsonl(path, range(900), pad=12000, bad_every=97)
    assert path.stat().st_size > 17 << 19  # 8.5 MiB: two workers need 8 MiB
    return path, bad


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory, corpus) -> Path:
    root = tmp_path_factory.mktemp("many")
    corpus.write_files(root, range(400), pad=26000)
    assert sum(p.stat().st_size for p in root.rglob("*.json")) > 17 << 19
    return root


def _same_runs(one: str, two: str, workers: int = 2) -> None:
    a, b = open_run(one), open_run(two)
    assert a.info["timings"]["workers"] == 1
    assert b.info["timings"]["workers"] == workers, f"the corpus is too small to start {workers} workers"
    assert a.episodes().equals(b.episodes())
    assert a.verdicts().equals(b.verdicts())
    assert a.issues() == b.issues()
    assert {**a.info["counts"], "units": 0} == {**b.info["counts"], "units": 0}  # units follow chunk_bytes
    assert a.summary().equals(b.summary())
    assert not os.path.exists(staging_path(two))


def test_two_workers_on_many_files(many_files: Path, rubric, tmp_path: Path, start_method: str) -> None:
    one = score_run(many_files, rubric, tmp_path / "one", workers=1)
    two = score_run(many_files, rubric, tmp_path / "two", workers=2)
    _same_runs(one.path, two.path)
    episodes = open_run(two.path).episodes()
    assert episodes["episode_id"].to_list() == [f"ep-{i:06d}" for i in range(400)]
    assert two.info["counts"]["files"] == 400


def test_two_workers_on_one_jsonl_cut_into_byte_ranges(big_jsonl, rubric, tmp_path: Path, start_method: str) -> None:
    path, bad = big_jsonl
    one = score_run(path, rubric, tmp_path / "one", workers=1, chunk_bytes=CHUNK)
    two = score_run(path, rubric, tmp_path / "two", workers=2, chunk_bytes=CHUNK)
    _same_runs(one.path, two.path)
    run = open_run(two.path)
    episodes = run.episodes()
    assert episodes["episode_id"].to_list() == [f"ep-{i:06d}" for i in range(900)]
    # line numbers survive the byte ranges: good lines are every line that is not a bad one
    bad_lines = {line for line, _ in bad}
    total_lines = 900 + len(bad)
    assert episodes["source_line"].to_list() == [n for n in range(1, total_lines + 1) if n not in bad_lines]
    assert [(i.line, reason in i.reason) for i, (_, reason) in zip(run.issues(), bad)] == \
        [(line, True) for line, _ in bad]
    assert two.issues == len(bad)


def test_strict_stops_across_workers(big_jsonl, rubric, tmp_path: Path, start_method: str) -> None:
    path, bad = big_jsonl
    out = tmp_path / "run"
    with pytest.raises(LoadIssueError) as info:
        score_run(path, rubric, out, workers=2, strict=True, chunk_bytes=CHUNK)
    assert info.value.line in {line for line, _ in bad}
    assert not (out / "run.json").exists()


RAISING_CHECKS = """
from rubricate import check


@check(behavior="robustness")
def explodes_on_every_third(ctx):
    \"\"\"Raises on every third episode (by number), passes or fails on the others.\"\"\"
    n = int(ctx.episode.id.rsplit("-", 1)[1])
    if n % 3 == 0:
        raise RuntimeError(f"boom on {ctx.episode.id}")
    return n % 3 == 1
"""

RAISING_RUBRIC = """
id = "explosive"
version = "0.1.0"
description = "A built-in item beside a check that raises."

[params]
discovery_tools = ["get_table_names"]
query_tools = ["sql_query"]

[[items]]
id = "discovers_tables"

[[items]]
id = "explodes"
check = "explodes_on_every_third"
"""


def test_check_raising_in_a_worker_gives_error_verdicts(big_jsonl, tmp_path: Path) -> None:
    path, _ = big_jsonl
    checks = tmp_path / "my_checks.py"
    checks.write_text(textwrap.dedent(RAISING_CHECKS))
    rubric_file = tmp_path / "explosive.toml"
    rubric_file.write_text(RAISING_RUBRIC)
    with isolated_registry():
        load_checks_file(checks)
        rubric = load_rubric(rubric_file)
        result = score_run(path, rubric, tmp_path / "run", workers=2, checks_files=[str(checks)],
                           chunk_bytes=CHUNK)
    run = open_run(result.path)
    assert run.info["timings"]["workers"] == 2
    verdicts = run.verdicts().filter(pl.col("item") == "explodes")
    assert verdicts.height == 900
    expected = {0: "error", 1: "pass", 2: "fail"}
    for row in verdicts.iter_rows(named=True):
        n = int(row["episode_id"].rsplit("-", 1)[1])
        assert row["verdict"] == expected[n % 3], row
        if n % 3 == 0:
            assert row["score"] is None
            assert "RuntimeError" in row["reason"] and row["episode_id"] in row["reason"]
    assert run.info["counts"]["verdicts"]["error"] == 300
    summary = run.summary().filter(pl.col("item") == "explodes").row(0, named=True)
    assert (summary["pass"], summary["fail"], summary["error"]) == (300, 300, 300)
    assert summary["pass_rate"] == pytest.approx(0.5)
    # the built-in item beside it is unaffected
    assert run.verdicts().filter(pl.col("item") == "discovers_tables")["verdict"].is_in(["pass", "fail"]).all()


@contextmanager
def _one_check_rubric(tmp_path: Path, checks_source: str, item: str) -> Iterator[tuple[Rubric, list[str]]]:
    """A rubric of the one custom check `item`, defined in a checks file of `checks_source`."""
    checks = tmp_path / f"{item}.py"
    checks.write_text(checks_source)
    rubric_file = tmp_path / f"{item}.toml"
    rubric_file.write_text(f'id = "{item.replace("_", "-")}"\nversion = "1"\n[[items]]\nid = "{item}"\n')
    with isolated_registry():
        load_checks_file(checks)
        yield load_rubric(rubric_file), [str(checks)]


FAILS_IN_WORKERS = """
import multiprocessing

if multiprocessing.parent_process() is not None:
    raise RuntimeError("this checks file cannot be imported in a worker")

from rubricate import check


@check(behavior="robustness")
def parent_only_check(ctx):
    return True
"""


def test_worker_failure_raises_run_error_and_leaves_no_run(big_jsonl, tmp_path: Path, monkeypatch) -> None:
    """A spawned worker imports the checks file afresh (a forked one inherits it already imported)."""
    monkeypatch.setattr(_workers, "START_METHOD", "spawn")
    path, _ = big_jsonl
    out = tmp_path / "run"
    with _one_check_rubric(tmp_path, FAILS_IN_WORKERS, "parent_only_check") as (rubric, checks):
        with pytest.raises(RunError, match="a scoring worker failed") as info:
            score_run(path, rubric, out, workers=2, checks_files=checks, chunk_bytes=CHUNK)
    assert "cannot be imported in a worker" in info.value.message
    assert info.value.hint
    assert not (out / "run.json").exists()


def test_span_files_are_not_split_across_workers(tmp_path: Path) -> None:
    """A span export groups episodes by trace id anywhere in the file: cutting it into byte ranges
    would cut traces, so a non-splittable format gets the whole file as one unit."""
    from rubricate.scoring import plan_units
    from rubricate.traces import TraceFile

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "otel-genai" / "agent-spans.jsonl"
    big = tmp_path / "spans.jsonl"
    big.write_bytes(fixture.read_bytes() * 2000)
    trace = TraceFile(str(big), str(tmp_path), big.stat().st_size)
    assert len(plan_units([trace], chunk_bytes=1 << 16)) == 1
    chat = tmp_path / "chat.jsonl"
    chat.write_bytes(b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 60000)
    trace = TraceFile(str(chat), str(tmp_path), chat.stat().st_size)
    assert len(plan_units([trace], chunk_bytes=1 << 16)) > 1


DIES_IN_WORKERS = """
import multiprocessing
import os
import time

from rubricate import check


@check(behavior="robustness")
def dies_in_a_worker(ctx):
    if multiprocessing.parent_process() is not None:
        os._exit(7)
    time.sleep(0.005)  # the parent is slower than a worker's start: the worker is not left without units
    return True
"""

SLOW_IN_WORKERS = """
import multiprocessing
import time

from rubricate import check


@check(behavior="robustness")
def slow_in_a_worker(ctx):
    if multiprocessing.parent_process() is not None:
        time.sleep(0.005)
    return True
"""


def test_the_dealer_gives_each_unit_once_and_takes_from_the_tail_of_the_fullest_share() -> None:
    trace = TraceFile("x.jsonl", ".", 800)
    units = [Unit(trace, Span(100 * i, 100 * (i + 1)), 100, i) for i in range(8)]
    dealer = Dealer([units[:3], units[3:]], multiprocessing.get_context("fork"))
    second = dealer.deal(1)
    assert next(second) == (units[3], False)
    first = [(u.index, taken) for u, taken in dealer.deal(0)]
    assert first == [(0, False), (1, False), (2, False), (7, True), (6, True), (5, True), (4, True)]
    assert list(second) == []
    assert [u.index for u in dealer.same_file_before(units[5])] == [0, 1, 2, 3, 4]


def test_a_job_done_early_takes_units_from_the_slow_share(big_jsonl, tmp_path: Path, start_method: str) -> None:
    """Work stealing: the worker scores its episodes 5 ms each, the parent at full speed; the parent,
    done with its own share, takes units from the end of the worker's. The run equals the run of one
    worker, line numbers and order included."""
    path, _ = big_jsonl
    with _one_check_rubric(tmp_path, SLOW_IN_WORKERS, "slow_in_a_worker") as (rubric, checks):
        one = score_run(path, rubric, tmp_path / "one", workers=1, checks_files=checks, chunk_bytes=CHUNK)
        two = score_run(path, rubric, tmp_path / "two", workers=2, checks_files=checks, chunk_bytes=CHUNK)
    _same_runs(one.path, two.path)
    units = two.info["counts"]["units"]
    here, worker = two.info["timings"]["units_per_worker"]
    assert here + worker == units
    assert here > -(-units // 2), f"the parent took no unit of the worker's share: {here} of {units}"
    lines = open_run(two.path).episodes()["source_line"].to_list()
    assert lines == sorted(lines) and len(set(lines)) == len(lines)


def test_worker_that_dies_stops_the_run(big_jsonl, tmp_path: Path, start_method: str) -> None:
    """A worker process that exits without a word (killed, out of memory) stops the run with a
    RunError naming its exit code, while the parent is still scoring its own share."""
    path, _ = big_jsonl
    out = tmp_path / "run"
    with _one_check_rubric(tmp_path, DIES_IN_WORKERS, "dies_in_a_worker") as (rubric, checks):
        with pytest.raises(RunError, match=r"a scoring worker died \(exit code 7\)"):
            score_run(path, rubric, out, workers=2, checks_files=checks, chunk_bytes=CHUNK)
    assert not (out / "run.json").exists()


def test_three_workers_number_lines_across_shares(corpus, rubric, tmp_path: Path, monkeypatch,
                                                  start_method: str) -> None:
    """Three jobs over two files, the first cut into byte ranges that span all three shares: each
    job counts the lines of the range before its own and waits for the earlier counts, so every
    episode keeps its file's line number."""
    monkeypatch.setitem(_engine.BYTES_PER_WORKER, start_method, 1 << 20)
    monkeypatch.setattr(_engine, "available_cores", lambda: 3)  # more workers than cores are capped
    root = tmp_path / "in"
    root.mkdir()
    bad_a = corpus.write_jsonl(root / "a.jsonl", range(600), pad=6000, bad_every=41)
    corpus.write_jsonl(root / "b.jsonl", range(600, 700), pad=6000)
    one = score_run(root, rubric, tmp_path / "one", workers=1)
    three = score_run(root, rubric, tmp_path / "three", workers=3, chunk_bytes=1 << 19)
    _same_runs(one.path, three.path, workers=3)
    episodes = open_run(three.path).episodes()
    lines_a = [n for n in range(1, 600 + len(bad_a) + 1) if n not in {line for line, _ in bad_a}]
    assert episodes["source_line"].to_list() == lines_a + list(range(1, 101))
    assert len(three.info["timings"]["seconds_per_worker"]) == 3


def test_shares_and_the_units_a_job_counts() -> None:
    """share(): contiguous shares, the first `first_weight` times the others; counted_before(): a job
    whose first unit continues a file counts that file's units in the previous share."""
    from rubricate.scoring import Unit, share
    from rubricate.scoring._units import counted_before
    from rubricate.traces import Span, TraceFile

    a, b = TraceFile("a.jsonl", ".", 1000), TraceFile("b.jsonl", ".", 40)
    units = [Unit(a, Span(100 * k, 100 * (k + 1), 0 if k else 1), 100, k, 0) for k in range(10)]
    units.append(Unit(b, Span(), 40, 10, 10))
    assert [len(s) for s in share(units, 2)] == [6, 5]
    weighted = share(units, 2, first_weight=1.5)
    assert [len(s) for s in weighted] == [7, 4]
    assert [u for s in weighted for u in s] == units
    shares = share(units, 3)
    assert [[u.index for u in s] for s in shares] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10]]
    assert counted_before(shares, 0) == []
    assert [u.index for u in counted_before(shares, 1)] == [0, 1, 2, 3]
    assert [u.index for u in counted_before(shares, 2)] == [4, 5, 6]
    assert counted_before([units[:10], units[10:]], 1) == []  # b.jsonl starts afresh
    assert share([], 4) == [[]]


def test_workers_are_spawned_while_other_threads_run(monkeypatch) -> None:
    """Forking a process with other threads can deadlock the child: then workers are spawned."""
    monkeypatch.setattr(_workers, "START_METHOD", None)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert _workers.start_method() == "spawn"
    finally:
        stop.set()
        thread.join()


def test_the_cli_stays_single_threaded_so_its_workers_fork() -> None:
    """`rubricate score` imports what scoring needs (pyarrow, numpy) without starting a thread, so
    its workers fork (milliseconds) instead of spawning (a fresh interpreter's imports each)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "JE_ARROW_MALLOC_CONF")}
    code = ("from rubricate.cli import main; import rubricate.cli.score, rubricate.scoring._store; "
            "from rubricate.scoring._workers import start_method, thread_count; print(start_method(), thread_count())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["fork", "1"]


def test_spawned_workers_need_more_input_than_forked_ones(corpus, rubric, tmp_path: Path, monkeypatch) -> None:
    """A spawned worker costs a fresh interpreter's imports: below its minimum of input bytes the
    run keeps fewer workers than asked; a forked one starts in milliseconds."""
    path = tmp_path / "in.jsonl"
    corpus.write_jsonl(path, range(1000), pad=12000)
    assert path.stat().st_size > 2 * _engine.BYTES_PER_WORKER["fork"]
    monkeypatch.setitem(_engine.BYTES_PER_WORKER, "spawn", 1 << 30)
    monkeypatch.setattr(_workers, "START_METHOD", "spawn")
    assert score_run(path, rubric, tmp_path / "spawned", workers=2, chunk_bytes=CHUNK).info["timings"]["workers"] == 1
    monkeypatch.setattr(_workers, "START_METHOD", "fork")
    assert score_run(path, rubric, tmp_path / "forked", workers=2, chunk_bytes=CHUNK).info["timings"]["workers"] == 2


def test_the_cli_scores_and_summarises_without_pandas_or_polars(corpus, tmp_path: Path) -> None:
    """`rubricate score` (its run and the summary it prints) imports neither pandas (pyarrow's first
    conversion looks for it: ~0.3 s a process) nor polars (~0.2 s): the fixed cost that every run pays,
    and that two workers cannot halve."""
    path = tmp_path / "in.jsonl"
    corpus.write_jsonl(path, range(20))
    code = ("import sys; from rubricate.cli import main\n"
            f"code = main(['score', {str(path)!r}, '-r', 'tool-discipline', '-o', {str(tmp_path / 'run')!r}])\n"
            "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'polars'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 []"


def test_a_dealer_lock_kept_by_a_dead_job_stops_the_run(monkeypatch) -> None:
    """A job killed while it held the dealer's lock would leave the others waiting for ever: they give up
    with a RunError that says to resume."""
    from rubricate.scoring import _units

    monkeypatch.setattr(_units, "LOCK_WAIT_S", 0.2)
    trace = TraceFile("x.jsonl", ".", 200)
    units = [Unit(trace, Span(100 * i, 100 * (i + 1)), 100, i) for i in range(2)]
    dealer = Dealer([units[:1], units[1:]], multiprocessing.get_context("fork"))
    assert dealer.lock.acquire()  # as a job that died holding it
    with pytest.raises(RunError, match="a scoring worker died while taking one"):
        next(dealer.deal(0))
