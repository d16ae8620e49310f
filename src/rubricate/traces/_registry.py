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
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from typing import Any, ClassVar, TypeVar

from .._plugins import entry_points
from ..errors import FormatError
from .files import (HEAD_BYTES, READ_ERRORS, Container, DamagedStream, Span, TooDeep, container_of, decode_json,
                     decode_lenient, file_problem, iter_lines, read_array_items, read_document, read_head, strip_bom)
from ._model import Episode, LoadIssue, Source


class NotAnEpisode(ValueError):
    """Raised by a reader for a record that is valid JSON but not an episode of its format."""


@dataclass(frozen=True, slots=True)
class Sample:
    """What sniffing sees of a file: its path, first bytes, container and first record (if any)."""

    path: str
    head: bytes
    container: Container
    record: Any
    error: str | None = None  # why a JSON document could not be decoded, when it could not


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
        """Decode one JSON record or document (strict JSON, at most MAX_DEPTH deep; override for lenient
        producers)."""
        return decode_json(data)

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
            try:
                for rec in iter_lines(path, span):
                    yield self.record(rec.data, rel, rec.line)
            except DamagedStream as exc:
                yield LoadIssue(rel, str(exc), line=exc.line, format=self.name)
            return
        try:
            doc = read_document(path, decode=self.decode)
        except TooDeep as exc:  # an array loses only its elements that nest too deep
            yield from self._elements(path, rel, exc)
            return
        except READ_ERRORS as exc:
            yield LoadIssue(rel, f"cannot read JSON document: {exc}", format=self.name)
            return
        if isinstance(doc, list):
            for i, value in enumerate(doc):
                yield self._convert(value, Source(rel, index=i), None)
        else:
            yield self._convert(doc, Source(rel), None)

    def _elements(self, path: str, rel: str, too_deep: TooDeep) -> Iterator[Episode | LoadIssue]:
        """A JSON document that nests too deep somewhere, read again one top-level array element at a
        time: each element too deep (or otherwise not JSON) is a load issue naming its index, and the
        others are read. A document that is not an array is one issue."""
        try:
            items = read_array_items(path)
        except READ_ERRORS as exc:
            yield LoadIssue(rel, f"cannot read JSON document: {exc}", format=self.name)
            return
        if items is None:
            yield LoadIssue(rel, f"cannot read JSON document: {too_deep}", format=self.name)
            return
        for i, item in enumerate(items):
            yield self._decoded(item, Source(rel, index=i), None)

    def record(self, data: bytes, path: str, line: int) -> Episode | LoadIssue:
        """One JSONL line of `path` (as displayed) as an episode, or the load issue it is."""
        return self._decoded(data, Source(path, line=line), data)

    def _decoded(self, data: bytes, source: Source, raw: bytes | None) -> Episode | LoadIssue:
        """One record's JSON from `source` as an episode, or the load issue it is (too deep, not JSON)."""
        try:
            value = self.decode(data)
        except TooDeep as exc:
            return LoadIssue(source.path, str(exc), line=source.line, index=source.index, format=self.name)
        except ValueError as exc:
            return LoadIssue(source.path, f"invalid JSON: {exc}", line=source.line, index=source.index,
                             format=self.name)
        return self._convert(value, source, raw)

    def _convert(self, value: Any, source: Source, raw: bytes | None) -> Episode | LoadIssue:
        if not isinstance(value, dict):
            return LoadIssue(source.path, f"record is a JSON {type(value).__name__}, not an object",
                             line=source.line, index=source.index, format=self.name)
        try:
            return self.episode(value, source, raw)
        except (NotAnEpisode, ValueError, TypeError, KeyError, AttributeError, IndexError,
                OverflowError, RecursionError) as exc:  # OverflowError: an integer too large for a float
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
    for ep in entry_points("rubricate.formats"):
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


SAMPLE_RECORDS = 8  # decodable records detection tries, in order, until a format claims one
SAMPLE_LINES = 32   # non-blank JSONL lines it looks at for them
SAMPLE_BYTES = 64 << 20  # and at most this many bytes (a JSON document is parsed whole under this size)


def sample_of(path: str) -> Sample:
    """Read what sniffing needs: the head and the first record, without parsing the whole file
    (a JSON document is parsed whole only when it is under 64 MiB)."""
    return next(samples_of(path))


