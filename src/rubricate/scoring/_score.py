"""Scoring in this process: the in-memory Python API for notebooks and tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..rubrics import Rubric, Verdict, load_rubric
from ..rubrics.judges import JudgeBatcher, JudgeConfig, judge_setup
from ..traces import Episode


def iter_verdicts(episodes: Iterable[Episode], rubric: Rubric, *, judge: JudgeConfig | None = None) -> Iterator[Verdict]:
    """Stream verdicts: every item on every episode (`Rubric.evaluate`). Judge items are asked of
    `judge` in batches; without a judge they are skipped (an unconfigured judge is not an agent failure)."""
    setup = judge_setup(rubric, judge)
    if setup is None:
        for episode in episodes:
            yield from rubric.evaluate(episode)
        return
    ready: list[Verdict] = []
    batcher = JudgeBatcher(setup, rubric, lambda ep, verdicts, _: ready.extend(verdicts))
    try:
        for episode in episodes:
            batcher.add(episode, "")
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
    if isinstance(rubric, str):
        rubric = load_rubric(rubric)
    if isinstance(episodes, Episode):
        episodes = [episodes]
    return list(iter_verdicts(episodes, rubric, judge=judge))
