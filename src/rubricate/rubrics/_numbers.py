"""Numbers in text: extraction with units, closeness at stated precision, and one-step derivations.

Used by `grounded_answer` (is every number of the answer in, or one arithmetic step from, the
tool outputs?) and `answer_correct` (does the answer match the ground truth?).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from dataclasses import dataclass

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


def numbers(text: str) -> list[Number]:
    """Every number in `text`, with commas, currency, percent and thousand/million/billion understood."""
    out = []
    for m in NUMBER.finditer(text):
        digits = m.group("num").replace(",", "")
        value = float(digits)
        if m.group("neg"):
            value = -value
        word = (m.group("word") or m.group("abbr") or "").lower()
        decimals = len(digits) - digits.index(".") - 1 if "." in digits else 0
        out.append(Number(m.group(0).strip(), value, decimals, _SCALES.get(word, 1.0), bool(m.group("pct"))))
    return out


def close(value: float, target: float, decimals: int, *, rel: float = 0.01, abs_tol: float = 0.0) -> bool:
    """True when `value` equals `target` rounded to `decimals` places, or within `rel` relative."""
    diff = abs(value - target)
    return diff <= 0.5 * 10.0 ** -decimals + 1e-9 or diff <= rel * abs(target) or diff <= abs_tol


class NumberPool:
    """Numbers from tool outputs, searchable by value and by one arithmetic step between two of them.

    Values are kept sorted once; a lookup is a bisection, a derivation is one bisection per value
    per operation (sum, difference, product, ratio, percent, percent change).
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
        for i, a in enumerate(self.values):
            needs = (
                ("sum", target - a), ("difference", a - target), ("difference", a + target),
                ("product", target / a if a else math.nan), ("ratio", a / target if target else math.nan),
                ("ratio", a * target), ("percent", a * 100 / target if target else math.nan),
                ("percent change", a * (1 + target / 100)),
            )
            for op, b in needs:
                if not math.isfinite(b):
                    continue
                j = self._near(b)
                if j is not None and close(_apply(op, a, self.values[j], target), target, decimals):
                    return i, j, op
        return None

    def _near(self, b: float) -> int | None:
        values = self.values
        i = bisect_left(values, b)
        if i < len(values) and (i == 0 or abs(values[i] - b) <= abs(values[i - 1] - b)):
            return i
        return i - 1 if i > 0 else None


def _apply(op: str, a: float, b: float, target: float) -> float:
    """The result of `op` on a and b, choosing the direction that the target suggests."""
    if op == "sum":
        return a + b
    if op == "difference":
        return a - b if abs(a - b - target) <= abs(b - a - target) else b - a
    if op == "product":
        return a * b
    if op == "ratio":
        r1 = a / b if b else math.inf
        r2 = b / a if a else math.inf
        return r1 if abs(r1 - target) <= abs(r2 - target) else r2
    if op == "percent":
        return a / b * 100 if b else math.inf
    return (b - a) / a * 100 if a else math.inf  # percent change from a to b
