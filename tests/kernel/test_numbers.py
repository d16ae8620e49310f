"""numbers.c against its Python reference (rubricate.rubrics._numbers and grounded_answer's _number_at):
numbers(), quantities(), id_tail_at(), Number.candidates(), candidate_values + NumberPool (values,
steps, find, derive) and _number_at, on generated number-dense text, hand-written edge cases and real traces. Floats must be
bit-identical (== and the sign of zeros)."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rubricate.rubrics._numbers import NumberPool, candidate_values, id_tail_at, numbers, quantities
from rubricate.rubrics.checks.tool_discipline import _decimals, _number_at

SETTINGS = settings(max_examples=400, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


# ------------------------------------------------------------------ comparison helpers

def same(a: Any, b: Any) -> bool:
    """Equal, with floats compared bit for bit (the sign of zero counts; NaN equals NaN)."""
    if isinstance(a, float) or isinstance(b, float):
        if type(a) is not type(b):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def ref_numbers(text: str, with_candidates: bool = False) -> list[tuple[Any, ...]]:
    out = []
    for n in numbers(text):
        row: tuple[Any, ...] = (n.text, n.value, n.decimals, n.scale, n.percent)
        out.append(row + (n.candidates(),) if with_candidates else row)
    return out


def check_numbers(kernel: ModuleType, text: str) -> None:
    got = kernel._debug_numbers((text, True))
    want = ref_numbers(text, True)
    assert same(got, want), (text, got, want)
    assert same(kernel._debug_numbers(text), ref_numbers(text)), text


def ref_pool(texts: list[tuple[str, int]], targets: list[tuple[float, int]]):
    pool = NumberPool([(v, s) for text, s in texts for v in candidate_values(text)])
    rows = []
    for t, d in targets:
        derived = pool.derive(t, d)
        rows.append((pool.find(t, d), derived[:2] if derived is not None else None))
    return rows, pool.values, pool.steps


def check_pool(kernel: ModuleType, texts: list[tuple[str, int]], targets: list[tuple[float, int]]) -> None:
    got = kernel._debug_pool(texts, targets, True)
    want = ref_pool(texts, targets)
    assert same(got[1], want[1]), ("values", texts)
    assert same(got[2], want[2]), ("steps", texts)
    for target, g, w in zip(targets, got[0], want[0]):
        assert same(g, w), (target, g, w)
    assert same(kernel._debug_pool(texts, targets), want[0])


OPS = [
    lambda x, y: x + y,
    lambda x, y: x - y,
    lambda x, y: y - x,
    lambda x, y: x * y,
    lambda x, y: x / y,
    lambda x, y: y / x,
    lambda x, y: x / y * 100,
    lambda x, y: (y - x) / x * 100,
]


def derived_targets(values: list[float], picks: list[tuple[int, int, int, int]]) -> list[tuple[float, int]]:
    """Targets one step from two pooled values (every operation), and near misses around them."""
    out: list[tuple[float, int]] = []
    if not values:
        return out
    for i, j, op, decimals in picks:
        x, y = values[i % len(values)], values[j % len(values)]
        try:
            t = OPS[op % len(OPS)](x, y)
        except ZeroDivisionError:
            continue
        if not math.isfinite(t):
            continue
        tol = max(0.5 * 10.0 ** -decimals + 1e-9, 0.01 * abs(t))
        for v in (t, t + tol, t - tol, t * 1.0101, t * 0.9899, t + 2 * tol, round(t, 2), -t):
            out.append((v, decimals))
        # targets whose tolerance ends exactly at t: |t - target| == 0.01 * |target| or == the
        # absolute tolerance, and their neighbours one ulp away
        absolute = 0.5 * 10.0 ** -decimals + 1e-9
        for edge in (t / 0.99, t / 1.01, t + absolute, t - absolute):
            for v in (edge, math.nextafter(edge, math.inf), math.nextafter(edge, -math.inf)):
                if math.isfinite(v):
                    out.append((v, decimals))
    return out


# ------------------------------------------------------------------ strategies

TOKENS = [
    "0", "1", "7", "12", "123", "1234", "12345", "007", "0.5", ".5", "3.14", "1,234", "12,345.67",
    "1,2345", "1234,567", "1,234,567", ",", ".", "..", "$", "-", "--", "-$", "$-", "%", " %", " percent",
    " Percent", "percent", "PERCENT", "percents", "k", "K", "m", "M", "b", "B", "bn", "BN", "Bn", "mn", "MN",
    "tn", "TN", "t", "n", "kb", "km", "ms", " thousand", " Thousand", "thousand", " million", "MILLION",
    " billion", "billion", " trillion", "trillions", " thousands", " ", "  ", "\t", "\n", "\x0b", "\x0c",
    "\r", "\x1c", "\x1d", "\x1e", "\x1f", "a", "x", "e", "E", "_", "s", "(", ")", "|", ":", ";", "/",
    "+", "=", "'", '"', "#", "*", "1e5", "1E-3", "0.000", "00", "-0", "-0.0",
]
PRINTABLE = "".join(chr(c) for c in range(32, 127)) + "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"


def number_words() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-10**25, 10**25).map(str),
        st.integers(0, 10**12).map(lambda v: f"{v:,}"),
        st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:,.3f}"),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        st.floats(min_value=-1e6, max_value=1e6).map(lambda v: f"{v:.6f}"),
        st.integers(1, 400).map(lambda k: "0." + "0" * k + "1"),
        st.integers(1, 400).map(lambda k: "9" * k),
        st.text(alphabet="0123456789.,", min_size=1, max_size=30),
    )


def texts() -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(TOKENS), number_words(), st.text(alphabet=PRINTABLE, max_size=4))
    return st.lists(piece, max_size=30).map("".join)


SEPARATORS = ["", "", " ", "  ", "\t", "\n", "\x1c", "\x1f", "x", "_", "-", ".", ",", "%", "$", "1"]
SUFFIXES = ["%", "percent", "PerCent", "percentage", "k", "K", "m", "M", "mn", "Mn", "bn", "BN", "tn", "Tn", "b",
            "t", "n", "kb", "mb", "bnx", "thousand", "Thousand", "thousands", "million", "MILLION", "billion",
            "trillion", "trillions", "k%", "%k", "% million", "percent bn", "thousandk"]


def suffixed() -> st.SearchStrategy[str]:
    """Numbers followed by what NUMBER's pct and unit groups look at, with separators in between."""
    one = st.tuples(st.sampled_from(SEPARATORS), number_words(), st.sampled_from(SEPARATORS),
                    st.sampled_from(SUFFIXES), st.sampled_from(SEPARATORS + SUFFIXES)).map("".join)
    return st.lists(one, min_size=1, max_size=6).map("".join)


