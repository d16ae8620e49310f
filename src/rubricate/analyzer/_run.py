"""`score_run`: trace files to a run directory, streamed, in worker processes split by file/byte range.

The parent lists the files and cuts large JSONL files into line-aligned byte ranges; each job
gets a contiguous share of that work (so the run keeps input order), reads, scores and writes its
own Parquet parts. The parent scores the first share itself while worker processes score the
others (forked when this process has a single thread, else spawned), shows progress, and stitches
the parts at the end.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import queue
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from .. import __version__
from ..errors import LoadIssueError, RunError
from ..rubrics import CheckContext, EpisodeFacts, Rubric, load_checks_file, rubric_from_spec, run_check
from ..rubrics.judges import JudgeBatcher, JudgeConfig, JudgeSetup, judge_run_info, judge_setup
from ..traces import Episode, LoadIssue, Span, TraceFile, TraceFormat, find_trace_files, get_format, read_file
from ..traces._files import count_lines, split_jsonl
from ..traces._loader import choose_format
from ._native import KernelPlan, kernel_stream
from ._score import SCORES
from ._store import RUN_FORMAT, PartWriter, begin_run, join_parts, write_run_info

CHUNK_BYTES = 32 << 20
COUNT_WAIT_S = 3600.0  # a worker waits this long for the line counts it needs (not a limit in practice)
# The first share is scored by the parent, which starts at once; every other job first counts the
# lines of the span before its own (~6% of scoring it, in C), so the first share is that much larger.
FIRST_SHARE_WEIGHT = 1.06
# The input bytes a worker needs to pay for its start (smaller inputs use fewer workers): a forked
# worker starts in milliseconds, a spawned one imports the package first (~0.4 s).
BYTES_PER_WORKER = {"fork": 4 << 20, "spawn": 32 << 20}
START_METHOD: str | None = None  # "fork" or "spawn" forces one; None: fork when it is safe (start_method)


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of work: one file, or one byte range of a large JSONL file."""

    trace: TraceFile
    span: Span
    size: int
    index: int = 0       # position in the run's list of units
    file_first: int = 0  # index of the first unit of the same file


@dataclass
class RunSummary:
    """What `score_run` did: where the run is and its counts and timings (also in run.json)."""

    path: str
    info: dict[str, Any]

    @property
    def episodes(self) -> int:
        return int(self.info["counts"]["episodes"])

    @property
    def issues(self) -> int:
        return int(self.info["counts"]["issues"])


@dataclass
class _WorkerJob:
    units: list[Unit]
    part: int
    parts_dir: str
    rubric_spec: Any
    rubric_path: str | None
    checks_files: tuple[str, ...]
    forced_format: str | None
    strict: bool
    progress: Any = None
    formats: dict[str, int] = field(default_factory=dict)
    judge: JudgeSetup | None = None  # judge items: None when the rubric has none or no judge is configured
    line_counts: Any = None  # shared array: lines in each unit of a split file, -1 until counted
    counted: Unit | None = None  # the unit before this job's first, whose lines it counts for the others


