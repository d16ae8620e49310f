"""The native kernel (`rubricate._kernel`, C) on the scoring hot path.

It scores OpenAI-chat and verifiers-results JSONL lines with the built-in checks straight from the
bytes: `Rubric.evaluate` for a whole block of lines at once, beneath the scoring loop. The Python
code stays the reference: the kernel gives the same verdicts, reasons and evidence, or declines a
line, and then the line goes through the Python reader and checks.

Which checks it has, the parameters it reads and the reasons it gives are declared once, in
src/kernel/checks.h; the module hands that declaration over (`_kernel.CHECKS`, `PARAMS`, `REASONS`)
and everything here derives from it. The kernel's checks give each reason as a code with its arguments
and the text is filled into the template of the one table the Python checks render theirs from
(`REASONS`), handed to the kernel as pieces (`reason_templates`).

A run uses the kernel when it is built and `RUBRICATE_NO_KERNEL` is not set, for the items that
are built-in checks it has (`split_items`). When every item is one, the kernel writes the rows
itself (`kernel_stream`); otherwise (a custom check, an agent-basics item, a judge item beside
them) the rubric is mixed: the Python reader builds each episode, the kernel scores its native
items from the same line (`KernelPlan.given`) and `Rubric.evaluate` the rest. `NativeItems` (public as
`rubricate.scoring.NativeItems`) does the same for one record in hand, with no file or run: the reward
scorer writes each rollout as a verifiers-results record and takes the kernel's verdicts as `given`.
`RUBRICATE_KERNEL_SO=DIR/_kernel.so` runs a build of scripts/build-kernel.sh instead of the
installed kernel (for working on src/kernel; see src/kernel/README.md).
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec

from ..rubrics import SCORES, VERDICTS, Item, Rubric, Verdict, collapse, registered_checks, tool_names
from ..rubrics.checks import REASONS, SEPARATOR
from ..traces import Episode, LoadIssue, RecordFormat, TraceFile, display_path, with_shared
from ..traces.files import READ_ERRORS, DamagedStream, Span, container_of, open_binary, read_head, strip_bom

if TYPE_CHECKING:  # (pyarrow is not imported for NativeItems alone)
    from ._store import PartWriter


def load_kernel(path: str | None = None) -> Any:
    """The installed kernel, or the build at `path` (default: RUBRICATE_KERNEL_SO); None when there is none."""
    path = path or os.environ.get("RUBRICATE_KERNEL_SO")
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


_kernel = load_kernel()
# the formats the kernel reads (episode.c): each file's records, normalised as the format's reader does
KERNEL_FORMATS = ("openai-chat", "verifiers-results")


def kernel_available() -> bool:
    return _kernel is not None and not os.environ.get("RUBRICATE_NO_KERNEL")


def kernel_counter() -> Callable[[memoryview], int] | None:
    """The kernel's newline counter (memchr), for `count_lines`; None without the kernel."""
    return _kernel.count_lines if _kernel is not None else None


def kernel_reads(trace: TraceFile, fmt: Any) -> bool:
    """True for a file the kernel reads: OpenAI-chat or verifiers-results JSONL, plain or compressed
    (`fmt` is what `choose_format` gave for it)."""
    return isinstance(fmt, RecordFormat) and fmt.name in KERNEL_FORMATS and trace.problem is None \
        and container_of(trace.path, read_head(trace.path, 4096)) == "jsonl"


def native_checks(kernel: Any = None) -> dict[Callable[..., Any], str]:
    """The built-in checks the kernel has (its declaration, `_kernel.CHECKS`), by check function."""
    kernel = kernel or _kernel
    if kernel is None:
        return {}
    checks = registered_checks()
    return {checks[name].fn: name for name in kernel.CHECKS
            if name in checks and checks[name].fn.__module__.startswith("rubricate.rubrics.checks.")}


def kernel_params(params: Mapping[str, Any], kernel: Any = None) -> dict[str, Any] | None:
    """An item's parameters as the kernel takes them (each parameter of its declaration,
    `_kernel.PARAMS`, by kind), or None when the kernel cannot follow them."""
    out: dict[str, Any] = {}
    for name, kind in (kernel or _kernel).PARAMS:
        value = params.get(name)
        try:
            if kind == "TOOLS":
                out[name] = tuple(sorted(tool_names(params, name.removesuffix("_tools"))))
            elif kind == "KEYS":
                # a key that is not a str never matches a JSON object's key (the Python check's lookup)
                keys = tuple(k for k in (value or ()) if isinstance(k, str))
                if any("\0" in k for k in keys):
                    return None
                out[name] = keys
            else:  # TEXT
                if not isinstance(value or "", str):
                    return None
                out[name] = value or ""
        except TypeError:  # not iterable: the Python check reports it
            return None
    return out