def table_text() -> st.SearchStrategy[str]:
    """Tool output like an SQL result: rows of numbers in a table, or JSON-ish records."""
    cell = st.one_of(
        st.integers(-10**7, 10**9).map(str),
        st.integers(0, 10**9).map(lambda v: f"{v:,}"),
        st.floats(-1e7, 1e7).map(lambda v: f"{v:.2f}"),
        st.floats(0, 1e4).map(lambda v: f"{v:,.1f}"),
        st.floats(0, 100).map(lambda v: f"{v:.1f}%"),
        st.floats(0, 1000).map(lambda v: f"${v:.1f}M"),
        st.sampled_from(["NULL", "north", "2024-03-01", "Q3", "None", "0", "-0", "0.0"]),
    )
    row = st.lists(cell, min_size=1, max_size=5)
    table = st.lists(row, min_size=1, max_size=12).map(
        lambda rows: "id | amount\n" + "\n".join(" | ".join(r) for r in rows))
    records = st.lists(row, min_size=1, max_size=8).map(
        lambda rows: json.dumps([{"k": i, "v": r} for i, r in enumerate(rows)]))
    return st.one_of(table, records, texts())


DECIMALS = st.one_of(st.integers(-12, 20), st.sampled_from([0, 1, 2, 3, 300, 320, 400, 10**6]))


# ------------------------------------------------------------------ numbers()

