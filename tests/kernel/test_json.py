"""json.c against its reference, msgspec.json.decode.

`_debug_json(bytes)` gives ("ok", value), ("invalid",) or ("fallback",). The rule checked everywhere:
"ok" must be exactly msgspec's value (types, float bits, dict key order); "invalid" only where msgspec
raises msgspec.DecodeError; "fallback" is always allowed, but on inputs the kernel handles natively
(ASCII text, int64 integers, finite floats, shallow nesting) the tests also require that it is not
used. `_debug_json_equal(a, b)` must agree with comparing msgspec's sorted encodings.
"""

from __future__ import annotations

import json
import random
import struct
from decimal import Decimal, localcontext
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 64


# ---------------------------------------------------------------- helpers


def same(a: Any, b: Any) -> bool:
    """Equal as msgspec's output must be: same types, float bits, dict key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


def reference(data: bytes) -> tuple[str, Any]:
    try:
        return "ok", msgspec.json.decode(data)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        return "raise", exc


def native(value: Any, depth: int = 0) -> bool:
    """True when the kernel must decode this (decoded) value itself rather than fall back."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return INT64_MIN <= value <= INT64_MAX
    if isinstance(value, float):
        return True
    if isinstance(value, str):
        return value.isascii()
    if depth >= MAX_DEPTH:
        return False
    if isinstance(value, list):
        return all(native(x, depth + 1) for x in value)
    return all(k.isascii() and native(v, depth + 1) for k, v in value.items())


def check(kernel: ModuleType, data: bytes, *, native_expected: bool | None = None, utf8: bool = False) -> str:
    """Compare the kernel with msgspec on one text (`utf8`: in the mode that decodes non-ASCII text,
    as verifiers records are read); returns the kernel's status."""
    got = (kernel._debug_json_utf8 if utf8 else kernel._debug_json)(data)
    status, ref = reference(data)
    if got[0] == "ok":
        assert status == "ok", (data, got, ref)
        assert same(got[1], ref), (data, got[1], ref)
    elif got[0] == "invalid":
        assert status == "raise" and isinstance(ref, msgspec.DecodeError), (data, ref)
    else:
        assert got == ("fallback",), got
        if native_expected is None:
            native_expected = status == "ok" and (native_utf8(ref) if utf8 else native(ref) and data.isascii())
        assert not native_expected, ("needless fallback", data)
    if utf8 and (got[0] != "fallback" or status == "raise"):
        # the ASCII parser agrees wherever it does not fall back
        ascii_got = kernel._debug_json(data)
        assert ascii_got == got or ascii_got == ("fallback",), (data, ascii_got, got)
    return got[0]


# ---------------------------------------------------------------- strategies

ascii_text = st.text(st.characters(max_codepoint=0x7F), max_size=30)
any_text = st.text(st.characters(codec="utf-8"), max_size=12)
texts = st.one_of(ascii_text, ascii_text, ascii_text, any_text)
ints = st.one_of(
    st.integers(-1000, 1000),
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(-(2**70), 2**70),
    st.sampled_from([INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1, 2**64 - 1, 2**64, 10**18, 10**19]),
)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e16, 1e22,
                     1e23, 0.1, 0.30000000000000004, 9007199254740993.0, 123456789.0]),
)
leaves = st.one_of(st.none(), st.booleans(), ints, floats, texts)
values = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=6), st.dictionaries(texts, children, max_size=6)),
    max_leaves=40,
)

number_texts = st.from_regex(r"\A-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?\Z")


