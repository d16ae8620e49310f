"""The scoring loop of one job: read its units, score every episode with `Rubric.evaluate` (or the
native kernel beneath it: every item from the bytes, or, for a mixed rubric, its native items given
to `Rubric.evaluate`), write one part per unit and commit it.

Run in a worker process, in the parent (it scores the first share itself), or by a cluster task: a
`Job` is plain data, so it pickles.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import LoadIssueError
from ..rubrics import Rubric, load_checks, rubric_from_spec
from ..rubrics.judges import JudgeBatcher, JudgeSetup
from ..traces import Episode, LoadIssue, choose_format, read_file
from ..traces.files import count_lines
from . import _faults, _lineindex
from ._inputs import UnitInputs, source_name
from ._native import KernelPlan, kernel_counter, kernel_stream
from ._store import PartWriter
from ._units import Dealer, LineNumbers, Unit

Progress = Callable[[int, int], None]


@dataclass
class Job:
    """One share of a run's units and everything needed to score it in another process."""

    units: list[Unit]
    part: int
    run_dir: str
    rubric_spec: Any
    rubric_path: str | None
    checks_files: tuple[str, ...]
    forced_format: str | None
    strict: bool
    judge: JudgeSetup | None = None  # judge items: None when the rubric has none or no judge is configured
    line_counts: Any = None   # shared array: newlines in each unit, -1 until known (see LineNumbers)
    counted: list[Unit] = field(default_factory=list)  # units of the previous share this job counts
    dealer: Dealer | None = None  # hands out the units of every local job (else: `units`, in order)
    redact_issues: bool = True     # load-issue reasons through rubricate.redaction
    redact_episodes: bool = False  # stored episode texts and verdict reasons too (`score --redact`)
    progress: Progress | None = None
    tmp_dir: str | None = None  # where units are written until they commit (default RUN/.tmp)


def load_job_rubric(job: Job) -> Rubric:
    for source in job.checks_files:  # paths and `module:NAME`s (see load_checks)
        load_checks(source)
    return rubric_from_spec(job.rubric_spec, path=job.rubric_path)


