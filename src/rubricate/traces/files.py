"""Reading trace files: compression, containers (JSONL, JSON object, JSON array), byte ranges.

A record is one decoded JSON value plus where it came from. JSONL is streamed line by line and can
be read in byte ranges (for parallel workers); a JSON document is read whole, one file at a time.
"""

from __future__ import annotations

import gzip
import json
import io
import mmap
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, Literal

import msgspec

TRACE_SUFFIXES = (".jsonl", ".json", ".ndjson")
COMPRESSED_SUFFIXES = (".zst", ".gz")
HEAD_BYTES = 1 << 16
# What reading a damaged file raises (corrupt deflate data is a zlib.error; zstd errors become ValueError).
READ_ERRORS = (OSError, EOFError, ValueError, zlib.error)
_decode = msgspec.json.decode

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


def open_binary(path: str) -> IO[bytes]:
    """Open a trace file for reading bytes, decompressing .zst and .gz transparently."""
    comp = compression(path)
    if comp == "gz":
        return gzip.open(path, "rb")
    if comp == "zst":
        return io.BufferedReader(_ZstdStream(path), buffer_size=1 << 20)
    return open(path, "rb", buffering=1 << 20)


class _ZstdStream(io.RawIOBase):
    """Decompressed bytes of a .zst file (any number of frames) that raises EOFError when the file
    ends inside a frame: zstandard's own stream_reader ends silently there, losing the rest."""

    def __init__(self, path: str) -> None:
        import zstandard

        self._new = zstandard.ZstdDecompressor().decompressobj
        self._error = zstandard.ZstdError
        self._file = open(path, "rb")
        self._obj = self._new()
        self._in_frame = False
        self._out = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        while not self._out:
            data = self._file.read(1 << 17)  # ~1 MiB decompressed: bounded memory
            if not data:
                if self._in_frame:
                    raise EOFError("zstd file ends inside a frame (truncated)")
                return 0
            self._out = memoryview(self._feed(data))
        n = min(len(buf), len(self._out))
        buf[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _feed(self, data: bytes) -> bytes:
        out = []
        while data:
            self._in_frame = True
            try:
                out.append(self._obj.decompress(data))
            except self._error as exc:
                raise ValueError(f"zstd: {exc}") from None
            if not self._obj.eof:
                break
            data, self._obj, self._in_frame = self._obj.unused_data, self._new(), False
        return b"".join(out)

    def close(self) -> None:
        self._file.close()
        super().close()


def read_head(path: str, size: int = HEAD_BYTES) -> bytes:
    with open_binary(path) as f:
        return f.read(size)


def container_of(path: str, head: bytes) -> Container:
    """JSONL, a single JSON document, or binary (zip, Parquet), from the name and the content."""
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
        _decode(first)
    except msgspec.DecodeError:
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


def iter_lines(path: str, span: Span = Span()) -> Iterator[RawRecord]:
    """Non-blank lines of a JSONL file (within `span`), undecoded, with their line numbers."""
    line_no = span.first_line - 1
    with open_binary(path) as f:
        if span.start:
            f.seek(span.start)
        pos = span.start
        end = span.end
        for line in f:
            line_no += 1
            if end is not None:
                if pos >= end:
                    break
                pos += len(line)
            if not line.isspace():  # (no copy, unlike strip(); a line here is never empty)
                yield RawRecord(line, line_no)


_kept: tuple[tuple[str, int, int], Any] | None = None


def decode_lenient(data: bytes) -> Any:
    """msgspec, or Python's json for text msgspec refuses as not strict JSON (`NaN`, `Infinity`,
    which Python's json writes by default): those constants read as None."""
    try:
        return _decode(data)
    except msgspec.DecodeError:
        try:
            return json.loads(data, parse_constant=lambda _: None)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def read_document(path: str, *, keep: bool = False, decode: Callable[[bytes], Any] = _decode) -> Any:
    """Decode a whole JSON document (raises a ValueError such as msgspec.DecodeError on bad JSON).

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
        doc = decode(f.read())
    _kept = (key, doc) if keep else None
    return doc


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
