"""Reading trace files: compression, containers (JSONL, JSON object, JSON array), byte ranges.

A record is one decoded JSON value plus where it came from. JSONL is streamed line by line and can
be read in byte ranges (for parallel workers); a JSON document is read whole, one file at a time.
"""

from __future__ import annotations

import errno
import io
import mmap
import os
import stat
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

import msgspec

from ._compressed import Decompressed
from ._json import MAX_DEPTH, TooDeep, array_elements, decode_json, decode_lenient, strip_bom  # noqa: F401 (for readers)

TRACE_SUFFIXES = (".jsonl", ".json", ".ndjson")
COMPRESSED_SUFFIXES = (".zst", ".gz")
HEAD_BYTES = 1 << 16
# What reading a damaged file raises (corrupt deflate data is a zlib.error; zstd errors become ValueError).
READ_ERRORS = (OSError, EOFError, ValueError, zlib.error)

Container = Literal["jsonl", "json", "binary"]


BINARY_MAGIC = (b"PK\x03\x04", b"PAR1")  # zip (Inspect .eval), Parquet (TRL completion tables)


def is_trace_file(path: str, extra_suffixes: tuple[str, ...] = ()) -> bool:
    """JSON/JSONL (optionally .zst/.gz), or a suffix a registered format reads (`extra_suffixes`)."""
    name = path.lower()
    if extra_suffixes and name.endswith(extra_suffixes):
        return True
    for comp in COMPRESSED_SUFFIXES:
        if name.endswith(comp):
            name = name[: -len(comp)]
            return name.endswith(TRACE_SUFFIXES) or "." not in os.path.basename(name)
    return name.endswith(TRACE_SUFFIXES)


def compression(path: str) -> str | None:
    lower = path.lower()
    for comp in COMPRESSED_SUFFIXES:
        if lower.endswith(comp):
            return comp[1:]
    return None


