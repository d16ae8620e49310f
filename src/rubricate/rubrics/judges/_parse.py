"""Reading a judge's reply: find the JSON object (code fences, leading prose), then one answer per item.

Models outside strict structured output wrap JSON in ```json fences, put a sentence before it, or
answer `"Yes"` / `true` / `"N/A"`; these are accepted. Cited steps that do not exist or were not shown
are dropped and counted, never kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ._items import NA, JudgeItem

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_SYNONYMS = {"yes": "yes", "y": "yes", "true": "yes", "pass": "yes", "passed": "yes",
             "no": "no", "n": "no", "false": "no", "fail": "no", "failed": "no",
             "na": NA, "n/a": NA, "n.a.": NA, "not applicable": NA, "none": NA, "null": NA}


@dataclass(frozen=True, slots=True)
class ItemAnswer:
    """One item's answer: an allowed answer, the reason, valid cited steps, and how many were dropped."""

    answer: str
    reason: str
    steps: tuple[int, ...]
    dropped: int = 0


def extract_json(text: str, keys: frozenset[str] = frozenset()) -> Any:
    """The reply's JSON object: the whole text, a fenced block, or an object inside prose. Among
    several objects the one with the most of `keys` (the item ids asked) wins, the last on a tie: a
    reply that quotes JSON from the episode before its own answer is read by its answer."""
    text = text.strip().lstrip("\ufeff")
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    found: list[dict[str, Any]] = []
    for m in _FENCE.finditer(text):
        try:
            value = json.loads(m.group(1).strip())
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    decoder = json.JSONDecoder()
    pos = 0
    while (start := text.find("{", pos)) >= 0:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            pos = start + 1
            continue
        if isinstance(value, dict) and value:
            found.append(value)
        pos = end  # objects inside this one are not candidates
    if not found:
        return None
    return max(reversed(found), key=lambda obj: len(keys & set(_entries(obj))))


def _normalise_answer(raw: Any, item: JudgeItem) -> str | None:
    if isinstance(raw, bool):
        raw = "yes" if raw else "no"
    if raw is None:
        return None
    text = str(raw).strip().strip(".").strip()
    for allowed in item.allowed():
        if text == allowed or text.lower() == allowed.lower():
            return allowed
    value = _SYNONYMS.get(text.lower())
    if value == NA or (value is not None and not item.graded):
        return value
    return None


def _entries(obj: Any) -> dict[str, Any]:
    """Item entries keyed by id, from {id: {...}}, {"items": {...}} or a list of {"id": ..., ...}."""
    if isinstance(obj, dict) and set(obj) <= {"items", "answers", "checklist", "results"} and obj:
        obj = next(iter(obj.values()))
    if isinstance(obj, list):
        return {str(e.get("id")): e for e in obj if isinstance(e, dict) and "id" in e}
    return obj if isinstance(obj, dict) else {}


def _steps(raw: Any, shown: frozenset[int]) -> tuple[tuple[int, ...], int]:
    if raw is None:
        return (), 0
    values = raw if isinstance(raw, list) else [raw]
    good, dropped = set(), 0
    for v in values:
        try:
            i = int(v) if not isinstance(v, bool) and float(v) == int(float(v)) else None
        except (TypeError, ValueError):
            i = None
        if i is not None and i in shown:
            good.add(i)
        else:
            dropped += 1
    return tuple(sorted(good)), dropped


def read_answers(obj: Any, items: list[JudgeItem], shown: frozenset[int]) -> tuple[dict[str, ItemAnswer], dict[str, str]]:
    """Answers for the items the reply answers validly, and a problem for each item it does not."""
    entries = _entries(obj)
    answers: dict[str, ItemAnswer] = {}
    problems: dict[str, str] = {}
    for item in items:
        entry = entries.get(item.id)
        if entry is None:
            problems[item.id] = "the judge's reply has no answer for this item"
            continue
        if not isinstance(entry, dict):
            entry = {"verdict": entry}
        raw = entry.get("verdict", entry.get("answer"))
        answer = _normalise_answer(raw, item)
        if answer is None:
            allowed = ", ".join(item.allowed())
            problems[item.id] = f"the judge answered {str(raw)[:60]!r}, not one of {allowed}"
            continue
        reason = " ".join(str(entry.get("reason") or "").split())[:500] or "(the judge gave no reason)"
        steps, dropped = _steps(entry.get("steps", entry.get("evidence")), shown)
        answers[item.id] = ItemAnswer(answer, reason, steps, dropped)
    return answers, problems
