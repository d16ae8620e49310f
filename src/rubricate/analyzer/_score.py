"""Scoring episodes with a rubric: one Outcome per item, verdict rows, the in-memory Python API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from ..rubrics import CheckContext, EpisodeFacts, Outcome, Rubric, VerdictValue, run_check
from ..rubrics.judges import JudgeBatcher, JudgeConfig, judge_setup
from ..traces import Episode

SCORES: dict[str, float | None] = {"pass": 1.0, "fail": 0.0, "na": None, "error": None}


class Verdict(msgspec.Struct, frozen=True):
    """One item's verdict on one episode. `score` is 1.0 pass, 0.0 fail, None for na and error (a judge
    item with `choices` scores its answer's position, 0 to 1)."""

    episode_id: str
    item: str
    behavior: str
    verdict: VerdictValue
    score: float | None
    reason: str
    evidence: tuple[int, ...] = ()


def score_episode(episode: Episode, rubric: Rubric) -> list[tuple[Any, Outcome]]:
    """(item, outcome) for every programmatic item of the rubric, in rubric order (judge items need a
    judge: see `score(..., judge=...)`)."""
    facts = EpisodeFacts(episode)
    return [(item, run_check(item.check.fn, CheckContext(episode, item.params, facts)))  # type: ignore[union-attr]
            for item in rubric.checks]


def _rows(episode: Episode, rubric: Rubric) -> list[tuple[str, str, str, float | None, str, tuple[int, ...]]]:
    return [(item.id, item.behavior, o.verdict, SCORES[o.verdict], o.reason, o.evidence)
            for item, o in score_episode(episode, rubric)]


def iter_verdicts(episodes: Iterable[Episode], rubric: Rubric, *, judge: JudgeConfig | None = None) -> Iterator[Verdict]:
    """Stream verdicts: every item on every episode. Judge items are asked of `judge` in batches;
    without a judge they are skipped (an unconfigured judge is not an agent failure)."""
    setup = judge_setup(rubric, judge)
    if setup is None:
        for episode in episodes:
            for row in _rows(episode, rubric):
                yield Verdict(episode.id, *row)
        return
    ready: list[Verdict] = []
    batcher = JudgeBatcher(setup, rubric, lambda ep, rows, _: ready.extend(Verdict(ep.id, *r) for r in rows))
    try:
        for episode in episodes:
            batcher.add(episode, _rows(episode, rubric), "")
            yield from ready
            ready.clear()
        batcher.flush()
        yield from ready
    finally:
        batcher.close()


def score(episodes: Iterable[Episode] | Episode, rubric: Rubric | str, *, judge: JudgeConfig | None = None
          ) -> list[Verdict]:
    """Score episodes in this process and return the verdicts (for notebooks and tests); judge items
    are asked of `judge` (a `rubricate.rubrics.judges.JudgeConfig`) or skipped without one.

    For a corpus, use `score_run` (or `rubricate score`): it streams, uses all cores and writes
    Parquet instead of holding verdicts in memory.
    """
    from ..rubrics import load_rubric

    if isinstance(rubric, str):
        rubric = load_rubric(rubric)
    if isinstance(episodes, Episode):
        episodes = [episodes]
    return list(iter_verdicts(episodes, rubric, judge=judge))
