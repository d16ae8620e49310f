"""Scoring episodes with a rubric: one Outcome per item, verdict rows, the in-memory Python API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from ..errors import RubricError
from ..rubrics import CheckContext, EpisodeFacts, Outcome, Rubric, VerdictValue, run_check
from ..traces import Episode

SCORES: dict[str, float | None] = {"pass": 1.0, "fail": 0.0, "na": None, "error": None}


class Verdict(msgspec.Struct, frozen=True):
    """One item's verdict on one episode. `score` is 1.0 pass, 0.0 fail, None for na and error."""

    episode_id: str
    item: str
    behavior: str
    verdict: VerdictValue
    score: float | None
    reason: str
    evidence: tuple[int, ...] = ()


def require_scorable(rubric: Rubric) -> None:
    """Judge items need a judge, which this version does not have: say so before any work."""
    if rubric.judges:
        names = ", ".join(i.id for i in rubric.judges)
        raise RubricError(
            f"rubric '{rubric.id}' has judge items ({names}); this version of rubricate scores check items only",
            hint="remove the judge items or set kind = \"check\" with a registered check",
        )


def score_episode(episode: Episode, rubric: Rubric) -> list[tuple[Any, Outcome]]:
    """(item, outcome) for every item of the rubric, in rubric order."""
    facts = EpisodeFacts(episode)
    return [(item, run_check(item.check.fn, CheckContext(episode, item.params, facts)))  # type: ignore[union-attr]
            for item in rubric.items]


def iter_verdicts(episodes: Iterable[Episode], rubric: Rubric) -> Iterator[Verdict]:
    """Stream verdicts: every item on every episode."""
    require_scorable(rubric)
    for episode in episodes:
        for item, outcome in score_episode(episode, rubric):
            yield Verdict(episode.id, item.id, item.behavior, outcome.verdict, SCORES[outcome.verdict],
                          outcome.reason, outcome.evidence)


def score(episodes: Iterable[Episode] | Episode, rubric: Rubric | str) -> list[Verdict]:
    """Score episodes in this process and return the verdicts (for notebooks and tests).

    For a corpus, use `score_run` (or `rubricate score`): it streams, uses all cores and writes
    Parquet instead of holding verdicts in memory.
    """
    from ..rubrics import load_rubric

    if isinstance(rubric, str):
        rubric = load_rubric(rubric)
    if isinstance(episodes, Episode):
        episodes = [episodes]
    return list(iter_verdicts(episodes, rubric))
