"""The verdict row: one item's verdict on one episode, the one row type every scoring path produces."""

from __future__ import annotations

import msgspec

from ._check import VerdictValue

SCORES: dict[str, float | None] = {"pass": 1.0, "fail": 0.0, "na": None, "error": None}


class Verdict(msgspec.Struct, frozen=True):
    """One item's verdict on one episode. `score` is 1.0 pass, 0.0 fail, None for na and error (a judge
    item with `choices` scores its answer's position, 0 to 1). `evidence`: the step indices it rests on."""

    episode_id: str
    item: str
    behavior: str
    verdict: VerdictValue
    score: float | None
    reason: str
    evidence: tuple[int, ...] = ()
