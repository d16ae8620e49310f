"""Loading traces: walk a file or directory, choose each file's format, stream episodes and issues."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..errors import FormatError, LoadIssueError
from .files import READ_ERRORS, DamagedStream, Span, file_problem, is_trace_file
from ._model import Episode, LoadIssue
from ._registry import TraceFormat, detect, display_path, formats, get_format
from .remote import find_remote_files, is_remote, read_remote_file


@dataclass(frozen=True, slots=True)
class TraceFile:
    """A trace file to read, with the root its episodes' source paths are relative to."""

    path: str
    root: str
    size: int
    problem: str | None = None  # why it is never opened (a dangling link, a FIFO, ...): a load issue


def _trace_file(path: str, root: str) -> TraceFile:
    problem = file_problem(path)
    return TraceFile(path, root, 0 if problem else os.path.getsize(path), problem)


def find_trace_files(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *,
                     exclude: str | os.PathLike[str] | None = None) -> list[TraceFile]:
    """Trace files under `paths` (files or directories, recursive), sorted, companions left out.
    `exclude` is a directory never walked (a run's own output inside its input)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    skip = os.path.realpath(exclude) if exclude is not None else None
    found: list[TraceFile] = []
    for p in map(os.fspath, paths):
        if is_remote(p):  # a URL (s3://...): listed on its file system by the same rules
            found.extend(find_remote_files(p, exclude=os.fspath(exclude) if exclude is not None else None))
            continue
        if not os.path.isdir(p) and os.path.lexists(p):  # a file, a FIFO, a broken link: a load issue at least
            found.append(_trace_file(p, os.path.dirname(p) or "."))
            continue
        if not os.path.isdir(p):
            raise FormatError(f"{p}: no such file or directory", path=p,
                              hint="pass a trace file or a directory of trace files")
        companions = [f for f in formats().values() if type(f).companion is not TraceFormat.companion]
        suffixes = tuple(sfx for f in formats().values() for sfx in f.suffixes)
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                 and os.path.realpath(os.path.join(dirpath, d)) != skip)
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if name.startswith(".") or not is_trace_file(full, suffixes):
                    continue
                if any(f.companion(full) for f in companions):
                    continue
                found.append(_trace_file(full, p))
    return found


def choose_format(path: str, root: str | None, forced: str | None) -> TraceFormat | LoadIssue:
    """The format to read `path` with, or a LoadIssue saying why there is none."""
    if forced:
        return get_format(forced)
    found = detect(path)
    if found.chosen is None:
        hint = " (pass --format to choose)" if found.claimed else ""
        return LoadIssue(display_path(path, root), found.reason + hint)
    return get_format(found.chosen)


def read_file(trace: TraceFile, forced: str | None = None, span: Span = Span(), *,
              chosen: TraceFormat | LoadIssue | None = None) -> Iterator[Episode | LoadIssue]:
    """Episodes and load issues of one file (or one span of it), in file order. `chosen`: the
    format (or the load issue) `choose_format` already gave for this file."""
    if trace.problem is not None:
        yield LoadIssue(display_path(trace.path, trace.root), trace.problem)
        return
    if is_remote(trace.path):  # a URL: read through a local copy of what the span needs
        yield from read_remote_file(trace, forced, span)
        return
    fmt = chosen if chosen is not None else choose_format(trace.path, trace.root, forced)
    if isinstance(fmt, LoadIssue):
        yield fmt
        return
    try:
        yield from fmt.read(trace.path, span, trace.root)
    except DamagedStream as exc:  # truncated or corrupt .gz/.zst after exc.line - 1 whole lines
        yield LoadIssue(display_path(trace.path, trace.root), str(exc), line=exc.line, format=fmt.name)
    except READ_ERRORS as exc:  # unreadable file
        yield LoadIssue(display_path(trace.path, trace.root), f"cannot read the file: {exc}", format=fmt.name)
    except RecursionError:  # a plugin's reader that walks a deep value itself
        yield LoadIssue(display_path(trace.path, trace.root),
                        f"reading stopped: a value nested too deeply for {fmt.name}'s reader", format=fmt.name)


def iter_traces(path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *,
                format: str | None = None) -> Iterator[Episode | LoadIssue]:
    """Every episode and load issue under `path`, streamed file by file."""
    if format:
        get_format(format)  # fail early on an unknown name
    for trace in find_trace_files(path):
        yield from read_file(trace, format)


class Traces:
    """An iterable of episodes that keeps the load issues it met in `.issues`.

    >>> traces = load_episodes("runs/")
    >>> for episode in traces: ...
    >>> traces.issues          # [LoadIssue(path=..., line=..., reason=...)]
    """

    def __init__(self, path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *,
                 format: str | None = None, strict: bool = False) -> None:
        self.path, self.format, self.strict = path, format, strict
        self.issues: list[LoadIssue] = []

    def __iter__(self) -> Iterator[Episode]:
        self.issues = []
        for item in iter_traces(self.path, format=self.format):
            if isinstance(item, LoadIssue):
                if self.strict:
                    raise LoadIssueError(str(item), issue=item, path=item.path, line=item.line,
                                         hint="fix or remove the record, or load without strict")
                self.issues.append(item)
            else:
                yield item


def load_episodes(path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *,
                  format: str | None = None, strict: bool = False) -> Traces:
    """Load episodes from a trace file or directory (JSON, JSONL, .zst, .gz; format auto-detected).

    Streams: nothing is read until you iterate. Damaged records are collected in `.issues`
    (or raise LoadIssueError with strict=True); every good episode beside them is yielded.
    """
    return Traces(path, format=format, strict=strict)
