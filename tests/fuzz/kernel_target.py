"""The fuzz target of the native kernel: one input -> the kernel's rows == the Python path's rows.

An input is a selector byte and a block of JSONL lines. The selector picks the format the lines are
read as (openai-chat or verifiers-results) and the rubric (the built-in tool-discipline, or the
wiki-search rubric that maps tools to roles). The block is written to a file and scored twice
beneath `score_run`'s loop: by the kernel (`scoring._native.kernel_stream`: the kernel's
`Plan.score_chunk` on the bytes, declined lines through the Python reader and checks) and by the
Python path alone (the format's reader, `Rubric.evaluate`); both fill a PartWriter's columns, which
must be equal, issues included. Any difference raises AssertionError (a crash for the fuzzer).

Used by src/kernel/fuzz/fuzz_kernel.c (libFuzzer, AddressSanitizer) and by tests/fuzz/test_fuzz_kernel.py
(the regressions, also without a fuzzer build).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import msgspec

from rubricate import load_rubric
from rubricate.scoring._native import KernelPlan, kernel_stream
from rubricate.scoring._store import PartWriter
from rubricate.traces import Span, TraceFile, get_format, read_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FORMATS = ("openai-chat", "verifiers-results")
_state: dict[str, Any] = {}
stats = {"inputs": 0, "kernel_episodes": 0}  # episodes the kernel scored itself (not declined)


def _setup() -> dict[str, Any]:
    """Made once: the rubrics, and per rubric a writer with the kernel's Plan bound to it and a writer
    for the Python path (their column buffers are emptied after each input)."""
    if not _state:
        rubrics = [load_rubric("tool-discipline"), load_rubric(os.path.join(ROOT, "examples", "wiki-search", "rubric.toml"))]
        _state["dir"] = folder = tempfile.mkdtemp(prefix="rubricate-fuzz-")
        _state["rubrics"] = rubrics
        _state["kernel"] = []
        for rubric in rubrics:
            writer = PartWriter(folder, batch=1 << 30, redact_issues=False)
            plan = KernelPlan.for_rubric(rubric, writer)
            assert plan is not None and not plan.mixed, f"the kernel scores every item of {rubric.id}"
            _state["kernel"].append(plan)
        _state["python"] = [PartWriter(folder, batch=1 << 30, redact_issues=False) for _ in rubrics]
    return _state


def split(data: bytes) -> tuple[str, int, bytes]:
    """(format, rubric index, JSONL block) of one fuzz input."""
    selector = data[0] if data else 0
    return FORMATS[selector & 1], (selector >> 1) & 1, data[1:]


def _columns(writer: PartWriter, issues: list[Any]) -> bytes:
    episodes = {k: v for k, v in writer._episodes.items() if k != "source_file"}
    return msgspec.json.encode([episodes, writer._verdicts, issues])


def one(data: bytes) -> None:
    """Score one input both ways; AssertionError when the kernel and Python disagree."""
    state = _setup()
    stats["inputs"] += 1
    fmt_name, which, block = split(data)
    rubric = state["rubrics"][which]
    fmt = get_format(fmt_name)
    path = os.path.join(state["dir"], "input.jsonl")
    with open(path, "wb") as f:
        f.write(block)
    trace = TraceFile(path, state["dir"], len(block))
    got = _score(rubric, fmt, trace, state["kernel"][which].writer, state["kernel"][which])
    want = _score(rubric, fmt, trace, state["python"][which], None)
    if got != want:
        raise AssertionError(f"kernel and Python disagree on {fmt_name}:\n kernel {got[:2000]!r}\n python {want[:2000]!r}")


def _score(rubric: Any, fmt: Any, trace: TraceFile, writer: PartWriter, kernel: KernelPlan | None) -> bytes:
    issues: list[Any] = []
    # as score_run's loop does: the kernel for the files it reads (kernel_stream decides), else the reader
    counted: dict[str, int] = {}
    stream: Any = None if kernel is None else kernel_stream(kernel, trace, Span(), fmt, trace.path, {}, counted)
    if stream is None:
        stream = read_file(trace, chosen=fmt)
    for item in stream:
        if isinstance(item, int):
            continue
        if hasattr(item, "steps"):
            verdicts = rubric.evaluate(item)
            writer.add_episode(item, verdicts, trace.path, rubric.reward(verdicts).reward)
        else:
            issues.append(item)
    stats["kernel_episodes"] += counted.get("kernel_episodes", 0)
    out = _columns(writer, issues)
    for columns in (writer._episodes, writer._verdicts):
        for column in columns.values():
            column.clear()
    return out
