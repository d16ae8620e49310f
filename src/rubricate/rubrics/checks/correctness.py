"""Built-in check of the final answer against the episode's ground truth."""

from __future__ import annotations

import re

from .._check import CheckContext, Outcome, check, failed, not_applicable, passed
from .._numbers import NUMBER, Number, close, has_identifier, numbers, quantities, spelled_numbers
from .._reasons import reasons
from .tool_discipline import GROUNDED, ROLES

_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_MARKED = re.compile(r"(?:final answer|final results?|answer)\s*(?:is|:|=)\s*(.+)", re.IGNORECASE)
_LIST_SEPARATOR = re.compile(r"[,;\n]")
# what is not a word: anything but word characters, '%' and a decimal point ('.' between two digits)
_NOT_WORDS = re.compile(r"(?:[^\w%.]|(?<!\d)\.|\.(?!\d))+")
_ARTICLES = re.compile(r"\b(?:the|a|an)\b")


def marked_answer(text: str) -> str:
    """The `\\boxed{...}` part of an answer, else the text after 'answer is/:' or 'final result(s):'
    (on its line), else all of it."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1]
    marked = _MARKED.findall(text)
    return marked[-1] if marked else text


def _normal_text(text: str) -> str:
    """Lower case, words only (a '.' kept only inside a number, '%' kept), no articles."""
    return " ".join(_ARTICLES.sub(" ", _NOT_WORDS.sub(" ", text.lower())).split()).strip(" .")


CORRECT = reasons(
    "answer_correct",
    no_truth="the episode has no ground truth",
    contains="the answer contains the expected text {truth!r}",
    not_contains="the answer does not contain the expected text {truth!r}",
    matches="{number} matches the expected {expected}",
    all_match="the answer gives every number of the expected {truth!r}",
    no_match="the answer gives {numbers}; expected {expected}",
    no_number="the answer gives no number; expected {expected}",
    parts="the answer names each part of the expected {truth!r}",
    acronym="the answer gives {acronym}, the initials of the expected {truth!r}",
    no_answer="the expected answer is that there is none ({truth!r}); the answer says {said!r}",
    model_graded=("the expected answer is a reference for the eval's model grader ({scorer}): matching text "
                  "cannot judge it (its grade is the episode's reward)"),
    names_other="the answer names {named!r} as its answer; expected {truth!r}",
    names_more="the answer names {named!r}, more than the expected {truth!r}",
    expands_other="the answer spells {acronym} out as {named!r}, not the expected {truth!r}",
)


@check(behavior="correctness", params=ROLES)
def answer_correct(ctx: CheckContext) -> Outcome:
    """The final answer matches the ground truth. A number matches at the precision the truth is
    written with: a whole number (a year, a count) exactly, once rounded to units; a decimal within
    half a unit of its last decimal place or 1% relative (percent and thousand/million/billion
    understood, numbers written as words counted). A truth that is a time, a date or a list needs
    each of its numbers in the answer's marked part, any other its first; a truth holding an identifier
    ("80GSFC21M0002") is compared whole, as text. A text ground truth matches by whole-word
    containment; a truth of parts ("A and B", "A, B, C") by each part; a name of two or more
    capitalised words by its initials ("GRS"), unless the answer spells them out as another name
    ("Gamma Regional Support (GRS)"); a truth saying there is no answer ("None") by an
    answer that says the data is insufficient or there is none. An eval whose own scorer is
    model-graded (Inspect's `model_graded_fact`, `model_graded_qa`: metadata `score_name`) has a
    reference, not an exact answer, as its target: na. A contained text truth still fails
    when the answer names another answer in quotes or bold ('the correct word is "mistransmission"')
    or names more than the truth ("shrimp and grits" for 'shrimp', the truth nowhere else)."""
    truth = ctx.episode.ground_truth
    if truth is None or not truth.strip():
        return not_applicable(CORRECT.no_truth())
    scorer = ctx.episode.metadata.get("score_name")
    if isinstance(scorer, str) and scorer.startswith("model_graded"):
        return not_applicable(CORRECT.model_graded(scorer=scorer))
    answer = ctx.answer
    if answer is None:
        return failed(GROUNDED.no_answer())
    expected = numbers(truth)
    if not expected or has_identifier(truth):
        return _text_outcome(truth, answer.text, answer.step)
    given = _given(marked_answer(answer.text))
    if len(expected) == 1 or not _whole(truth):
        return _number_outcome(given, expected[0], answer.step)
    if all(any(_matches(number, target) for number in given) for target in expected):
        return passed(CORRECT.all_match(truth=truth[:80]), answer.step)
    return _no_match(given, truth[:80], answer.step)


def _whole(truth: str) -> bool:
    """True when the truth's numbers are one answer that compares whole: a time or a date (no
    number of it is a quantity: "1:41.614", "June 13, 2022") or a list (a comma, semicolon or line
    break between two of its numbers: "132, 133, 134"). Otherwise its first number is the answer
    ("2 pods (12 rockets)", "(λ - 3)(λ - 1)")."""
    if not quantities(truth):
        return True
    spans = [m.span() for m in NUMBER.finditer(truth)]
    return any(_LIST_SEPARATOR.search(truth, a[1], b[0]) for a, b in zip(spans, spans[1:], strict=False))


def _number_outcome(given: list[Number], target: Number, step: int) -> Outcome:
    for number in given:
        if _matches(number, target):
            return passed(CORRECT.matches(number=number.text, expected=target.text), step)
    return _no_match(given, target.text, step)


def _no_match(given: list[Number], expected: str, step: int) -> Outcome:
    if not given:
        return failed(CORRECT.no_number(expected=expected), step)
    return failed(CORRECT.no_match(numbers=[n.text for n in given[:5]], expected=expected), step)


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


# ---------------------------------------------------------------- text truths

# A truth of parts: names joined by commas, semicolons, "and" or "&".
_PART_SEPARATORS = re.compile(r"\s*(?:[,;&]|\band\b)\s*", re.IGNORECASE)
_SMALL_WORDS = frozenset("of the and for a an in on to at by de".split())
# A truth that says the question has no answer, and what an answer says when it finds none.
_NO_ANSWER_TRUTHS = frozenset({"none", "no answer", "no solution", "n a", "unanswerable", "not answerable"})
_SAYS_NONE = re.compile(
    r"\b(?:none|no (?:valid )?(?:answer|solution)|insufficient|not enough (?:information|data)"
    r"|cannot be (?:determined|answered|solved)|can not be (?:determined|answered|solved)"
    r"|unanswerable|unsolvable|not solvable)\b")


def _contains(want: str, have: str) -> bool:
    """`want` (normalised) is whole words of `have` (normalised, between spaces)."""
    return bool(want) and f" {want} " in have


def _text_outcome(truth: str, text: str, step: int) -> Outcome:
    """The text rules in order: the whole truth, each of its parts, its initials, and for a truth of
    no answer an answer that finds none."""
    want, have = _normal_text(truth), f" {_normal_text(text)} "
    if _contains(want, have):
        named = _named_answer(text)
        if named is not None and not _contains(want, f" {_normal_text(named)} "):
            return failed(CORRECT.names_other(named=named[:80], truth=truth[:80]), step)
        more = _more_than(want, text)
        if more is not None:
            return failed(CORRECT.names_more(named=more[:80], truth=truth[:80]), step)
        return passed(CORRECT.contains(truth=truth[:80]), step)
    parts = [_normal_text(p) for p in _PART_SEPARATORS.split(truth)]
    if len(parts) > 1 and all(parts) and all(_contains(p, have) for p in parts):
        return passed(CORRECT.parts(truth=truth[:80]), step)
    acronym = _initials(truth)
    if acronym and re.search(rf"\b{acronym}\b", text):
        expanded = _expansion(acronym, text)  # (the truth itself is not in the answer: checked above)
        if expanded is not None:
            return failed(CORRECT.expands_other(acronym=acronym, named=expanded[:80], truth=truth[:80]), step)
        return passed(CORRECT.acronym(acronym=acronym, truth=truth[:80]), step)
    if want in _NO_ANSWER_TRUTHS:
        said = _SAYS_NONE.search(have)
        if said:
            return passed(CORRECT.no_answer(truth=truth[:80], said=said.group(0)), step)
    return failed(CORRECT.not_contains(truth=truth[:80]), step)


# A phrase in quotes or bold, and one that the answer names as its answer ('the correct word is
# "mistransmission"', 'the answer is: **shrimp and grits**').
_QUOTED = re.compile(r"\*\*([^*\n]{1,100}?)\*\*|\"([^\"\n]{1,100}?)\"|\u201c([^\u201d\n]{1,100}?)\u201d")
_NAMED = re.compile(r"\b(?:answer|word|term|name|result)\s+(?:is|was)\s*:?\s*(?=\*\*|[\"\u201c])", re.IGNORECASE)
_CONJUNCTION = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE)


def _named_answer(text: str) -> str | None:
    """The quoted or bold phrase right after the answer's last 'answer/word/name ... is', if any."""
    named = None
    for mark in _NAMED.finditer(text):
        quoted = _QUOTED.match(text, mark.end())
        if quoted:
            named = quoted[quoted.lastindex]
    return named


