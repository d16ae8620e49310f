"""Numbers in text: extraction with units, closeness at stated precision, and one-step derivations.

Used by `grounded_answer` (is every number of the answer in, or one arithmetic step from, the
tool outputs?) and `answer_correct` (does the answer match the ground truth?).
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
