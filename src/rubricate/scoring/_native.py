"""The native kernel (`rubricate._kernel`, C) on the scoring hot path.

It scores OpenAI-chat and verifiers-results JSONL lines with the built-in checks straight from the
bytes and appends the rows to a PartWriter's column buffers: `Rubric.evaluate` for a whole block of
lines at once, beneath the scoring loop. The Python code stays the reference:
the kernel gives the same rows or declines a line, and then the line goes through the Python reader
and checks.
A run uses the kernel when it is built, `RUBRICATE_NO_KERNEL` is not set, every programmatic item
of the rubric is a built-in check the kernel has, and no judge is asked (judge items need the
Python Episode).
`RUBRICATE_KERNEL_SO=DIR/_kernel.so` runs a build of scripts/build-kernel.sh instead of the
installed kernel (for working on src/kernel; see src/kernel/README.md).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

import msgspec

from ..rubrics import VERDICTS, Rubric, collapse, tool_names
from ..rubrics.checks import correctness, tool_discipline
from ..traces import Episode, LoadIssue, RecordFormat, TraceFile, display_path, with_shared
from ..traces.files import READ_ERRORS, DamagedStream, Span, container_of, open_binary, read_head
from ._store import PartWriter


def _load_kernel() -> Any:
    """The installed kernel, or the build RUBRICATE_KERNEL_SO names; None when there is none."""
    path = os.environ.get("RUBRICATE_KERNEL_SO")
    if path:
        import importlib.machinery
        import importlib.util

        loader = importlib.machinery.ExtensionFileLoader("rubricate._kernel", path)
        spec = importlib.util.spec_from_file_location("rubricate._kernel", path, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module
    try:
        from .. import _kernel
    except ImportError:  # built without a C compiler: the Python path does everything
        return None
    return _kernel


_kernel = _load_kernel()
# the formats the kernel reads (episode.c): each file's records, normalised as the format's reader does
KERNEL_FORMATS = ("openai-chat", "verifiers-results")

MAX_ITEMS = 30  # the kernel packs an episode's verdicts two bits an item into one 64-bit signature
KERNEL_CHECKS: dict[Callable[..., Any], str] = {
    tool_discipline.discovers_tables: "discovers_tables",
    tool_discipline.inspects_schema: "inspects_schema",
    tool_discipline.recovers_from_errors: "recovers_from_errors",
    tool_discipline.no_repeated_failing_call: "no_repeated_failing_call",
    tool_discipline.grounded_answer: "grounded_answer",
    correctness.answer_correct: "answer_correct",
}


def kernel_available() -> bool:
    return _kernel is not None and not os.environ.get("RUBRICATE_NO_KERNEL")


def kernel_counter() -> Callable[[memoryview], int] | None:
    """The kernel's newline counter (memchr), for `count_lines`; None without the kernel."""
    return _kernel.count_lines if _kernel is not None else None


def kernel_status(rubric: Rubric, judged: bool) -> dict[str, Any]:
    """Whether a run of `rubric` can use the kernel, and why not (run.json's `kernel`)."""
    if _kernel is None:
        return {"used": False, "why": "the native kernel is not built (installed without a C compiler)"}
    if os.environ.get("RUBRICATE_NO_KERNEL"):
        return {"used": False, "why": "RUBRICATE_NO_KERNEL is set"}
    if judged:
        return {"used": False, "why": "judge items are asked: they need every episode in Python"}
    if not rubric.checks:
        return {"used": False, "why": "the rubric has no check items"}
    if len(rubric.checks) > MAX_ITEMS:
        return {"used": False, "why": f"the rubric has more than {MAX_ITEMS} check items"}
    for item in rubric.checks:
        if KERNEL_CHECKS.get(item.check.fn) is None:  # type: ignore[union-attr]
            return {"used": False, "why": f"item {item.id}: check {item.check.name!r} has no native "  # type: ignore[union-attr]
                                          "version (every item of the rubric must have one)"}
        if _kernel_params(item.params) is None:
            return {"used": False, "why": f"item {item.id}: parameters the kernel cannot follow"}
    return {"used": True, "formats": list(KERNEL_FORMATS)}