def write(value: Any, rnd: random.Random) -> str:
    """JSON text for value with random whitespace, escapes and number spellings."""

    def ws() -> str:
        if rnd.random() < 0.6:
            return ""
        return "".join(rnd.choice(" \t\n\r") for _ in range(rnd.randint(1, 3)))

    def string(s: str) -> str:
        out = ['"']
        for ch in s:
            o = ord(ch)
            r = rnd.random()
            if ch == '"' or ch == "\\" or o < 0x20 or r < 0.15:
                short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                         "/": "\\/"}
                if ch in short and rnd.random() < 0.5:
                    out.append(short[ch])
                elif o > 0xFFFF:
                    hi, lo = divmod(o - 0x10000, 0x400)
                    out.append(f"\\u{0xD800 + hi:04x}\\u{0xDC00 + lo:04X}")
                else:
                    out.append(("\\u%04x" if rnd.random() < 0.5 else "\\u%04X") % o)
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)

    def number(v: float) -> str:
        if isinstance(v, int):
            return str(v)
        r = rnd.random()
        if r < 0.5:
            return repr(v)
        if r < 0.65:
            g = f"{v:.17g}"
            return g if "e" in g or "." in g else g + ".0"
        if r < 0.8:
            return f"{v:.16e}"
        if r < 0.9:
            return f"{v:.25E}"
        return msgspec.json.encode(v).decode()

    def go(v: Any) -> str:
        if v is None:
            return "null"
        if v is True:
            return "true"
        if v is False:
            return "false"
        if isinstance(v, (int, float)):
            return number(v)
        if isinstance(v, str):
            return string(v)
        if isinstance(v, list):
            return "[" + ws() + ("," + ws()).join(go(x) + ws() for x in v) + "]"
        return "{" + ws() + ("," + ws()).join(string(k) + ws() + ":" + ws() + go(x) + ws() for k, x in v.items()) + "}"

    return ws() + go(value) + ws()


# ---------------------------------------------------------------- hand-written cases