def score_share(job: Job) -> dict[str, Any]:
    """Score the job's units; returns its totals (the units' markers hold the same counts per unit)."""
    started = time.perf_counter()
    rubric = load_job_rubric(job)
    writer = PartWriter(job.run_dir, tmp_dir=job.tmp_dir, redact_issues=job.redact_issues,
                        redact_episodes=job.redact_episodes)
    evaluate, reward = rubric.evaluate, rubric.reward
    judged = None if job.judge is None else JudgeBatcher(
        job.judge, rubric, lambda ep, verdicts, source: writer.add_episode(ep, verdicts, source, reward(verdicts).reward))
    kernel = KernelPlan.for_rubric(rubric, writer, judged=judged is not None)
    mixed = kernel if kernel is not None and kernel.mixed else None
    lines = LineNumbers(job.line_counts, kernel_counter(), _lineindex.ACTIVE)
    lines.count(job.counted)
    totals: dict[str, Any] = {"episodes": 0, "issues": 0, "verdicts": {"pass": 0, "fail": 0, "na": 0, "error": 0},
                              "formats": {}, "kernel_episodes": 0, "units": 0}
    progress = _Progress(job.progress)
    inputs = UnitInputs()  # remote files are read from local mirrors

    def take(item: Episode | LoadIssue, source_file: str, formats: dict[str, int], state: dict[str, int]) -> int:
        """Score one episode on the Python path (or record its load issue); its byte count."""
        if isinstance(item, LoadIssue):
            if job.strict:
                raise LoadIssueError(str(item), issue=item, path=item.path, line=item.line,
                                     hint="fix or remove the record, or run without --strict")
            writer.add_issue(item)
            return 0
        given = mixed.given(item) if mixed is not None else None
        if given is not None:
            state["kernel_episodes"] = state.get("kernel_episodes", 0) + 1
        if judged is not None:
            judged.add(item, source_file, given)
        else:
            verdicts = evaluate(item, given=given)
            writer.add_episode(item, verdicts, source_file, reward(verdicts).reward)
        formats[item.format] = formats.get(item.format, 0) + 1
        return len(item.raw) if item.raw is not None else 0

    gc_threshold = gc.get_threshold()
    gc.freeze()  # the hot loop allocates millions of short-lived acyclic objects: collect less often
    gc.set_threshold(50_000, 20, 100)
    try:
        for unit, taken in _units_of(job):
            unit = lines.number_taken(unit, job.dealer.same_file_before(unit)) if taken else lines.number(unit)
            writer.begin(unit.index)
            formats: dict[str, int] = {}
            source_file = source_name(unit.trace)
            unit = inputs.local(unit)
            fmt = choose_format(unit.trace.path, unit.trace.root, job.forced_format)
            state: dict[str, int] = {}
            stream = None if kernel is None or mixed is not None else \
                kernel_stream(kernel, unit.trace, unit.span, fmt, source_file, formats, state)
            if stream is None:
                if mixed is not None:
                    mixed.open_file(unit.trace, fmt, source_file)
                stream = read_file(unit.trace, job.forced_format, unit.span, chosen=fmt)
            unit_bytes = 0
            for item in stream:
                n = item if type(item) is int else take(item, source_file, formats, state)
                unit_bytes += n
                progress.add(n)
                if _faults.ACTIVE:
                    _faults.checkpoint("mid-unit")
            if judged is not None:
                judged.flush()
                writer.add_answers(judged.take_kept(), judged.judge.config.model)
            progress.add(max(0, unit.size - unit_bytes), force=True)
            marker = _commit(writer, kernel, unit, lines, state, formats)
            inputs.release()
            _add_totals(totals, marker)
            _faults.checkpoint("unit-committed")
    except BaseException:
        writer.abort()
        raise
    finally:
        inputs.close()
        if judged is not None:
            judged.close()
        gc.set_threshold(*gc_threshold)
        gc.unfreeze()
    totals.update(peak_rss_mb=round(_peak_rss_mb(), 1), seconds=round(time.perf_counter() - started, 3),
                  judge=judged.ledger.state() if judged is not None else None)
    return totals


def _units_of(job: Job) -> Iterator[tuple[Unit, bool]]:
    """The units the job scores, each with whether it was taken from another job's share."""
    if job.dealer is not None:
        return job.dealer.deal(job.part)
    return ((u, False) for u in job.units)


def _commit(writer: PartWriter, kernel: KernelPlan | None, unit: Unit, lines: LineNumbers, state: dict[str, int],
            formats: dict[str, int]) -> dict[str, Any]:
    extra: dict[str, Any] = {"formats": formats, "kernel_episodes": state.get("kernel_episodes", 0)}
    if unit.span.end is not None or unit.continues_file:  # a range of a split file: its line count numbers the next
        end_line = state.get("end_line")
        n = end_line - unit.span.first_line if end_line is not None else \
            count_lines(unit.trace.path, unit.span.start, unit.span.end or unit.trace.size, counter=lines.counter)
        lines.finished(unit, n)
        extra["lines"] = n
    if kernel is not None and not kernel.mixed:  # mixed: the writer counted every episode's verdicts
        writer.add_counts(kernel.take_counts())
    return writer.commit(extra)


def _add_totals(totals: dict[str, Any], marker: dict[str, Any]) -> None:
    totals["units"] += 1
    totals["episodes"] += marker["episodes"]
    totals["issues"] += marker["issues"]
    totals["kernel_episodes"] += marker.get("kernel_episodes", 0)
    for k, v in marker["verdicts"].items():
        totals["verdicts"][k] += v
    for k, v in marker.get("formats", {}).items():
        totals["formats"][k] = totals["formats"].get(k, 0) + v


class _Progress:
    """Byte counts to the progress callback, at most five times a second."""

    def __init__(self, callback: Progress | None) -> None:
        self.callback, self.pending, self.last = callback, 0, time.monotonic()

    def add(self, n: int, force: bool = False) -> None:
        if self.callback is None:
            return
        self.pending += n
        now = time.monotonic()
        if force or now - self.last > 0.2:
            self.callback(self.pending, 0)
            self.pending, self.last = 0, now


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