def samples_of(path: str) -> Iterator[Sample]:
    """What detection sniffs, lazily: one Sample per decodable record among the first ones of the file
    (lines that are not JSON or too deep are skipped, a BOM is stripped), or one Sample with no record
    when none decodes. NaN and Infinity read as None here (the reader reports such a line)."""
    head = read_head(path)
    container = container_of(path, head)
    records: Iterable[Any] = ()
    error = None
    if container == "jsonl":
        records = _first_records(path, head)
    elif container == "json" and os.path.getsize(path) < SAMPLE_BYTES:
        try:
            doc = read_document(path, keep=True)
        except TooDeep as exc:  # an array with an element too deep: the others may still say what it is
            error = str(exc)
            records = _first_elements(path)
        except READ_ERRORS as exc:
            error = str(exc)
        else:
            records = doc[:SAMPLE_RECORDS] if isinstance(doc, list) else [doc]
    empty = True
    for record in records:
        empty = False
        yield Sample(path=path, head=head, container=container, record=record)
    if empty:
        yield Sample(path=path, head=head, container=container, record=None, error=error)


def _first_elements(path: str) -> Iterator[Any]:
    """The first decodable elements of a JSON array document that does not decode whole."""
    try:
        items = read_array_items(path)
    except READ_ERRORS:
        return
    found = 0
    for item in items or ():
        if found >= SAMPLE_RECORDS:
            break
        try:
            record = decode_lenient(item)
        except ValueError:
            continue
        found += 1
        yield record


def _first_records(path: str, head: bytes) -> Iterator[Any]:
    """The first decodable records of a JSONL file: from the lines whole in the head, then (when the
    head is full) from the lines after them, read whole from the file (a record may be longer)."""
    lines = strip_bom(head).split(b"\n")
    if len(head) >= HEAD_BYTES:
        lines.pop()  # cut at the head's end
    found, seen = yield from _decodable(lines, 0, 0)
    if len(head) >= HEAD_BYTES:
        yield from _decodable(_lines(path, skip=seen), found, seen)


def _decodable(lines: Iterable[bytes], found: int, seen: int) -> Generator[Any, None, tuple[int, int]]:
    """Decoded lines until SAMPLE_RECORDS records or SAMPLE_LINES non-blank lines in all; returns the
    counts (records, lines) so far."""
    for line in lines:
        if found >= SAMPLE_RECORDS or seen >= SAMPLE_LINES:
            break
        if not line.strip():
            continue
        seen += 1
        try:
            record = decode_lenient(line)
        except ValueError:
            continue
        found += 1
        yield record
    return found, seen


def _lines(path: str, skip: int) -> Iterator[bytes]:
    """Non-blank lines of a JSONL file after the first `skip`, whole, up to SAMPLE_BYTES in all (stops
    quietly at damage)."""
    budget = SAMPLE_BYTES
    try:
        for k, rec in enumerate(iter_lines(path)):
            budget -= len(rec.data)
            if budget < 0:
                return
            if k >= skip:
                yield rec.data
    except READ_ERRORS:
        return


@dataclass(frozen=True, slots=True)
class Detection:
    """Which formats claimed a file and which one was chosen (None with a reason when none was)."""

    path: str
    chosen: str | None
    claimed: tuple[str, ...]
    reason: str


def detect(path: str) -> Detection:
    """Choose the format of one file, explaining the choice (see `rubricate traces detect`). The first
    decodable records are tried in order; the first that some format claims decides."""
    problem = file_problem(path)
    if problem is not None:
        return Detection(path, None, (), problem)
    samples: list[Sample] = []
    known = formats().values()
    try:
        for sample in samples_of(path):
            claimed = [f for f in known if _safe_sniff(f, sample)]
            if claimed:
                return _chosen(path, claimed)
            samples.append(sample)
    except READ_ERRORS as exc:
        return Detection(path, None, (), f"cannot read the file: {exc}")
    record, first = samples[0].record, samples[0]
    if not first.head.strip():
        return Detection(path, None, (), "the file is empty" if not first.head else "the file holds only blank lines")
    what = f"no record could be decoded{f': {first.error}' if first.error else ''}" if record is None else \
        f"first record has keys {sorted(record)[:12]}" if isinstance(record, dict) else \
        f"first record is a JSON {type(record).__name__}"
    tried = f" (tried its first {len(samples)} records)" if len(samples) > 1 else ""
    return Detection(path, None, (), f"no format recognises it ({samples[0].container}; {what}){tried}")


def _chosen(path: str, claimed: list[TraceFormat]) -> Detection:
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