EDGE = [
    # (text, expected status)
    (b"null", "ok"), (b"true", "ok"), (b"false", "ok"), (b"0", "ok"), (b"-0", "ok"), (b"-0.0", "ok"),
    (b"0.0", "ok"), (b"1E5", "ok"), (b"1e+5", "ok"), (b"1e-5", "ok"), (b"1e05", "ok"), (b"0e5", "ok"),
    (b"-0e5", "ok"), (b"1e-400", "ok"), (b"-1e-400", "ok"), (b"0e999999999999999999", "ok"),
    (b"1.5E-3", "ok"), (b"1e16", "ok"), (b"10000000000000000.0", "ok"), (b"100000000000000000000.5", "ok"),
    (b"9223372036854775807", "ok"), (b"-9223372036854775808", "ok"), (b"0.30000000000000004", "ok"),
    (b"9007199254740993.0", "ok"), (b"2.2250738585072011e-308", "ok"), (b"4.9e-324", "ok"), (b"2e-324", "ok"),
    (b"2.4703282292062327e-324", "ok"), (b"2.4703282292062328e-324", "ok"), (b"1.7976931348623157e308", "ok"),
    (b"1.7976931348623158e308", "ok"), (b"7.038531e-26", "ok"), (b"1e23", "ok"), (b"8.98846567431158e307", "ok"),
    (b"123456789012345678901234567890e-30", "ok"), (b"0.000000000000000000000000000000001", "ok"),
    (b' 1\n\r\t', "ok"), (b"[]", "ok"), (b"{}", "ok"), (b"[ ]", "ok"), (b"{ }", "ok"), (b'""', "ok"),
    (b'{"a":1,"b":2,"a":3}', "ok"), (b'{"a":{"x":1},"a":[2]}', "ok"), (b'{"":0}', "ok"),
    (b'"\\u0000"', "ok"), (b'"a\\u0000b"', "ok"), (b'{"a\\u0000b":1}', "ok"), (b'"\\u007f"', "ok"),
    (b'"\\u007F\\u0041\\u006a"', "ok"), (b'"\\"\\\\\\/\\b\\f\\n\\r\\t"', "ok"), (b'"\x7f"', "ok"),
    (b'[1,[2,[3,{"a":[{}]}]]]', "ok"), (b'{"a" : 1 , "b" :[ true ,false, null ] }', "ok"),
    # invalid: msgspec raises DecodeError
    (b"", "invalid"), (b" ", "invalid"), (b"\n\t\r ", "invalid"), (b"01", "invalid"), (b"-01", "invalid"),
    (b"00", "invalid"), (b"-", "invalid"), (b"-a", "invalid"), (b"1.", "invalid"), (b".5", "invalid"),
    (b"+1", "invalid"), (b"1e", "invalid"), (b"1e+", "invalid"), (b"1E-", "invalid"), (b"0.e5", "invalid"),
    (b"1.e5", "invalid"), (b"1.5.3", "invalid"), (b"--1", "invalid"), (b"0x10", "invalid"),
    (b"NaN", "invalid"), (b"Infinity", "invalid"), (b"-Infinity", "invalid"), (b"nan", "invalid"),
    (b"[1,]", "invalid"), (b'{"a":1,}', "invalid"), (b"[,]", "invalid"), (b"[,1]", "invalid"), (b"{,}", "invalid"),
    (b"[1 2]", "invalid"), (b'{"a" 1}', "invalid"), (b'{"a":}', "invalid"), (b"{1:2}", "invalid"),
    (b"{'a':1}", "invalid"), (b"'a'", "invalid"), (b"//c\n1", "invalid"), (b"/*c*/1", "invalid"),
    (b"1 //c", "invalid"), (b"[1] x", "invalid"), (b"1 2", "invalid"), (b"truex", "invalid"), (b"tru", "invalid"),
    (b"nul", "invalid"), (b"fals", "invalid"), (b"True", "invalid"), (b"nulL", "invalid"), (b"None", "invalid"),
    (b"1\x0b", "invalid"), (b"1\x0c", "invalid"), (b"\x0b1", "invalid"), (b"\x0c1", "invalid"), (b"1\x00", "invalid"),
    (b"\x00", "invalid"), (b"\xef\xbb\xbf1", "invalid"), (b"[\xff]", "invalid"), (b"1\xff", "invalid"),
    (b'{"a":1}\xc3\xa9', "invalid"), (b'"abc', "invalid"), (b'"abc\\', "invalid"), (b'"abc\\"', "invalid"),
    (b"[", "invalid"), (b"]", "invalid"), (b"{", "invalid"), (b"}", "invalid"), (b'{"a"', "invalid"),
    (b'{"a":', "invalid"), (b'{"a":1', "invalid"), (b"[1", "invalid"), (b"[1,", "invalid"), (b"[[]", "invalid"),
    (b"[]]", "invalid"), (b'"\\x"', "invalid"), (b'"\\U0041"', "invalid"), (b'"\\u12"', "invalid"),
    (b'"\\u12', "invalid"), (b'"\\uZZZZ"', "invalid"), (b'"\\u00g0"', "invalid"), (b'"\\\xff"', "invalid"),
    (b'"a\x01b"', "invalid"), (b'"a\x1fb"', "invalid"), (b'"a\tb"', "invalid"), (b'"a\nb"', "invalid"),
    (b'"a\x00b"', "invalid"), (b'{"a\nb":1}', "invalid"), (b'"\\n\x01"', "invalid"), (b'"\x01\xff"', "invalid"),
    (b'["a"}', "invalid"), (b'{"a":1]', "invalid"), (b'{"a":1 "b":2}', "invalid"), (b'{"a"::1}', "invalid"),
    # fallback: outside what the kernel reproduces
    (b'"\xc3\xa9"', "fallback"), (b'"\xff"', "fallback"), (b'["\xff" x]', "fallback"), (b'{"\xff":1', "fallback"),
    (b'"\\u00e9"', "fallback"), (b'"\\u0080"', "fallback"), (b'"\\ud800"', "fallback"), (b'"\\udc00"', "fallback"),
    (b'"\\ud83d\\ude00"', "fallback"), (b'"\\\\\xc3\xa9"', "fallback"), (b'"\xff\x01"', "fallback"),
    (b"9223372036854775808", "fallback"), (b"-9223372036854775809", "fallback"),
    (b"18446744073709551616", "fallback"), (b"123456789012345678901234567890", "fallback"),
    (b"1e400", "fallback"), (b"-1e400", "fallback"), (b"1.7976931348623159e308", "fallback"),
    (b"1e99999999999999999999", "fallback"), (b"0." + b"0" * 200 + b"1", "fallback"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "fallback"),
    (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "fallback"),
    (b"[" * 2000 + b"]" * 2000, "fallback"),
]