EDGE = [
    "", "no digits here", "1,2345", "1234,567", "1,234,567.89", "12,34", "1,234.", "1,234.x", ".5", "..5", "5.",
    "5..5", "1.2.3", "-5", "--5", "-$5", "$-5", "$$5", "a-5", "a5", "_5", "5_", ".5.5", ",5", "5,", "5,000,00",
    "5% ", "5 %", "5  %", "5\t%", "5\x1c%", "5percent", "5 percent", "5 percents", "5 Percent.", "5percent_",
    "5%k", "5% k", "5 %m", "5 percent million", "5%million", "5k", "5K", "5kg", "5k1", "5k_", "5 k",
    "5m", "5mn", "5mnx", "5Mn", "5bn", "5bnx", "5bx", "5b2", "5tn", "5t", "5tnk", "5 thousand", "5thousand",
    "5 thousands", "5  thousand", "5\x1fmillion", "5 MILLION", "5 billion.", "5 trillion_", "5 trillion1",
    "1e5", "1E5", "0x1F", "-0", "-0.0", "-.0", "0.000", "007", "-007.50", "12.5% of $1.2bn", "3.14159265358979323846",
    "1" * 400, "0." + "0" * 330 + "1", "9" * 309, "1.7976931348623157e308", "179769313486231580793728971405301",
    "2024-03-01", "v1.2.3", "ids: 12,13,14", "1,234,5678", "12,345,678,901,234.5", "$1,234.56 million",
    "(1,234)", "[-1.5, 2.5]", "x=-3.25%", "-5%", "- 5", "5-3", "5--3", "3.0 5.00 7.000", "100 BN", "1bN",
    "0.1 0.2 0.3", "2.5e-3", "1,000k", "12.5k%", "7.5 percentk", "7.5 percent k", "5xpercent", "5 xpercent",
    "5_percent", "5-percent", "5.percent", "5,percent", "5x%", "5 x%", "5  percent", "5 k", "5\tbn", "5 mn",
    "5%%", "5% %", "-0k", "-0%", "0.0%", "-.5bn", "$.5m",
]


@pytest.mark.parametrize("text", EDGE)
def test_numbers_edge_cases(kernel: ModuleType, text: str) -> None:
    check_numbers(kernel, text)


@SETTINGS
@given(text=texts())
@example(text="1,2345")
def test_numbers_generated(kernel: ModuleType, text: str) -> None:
    check_numbers(kernel, text)


@SETTINGS
@given(text=suffixed())
def test_numbers_suffixed(kernel: ModuleType, text: str) -> None:
    check_numbers(kernel, text)


@SETTINGS
@given(text=table_text())
def test_numbers_tables(kernel: ModuleType, text: str) -> None:
    check_numbers(kernel, text)


def test_numbers_rejects_non_ascii(kernel: ModuleType) -> None:
    with pytest.raises(ValueError):
        kernel._debug_numbers("5 \u2212 3")


# ------------------------------------------------------------------ NumberPool

POOL_EDGE = [
    [("id | amount\n12 | 3,400.5\n13 | 7k\n-0 0 5%", 3), ("0 9 12", 5)],
    [("0 -0", 1), ("-0 0", 2)],
    [("-0", 1), ("0.0 -0.0 0k", 2)],
    [("1" * 400 + " 5 " + "9" * 400 + "k", 1)],
    [("0." + "0" * 330 + "1k 3", 0)],
    [("", 0), ("nothing", 1)],
    [(" ".join(str(i) for i in range(5000)), 2)],
    [(" ".join(str(i) for i in range(4500, -600, -1)), 1), ("-700 4001", 4)],
    [("5% 50% 0.05", 1), ("5 percent", 2)],
    [("1.2bn 1,200 million 1200000000", 3)],
]
POOL_TARGETS = [
    (0.0, 0), (-0.0, 0), (12.0, 0), (3412.5, 1), (7000.0, 0), (1.2, 3), (2.0, 0), (5.0, 0), (0.05, 2),
    (1e9, 0), (1.2e9, 1), (math.inf, 0), (-math.inf, 0), (math.nan, 0), (1e308, 0), (-1e308, 2),
    (4.0, -3), (12345.0, -12), (0.001, 400), (7.0, 320), (9999.5, 2), (1e-320, 5), (-5000.0, 0),
]


@pytest.mark.parametrize("texts", POOL_EDGE)
def test_pool_edge_cases(kernel: ModuleType, texts: list[tuple[str, int]]) -> None:
    pool = NumberPool([(v, s) for text, s in texts for v in candidate_values(text)])
    targets = list(POOL_TARGETS)
    targets += [(v, d) for v in pool.values[:50] for d in (0, 2)]
    targets += derived_targets(pool.values, [(i, i * 7 + 3, op, d) for i in range(6) for op in range(8)
                                             for d in (0, 2)])
    check_pool(kernel, texts, targets)


