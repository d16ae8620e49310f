"""The judge ledger: calls, tokens, cache hits, errors, latency and cost, per run and per item.

Each worker keeps its own Ledger; the run merges them (`Ledger.merge`) into run.json's `judge` entry.
A call answers several items: its tokens and cost are shared evenly among the items it asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ITEM_FIELDS = ("asked", "cache_hits", "answered", "errors", "invalid_citations", "tokens_in", "tokens_out",
               "latency_s")


@dataclass
class Ledger:
    calls: int = 0               # HTTP requests sent (every attempt, retries included)
    ok_calls: int = 0            # requests answered 200 with a usable reply
    retries: int = 0             # attempts after the first, for any reason
    tokens_in: int = 0
    tokens_out: int = 0
    episodes: int = 0            # episodes that had judge items to answer
    episodes_called: int = 0     # ... of which needed at least one call (the rest came from the cache)
    shortened: int = 0           # episodes shown shortened (cut contents or left-out steps)
    cache_hits: int = 0          # item answers taken from the cache
    answered: int = 0            # item answers the judge gave in this run
    error_verdicts: int = 0
    invalid_citations: int = 0   # cited steps dropped (not in the episode, or not shown)
    failures: dict[str, int] = field(default_factory=dict)   # failed attempts by kind (rate_limit, timeout, ...)
    latencies: list[float] = field(default_factory=list)     # seconds per request, successful or not
    items: dict[str, dict[str, float]] = field(default_factory=dict)

    def item(self, item_id: str) -> dict[str, float]:
        entry = self.items.get(item_id)
        if entry is None:
            entry = self.items[item_id] = dict.fromkeys(ITEM_FIELDS, 0)
        return entry

    def failure(self, kind: str) -> None:
        self.failures[kind] = self.failures.get(kind, 0) + 1

    def latency(self, item_ids: list[str], seconds: float) -> None:
        """One request's time: in the run's list, and added to every item it asked about."""
        self.latencies.append(seconds)
        for item_id in item_ids:
            self.item(item_id)["latency_s"] += seconds

    def usage(self, item_ids: list[str], tokens_in: int, tokens_out: int) -> None:
        self.tokens_in += tokens_in
        self.tokens_out += tokens_out
        for item_id in item_ids:
            entry = self.item(item_id)
            entry["tokens_in"] += tokens_in / len(item_ids)
            entry["tokens_out"] += tokens_out / len(item_ids)

    def merge(self, other: Ledger) -> Ledger:
        for name in ("calls", "ok_calls", "retries", "tokens_in", "tokens_out", "episodes", "episodes_called",
                     "shortened", "cache_hits", "answered", "error_verdicts", "invalid_citations"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.failures.items():
            self.failures[kind] = self.failures.get(kind, 0) + n
        self.latencies.extend(other.latencies)
        for item_id, entry in other.items.items():
            mine = self.item(item_id)
            for k, v in entry.items():
                mine[k] += v
        return self

    def state(self) -> dict[str, Any]:
        """A picklable, JSON-able snapshot (what a worker sends back)."""
        return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Ledger:
        return cls(**{**state, "items": {k: dict(v) for k, v in state.get("items", {}).items()}})

    def report(self, price: dict[str, float] | None = None) -> dict[str, Any]:
        """Totals and per-item figures for run.json; cost in USD when a price is known."""
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p * len(lat)))], 3) if lat else None

        def cost(t_in: float, t_out: float) -> float | None:
            if price is None:
                return None
            return round((t_in * price["input"] + t_out * price["output"]) / 1e6, 6)

        items = {}
        for item_id, e in self.items.items():
            items[item_id] = {k: (round(v, 1) if k.startswith("tokens") else round(v, 3) if k == "latency_s"
                                  else int(v)) for k, v in e.items()}
            items[item_id]["cost_usd"] = cost(e["tokens_in"], e["tokens_out"])
        return {
            "calls": self.calls, "ok_calls": self.ok_calls, "retries": self.retries,
            "tokens_in": self.tokens_in, "tokens_out": self.tokens_out, "cost_usd": cost(self.tokens_in, self.tokens_out),
            "episodes": self.episodes, "episodes_called": self.episodes_called, "shortened": self.shortened,
            "cache_hits": self.cache_hits, "answered": self.answered, "error_verdicts": self.error_verdicts,
            "invalid_citations": self.invalid_citations, "failures": dict(sorted(self.failures.items())),
            "latency_s": {"total": round(sum(lat), 3), "mean": round(sum(lat) / len(lat), 3) if lat else None,
                          "p50": pct(0.5), "p95": pct(0.95), "max": round(lat[-1], 3) if lat else None},
            "items": items,
        }
