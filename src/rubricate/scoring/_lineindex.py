"""Line numbers counted ahead, on a core that would sit idle.

Every job but the first starts in the middle of a large JSONL file and needs the line number it starts
at: it used to count the newlines of the share before its own first (~0.2 s a GB, in C). While
`rubricate score` starts (imports, rubric, plan: ~0.3 s of one core), a forked process counts them
instead: the newlines of each block of `block` bytes of the large plain JSONL inputs, in order, into
memory shared with the processes forked later. A job takes the counted blocks and counts only the
rest itself, so the index changes when a line number is known, never what it is.

This module imports nothing heavy: the command starts the index before it imports the scoring stack.
"""

from __future__ import annotations

import mmap
import os
import signal
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._children import available_cores, die_with_parent, thread_count

BLOCK = 16 << 20
MIN_BYTES = 64 << 20  # smaller inputs: no index (a job's count of them takes milliseconds)

Counter = Callable[[memoryview], int]


@dataclass(frozen=True)
class _File:
    path: str
    size: int
    first: int   # its first block's slot in the shared counts
    blocks: int  # the blocks counted ahead (those before `limit`)


class LineIndex:
    """Newline counts per block of some files, filled by a forked counter (`start`) and read by the
    jobs (`lines_before`). `limit` (0-1) is the part of each file worth counting ahead: the last job
    starts at (n-1)/n of a file for n jobs."""

    def __init__(self, paths: Sequence[str], *, limit: float = 1.0, block: int = BLOCK) -> None:
        self.block = block
        self.files: dict[str, _File] = {}
        slots = 0
        for path in paths:
            real = os.path.realpath(path)
            if real in self.files:
                continue
            try:
                size = os.path.getsize(real)
            except OSError:  # gone since it was listed: its readers report it
                continue
            blocks = min(-(-size // block), int(size * limit) // block + 2)
            self.files[real] = _File(real, size, slots, blocks)
            slots += blocks
        self._memory = mmap.mmap(-1, max(8, 8 * slots))  # anonymous and shared: seen by later forks
        self._counts = memoryview(self._memory).cast("q")
        for i in range(slots):
            self._counts[i] = -1
        self.pid: int | None = None

    @classmethod
    def for_inputs(cls, paths: Sequence[str], jobs: int) -> LineIndex | None:
        """An index of the plain JSONL files of at least MIN_BYTES under `paths` (files, or directories
        walked for *.jsonl), for a run of `jobs` jobs; None when there is nothing to count."""
        if jobs < 2:
            return None
        found = _large_jsonl_files(paths, MIN_BYTES)
        return cls(found, limit=(jobs - 1) / jobs, block=BLOCK) if found else None

    def start(self, counter: Counter | None = None) -> None:
        """Fork the counter process (it exits when every block is counted, or is stopped by `stop`)."""
        parent = os.getpid()
        pid = os.fork()
        if pid:
            self.pid = pid
            return
        code = 0
        try:  # the child: count, and leave without running the parent's exit handlers or flushing its files
            die_with_parent(parent)
            for f in self.files.values():
                for b in range(f.blocks):
                    self._counts[f.first + b] = _count_block(f.path, b * self.block,
                                                             min(f.size, (b + 1) * self.block), counter)
        except BaseException:  # noqa: BLE001  (the jobs count what is missing themselves)
            code = 1
        finally:
            os._exit(code)

    def stop(self) -> None:
        """Stop the counter (if still counting) and reap it: what it counted stays."""
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        self.pid = None

    def counted_until(self, path: str) -> int | None:
        """The byte offset up to which `path`'s newlines are counted (a whole number of blocks); None
        when the file is not indexed."""
        f = self.files.get(os.path.realpath(path))
        if f is None:
            return None
        done = 0
        while done < f.blocks and self._counts[f.first + done] >= 0:
            done += 1
        return min(f.size, done * self.block)

    def reaches(self, path: str, offset: int) -> bool:
        """Whether `path` is counted up to a block from byte `offset` (then `lines_before` counts at most
        a block itself)."""
        until = self.counted_until(path)
        return until is not None and until + self.block >= offset

    def lines_before(self, path: str, offset: int, counter: Counter | None = None) -> int | None:
        """The newlines of `path` before byte `offset`: the counted blocks, and the rest counted now;
        None when the file is not indexed."""
        f = self.files.get(os.path.realpath(path))
        if f is None or offset > f.size:
            return None
        lines = pos = 0
        for b in range(min(f.blocks, offset // self.block)):
            n = self._counts[f.first + b]
            if n < 0:
                break
            lines += n
            pos = (b + 1) * self.block
        from ..traces.files import count_lines  # (a job has the readers imported already)

        return lines + count_lines(f.path, pos, offset, counter=counter)


ACTIVE: LineIndex | None = None  # the index of the run this process is starting (see start_line_index)


def start_line_index(paths: Sequence[str], workers: int | None = None) -> LineIndex | None:
    """Start counting ahead for a local run with `workers` worker processes (default: the cores) over
    `paths`, before the caller imports the rest (the command does, first thing); the run's jobs use it.
    Nothing is started in a process with other threads (forking one is not safe), on one core, or when
    no input is large enough: then None."""
    global ACTIVE
    stop_line_index()
    cores = available_cores()
    index = LineIndex.for_inputs(paths, min(workers or cores, cores)) if thread_count() == 1 else None
    if index is not None:
        index.start(_kernel_counter())  # the kernel is loaded here: the child imports nothing
    ACTIVE = index
    return index


def stop_line_index() -> None:
    global ACTIVE
    if ACTIVE is not None:
        ACTIVE.stop()
    ACTIVE = None


def _count_block(path: str, start: int, end: int, counter: Counter | None) -> int:
    """The newlines in bytes [start, end) (one block) of a local file, mapped when `counter` is given."""
    with open(path, "rb") as f:
        if counter is None:
            f.seek(start)
            return f.read(end - start).count(b"\n")
        base = start - start % mmap.ALLOCATIONGRANULARITY
        with mmap.mmap(f.fileno(), end - base, access=mmap.ACCESS_READ, offset=base) as mm, memoryview(mm) as view:
            return int(counter(view[start - base:]))


def _kernel_counter() -> Counter | None:
    try:
        from .._kernel import count_lines
    except ImportError:
        return None
    return count_lines  # type: ignore[no-any-return]


def _large_jsonl_files(paths: Sequence[str], min_bytes: int) -> list[str]:
    """The regular *.jsonl files of at least `min_bytes` among `paths` and under its directories; anything
    that cannot be read (a broken link, a loop) is left to the readers, which report it."""
    out: list[str] = []

    def take(path: str) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        if stat.S_ISREG(st.st_mode) and st.st_size >= min_bytes:
            out.append(path)

    for p in paths:
        if p.endswith(".jsonl"):
            take(p)
        elif os.path.isdir(p):
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    if name.endswith(".jsonl") and not name.startswith("."):
                        take(os.path.join(dirpath, name))
    return out
