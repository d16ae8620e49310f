"""Built-in check of the final answer against the episode's ground truth."""

from __future__ import annotations

import re

from .._check import CheckContext, Outcome, check, failed, not_applicable, passed
from .._numbers import close, numbers
from .tool_discipline import ROLES

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


@check(behavior="correctness", params=ROLES)
def answer_correct(ctx: CheckContext) -> Outcome:
    """The final answer matches the ground truth: numerically within 1% relative or 0.01 absolute
    (percent and thousand/million/billion understood), or, for a text ground truth, by containment."""
    truth = ctx.episode.ground_truth
    if truth is None or not truth.strip():
        return not_applicable("the episode has no ground truth")
    answer = ctx.answer
    if answer is None:
        return failed("no final answer")
    expected = numbers(truth)
    if not expected:
        want = _normal_text(truth)
        if want and f" {want} " in f" {_normal_text(answer.text)} ":  # whole words: "Paris" is not "Parisian"
            return passed(f"the answer contains the expected text {truth[:80]!r}", answer.step)
        return failed(f"the answer does not contain the expected text {truth[:80]!r}", answer.step)
    given = numbers(marked_answer(answer.text))
    target = expected[0]
    for number in given:
        for value in number.candidates():
            for want in target.candidates():
                # 0.01 absolute holds between numbers as written; once percent or units are undone,
                # only 1% relative (else 1% and 2% would match as 0.01 and 0.02)
                tol = 0.01 if value == number.value and want == target.value else 0.0
                if close(value, want, 12, rel=0.01, abs_tol=tol):
                    return passed(f"{number.text} matches the expected {target.text}", answer.step)
    shown = ", ".join(n.text for n in given[:5]) or "no number"
    return failed(f"the answer gives {shown}; expected {target.text}", answer.step)
