"""Work units: the files of a run, large JSONL files cut into line-aligned byte ranges, dealt out as
contiguous shares (a job done with its own takes from the end of the fullest: `Dealer`), and numbered
by line. Parts are named by unit, so the output follows the input order whoever scored a unit.

A unit is the grain of everything after: one unit -> one Parquet part per dataset, one marker; a
resumed run skips the units whose markers exist; a cluster engine can ship units as tasks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import RunError
from ..traces import Span, TraceFile, TraceFormat, choose_format
from ..traces.files import count_lines, split_jsonl
from ..traces.remote import count_remote_lines, is_remote
from ._lineindex import LineIndex

CHUNK_BYTES = 32 << 20
COUNT_WAIT_S = 3600.0  # a worker waits this long for the line counts it needs (not a limit in practice)
LOCK_WAIT_S = 10.0  # a job waits this long for the dealer's lock (held for microseconds)


@dataclass(frozen=True, slots=True)
class Unit:
    """A piece of work: one file, or one byte range of a large JSONL file. `file_first` is the index
    of the first unit of the same file; `span.first_line` is 0 until the unit is numbered."""

    trace: TraceFile
    span: Span
    size: int
    index: int = 0
    file_first: int = 0

    @property
    def continues_file(self) -> bool:
        return self.index > self.file_first


def plan_units(files: Sequence[TraceFile], chunk_bytes: int = CHUNK_BYTES, forced: str | None = None) -> list[Unit]:
    """Work units: JSONL files of a splittable format larger than `chunk_bytes` are cut into ranges of
    about that size (the same cut whatever the number of workers, so a run can be resumed by any)."""
    units: list[Unit] = []
    for trace in files:
        if trace.size > chunk_bytes and _splittable(trace, forced):
            spans = split_jsonl(trace.path, -(-trace.size // chunk_bytes), number_lines=False)
        else:
            spans = [Span()]
        first = len(units)
        for span in spans:
            end = trace.size if span.end is None else span.end
            units.append(Unit(trace, span, end - span.start, len(units), first))
    return units


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


class Dealer:
    """The units of a local run's shares, handed out while the jobs run: job `k` takes its own share
    from the front and, once that is taken, the last unit not yet taken of the share with the most left
    (work stealing), so the jobs finish together however unevenly their cores go. `bounds` holds, per
    share, the position of its next unit and the end of what is left of it, in memory shared by the
    processes of `ctx` (a multiprocessing context)."""

    def __init__(self, shares: list[list[Unit]], ctx: Any) -> None:
        self.units = [u for s in shares for u in s]
        bounds: list[int] = []
        for s in shares:
            start = bounds[-1] if bounds else 0
            bounds += [start, start + len(s)]
        self.bounds = ctx.Array("q", bounds, lock=False)
        self.lock = ctx.Lock()  # (not reentrant: a job that dies in it is seen)

    def deal(self, k: int) -> Iterator[tuple[Unit, bool]]:
        """Job `k`'s units, each with whether it was taken from another share."""
        while True:  # the lock is held for microseconds; only a job killed inside it keeps it
            if not self.lock.acquire(timeout=LOCK_WAIT_S):
                raise RunError(f"waited {LOCK_WAIT_S:.0f} s for the next unit: a scoring worker died while "
                               "taking one", hint="rerun with --resume to continue")
            try:
                taken = self._take(k)
            finally:
                self.lock.release()
            if taken is None:
                return
            yield self.units[taken[0]], taken[1]

    def _take(self, k: int) -> tuple[int, bool] | None:
        b = self.bounds
        if b[2 * k] < b[2 * k + 1]:
            b[2 * k] += 1
            return b[2 * k] - 1, False
        left = [b[2 * j + 1] - b[2 * j] for j in range(len(b) // 2)]
        j = max(range(len(left)), key=left.__getitem__)
        if left[j] <= 0:
            return None
        b[2 * j + 1] -= 1
        return b[2 * j + 1], True

    def same_file_before(self, unit: Unit) -> list[Unit]:
        """The units of this run before `unit` in its file (those not dealt here are done already)."""
        return [u for u in self.units if unit.file_first <= u.index < unit.index]


def counted_before(shares: list[list[Unit]], k: int) -> list[Unit]:
    """The units job `k` counts the lines of before it starts: those of the previous share that belong
    to the file its first unit continues (counted in parallel, in C, rather than by the parent)."""
    if k == 0 or not shares[k] or not shares[k][0].continues_file:
        return []
    first = shares[k][0]
    return [u for u in shares[k - 1] if u.file_first == first.file_first]


class LineNumbers:
    """First line numbers of the units of split files. `counts` is shared by the jobs of a run (an
    array of newline counts per unit, -1 until known); a job numbers a unit that continues its own
    previous unit itself, and waits for the counts of earlier units it did not read."""

    def __init__(self, counts: Any, counter: Callable[[memoryview], int] | None = None,
                 index: LineIndex | None = None) -> None:
        self.counts, self.counter, self.index = counts, counter, index
        self._next: tuple[int, int] | None = None  # (unit index, its first line) expected next

    def count(self, units: Sequence[Unit]) -> None:
        """Count the units of the share before this job's (unless the line index has their file: then
        `number` takes the first line from it)."""
        if units and self.index is not None and self.index.counted_until(units[0].trace.path) is not None:
            return
        for u in units:
            if self.counts[u.index] < 0:
                self.counts[u.index] = unit_lines(u, self.counter)

    def number(self, unit: Unit) -> Unit:
        """The unit with its first line number."""
        if not unit.continues_file:
            first = 1
        elif self._next is not None and self._next[0] == unit.index:
            first = self._next[1]
        else:
            before = None if self.index is None else self.index.lines_before(unit.trace.path, unit.span.start,
                                                                                self.counter)
            if before is None:
                before = _wait_for_counts(self.counts, range(unit.file_first, unit.index))
            first = 1 + before
        return replace(unit, span=replace(unit.span, first_line=first))

    def number_taken(self, unit: Unit, before: Sequence[Unit]) -> Unit:
        """`unit`, taken from another job's share, with its first line number: from the line index where
        it has counted up to (a block from) the unit, else the newlines of `before` (the units ahead of
        it in its file) that no job has published yet are counted here, now (a few milliseconds a unit,
        in C), rather than waited for."""
        if not unit.continues_file or (self.index is not None and self.index.reaches(unit.trace.path,
                                                                                      unit.span.start)):
            return self.number(unit)
        for u in before:
            if self.counts[u.index] < 0:
                self.counts[u.index] = unit_lines(u, self.counter)
        first = 1 + _wait_for_counts(self.counts, range(unit.file_first, unit.index))
        return replace(unit, span=replace(unit.span, first_line=first))

    def finished(self, unit: Unit, lines: int) -> None:
        """`unit` (numbered) holds `lines` lines: publish the count, expect the next unit."""
        self.counts[unit.index] = lines
        self._next = (unit.index + 1, unit.span.first_line + lines)


def unit_lines(unit: Unit, counter: Callable[[memoryview], int] | None = None) -> int:
    """The newlines in a unit's byte range, wherever its file is (a local file is mapped and counted in C
    with `counter`)."""
    end = unit.span.end or unit.span.start
    if is_remote(unit.trace.path):
        return count_remote_lines(unit.trace.path, unit.span.start, end)
    return count_lines(unit.trace.path, unit.span.start, end, counter=counter)


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
