"""Judge items as the judge sees them: question, allowed answers, and how an answer becomes a verdict."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from .._check import Outcome, VerdictValue
from .._rubric import Item
from .._schema import ItemSpec, JudgeExample

NA = "na"


@dataclass(frozen=True, slots=True)
class JudgeItem:
    """One judge question. `answers` are yes/no or the choices ordered worst to best (na is always
    allowed too); an answer at position `pass_from` or better is a pass."""

    id: str
    question: str
    guidance: str
    answers: tuple[str, ...]
    pass_from: int
    examples: tuple[JudgeExample, ...]
    hash: str

    @classmethod
    def from_item(cls, item: Item) -> JudgeItem:
        return cls.from_spec(item.spec if item.spec is not None else
                             ItemSpec(id=item.id, kind="judge", question=item.description))

    @classmethod
    def from_spec(cls, spec: ItemSpec) -> JudgeItem:
        answers = spec.answers()
        pass_from = answers.index(spec.pass_from) if spec.pass_from else (len(answers) + 1) // 2
        canonical = {"id": spec.id, "version": spec.version, "question": spec.question, "guidance": spec.guidance,
                     "answers": answers, "pass_from": pass_from,
                     "examples": [e.model_dump() for e in spec.examples]}
        digest = hashlib.sha256(msgspec.json.encode(canonical, order="sorted")).hexdigest()[:24]
        return cls(spec.id, spec.question or "", spec.guidance or "", answers, pass_from, tuple(spec.examples),
                   digest)

    @property
    def graded(self) -> bool:
        """True for items with choices (a score between 0 and 1), False for yes/no."""
        return self.answers != ("yes", "no")

    def allowed(self) -> tuple[str, ...]:
        return (*self.answers, NA)

    def verdict(self, answer: str) -> tuple[VerdictValue, float | None]:
        """The verdict and score of an allowed answer: yes 1.0 pass, no 0.0 fail; a choice scores its
        position / (count - 1) and passes from `pass_from`; na is na."""
        if answer == NA:
            return "na", None
        k = self.answers.index(answer)
        if not self.graded:
            return ("pass", 1.0) if k == 0 else ("fail", 0.0)
        return ("pass" if k >= self.pass_from else "fail"), k / (len(self.answers) - 1)

    def outcome(self, answer: str, reason: str, evidence: tuple[int, ...]) -> tuple[Outcome, float | None]:
        verdict, score = self.verdict(answer)
        if self.graded and answer != NA:
            reason = f"{answer}: {reason}"
        return Outcome(verdict, reason, evidence), score