@SETTINGS
@given(
    outputs=st.lists(table_text(), max_size=5),
    steps=st.lists(st.integers(0, 50), min_size=5, max_size=5),
    picks=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 7), DECIMALS),
                   max_size=12),
    extra=st.lists(st.tuples(st.floats(allow_nan=True), DECIMALS), max_size=6),
)
def test_pool_generated(kernel: ModuleType, outputs: list[str], steps: list[int],
                        picks: list[tuple[int, int, int, int]], extra: list[tuple[float, int]]) -> None:
    texts = [(text, steps[k]) for k, text in enumerate(outputs)]
    pool = NumberPool([(v, s) for text, s in texts for v in candidate_values(text)])
    targets = derived_targets(pool.values, picks) + extra
    targets += [(v, d) for v, (_, _, _, d) in zip(pool.values, picks)]
    check_pool(kernel, texts, targets)


@SETTINGS
@given(
    values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.floats(allow_nan=False, allow_infinity=False),
                              st.integers(-1000, 1000).map(float), st.sampled_from([0.0, -0.0, 1.0, 100.0])),
                    min_size=1, max_size=60),
    picks=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 7), DECIMALS),
                   min_size=1, max_size=12),
)
def test_pool_derive_arbitrary_values(kernel: ModuleType, values: list[float],
                                      picks: list[tuple[int, int, int, int]]) -> None:
    texts = [(exact(v), k) for k, v in enumerate(values)]
    pool = NumberPool([(v, s) for text, s in texts for v in candidate_values(text)])
    check_pool(kernel, texts, derived_targets(pool.values, picks))


def exact(v: float) -> str:
    """Text that parses back to exactly v."""
    return format(Decimal(v), "f")


NEEDED = [
    lambda a, t: t - a,
    lambda a, t: a - t,
    lambda a, t: a + t,
    lambda a, t: t / a if a else math.copysign(math.inf, t) if t else math.nan,
    lambda a, t: a / t if t else math.nan,
    lambda a, t: a * t,
    lambda a, t: a * 100 / t if t else math.nan,
    lambda a, t: a * (1 + t / 100),
]


@settings(SETTINGS, max_examples=150)
@given(
    values=st.lists(st.one_of(st.floats(-1e4, 1e4), st.integers(-100, 100).map(float),
                              st.floats(0.001, 1000).map(lambda v: round(v, 3))),
                    min_size=2, max_size=12),
    picks=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 7), DECIMALS),
                   min_size=1, max_size=4),
    seed=st.integers(0, 3),
)
def test_pool_derive_boundaries(kernel: ModuleType, values: list[float],
                                picks: list[tuple[int, int, int, int]], seed: int) -> None:
    """Pools that hold exactly the partner values derive() searches for, or their neighbours one ulp
    away: the order of every float operation decides which partner searchsorted lands on."""
    targets = derived_targets(values, picks)
    pool_values = list(values)
    k = seed
    for t, _ in targets:
        for a in values[:6]:
            for need in NEEDED:
                v = need(a, t)
                if math.isfinite(v):
                    up, down = math.nextafter(v, math.inf), math.nextafter(v, -math.inf)
                    pool_values += [[v], [v, up], [v, down], [up, down]][k % 4]
                    k += 1
    texts = [(exact(v), k) for k, v in enumerate(pool_values)]
    check_pool(kernel, texts, targets)


def rounded_floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.tuples(st.floats(lo, hi), st.integers(0, 4)).map(lambda p: round(p[0], p[1]))