def _more_than(want: str, text: str) -> str | None:
    """A quoted or bold phrase 'A and B' of which the truth is one whole side ("shrimp and grits" for
    'shrimp'), when the truth is nowhere else in the answer: the answer names more than the truth."""
    more, rest = None, text
    for quoted in _QUOTED.finditer(text):
        phrase = quoted[quoted.lastindex]
        sides = [_normal_text(side) for side in _CONJUNCTION.split(phrase)]
        if len(sides) > 1 and want in sides:
            more = more or phrase
            rest = rest.replace(quoted.group(0), " ")
    if more is None or _contains(want, f" {_normal_text(rest)} "):
        return None
    return more


# A name of capitalised words (small words between them), as an answer spells out initials with it.
_NAME = rf"[A-Z][A-Za-z'-]*(?:\s+(?:(?:{'|'.join(sorted(_SMALL_WORDS))})\s+)*[A-Z][A-Za-z'-]*){{1,5}}"


def _expansion(acronym: str, text: str) -> str | None:
    """The name the answer spells `acronym` out as, "Gamma Regional Support (GRS)" or "GRS (Guardsman
    Response Team)", if it does."""
    found = re.search(rf"({_NAME})\s*\(\s*{acronym}\s*\)|\b{acronym}\s*\(\s*({_NAME})\s*\)", text)
    return None if found is None else found[found.lastindex]


def _initials(truth: str) -> str | None:
    """The upper-case initials of a name of two or more capitalised words ("Global Response Staff":
    "GRS"), small words left out; None for anything else."""
    words = truth.split()
    if len(words) < 2 or not all(w.isalpha() and w.isascii() for w in words):
        return None
    big = [w for w in words if w.lower() not in _SMALL_WORDS]
    if len(big) < 2 or not all(w[0].isupper() for w in big):
        return None
    return "".join(w[0] for w in big)
