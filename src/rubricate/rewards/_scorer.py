"""`RewardScorer`: a rubric ready to score trainer completions, bounded in size and time, never raising.

Every exporter (TRL, verifiers, verl, OpenRLHF, the OpenAI grader, the HTTP server) is a thin shape
adapter around `RewardScorer.score`, which builds the Episode (`_episode`), scores it with
`Rubric.evaluate` (the function `score_run` calls) and collapses the verdicts with `Rubric.reward`,
the function that fills the `rubric_reward` column of a run.

Guarantees, for any input:
- no exception: a malformed completion gives `RewardResult(None, reason)`;
- bounded input: more than `max_chars` characters of text gives None ("too large") before any parsing;
- a deadline per call: `score_many` stops starting new checks once `deadline_s` has passed since the
  call began, and the remaining completions get None ("deadline"). A check already running is not
  interrupted (no threads or processes are used); `max_chars` bounds how long one can take.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ..errors import RubricError
from ..rubrics import RewardResult, Rubric, Verdict, load_checks_file, load_rubric, plan_for, reward_bounds
from ..traces import Episode
from ..traces.toolcalls import AUTO, TOOL_FORMATS
from ..scoring import NativeItems
from ._episode import EPISODE_ID, input_chars, messages_episode, rollout_messages
from ._record import Record, record_of

DEFAULT_DEADLINE_S = 60.0
DEFAULT_MAX_CHARS = 4_000_000


def _deadline_outcome(rubric: Rubric) -> RewardResult:
    return RewardResult(None, "deadline passed before this completion was scored",
                        {i.id: None for i in rubric.items})


class Scored(NamedTuple):
    """One scored sample: the collapsed result and the tool calls found in the rollout."""

    result: RewardResult
    tool_calls: int


class RewardScorer:
    """Scores (prompt, completion, ground truth) samples with one rubric.

    `rubric`: a Rubric, a built-in name or a rubric file path. `text_only`: None (a message list is not
    text-only; a text rollout is text-only when it shows no tool markup and declares no tools), True (every
    completion is text-only: no tools were offered) or False (tools were offered to every completion).
    `tool_format`: how text rollouts write tool calls ("auto" detects it; one of `TOOL_FORMATS`; None reads
    text as plain text). `checks_files`: Python files with custom `@check` items the rubric uses.
    `native`: score the rubric's built-in items with the native kernel where it is built and takes the
    rollout (the same verdicts; `native=False` or `RUBRICATE_NO_KERNEL=1` scores everything in Python).
    """

    def __init__(self, rubric: Rubric | str | os.PathLike[str], *, deadline_s: float = DEFAULT_DEADLINE_S,
                 max_chars: int = DEFAULT_MAX_CHARS, text_only: bool | None = None,
                 tool_format: str | None = AUTO, checks_files: Sequence[str | os.PathLike[str]] = (),
                 native: bool = True) -> None:
        if tool_format is not None and tool_format != AUTO and tool_format not in TOOL_FORMATS:
            raise RubricError(f"unknown tool_format {tool_format!r}",
                              hint=f"one of {AUTO}, {', '.join(TOOL_FORMATS)}, or None for plain text")
        self.tool_format = tool_format
        for path in checks_files:
            load_checks_file(path)
        self.rubric = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
        _require_rewardable(self.rubric)
        self.deadline_s = float(deadline_s)
        self.max_chars = int(max_chars)
        self.text_only = text_only
        self.items = self.rubric.checks
        self.item_ids = tuple(i.id for i in self.items)
        self.tool_item_ids = tuple(i.id for i in self.items if i.needs_tools)
        self.bounds = reward_bounds(self.rubric)
        self.native = NativeItems.for_rubric(self.rubric) if native else None

    def score(self, prompt: Any, completion: Any, ground_truth: Any = None, *,
              deadline: float | None = None, tools_offered: bool = False) -> RewardResult:
        """The reward of one sample; `deadline` is a `time.monotonic()` instant; `tools_offered` says the
        trainer offered tools (a text rollout is then not text-only). Never raises."""
        return self.score_sample(prompt, completion, ground_truth, deadline=deadline,
                                 tools_offered=tools_offered).result

    def score_sample(self, prompt: Any, completion: Any, ground_truth: Any = None, *,
                     deadline: float | None = None, tools_offered: bool = False) -> Scored:
        """`score`, with the number of tool calls found in the rollout (for the `tool_items_seen` metric)."""
        try:
            # message lists are sized after encoding (`_sized`); text is sized before it is parsed
            deferred = self.native is not None and _plain_lists(prompt, completion)
            if not deferred and self._too_large(prompt, completion):
                return self._too_large_result()
            try:
                messages, read_text_only = rollout_messages(prompt, completion, self.tool_format)
            except Exception:  # noqa: BLE001  (too large is the answer the Python path gives first)
                if deferred and self._too_large(prompt, completion):
                    return self._too_large_result()
                raise
            text_only = read_text_only and not tools_offered if self.text_only is None else self.text_only
            record = record_of(messages, ground_truth) if self.native is not None and not text_only else None
            if deferred and not _sized(record, self.max_chars) and self._too_large(prompt, completion):
                return self._too_large_result()
            if record is not None:
                native = self._score_native(record, messages, ground_truth, deadline)
                if native is not None:
                    return native
            episode = messages_episode(messages, ground_truth=ground_truth)
            result = self.score_episode(episode, text_only=text_only, deadline=deadline)
            return Scored(result, episode.n_tool_calls)
        except Exception as exc:  # noqa: BLE001  (a bad rollout is data, not a crash)
            return self._unscored(f"could not score: {type(exc).__name__}: {exc}"[:300])

    def _score_native(self, record: Record, messages: list[Any], ground_truth: Any,
                      deadline: float | None) -> Scored | None:
        """The kernel's verdicts on the native items, the rest by `Rubric.evaluate(..., given=...)` (as
        `score_run` scores a mixed rubric); None when the kernel declines the record."""
        assert self.native is not None
        if deadline is not None and time.monotonic() > deadline:
            return Scored(_deadline_outcome(self.rubric), record.tool_calls)
        given = self.native.verdicts(record.data, EPISODE_ID)
        if given is None:
            return None
        if self.native.complete:  # every check item is native: the verdicts `evaluate` would give
            return Scored(self.rubric.reward(list(given.values())), record.tool_calls)
        episode = messages_episode(messages, ground_truth=ground_truth)
        return Scored(self.score_episode(episode, given=given, deadline=deadline), record.tool_calls)

    def _too_large(self, prompt: Any, completion: Any) -> bool:
        return input_chars(prompt, self.max_chars) + input_chars(completion, self.max_chars) > self.max_chars

    def _too_large_result(self) -> Scored:
        return self._unscored(f"input too large: more than {self.max_chars} characters")

    def _unscored(self, reason: str) -> Scored:
        """No reward, and no verdict for any check item, with why."""
        return Scored(RewardResult(None, reason, dict.fromkeys(self.item_ids)), 0)

    def score_episode(self, episode: Episode, *, text_only: bool = False, deadline: float | None = None,
                      given: Mapping[str, Verdict] | None = None) -> RewardResult:
        """Score an Episode's check items and collapse them (as `score_run` does); `given`: verdicts
        already decided (the kernel's), by item id."""
        try:
            verdicts = self.rubric.evaluate(episode, given=given, text_only=text_only, deadline=deadline)
        except TimeoutError:
            return _deadline_outcome(self.rubric)
        return self.rubric.reward(verdicts)

    def score_many(self, samples: Iterable[tuple[Any, Any, Any]], *,
                   deadline_s: float | None = None) -> list[RewardResult]:
        """Rewards of (prompt, completion, ground truth) samples within one deadline for the whole call."""
        return [s.result for s in self.score_batch(samples, deadline_s=deadline_s)]

    def score_batch(self, samples: Iterable[tuple[Any, Any, Any]], *,
                    deadline_s: float | None = None) -> list[Scored]:
        """`score_many`, with the tool calls found in each rollout."""
        limit = self.deadline_s if deadline_s is None else deadline_s
        deadline = time.monotonic() + limit
        out = []
        try:
            for prompt, completion, truth in samples:
                if time.monotonic() > deadline:
                    out.append(Scored(_deadline_outcome(self.rubric), 0))
                    continue
                out.append(self.score_sample(prompt, completion, truth, deadline=deadline))
        except Exception as exc:  # noqa: BLE001  (samples itself was not iterable as promised)
            reason = f"could not read the samples: {type(exc).__name__}: {exc}"[:300]
            out.append(Scored(RewardResult(None, reason), 0))
        return out


def _plain_lists(prompt: Any, completion: Any) -> bool:
    """True when the prompt (or None) and the completion are lists of plain dicts: then `input_chars`
    of them is at most 8 times the length of their JSON (`_sized`): a string of n characters takes
    n + 2 bytes or more, a dict of k entries and a list of k values at least k, any other value at
    least 1 byte where `input_chars` counts 8 (a pydantic message is counted as its full dump)."""
    if type(completion) is not list or not (prompt is None or type(prompt) is list):
        return False
    return all(type(m) is dict for m in completion) and all(type(m) is dict for m in prompt or ())


def _sized(record: Record | None, max_chars: int) -> bool:
    """True when the record shows its rollout is within `max_chars` (`_plain_lists`)."""
    return record is not None and 8 * len(record.data) <= max_chars


def _require_rewardable(rubric: Rubric) -> None:
    """Fail at export time, not in the middle of training, when the rubric cannot give a reward here."""
    plan = plan_for(rubric)
    if plan.mode == "judge_holistic":
        raise RubricError(
            f"rubric '{rubric.id}': reward mode judge_holistic needs an LLM judge; rewards are computed by "
            "checks only",
            hint="use mode = \"weighted_mean\" or \"outcome_gated\" in the rubric's [reward] table")
    judged = [i.id for i in rubric.judges if i.id in plan.involved]
    if judged:
        raise RubricError(
            f"rubric '{rubric.id}': judge items take part in the reward ({', '.join(judged)}); "
            "trainer rewards are computed by checks only",
            hint="give judge items weight = 0 (reported, not rewarded) and keep them out of gates")
    if not plan.positive and not plan.pitfalls:
        raise RubricError(f"rubric '{rubric.id}': no item has a non-zero weight, so every reward is None",
                          hint="give the items that should be rewarded a weight")