@pytest.mark.parametrize(("data", "expected"), EDGE, ids=[repr(d)[:40] for d, _ in EDGE])
def test_edge_cases(kernel: ModuleType, data: bytes, expected: str) -> None:
    assert kernel._debug_json(data)[0] == expected
    check(kernel, data, native_expected=False)


def test_edge_case_values(kernel: ModuleType) -> None:
    assert kernel._debug_json(b'{"a":1,"b":2,"a":3}') == ("ok", {"a": 3, "b": 2})
    assert list(kernel._debug_json(b'{"b":1,"a":2,"b":3}')[1]) == ["b", "a"]
    assert kernel._debug_json(b'"a\\u0000b"') == ("ok", "a\x00b")
    got = kernel._debug_json(b"[-0, -0.0, 1, 1.0, 1e16]")[1]
    assert [type(x) for x in got] == [int, float, int, float, float]
    assert struct.pack("<d", got[1]) == struct.pack("<d", -0.0)


def test_depth_limit(kernel: ModuleType) -> None:
    for depth in (1, 2, MAX_DEPTH - 1, MAX_DEPTH):
        for open_, close in ((b"[", b"]"), (b'{"k":', b"}")):
            data = open_ * depth + b"0" + close * depth
            assert check(kernel, data) == "ok"
    assert kernel._debug_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)) == ("fallback",)
    # depth counts open containers, not siblings
    assert check(kernel, b"[" + b",".join([b"[[]]"] * 500) + b"]") == "ok"


def test_whitespace_and_literals(kernel: ModuleType) -> None:
    for c in range(256):
        b = bytes([c])
        check(kernel, b + b"1")
        check(kernel, b"[1" + b + b"]")
        check(kernel, b'"a' + b + b'"')
        check(kernel, b'"\\' + b + b'"')
        check(kernel, b"1" + b)
        check(kernel, b'"\\u00' + b + b'1"')
    for lit in (b"true", b"false", b"null"):
        for i in range(len(lit) + 1):
            check(kernel, lit[:i])
            check(kernel, b"[" + lit[:i] + b"]")


def test_every_ascii_escape(kernel: ModuleType) -> None:
    for cp in range(0x100):
        for form in ("\\u%04x", "\\u%04X"):
            data = ('"x' + form % cp + 'y"').encode()
            assert check(kernel, data) == ("ok" if cp < 0x80 else "fallback")


# ---------------------------------------------------------------- numbers


@settings(max_examples=500, deadline=None)
@given(number_texts)
def test_number_texts(kernel: ModuleType, text: str) -> None:
    data = text.encode()
    status = check(kernel, data)
    ref = msgspec.json.decode(data) if reference(data)[0] == "ok" else None
    if status == "fallback":
        assert ref is None or (isinstance(ref, int) and not INT64_MIN <= ref <= INT64_MAX) or len(data) > 127
    if isinstance(ref, float):
        assert same(ref, float(text))  # msgspec is correctly rounded, as float() is


def test_random_decimal_strings(kernel: ModuleType) -> None:
    """Many random decimal texts (short and long mantissas, all exponent ranges) against float()."""
    rnd = random.Random(20240611)
    for _ in range(60000):
        nd = rnd.choice((1, 2, 5, 15, 16, 17, 18, 19, 20, 25, 40))
        digits = "".join(rnd.choice("0123456789") for _ in range(nd)).lstrip("0") or "0"
        point = rnd.randint(0, len(digits))
        frac = digits[point:]
        text = (digits[:point] or "0") + ("." + frac if frac else "")
        if rnd.random() < 0.7:
            text += rnd.choice("eE") + rnd.choice(("", "+", "-")) + str(rnd.randint(0, 330))
        if rnd.random() < 0.5:
            text = "-" + text
        data = text.encode()
        got = kernel._debug_json(data)
        status, ref = reference(data)
        if got[0] == "ok":
            assert status == "ok" and same(got[1], ref), text
            assert isinstance(ref, int) or same(ref, float(text)), text
        else:
            assert got == ("fallback",), text
            assert status == "raise" or not isinstance(ref, float) or len(data) > 127, text