@settings(SETTINGS, max_examples=200)
@given(a=rounded_floats(-100, 1000), t=rounded_floats(-100, 1000), decimals=DECIMALS)
@example(a=89.2, t=85.758, decimals=2)
@example(a=2.4, t=182.6, decimals=2)
@example(a=674.0, t=110.1738, decimals=2)
def test_pool_derive_exact_partner(kernel: ModuleType, a: float, t: float, decimals: int) -> None:
    """For every operation, a pool with a, the partner b that a needs for target t (or its neighbour
    one ulp away) and nothing just above it, then a later pair that hits in the first pass: when
    searchsorted lands one place off, the second pass or the later pair wins, so the exact float
    value of every `needed` expression shows. Targets around the edge of the tolerance of a op b
    show the exact value of every result expression."""
    for op in range(8):
        for variant in range(3):
            b = NEEDED[op](a, t)
            if not math.isfinite(b):
                continue
            b = [b, math.nextafter(b, math.inf), math.nextafter(b, -math.inf)][variant]
            far = abs(b) * 3 + 7
            values = [a, b, far, max(abs(a), abs(b), far) + 50]
            a2 = values[-1] + 1000.5
            b2 = NEEDED[op](a2, t)
            if math.isfinite(b2):
                values += [a2, b2]
            targets = [(t, decimals), (t, 2), (t, 0)]
            if variant == 0:
                targets += derived_targets([a, b], [(0, 1, op, decimals)])
            check_pool(kernel, [(exact(v), k) for k, v in enumerate(values)], targets)


# ------------------------------------------------------------------ _number_at

NUMBER_AT = [
    ("a 12.5 b", "12"), ("x12 12", "12"), ("12", "12"), ("112", "12"), ("121", "12"), ("12.", "12"),
    ("12.x", "12"), ("12,3", "12"), ("12,", "12"), (".12", "12"), (",12", "12"), ("a12b", "12"),
    ("12.5", "12.5"), ("1,234", "1,234"), ("1,234,5", "1,234"), ("", "12"), ("abc", ""), ("", ""),
    ("5", ""), ("1212 12", "12"), ("12 1212", "12"), ("3.5%", "3.5"),
]


@pytest.mark.parametrize(("hay", "digits"), NUMBER_AT)
def test_number_at_cases(kernel: ModuleType, hay: str, digits: str) -> None:
    assert kernel._debug_number_at(hay, digits) is _number_at(hay, digits)


@SETTINGS
@given(hay=st.text(alphabet="0123456789.,- ab%$", max_size=30),
       digits=st.text(alphabet="0123456789.,", max_size=5))
def test_number_at_generated(kernel: ModuleType, hay: str, digits: str) -> None:
    assert kernel._debug_number_at(hay, digits) is _number_at(hay, digits)
    for n in numbers(hay)[:3]:
        d = n.text.lstrip("$-").split()[0].rstrip("%")
        assert kernel._debug_number_at(hay, d) is _number_at(hay, d)


# ------------------------------------------------------------------ real traces

def _bench_records(path: Path, limit: int = 200) -> list[dict[str, Any]]:
    out = []
    with path.open() as fh:
        for k, line in enumerate(fh):
            if k >= limit:
                break
            out.append(json.loads(line))
    return out


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def test_real_traces(kernel: ModuleType, bench_chat: Path) -> None:
    records = _bench_records(bench_chat)
    n_texts = n_numbers = n_targets = 0
    for record in records:
        messages = record.get("messages") or []
        outputs: list[tuple[str, int]] = []
        answer = ""
        for index, message in enumerate(messages):
            text = _content(message)
            if not text.isascii():
                continue
            check_numbers(kernel, text)
            n_texts += 1
            n_numbers += len(numbers(text))
            if message.get("role") == "tool" and text:
                outputs.append((text, index))
            if message.get("role") == "assistant" and text:
                answer = text
        for call_msg in messages:
            for call in call_msg.get("tool_calls") or []:
                args = (call.get("function") or {}).get("arguments")
                if isinstance(args, str) and args.isascii():
                    check_numbers(kernel, args)
        pool = NumberPool([(v, s) for text, s in outputs for v in candidate_values(text)])
        targets: list[tuple[float, int]] = []
        for n in numbers(answer):
            targets += [(v, _decimals(n, v)) for v in n.candidates()]
        picks = [(i, 3 * i + 1, i % 8, i % 3) for i in range(8)]
        targets += derived_targets(pool.values, picks)
        n_targets += len(targets)
        check_pool(kernel, outputs, targets)
    assert n_texts > 1000 and n_numbers > 1000 and n_targets > 1000


# ------------------------------------------------------------------ quantities() and id_tail_at()

