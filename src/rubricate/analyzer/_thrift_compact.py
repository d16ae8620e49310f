"""A small, generic Thrift Compact Protocol codec (enough to rewrite Parquet footers in place).

It knows no IDL: `decode_struct` turns any compact-encoded struct into `Struct` (its fields in the
order they were written, each with its id, compact type and value), and `encode_struct` writes it
back. Unknown fields survive untouched, and for bytes written by a standard encoder (minimal
varints, short field headers where the id delta is 1..15, short list headers under 15 elements)
decode + encode gives the identical bytes.

Values: ints for byte/i16/i32/i64, bool, float for double, bytes for binary (strings too),
`TList` for list and set, `TMap`, `Struct`, and 16 raw bytes for uuid.

With a `Spec` (field id -> the spec of that field's struct, or of its list's element structs),
only the composite fields named are decoded; the others are walked over and kept as `Raw`, their
encoded bytes, which `encode_struct` writes back as they are (a Parquet footer is mostly
statistics and schema, which a concatenation leaves alone: this makes it several times faster).
"""

from __future__ import annotations

import struct as _struct
from dataclasses import dataclass, field
from typing import Any

# Compact type ids (a bool field carries its value in the type: TRUE or FALSE)
BOOL_TRUE, BOOL_FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT, UUID = range(1, 14)
BOOL = BOOL_TRUE
_MAX_DEPTH = 64
_DOUBLE = _struct.Struct("<d")


class ThriftError(ValueError):
    """Bytes that are not a valid compact-encoded struct."""


Spec = dict[int, "Spec"] | None  # None: decode everything below
_COMPOSITE = frozenset((LIST, SET, MAP, STRUCT))


@dataclass(slots=True)
class Raw:
    """A value left encoded: the bytes of a value of its field's type."""
    data: bytes


@dataclass(slots=True)
class TList:
    """A list (or, with kind=SET, a set) of values of one compact type."""
    elem_type: int
    items: list[Any]
    kind: int = LIST


@dataclass(slots=True)
class TMap:
    key_type: int
    value_type: int
    items: list[tuple[Any, Any]]


@dataclass(slots=True)
class Field:
    id: int
    type: int
    value: Any


@dataclass(slots=True)
class Struct:
    fields: list[Field] = field(default_factory=list)

    def field(self, fid: int) -> Field | None:
        for f in self.fields:
            if f.id == fid:
                return f
        return None

    def get(self, fid: int, default: Any = None) -> Any:
        f = self.field(fid)
        return default if f is None else f.value

    def set(self, fid: int, type_: int, value: Any) -> None:
        """Replace the value of field `fid` where it stands, or add the field in id order."""
        f = self.field(fid)
        if f is not None:
            f.type, f.value = type_, value
            return
        at = next((i for i, g in enumerate(self.fields) if g.id > fid), len(self.fields))
        self.fields.insert(at, Field(fid, type_, value))

    def remove(self, fid: int) -> None:
        self.fields = [f for f in self.fields if f.id != fid]


# ---------------------------------------------------------------------------------------- decoding