def halfway_texts(rnd: random.Random, count: int) -> list[str]:
    """Exact midpoints between adjacent doubles (round-half-even decides) and their near neighbours."""
    out = []
    for _ in range(count):
        x = rnd.choice((rnd.uniform(1, 2) * 2.0 ** rnd.randint(-30, 90), float(rnd.randint(2**53, 2**60))))
        up = struct.unpack("<d", struct.pack("<q", struct.unpack("<q", struct.pack("<d", x))[0] + 1))[0]
        with localcontext() as ctx:
            ctx.prec = 2000  # exact: the midpoint has at most ~1100 significant digits
            mid = (Decimal(x) + Decimal(up)) / 2
        s = format(mid, "f")
        if "." not in s:
            s += ".0"
        if len(s) > 100:
            continue
        out.append(s)
        out.append(s + "0000001")
        if s[-1] != "0":
            out.append(s[:-1] + str(int(s[-1]) - 1))
    return out


def test_halfway_floats(kernel: ModuleType) -> None:
    rnd = random.Random(7)
    texts_ = halfway_texts(rnd, 3000)
    assert len(texts_) > 3000
    for text in texts_:
        for data in (text.encode(), b"-" + text.encode()):
            got = kernel._debug_json(data)
            assert got[0] == "ok", data
            assert same(got[1], msgspec.json.decode(data)) and same(got[1], float(data)), data


# ---------------------------------------------------------------- generated documents


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.randoms(use_true_random=False))
def test_generated_documents(kernel: ModuleType, value: Any, rnd: random.Random) -> None:
    for data in (
        msgspec.json.encode(value),
        json.dumps(value).encode(),
        json.dumps(value, ensure_ascii=False, indent=rnd.choice((None, 0, 2))).encode(),
        write(value, rnd).encode(),
    ):
        check(kernel, data)


def corrupt(data: bytes, rnd: random.Random) -> bytes:
    interesting = b'"\\,:[]{} \t\n0123456789-+.eEtfnu\x00\x01\x1f\x7f\x80\xc3\xff'
    b = bytearray(data)
    for _ in range(rnd.randint(1, 3)):
        op = rnd.randrange(5)
        i = rnd.randrange(len(b) + 1)
        if op == 0 and b:
            del b[min(i, len(b) - 1)]
        elif op == 1:
            b.insert(i, rnd.choice(interesting) if rnd.random() < 0.8 else rnd.randrange(256))
        elif op == 2 and b:
            b[min(i, len(b) - 1)] = rnd.choice(interesting)
        elif op == 3:
            b = b[:i]
        elif b:
            j = rnd.randrange(len(b))
            k = min(len(b), j + rnd.randint(1, 8))
            b[i:i] = b[j:k]
    return bytes(b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.randoms(use_true_random=False))
def test_corrupted_documents(kernel: ModuleType, value: Any, rnd: random.Random) -> None:
    data = write(value, rnd).encode()
    for _ in range(12):
        check(kernel, corrupt(data, rnd), native_expected=False)


# ---------------------------------------------------------------- json_equal


def sorted_encoding_equal(a: bytes, b: bytes) -> bool:
    x, y = msgspec.json.decode(a), msgspec.json.decode(b)
    return msgspec.json.encode(x, order="sorted") == msgspec.json.encode(y, order="sorted")


def shuffled(value: Any, rnd: random.Random) -> Any:
    if isinstance(value, list):
        return [shuffled(x, rnd) for x in value]
    if isinstance(value, dict):
        items = list(value.items())
        rnd.shuffle(items)
        return {k: shuffled(v, rnd) for k, v in items}
    return value


