"""Built-in check of the final answer against the episode's ground truth."""

from __future__ import annotations

import re

from .._check import CheckContext, Outcome, check, failed, not_applicable, passed
from .._numbers import NUMBER, Number, close, numbers, spelled_numbers
from .._reasons import reasons
from .tool_discipline import GROUNDED, ROLES

_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_MARKED = re.compile(r"(?:final answer|answer)\s*(?:is|:|=)\s*(.+)", re.IGNORECASE)
_WORDS = re.compile(r"[^\w%.]+")
_ARTICLES = re.compile(r"\b(?:the|a|an)\b")


def marked_answer(text: str) -> str:
    """The `\\boxed{...}` part of an answer, else the text after 'answer is/:', else all of it."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1]
    marked = _MARKED.findall(text)
    return marked[-1] if marked else text


def _normal_text(text: str) -> str:
    return " ".join(_ARTICLES.sub(" ", _WORDS.sub(" ", text.lower())).split()).strip(" .")


CORRECT = reasons(
    "answer_correct",
    no_truth="the episode has no ground truth",
    contains="the answer contains the expected text {truth!r}",
    not_contains="the answer does not contain the expected text {truth!r}",
    matches="{number} matches the expected {expected}",
    no_match="the answer gives {numbers}; expected {expected}",
    no_number="the answer gives no number; expected {expected}",
)


@check(behavior="correctness", params=ROLES)
def answer_correct(ctx: CheckContext) -> Outcome:
    """The final answer matches the ground truth. A number matches at the precision the truth is
    written with: a whole number (a year, a count) exactly, once rounded to units; a decimal within
    half a unit of its last decimal place or 1% relative (percent and thousand/million/billion
    understood, numbers written as words counted). A text ground truth matches by whole-word
    containment."""
    truth = ctx.episode.ground_truth
    if truth is None or not truth.strip():
        return not_applicable(CORRECT.no_truth())
    answer = ctx.answer
    if answer is None:
        return failed(GROUNDED.no_answer())
    expected = numbers(truth)
    if not expected:
        want = _normal_text(truth)
        if want and f" {want} " in f" {_normal_text(answer.text)} ":  # whole words: "Paris" is not "Parisian"
            return passed(CORRECT.contains(truth=truth[:80]), answer.step)
        return failed(CORRECT.not_contains(truth=truth[:80]), answer.step)
    given = _given(marked_answer(answer.text))
    target = expected[0]
    for number in given:
        if _matches(number, target):
            return passed(CORRECT.matches(number=number.text, expected=target.text), answer.step)
    if not given:
        return failed(CORRECT.no_number(expected=target.text), answer.step)
    return failed(CORRECT.no_match(numbers=[n.text for n in given[:5]], expected=target.text), answer.step)


def _given(text: str) -> list[Number]:
    """The numbers of the answer in the order written, those written as words ("Two") among them."""
    spelled = spelled_numbers(text)
    if not spelled:
        return numbers(text)
    digits = [(m.start(), n) for m, n in zip(NUMBER.finditer(text), numbers(text), strict=True)]
    return [n for _, n in sorted(digits + spelled, key=lambda pair: pair[0])]


def _matches(number: Number, target: Number) -> bool:
    """`number` (or a value it stands for once units are undone) gives the truth `target` at the
    truth's precision. A whole number as truth (no decimals, percent or unit) must be hit within half
    a unit: 2007 is not the year 2018, 732,050 not the count 736,455. Otherwise 1% relative, or half a
    unit of the truth's last decimal place between the numbers as written (so 0.00049 is not
    0.00033, and 1% is not 2% once both are read as 0.01 and 0.02)."""
    whole = target.decimals == 0 and target.scale == 1.0 and not target.percent
    for value in number.candidates():
        for want in target.candidates():
            if whole:
                if close(value, want, 0, rel=0.0):
                    return True
            elif close(value, want, target.decimals if value == number.value and want == target.value else 12,
                       rel=0.01):
                return True
    return False