def decode_struct(buf: bytes, pos: int = 0, spec: Spec = None) -> tuple[Struct, int]:
    """Decode one struct starting at `pos`; returns it and the position just after it.

    With `spec`, composite fields not named in it are kept as `Raw` (see the module's doc)."""
    data = bytes(buf)
    size = len(data)
    p = pos

    def varint() -> int:
        nonlocal p
        b = data[p]
        p += 1
        if b < 0x80:
            return b
        result, shift = b & 0x7F, 7
        while True:
            b = data[p]
            p += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ThriftError("varint too long")

    def take(n: int) -> bytes:
        nonlocal p
        end = p + n
        if end > size:
            raise ThriftError("truncated thrift data")
        out = data[p:end]
        p = end
        return out

    def count() -> tuple[int, int]:
        """A list header: (number of elements, element type)."""
        nonlocal p
        head = data[p]
        p += 1
        n = head >> 4
        if n == 15:
            n = varint()
        if n > size - p:  # every element takes a byte at least
            raise ThriftError("truncated thrift data")
        return n, head & 0x0F

    def value(t: int, depth: int, sub: Spec) -> Any:
        nonlocal p
        if t == I32 or t == I64 or t == I16:
            n = varint()
            return (n >> 1) ^ -(n & 1)
        if t == BINARY:
            return take(varint())
        if t == STRUCT:
            return struct(depth + 1, sub)
        if t == LIST or t == SET:
            n, et = count()
            return TList(et, [value(et, depth + 1, sub) for _ in range(n)], t)
        if t == BOOL_TRUE or t == BOOL_FALSE:  # an element of a collection: one byte
            p += 1
            return data[p - 1] == BOOL_TRUE
        if t == BYTE:
            p += 1
            b = data[p - 1]
            return b - 256 if b > 127 else b
        if t == DOUBLE:
            return _DOUBLE.unpack(take(8))[0]
        if t == MAP:
            n = varint()
            if n == 0:
                return TMap(0, 0, [])
            kt, vt = data[p] >> 4, data[p] & 0x0F
            p += 1
            return TMap(kt, vt, [(value(kt, depth + 1, sub), value(vt, depth + 1, sub)) for _ in range(n)])
        if t == UUID:
            return take(16)
        raise ThriftError(f"unknown compact type {t}")

    def skip(t: int, depth: int) -> None:
        """Walk over one value of type `t`, building nothing (ints and strings inline: they are most)."""
        nonlocal p
        if t == STRUCT:
            if depth > _MAX_DEPTH:
                raise ThriftError("thrift data nested too deeply")
            while True:
                head = data[p]
                p += 1
                if head == 0:
                    return
                if head < 0x10:
                    varint()
                t = head & 0x0F
                if t == I32 or t == I64 or t == I16:
                    while data[p] & 0x80:
                        p += 1
                    p += 1
                elif t == BINARY:
                    n = varint()
                    p += n
                elif t != BOOL_TRUE and t != BOOL_FALSE:
                    skip(t, depth + 1)
        elif t == LIST or t == SET:
            n, et = count()
            if et == I32 or et == I64 or et == I16:
                for _ in range(n):
                    while data[p] & 0x80:
                        p += 1
                    p += 1
            elif et == BINARY:
                for _ in range(n):
                    n = varint()
                    p += n
            else:
                for _ in range(n):
                    skip(et, depth + 1)
        elif t == I32 or t == I64 or t == I16:
            while data[p] & 0x80:
                p += 1
            p += 1
        elif t == BINARY:
            n = varint()
            p += n
        elif t == BOOL_TRUE or t == BOOL_FALSE or t == BYTE:
            p += 1
        elif t == DOUBLE:
            p += 8
        elif t == MAP:
            n = varint()
            if n:
                kt, vt = data[p] >> 4, data[p] & 0x0F
                p += 1
                for _ in range(n):
                    skip(kt, depth + 1)
                    skip(vt, depth + 1)
        elif t == UUID:
            p += 16
        else:
            raise ThriftError(f"unknown compact type {t}")
        if p > size:
            raise ThriftError("truncated thrift data")

    def struct(depth: int, sub: Spec) -> Struct:
        nonlocal p
        if depth > _MAX_DEPTH:
            raise ThriftError("thrift data nested too deeply")
        fields: list[Field] = []
        last = 0
        while True:
            head = data[p]
            p += 1
            if head == 0:
                return Struct(fields)
            t = head & 0x0F
            if head > 0x0F:
                fid = last + (head >> 4)
            else:
                n = varint()
                fid = (n >> 1) ^ -(n & 1)
            if t == BOOL_TRUE or t == BOOL_FALSE:
                fields.append(Field(fid, BOOL, t == BOOL_TRUE))
            elif sub is None:
                fields.append(Field(fid, t, value(t, depth, None)))
            elif t in _COMPOSITE and fid not in sub:
                start = p
                skip(t, depth)
                fields.append(Field(fid, t, Raw(data[start:p])))
            else:
                fields.append(Field(fid, t, value(t, depth, sub.get(fid, {}))))
            last = fid

    try:
        s = struct(0, spec)
    except IndexError:
        raise ThriftError("truncated thrift data") from None
    except RecursionError:
        raise ThriftError("thrift data nested too deeply") from None
    return s, p


# ---------------------------------------------------------------------------------------- encoding

def _varint(out: bytearray, n: int) -> None:
    if n < 0:
        raise ThriftError("negative varint")
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zigzag(out: bytearray, n: int) -> None:
    if not -(1 << 63) <= n < (1 << 63):
        raise ThriftError(f"integer out of range: {n}")
    _varint(out, (n << 1) ^ (n >> 63))


def _value(out: bytearray, t: int, v: Any) -> None:
    if type(v) is Raw:
        out += v.data
    elif t in (I16, I32, I64):
        _zigzag(out, v)
    elif t == BINARY:
        _varint(out, len(v))
        out += v
    elif t == STRUCT:
        _struct_into(out, v)
    elif t in (LIST, SET):
        n, et = len(v.items), v.elem_type
        if n < 15:
            out.append(n << 4 | et)
        else:
            out.append(0xF0 | et)
            _varint(out, n)
        for item in v.items:
            _value(out, et, item)
    elif t in (BOOL_TRUE, BOOL_FALSE):
        out.append(BOOL_TRUE if v else BOOL_FALSE)
    elif t == BYTE:
        out.append(v & 0xFF)
    elif t == DOUBLE:
        out += _DOUBLE.pack(v)
    elif t == MAP:
        _varint(out, len(v.items))
        if v.items:
            out.append(v.key_type << 4 | v.value_type)
            for k, val in v.items:
                _value(out, v.key_type, k)
                _value(out, v.value_type, val)
    elif t == UUID:
        if len(v) != 16:
            raise ThriftError("uuid must be 16 bytes")
        out += v
    else:
        raise ThriftError(f"unknown compact type {t}")


def _struct_into(out: bytearray, s: Struct) -> None:
    last = 0
    for f in s.fields:
        t, v, fid = f.type, f.value, f.id
        if t == BOOL_TRUE or t == BOOL_FALSE:
            t = BOOL_TRUE if v else BOOL_FALSE
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | t)
        else:
            out.append(t)
            _zigzag(out, fid)
        last = fid
        if t == I32 or t == I64 or t == I16:  # inline zigzag varint: most footer fields are ints
            if not -(1 << 63) <= v < (1 << 63):
                raise ThriftError(f"integer out of range: {v}")
            n = (v << 1) ^ (v >> 63)
            while n > 0x7F:
                out.append((n & 0x7F) | 0x80)
                n >>= 7
            out.append(n)
        elif t != BOOL_TRUE and t != BOOL_FALSE:
            _value(out, t, v)
    out.append(0)


def encode_struct(s: Struct) -> bytes:
    out = bytearray()
    _struct_into(out, s)
    return bytes(out)


def encode_value(t: int, v: Any) -> bytes:
    """The bytes of one value of compact type `t` (used to compare values exactly)."""
    out = bytearray()
    _value(out, t, v)
    return bytes(out)