KernelPieces = tuple[tuple[str, int, bool], ...]


def reason_templates(kernel: Any = None) -> list[tuple[KernelPieces, KernelPieces, str]]:
    """The kernel's reasons (`_kernel.REASONS`, by code index) as it fills them in: for each, the
    template and its `each` as pieces (literal text, the argument shown after it or -1, as repr?) and
    the list separator, from the one table of reason templates (`REASONS`). ValueError when the
    kernel names a reason the table lacks, or other arguments than the template's fields."""
    out = []
    for code, fields in (kernel or _kernel).REASONS:
        reason = REASONS.get(code)
        if reason is None:
            raise ValueError(f"the kernel gives reason {code!r}, which has no template (rubrics/_reasons.py)")
        if sorted(fields) != sorted(reason.fields):
            raise ValueError(f"reason {code}: the kernel passes {fields}, the template names {reason.fields}")
        text, each = reason.pieces()
        out.append((tuple((lit, -1 if name is None else fields.index(name), r) for lit, name, r in text),
                    tuple((lit, -1 if name is None else int(name), r) for lit, name, r in each), SEPARATOR))
    return out


@functools.lru_cache(maxsize=1)
def _stale_kernel() -> str | None:
    """Why the kernel's declaration does not fit the Python side (a build older than the sources), or None."""
    try:
        reason_templates()
        return None if isinstance(_kernel.CHECKS, tuple) and isinstance(_kernel.PARAMS, tuple) else "no declaration"
    except (AttributeError, ValueError) as exc:
        return str(exc)


@dataclass
class ItemSplit:
    """Which items of a rubric the kernel scores (`native`: item, check name, kernel parameters) and
    which run in Python, each with why (`python`: item id -> why)."""

    native: list[tuple[Item, str, dict[str, Any]]] = field(default_factory=list)
    python: dict[str, str] = field(default_factory=dict)


def split_items(rubric: Rubric, judged: bool) -> ItemSplit:
    """The rubric's items the kernel can score, and the others (a judge item counts only when a
    judge is asked: otherwise it is skipped)."""
    checks = native_checks()
    split = ItemSplit()
    for item in rubric.items:
        if item.check is None:
            if judged:
                split.python[item.id] = "a judge item"
            continue
        name = checks.get(item.check.fn)
        params = kernel_params(item.params) if name is not None else None
        if name is None:
            split.python[item.id] = f"check {item.check.name!r} has no native version"
        elif params is None:
            split.python[item.id] = "parameters the kernel cannot follow"
        elif len(split.native) >= _kernel.MAX_ITEMS:
            split.python[item.id] = f"the kernel takes at most {_kernel.MAX_ITEMS} items"
        else:
            split.native.append((item, name, params))
    return split


def kernel_status(rubric: Rubric, judged: bool) -> dict[str, Any]:
    """Whether a run of `rubric` uses the kernel, for which items, and why not (run.json's `kernel`):
    `used`, `formats`; for a mixed rubric `native` (item ids) and `python` (item id -> why); `why`
    when it is off or partial."""
    if _kernel is None:
        return {"used": False, "why": "the native kernel is not built (installed without a C compiler)"}
    if os.environ.get("RUBRICATE_NO_KERNEL"):
        return {"used": False, "why": "RUBRICATE_NO_KERNEL is set"}
    stale = _stale_kernel()
    if stale:
        return {"used": False, "why": f"the native kernel does not match this rubricate ({stale}); rebuild it "
                                      "(pip install -e . or scripts/build-kernel.sh)"}
    split = split_items(rubric, judged)
    if not split.native:
        why = "; ".join(f"{item}: {reason}" for item, reason in split.python.items())
        return {"used": False, "why": f"no item has a native version ({why})" if why else "the rubric has no items"}
    status: dict[str, Any] = {"used": True, "formats": list(KERNEL_FORMATS)}
    if split.python:
        status["native"] = [item.id for item, _, _ in split.native]
        status["python"] = dict(split.python)
        status["why"] = f"{len(split.native)} of {len(split.python) + len(split.native)} items run natively; " \
            "in Python: " + ", ".join(f"{item} ({reason})" for item, reason in split.python.items())
    return status


