"""Numbers in text: extraction with units, which of them are quantities, closeness at stated
precision, and one-step derivations.

Used by `grounded_answer` (is every quantity of the answer in, or one arithmetic step from, the
tool outputs, or in what the agent was given?) and `answer_correct` (does the answer match the
ground truth?). The native kernel reproduces each function exactly (src/kernel/numbers.c).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

import numpy as np

_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9,
           "b": 1e9, "trillion": 1e12, "tn": 1e12}
NUMBER = re.compile(
    r"(?<![\w.,])(?P<neg>[-\u2212])?\$?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<pct>\s?%|\s?percent\b)?"
    r"(?:\s?(?P<word>thousand|million|billion|trillion)\b|(?P<abbr>bn|mn|tn|[kmb])(?![a-z]))?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Number:
    """A number as written: its text, value, decimals shown, unit scale and percent sign."""

    text: str
    value: float
    decimals: int
    scale: float = 1.0
    percent: bool = False

    def candidates(self) -> tuple[float, ...]:
        """The values this number may stand for once units are undone."""
        out = [self.value]
        if self.scale != 1.0:
            full = self.value * self.scale
            out += [full, full / 1e3, full / 1e6, full / 1e9]
        if self.percent:
            out.append(self.value / 100)
        return tuple(dict.fromkeys(out))


_DIGIT = re.compile(r"\d").search

# Numbers written as words ("Two", "twenty-one", "a hundred", "three million"): zero..nineteen and the
# tens, a tens-unit compound, optionally times hundred/thousand/million/billion. ASCII only, so that
# the native kernel can tell exactly which answers hold one (it leaves those to this code).
_UNIT_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
               "sixteen seventeen eighteen nineteen").split()
_TEN_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD_VALUES = {w: i for i, w in enumerate(_UNIT_WORDS)} | {w: 20 + 10 * i for i, w in enumerate(_TEN_WORDS)}
_WORD_SCALES = {"hundred": 100.0, "thousand": 1e3, "million": 1e6, "billion": 1e9}
SPELLED = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TEN_WORDS)})(?:[- ](?P<unit>{'|'.join(_UNIT_WORDS[1:10])}))?"
    rf"|(?P<small>{'|'.join(sorted(_UNIT_WORDS, key=len, reverse=True))})|(?P<a>a))"
    r"(?:[ \t]+(?P<times>hundred|thousand|million|billion))?\b",
    re.IGNORECASE | re.ASCII,
)


def spelled_numbers(text: str) -> list[tuple[int, Number]]:
    """(offset, number) of every number written as words in `text`: "Two" is 2, "twenty-one" 21,
    "a hundred" 100, "three million" 3 with scale 1e6 (as "3 million" is). "a" alone is no number."""
    out: list[tuple[int, Number]] = []
    for m in SPELLED.finditer(text):
        tens, unit, small, a, times = m.group("tens", "unit", "small", "a", "times")
        if a and not times:
            continue
        value = float(_WORD_VALUES[(tens or small).lower()] if not a else 1)
        value += _WORD_VALUES[unit.lower()] if unit else 0
        scale = _WORD_SCALES[times.lower()] if times else 1.0
        if scale == 100.0:
            value, scale = value * 100, 1.0
        out.append((m.start(), Number(m.group(0), value, 0, scale)))
    return out


# Numbers that are not quantities, found left to right: a list ordinal opening a line ("2. "), dates
# (2024-05-15, 5/15/2024, 2024/05/15, May 20th, Oct 18, 2024, 20 May 2024, September 2020) and times
# (15:00, 2:00:30).
_MONTH = ("(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          "|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_ORDINAL = r"^[ \t]*(\d{1,3})[.)][ \t]"  # a list ordinal opening its line ("2. ", "3) ")
LIST_ORDINAL = re.compile(_ORDINAL, re.MULTILINE)
NOT_QUANTITY = re.compile(
    _ORDINAL +
    r"|(?<!\d)\d{4}-\d{1,2}-\d{1,2}(?!\d)"
    r"|(?<!\d)\d{1,2}/\d{1,2}/\d{2,4}(?!\d)"
    r"|(?<!\d)\d{4}/\d{1,2}/\d{1,2}(?!\d)"
    r"|(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)"
    rf"|\b{_MONTH}\.?[ \t]+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?[ \t]+\d{{4}}\b)?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?{_MONTH}\b(?:\.?,?[ \t]+\d{{4}}\b)?"
    rf"|\b{_MONTH}\.?,?[ \t]+\d{{4}}\b",
    re.IGNORECASE | re.MULTILINE,
)
_ASCII_DIGITS = frozenset("0123456789")
_WORD = re.compile(r"\w")
_WORD_RUN = re.compile(r"\w*")


def _parse(neg: str, num: str, pct: str, word: str, abbr: str) -> tuple[float, int, float, bool]:
    digits = num.replace(",", "")
    value = -float(digits) if neg else float(digits)
    decimals = len(digits) - digits.index(".") - 1 if "." in digits else 0
    unit = (word or abbr).lower()
    return value, decimals, _SCALES.get(unit, 1.0) if unit else 1.0, bool(pct)


def numbers(text: str) -> list[Number]:
    """Every number in `text`, with commas, currency, percent and thousand/million/billion understood."""
    out: list[Number] = []
    if not _DIGIT(text):
        return out
    for m in NUMBER.finditer(text):
        value, decimals, scale, percent = _parse(*m.groups(default=""))
        out.append(Number(m.group(0).strip(), value, decimals, scale, percent))
    return out


def quantities(text: str) -> list[Number]:
    """The numbers of `text` that are quantities: `numbers(text)` without list ordinals, dates and
    times (`NOT_QUANTITY`) and the numbers that are part of an identifier: those running on into
    word characters that hold a digit ("60RX9E", a reservation) and those after a word and a hyphen
    ("PUR-456789", "GPT-4")."""
    out: list[Number] = []
    if not _DIGIT(text):
        return out
    spans = [m.span() for m in NOT_QUANTITY.finditer(text)]
    k = 0
    for m in NUMBER.finditer(text):
        start, end = m.span()
        while k < len(spans) and spans[k][1] <= start:
            k += 1
        if (k < len(spans) and spans[k][0] < end) or _in_identifier(text, start, m.end("num")):
            continue
        value, decimals, scale, percent = _parse(*m.groups(default=""))
        out.append(Number(m.group(0).strip(), value, decimals, scale, percent))
    return out


def list_ordinal_at(text: str, start: int) -> bool:
    """The number at `start` numbers a list item: it opens its line ("2. ...")."""
    m = LIST_ORDINAL.match(text, text.rfind("\n", 0, start) + 1)
    return m is not None and m.start(1) == start


def has_identifier(text: str) -> bool:
    """True when a number of `text` is part of an identifier (see `quantities`): "80GSFC21M0002",
    "release-101". Such a text is compared whole, never by its numbers."""
    if not _DIGIT(text):
        return False
    return any(_in_identifier(text, m.start(), m.end("num")) for m in NUMBER.finditer(text))


def _in_identifier(text: str, start: int, digits_end: int) -> bool:
    """True when the number matched at `start` (its digits ending at `digits_end`) is part of an
    identifier: the word characters right after its digits hold a digit, or it follows a word
    character that is not a digit and a hyphen."""
    run = _WORD_RUN.match(text, digits_end).group(0)
    if run and not _ASCII_DIGITS.isdisjoint(run):
        return True
    return _after_a_word(text, start)


def _after_a_word(text: str, start: int) -> bool:
    """A hyphen before `start`, after a word character that is not a digit ("PUR-", "GPT-")."""
    return start >= 2 and text[start - 1] == "-" and text[start - 2] not in _ASCII_DIGITS and \
        _WORD.match(text, start - 2) is not None


def id_tail_at(text: str, digits: str) -> bool:
    """True when `digits` (ASCII digits) end a longer run of digits in `text` that is part of an
    identifier (it follows a word character, or a hyphen after one that is not a digit): the tail of
    an identifier ("1784" of "gift_card_1591784", "789" of "PUR-456789")."""
    n = len(digits)
    start = text.find(digits)
    while start != -1:
        end = start + n
        if start and text[start - 1] in _ASCII_DIGITS and (end == len(text) or text[end] not in _ASCII_DIGITS):
            j = start - 1
            while j >= 0 and text[j] in _ASCII_DIGITS:
                j -= 1
            if j >= 0 and (_WORD.match(text, j) is not None or _after_a_word(text, j + 1)):
                return True
        start = text.find(digits, start + 1)
    return False


def candidate_values(text: str) -> list[float]:
    """Every value the numbers in `text` may stand for (see Number.candidates), for NumberPool."""
    out: list[float] = []
    if not _DIGIT(text):
        return out
    for neg, num, pct, word, abbr in NUMBER.findall(text):
        if not (pct or word or abbr):
            out.append(-float(num.replace(",", "")) if neg else float(num.replace(",", "")))
            continue
        value, decimals, scale, percent = _parse(neg, num, pct, word, abbr)
        out.extend(Number("", value, decimals, scale, percent).candidates())
    return out


def close(value: float, target: float, decimals: int, *, rel: float = 0.01, abs_tol: float = 0.0) -> bool:
    """True when `value` equals `target` rounded to `decimals` places, or within `rel` relative."""
    diff = abs(value - target)
    return diff <= 0.5 * 10.0 ** -decimals + 1e-9 or diff <= rel * abs(target) or diff <= abs_tol


class NumberPool:
    """Numbers from tool outputs, searchable by value and by one arithmetic step between two of them.

    Values are sorted once. A lookup is a bisection; a derivation computes, for every pooled value
    a and every operation (sum, difference, product, ratio, percent, percent change), the partner
    b it would need, finds the nearest pooled b by vectorised bisection, and checks the result.
    """

    MAX = 4000

    def __init__(self, found: list[tuple[float, int]]) -> None:
        best: dict[float, int] = {}
        for value, step in found:
            if value not in best and math.isfinite(value):
                best[value] = step
        items = sorted(best.items())[: self.MAX]
        self.values = [v for v, _ in items]
        self.steps = [s for _, s in items]
        self._array: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.values)

    def find(self, target: float, decimals: int) -> int | None:
        """Index of a pooled value close to `target`, or None."""
        values = self.values
        i = bisect_left(values, target)
        for j in (i, i - 1, i + 1, i - 2):
            if 0 <= j < len(values) and close(values[j], target, decimals):
                return j
        return None

    def derive(self, target: float, decimals: int) -> tuple[int, int, str] | None:
        """Two pooled values and the operation that gives `target` in one step, or None."""
        if not self.values:
            return None
        if self._array is None:
            self._array = np.asarray(self.values, dtype=np.float64)
        a = self._array
        tol = max(0.5 * 10.0 ** -decimals + 1e-9, 0.01 * abs(target))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for op, needed, result in _operations(a, target):
                j = np.clip(np.searchsorted(a, needed), 0, len(a) - 1)
                for cand in (j, np.maximum(j - 1, 0)):
                    hits = np.flatnonzero(np.abs(result(a, a[cand]) - target) <= tol)
                    if hits.size:
                        i = int(hits[0])
                        return i, int(cand[i]), op
        return None


def _operations(a: np.ndarray, t: float) -> list[tuple[str, np.ndarray, Any]]:
    """(name, partner b each a needs, result of a op b) for the one-step derivations."""
    return [
        ("sum", t - a, lambda x, y: x + y),
        ("difference", a - t, lambda x, y: x - y),
        ("difference", a + t, lambda x, y: y - x),
        ("product", t / a, lambda x, y: x * y),
        ("ratio", a / t, lambda x, y: x / y),
        ("ratio", a * t, lambda x, y: y / x),
        ("percent", a * 100 / t, lambda x, y: x / y * 100),
        ("percent change", a * (1 + t / 100), lambda x, y: (y - x) / x * 100),
    ]