def file_problem(path: str) -> str | None:
    """Why `path` is never opened as a trace file (a dangling or looping symbolic link, a FIFO, a
    socket, a device), or None for a regular file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if os.path.islink(path):
            return "a symbolic link that loops" if exc.errno == errno.ELOOP else \
                "a dangling symbolic link (its target does not exist)"
        return f"cannot read the file: {exc.strerror or exc}"
    if stat.S_ISREG(st.st_mode):
        return None
    if stat.S_ISDIR(st.st_mode):
        return "a directory, not a file"
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) \
        else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file"
    return f"{kind}: never opened (only regular files are read)"


class NotRegularFile(OSError):
    """A FIFO, socket or device where a trace file was expected (never read: it could block forever)."""


def open_regular(path: str, buffering: int = 1 << 20) -> IO[bytes]:
    """Open a regular file for reading bytes; a FIFO, socket or device raises NotRegularFile at once
    (opened non-blocking, so a FIFO without a writer cannot hang the open)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(f"{path}: {file_problem(path) or 'not a regular file'}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=buffering)
    except BaseException:
        os.close(fd)
        raise


def open_binary(path: str) -> IO[bytes]:
    """Open a trace file for reading bytes, decompressing .zst and .gz transparently. A damaged
    compressed file gives every byte before the damage, then raises (see `_compressed`)."""
    comp = compression(path)
    if comp:
        return io.BufferedReader(Decompressed(open_regular(path, 0), comp), buffer_size=1 << 20)
    return open_regular(path)


def read_head(path: str, size: int = HEAD_BYTES) -> bytes:
    """The first `size` bytes (decompressed); of a damaged compressed file, those before the damage."""
    chunks, got = [], 0
    with open_binary(path) as f:
        while got < size:
            try:
                data = f.read1(size - got)
            except READ_ERRORS:
                if not chunks:
                    raise
                break
            if not data:
                break
            chunks.append(data)
            got += len(data)
    return b"".join(chunks)


def container_of(path: str, head: bytes) -> Container:
    """JSONL, a single JSON document, or binary (zip, Parquet), from the name and the content."""
    head = strip_bom(head)
    if head.startswith(BINARY_MAGIC):
        return "binary"
    name = path.lower()
    comp = compression(name)
    if comp:
        name = name[: -len(comp) - 1]
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    stripped = head.lstrip()
    if stripped.startswith(b"["):
        return "json"
    first, _, rest = stripped.partition(b"\n")
    try:
        decode_lenient(first)
    except ValueError:
        return "json"
    return "jsonl" if rest.strip() else "json"


@dataclass(frozen=True, slots=True)
class Span:
    """A byte range [start, end) of an uncompressed JSONL file that starts on a line boundary."""

    start: int = 0
    end: int | None = None
    first_line: int = 1


@dataclass(slots=True)
class RawRecord:
    """An undecoded JSONL line with its 1-based line number."""

    data: bytes
    line: int


class DamagedStream(OSError):
    """Reading stopped at damage (a truncated or corrupt .gz/.zst, an I/O error) after the lines before
    it were read. `line`: the first line not read whole."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def iter_lines(path: str, span: Span = Span()) -> Iterator[RawRecord]:
    """Non-blank lines of a JSONL file (within `span`), undecoded, with their line numbers. Damage
    met while reading raises DamagedStream after every whole line before it."""
    line_no = span.first_line - 1
    with open_binary(path) as f:
        if span.start:
            f.seek(span.start)
        pos = span.start
        end = span.end
        try:
            for line in f:
                line_no += 1
                if end is not None:
                    if pos >= end:
                        break
                    pos += len(line)
                if line_no == 1:
                    line = strip_bom(line)
                if line and not line.isspace():  # (no copy, unlike strip())
                    yield RawRecord(line, line_no)
        except READ_ERRORS as exc:  # from reading (a yield only ever raises GeneratorExit here)
            raise DamagedStream(f"cannot read the rest of the file: {exc}", line_no + 1) from None


_kept: tuple[tuple[str, int, int], Any] | None = None


def read_document(path: str, *, keep: bool = False, decode: Callable[[bytes], Any] = msgspec.json.decode) -> Any:
    """Decode a whole JSON document (raises a ValueError such as msgspec.DecodeError on bad JSON,
    TooDeep past MAX_DEPTH; a byte order mark is skipped).

    `keep=True` (used by sniffing) holds the decoded document for the next read of the same,
    unchanged file, so a file that is sniffed and then read is parsed once.
    """
    global _kept
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    if _kept is not None and _kept[0] == key:
        doc = _kept[1]
        if not keep:
            _kept = None
        return doc
    with open_binary(path) as f:
        doc = decode_json(f.read(), decode)
    _kept = (key, doc) if keep else None
    return doc


def read_array_items(path: str) -> Iterator[bytes] | None:
    """The undecoded elements of a JSON document that is an array (for one that does not decode whole:
    each element is decoded on its own); None when it is not an array. Raises READ_ERRORS."""
    with open_binary(path) as f:
        data = f.read()
    elements = array_elements(data)
    return None if elements is None else (data[start:end] for start, end in elements)


COUNT_WINDOW = 64 << 20  # bytes mapped at a time by count_lines


def count_lines(path: str, start: int, end: int, *, counter: Callable[[memoryview], int] | None = None) -> int:
    """The number of newlines in bytes [start, end) of an uncompressed file. With `counter` (a function
    counting the newlines of a buffer, such as the native kernel's), the file is mapped (not copied) one
    window at a time: a whole mapping would count its pages in this process's peak RSS."""
    if end <= start:
        return 0
    with open(path, "rb") as f:
        if counter is not None:
            n, pos = 0, start - start % mmap.ALLOCATIONGRANULARITY
            while pos < end:
                size = min(COUNT_WINDOW, end - pos)
                with mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ, offset=pos) as mm, \
                        memoryview(mm) as view:
                    n += int(counter(view[max(0, start - pos):]))
                pos += size
            return n
        f.seek(start)
        buf, n = bytearray(1 << 24), 0
        while start < end:
            got = f.readinto(memoryview(buf)[: min(len(buf), end - start)])
            if not got:
                break
            n += buf.count(b"\n", 0, got)
            start += got
        return n


def split_jsonl(path: str, parts: int, *, number_lines: bool = True,
                counter: Callable[[memoryview], int] | None = None) -> list[Span]:
    """Cut an uncompressed JSONL file into about `parts` spans on line boundaries, with line numbers.
    Any other file (a JSON document, a zip) is one span: its readers read it whole.

    `number_lines=False` leaves `first_line` 0 on every span but the first: whoever reads the
    spans numbers them (see `count_lines`; the scoring workers count their own spans in parallel)."""
    size = os.path.getsize(path)
    if parts <= 1 or size < (1 << 20) or compression(path):
        return [Span()]
    if container_of(path, read_head(path, 4096)) != "jsonl":
        return [Span()]
    cuts = [0]
    with open(path, "rb") as f:
        for k in range(1, parts):
            f.seek(size * k // parts)
            f.readline()
            pos = f.tell()
            if cuts[-1] < pos < size:
                cuts.append(pos)
    cuts.append(size)
    if not number_lines:
        return [Span(start, end, 1 if start == 0 else 0) for start, end in zip(cuts, cuts[1:])]
    spans, line = [], 1
    for start, end in zip(cuts, cuts[1:]):
        spans.append(Span(start, end, line))
        line += count_lines(path, start, end, counter=counter)
    return spans
