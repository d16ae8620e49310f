"""`score_run`: trace files to a run directory, streamed, in worker processes split by file/byte range.

The parent plans the work units (`_units`), takes the run directory's lock and builds the new run
beside it (`_lifecycle`), deals the units out as contiguous shares, scores the first share itself
while worker processes score the others (`_workers`, `_loop`; a job done early takes units from the
end of the share with the most left), and swaps the finished run in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from .. import __version__
from ..errors import EngineError, RunError
from ..rubrics import Rubric
from ..rubrics.judges import JudgeConfig, judge_run_info, judge_setup
from ..traces import TraceFile, find_trace_files, get_format
from ..traces.remote import is_remote
from . import _faults, _lineindex, _workers
from ._children import available_cores
from ._inputs import plan
from ._lifecycle import open_run_writer
from ._loop import Job
from ._native import kernel_status
from ._store import RUN_FORMAT
from ._units import CHUNK_BYTES, Unit, counted_before, share

ENGINES = ("local", "ray")

# The first share is scored by the parent, which starts at once; every other job first counts the
# lines of the span before its own (~6% of scoring it, in C), so the first share is that much larger.
FIRST_SHARE_WEIGHT = 1.06
# The input bytes a worker needs to pay for its start (smaller inputs use fewer workers): a forked
# worker starts in milliseconds, a spawned one imports the package first (~0.4 s).
BYTES_PER_WORKER = {"fork": 4 << 20, "spawn": 32 << 20}


@dataclass
class RunSummary:
    """What `score_run` did: where the run is, its counts and timings (also in run.json), and notes
    for the user (e.g. `--workers` capped at the cores there are)."""

    path: str
    info: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return int(self.info["counts"]["episodes"])

    @property
    def issues(self) -> int:
        return int(self.info["counts"]["issues"])


def score_run(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    rubric: Rubric,
    out: str | os.PathLike[str],
    *,
    workers: int | None = None,
    format: str | None = None,
    strict: bool = False,
    checks_files: Sequence[str | os.PathLike[str]] = (),
    on_progress: Callable[[int, int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    judge: JudgeConfig | None = None,
    resume: bool = False,
    force: bool = False,
    redact_issues: bool = True,
    redact_episodes: bool = False,
    engine: str = "local",
    ray_address: str | None = None,
) -> RunSummary:
    """Score every episode under `paths` with `rubric` and write the run directory `out`.

    `workers` defaults to the cores there are (capped by them, and by the amount of work); load
    issues are written to the run, or raise LoadIssueError on the first one with `strict`.
    `on_progress(done, total)` gets byte counts. JSONL files larger than `chunk_bytes` are cut into
    line-aligned byte ranges. Judge items are asked of `judge`; without one they are skipped (run.json's
    `judge` entry names them), never failed.

    The run is built beside `out` and swapped in whole at the end: an earlier run there stays readable
    until then. `resume=True` continues an interrupted run from its finished units; `force=True` writes
    into a non-empty directory that is not a run. One writer at a time: a second is refused.
    Load-issue reasons are redacted (`rubricate.redaction`) unless `redact_issues=False`;
    `redact_episodes=True` also redacts the stored episode texts, metadata and verdict reasons.

    `paths` and `out` may be URLs (`s3://bucket/prefix`, any fsspec file system). `engine="ray"`
    scores the same units as Ray tasks on the cluster at `ray_address` (else `RAY_ADDRESS`, else a
    cluster of `workers` CPUs started for this run; see `_ray`).
    """
    if rubric.spec is None:
        raise RunError("score_run needs a rubric loaded from a file or built-in name",
                       hint="use load_rubric(...) or parse_rubric(...)")
    if format:
        get_format(format)
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}", hint=f"use one of: {', '.join(ENGINES)}")
    cluster = None
    if engine == "ray":
        from ._ray import RayCluster

        cluster = RayCluster.check(ray_address)  # before anything is written: is Ray there?
    out = os.fspath(out)
    started = time.perf_counter()
    notes: list[str] = []
    with open_run_writer(out, resume=resume, force=force) as run:
        if run.complete:  # killed between building the run and swapping it in: swap it in now
            return RunSummary(out, run.finish_complete(), notes)
        files = find_trace_files(paths, exclude=out)
        key = {"rubric": rubric.hash, "format": format, "chunk_bytes": chunk_bytes,
               "redact": [redact_issues, redact_episodes]}  # a resumed run's parts must be redacted alike
        notes += run.notes
        if run.resume:
            units = run.load_plan(files, key)
        else:
            units = plan(files, chunk_bytes, format)
            run.save_plan(units, files, key)
        _faults.checkpoint("planned")
        done = run.finished_units()
        todo = [u for u in units if u.index not in done]
        line_counts = [done[u.index].get("lines", -1) if u.index in done else -1 for u in units]
        progress = _progress_callback(on_progress, sum(u.size for u in todo))
        sources = tuple(dict.fromkeys((*rubric.check_sources, *map(os.fspath, checks_files))))
        base = Job([], 0, run.staging, rubric.spec, rubric.path, sources, format, strict,
                   redact_issues=redact_issues, redact_episodes=redact_episodes)
        judged = bool(rubric.judges) and judge is not None
        if cluster is not None:
            with cluster.start(workers, judge) as ray_run:
                results = ray_run.score(base, units, todo, line_counts, progress, rubric, judge, out)
                notes += ray_run.notes
        else:
            results = _score_here(base, todo, line_counts, progress, rubric, judge, workers, files, notes)
        markers = run.finished_units()
        info = _run_info(rubric, paths, format, files, units, markers, results, time.perf_counter() - started)
        info["kernel"] = kernel_status(rubric, judged=judged)
        if run.resume:
            info["resumed"] = {"units_done_before": len(done), "units": len(units)}
        if notes:
            info["notes"] = notes
        if rubric.judges:
            info["judge"] = judge_run_info(rubric, judge, [r["judge"] for r in results])
        if cluster is not None:
            info["engine"] = cluster.describe()
            info["timings"]["workers"] = info["engine"]["cpus"]
        info["timings"]["seconds"] = round(time.perf_counter() - started, 3)
        if cluster is not None and judged:
            from ._ray import merge_kept_answers

            merge_kept_answers(run.staging, judge)
        run.finish(info)
    return RunSummary(out, info, notes)


def _score_here(base: Job, todo: list[Unit], line_counts: list[int], progress: Callable[[int, int], None],
                rubric: Rubric, judge: JudgeConfig | None, workers: int | None, files: list[TraceFile],
                notes: list[str]) -> list[dict[str, Any]]:
    """The local engine: this process and worker processes of this machine; the jobs' totals."""
    n, method = _worker_count(workers, todo, files, notes)
    index = _lineindex.ACTIVE
    if index is not None:  # what it counted while the command started is what the jobs find
        index.stop()
    shares = share(todo, n)  # equal shares when no job counts the share before its own
    if index is None or method != "fork" or not _counted_ahead(index, shares):
        shares = share(todo, n, FIRST_SHARE_WEIGHT)
    setup = judge_setup(rubric, judge, workers=len(shares))
    jobs = [replace(base, units=s, part=k, judge=setup, counted=counted_before(shares, k))
            for k, s in enumerate(shares)]
    try:
        if len(jobs) == 1:
            return [_workers.run_here(jobs[0], progress, line_counts)]
        return _workers.run_jobs(jobs, progress, method, line_counts)
    finally:
        _lineindex.stop_line_index()