def plan_units(files: Sequence[TraceFile], workers: int, chunk_bytes: int = CHUNK_BYTES,
               forced: str | None = None) -> list[Unit]:
    """Work units: large JSONL files of a splittable format are cut into line-aligned byte ranges
    (numbered later, by the workers: see `_number_lines`)."""
    units: list[Unit] = []
    for trace in files:
        if trace.size > chunk_bytes and workers > 1 and _splittable(trace, forced):
            spans = split_jsonl(trace.path, max(workers, trace.size // chunk_bytes), number_lines=False)
        else:
            spans = [Span()]
        first = len(units)
        for span in spans:
            end = trace.size if span.end is None else span.end
            units.append(Unit(trace, span, end - span.start, len(units), first))
    return units


def _number_lines(job: _WorkerJob) -> list[Unit]:
    """Give the job's first unit its first line number when it continues a file begun in an earlier
    share (only the first can: `merge_spans`). Counting in the parent would read the whole file
    before any worker starts; instead each job counts the unit just before its first one (mapped, in
    C), publishes the count, and waits for the counts of the earlier units of its file. The first
    job needs and counts nothing, so it never waits."""
    if job.counted is not None:
        span = job.counted.span
        job.line_counts[job.counted.index] = count_lines(job.counted.trace.path, span.start, span.end or span.start)
    first = job.units[0] if job.units else None
    if first is None or first.index == first.file_first:
        return job.units
    before = _wait_for_counts(job.line_counts, range(first.file_first, first.index))
    return [replace(first, span=replace(first.span, first_line=1 + before)), *job.units[1:]]


def _wait_for_counts(counts: Any, indices: range) -> int:
    deadline = time.monotonic() + COUNT_WAIT_S
    while True:
        got = [counts[i] for i in indices]
        if min(got) >= 0:
            return sum(got)
        if time.monotonic() > deadline:
            raise RunError(f"waited {COUNT_WAIT_S:.0f} s for another worker's line counts",
                           hint="rerun with --workers 1")
        time.sleep(0.001)


def _splittable(trace: TraceFile, forced: str | None) -> bool:
    fmt = choose_format(trace.path, trace.root, forced)
    return not isinstance(fmt, TraceFormat) or fmt.splittable


def share(units: list[Unit], workers: int, first_weight: float = 1.0) -> list[list[Unit]]:
    """Contiguous shares of about equal bytes (contiguous keeps the input order in the output), the
    first `first_weight` times as large as each other one."""
    total = sum(u.size for u in units) or 1
    scale = total / (first_weight + workers - 1)
    starts = [0.0] + [(first_weight + k - 1) * scale for k in range(1, workers)]  # bytes where share k starts
    shares: list[list[Unit]] = [[] for _ in range(workers)]
    done = k = 0
    for unit in units:
        while k + 1 < workers and done >= starts[k + 1]:
            k += 1
        shares[k].append(unit)
        done += unit.size
    return [s for s in shares if s] or [[]]


def merge_spans(shares: list[list[Unit]]) -> list[list[Unit]]:
    """Join the adjacent byte ranges of one file within each share into one unit (read in one
    pass), and number the units again. After this only a share's first unit can continue a file
    begun in an earlier share."""
    merged: list[list[Unit]] = []
    new_first: dict[int, int] = {}  # a file's first unit: old index -> new index
    index = 0
    for units in shares:
        out: list[Unit] = []
        for unit in units:
            if out and unit.file_first in new_first and out[-1].file_first == new_first[unit.file_first]:
                prev = out[-1]  # the same file's previous byte range, which ends where this one starts
                out[-1] = replace(prev, span=replace(prev.span, end=unit.span.end), size=prev.size + unit.size)
                continue
            out.append(replace(unit, index=index, file_first=new_first.setdefault(unit.file_first, index)))
            index += 1
        merged.append(out)
    return merged


def _score_share(job: _WorkerJob) -> dict[str, Any]:
    """Run in a worker (or in-process): read, score and write one share of the units."""
    started = time.perf_counter()
    for path in job.checks_files:
        load_checks_file(path)
    rubric = rubric_from_spec(job.rubric_spec, path=job.rubric_path)
    items = [(item.id, item.behavior, item.check.fn, item.params) for item in rubric.checks]  # type: ignore[union-attr]
    writer = PartWriter(job.parts_dir, job.part, rubric=rubric)
    # judge items: episodes go through a batcher that judges them and merges rows in rubric order
    judged = JudgeBatcher(job.judge, rubric, writer.add_episode) if job.judge is not None else None
    add_episode = writer.add_episode if judged is None else judged.add
    kernel = KernelPlan.for_rubric(rubric, writer) if judged is None else None
    progress = job.progress
    pending_bytes = 0
    last = time.monotonic()

    def take(item: Episode | LoadIssue, source_file: str) -> int:
        """Score one episode on the Python path (or record its load issue); its byte count."""
        if isinstance(item, LoadIssue):
            if job.strict:
                raise LoadIssueError(str(item), issue=item, path=item.path, line=item.line,
                                     hint="fix or remove the record, or run without --strict")
            writer.add_issue(item)
            return 0
        rows = []
        facts = EpisodeFacts(item)
        for item_id, behavior, fn, params in items:
            outcome = run_check(fn, CheckContext(item, params, facts))
            rows.append((item_id, behavior, outcome.verdict, SCORES[outcome.verdict], outcome.reason,
                         outcome.evidence))
        add_episode(item, rows, source_file)
        job.formats[item.format] = job.formats.get(item.format, 0) + 1
        return len(item.raw) if item.raw is not None else 0

    gc_threshold = gc.get_threshold()
    gc.freeze()  # the hot loop allocates millions of short-lived acyclic objects: collect less often
    gc.set_threshold(50_000, 20, 100)
    try:
        for unit in _number_lines(job):
            unit_bytes = 0
            source_file = os.path.abspath(unit.trace.path)
            fmt = choose_format(unit.trace.path, unit.trace.root, job.forced_format)
            stream = None if kernel is None else \
                kernel_stream(kernel, unit.trace, unit.span, fmt, source_file, job.formats)
            if stream is None:
                stream = read_file(unit.trace, job.forced_format, unit.span, chosen=fmt)
            for item in stream:
                n = item if type(item) is int else take(item, source_file)
                unit_bytes += n
                pending_bytes += n
                now = time.monotonic()
                if progress is not None and now - last > 0.2:
                    progress(pending_bytes, 0)
                    pending_bytes, last = 0, now
            if progress is not None:
                progress(pending_bytes + max(0, unit.size - unit_bytes), 0)
                pending_bytes = 0
        if judged is not None:
            judged.flush()
    finally:
        if judged is not None:
            judged.close()
        if kernel is not None:
            kernel.close()
        writer.close()
        gc.set_threshold(*gc_threshold)
        gc.unfreeze()
    return {"episodes": writer.n_episodes, "issues": writer.n_issues, "verdicts": writer.counts,
            "formats": job.formats, "peak_rss_mb": round(_peak_rss_mb(), 1),
            "seconds": round(time.perf_counter() - started, 3),
            "kernel_episodes": kernel.scored if kernel is not None else 0,
            "judge": judged.ledger.state() if judged is not None else None}


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker_main(job: _WorkerJob, out: Any) -> None:
    def progress(nbytes: int, _: int) -> None:
        out.put(("progress", job.part, nbytes))

    job.progress = progress
    try:
        out.put(("done", job.part, _score_share(job)))
    except LoadIssueError as exc:
        out.put(("strict", job.part, exc.issue))
    except BaseException as exc:  # report, the parent decides
        out.put(("error", job.part, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def score_run(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    rubric: Rubric,
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    format: str | None = None,
    strict: bool = False,
    checks_files: Sequence[str] = (),
    on_progress: Callable[[int, int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    judge: JudgeConfig | None = None,
) -> RunSummary:
    """Score every episode under `paths` with `rubric` and write the run directory `out`.

    `workers` defaults to all cores (capped by the amount of work); load issues are written to the
    run, or raise LoadIssueError on the first one with `strict`. `on_progress(done, total)` gets
    byte counts. JSONL files larger than `chunk_bytes` are split into line-aligned byte ranges.
    Returns the run's summary; run.json is written last. Judge items are asked of `judge`; without
    one they are skipped (run.json's `judge` entry names them), never failed.
    """
    if rubric.spec is None:
        raise RunError("score_run needs a rubric loaded from a file or built-in name",
                       hint="use load_rubric(...) or parse_rubric(...)")
    if format:
        get_format(format)
    out = os.fspath(out)
    started = time.perf_counter()
    files = find_trace_files(paths, exclude=out)
    total_bytes = sum(f.size for f in files)
    n = max(1, workers if workers is not None else (os.cpu_count() or 1))
    method = start_method()
    n = min(n, max(1, total_bytes // BYTES_PER_WORKER[method]), len(files) * 64 or 1)
    units = plan_units(files, n, chunk_bytes, format)
    shares = merge_spans(share(units, n, FIRST_SHARE_WEIGHT))
    setup = judge_setup(rubric, judge, workers=len(shares))
    parts_dir = begin_run(out)
    jobs = [_WorkerJob(s, k, parts_dir, rubric.spec, rubric.path, tuple(map(os.fspath, checks_files)),
                       format, strict, judge=setup) for k, s in enumerate(shares)]
    done = 0

    def progress(nbytes: int, _: int) -> None:
        nonlocal done
        done += nbytes
        if on_progress is not None:
            on_progress(min(done, total_bytes), total_bytes)

    try:
        if len(jobs) == 1:
            jobs[0].progress = progress
            results = [_score_share(jobs[0])]
        else:
            results = _run_jobs(jobs, progress, method)
        join_parts(out, parts_dir, len(jobs))
    except BaseException:
        shutil.rmtree(parts_dir, ignore_errors=True)
        raise
    info = _run_info(rubric, paths, format, len(jobs), files, results, total_bytes, time.perf_counter() - started)
    if rubric.judges:
        info["judge"] = judge_run_info(rubric, judge, [r["judge"] for r in results])
    write_run_info(out, info)
    return RunSummary(out, info)


def start_method() -> str:
    """How worker processes start: `fork` when this process has a single thread (a worker then
    starts in milliseconds with every module already imported), else `spawn` (a fresh interpreter,
    ~0.4 s of imports): forking a process with other threads can deadlock the child. The CLI keeps
    itself single-threaded for this (no progress-bar thread, no jemalloc background thread)."""
    if START_METHOD is not None:
        return START_METHOD
    if "fork" in mp.get_all_start_methods() and _thread_count() == 1:
        return "fork"
    return "spawn"


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: never fork
        return 0


def _run_jobs(jobs: list[_WorkerJob], progress: Callable[[int, int], None], method: str) -> list[dict[str, Any]]:
    """Score the first share here while worker processes (started by `method`) score the others; a
    worker's failure or --strict issue is raised here (the others are stopped) as soon as its
    message arrives."""
    ctx = mp.get_context(method)
    counts = ctx.Array("q", [-1] * (jobs[-1].units[-1].index + 1), lock=False)
    for prev, job in zip(jobs, jobs[1:]):
        first = job.units[0]
        job.counted = prev.units[-1] if first.index > first.file_first else None
    for job in jobs:
        job.line_counts = counts
    channel = ctx.Queue()
    procs = {job.part: ctx.Process(target=_worker_main, args=(job, channel), daemon=True) for job in jobs[1:]}
    results: dict[int, dict[str, Any]] = {}

    def receive(wait: float = 0.0) -> None:
        """Handle every message the workers have sent; with `wait`, first wait that long for one."""
        while True:
            try:
                kind, part, payload = channel.get(timeout=wait) if wait else channel.get_nowait()
            except queue.Empty:
                dead = [p for k, p in procs.items() if k not in results and not p.is_alive()]
                if dead and channel.empty():
                    raise RunError(f"a scoring worker died (exit code {dead[0].exitcode})",
                                   hint="rerun with --workers 1 to see the error in this process") from None
                return
            if kind == "progress":
                progress(payload, 0)
            elif kind == "done":
                results[part] = payload
            elif kind == "strict":
                raise LoadIssueError(str(payload), issue=payload, path=payload.path, line=payload.line,
                                     hint="fix or remove the record, or run without --strict")
            else:
                raise RunError(f"a scoring worker failed: {payload}", hint="rerun with --debug for details")
            wait = 0.0

    def progress_here(nbytes: int, _: int) -> None:
        progress(nbytes, 0)
        receive()

    try:
        for p in procs.values():
            p.start()
        jobs[0].progress = progress_here
        results[0] = _score_share(jobs[0])
        while len(results) < len(jobs):
            receive(wait=1.0)
    except BaseException:
        for p in procs.values():
            if p.pid is not None:
                p.terminate()
        raise
    finally:
        for p in procs.values():
            if p.pid is not None:
                p.join(timeout=5)
    return [results[k] for k in sorted(results)]


def _absolute(path: str | None) -> str | None:
    return os.path.abspath(path) if path and os.path.isfile(path) else path


def _run_info(rubric: Rubric, paths: Any, format: str | None, workers: int, files: Sequence[TraceFile],
              results: list[dict[str, Any]], total_bytes: int, seconds: float) -> dict[str, Any]:
    verdicts = {"pass": 0, "fail": 0, "na": 0, "error": 0}
    formats: dict[str, int] = {}
    peak = [r["peak_rss_mb"] for r in results]
    episodes = issues = kernel_episodes = 0
    for r in results:
        kernel_episodes += r["kernel_episodes"]
        episodes += r["episodes"]
        issues += r["issues"]
        for k, v in r["verdicts"].items():
            verdicts[k] += v
        for k, v in r["formats"].items():
            formats[k] = formats.get(k, 0) + v
    inputs = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return {
        "run_format": RUN_FORMAT,
        "rubricate_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": [os.path.abspath(os.fspath(p)) for p in inputs],
        "format": format,
        "rubric": {**rubric.describe(), "path": _absolute(rubric.path)},
        "counts": {"files": len(files), "episodes": episodes, "issues": issues, "verdicts": verdicts,
                   "formats": dict(sorted(formats.items())),
                   "kernel_episodes": kernel_episodes},
        "timings": {"seconds": round(seconds, 3), "workers": workers, "bytes": total_bytes,
                    "episodes_per_s": round(episodes / seconds, 1) if seconds else None,
                    "mb_per_s": round(total_bytes / seconds / 1e6, 2) if seconds else None,
                    "peak_rss_mb_per_worker": peak,
                    "seconds_per_worker": [r["seconds"] for r in results]},
    }
