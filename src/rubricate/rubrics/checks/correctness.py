"""Built-in check of the final answer against the episode's ground truth."""

from __future__ import annotations

import re

from .._check import CheckContext, Outcome, check, failed, not_applicable, passed
from .._numbers import close, numbers
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
    """The final answer matches the ground truth: numerically within 1% relative or 0.01 absolute
    (percent and thousand/million/billion understood), or, for a text ground truth, by containment."""
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
    given = numbers(marked_answer(answer.text))
    target = expected[0]
    for number in given:
        for value in number.candidates():
            for want in target.candidates():
                # 0.01 absolute holds between numbers as written; once percent or units are undone,
                # only 1% relative (else 1% and 2% would match as 0.01 and 0.02)
                tol = 0.01 if value == number.value and want == target.value else 0.0
                if close(value, want, 12, rel=0.01, abs_tol=tol):
                    return passed(CORRECT.matches(number=number.text, expected=target.text), answer.step)
    if not given:
        return failed(CORRECT.no_number(expected=target.text), answer.step)
    return failed(CORRECT.no_match(numbers=[n.text for n in given[:5]], expected=target.text), answer.step)