def tweaked(value: Any, rnd: random.Random) -> Any:
    """value with one small change somewhere (or none)."""
    if isinstance(value, list) and value and rnd.random() < 0.7:
        i = rnd.randrange(len(value))
        return value[:i] + [tweaked(value[i], rnd)] + value[i + 1 :]
    if isinstance(value, dict) and value and rnd.random() < 0.7:
        k = rnd.choice(list(value))
        return {**value, k: tweaked(value[k], rnd)}
    choices = [None, True, False, 0, 0.0, -0.0, 1, 1.0, "", "a", [], {}, [0], {"a": 0}]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return rnd.choice((float(value), value + 1, -value))
    if isinstance(value, float):
        return rnd.choice((-value, value * 2, float(int(value)) if abs(value) < 1e300 else 0.0))
    if isinstance(value, str):
        return value + "x" if rnd.random() < 0.5 else value[:-1]
    if isinstance(value, list):
        return value + [0] if rnd.random() < 0.5 else value[:-1]
    if isinstance(value, dict):
        return {**value, "zz": None} if rnd.random() < 0.5 else dict(list(value.items())[:-1])
    return rnd.choice(choices)


def check_equal(kernel: ModuleType, a: bytes, b: bytes) -> bool | None:
    got = kernel._debug_json_equal(a, b)
    if got is None:
        assert not (native(msgspec.json.decode(a)) and native(msgspec.json.decode(b)) and a.isascii()
                    and b.isascii()), (a, b)
    else:
        assert got is sorted_encoding_equal(a, b), (a, b)
        assert kernel._debug_json_equal(b, a) is got
    return got


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, values, st.randoms(use_true_random=False))
def test_equal_generated(kernel: ModuleType, x: Any, y: Any, rnd: random.Random) -> None:
    a = msgspec.json.encode(x)
    check_equal(kernel, a, a)
    check_equal(kernel, a, write(x, rnd).encode())
    check_equal(kernel, a, msgspec.json.encode(shuffled(x, rnd)))
    check_equal(kernel, a, write(shuffled(x, rnd), rnd).encode())
    check_equal(kernel, a, msgspec.json.encode(tweaked(x, rnd)))
    check_equal(kernel, a, msgspec.json.encode(shuffled(tweaked(x, rnd), rnd)))
    check_equal(kernel, a, msgspec.json.encode(y))


EQUAL = [
    (b"1", b"1", True), (b"1", b"1.0", False), (b"1.0", b"1.00", True), (b"1e16", b"10000000000000000.0", True),
    (b"0.0", b"-0.0", False), (b"-0.0", b"-0e3", True), (b"0.0", b"0e-400", True), (b"-0", b"0", True),
    (b"0.1", b"0.10000000000000001", True), (b"0.1", b"0.1000000000000001", False), (b"true", b"1", False),
    (b"null", b"false", False), (b'"a"', b'"\\u0061"', True), (b'"a\\u0000"', b'"a"', False),
    (b"[1,2]", b"[2,1]", False), (b"[1,2]", b"[1,2,3]", False), (b"[]", b"{}", False), (b"[[]]", b"[{}]", False),
    (b'{"a":1,"b":2}', b'{"b":2,"a":1}', True), (b'{"a":1,"b":2}', b'{"a":1,"c":2}', False),
    (b'{"a":1,"b":2}', b'{"a":1}', False), (b'{"a":[1,{"x":null}]}', b'{"a":[1,{"x":null}]}', True),
    (b'{"a":[1,{"x":null}]}', b'{"a":[1,{"x":false}]}', False), (b'{"":1}', b'{"":1}', True),
    (b'{"a":1,"a":2}', b'{"a":2}', None), (b'{"a":1}', b'[{"b":1,"b":1}]', None), (b'"\xc3\xa9"', b'"e"', None),
    (b"1e400", b"1", None), (b"[1,", b"1", None),
]


@pytest.mark.parametrize(("a", "b", "expected"), EQUAL)
def test_equal_cases(kernel: ModuleType, a: bytes, b: bytes, expected: bool | None) -> None:
    assert kernel._debug_json_equal(a, b) is expected
    assert kernel._debug_json_equal(b, a) is expected
    if expected is not None:
        assert sorted_encoding_equal(a, b) is expected


