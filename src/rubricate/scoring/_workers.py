"""Worker processes of the local engine: the parent scores the first share while workers score the
others, forked when this process has a single thread (a worker then starts in milliseconds with
everything imported), else spawned. Workers die with their parent (Linux: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import traceback
from typing import Any

from ..errors import LoadIssueError, RunError
from . import _faults
from ._children import die_with_parent, thread_count
from ._loop import Job, Progress, score_share
from ._units import Dealer

START_METHOD: str | None = None  # "fork" or "spawn" forces one; None: fork when it is safe (start_method)


def start_method() -> str:
    """How worker processes start: `fork` when this process has a single thread, else `spawn` (a fresh
    interpreter, ~0.4 s of imports): forking a process with other threads can deadlock the child. The
    CLI keeps itself single-threaded for this (no progress-bar thread, no jemalloc background thread)."""
    if START_METHOD is not None:
        return START_METHOD
    if "fork" in mp.get_all_start_methods() and thread_count() == 1:
        return "fork"
    return "spawn"


def _worker_main(job: Job, out: Any, parent: int) -> None:
    die_with_parent(parent)
    _faults.ROLE = "worker"

    def progress(nbytes: int, _: int) -> None:
        out.put(("progress", job.part, nbytes))

    job.progress = progress
    try:
        out.put(("done", job.part, score_share(job)))
    except LoadIssueError as exc:
        out.put(("strict", job.part, exc.issue))
    except BaseException as exc:  # report, the parent decides
        out.put(("error", job.part, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


def run_jobs(jobs: list[Job], progress: Progress, method: str, line_counts: list[int]) -> list[dict[str, Any]]:
    """Score the first share here while worker processes (started by `method`) score the others (a job
    done with its share takes units from the end of the share with the most left: `Dealer`); a
    worker's failure or --strict issue is raised here (the others are stopped) as soon as its
    message arrives. `line_counts`: the newlines of each unit, -1 where not known yet."""
    ctx = mp.get_context(method)
    counts = ctx.Array("q", line_counts, lock=False)
    dealer = Dealer([job.units for job in jobs], ctx)  # a job that is done takes the tail of the slowest share
    for job in jobs:
        job.line_counts, job.dealer = counts, dealer
    channel = ctx.Queue()
    parent = os.getpid()
    procs = {job.part: ctx.Process(target=_worker_main, args=(job, channel, parent), daemon=True) for job in jobs[1:]}
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
                                   hint="rerun with --resume to continue, or with --workers 1 to see the error "
                                        "in this process") from None
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
        results[0] = score_share(jobs[0])
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


def run_here(job: Job, progress: Progress, line_counts: list[int]) -> dict[str, Any]:
    """Score a single job in this process."""
    job.line_counts = list(line_counts)
    job.progress = progress
    return score_share(job)
