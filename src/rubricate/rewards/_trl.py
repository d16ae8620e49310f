"""TRL `GRPOTrainer(reward_funcs=...)`: the rubric as one reward function, or one function per item.

The contract, read from TRL 1.16's `GRPOTrainer._calculate_rewards`: a reward function is called as
`f(prompts=..., completions=..., completion_ids=..., trainer_state=..., log_extra=..., log_metric=...,
**dataset_columns)` with one list entry per completion (every dataset column except prompt/completion
is repeated per generation, e.g. `answer=[...]`), and returns one float or None per completion (None
means "not scorable": TRL turns it into NaN and leaves it out of the sums and means). Prompts and
completions are text (standard datasets) or chat message lists (conversational); with `tools`, the
completion holds assistant `tool_calls` (dict `arguments`) and `tool` messages without `tool_call_id`,
failed calls as `{'error': '...'}`. The function's `__name__` names its column in TRL's logs.

Text completions (TRL's standard format, or `log_completions` tables of rendered text) are read back
through the chat template's tool markup (`rubricate.traces.toolcalls`), so tool items judge them too.

Per-item sub-scores: when TRL passes `log_metric`, each item's mean score over the batch (pass 1, fail
0; na and error left out, an item with no pass or fail in the batch is not logged) is logged as
`rubricate/<item>`, with `rubricate/scorable` (the share of completions with a reward) and
`rubricate/tool_items_seen` (the share with a tool call; `_watch`); `log_extra` adds each item's verdict
per completion to the completions table. Older TRL versions do not pass them, and nothing is logged.
A batch without any tool call is warned about once through the `trl.rubricate` logger.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ..rubrics import Rubric
from ..traces.formats.chat import TRUTH_KEYS
from ..rubrics import RewardResult
from ._scorer import RewardScorer, Scored
from ._watch import METRIC, ToolWatch

TRUTH_COLUMNS = (*TRUTH_KEYS, "solution")
RewardFunc = Callable[..., list[float | None]]


def scorer_of(rubric: Rubric | RewardScorer | str | os.PathLike[str], **options: Any) -> RewardScorer:
    """A RewardScorer for `rubric` (a scorer is used as it is)."""
    return rubric if isinstance(rubric, RewardScorer) else RewardScorer(rubric, **options)


def truths_of(columns: dict[str, Any], n: int, key: str | None = None) -> list[Any]:
    """The ground truth of each completion from the dataset columns TRL passes (`answer`, `solution`, ...)."""
    for name in ((key,) if key else TRUTH_COLUMNS):
        values = columns.get(name)
        if isinstance(values, (list, tuple)) and len(values) == n:
            return list(values)
    return [None] * n


def _scored(scorer: RewardScorer, prompts: Any, completions: Any, columns: dict[str, Any],
            truth_key: str | None) -> list[Scored]:
    """The scored samples of one TRL batch, computed once and shared by every function made from
    `scorer` (TRL calls them one after the other with the same lists)."""
    last = getattr(scorer, "_trl_last", None)
    if last is not None and last[0] is completions and last[1] is prompts:
        return last[2]
    n = len(completions)
    prompt_list = list(prompts) if isinstance(prompts, (list, tuple)) and len(prompts) == n else [None] * n
    scored = scorer.score_batch(zip(prompt_list, completions, truths_of(columns, n, truth_key)))
    scored += [Scored(RewardResult(None, "not scored"), 0)] * (n - len(scored))
    scorer._trl_last = (completions, prompts, scored)  # type: ignore[attr-defined]
    return scored


def _batch(scorer: RewardScorer, prompts: Any, completions: Any, columns: dict[str, Any],
           truth_key: str | None) -> list[RewardResult]:
    return [s.result for s in _scored(scorer, prompts, completions, columns, truth_key)]


def _log(scorer: RewardScorer, results: list[RewardResult], log_metric: Any, log_extra: Any,
         seen: float | None = None) -> None:
    if callable(log_metric):
        for item in scorer.item_ids:
            values = [s for r in results if (s := r.scores.get(item)) is not None]
            if values:
                log_metric(f"rubricate/{item}", sum(values) / len(values))
        log_metric("rubricate/scorable", sum(r.reward is not None for r in results) / max(1, len(results)))
        if seen is not None:
            log_metric(f"rubricate/{METRIC}", seen)
    if callable(log_extra):
        for item in scorer.item_ids:
            log_extra(f"rubricate/{item}", [r.verdicts.get(item, "") for r in results])
        log_extra("rubricate/reason", [r.reason for r in results])


def as_trl_reward(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, name: str = "rubric_reward",
                  truth_key: str | None = None, log_items: bool = True, **options: Any) -> RewardFunc:
    """The rubric's collapsed reward as one TRL reward function (a float or None per completion).

    `truth_key`: the dataset column with the ground truth (default: the first of ground_truth, answer,
    expected, ..., solution present). `options` go to `RewardScorer` (deadline_s, max_chars, text_only,
    checks_files). Never raises inside training: a completion that cannot be scored gets None.
    """
    scorer = scorer_of(rubric, **options)
    watch = ToolWatch(scorer, "trl.rubricate")

    def rubric_reward(prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                      trainer_state: Any = None, log_metric: Any = None, log_extra: Any = None,
                      **columns: Any) -> list[float | None]:
        try:
            scored = _scored(scorer, prompts, completions, columns, truth_key)
        except Exception:  # noqa: BLE001  (completions itself is not a list: nothing to score)
            return [None] * _length(completions)
        results = [s.result for s in scored]
        seen = watch.observe(scored)
        if log_items:
            try:
                _log(scorer, results, log_metric, log_extra, seen)
            except Exception:  # noqa: BLE001, S110  (logging must never stop training)
                pass
        return [r.reward for r in results]

    rubric_reward.__name__ = rubric_reward.__qualname__ = name
    rubric_reward.scorer = scorer  # type: ignore[attr-defined]
    return rubric_reward


def as_trl_item_rewards(rubric: Rubric | RewardScorer | str | os.PathLike[str], *, items: Sequence[str] = (),
                        truth_key: str | None = None, **options: Any) -> list[RewardFunc]:
    """One TRL reward function per check item (named after the item; 1.0 pass, 0.0 fail, None na/error).

    Give them `reward_weights` of 0 beside `as_trl_reward` to log each item as a reward column
    (`rewards/<item>/mean`), or weights of your own to let TRL sum them: TRL's sum is then the reward,
    not the rubric's collapse. Pass the same `RewardScorer` to both to score each batch once.
    """
    scorer = scorer_of(rubric, **options)
    wanted = tuple(items) or scorer.item_ids
    unknown = [i for i in wanted if i not in scorer.item_ids]
    if unknown:
        raise KeyError(f"not check items of rubric '{scorer.rubric.id}': {', '.join(unknown)}")
    return [_item_reward(scorer, item, truth_key) for item in wanted]


def _item_reward(scorer: RewardScorer, item: str, truth_key: str | None) -> RewardFunc:
    def item_reward(prompts: Any = None, completions: Any = None, **columns: Any) -> list[float | None]:
        skip = ("completion_ids", "trainer_state", "log_metric", "log_extra")
        columns = {k: v for k, v in columns.items() if k not in skip}
        try:
            results = _batch(scorer, prompts, completions, columns, truth_key)
        except Exception:  # noqa: BLE001
            return [None] * _length(completions)
        return [r.scores.get(item) for r in results]

    item_reward.__name__ = item_reward.__qualname__ = item
    return item_reward


def _length(value: Any) -> int:
    try:
        return len(value)
    except Exception:  # noqa: BLE001
        return 0
