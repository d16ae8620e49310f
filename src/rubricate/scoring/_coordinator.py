"""One actor per Ray run: the judge's connection limit and budget for the whole cluster, and the
driver's progress.

A judge request on any worker first takes a lease from the actor (`ClusterBudget.enter`): at most
`slots` leases are out at once across the cluster (the judge's `concurrency`, one limit, not one per
worker), and a lease is refused once the run's budget of calls or tokens is spent (one budget).
A lease held by a worker that died is taken back after `lease_s` (longer than any request may last:
the judge's timeout and a margin). Workers also report the bytes they scored; the driver takes them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

LEASE_MARGIN_S = 30.0


class Coordinator:
    """The actor's class (made a Ray actor by `_ray`); async, so waiting for a slot blocks nothing."""

    def __init__(self, slots: int, max_calls: int | None, max_tokens: int | None, lease_s: float) -> None:
        self.slots, self.max_calls, self.max_tokens, self.lease_s = slots, max_calls, max_tokens, lease_s
        self.calls = self.tokens = self.bytes = self.most_active = self.reclaimed = 0
        self.leases: dict[int, float] = {}
        self._ids = itertools.count(1)
        self._freed: asyncio.Event | None = None

    def _refusal(self) -> str | None:
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            return f"the judge budget of {self.max_tokens:,} tokens is spent"
        if self.max_calls is not None and self.calls >= self.max_calls:
            return f"the judge budget of {self.max_calls:,} calls is spent"
        return None

    def _reclaim(self) -> None:
        now = time.monotonic()
        for lease, since in list(self.leases.items()):
            if now - since > self.lease_s:
                del self.leases[lease]
                self.reclaimed += 1

    async def enter(self) -> tuple[int | None, str | None]:
        """A lease for one request, or why none is given (the budget is spent)."""
        if self._freed is None:
            self._freed = asyncio.Event()
        while True:
            refused = self._refusal()
            if refused:
                return None, refused
            self._reclaim()
            if len(self.leases) < self.slots:
                lease = next(self._ids)
                self.leases[lease] = time.monotonic()
                self.calls += 1
                self.most_active = max(self.most_active, len(self.leases))
                return lease, None
            self._freed.clear()
            try:
                await asyncio.wait_for(self._freed.wait(), timeout=min(5.0, self.lease_s))
            except asyncio.TimeoutError:
                pass

    def leave(self, lease: int) -> None:
        if self.leases.pop(lease, None) is not None and self._freed is not None:
            self._freed.set()

    def add_tokens(self, n: int) -> None:
        self.tokens += n

    def add_progress(self, nbytes: int) -> None:
        self.bytes += nbytes

    def take_progress(self) -> int:
        n, self.bytes = self.bytes, 0
        return n

    def state(self) -> dict[str, Any]:
        return {"calls": self.calls, "tokens": self.tokens, "slots": self.slots, "most_active": self.most_active,
                "leases_reclaimed": self.reclaimed}


class ClusterBudget:
    """The `Budget` a judge client uses on a Ray worker: every request leases one of the cluster's
    connections from the coordinator, which also keeps the run's one budget (see the module)."""

    def __init__(self, actor: Any, max_calls: int | None, max_tokens: int | None) -> None:
        self.actor, self.max_calls, self.max_tokens = actor, max_calls, max_tokens

    async def enter(self) -> tuple[Any, str | None]:
        lease, refused = await self.actor.enter.remote()
        return lease, refused

    def leave(self, ticket: Any) -> None:
        if ticket is not None:
            self.actor.leave.remote(ticket)

    def take_call(self) -> str | None:  # the Budget interface; the client calls enter/leave instead
        raise NotImplementedError("a cluster budget is taken with enter()")

    def add_tokens(self, n: int) -> None:
        if n:
            self.actor.add_tokens.remote(n)

    @property
    def used(self) -> tuple[int, int]:
        import ray

        state = ray.get(self.actor.state.remote())
        return int(state["calls"]), int(state["tokens"])