class KernelPlan:
    """A rubric's native items resolved for the kernel and bound to one PartWriter.

    All items native: the kernel appends whole rows (`kernel_stream`); it asks `reward` for the
    rubric reward of each new verdict signature (a pure function of the items' verdicts: `collapse`)
    and memoises it. Mixed (`mixed`): `given(episode)` scores the native items of each episode the
    Python reader built, from its line."""

    def __init__(self, rubric: Rubric, writer: PartWriter, split: ItemSplit) -> None:
        self.rubric = rubric
        self.items = [item for item, _, _ in split.native]
        self.item_ids = [item.id for item in self.items]
        self.mixed = bool(split.python)
        self.plan = _new_plan(split, self.reward)
        self.plan.bind(*writer.kernel_columns())
        self.writer = writer
        self._counted = {v: 0 for v in VERDICTS}
        self._source: str | None = None  # mixed: the format of the file being read, when the kernel reads it

    @classmethod
    def for_rubric(cls, rubric: Rubric, writer: PartWriter, judged: bool = False) -> KernelPlan | None:
        if not kernel_status(rubric, judged)["used"]:
            return None
        return cls(rubric, writer, split_items(rubric, judged))

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

    def open_file(self, trace: TraceFile, fmt: Any, source_file: str) -> bool:
        """Mixed: get ready for the episodes of one file; False when the kernel does not read it."""
        readable = kernel_reads(trace, fmt)
        self._source = fmt.name if readable else None
        if readable:
            self.plan.set_source(display_path(trace.path, trace.root), source_file, fmt.name, None)
        return readable

    def given(self, episode: Episode) -> dict[str, Verdict] | None:
        """Mixed: the verdicts of the native items on an episode of the open file, from its line
        (`Episode.raw`), for `Rubric.evaluate(episode, given=...)`; None when the kernel declines it."""
        if self._source is None or episode.raw is None:
            return None
        rows = self.plan.verdicts(episode.raw)
        return None if rows is None else verdict_rows(self.items, rows, episode.id)


def _new_plan(split: ItemSplit, reward: Callable[[int], float | None]) -> Any:
    """The kernel's plan of a rubric's native items; `reward` gives the rubric reward of a verdict
    signature for the rows the kernel writes."""
    return _kernel.Plan([(name, item.id, item.behavior, params) for item, name, params in split.native],
                        msgspec.json.encode, reward, reason_templates())


def verdict_rows(items: list[Item], rows: tuple[tuple[str, str, tuple[int, ...]], ...],
                 episode_id: str) -> dict[str, Verdict]:
    """The kernel's (verdict, reason, evidence) rows of `items` as Verdicts, by item id."""
    return {item.id: Verdict(episode_id, item.id, item.behavior, verdict, SCORES[verdict], reason, evidence)
            for item, (verdict, reason, evidence) in zip(items, rows)}


class NativeItems:
    """A rubric's native items scored by the kernel one record at a time, with no file or run behind it:
    the mixed path's `given` for a caller that holds the record itself (`RewardScorer`).

    `verdicts(record, episode_id)`: the native items' verdicts on one verifiers-results record (JSON
    bytes: `prompt` and `completion` message lists, `answer`), by item id, exactly as the Python checks
    give them on the episode the verifiers-results reader builds from it; None when the kernel declines
    the record (then score the episode in Python). `complete`: every check item of the rubric is native,
    so the verdicts are all `Rubric.evaluate` gives without a judge. Safe to share between threads."""

    FORMAT = "verifiers-results"

    def __init__(self, split: ItemSplit) -> None:
        self.items = [item for item, _, _ in split.native]
        self.complete = not split.python
        # the reward function is for rows the kernel writes (score_chunk), which this plan never does
        self.plan = _new_plan(split, _no_rows)
        self.plan.set_source("<record>", "<record>", self.FORMAT, None)
        self._lock = threading.Lock()  # the plan holds the episode it is scoring

    @classmethod
    def for_rubric(cls, rubric: Rubric) -> NativeItems | None:
        """The native items of `rubric` (judge items aside), or None when the kernel is off or has none."""
        if not kernel_status(rubric, judged=False)["used"]:
            return None
        return cls(split_items(rubric, judged=False))

    def verdicts(self, record: bytes, episode_id: str) -> dict[str, Verdict] | None:
        with self._lock:
            rows = self.plan.verdicts(record)
        return None if rows is None else verdict_rows(self.items, rows, episode_id)


def _no_rows(signature: int) -> float | None:
    raise RuntimeError("NativeItems scores records; it writes no rows")


def kernel_stream(kernel: KernelPlan, trace: TraceFile, span: Span, fmt: Any, source_file: str,
                  counts: dict[str, int], state: dict[str, int]) -> Iterator[Episode | LoadIssue | int] | None:
    """`score_lines` for a file the kernel reads (`kernel_reads`) when it scores every item, else None."""
    if kernel.mixed or not kernel_reads(trace, fmt):
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
                        if line_no == 1:  # as iter_lines: a byte order mark is dropped, then a blank line skipped
                            line = strip_bom(line)
                        if line and not line.isspace():
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
