"""Decoding one JSON value of a trace, with a documented nesting limit.

msgspec (and Python's json) recurse once per nested container and raise RecursionError near
Python's recursion limit; a value that decodes just under it can still overflow the stack of code
that walks it later (an encoder, the report). So every reader decodes through `decode_json`, which
refuses values nested deeper than `MAX_DEPTH` containers with `TooDeep` (a `msgspec.DecodeError`,
so every `except msgspec.DecodeError` of a reader already reports it as bad JSON) and strips a
UTF-8 byte order mark (editors on Windows write one; `cat` of such files puts it mid-file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

MAX_DEPTH = 256  # containers (objects and arrays) nested in one value: deeper is a load issue
BOM = b"\xef\xbb\xbf"
_MIN_DEEP = 2 * MAX_DEPTH  # shorter text cannot hold MAX_DEPTH + 1 nested containers
_decode = msgspec.json.decode


class TooDeep(msgspec.DecodeError):
    """A JSON value nested deeper than MAX_DEPTH containers."""


def _too_deep_error() -> TooDeep:
    return TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels (the limit of rubricate's readers)")


def strip_bom(data: Any) -> Any:
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    return data[3:] if data.startswith(BOM) else data


def decode_json(data: bytes | str, decode: Callable[[Any], Any] = _decode) -> Any:
    """Decode one JSON value (bytes or text) with `decode` (msgspec by default), BOM stripped; raises
    msgspec.DecodeError (TooDeep for nesting deeper than MAX_DEPTH) or the decoder's ValueError.
    (On every record and tool-call argument string of the Python path: kept to a few C calls.)"""
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            data = data[1:]
        deep = len(data) > _MIN_DEEP and data.count("[") + data.count("{") > MAX_DEPTH
    else:
        if data.startswith(BOM):
            data = data[3:]
        deep = len(data) > _MIN_DEEP and data.count(b"[") + data.count(b"{") > MAX_DEPTH
    try:
        value = decode(data)
    except RecursionError:
        raise _too_deep_error() from None
    if deep and depth_exceeds(value):  # may be: more containers than the limit (3% of real records)
        raise _too_deep_error()
    return value


def decode_lenient(data: bytes | str) -> Any:
    """msgspec, or Python's json for text msgspec refuses as not strict JSON (`NaN`, `Infinity`,
    which Python's json writes by default): those constants read as None."""
    try:
        return decode_json(data)
    except TooDeep:
        raise
    except msgspec.DecodeError:
        return decode_json(data, lambda d: json.loads(d, parse_constant=lambda _: None))


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a decoded value nests more than `limit` containers (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return True
        children = v.values() if isinstance(v, dict) else v
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


_STRUCTURE = re.compile(rb'["\\\[\]{},]')  # the bytes that open, close or separate JSON values


def array_elements(data: bytes) -> Iterator[tuple[int, int]] | None:
    """The byte ranges of the elements of a top-level JSON array, found without decoding them (so a
    document with one element nested too deep to decode loses only that element); None when `data`
    is not an array. Strings are skipped with their escapes; anything else malformed shows when an
    element is decoded. An array cut short yields the elements up to the cut, the last one partial."""
    start = 3 if data.startswith(BOM) else 0
    while start < len(data) and data[start] in b" \t\r\n":
        start += 1
    if not data.startswith(b"[", start):
        return None
    return _element_ranges(data, start)


def _element_ranges(data: bytes, start: int) -> Iterator[tuple[int, int]]:
    depth, in_string, skip, first = 0, False, -1, start + 1
    for match in _STRUCTURE.finditer(data, start):
        i = match.start()
        if i < skip:  # the character after a backslash
            continue
        c = data[i]
        if in_string:
            if c == 0x5C:  # backslash
                skip = i + 2
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in b"[{":
            depth += 1
        elif c in b"]}":
            depth -= 1
            if depth == 0:
                if data[first:i].strip():
                    yield first, i
                return
        elif depth == 1:  # a comma between elements
            yield first, i
            first = i + 1
    if data[first:].strip():
        yield first, len(data)
