"""The trace-format registry: `@trace_format` readers, sniffing, and choosing one format per file.

A format is a class with `sniff(sample) -> bool` (cheap: the first record and the first 64 KiB)
and `read(path, span, root) -> Iterator[Episode | LoadIssue]`. Most formats are one JSON record
per episode: subclass `RecordFormat` and write `sniff_record` and `episode`. When several formats
claim a file, the highest `priority` wins; a tie at the top is an error that names both, never
decided by registration order. Third-party formats register under the `rubricate.formats` entry
point (loaded lazily, named `package/name`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, ClassVar, TypeVar

import msgspec

from ..errors import FormatError
from .files import (HEAD_BYTES, READ_ERRORS, Container, Span, container_of, iter_lines, open_binary,
                     read_document, read_head)
from ._model import Episode, LoadIssue, Source

_decode = msgspec.json.decode


class NotAnEpisode(ValueError):
    """Raised by a reader for a record that is valid JSON but not an episode of its format."""


@dataclass(frozen=True, slots=True)
class Sample:
    """What sniffing sees of a file: its path, first bytes, container and first record (if any)."""

    path: str
    head: bytes
    container: Container
    record: Any


class TraceFormat:
    """Base of every reader. Subclasses set `name`, `priority`, `description`."""

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 0
    description: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()  # file suffixes beyond JSON/JSONL this format reads
    splittable: ClassVar[bool] = True  # False: an episode may span the whole file (spans grouped by trace)

    def sniff(self, sample: Sample) -> bool:
        raise NotImplementedError

    def read(self, path: str, span: Span = Span(), root: str | None = None) -> Iterator[Episode | LoadIssue]:
        raise NotImplementedError

    def companion(self, path: str) -> bool:
        """True for files this format reads beside its traces (e.g. a run's metadata.json)."""
        return False


def with_shared(item: Episode | LoadIssue, shared: dict[str, Any] | None) -> Episode | LoadIssue:
    """An episode with its file's shared metadata (`RecordFormat.file_metadata`) under its own: the
    record's own keys win, the shared ones come first."""
    if shared and isinstance(item, Episode):
        item.metadata = {**shared, **item.metadata}
    return item


class RecordFormat(TraceFormat):
    """A format whose files hold one episode per JSON record (JSONL line, array element, object)."""

    def sniff(self, sample: Sample) -> bool:
        return isinstance(sample.record, dict) and self.sniff_record(sample.record)

    def sniff_record(self, record: dict[str, Any]) -> bool:
        raise NotImplementedError

    def episode(self, record: dict[str, Any], source: Source, raw: bytes | None) -> Episode:
        """Normalise one record; raise NotAnEpisode (or ValueError/TypeError/KeyError) if it is none."""
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        """Decode one JSON record or document (strict JSON; override for lenient producers)."""
        return _decode(data)

    def file_metadata(self, path: str) -> dict[str, Any]:
        """Metadata every episode of `path` shares (e.g. the model of a run); the record's own wins."""
        return {}

    def read(self, path: str, span: Span = Span(), root: str | None = None) -> Iterator[Episode | LoadIssue]:
        rel = display_path(path, root)
        shared = self.file_metadata(path)
        for item in self._records(path, span, rel):
            yield with_shared(item, shared)

    def _records(self, path: str, span: Span, rel: str) -> Iterator[Episode | LoadIssue]:
        head = read_head(path, 4096)
        container = container_of(path, head)
        if container == "binary":
            yield LoadIssue(rel, f"{self.name} reads JSON records; this is a binary (zip or Parquet) file",
                            format=self.name)
            return
        if container == "jsonl":
            for rec in iter_lines(path, span):
                yield self.record(rec.data, rel, rec.line)
            return
        try:
            doc = read_document(path, decode=self.decode)
        except READ_ERRORS as exc:
            yield LoadIssue(rel, f"cannot read JSON document: {exc}", format=self.name)
            return
        if isinstance(doc, list):
            for i, value in enumerate(doc):
                yield self._convert(value, Source(rel, index=i), None)
        else:
            yield self._convert(doc, Source(rel), None)

    def record(self, data: bytes, path: str, line: int) -> Episode | LoadIssue:
        """One JSONL line of `path` (as displayed) as an episode, or the load issue it is."""
        try:
            value = self.decode(data)
        except ValueError as exc:
            return LoadIssue(path, f"invalid JSON: {exc}", line=line, format=self.name)
        return self._convert(value, Source(path, line=line), data)

    def _convert(self, value: Any, source: Source, raw: bytes | None) -> Episode | LoadIssue:
        if not isinstance(value, dict):
            return LoadIssue(source.path, f"record is a JSON {type(value).__name__}, not an object",
                             line=source.line, index=source.index, format=self.name)
        try:
            return self.episode(value, source, raw)
        except (NotAnEpisode, ValueError, TypeError, KeyError, AttributeError, IndexError,
                OverflowError) as exc:  # OverflowError: an integer too large for a float (reward 1e400)
            reason = str(exc) if isinstance(exc, NotAnEpisode) else f"{type(exc).__name__}: {exc}"
            return LoadIssue(source.path, f"not a {self.name} episode: {reason}",
                             line=source.line, index=source.index, format=self.name)


F = TypeVar("F", bound=type[TraceFormat])
_FORMATS: dict[str, TraceFormat] = {}
_PLUGINS_LOADED = False


def trace_format(name: str, *, priority: int = 0, description: str = "") -> Callable[[F], F]:
    """Register a reader class under `name` (built-ins use this too)."""

    def register(cls: F) -> F:
        if name in _FORMATS and type(_FORMATS[name]) is not cls:
            raise FormatError(f"trace format '{name}' is registered twice "
                              f"({type(_FORMATS[name]).__qualname__} and {cls.__qualname__})",
                              hint="give the plugin's format a namespaced name such as 'package/name'")
        cls.name, cls.priority = name, priority
        cls.description = description or ((cls.__doc__ or "").strip().splitlines() or [""])[0]
        _FORMATS[name] = cls()
        return cls

    return register


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    import_module(f"{__package__}.formats")  # built-ins register on import

    if os.environ.get("RUBRICATE_NO_PLUGINS"):
        return
    for ep in entry_points(group="rubricate.formats"):
        ep.load()


@contextmanager
def isolated_formats() -> Iterator[None]:
    """For tests: formats registered inside the block are forgotten when it ends."""
    _load_plugins()
    saved = dict(_FORMATS)
    try:
        yield
    finally:
        _FORMATS.clear()
        _FORMATS.update(saved)


def formats() -> dict[str, TraceFormat]:
    """Every registered format by name, highest priority first."""
    _load_plugins()
    return dict(sorted(_FORMATS.items(), key=lambda kv: (-kv[1].priority, kv[0])))


def get_format(name: str) -> TraceFormat:
    known = formats()
    if name not in known:
        import difflib

        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known formats: {', '.join(known)}"
        raise FormatError(f"unknown trace format '{name}'", hint=hint)
    return known[name]


def sample_of(path: str) -> Sample:
    """Read what sniffing needs: the head and the first record, without parsing the whole file
    (a JSON document is parsed whole only when it is under 64 MiB)."""
    head = read_head(path)
    container = container_of(path, head)
    record: Any = None
    if container == "jsonl":
        lines = head.split(b"\n")
        for i, line in enumerate(lines[:20]):
            if line.strip():
                if i == len(lines) - 1 and len(head) >= HEAD_BYTES:  # the first record runs past the head
                    line = _first_line(path)
                try:
                    record = _decode(line)
                except msgspec.DecodeError:
                    record = None
                break
    elif container == "json" and os.path.getsize(path) < (64 << 20):
        try:
            doc = read_document(path, keep=True)
        except READ_ERRORS:
            doc = None
        record = doc[0] if isinstance(doc, list) and doc else doc
    return Sample(path=path, head=head, container=container, record=record)


def _first_line(path: str, limit: int = 64 << 20) -> bytes:
    """The first non-blank line of a JSONL file, whole (up to `limit` bytes)."""
    with open_binary(path) as f:
        while line := f.readline(limit):
            if line.strip():
                return line
    return b""


@dataclass(frozen=True, slots=True)
class Detection:
    """Which formats claimed a file and which one was chosen (None with a reason when none was)."""

    path: str
    chosen: str | None
    claimed: tuple[str, ...]
    reason: str


def detect(path: str) -> Detection:
    """Choose the format of one file, explaining the choice (see `rubricate traces detect`)."""
    try:
        sample = sample_of(path)
    except READ_ERRORS as exc:
        return Detection(path, None, (), f"cannot read the file: {exc}")
    claimed = [f for f in formats().values() if _safe_sniff(f, sample)]
    if not claimed:
        what = "no record could be decoded" if sample.record is None else \
            f"first record has keys {sorted(sample.record)[:12]}" if isinstance(sample.record, dict) else \
            f"first record is a JSON {type(sample.record).__name__}"
        return Detection(path, None, (), f"no format recognises it ({sample.container}; {what})")
    names = tuple(f.name for f in claimed)
    top = [f for f in claimed if f.priority == claimed[0].priority]
    if len(top) > 1:
        return Detection(path, None, names,
                         f"formats {', '.join(repr(f.name) for f in top)} claim it with equal priority "
                         f"{top[0].priority}")
    others = f"; also claimed by {', '.join(names[1:])} (lower priority)" if len(names) > 1 else ""
    return Detection(path, claimed[0].name, names,
                     f"{claimed[0].name} (priority {claimed[0].priority}){others}")


def _safe_sniff(fmt: TraceFormat, sample: Sample) -> bool:
    try:
        return bool(fmt.sniff(sample))
    except Exception:  # a plugin's broken sniff must not stop detection of other files
        return False


def display_path(path: str, root: str | None) -> str:
    if root is None:
        return os.path.basename(path) if os.path.isabs(path) else path
    rel = os.path.relpath(path, root)
    return os.path.basename(path) if rel == "." else rel