QUANTITY_EDGE = [
    "1. a\n2. b", "  3) c", "\t4. d", "1.5 m", "1.\n2.", "10. x", "100. x", "1000. x", "1.x", " 1. x", "x\n 2. y",
    "\n\n3. z", "1)", "1) ", "2024-05-15", "2024-05-15T16:45:47", "12024-05-15", "2024-05-156", "2024-5-1",
    "2024-005-01", "5/15/2024", "05/15/24", "5/15/2", "5/15/20245", "2024/05/15", "2024/5/1", "1/2", "1/2/3",
    "15:00", "15:00:00", "5:30 PM", "12:304", "12:30:4", "12:30:456", "112:30", "1:2", "3:1", "T16:45", "16:45:47.5",
    "May 20", "may 20th", "MAY 20TH", "May 20thx", "May 2024", "May 20, 2024", "May 20,2024", "May 20 ,2024",
    "May. 20", "May.20", "Mayday 5", "Mayo 5", "Sept. 5", "Sept 5", "September 5", "Septembe 5", "Sep 5",
    "Jun 5", "June 5", "Junes 5", "Jan. 5, 2024", "Dec 31st, 1999", "Feb 29 2024", "feb 2920", "Oct 123",
    "20 May", "20th of May", "20th of May, 2024", "20 May. 2024", "20 of May", "20 ofMay", "5 Mayday", "5 March",
    "5 Marching", "5 Sept. 2024", "123 May", "5th May 2024", "05 oct", "5 of oct", "x5 May", "_5 May",
    "September 2020", "Sept., 2020", "Sept, 2020", "Mar 20245", "Mar 2024a",
    "60RX9E", "5GB", "3rd", "2nd place", "5kg2", "5m2", "1e308", "12_345", "PUR-456789", "GPT-4", "COVID-19",
    "5-7", "x-1", "_-5", "a--5", "-5", "top-5", "$50 and 60RX9E on 2024-05-15 at 15:00",
    "gift card ending in 1784", "Departure: 14:00 EST", "on 2024-05-24:\n\n- **Flight HAT110**",
    "1. Origin and destination airports.\n2. Flight numbers and dates.", "(2025-12-08 10:30:00)",
]


def ref_quantities(text: str) -> list[str]:
    return [n.text for n in quantities(text)]


@pytest.mark.parametrize("text", QUANTITY_EDGE)
def test_quantities_edge_cases(kernel: ModuleType, text: str) -> None:
    assert kernel._debug_quantities(text) == ref_quantities(text), text


QUANTITY_PARTS = st.sampled_from([
    "1", "2", "12", "123", "2024", "05", "5", "31", "1.5", "$50", "-", "/", ":", ".", ",", ")", " ", "  ", "\t",
    "\n", "\n ", "May", "may", "Sept", "September", "jun", "June", "Dec", "of", "st", "nd", "th", "x", "_", "RX9",
    "GB", "k", "%", "T", "PM", "a", "Mar", "ch",
])


@SETTINGS
@given(text=st.lists(QUANTITY_PARTS, max_size=14).map("".join))
@example(text="1. May 5th, 2024")
def test_quantities_generated(kernel: ModuleType, text: str) -> None:
    assert kernel._debug_quantities(text) == ref_quantities(text), text


@SETTINGS
@given(hay=st.lists(st.sampled_from(["gift_card_", "1591784", "1784", "7", "_", "x", " ", "-", "0", "12", "PUR-", "9-"]),
                    max_size=8).map("".join),
       digits=st.sampled_from(["1784", "784", "17", "0", "12", "7"]))
def test_id_tail_generated(kernel: ModuleType, hay: str, digits: str) -> None:
    assert kernel._debug_id_tail(hay, digits) == id_tail_at(hay, digits), (hay, digits)


def test_quantities_and_id_tails_on_real_texts(kernel: ModuleType) -> None:
    """Every ASCII message of the tau-bench, nemo-gym and who-and-when corpora."""
    from _shared import CORPORA, need
    from rubricate.traces import load_episodes

    texts = 0
    for corpus in ("tau-bench", "nemo-gym-rollouts", "who-and-when"):
        for episode in load_episodes(need(CORPORA / corpus)):
            for step in episode.steps:
                text = step.content or ""
                if text and text.isascii():
                    assert kernel._debug_quantities(text) == ref_quantities(text), (episode.id, step.index)
                    for n in numbers(text)[:20]:
                        if n.text.isdigit():
                            assert kernel._debug_id_tail(text, n.text) == id_tail_at(text, n.text)
                    texts += 1
    assert texts > 5000