def test_equal_wide_objects(kernel: ModuleType) -> None:
    rnd = random.Random(3)
    keys = [f"k{i}" for i in range(300)]
    x = {k: i for i, k in enumerate(keys)}
    y = dict(sorted(x.items(), key=lambda _: rnd.random()))
    assert check_equal(kernel, msgspec.json.encode(x), msgspec.json.encode(y)) is True
    y["k7"] = 7.0
    assert check_equal(kernel, msgspec.json.encode(x), msgspec.json.encode(y)) is False
    # duplicate keys in a wide object are found (the hashed path)
    dup = b"{" + b",".join(b'"%s":1' % k.encode() for k in keys + ["k150"]) + b"}"
    assert kernel._debug_json_equal(dup, b"1") is None
    assert kernel._debug_json_equal(msgspec.json.encode(x), b"1") is False


# ---------------------------------------------------------------- real lines


def real_lines(path: Path, limit: int = 300) -> list[bytes]:
    with path.open("rb") as f:
        return [line.rstrip(b"\n") for _, line in zip(range(limit), f)]


def test_real_lines(kernel: ModuleType, bench_chat: Path) -> None:
    lines = real_lines(bench_chat)
    assert len(lines) == 300
    args = []
    for line in lines:
        assert check(kernel, line) == "ok"
        for msg in msgspec.json.decode(line)["messages"]:
            for call in msg.get("tool_calls") or ():
                raw = call.get("function", {}).get("arguments")
                if isinstance(raw, str):
                    args.append(raw.encode())
    assert args
    for raw in args:
        check(kernel, raw)


def test_real_lines_corrupted(kernel: ModuleType, bench_chat: Path) -> None:
    rnd = random.Random(11)
    for line in real_lines(bench_chat, 60):
        for _ in range(20):
            check(kernel, corrupt(line, rnd), native_expected=False)


def test_real_lines_equal(kernel: ModuleType, bench_chat: Path) -> None:
    lines = real_lines(bench_chat, 40)
    for a, b in zip(lines, lines[1:] + lines[:1]):
        check_equal(kernel, a, a)
        check_equal(kernel, a, b)
        check_equal(kernel, a, msgspec.json.encode(shuffled(msgspec.json.decode(a), random.Random(len(a)))))


# ---------------------------------------------------------------- non-ASCII text (JDoc.utf8, verifiers records)
#
# `_debug_json_utf8` parses with JDoc.utf8 set: raw UTF-8 and \u escapes >= 0x80 decode to the same
# str msgspec gives; only invalid UTF-8 and lone surrogates (msgspec raises) may fall back. The shim
# also checks every string's `wide` flag against its bytes (a SystemError when they disagree).


def native_utf8(value: Any, depth: int = 0) -> bool:
    """True when the kernel must decode this value itself in UTF-8 mode."""
    if isinstance(value, str):
        return True
    if isinstance(value, (list, dict)):
        if depth >= MAX_DEPTH:
            return False
        items = value if isinstance(value, list) else value.values()
        return all(native_utf8(x, depth + 1) for x in items)
    return native(value, depth)


