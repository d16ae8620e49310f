"""Judge items inside the scoring engine: episodes are buffered in batches, judged concurrently, and
their judge verdict rows merged with the programmatic rows in rubric order.

A rubric with judge items and no judge configured is scored without them: they are skipped, not
`error` and never `fail` (an unconfigured judge says nothing about the agent), and run.json records
which items were skipped and why (`judge.status = "not configured"`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...traces import Episode
from .._rubric import Rubric
from .._verdict import Verdict
from ._config import JudgeConfig
from ._engine import EpisodeJudge, JudgeSetup
from ._items import JudgeItem
from ._ledger import Ledger
from ._prompt import PROMPT_VERSION

Sink = Callable[[Episode, list[Verdict], str], None]


class JudgeBatcher:
    """Takes (episode, source file); every `batch` episodes it judges them concurrently and hands
    each episode's verdicts (`Rubric.evaluate` with the judge's verdicts given) to `sink`."""

    def __init__(self, setup: JudgeSetup, rubric: Rubric, sink: Sink) -> None:
        judges = rubric.judges
        self.rubric = rubric
        self.items = [JudgeItem.from_item(i) for i in judges]
        self.behaviors = [i.behavior for i in judges]
        self.judge = EpisodeJudge(setup, self.items)
        self.sink = sink
        self.size = setup.config.batch
        self._buffer: list[tuple[Episode, dict[str, Verdict], str]] = []

    @property
    def ledger(self) -> Ledger:
        return self.judge.ledger

    def add(self, episode: Episode, source_file: str, given: dict[str, Verdict] | None = None) -> None:
        """Queue an episode; `given` holds verdicts already decided for some of its check items."""
        self._buffer.append((episode, dict(given or {}), source_file))
        if len(self._buffer) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        judged = self.judge.judge_many([ep for ep, _, _ in self._buffer])
        for (ep, given, source), outcomes in zip(self._buffer, judged):
            for item, behavior, (o, score) in zip(self.items, self.behaviors, outcomes):
                given[item.id] = Verdict(ep.id, item.id, behavior, o.verdict, score, o.reason, o.evidence)
            self.sink(ep, self.rubric.evaluate(ep, given=given), source)
        self._buffer.clear()

    def take_kept(self) -> dict[str, Any] | None:
        """The judge answers used since the last call (cache key -> answer), when the setup keeps them."""
        return self.judge.take_kept()

    def close(self) -> None:
        self.judge.close()


def judge_setup(rubric: Rubric, config: JudgeConfig | None, workers: int = 1) -> JudgeSetup | None:
    """The setup workers judge with, or None when there is nothing to judge (no judge items or no judge)."""
    if not rubric.judges or config is None:
        return None
    return JudgeSetup.create(config, workers)


def judge_run_info(rubric: Rubric, config: JudgeConfig | None, ledgers: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """run.json's `judge` entry: what was skipped, or the judge, its settings and the merged ledger."""
    ids = [i.id for i in rubric.judges]
    if not ids:
        return None
    if config is None:
        return {"status": "not configured", "skipped_items": ids,
                "reason": "no judge model was given (--judge-model)"}
    total = Ledger()
    for state in ledgers:
        if state:
            total.merge(Ledger.from_state(state))
    return {"status": "configured", "items": ids, "prompt_version": PROMPT_VERSION, **config.describe(),
            "price_per_mtok": config.price(), "ledger": total.report(config.price())}