def _kernel_params(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The item's parameters as the kernel takes them, or None when the kernel cannot follow them."""
    sep = params.get("entity_separator") or ""
    if not isinstance(sep, str):
        return None
    try:
        out: dict[str, Any] = {role: tuple(sorted(tool_names(params, role)))
                               for role in ("discovery", "query", "schema", "answer")}
        entity_args = tuple(params.get("entity_args", ()))
        sql_args = tuple(params.get("sql_args", ()))
    except TypeError:  # not iterable: the Python check reports it
        return None
    out["entity_args"] = tuple(k for k in entity_args if isinstance(k, str) and "\0" not in k)
    out["sql_args"] = tuple(k for k in sql_args if isinstance(k, str) and "\0" not in k)
    out["sep"] = sep
    out["discovery_names"] = tool_discipline.names_text(frozenset(out["discovery"]))
    return out


class KernelPlan:
    """A rubric resolved for the kernel and bound to one PartWriter. The kernel asks `reward` for the
    rubric reward of each new verdict signature (a pure function of the items' verdicts: `collapse`)
    and memoises it."""

    def __init__(self, rubric: Rubric, writer: PartWriter) -> None:
        items = []
        for item in rubric.checks:
            name = KERNEL_CHECKS.get(item.check.fn)  # type: ignore[union-attr]
            params = _kernel_params(item.params)
            if name is None or params is None:
                raise ValueError(f"item {item.id} is not a built-in check the kernel has")
            items.append((name, item.id, item.behavior, params))
        self.rubric = rubric
        self.item_ids = [item.id for item in rubric.checks]
        self.plan = _kernel.Plan(items, msgspec.json.encode, self.reward)
        self.plan.bind(*writer.kernel_columns())
        self.writer = writer
        self._counted = {v: 0 for v in VERDICTS}

    @classmethod
    def for_rubric(cls, rubric: Rubric, writer: PartWriter) -> KernelPlan | None:
        if not kernel_status(rubric, judged=False)["used"]:
            return None
        return cls(rubric, writer)

    def reward(self, signature: int) -> float | None:
        """The rubric reward of the verdicts a signature packs (the kernel memoises it)."""
        verdicts = {item: VERDICTS[(signature >> (2 * k)) & 3] for k, item in enumerate(self.item_ids)}
        return collapse(verdicts, self.rubric).reward

    def take_counts(self) -> dict[str, int]:
        """Verdict counts of the episodes the kernel scored since the last call."""
        now = self.plan.counts()
        delta = {v: now[v] - self._counted[v] for v in VERDICTS}
        self._counted = now
        return delta


def kernel_stream(kernel: KernelPlan, trace: TraceFile, span: Span, fmt: Any, source_file: str,
                  counts: dict[str, int], state: dict[str, int]) -> Iterator[Episode | LoadIssue | int] | None:
    """`score_lines` for a file the kernel reads (OpenAI-chat or verifiers-results JSONL, plain or
    compressed), else None; `fmt` is what `choose_format` gave for the file."""
    if not (isinstance(fmt, RecordFormat) and fmt.name in KERNEL_FORMATS and trace.problem is None
            and container_of(trace.path, read_head(trace.path, 4096)) == "jsonl"):
        return None
    shared = fmt.file_metadata(trace.path)  # what RecordFormat.read merges into every episode
    if not isinstance(shared, dict):
        return None
    return score_lines(kernel, fmt, trace, span, source_file, counts, state, shared)


BLOCK = 4 << 20


class _Blocks:
    """A file read into one reused buffer: `fill` appends the next block after the bytes held,
    `keep_from` moves the unfinished last line to the front. (No fresh 4 MB object per block: that
    cost page faults and copies.)"""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f, self.buf, self.end = f, bytearray(size), 0
        self.damage: DamagedStream | None = None  # what stopped reading early (a truncated .gz), if anything
        self.added = -1  # where `fill` put the newline an unterminated last line lacked (-1: nowhere)

    def fill(self, line_no: int) -> bool:
        """Read more; False at the end of the file (then the data ends with a newline) or at damage
        (then the data ends after the last whole line, and `damage` says where and why)."""
        if self.end == len(self.buf):  # a line longer than the buffer: make room
            self.buf.extend(bytes(len(self.buf)))
        with memoryview(self.buf) as view:
            try:  # readinto1: one read of the stream, so the bytes before damage are kept
                n = self.f.readinto1(view[self.end:])  # type: ignore[attr-defined]
            except READ_ERRORS as exc:
                self.end = self.buf.rfind(b"\n", 0, self.end) + 1
                lines = self.buf.count(b"\n", 0, self.end)
                self.damage = DamagedStream(f"cannot read the rest of the file: {exc}", line_no + lines)
                return False
        self.end += n or 0
        if n:
            return True
        if self.end and self.buf[self.end - 1] != 0x0A:  # the last line, unterminated
            if self.end == len(self.buf):
                self.buf.append(0x0A)
            else:
                self.buf[self.end] = 0x0A
            self.added = self.end
            self.end += 1
        return False

    def keep_from(self, pos: int) -> None:
        tail = self.end - pos
        if tail and pos:
            self.buf[:tail] = self.buf[pos:self.end]
        self.end = tail


def score_lines(kernel: KernelPlan, fmt: RecordFormat, trace: TraceFile, span: Span, source_file: str,
                counts: dict[str, int], state: dict[str, int],
                shared: dict[str, Any] | None = None) -> Iterator[Episode | LoadIssue | int]:
    """Score the lines of one file (or span) with the kernel, block by block. Yields the byte count
    of what the kernel scored, and the Episode or LoadIssue of each line it declined (for the
    Python path). Lines are those of `iter_lines`: a span holds the lines that start inside it.
    `shared` is the file's metadata (`fmt.file_metadata`): merged into every episode as
    `RecordFormat.read` does, by the kernel and here for the declined lines. `state` gets the
    episodes the kernel scored (`kernel_episodes`) and, read to its end, the line after the span
    (`end_line`)."""
    rel = display_path(trace.path, trace.root)
    plan, writer, score_chunk = kernel.plan, kernel.writer, _kernel.score_chunk
    plan.set_source(rel, source_file, fmt.name, shared or None)
    line_no, offset, scored = span.first_line, span.start, 0  # offset: of the buffer's first byte in the file
    collecting = gc.isenabled()
    gc.disable()  # the kernel makes only acyclic objects (strs, floats, tuples of ints): nothing to collect
    try:
        with open_binary(trace.path) as f:
            if span.start:
                f.seek(span.start)
            blocks = _Blocks(f, BLOCK)
            more = True
            while more:
                more = blocks.fill(line_no)
                buf, end = blocks.buf, blocks.end
                stop = end + 1 if span.end is None else span.end - offset
                pos = status = 0
                with memoryview(buf) as view:
                    while True:
                        status, pos, line_no, n, nbytes = score_chunk(plan, view[:end], pos, stop, line_no)
                        if n:
                            scored += n
                            writer.added_by_kernel(n)
                            yield nbytes
                        if status != 1:
                            break
                        nl = buf.index(b"\n", pos, end) + 1  # the declined line, for the Python path
                        # (without the newline `fill` added: the reader sees the line as iter_lines gives it)
                        line = bytes(view[pos:nl - 1 if nl - 1 == blocks.added else nl])
                        yield with_shared(fmt.record(line, rel, line_no), shared)
                        pos, line_no = nl, line_no + 1
                if status == 2:
                    break
                offset += pos
                blocks.keep_from(pos)
        if blocks.damage is not None:  # truncated or corrupt .gz/.zst: every whole line before it was scored
            yield LoadIssue(rel, str(blocks.damage), line=blocks.damage.line, format=fmt.name)
        else:
            state["end_line"] = line_no
    except READ_ERRORS as exc:  # the file cannot be opened
        yield LoadIssue(rel, f"cannot read the file: {exc}", format=fmt.name)
    finally:
        if collecting:
            gc.enable()
    counts[fmt.name] = counts.get(fmt.name, 0) + scored
    state["kernel_episodes"] = state.get("kernel_episodes", 0) + scored