EDGE_UTF8 = [
    (b'"\xc3\xa9"', "ok"), (b'"\\u00e9"', "ok"), (b'"\\u0080"', "ok"), (b'"\\u07ff\\u0800\\uffff"', "ok"),
    (b'"\\ud83d\\ude00"', "ok"), (b'"\\uD83D\\uDE00x"', "ok"), (b'"\\udbff\\udfff"', "ok"), (b'"\\\\\xc3\xa9"', "ok"),
    (b'{"\xc3\xa9":1,"\\u00e9":2}', "ok"), (b'"\xef\xbb\xbf"', "ok"), (b'"\xf0\x9f\x98\x80"', "ok"),
    (b'"\xf4\x8f\xbf\xbf"', "ok"), (b'"\xed\x9f\xbf\xee\x80\x80"', "ok"), (b'"a\xc3\xa9\\n\xe2\x80\x93b"', "ok"),
    (b'["\xc3\xa9", {"k\xc3\xa9y": ["\\u2013"]}]', "ok"), (b'"\xc3\xa9' + b"x" * 40 + b'\\"' + b"\xe2\x80\x94" * 20 + b'"', "ok"),
    # invalid UTF-8 (UnicodeDecodeError) and lone surrogates (DecodeError): the Python path reports them
    (b'"\xff"', "fallback"), (b'"\x80"', "fallback"), (b'"\xc0\xaf"', "fallback"), (b'"\xc1\xbf"', "fallback"),
    (b'"\xe0\x80\x80"', "fallback"), (b'"\xed\xa0\x80"', "fallback"), (b'"\xf0\x80\x80\x80"', "fallback"),
    (b'"\xf4\x90\x80\x80"', "fallback"), (b'"\xf5\x80\x80\x80"', "fallback"), (b'"\xe2\x82"', "fallback"),
    (b'"\xc3"', "fallback"), (b'"\xc3\xa9\xff"', "fallback"), (b'"\\n\xff"', "fallback"),
    (b'"\\ud800"', "fallback"), (b'"\\udc00"', "fallback"), (b'"\\ud83dx"', "fallback"),
    (b'"\\ud83d\\u0041"', "fallback"), (b'"\\ud83d\\ud83d"', "fallback"), (b'"\\ude00\\ud83d"', "fallback"),
    # invalid JSON around non-ASCII text
    (b'"\xc3\xa9', "invalid"), (b'"\xc3\xa9\x01"', "invalid"), (b'"\\u00e9', "invalid"), (b"[\xc3\xa9]", "invalid"),
    (b'"\xc3\xa9"\xc3\xa9', "invalid"), (b'"\\u00e"', "invalid"), (b'"\xc3\xa9\\x"', "invalid"),
]


@pytest.mark.parametrize(("data", "expected"), EDGE_UTF8, ids=[repr(d)[:40] for d, _ in EDGE_UTF8])
def test_utf8_edge_cases(kernel: ModuleType, data: bytes, expected: str) -> None:
    assert kernel._debug_json_utf8(data)[0] == expected
    check(kernel, data, native_expected=expected == "ok", utf8=True)


def test_utf8_every_escape_and_character(kernel: ModuleType) -> None:
    """Every BMP \\u escape (surrogates fall back) and every code point as raw UTF-8, in a key and a value."""
    for cp in range(0x10000):
        data = f'{{"k\\u{cp:04x}":"x\\u{cp:04X}"}}'.encode()
        assert check(kernel, data, utf8=True) == ("fallback" if 0xD800 <= cp <= 0xDFFF else "ok"), hex(cp)
    for cp in list(range(0x80, 0x800, 7)) + list(range(0x800, 0x110000, 251)) + [0xFFFF, 0x10000, 0x10FFFF]:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp).encode()
        assert check(kernel, b'{"' + ch + b'":"a' + ch + b'\\n' + ch + b'"}', utf8=True) == "ok", hex(cp)


def test_utf8_every_lead_byte(kernel: ModuleType) -> None:
    for b0 in range(0x80, 0x100):
        for tail in (b"", b"\x80", b"\xbf", b"\x80\x80", b"\xa0\x80", b"\x90\x80\x80", b"\x8f\xbf\xbf", b"\xc0"):
            for data in (b'"' + bytes([b0]) + tail + b'"', b'"\\n' + bytes([b0]) + tail + b'x"'):
                check(kernel, data, utf8=True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.randoms(use_true_random=False))
def test_utf8_generated_documents(kernel: ModuleType, value: Any, rnd: random.Random) -> None:
    for data in (
        msgspec.json.encode(value),
        json.dumps(value).encode(),
        json.dumps(value, ensure_ascii=False).encode(),
        write(value, rnd).encode(),
    ):
        assert check(kernel, data, utf8=True) == "ok" or not native_utf8(value), data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.randoms(use_true_random=False))
def test_utf8_corrupted_documents(kernel: ModuleType, value: Any, rnd: random.Random) -> None:
    data = json.dumps(value, ensure_ascii=False).encode() if rnd.random() < 0.5 else write(value, rnd).encode()
    for _ in range(12):
        check(kernel, corrupt(data, rnd), native_expected=False, utf8=True)
