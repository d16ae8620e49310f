"""Judging episodes: one call per episode for all of its uncached judge items, concurrently.

For each episode: render it, look every item up in the cache, ask the judge about the missing ones
in one call, read the answers, and ask once more (about the items still missing) when the reply was
unusable. What is still missing then gets an `error` verdict with the reason; never a `fail`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...traces import Episode
from .._check import Outcome
from ._cache import JudgeCache, KeptCache, cache_key
from ._client import Budget, JudgeClient
from ._config import JudgeConfig
from ._items import JudgeItem
from ._ledger import Ledger
from ._parse import ItemAnswer, extract_json, read_answers
from ._prompt import Rendering, build_messages, render_episode, reply_schema

if TYPE_CHECKING:
    import asyncio

Judged = tuple[Outcome, "float | None"]  # an outcome and its score (choices give scores between 0 and 1)
_EMPTY = Outcome("na", "the episode has no steps")


@dataclass
class JudgeSetup:
    """What a scoring worker needs to judge: the config, the run's shared budget, its connections."""

    config: JudgeConfig
    budget: Budget
    concurrency: int
    # A cluster engine's units: keep the answers each unit used (`EpisodeJudge.take_kept`), to store
    # them with the run, and look up `seed` (the answers an earlier run kept for the unit) first.
    keep_answers: bool = False
    seed: dict[str, ItemAnswer] | None = None

    @classmethod
    def create(cls, config: JudgeConfig, workers: int = 1) -> JudgeSetup:
        config.api_key()  # fail before any work when the key is missing
        return cls(config, Budget(config.max_calls, config.max_tokens), max(1, config.concurrency // max(1, workers)))


class EpisodeJudge:
    """Judges episodes on `items` in this process; owns an event loop, a client, the cache and a ledger."""

    def __init__(self, setup: JudgeSetup, items: list[JudgeItem], ledger: Ledger | None = None) -> None:
        self.setup, self.config, self.items = setup, setup.config, items
        self.ledger = ledger if ledger is not None else Ledger()
        cache = JudgeCache(self.config.cache_dir)
        self.cache: JudgeCache | KeptCache = KeptCache(cache, setup.seed) if setup.keep_answers else cache
        self._params = self.config.call_params()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: JudgeClient | None = None
        self._to_cache: list[tuple[str, ItemAnswer]] = []

    def judge_many(self, episodes: list[Episode], *, sample: int = 0) -> list[list[Judged]]:
        """Outcomes for every episode, one list per episode in `items` order."""
        if self._loop is None:
            import asyncio  # here: scoring without a judge never pays for it

            self._loop = asyncio.new_event_loop()
        try:
            return self._loop.run_until_complete(self._gather(episodes, sample))
        finally:
            self.cache.put_many(self._to_cache, self.config.model)
            self._to_cache.clear()

    async def _gather(self, episodes: list[Episode], sample: int) -> list[list[Judged]]:
        if self._client is None:
            self._client = JudgeClient(self.config, self.ledger, self.setup.budget, concurrency=self.setup.concurrency)
        import asyncio

        return list(await asyncio.gather(*(self.judge(ep, sample=sample) for ep in episodes)))

    async def judge(self, episode: Episode, *, sample: int = 0) -> list[Judged]:
        if not episode.steps:
            return [(_EMPTY, None)] * len(self.items)
        ledger = self.ledger
        ledger.episodes += 1
        r = render_episode(episode, max_chars=self.config.max_prompt_chars, max_step_chars=self.config.max_step_chars,
                           redact=self.config.redact)
        if r.note:
            ledger.shortened += 1
        keys = {it.id: cache_key(self.config.model, self._params, r.hash, it.hash, sample) for it in self.items}
        hits = self.cache.get_many(list(keys.values()))
        answers: dict[str, ItemAnswer] = {}
        for it in self.items:
            ledger.item(it.id)["asked"] += 1
            hit = hits.get(keys[it.id])
            if hit is not None:
                answers[it.id] = hit
                ledger.cache_hits += 1
                ledger.item(it.id)["cache_hits"] += 1
        pending = [it for it in self.items if it.id not in answers]
        problems: dict[str, str] = {}
        if pending:
            ledger.episodes_called += 1
            await self._ask(r, pending, answers, problems, keys, sample)
        return [self._outcome(it, answers.get(it.id), problems.get(it.id), r) for it in self.items]

    async def _ask(self, r: Rendering, pending: list[JudgeItem], answers: dict[str, ItemAnswer],
                   problems: dict[str, str], keys: dict[str, str], sample: int) -> None:
        assert self._client is not None
        for attempt in range(2):  # a usable reply, or one more try after an unusable one
            ids = [it.id for it in pending]
            schema = reply_schema(pending, bounded=self.config.bounded_schema, last_step=max(r.shown, default=0))
            reply = await self._client.complete(build_messages(r, pending), schema, ids, seed=sample)
            if reply.failure:
                problems.update(dict.fromkeys(ids, reply.reason))
                if reply.content_fault:
                    continue
                return
            obj = extract_json(reply.text or "", frozenset(ids))
            if obj is None:
                self.ledger.failure("unparseable")
                snippet = " ".join((reply.text or "").split())[:60]
                why = " (cut at the output token limit: raise --judge-max-output-tokens)" if reply.cut else ""
                problems.update(dict.fromkeys(ids, f"the judge's reply is not a JSON object ({snippet!r}){why}"))
                continue
            got, missing = read_answers(obj, pending, r.shown)
            problems.update(missing)
            for item_id, answer in got.items():
                answers[item_id] = answer
                problems.pop(item_id, None)
                self.ledger.answered += 1
                self.ledger.invalid_citations += answer.dropped
                entry = self.ledger.item(item_id)
                entry["answered"] += 1
                entry["invalid_citations"] += answer.dropped
                self._to_cache.append((keys[item_id], ItemAnswer(answer.answer, answer.reason, answer.steps)))
            if missing:
                self.ledger.failure("incomplete_reply")
            pending = [it for it in pending if it.id not in got]
            if not pending:
                return

    def _outcome(self, item: JudgeItem, answer: ItemAnswer | None, problem: str | None, r: Rendering) -> Judged:
        if answer is None:
            self.ledger.error_verdicts += 1
            self.ledger.item(item.id)["errors"] += 1
            return Outcome("error", f"judge: {problem or 'no answer'}"), None
        reason = answer.reason
        if r.note:
            reason = f"{reason} (judged on a shortened episode: {r.note})"
        return item.outcome(answer.answer, reason, answer.steps)

    def take_kept(self) -> dict[str, ItemAnswer] | None:
        """The answers used since the last call, when the setup keeps them (else None)."""
        return self.cache.take_kept() if isinstance(self.cache, KeptCache) else None

    def close(self) -> None:
        try:
            if self._loop is not None:
                if self._client is not None:
                    self._loop.run_until_complete(self._client.close())
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
                self._loop.close()
        finally:
            self._loop = self._client = None
            self.cache.close()

    def __enter__(self) -> EpisodeJudge:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