def _counted_ahead(index: _lineindex.LineIndex, shares: list[list[Unit]]) -> bool:
    """Every job that starts mid-file finds its file counted up to (a block from) where it starts."""
    for s in shares[1:]:
        first = s[0]
        if first.continues_file and not index.reaches(first.trace.path, first.span.start):
            return False
    return True


def _worker_count(workers: int | None, todo: list[Unit], files: list[TraceFile], notes: list[str]) -> tuple[int, str]:
    cores = available_cores()
    if workers is not None and workers > cores:
        notes.append(f"--workers {workers} is more than the {cores} cores here: using {cores}")
    n = max(1, min(workers if workers is not None else cores, cores))
    method = _workers.start_method()
    total = sum(u.size for u in todo)
    return min(n, max(1, total // BYTES_PER_WORKER[method]), len(todo) or 1), method


def _progress_callback(on_progress: Callable[[int, int], None] | None, total: int) -> Callable[[int, int], None]:
    done = 0

    def progress(nbytes: int, _: int) -> None:
        nonlocal done
        done += nbytes
        if on_progress is not None:
            on_progress(min(done, total), total)

    return progress


def _absolute(path: str | None) -> str | None:
    return os.path.abspath(path) if path and os.path.isfile(path) else path


def _run_info(rubric: Rubric, paths: Any, format: str | None, files: Sequence[TraceFile], units: list[Unit],
              markers: dict[int, dict[str, Any]], results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    verdicts = {"pass": 0, "fail": 0, "na": 0, "error": 0}
    formats: dict[str, int] = {}
    episodes = issues = kernel_episodes = 0
    for m in markers.values():
        episodes += m["episodes"]
        issues += m["issues"]
        kernel_episodes += m.get("kernel_episodes", 0)
        for k, v in m["verdicts"].items():
            verdicts[k] += v
        for k, v in m.get("formats", {}).items():
            formats[k] = formats.get(k, 0) + v
    inputs = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    total_bytes = sum(f.size for f in files)
    return {
        "run_format": RUN_FORMAT,
        "rubricate_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": [p if is_remote(p) else os.path.abspath(p) for p in map(os.fspath, inputs)],
        "format": format,
        "rubric": {**rubric.describe(), "path": _absolute(rubric.path)},
        "counts": {"files": len(files), "units": len(units), "episodes": episodes, "issues": issues,
                   "verdicts": verdicts, "formats": dict(sorted(formats.items())), "kernel_episodes": kernel_episodes},
        "timings": {"seconds": round(seconds, 3), "workers": len(results), "bytes": total_bytes,
                    "episodes_per_s": round(episodes / seconds, 1) if seconds else None,
                    "mb_per_s": round(total_bytes / seconds / 1e6, 2) if seconds else None,
                    "peak_rss_mb_per_worker": [r["peak_rss_mb"] for r in results],
                    "seconds_per_worker": [r["seconds"] for r in results],
                    "units_per_worker": [r.get("units", 0) for r in results]},
    }
