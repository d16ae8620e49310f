"""`tool_items_seen`: whether the rollouts a trainer hands over show the tool calls the rubric judges.

A reward whose tool items never see a call is silently a different reward (the tool items are na, or
fail, for every completion): the usual cause is text decoded without the special tokens that carry the
calls, or a chat template whose markup is not the one expected. Every export reports, per batch, the
share of completions in which at least one tool call was found (`rubricate/tool_items_seen`; verl and
OpenRLHF get it per sample, and their loggers average it), and warns once, through the trainer's own
logger, when a whole batch has none. Trainers that score one sample per call (verl, OpenRLHF) are warned
after `window` completions in a row without a call. Rubrics without tool items report nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ._scorer import RewardScorer, Scored

METRIC = "tool_items_seen"


class ToolWatch:
    """Counts tool calls over the batches one exported function scores; warns once when none are seen."""

    def __init__(self, scorer: RewardScorer, logger: str, *, window: int = 32) -> None:
        self.active = bool(scorer.tool_item_ids)
        self.items = scorer.tool_item_ids
        self.logger = logging.getLogger(logger)
        self.window = window
        self.streak = 0
        self.warned = False

    def observe(self, batch: Sequence[Scored]) -> float | None:
        """The share of `batch` with a tool call (None when the rubric has no tool items or the batch is empty)."""
        if not self.active or not batch:
            return None
        seen = sum(1 for s in batch if s.tool_calls > 0)
        self.streak = 0 if seen else self.streak + len(batch)
        if not seen and not self.warned and (len(batch) > 1 or self.streak >= self.window):
            self.warned = True
            self.logger.warning(
                "rubricate: no tool call found in %d completion(s) in a row; the tool items (%s) cannot judge "
                "them (tool_items_seen = 0). If the model was meant to call tools, the text may have been "
                "decoded without its special tokens, or written in a tool format not recognised: pass "
                "tool_format=... (hermes, llama3, mistral, deepseek, harmony) or the rollout's messages.",
                self.streak, ", ".join(self.items))
        return seen / len(batch)
