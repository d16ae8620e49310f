"""The damaged-input corpus: good files of every format and damaged or adversarial ones of 30 kinds,
each with what a reader must make of it (the good records it holds, the issues it must raise).

A damaged file is built as good lines, the damage, good lines; its expectation is written down
here from the construction (for a truncated .gz, from zlib itself: the whole lines it can inflate
before the cut), never from what rubricate reads.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import zstandard

GOOD_LINE = json.dumps({"messages": [
    {"role": "user", "content": "How many rows are in the orders table?"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "sql_query", "arguments": "{\"query\": \"SELECT count(*) FROM orders\"}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "count\n42"},
    {"role": "assistant", "content": "There are 42 rows."}]})
DEEP = "[" * 10_000 + "]" * 10_000


@dataclass
class Expect:
    """What a file holds: `good` records to score, and the issues it must raise: (line, index) of each
    (None, None for a file-level issue such as a FIFO, where no line exists)."""

    good: int
    issues: list[tuple[int | None, int | None]] = field(default_factory=list)


def _lines(path: Path, parts: list[str | bytes], opener: Callable = open) -> None:
    data = b"".join((p if isinstance(p, bytes) else p.encode()) + b"\n" for p in parts)
    with opener(path, "wb") as f:
        f.write(data)


def _around(path: Path, bad: list[str | bytes], before: int, after: int) -> Expect:
    """`before` good lines, the bad lines (one issue each), `after` good lines."""
    _lines(path, [GOOD_LINE] * before + bad + [GOOD_LINE] * after)
    return Expect(before + after, [(before + k + 1, None) for k in range(len(bad))])


def _truncated_gz(path: Path, n: int) -> Expect:
    n += 20  # whole lines before the cut, so the format can be told
    pads = (hashlib.sha256(str(k).encode()).hexdigest() * 8 for k in range(n))  # (incompressible)
    data = gzip.compress(("\n".join(f"{GOOD_LINE[:-1]}, \"pad\": \"{pad}\"}}" for pad in pads) + "\n").encode())
    cut = data[: len(data) * 2 // 3]
    path.write_bytes(cut)
    inflated = zlib.decompressobj(31).decompress(cut)  # the oracle: what zlib gives before the cut
    whole = inflated.count(b"\n")
    return Expect(whole, [(whole + 1, None)])


def _truncated_zst(path: Path, n: int) -> Expect:
    n += 2
    frames = [zstandard.ZstdCompressor().compress(f"{GOOD_LINE}\n".encode()) for _ in range(n)]
    keep = n // 2
    path.write_bytes(b"".join(frames[:keep]) + frames[keep][: len(frames[keep]) // 2])
    return Expect(keep, [(keep + 1, None)])


def _bad_crc_gz(path: Path, n: int) -> Expect:
    data = bytearray(gzip.compress(("\n".join([GOOD_LINE] * n) + "\n").encode()))
    data[-8] ^= 0xFF  # the CRC-32 of the trailer: every line inflates, then the check fails
    path.write_bytes(bytes(data))
    return Expect(n, [(n + 1, None)])


def _array_with_bad_element(path: Path, n: int) -> Expect:
    records = [json.loads(GOOD_LINE)] * n
    records.insert(1, {"messages": "not a list"})
    path.write_text(json.dumps(records))
    return Expect(n, [(None, 1)])


def _array_with_deep_element(path: Path, n: int) -> Expect:
    """A JSON array whose second element nests 10,000 deep: only that element is lost."""
    good = [GOOD_LINE] * n
    path.write_text("[" + ", ".join(good[:1] + ['{"messages": ' + DEEP + "}"] + good[1:]) + "]")
    return Expect(n, [(None, 1)])


def _fifo(path: Path, n: int) -> Expect:
    os.mkfifo(path)
    return Expect(0, [(None, None)])


def _socket(path: Path, n: int) -> Expect:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()  # the socket file stays
    return Expect(0, [(None, None)])


def _loop(path: Path, n: int) -> Expect:
    os.symlink(path.name + ".other.jsonl", path)
    os.symlink(path.name, path.with_name(path.name + ".other.jsonl"))
    return Expect(0, [(None, None)])  # (and its partner: counted by the caller)


def _dangling(path: Path, n: int) -> Expect:
    os.symlink("no-such-target.jsonl", path)
    return Expect(0, [(None, None)])


def _file_issue(content: bytes, opener: Callable = open) -> Callable[[Path, int], Expect]:
    def make(path: Path, n: int) -> Expect:
        with opener(path, "wb") as f:
            f.write(content)
        return Expect(0, [(None, None)])
    return make


def _huge_line(path: Path, n: int) -> Expect:
    """A 50 MB line that is not JSON between good lines."""
    with open(path, "wb") as f:
        f.write((GOOD_LINE + "\n").encode() * n)
        f.write(b"{\"messages\": \"" + b"x" * (50 << 20) + b"\n")
        f.write((GOOD_LINE + "\n").encode() * n)
    return Expect(2 * n, [(n + 1, None)])


def _with_line(bad: str | bytes) -> Callable[[Path, int], Expect]:
    return lambda path, n: _around(path, [bad], n, n)


def _first(bad: str | bytes) -> Callable[[Path, int], Expect]:
    return lambda path, n: _around(path, [bad], 0, n + 2)


def _bom(path: Path, n: int) -> Expect:
    path.write_bytes(b"\xef\xbb\xbf" + (GOOD_LINE + "\n").encode() * (n + 1))
    return Expect(n + 1)


def _crlf(path: Path, n: int) -> Expect:
    path.write_bytes((GOOD_LINE + "\r\n").encode() * (n + 1))
    return Expect(n + 1)


def _cut_last_line(path: Path, n: int) -> Expect:
    path.write_bytes((GOOD_LINE + "\n").encode() * n + GOOD_LINE[: len(GOOD_LINE) // 2].encode())
    return Expect(n, [(n + 1, None)])


# kind -> (file name suffix, builder(path, n) -> Expect)
KINDS: dict[str, tuple[str, Callable[[Path, int], Expect]]] = {
    "garbage first line": (".jsonl", _first("garbage{")),
    "NaN first line": (".jsonl", _first('{"messages": [{"role": "user", "content": "x"}], "reward": NaN}')),
    "BOM before the first line": (".jsonl", _bom),
    "CRLF line ends": (".jsonl", _crlf),
    "10,000-deep line": (".jsonl", _with_line(DEEP)),
    "10,000-deep value in a record": (".jsonl", _with_line('{"messages": [], "x": ' + DEEP + "}")),
    "10,000-deep document": (".json", _file_issue(DEEP.encode())),
    "symlink loop": (".jsonl", _loop),
    "dangling symlink": (".jsonl", _dangling),
    "FIFO": (".jsonl", _fifo),
    "socket": (".jsonl", _socket),
    "truncated .gz": (".jsonl.gz", _truncated_gz),
    "truncated .zst": (".jsonl.zst", _truncated_zst),
    ".gz with a bad checksum": (".jsonl.gz", _bad_crc_gz),
    "last line cut": (".jsonl", _cut_last_line),
    "invalid UTF-8": (".jsonl", _with_line(b'{"messages": [{"role": "user", "content": "h\xff\xfei"}]}')),
    "NUL bytes": (".jsonl", _with_line(b"\x00\x00{\x00}")),
    "lone surrogate": (".jsonl", _with_line('{"messages": [{"role": "user", "content": "\\ud800"}]}')),
    "50 MB line": (".jsonl", _huge_line),
    "5,000-digit number": (".jsonl", _with_line('{"messages": [], "reward": ' + "9" * 5000 + "}")),
    "record is a list": (".jsonl", _with_line("[1, 2, 3]")),
    "messages not a list": (".jsonl", _with_line('{"messages": "hello"}')),
    "unknown role": (".jsonl", _with_line('{"messages": [{"role": "robot", "content": "x"}]}')),
    "tool_calls not a list": (".jsonl", _with_line('{"messages": [{"role": "assistant", "tool_calls": 3}]}')),
    "array with a bad element": (".json", _array_with_bad_element),
    "empty file": (".jsonl", _file_issue(b"")),
    "zero-byte .gz": (".jsonl.gz", _file_issue(b"")),
    "empty .gz": (".jsonl.gz", _file_issue(b"", gzip.open)),
    "zero-byte .zst": (".jsonl.zst", _file_issue(b"")),
    "binary noise": (".jsonl", _file_issue(bytes(range(256)).replace(b"\n", b"") * 64)),
    "array with a 10,000-deep element": (".json", _array_with_deep_element),
}


def build_damaged(root: Path, copies: int) -> dict[str, Expect]:
    """`copies` files of every kind under root (n = 1..copies good lines around the damage); returns
    the expectation of each file by its path relative to root."""
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Expect] = {}
    for k, (kind, (suffix, build)) in enumerate(KINDS.items()):
        for n in range(1, copies + 1):
            name = f"k{k:02d}-{n}{suffix}"
            expected[name] = build(root / name, n)
            if build is _loop:
                expected[name + ".other.jsonl"] = Expect(0, [(None, None)])
    return expected


def build_good(root: Path, fixtures: dict[str, Path], copies: int) -> dict[str, str]:
    """`copies` copies of every format's fixture (a third of the JSON ones .gz, a third .zst), each in
    its own directory under root; returns the fixture each file copies, by its path relative to root."""
    made: dict[str, str] = {}
    for fmt, fixture in fixtures.items():
        for k in range(copies):
            folder = root / fmt / f"{k:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            name = fixture.name
            compress = k % 3 if fixture.suffix in (".json", ".jsonl") else 0
            target = folder / (name + ("", ".gz", ".zst")[compress])
            if compress == 1:
                target.write_bytes(gzip.compress(fixture.read_bytes(), compresslevel=1))
            elif compress == 2:
                target.write_bytes(zstandard.ZstdCompressor().compress(fixture.read_bytes()))
            else:
                shutil.copyfile(fixture, target)
            made[str(target.relative_to(root))] = fmt
    return made
