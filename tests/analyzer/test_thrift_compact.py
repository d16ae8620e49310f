"""The generic Thrift Compact Protocol codec behind concat_parquet's footer rewriting."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rubricate.analyzer._thrift_compact import (
    BINARY,
    BOOL,
    BOOL_FALSE,
    BOOL_TRUE,
    BYTE,
    DOUBLE,
    I16,
    I32,
    I64,
    LIST,
    MAP,
    SET,
    STRUCT,
    UUID,
    Field,
    Raw,
    Struct,
    ThriftError,
    TList,
    TMap,
    decode_struct,
    encode_struct,
)

SCALARS = {
    BOOL_TRUE: st.booleans(), BOOL_FALSE: st.booleans(), BYTE: st.integers(-128, 127),
    I16: st.integers(-(2 ** 15), 2 ** 15 - 1), I32: st.integers(-(2 ** 31), 2 ** 31 - 1),
    I64: st.integers(-(2 ** 63), 2 ** 63 - 1), DOUBLE: st.floats(allow_nan=False),
    BINARY: st.binary(max_size=40), UUID: st.binary(min_size=16, max_size=16),
}


def values(t: int, depth: int) -> st.SearchStrategy[Any]:
    if t in SCALARS:
        return SCALARS[t]
    if t == STRUCT:
        return structs(depth + 1)
    if t in (LIST, SET):
        return element_type(depth).flatmap(lambda et: st.lists(values(et, depth + 1), max_size=20).map(
            lambda items: TList(et, items, t)))
    return st.tuples(element_type(depth), element_type(depth)).flatmap(lambda kv: st.lists(
        st.tuples(values(kv[0], depth + 1), values(kv[1], depth + 1)), max_size=5).map(
        lambda items: TMap(kv[0], kv[1], items) if items else TMap(0, 0, [])))


def element_type(depth: int) -> st.SearchStrategy[int]:
    return st.sampled_from(sorted(SCALARS) + ([LIST, SET, MAP, STRUCT] if depth < 3 else []))


@st.composite
def structs(draw: st.DrawFn, depth: int = 0) -> Struct:
    ids = draw(st.lists(st.one_of(st.integers(1, 20), st.integers(-40, 2 ** 15 - 1)), unique=True,
                        max_size=8 if depth < 3 else 3))
    fields = []
    for fid in ids:
        t = draw(st.sampled_from([BOOL, BYTE, I16, I32, I64, DOUBLE, BINARY, UUID]
                                 + ([LIST, SET, MAP, STRUCT] if depth < 3 else [])))
        fields.append(Field(fid, t, draw(values(t, depth))))
    return Struct(fields)


@settings(max_examples=150, deadline=None)
@given(structs())
def test_round_trip(s: Struct) -> None:
    data = encode_struct(s)
    back, used = decode_struct(data)
    assert used == len(data)
    assert back == s
    assert encode_struct(back) == data
    # composite fields kept raw (at the top, or one level down) write back the same bytes
    for spec in ({}, {f.id: {} for f in s.fields}):
        lazy, used = decode_struct(b"xx" + data + b"yy", 2, spec)
        assert used == len(data) + 2
        assert encode_struct(lazy) == data
        composite = [f.value for f in lazy.fields if f.type in (LIST, SET, MAP, STRUCT)]
        assert all((type(v) is Raw) == (not spec) for v in composite)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([None, {}, {1: {}, 2: {3: {}}}]))
def test_junk_raises_thrift_error_only(data: bytes, spec: dict | None) -> None:
    try:
        s, used = decode_struct(data, 0, spec)
    except ThriftError:
        return
    assert used <= len(data)
    again = encode_struct(s)  # junk may hold non-minimal encodings: the canonical ones are stable
    assert encode_struct(decode_struct(again, 0, spec)[0]) == again


@settings(max_examples=60, deadline=None)
@given(structs())
def test_truncated_raises(s: Struct) -> None:
    data = encode_struct(s)
    for cut in range(len(data)):
        with pytest.raises(ThriftError):
            decode_struct(data[:cut])


def test_known_bytes() -> None:
    assert encode_struct(Struct([Field(1, I32, -1)])) == b"\x15\x01\x00"
    assert encode_struct(Struct([Field(20, I32, 1)])) == b"\x05\x28\x02\x00"  # long form: delta 20 > 15
    assert encode_struct(Struct([Field(3, I64, 1), Field(2, I32, 0)])) == b"\x36\x02\x05\x04\x00\x00"
    assert encode_struct(Struct([Field(1, BOOL, True), Field(2, BOOL, False)])) == b"\x11\x12\x00"
    assert encode_struct(Struct([Field(1, LIST, TList(I32, list(range(15))))]))[:3] == b"\x19\xf5\x0f"
    assert encode_struct(Struct([Field(1, BINARY, b"ab"), Field(2, MAP, TMap(0, 0, []))])) == b"\x18\x02ab\x1b\x00\x00"
    assert encode_struct(Struct([Field(1, LIST, TList(BOOL_TRUE, [True, False]))])) == b"\x19\x21\x01\x02\x00"
    assert encode_struct(Struct([Field(1, I64, 300)])) == b"\x16\xd8\x04\x00"
    assert decode_struct(b"\x15\x01\x00") == (Struct([Field(1, I32, -1)]), 3)
    with pytest.raises(ThriftError):
        decode_struct(b"\x1e\x00")  # type 14 is no compact type
    with pytest.raises(ThriftError):
        decode_struct(b"\x1c" * 200 + b"\x00" * 200)  # nested deeper than any footer


def test_struct_helpers() -> None:
    s = Struct([Field(1, I32, 5), Field(4, I64, 7)])
    assert s.get(4) == 7 and s.get(2) is None and s.get(2, 0) == 0
    s.set(2, I16, 3)
    s.set(4, I64, 8)
    s.set(9, BINARY, b"z")
    assert [(f.id, f.value) for f in s.fields] == [(1, 5), (2, 3), (4, 8), (9, b"z")]
    s.remove(2)
    assert [f.id for f in s.fields] == [1, 4, 9]
    assert decode_struct(encode_struct(s))[0] == s
